"""Reproduce chapter 08's Fashion-MNIST run from scratch: AR and BERT pretraining of the `fashion` preset, test NLL,
completions, linear probes of every layer (choices on validation, test once), pixel baselines, fine-tuning.

Usage: python tools/reproduce_fashion.py [RUN_DIR] [--max-steps N] [--finetune-steps N] [--finetune-lr LR]
(default runs/fashion; BERT goes to RUN_DIR-bert; --max-steps shortens pretraining for a smoke test)
Each stage is skipped when its output exists, so an interrupted reproduction continues where it stopped (an
interrupted pretraining resumes from its last checkpoint). The stages it times took 85 minutes on 2 CPU cores (x86_64)
for the committed run; the test NLL, completions and the BERT and 28×28 probes are not timed.
Writes RUN_DIR/model.pt (weights only), metrics.json, probe_layers.png, completions.png and per-image test correctness, and keeps
the token cache, ckpt.pt and metrics.jsonl beside them.
"""
import json, os, platform, sys, time
from dataclasses import replace
from pathlib import Path
import torch
from igpt_minimal.cli import main as igpt, format_probe
from igpt_minimal.evaluation import run_probe, probe_model_and_pixels
from igpt_minimal.data import unraster, split_train_val, VAL_FRAC, SPLIT_SEED
from igpt_minimal.fashion_mnist import load_fashion_mnist
from igpt_minimal.losses import bits_per_token
from igpt_minimal.probe import linear_probe, finetune
from igpt_minimal.evaluation import probe_report, plot_probe_layers, paired_difference, wilson_interval
from igpt_minimal.quantize import dequantize
from igpt_minimal.sample import complete_images, completion_grid
from igpt_minimal.train import get_preset, prepare_data, load_model, evaluate, split_args
from igpt_minimal.runfiles import save_checkpoint, save_figure, WEIGHTS_NAME
from igpt_minimal.scale import plan
from igpt_minimal.model import resolve_precision

import argparse
ap = argparse.ArgumentParser(); ap.add_argument('run', nargs='?', default='runs/fashion')
ap.add_argument('--max-steps', type=int); ap.add_argument("--finetune-steps", type=int, default=500)
ap.add_argument('--finetune-lr', type=float, help="fine-tuning's peak rate (default: the pretraining rate; bench/fashion_finetune_lr.py chooses it on validation)")
args = ap.parse_args()
run = Path(args.run); bert_run = run.with_name(run.name + '-bert')
over = dict(max_steps=args.max_steps) if args.max_steps else {}
hardware = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), no GPU"
mpath = run/'metrics.json'
m = json.loads(mpath.read_text()) if mpath.exists() else dict(preset='fashion', hardware=hardware)
def save(): mpath.write_text(json.dumps(m, indent=1))
def stage(name): print(f"== {name} ({time.strftime('%H:%M:%S')})", flush=True)

for objective, out in (('ar', run), ('bert', bert_run)):          # 1. pretraining, same preset and budget for both
    key = f'{objective}_train_seconds'
    if key in m: continue
    stage(f'pretraining {objective.upper()} in {out}')
    t0 = time.time()
    code = igpt(['train', '--preset', 'fashion', '--objective', objective, '--out', str(out), '--quiet'] + (['--resume'] if (out/'ckpt.pt').exists() else [])
                + (['--max-steps', str(args.max_steps)] if args.max_steps else []))
    if code: sys.exit(code)
    m[key] = time.time() - t0; save()

cfg = get_preset('fashion', **over); data = prepare_data(cfg, run)
prec = resolve_precision(cfg.precision, 'cpu')[0]                 # the run's precision on this CPU
if 'mfu_fp32' not in m:                                           # throughput as a share of this CPU's fp32 and bf16 matmul peaks
    stage('throughput')
    def peak(dtype):
        a = torch.randn(2048, 2048, dtype=dtype)
        for _ in range(3): a @ a
        times = []
        for _ in range(10): t0 = time.perf_counter(); a @ a; times.append(time.perf_counter() - t0)
        return 2 * 2048 ** 3 / sorted(times)[len(times) // 2]
    p32, p16 = peak(torch.float32), peak(torch.bfloat16)
    recs = [json.loads(l) for l in (run/'metrics.jsonl').read_text().splitlines()]
    tps = sorted(r['tokens_per_s'] for r in recs if 'val_nll' not in r) or [r['tokens_per_s'] for r in recs]
    tok_s = tps[len(tps) // 2]                                    # median over the logging windows without an evaluation
    fpt = plan(cfg)['flops_per_token']
    m.update(precision=prec, fp32_matmul_peak_flops=p32, bf16_matmul_peak_flops=p16, train_tokens_per_s=tok_s,
             train_flops_per_token=fpt, mfu_fp32=tok_s * fpt / p32, mfu_bf16=tok_s * fpt / p16); save()
model, _, state = load_model(run/'best.pt')                       # the weights with the best validation NLL
if 'test_nll_bits_per_token' not in m:                            # 2. the test NLL, once
    stage('test NLL')
    nll = evaluate(model, data['tokens_test'], replace(cfg, eval_samples=len(data['tokens_test'])))
    val = evaluate(model, data['tokens_val'], replace(cfg, eval_samples=len(data['tokens_val'])))
    m['test_nll_first500'] = evaluate(model, data['tokens_test'][:500], cfg)   # what chapter 08 recomputes from the committed weights
    m.update(steps=state['step'], test_nll_nats_per_token=nll, test_nll_bits_per_token=bits_per_token(nll), val_nll_bits_per_token=bits_per_token(val))
    save_checkpoint(run/WEIGHTS_NAME, model=model.state_dict(), config=state['config'], step=state['step'], palette=state['palette']); save()
if not (run/'completions.png').exists():                          # 3. completions of real test images, top half given
    stage('completions')
    idx = torch.stack([(data['labels_test'] == c).nonzero()[0, 0] for c in range(0, 10, 2)])   # one image of every other class
    imgs = dequantize(unraster(data['tokens_test'][idx].long(), cfg.image_size, cfg.image_size), data['palette'])
    comp = complete_images(model, imgs, data['palette'], n_samples=5, generator=torch.Generator().manual_seed(0), precision=prec)
    save_figure(completion_grid(imgs, comp), run/'completions.png')
if 'probe_layer' not in m:                                        # 4. linear probes, AR; pixels of the model's input and at 28×28
    stage('probing AR')
    t0 = time.time()
    by_layer, pixels = probe_model_and_pixels(model, cfg, data)
    m.update(probe_report(by_layer, pixels), probe_seconds=time.time() - t0)
    save_figure(plot_probe_layers(by_layer, pixels, title='linear probe by layer (fashion-mnist)'), run/'probe_layers.png')
    x, y = load_fashion_mnist(train=True); xt, yt = load_fashion_mnist(train=False)
    tr, va = split_train_val(y, VAL_FRAC, SPLIT_SEED)
    assert torch.equal(yt, data['labels_test']) and torch.equal(y[va], data['labels_val'])
    flat = lambda im: im.flatten(1).float() / 255
    full = linear_probe(flat(x[tr]), y[tr], flat(x[va]), y[va], flat(xt), yt)   # the full 28×28 pixels, same protocol
    chosen = by_layer[m['probe_layer']].test_correct
    torch.save(chosen, run/'probe_test_correct.pt')
    d = paired_difference(chosen, full.test_correct)
    m.update(pixel28_test_accuracy=full.test_accuracy, pixel28_val_accuracy=full.val_accuracy,
             pixel28_test_ci95=list(wilson_interval(int(full.test_correct.sum()), len(yt))),
             probe_minus_pixel28=d['diff'], probe_minus_pixel28_ci95=[d['lo'], d['hi']], mcnemar_p28=d['mcnemar_p'])
    save(); print(format_probe(m), flush=True)
if 'bert_probe_layer' not in m:                                   # 5. BERT at the same budget, probed with full attention
    stage('probing BERT')
    bmodel, bcfg, _ = load_model(bert_run)
    r = run_probe(bmodel, bcfg, bert_run, plot_path=bert_run/'probe_layers.png')
    (bert_run/'probe.json').write_text(json.dumps(r, indent=1))
    m.update({f'bert_{k}': v for k, v in r.items() if k.startswith('probe_') or k == 'mcnemar_p'}); save()
ft_lr = args.finetune_lr or cfg.lr
for w in (1.0, 0.0):                                              # 6. fine-tuning, the stopping step chosen on validation
    key = f'finetune_gen{w:g}'
    if key in m: continue
    stage(f'fine-tuning, gen_weight={w}')
    ft = finetune(model, *split_args(data), steps=args.finetune_steps, eval_every=max(1, args.finetune_steps // 5),
                  gen_weight=w, lr=ft_lr, clf_lr=10 * ft_lr, precision=prec)
    m[key] = dict(lr=ft_lr, step=ft.step, val_accuracy=ft.val_accuracy, test_accuracy=ft.test_accuracy, val_history=ft.val_history,
                  test_ci95=list(wilson_interval(int(ft.test_correct.sum()), len(ft.test_correct))), seconds=ft.seconds,
                  history=ft.history)
    d = paired_difference(ft.test_correct, torch.load(run/'probe_test_correct.pt'))
    m[key].update(minus_probe=d['diff'], minus_probe_ci95=[d['lo'], d['hi']], mcnemar_p=d['mcnemar_p'])
    torch.save(ft.test_correct, run/f'finetune_gen{w:g}_test_correct.pt'); save()
    print(m[key]['step'], m[key]['val_accuracy'], m[key]['test_accuracy'], flush=True)
stage('done'); print(json.dumps({k: v for k, v in m.items() if not isinstance(v, (dict, list))}, indent=1))
