"""igpt_minimal's benchmark suite: every figure a ratio measured side by side in one run.

Usage: python bench/run.py [--quick] [--only NAME ...]      writes bench/results.md and prints the table.
Sections: train (vs Hugging Face ImageGPT), mfu, sample (KV cache; vs HF generate), palette (vs scikit-learn k-means),
probe (vs scikit-learn LogisticRegression), memory (peak RSS of a fresh process per implementation).
With a CUDA GPU present (and no --no-cuda), train, mfu and memory also run on it in bf16 autocast, the memory as
torch.cuda.max_memory_allocated, and the table gets 'CUDA bf16' rows.
"""
import argparse, contextlib, json, re, os, platform, subprocess, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent
TRAIN_CONFIGS = {'ctx1024': dict(T=1024, L=4, D=256, B=4), 'ctx256': dict(T=256, L=8, D=256, B=16)}


def hardware():
    "The CPU's model name and bf16 units (from /proc/cpuinfo where there is one), cores, torch, GPU."
    from igpt_minimal.model import resolve_precision
    from igpt_minimal.scale import cpu_model
    return dict(cpu=f"{cpu_model()} ({platform.machine()}; precision auto: {' '.join(resolve_precision('auto', 'cpu'))})",
                cores=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__,
                gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else 'none')


def best_of(fn, reps, warmup=1):
    for _ in range(warmup): fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return min(ts)


def make_models(T, L, D, n_colors=512, seed=0, hf_dropout=0.0):
    "igpt_minimal and Hugging Face ImageGPT at the same configuration."
    from igpt_minimal.model import IGPT, IGPTConfig
    from transformers import ImageGPTConfig, ImageGPTForCausalImageModeling
    torch.manual_seed(seed)
    ours = IGPT(IGPTConfig(n_colors=n_colors, n_positions=T, n_embd=D, n_layer=L, n_head=8))
    # HF's config defaults to GPT-2's dropout of 0.1; iGPT (and igpt_minimal) train without dropout, so by default it
    # is off here and both do the same arithmetic; hf_dropout=0.1 gives what ImageGPTConfig() gives a user
    p = hf_dropout
    hf = ImageGPTForCausalImageModeling(ImageGPTConfig(vocab_size=n_colors + 1, n_positions=T, n_embd=D, n_layer=L, n_head=8,
                                                       resid_pdrop=p, embd_pdrop=p, attn_pdrop=p))
    return ours, hf


def _sync(device):
    if torch.device(device).type == 'cuda': torch.cuda.synchronize()


def train_step_fns(ours, hf, x, dtype=None):
    "One training step (forward, backward, AdamW) for each implementation, same data and loss; `dtype`: autocast to it."
    dev = x.device
    sos = torch.full((x.shape[0], 1), ours.config.n_colors, device=dev)
    fused = dev.type == 'cuda'
    opt_o = torch.optim.AdamW(ours.parameters(), lr=1e-4, betas=(0.9, 0.95), fused=fused)
    opt_h = torch.optim.AdamW(hf.parameters(), lr=1e-4, betas=(0.9, 0.95), fused=fused)
    cast = lambda: torch.autocast(dev.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    def step_ours():
        with cast(): loss = F.cross_entropy(ours(x).flatten(0, 1).float(), x.flatten())
        loss.backward(); opt_o.step(); opt_o.zero_grad(set_to_none=True); _sync(dev)
    def step_hf():
        with cast(): loss = F.cross_entropy(hf(input_ids=torch.cat([sos, x[:, :-1]], 1)).logits.flatten(0, 1).float(), x.flatten())
        loss.backward(); opt_h.step(); opt_h.zero_grad(set_to_none=True); _sync(dev)
    return step_ours, step_hf


def train_flops_per_token(model):
    """Training FLOPs per token of an AR model: 6 per weight that multiplies (the embeddings are looked up, not
    multiplied, so they do not count), plus causal attention's scores and weighted sums (half of T×T: 6LTd)."""
    c = model.config
    n = sum(p.numel() for p in model.parameters()) - model.wte.weight.numel() - model.wpe.weight.numel()
    return 6 * n + 6 * c.n_layer * c.n_positions * c.n_embd


def bench_train(reps, device='cpu', dtype=None):
    "Tokens/s of a training step, ours vs HF (dropout off, the same arithmetic) vs HF as ImageGPTConfig() gives it (dropout 0.1)."
    rows = []
    for name, c in TRAIN_CONFIGS.items():
        ours, hf = (m.to(device) for m in make_models(c['T'], c['L'], c['D']))
        hf_drop = make_models(c['T'], c['L'], c['D'], hf_dropout=0.1)[1].to(device)
        x = torch.randint(0, 512, (c['B'], c['T'])).to(device)
        so, sh = train_step_fns(ours, hf, x, dtype)
        sd = train_step_fns(ours, hf_drop, x, dtype)[1]
        so(); sh(); sd()
        to, th, td = [], [], []
        for _ in range(reps):  # interleaved, so drifts in machine load hit all three
            for fn, ts in ((so, to), (sh, th), (sd, td)):
                t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
        tok = c['B'] * c['T']
        rows.append(dict(config=f"{name}: {c['L']}x{c['D']}, T={c['T']}, batch {c['B']}", ours_tok_s=tok / min(to), hf_tok_s=tok / min(th),
                         ratio=min(th) / min(to), hf_dropout_tok_s=tok / min(td), ratio_dropout=min(td) / min(to),
                         step_s=min(to), flops_per_token=train_flops_per_token(ours), tokens=tok))
        del ours, hf, hf_drop
    return rows


def matmul_peak(n=2048, reps=5, device='cpu', dtype=torch.float32):
    "FLOP/s of a large square matmul: the machine's practical peak for this dtype."
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    def mm(): a @ b; _sync(device)
    return 2 * n ** 3 / best_of(mm, reps)


def matmul_peaks(sizes=(256, 512, 1024, 2048), reps=5):
    "This CPU's fp32 and bf16 matmul FLOP/s at each square size, the two dtypes interleaved."
    out = {}
    for n in sizes:
        out[n] = {name: matmul_peak(n, reps, dtype=dt) for name, dt in (('fp32', torch.float32), ('bf16', torch.bfloat16))}
    return out


PRESET_SHAPES = {'tiny': None, 'digits': None, 'fashion': None, 'cifar10-24gb': 2, 'cifar10-s': 2}   # batch override


def bench_presets(reps, quick):
    """Each preset's AR training step as `train` runs it (forward under autocast, fp32 loss, backward, clipping, AdamW):
    today's fp32 eager path, then precision 'auto' eager and compiled, interleaved; tokens/s and MFU against both
    measured matmul peaks."""
    from igpt_minimal.model import IGPT, resolve_precision, autocast
    from igpt_minimal.train import get_preset, make_optimizer
    from igpt_minimal.losses import ar_loss
    from igpt_minimal.scale import Runtime
    import igpt_minimal.model as model_mod
    auto = resolve_precision('auto', 'cpu')[0]
    plain_choice = model_mod.attend
    def sdpa(q, k, v, causal=True):   # SDPA whatever the device and dtype (what `attend` does on CUDA)
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal and q.shape[-2] > 1)
    rows = []
    for name, batch in PRESET_SHAPES.items():
        if quick and batch is not None: continue
        cfg = get_preset(name)
        B = batch or cfg.batch_size
        x = torch.randint(0, cfg.n_colors, (B, cfg.model.n_positions), generator=torch.Generator().manual_seed(0))
        steps, compile_s = {}, {}
        variants = [('fp32 eager (before)', 'fp32', None, False), (f'auto ({auto}) eager', auto, None, False),
                    (f'auto ({auto}) compiled', auto, None, True)]
        if name == 'fashion' and auto == 'bf16':   # the choices behind `auto`, at the preset the reproduction trains
            variants += [('bf16 eager, SDPA attention', 'bf16', sdpa, False),
                         ('bf16 compiled, pattern matcher off', 'bf16', None, {'pattern_matcher': False})]
        for variant, prec, attn, comp in variants:
            torch.manual_seed(0)
            model = IGPT(cfg.model)
            opt = make_optimizer(model, cfg, Runtime(torch.device('cpu')))
            net = model if not comp else torch.compile(model, options=None if comp is True else comp)
            def step(net=net, model=model, opt=opt, prec=prec, attn=attn):
                if attn is not None: model_mod.attend = attn
                try:
                    with autocast(prec, 'cpu'): loss = ar_loss(net, x)
                finally: model_mod.attend = plain_choice
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step(); opt.zero_grad(set_to_none=True)
            t = time.perf_counter(); step(); compile_s[variant] = time.perf_counter() - t   # first step (compiles)
            step()
            steps[variant] = (step, [], model)
        for _ in range(reps):   # interleaved, so drifts in machine load hit every variant
            for variant, (fn, ts, _) in steps.items():
                t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
        flops = train_flops_per_token(next(iter(steps.values()))[2])
        base = min(steps['fp32 eager (before)'][1])
        for variant, (fn, ts, _) in steps.items():
            rows.append(dict(preset=name, shape=f"{cfg.model.n_layer}x{cfg.model.n_embd}, T={cfg.model.n_positions}, batch {B}",
                             variant=variant, step_s=min(ts), tok_s=B * cfg.model.n_positions / min(ts), speedup=base / min(ts),
                             first_step_s=compile_s[variant], flops_per_token=flops,
                             achieved=flops * B * cfg.model.n_positions / min(ts)))
    return rows


def bench_mfu(train_rows, device='cpu', dtype=torch.float32):
    "MFU of the fp32 training rows; on a CPU also against its bf16 matmul peak, the chip's real limit where it has bf16 units."
    peak = matmul_peak(8192 if torch.device(device).type == 'cuda' else 2048, device=device, dtype=dtype)
    bf16 = matmul_peak(2048, dtype=torch.bfloat16) if torch.device(device).type == 'cpu' else None
    rows = []
    for r in train_rows:
        achieved = r['flops_per_token'] * r['tokens'] / r['step_s']
        rows.append(dict(config=r['config'], achieved=achieved, mfu=achieved / peak, mfu_bf16=bf16 and achieved / bf16))
    return dict(peak_flops=peak, peak_flops_bf16=bf16, rows=rows)


def bench_sample(quick):
    "Whole 32x32 image (1,024 tokens): cached vs uncached, and vs Hugging Face generate with its cache."
    from igpt_minimal.sample import generate
    L, D, B = (2, 128, 2) if quick else (4, 128, 4)
    ours, hf = make_models(1024, L, D)
    with torch.no_grad(): ours.head.weight.normal_(std=0.02)
    ours.eval(); hf.eval()
    p = torch.zeros(B, 0, dtype=torch.long)
    t0 = time.perf_counter(); a = generate(ours, p, 1024, top_k=1, use_cache=True); t_c = time.perf_counter() - t0
    t0 = time.perf_counter(); b = generate(ours, p, 1024, top_k=1, use_cache=False); t_u = time.perf_counter() - t0
    assert torch.equal(a, b), 'cached and uncached greedy outputs differ'
    sos = torch.full((B, 1), 512)
    with torch.inference_mode():
        t0 = time.perf_counter()
        hf.generate(input_ids=sos, max_new_tokens=1023, do_sample=False, use_cache=True, pad_token_id=0)
        t_hf = (time.perf_counter() - t0) * 1024 / 1023
    return dict(config=f'{L}x{D}, batch {B}, 1,024 tokens', cached_s=t_c, uncached_s=t_u, speedup=t_u / t_c, hf_generate_s=t_hf, vs_hf=t_hf / t_c)


def palette_data(n):
    "Two 1M-pixel (or n) uint8 pixel sets: structured synthetic colours, and real photo pixels."
    import numpy as np
    import torch.nn.functional as F
    from sklearn.datasets import load_sample_image
    g = np.random.default_rng(0)
    # a mixture of 2,000 random colour blobs: nearly every pixel a distinct colour, the hard case for deduplication
    centers = g.uniform(0, 255, (2000, 3)); lab = g.integers(0, 2000, n)
    blobs = np.clip(centers[lab] + g.normal(0, 12, (n, 3)), 0, 255).astype(np.uint8)
    # scikit-learn's two sample photos, enlarged 1.4x (bilinear) so they hold over a million pixels, sampled to n
    ph = torch.stack([torch.from_numpy(load_sample_image(f).copy()) for f in ('china.jpg', 'flower.jpg')])
    ph = F.interpolate(ph.permute(0, 3, 1, 2).float(), scale_factor=1.4, mode='bilinear').round().clamp(0, 255)
    ph = ph.to(torch.uint8).permute(0, 2, 3, 1).reshape(-1, 3)
    photos = ph[torch.randint(len(ph), (n,), generator=torch.Generator().manual_seed(0))].numpy()
    return dict(blobs=blobs, photos=photos)


def bench_palette(quick):
    import numpy as np
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from igpt_minimal.quantize import quantize, inertia
    from igpt_minimal.kmeans import fit_palette
    n = 200_000 if quick else 1_000_000
    rows = []
    for name, pix in palette_data(n).items():
        unit = pix.astype(np.float32) / 127.5 - 1
        inert = lambda c: inertia(pix, torch.as_tensor(np.asarray(c), dtype=torch.float32))
        t0 = time.perf_counter(); pal = fit_palette(pix, n_colors=512, seed=0, max_pixels=n); t_ours = time.perf_counter() - t0
        t0 = time.perf_counter(); mb = MiniBatchKMeans(512, random_state=0, n_init=1, batch_size=4096).fit(unit); t_mb = time.perf_counter() - t0
        row = dict(data=name, pixels=n, distinct=len(np.unique(pix @ np.array([1, 256, 65536]))), ours_s=t_ours,
                   ours_inertia=inert(pal), minibatch_s=t_mb, minibatch_inertia=inert(mb.cluster_centers_))
        if not quick and name == 'blobs':
            t0 = time.perf_counter(); km = KMeans(512, random_state=0, n_init=1, max_iter=100).fit(unit); row['kmeans_s'] = time.perf_counter() - t0
            row['kmeans_inertia'] = inert(km.cluster_centers_)
        rows.append(row)
    imgs = torch.randint(0, 256, (5_000 if quick else 50_000, 32, 32, 3), dtype=torch.uint8)
    t0 = time.perf_counter(); quantize(imgs, pal); t_q = time.perf_counter() - t0
    return dict(rows=rows, quantize_s=t_q, quantize_images=len(imgs))


def sklearn_probe(xtr, ytr, xva, yva, xte, yte, l2s):
    "The same protocol as linear_probe, with scikit-learn: standardise, choose λ=1/C by validation cross-entropy, score the test split."
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    mu, sd = xtr.mean(0), xtr.std(0)
    ztr, zva, zte = (((x - mu) / sd).numpy() for x in (xtr, xva, xte))
    lr, fits = LogisticRegression(max_iter=1000, warm_start=True), {}
    for l2 in sorted(l2s, reverse=True):            # strongest first, warm-started, as ours
        lr.set_params(C=1 / l2).fit(ztr, ytr)
        fits[l2] = (log_loss(yva, lr.predict_proba(zva), labels=lr.classes_), lr.score(zte, yte))
    return min(sorted(l2s, reverse=True), key=lambda l2: fits[l2][0]), fits   # lowest validation cross-entropy


def bench_probe():
    "The torch L-BFGS probe against scikit-learn running the same protocol (same λ grid, choice on validation)."
    from igpt_minimal.probe import linear_probe, L2_GRID
    g = torch.Generator().manual_seed(0)
    n, d, k = 6600, 256, 10
    means = torch.randn(k, d, generator=g) * 0.3
    y = torch.randint(0, k, (n,), generator=g); x = means[y] + torch.randn(n, d, generator=g)
    tr, va, te = slice(0, 5000), slice(5000, 5600), slice(5600, n)
    l2s = L2_GRID                                   # the library's default grid, for both
    t0 = time.perf_counter(); r = linear_probe(x[tr], y[tr], x[va], y[va], x[te], y[te], l2s=l2s, device='cpu'); t_ours = time.perf_counter() - t0
    t0 = time.perf_counter(); l2_sk, fits = sklearn_probe(x[tr], y[tr], x[va], y[va], x[te], y[te], l2s); t_sk = time.perf_counter() - t0
    return dict(features=f'{n} x {d}, {k} classes', ours_s=t_ours, ours_acc=r.test_accuracy, sklearn_s=t_sk, sklearn_acc=float(fits[l2_sk][1]),
                note=f'both run the same protocol: standardise, fit every λ = 1/C of {len(l2s)} on the training split, keep the lowest validation cross-entropy, score the test split')


MEM_SCRIPT = r'''
import resource, sys, torch, torch.nn.functional as F
sys.path.insert(0, {root!r}); from run import make_models
torch.manual_seed(0)
ours, hf = make_models(1024, 4, 256)
m = ours if {impl!r} == 'ours' else hf
del ours, hf
x = torch.randint(0, 512, (4, 1024))
before = int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize() // 1024   # current RSS, KiB
if {impl!r} == 'ours': loss = F.cross_entropy(m(x).flatten(0, 1), x.flatten())
else: loss = F.cross_entropy(m(input_ids=torch.cat([torch.full((4, 1), 512), x[:, :-1]], 1)).logits.flatten(0, 1), x.flatten())
loss.backward()
# VmHWM: this process's own peak RSS. (ru_maxrss would not do: Linux carries it over from the parent across exec.)
print(before, next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')))
'''


def bench_memory():
    res = {}
    for impl in ('ours', 'hf'):
        out = subprocess.run([sys.executable, '-c', MEM_SCRIPT.format(root=str(ROOT), impl=impl)], capture_output=True, text=True, check=True)
        before, peak = map(int, out.stdout.split()[-2:])
        res[impl] = dict(peak_mib=peak / 1024, step_mib=(peak - before) / 1024)
    res['ratio_peak'] = res['ours']['peak_mib'] / res['hf']['peak_mib']
    res['ratio_step'] = res['ours']['step_mib'] / max(res['hf']['step_mib'], 1e-9)
    return res


def bench_cuda_memory(dtype=torch.bfloat16):
    "Peak CUDA memory of a forward + backward at 1,024 tokens (4x256, batch 4), bf16 autocast, one model at a time."
    res = {}
    for impl in ('ours', 'hf'):
        m = make_models(1024, 4, 256)[0 if impl == 'ours' else 1].cuda()
        x = torch.randint(0, 512, (4, 1024), device='cuda')
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); before = torch.cuda.memory_allocated()
        with torch.autocast('cuda', dtype=dtype):
            logits = m(x) if impl == 'ours' else m(input_ids=torch.cat([torch.full((4, 1), 512, device='cuda'), x[:, :-1]], 1)).logits
            loss = F.cross_entropy(logits.flatten(0, 1).float(), x.flatten())
        loss.backward(); torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
        res[impl] = dict(peak_mib=peak / 2**20, step_mib=(peak - before) / 2**20)
        del m, x, logits, loss; torch.cuda.empty_cache()
    res['ratio_peak'] = res['ours']['peak_mib'] / res['hf']['peak_mib']
    res['ratio_step'] = res['ours']['step_mib'] / max(res['hf']['step_mib'], 1e-9)
    return res


def report(r):
    hw = r['hardware']
    L = ["# igpt_minimal benchmarks", "", f"Run {r['date']} on {hw['cpu']}, {hw['cores']} cores, {hw['threads']} torch threads, "
         f"torch {hw['torch']}, GPU: {hw['gpu']}. Every ratio compares two implementations measured side by side in this run.", ""]
    L += ["| # | measurement | igpt_minimal | reference | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    ok = lambda b: 'yes' if b else 'NO'
    for where, sec in (('', r), ('CUDA bf16, ', r.get('cuda', {}))):
        for row in sec.get('train', []):
            L.append(f"| 1 | {where}training step tokens/s, {row['config']} | {row['ours_tok_s']:,.0f} | HF ImageGPT as configured by default (dropout 0.1) {row['hf_dropout_tok_s']:,.0f} | {row['ratio_dropout']:.2f}x | >= 1.5x | {ok(row['ratio_dropout'] >= 1.5)} |")
            L.append(f"| 1 | ... the same arithmetic: HF with dropout set to 0 | {row['ours_tok_s']:,.0f} | HF ImageGPT, no dropout {row['hf_tok_s']:,.0f} | {row['ratio']:.2f}x | - | - |")
        if 'mfu' in sec:
            peak = sec['mfu']['peak_flops'] / 1e9
            for row in sec['mfu']['rows']:
                met = ok(row['mfu'] >= 0.6) if 'ctx256' in row['config'] and not where else '-'
                L.append(f"| 2 | {where}model FLOP utilisation, {row['config']} | {row['achieved'] / 1e9:,.1f} GFLOP/s | {'bf16' if where else 'fp32'} matmul peak {peak:,.1f} GFLOP/s | {row['mfu']:.0%} | >= 60% (CPU, ctx256) | {met} |")
                if row.get('mfu_bf16'):
                    L.append(f"| 2 | ... the same fp32 step against this CPU's bf16 matmul peak | {row['achieved'] / 1e9:,.1f} GFLOP/s | bf16 matmul peak {sec['mfu']['peak_flops_bf16'] / 1e9:,.1f} GFLOP/s | {row['mfu_bf16']:.0%} | - | - |")
    if 'peaks' in r:
        for n, pk in r['peaks'].items():
            L.append(f"| 7 | square matmul {n}: bf16 vs fp32 | {pk['bf16'] / 1e9:,.0f} GFLOP/s | fp32 {pk['fp32'] / 1e9:,.0f} GFLOP/s | {pk['bf16'] / pk['fp32']:.2f}x | - | - |")
    if 'presets' in r:
        pk = r['peaks'][max(r['peaks'], key=int)] if 'peaks' in r else None
        for row in r['presets']:
            target = {'fashion': 2.5, 'digits': 2.0}.get(row['preset']) if 'auto' in row['variant'] else None
            mfu = f"; MFU {row['achieved'] / pk['fp32']:.0%} of fp32 peak, {row['achieved'] / pk['bf16']:.0%} of bf16 peak" if pk else ''
            L.append(f"| 7 | training step, preset {row['preset']} ({row['shape']}), {row['variant']}: tokens/s (first step {row['first_step_s']:.1f} s{mfu}) | {row['tok_s']:,.0f} | fp32 eager | {row['speedup']:.2f}x | {f'>= {target}x' if target else '-'} | {ok(row['speedup'] >= target) if target else '-'} |")
    if 'sample' in r:
        s = r['sample']
        L.append(f"| 3 | sampling {s['config']}: cached vs uncached | {s['cached_s']:.2f} s | uncached {s['uncached_s']:.1f} s | {s['speedup']:.1f}x | >= 20x | {ok(s['speedup'] >= 20)} |")
        L.append(f"| 3 | sampling {s['config']}: vs HF generate (cached) | {s['cached_s']:.2f} s | HF {s['hf_generate_s']:.2f} s | {s['vs_hf']:.2f}x | - | - |")
    if 'palette' in r:
        for p in r['palette']['rows']:
            what = f"palette fit, 512 colours, {p['pixels']:,} {p['data']} pixels ({p['distinct']:,} distinct)"
            L.append(f"| 4 | {what}: time | {p['ours_s']:.1f} s | MiniBatchKMeans {p['minibatch_s']:.1f} s | {p['minibatch_s'] / p['ours_s']:.2f}x | faster | {ok(p['ours_s'] < p['minibatch_s'])} |")
            L.append(f"| 4 | {what}: inertia (lower is better) | {p['ours_inertia']:,.0f} | MiniBatchKMeans {p['minibatch_inertia']:,.0f} | {p['ours_inertia'] / p['minibatch_inertia']:.3f} | <= 1 | {ok(p['ours_inertia'] <= p['minibatch_inertia'])} |")
            if 'kmeans_s' in p:
                L.append(f"| 4 | {what} vs KMeans (time; inertia) | {p['ours_s']:.1f} s; {p['ours_inertia']:,.0f} | KMeans {p['kmeans_s']:.1f} s; {p['kmeans_inertia']:,.0f} | {p['kmeans_s'] / p['ours_s']:.2f}x; {p['ours_inertia'] / p['kmeans_inertia']:.3f} | - | - |")
        q = r['palette']
        L.append(f"| 4 | quantize {q['quantize_images']:,} 32x32 images to 512 colours | {q['quantize_s']:.1f} s | - | - | - | - |")
    if 'probe' in r:
        p = r['probe']
        L.append(f"| 5 | linear probe, {p['features']}: time (accuracy) | {p['ours_s']:.2f} s ({p['ours_acc']:.1%}) | sklearn lbfgs {p['sklearn_s']:.2f} s ({p['sklearn_acc']:.1%}) | {p['sklearn_s'] / p['ours_s']:.2f}x | - | - |")
    for where, m in (('peak RSS', r.get('memory')), ('CUDA bf16, peak max_memory_allocated', r.get('cuda', {}).get('memory'))):
        if not m: continue
        L.append(f"| 6 | {where}, training step at 1,024 tokens (4x256, batch 4) | {m['ours']['peak_mib']:,.0f} MiB | HF {m['hf']['peak_mib']:,.0f} MiB | {m['ratio_peak']:.2f}x | <= 0.6x | {ok(m['ratio_peak'] <= 0.6)} |")
        L.append(f"| 6 | memory added by the step (peak - before) | {m['ours']['step_mib']:,.0f} MiB | HF {m['hf']['step_mib']:,.0f} MiB | {m['ratio_step']:.2f}x | - | - |")
    if 'train' in r: L += ["", "Training note: the target row compares with `ImageGPTForCausalImageModeling` as `ImageGPTConfig()` gives it to a "
                           "user, with GPT-2's dropout of 0.1 (iGPT and igpt_minimal train without dropout). The row under it turns HF's "
                           "dropout off, so both do the same arithmetic and the same matmuls: what remains is attention and overheads. "
                           "Both use the same torch AdamW, data and loss. `python bench/profile_step.py` writes `bench/profile.md`, "
                           "which splits each step's time by kind of op."]
    if 'probe' in r: L += ["", f"Probe note: {r['probe']['note']}."]
    if 'presets' in r: L += ["", "Precision note (section 7): each preset's AR training step as `train` runs it (autocast forward, fp32 loss, "
                             "backward, clipping, AdamW), today's fp32 eager path (SDPA attention) against precision `auto` eager "
                             "(on a CPU in bf16: chapter 02's plain attention up to 128 keys, SDPA beyond) and compiled. An "
                             "MFU above 100% of the fp32 peak is a step faster than fp32 matmuls could run. FLOPs: 6 per "
                             "multiplying weight (embeddings excluded) plus causal attention's half of the T×T scores. MFU divides the "
                             "achieved rate by the 2,048 square matmul rate of that dtype measured in this run. The cifar10 shapes run "
                             "at batch 2 here (their presets use 64 on a GPU). `first step` includes torch.compile's compile time."]
    return '\n'.join(L) + '\n'


def recount(out:Path):
    "Model FLOP utilisation of a stored run, recounted with causal attention as half the scores (the timings are the run's)."
    r = json.loads(out.with_suffix('.json').read_text())
    for sec in (r, r.get('cuda', {})):
        for row in sec.get('train', []):
            L, d, T = map(int, re.match(r'.*?(\d+)x(\d+), T=(\d+)', row['config']).groups())
            row['flops_per_token'] -= 6 * L * T * d if row.get('attention_counted') != 'causal half' else 0
            row['attention_counted'] = 'causal half'
        if 'mfu' in sec:
            peak = sec['mfu']['peak_flops']
            sec['mfu']['rows'] = [dict(config=t['config'], achieved=t['flops_per_token'] * t['tokens'] / t['step_s'],
                                       mfu=t['flops_per_token'] * t['tokens'] / t['step_s'] / peak) for t in sec['train']]
    out.write_text(report(r) + f"\nMFU recounted on {time.strftime('%Y-%m-%d')} from this run's timings (`python bench/run.py --recount`): "
                   "causal attention now counts half the T×T scores.\n")
    out.with_suffix('.json').write_text(json.dumps(r, indent=1, default=float))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true', help='smaller problem sizes (a smoke run; numbers not comparable)')
    ap.add_argument('--only', nargs='*', default=None, help='sections to run: presets train mfu sample palette probe memory')
    ap.add_argument('--out', default=str(ROOT / 'results.md'))
    ap.add_argument('--no-cuda', action='store_true', help='skip the CUDA measurements even when a GPU is present')
    ap.add_argument('--recount', action='store_true',
                    help="rewrite results.md and results.json from the stored run with the current FLOP count (no new timing)")
    a = ap.parse_args()
    if a.recount: return recount(Path(a.out))
    want = set(a.only or ['presets', 'train', 'mfu', 'sample', 'palette', 'probe', 'memory'])
    r = dict(hardware=hardware(), date=time.strftime('%Y-%m-%d'))
    t0 = time.time()
    if 'presets' in want:
        r['peaks'] = matmul_peaks()
        r['presets'] = bench_presets(reps=3 if a.quick else 5, quick=a.quick)
    if want & {'train', 'mfu'}: r['train'] = bench_train(reps=2 if a.quick else 3)
    if 'mfu' in want: r['mfu'] = bench_mfu(r['train'])
    if 'sample' in want: r['sample'] = bench_sample(a.quick)
    if 'palette' in want: r['palette'] = bench_palette(a.quick)
    if 'probe' in want: r['probe'] = bench_probe()
    if 'memory' in want: r['memory'] = bench_memory()
    if torch.cuda.is_available() and not a.no_cuda:   # the same measurements on the GPU, in bf16 autocast
        cu = r['cuda'] = {}
        if want & {'train', 'mfu'}: cu['train'] = bench_train(reps=5, device='cuda', dtype=torch.bfloat16)
        if 'mfu' in want: cu['mfu'] = bench_mfu(cu['train'], device='cuda', dtype=torch.bfloat16)
        if 'memory' in want: cu['memory'] = bench_cuda_memory()
    text = report(r) + f"\nTotal benchmark time: {time.time() - t0:.0f} s.\n"
    print(text)
    Path(a.out).write_text(text)
    Path(a.out).with_suffix('.json').write_text(json.dumps(r, indent=1, default=float))


if __name__ == '__main__':
    main()
