"""Check the GPU path in one command and write what was measured to gpu_report.md (run it via tools/gpu_check.sh).

Parts, each timed and reported on its own (a failing part is reported and the script goes on to the next):
  cuda-cells      the notebooks' `#| cuda` cells (nbdev_test --flags cuda), except chapter 08's full reproduction
  device-tests    the device-parametrised tests (sampling, BERT pretraining and fine-tuning with L_CLF + L_BERT, probing)
  demo            `igpt demo` on the device: wall time and test NLL next to the committed CPU figures
  train           ~100 bf16 steps of the cifar10-s shape on an archive in CIFAR-10's format, without and with
                  torch.compile: tokens/s, model FLOP utilisation against the GPU's bf16 peak, peak memory vs `igpt plan`
  finetune        fine-tuning (L_CLF + L_GEN, chapter 08's batch of 64) of the cifar10-s shape: peak memory, the riskiest stage
  sample          cached sampling of 32x32 images
  ddp             `torchrun` data-parallel training: over the GPUs (NCCL) with two or more, else two CPU processes (gloo),
                  and the report says which; one process would take the non-distributed path and check nothing
With --device cpu --tiny every part that can runs on the CPU with tiny shapes (the test suite does this).
It needs the dev extras (pytest, nbdev: pip install -e '.[dev]') and stops at once, saying so, without them. The whole
check keeps to a 10-minute budget: a part that would start after it is reported as not run, and gpu_report.md is
rewritten after every part, so it is there even if the check is interrupted.
"""
import argparse, contextlib, importlib.util, json, os, shutil, subprocess, sys, tempfile, time, traceback
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
CPU_DEMO = ROOT/'bench'/'demo_cpu.json'     # `igpt demo` on the 2-core CPU machine, for comparison
BUDGET = 570                                # seconds for the whole check: under 10 minutes with start-up
DEV_EXTRAS = ('pytest', 'nbdev')            # the device tests and the notebooks' cuda cells need them
END = time.time() + BUDGET


def missing_extras(modules=DEV_EXTRAS) -> list:
    "The dev extras (and the igpt command) this check needs but cannot find."
    return [m for m in modules if importlib.util.find_spec(m) is None] + ([] if shutil.which('igpt') else ['igpt'])


def run(cmd, timeout, **kw):
    "Run a command within the check's budget; raise with the tail of its output if it fails."
    timeout = max(1, min(timeout, END - time.time()))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kw)
    if r.returncode: raise RuntimeError(f"`{' '.join(map(str, cmd))}` exited {r.returncode}:\n{(r.stdout + r.stderr)[-2000:]}")
    return r.stdout


def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)


def bf16_peak(dev) -> tuple[float, str]:
    "The GPU's dense bf16 peak (vendor figure when the name is known, else a measured large matmul) and its source."
    from igpt_minimal.scale import GPU_PEAK_BF16, gpu_by_name
    name = torch.cuda.get_device_name(dev)
    if (key := gpu_by_name(name)) is not None: return GPU_PEAK_BF16[key], f"{key} vendor figure"   # exact names only
    a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16); a @ a; sync(dev)
    t = time.perf_counter(); [a @ a for _ in range(5)]; sync(dev)
    return 5 * 2 * 8192 ** 3 / (time.perf_counter() - t), f"measured bf16 matmul on {name}"


def part_cuda_cells(a, tmp):
    if a.dev.type != 'cuda': return 'skipped: the `#| cuda` cells need CUDA'
    # chapter 08's cuda cells are the CIFAR-10 reproduction itself (the real archive, hours): not part of this check
    nbs = [p for p in sorted((ROOT/'nbs').glob('*.ipynb')) if '#| cuda' in p.read_text() and not p.name.startswith('08')]
    for p in nbs: run(['nbdev_test', '--flags', 'cuda', '--path', str(p)], 600)
    return f"pass with their cuda cells: {', '.join(p.name for p in nbs)} (08's are the full reproduction, run separately)"


def part_device_tests(a, tmp):
    out = run([sys.executable, '-m', 'pytest', '-q', 'tests/test_integrity.py', '-k', 'device or token_checks'], 600)
    return out.strip().splitlines()[-1]


def part_demo(a, tmp):
    t = time.time()
    run(['igpt', 'demo', '--out', tmp/'demo', '--device', a.device, '--quiet'] + (['--max-steps', '20'] if a.tiny else []), 900)
    m = json.loads((tmp/'demo'/'metrics.json').read_text())
    line = f"{a.device}: {m['steps']} steps, {time.time() - t:.0f} s wall ({m['train_seconds']:.0f} s training), test NLL {m['test_nll_bits_per_token']:.3f} bits/token"
    if CPU_DEMO.exists():
        c = json.loads(CPU_DEMO.read_text())
        line += f"\nCPU ({c['hardware']}): {c['steps']} steps, {c['total_seconds']:.0f} s wall ({c['train_seconds']:.0f} s training), test NLL {c['test_nll_bits_per_token']:.3f} bits/token"
    return line


def attention_line(a) -> str:
    "What precision 'auto' picks on the device, and (CUDA) that the model's attention runs on the flash kernel."
    from igpt_minimal.model import IGPT, IGPTConfig, resolve_precision, autocast
    prec, why = resolve_precision('auto', a.dev)
    line = f"precision auto: {prec} ({why})"
    if a.dev.type != 'cuda': return line + "; the flash-attention check runs on CUDA only"
    from torch.nn.attention import sdpa_kernel, SDPBackend
    m = IGPT(IGPTConfig(n_colors=512, n_positions=1024, n_embd=512, n_layer=2, n_head=8)).to(a.dev)
    x = torch.randint(0, 512, (2, 1024), device=a.dev)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION), autocast(prec, a.dev):   # fails unless flash takes every call
        m(x).float().sum().backward()
    return line + "; attention: a forward and backward restricted to SDPA's flash kernel ran"


def part_train(a, tmp):
    from igpt_minimal.cifar10 import make_fake_cifar10
    from igpt_minimal.train import get_preset, prepare_data, train
    from igpt_minimal.scale import plan
    preset, steps = ('cifar10-tiny', 10) if a.tiny else ('cifar10-s', 100)
    arc = make_fake_cifar10(tmp/'fake', n_train=200 if a.tiny else 5000, n_test=50 if a.tiny else 500)
    lines = [attention_line(a)]
    for compile_ in ([False] if a.dev.type == 'cpu' else [False, True]):    # compiling on CPU: not part of this check
        cfg = get_preset(preset, max_steps=steps, log_every=max(1, steps // 10), eval_every=steps, ckpt_every=steps, compile=compile_)
        data = prepare_data(cfg, None, arc, check_md5=False)
        if a.dev.type == 'cuda': torch.cuda.reset_peak_memory_stats(a.dev)
        res = train(cfg, data['tokens_train'], data['tokens_val'], progress=False, device=a.device)
        toks = sorted(r['tokens_per_s'] for r in res.history[2:]) or [res.history[-1]['tokens_per_s']]   # after warm-up/compilation
        tok_s = toks[len(toks) // 2]
        p = plan(cfg)
        line = f"{preset}{' + torch.compile' if compile_ else ''}, {steps} steps: {tok_s:,.0f} tokens/s (median after the first logs)"
        if a.dev.type == 'cuda':
            peak, src = bf16_peak(a.dev)
            mem = torch.cuda.max_memory_allocated(a.dev)
            line += (f", MFU {tok_s * p['flops_per_token'] / peak:.1%} of {peak / 1e12:.0f} TFLOP/s ({src}; causal attention counted as half the scores)"
                     f", max_memory_allocated {mem / 2**30:.2f} GiB vs plan's estimate {p['peak_memory_bytes'] / 2**30:.2f} GiB")
        lines.append(line)
    return '\n'.join(lines)


def part_finetune(a, tmp):
    from igpt_minimal.model import IGPT
    from igpt_minimal.train import get_preset
    from igpt_minimal.probe import finetune
    cfg = get_preset('cifar10-tiny' if a.tiny else 'cifar10-s')
    T, V, g = cfg.image_size ** 2, cfg.n_colors, torch.Generator().manual_seed(0)
    tok = lambda n: torch.randint(0, V, (n, T), generator=g)          # memory does not depend on the pixels
    lab = lambda n: torch.arange(n) % 10
    model = IGPT(cfg.model).to(a.dev)
    if a.dev.type == 'cuda': torch.cuda.reset_peak_memory_stats(a.dev)
    t = time.time()
    from igpt_minimal.model import resolve_precision
    prec = resolve_precision('auto', a.dev)[0]                          # as igpt train's runs: bf16 on a GPU
    ft = finetune(model, tok(640), lab(640), tok(128), lab(128), steps=4, eval_every=4, batch_size=64,   # 08's batch
                  precision=prec)
    line = f"{cfg.model.n_layer} x {cfg.model.n_embd} at {T} tokens, {prec}, 4 steps of 64 images + a validation pass: {time.time() - t:.1f} s"
    if a.dev.type == 'cuda':
        mem, total = torch.cuda.max_memory_allocated(a.dev), torch.cuda.get_device_properties(a.dev).total_memory
        line += f", max_memory_allocated {mem / 2**30:.2f} GiB of the card's {total / 2**30:.1f} GiB"
    else: line += "; memory is measured on CUDA only"
    assert len(ft.val_history) == 1
    return line


def part_sample(a, tmp):
    from igpt_minimal.model import IGPT
    from igpt_minimal.train import get_preset
    from igpt_minimal.sample import generate
    cfg = get_preset('cifar10-tiny' if a.tiny else 'cifar10-s')
    m = IGPT(cfg.model).to(a.dev).eval()
    B, T = (4, cfg.image_size ** 2)
    g = torch.Generator(a.dev).manual_seed(0)
    from igpt_minimal.model import resolve_precision
    prec = resolve_precision('auto', a.dev)[0]
    out = generate(m, torch.zeros(B, 0, dtype=torch.long), T, generator=g, precision=prec)   # warm-up
    sync(a.dev); t = time.perf_counter()
    out = generate(m, torch.zeros(B, 0, dtype=torch.long), T, generator=g, precision=prec)
    sync(a.dev); s = time.perf_counter() - t
    assert out.shape == (B, T) and int(out.max()) < cfg.n_colors
    return f"{B} images of {cfg.image_size}x{cfg.image_size} ({T} tokens each), {prec}, in {s:.2f} s with the KV cache: {B * T / s:,.0f} tokens/s"


def part_ddp(a, tmp):
    from igpt_minimal.cifar10 import make_fake_cifar10
    arc = make_fake_cifar10(tmp/'fake-ddp', n_train=200, n_test=50)
    gpus = torch.cuda.device_count() if a.dev.type == 'cuda' else 0
    # one process takes the non-distributed path; two NCCL ranks cannot share one GPU: then two CPU processes (gloo)
    n, device = (gpus, 'cuda') if gpus >= 2 else (2, 'cpu')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(n), '-m', 'igpt_minimal.cli', 'train',
           '--preset', 'cifar10-tiny', '--data-path', str(arc), '--no-check-md5', '--out', str(tmp/'ddp'), '--max-steps', '20', '--quiet', '--device', device]
    out = run(cmd, 600, env=dict(os.environ, OMP_NUM_THREADS='1'))
    last = out.strip().splitlines()[-1]
    if f'on {n} processes' not in last: raise RuntimeError(f"the run did not say it was distributed over {n} processes: {last}")
    line = f"DDP exercised: torchrun over {n} processes on {device} ({'NCCL' if device == 'cuda' else 'gloo'}): {last}"
    if device == 'cpu' and a.dev.type == 'cuda':
        line += f"\nDDP over GPUs (NCCL): not exercised, this machine has {gpus} GPU (it needs two or more)"
    return line


# BERT pretraining and fine-tuning on the device are in device-tests (test_sampling_finetune_probe_on_device)
PARTS = {'cuda-cells': part_cuda_cells, 'device-tests': part_device_tests, 'demo': part_demo, 'train': part_train,
         'finetune': part_finetune, 'sample': part_sample, 'ddp': part_ddp}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cuda', help='cuda (default) or cpu (a rehearsal of the parts that can run there)')
    ap.add_argument('--tiny', action='store_true', help='tiny shapes and step counts (a rehearsal; numbers not meaningful)')
    ap.add_argument('--out', default=str(ROOT/'gpu_report.md'), help='report file (default: gpu_report.md)')
    ap.add_argument('--only', nargs='*', choices=list(PARTS), help='run only these parts')
    a = ap.parse_args()
    try: dev = torch.device(a.device)
    except RuntimeError: print(f"gpu_check: unknown device {a.device!r}: use cuda (the check) or cpu (a rehearsal)", file=sys.stderr); return 2
    if dev.type not in ('cpu', 'cuda'): print(f"gpu_check: device {a.device!r} is not supported: use cuda or cpu", file=sys.stderr); return 2
    if dev.type == 'cpu' and not a.tiny:
        print("gpu_check: on the CPU only the --tiny rehearsal makes sense (the full check trains a 76M-parameter model): add --tiny", file=sys.stderr)
        return 2
    if a.device.startswith('cuda') and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False), so there is nothing to check; "
              "run it on a GPU machine, or rehearse with --device cpu --tiny")
        return 0
    if missing := missing_extras():
        print(f"gpu_check: it needs the dev extras, and {', '.join(missing)} is missing: pip install -e '.[dev]' "
              "(from the repository root), then run it again", file=sys.stderr)
        return 2
    a.dev = torch.device(a.device)
    from igpt_minimal.scale import describe_machine
    hw = describe_machine() + (f" x {torch.cuda.device_count()}, CUDA {torch.version.cuda}" if a.dev.type == 'cuda' else '')
    report = [f"# GPU check ({time.strftime('%Y-%m-%d %H:%M')})", '', f"Hardware: {hw}. Device: {a.device}{', tiny shapes' if a.tiny else ''}.", '']
    failed, t_all = [], time.time()
    for name, fn in PARTS.items():
        if a.only and name not in a.only: continue
        t = time.time(); print(f"== {name}", flush=True)
        if END - t < 30:
            status, text = 'not run', f"the check's {BUDGET} s budget was used up before this part"; failed.append(name)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                try: status, text = 'ok', fn(a, Path(tmp))
                except Exception as e:
                    status, text = 'FAILED', f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"; failed.append(name)
        if status == 'ok' and text.startswith('skipped'): status = 'skipped'
        report += [f"## {name}: {status} ({time.time() - t:.0f} s)", '', '```', text.strip(), '```', '']
        print(f"   {status}: {text.strip().splitlines()[0].removeprefix('skipped: ') if text.strip() else ''}", flush=True)
        Path(a.out).write_text('\n'.join(report) + '\n(in progress)\n')   # a report even if the check is interrupted
    report.append(f"Total: {time.time() - t_all:.0f} s of a {BUDGET} s budget; failed parts: {', '.join(failed) or 'none'}.")
    Path(a.out).write_text('\n'.join(report) + '\n')
    print(f"wrote {a.out}; failed parts: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == '__main__': sys.exit(main())
