"""Reproduce chapter 07's Fashion-MNIST run from scratch: AR and BERT pretraining of the `fashion` preset, test NLL,
completions, linear probes of every layer, pixel baselines, fine-tuning, and every paired comparison.

Usage: python tools/reproduce_fashion.py [RUN_DIR] [--max-steps N] [--finetune-steps N] [--stop-before-bert]
(default runs/fashion; BERT goes to RUN_DIR-bert; --max-steps shortens pretraining for a smoke test)

Every choice is made on the validation split before the test split is scored, once per reported number:
- the probe's λ and the reported layer (AR and BERT alike);
- fine-tuning's rate and its classifier's rate: the library's defaults (3e-3, classifier 30x, chosen on the digits'
  validation split) and each factor moved once (1e-3 at 30x; 3e-3 at 10x), 300 steps of L_CLF + L_GEN each, compared
  by validation accuracy with no test split handed over; the chosen settings are then used for both losses, and only
  then is the test split scored;
- the preset (side, shape, steps) comes from bench/fashion_budget_sweep.py, which never reads the test split.
Each stage is skipped when its output exists, so an interrupted reproduction continues where it stopped (an
interrupted pretraining resumes from its last checkpoint).
Writes RUN_DIR/model.pt (weights only), metrics.json, probe_layers.png, completions.png, loss.png and correct.pt
(which validation and test images every reported classifier got right), and keeps the token cache, ckpt.pt and
metrics.jsonl beside them. Figure 3's points are copied from bench/fashion_budget_sweep.json.
"""
import json, sys, time
from dataclasses import replace
from pathlib import Path
import torch
from scipy.stats import spearmanr
from igpt_minimal.cli import main as igpt, format_probe
from igpt_minimal.data import split_train_val, unraster, VAL_FRAC, SPLIT_SEED
from igpt_minimal.fashion_mnist import load_fashion_mnist
from igpt_minimal.losses import bits_per_token
from igpt_minimal.probe import linear_probe, finetune, select_layer, wilson_interval, classify
from igpt_minimal.evaluation import probe_report, probe_model, probe_model_and_pixels, paired_difference, plot_probe_layers
from igpt_minimal.quantize import dequantize
from igpt_minimal.sample import complete_images, completion_grid
from igpt_minimal.train import get_preset, prepare_data, load_model, evaluate, split_args
from igpt_minimal.runfiles import save_checkpoint, save_figure, WEIGHTS_NAME
from igpt_minimal.scale import plan, describe_machine
from igpt_minimal.model import resolve_precision

import argparse
ap = argparse.ArgumentParser(); ap.add_argument('run', nargs='?', default='runs/fashion')
ap.add_argument('--max-steps', type=int); ap.add_argument("--finetune-steps", type=int, default=300)
ap.add_argument('--stop-before-bert', action='store_true', help="stop after the AR stages (BERT's pretraining resumes on the next call)")
args = ap.parse_args()
run = Path(args.run); bert_run = run.with_name(run.name + '-bert')
over = dict(max_steps=args.max_steps) if args.max_steps else {}
hardware = describe_machine()
mpath, cpath = run/'metrics.json', run/'correct.pt'
m = json.loads(mpath.read_text()) if mpath.exists() else dict(preset='fashion', hardware=hardware)
correct = torch.load(cpath) if cpath.exists() else {}     # {name: (N,) bool}: which images a classifier got right
def save():
    run.mkdir(parents=True, exist_ok=True)
    torch.save(correct, cpath); mpath.write_text(json.dumps(m, indent=1))
def stage(name): print(f"== {name} ({time.strftime('%H:%M:%S')})", flush=True)
def paired(name, a, b, split):                                  # a's accuracy minus b's on the same images
    d = paired_difference(correct[a], correct[b])
    m.setdefault('paired', {})[name] = dict(a=a, b=b, split=split, diff=d['diff'], ci95=[d['lo'], d['hi']],
                                           wins=d['wins'], losses=d['losses'], mcnemar_p=d['mcnemar_p'])

def pretrain(objective, out):                                     # 1. pretraining, same preset and steps for both
    key = f'{objective}_train_seconds'
    if key in m: return
    stage(f'pretraining {objective.upper()} in {out}')
    t0 = time.time()
    code = igpt(['train', '--preset', 'fashion', '--objective', objective, '--out', str(out), '--quiet'] + (['--resume'] if (out/'ckpt.pt').exists() else [])
                + (['--max-steps', str(args.max_steps)] if args.max_steps else []))
    if code: sys.exit(code)
    m[key] = time.time() - t0; m[f'{objective}_train_hardware'] = hardware; save()
pretrain('ar', run)                                               # AR first, and everything on it; BERT last

cfg = get_preset('fashion', **over)
model, _, state = load_model(run/'best.pt' if (run/'best.pt').exists() else run/WEIGHTS_NAME)   # best validation NLL (model.pt in a checkout)
data = prepare_data(cfg, run, palette=state['palette'])          # the run's own palette (a checkout: tokens rebuilt beside it)
prec = resolve_precision(cfg.precision, 'cpu')[0]                 # the run's precision on this CPU
if 'train_tokens_per_s' not in m:                                 # throughput as a share of this CPU's matmul peaks
    stage('throughput')
    def peak(dtype):
        a = torch.randn(2048, 2048, dtype=dtype)
        for _ in range(3): a @ a
        times = []
        for _ in range(10): t0 = time.perf_counter(); a @ a; times.append(time.perf_counter() - t0)
        return 2 * 2048 ** 3 / sorted(times)[len(times) // 2]
    p32, p16 = peak(torch.float32), peak(torch.bfloat16)
    recs = [json.loads(l) for l in (run/'metrics.jsonl').read_text().splitlines()]
    tps = sorted(r['tokens_per_s'] for r in recs if 'val_nll' not in r and 'tokens_per_s' in r)
    tok_s = tps[len(tps) // 2]                                    # median over the logging windows without an evaluation
    fpt = plan(cfg)['flops_per_token']
    m.update(precision=prec, fp32_matmul_peak_flops=p32, bf16_matmul_peak_flops=p16, train_tokens_per_s=tok_s,
             train_flops_per_token=fpt, train_flops=fpt * cfg.image_size ** 2 * cfg.batch_size * cfg.max_steps,
             mfu_of_run_precision=tok_s * fpt / (p16 if prec == 'bf16' else p32)); save()
if 'test_nll_bits_per_token' not in m:                            # 2. the test NLL, once
    stage('test NLL')
    nll = evaluate(model, data['tokens_test'], replace(cfg, eval_samples=len(data['tokens_test'])))
    val = evaluate(model, data['tokens_val'], replace(cfg, eval_samples=len(data['tokens_val'])))
    m['test_nll_first500'] = evaluate(model, data['tokens_test'][:500], cfg, precision='fp32')   # appendix A11 recomputes it (fp32: the same on any CPU)
    m.update(steps=state['step'], test_nll_nats_per_token=nll, test_nll_bits_per_token=bits_per_token(nll), val_nll_bits_per_token=bits_per_token(val))
    save_checkpoint(run/WEIGHTS_NAME, model=model.state_dict(), config=state['config'], step=state['step'], palette=state['palette']); save()
if not (run/'completions.png').exists():                          # 3. completions of real test images, top half given
    stage('completions')
    idx = torch.stack([(data['labels_test'] == c).nonzero()[0, 0] for c in range(0, 10, 2)])   # one image of every other class
    imgs = dequantize(unraster(data['tokens_test'][idx].long(), cfg.image_size, cfg.image_size), data['palette'])
    comp = complete_images(model, imgs, data['palette'], n_samples=5, generator=torch.Generator().manual_seed(0), precision=prec)
    save_figure(completion_grid(imgs, comp), run/'completions.png')
L = cfg.model.n_layer
if 'probe_layer' not in m:                                        # 4. linear probes, AR; pixels of the model's input and at 28×28
    stage('probing AR')
    t0 = time.time()
    by_layer, pixels = probe_model_and_pixels(model, cfg, data)
    m.update(probe_report(by_layer, pixels), probe_seconds=time.time() - t0)
    x, y = load_fashion_mnist(train=True); xt, yt = load_fashion_mnist(train=False)
    tr, va = split_train_val(y, VAL_FRAC, SPLIT_SEED)
    assert torch.equal(yt, data['labels_test']) and torch.equal(y[va], data['labels_val'])
    flat = lambda im: im.flatten(1).float() / 255
    full = linear_probe(flat(x[tr]), y[tr], flat(x[va]), y[va], flat(xt), yt)   # the full 28×28 pixels, same protocol
    save_figure(plot_probe_layers(by_layer, {f'pixels {cfg.image_size}×{cfg.image_size}, 16 levels': pixels, 'pixels 28×28': full},
                                  title='linear probe by layer (fashion-mnist)'), run/'probe_layers.png')
    for l, r in by_layer.items():
        correct[f'probe_layer{l}_val'], correct[f'probe_layer{l}_test'] = r.val_correct, r.test_correct
    correct.update(probe_val=by_layer[m['probe_layer']].val_correct, probe_test=by_layer[m['probe_layer']].test_correct,
                   pixel_input_val=pixels.val_correct, pixel_input_test=pixels.test_correct,
                   pixel28_val=full.val_correct, pixel28_test=full.test_correct)
    m.update(pixel28_test_accuracy=full.test_accuracy, pixel28_val_accuracy=full.val_accuracy,
             pixel28_test_ci95=list(wilson_interval(int(full.test_correct.sum()), len(yt))))
    paired('probe_vs_pixel_input', 'probe_test', 'pixel_input_test', 'test')
    paired('probe_vs_pixel28', 'probe_test', 'pixel28_test', 'test')
    paired('chosen_vs_last_val', 'probe_val', f'probe_layer{L}_val', 'validation')
    paired('chosen_vs_last_test', 'probe_test', f'probe_layer{L}_test', 'test')
    save(); print(format_probe(m), flush=True)
FINETUNE_GRID = ((3e-3, 30), (1e-3, 30), (3e-3, 10))   # the library's default (digits' choice), then each factor moved once
ft_kw = dict(steps=args.finetune_steps, eval_every=max(1, args.finetune_steps // 3), precision=prec)
grid = {}                                                         # this process's grid results, kept to score the chosen one
if 'finetune_choice' not in m:                                    # 6. fine-tuning's rates, chosen on validation (no test split given)
    tr, ytr, va, yva = split_args(data)[:4]
    rows = []
    for lr, ratio in FINETUNE_GRID:
        stage(f'fine-tuning grid: lr {lr:g}, classifier x{ratio}')
        ft = grid[(lr, ratio)] = finetune(model, tr, ytr, va, yva, gen_weight=1.0, lr=lr, clf_lr=ratio * lr, **ft_kw)
        rows.append(dict(lr=lr, ratio=ratio, step=ft.step, val_accuracy=ft.val_accuracy, val_history=ft.val_history,
                         seconds=ft.seconds))
        print(f"   validation {ft.val_accuracy:.2%} at step {ft.step}", flush=True)
    best = max(rows, key=lambda r: r['val_accuracy'])             # ties: the first in the grid's order
    m['finetune_grid'], m['finetune_choice'] = rows, dict(lr=best['lr'], ratio=best['ratio'])
    save()
ch = m['finetune_choice']
for w in (1.0, 0.0):                                              # 7. fine-tuning with the chosen rates; test scored once
    key = f'finetune_gen{w:g}'
    if key in m: continue
    stage(f'fine-tuning, gen_weight={w}')
    if w == 1.0 and (ch['lr'], ch['ratio']) in grid:              # the grid's run of these settings: score its kept state
        ft = grid[(ch['lr'], ch['ratio'])]
        test_correct = classify(ft.model, ft.classifier, data['tokens_test'], data['labels_test'], True, prec)
    else:
        ft = finetune(model, *split_args(data), gen_weight=w, lr=ch['lr'], clf_lr=ch['ratio'] * ch['lr'], **ft_kw)
        test_correct = ft.test_correct
    correct[f'{key}_test'] = test_correct
    acc = test_correct.float().mean().item()
    m[key] = dict(lr=ch['lr'], clf_lr=ch['ratio'] * ch['lr'], step=ft.step, val_accuracy=ft.val_accuracy, test_accuracy=acc,
                  val_history=ft.val_history, test_ci95=list(wilson_interval(int(test_correct.sum()), len(test_correct))),
                  seconds=ft.seconds, history=ft.history)
    paired(f'{key}_vs_probe', f'{key}_test', 'probe_test', 'test')
    save(); print(ft.step, ft.val_accuracy, acc, flush=True)
if 'gen1_vs_gen0' not in m['paired']:
    paired('gen1_vs_gen0', 'finetune_gen1_test', 'finetune_gen0_test', 'test'); save()
if 'fig3' not in m:                                               # 8. Figure 3's points, from the validation-only sweep
    sweep = json.loads((Path(__file__).parents[1]/'bench'/'fashion_budget_sweep.json').read_text())
    keys = ('size', 'step', 'val_nll', 'val_probe_accuracy', 'layer')
    m['fig3'] = [{k: r[k] for k in keys} for r in sweep['fig3']]
    rho = spearmanr([r['val_nll'] for r in m['fig3']], [r['val_probe_accuracy'] for r in m['fig3']])
    m.update(fig3_spearman=rho.statistic, fig3_spearman_p=rho.pvalue,
             fig3_source='bench/fashion_budget_sweep.json: checkpoints of its candidates `longer` and `wider` (10x10, '
                         'each given half the arithmetic of this run); val_nll over all 6,000 validation images, the probe fitted '
                         'on a fixed 10,000-image subset of the training split, layer and lambda chosen on validation')
    save()
if args.stop_before_bert: stage('stopped before BERT (--stop-before-bert)'); sys.exit(0)
pretrain('bert', bert_run)                                        # 9. BERT at the same budget, probed with full attention
if 'bert_probe_layer' not in m:
    stage('probing BERT')
    t0 = time.time()
    bmodel, bcfg, bstate = load_model(bert_run/'best.pt')
    assert torch.equal(torch.as_tensor(bstate['palette']), torch.as_tensor(data['palette'])), "AR and BERT palettes differ"
    by_layer = probe_model(bmodel, bcfg, data)          # full attention; the pixel probes were recorded with AR
    b = select_layer(by_layer)
    n = len(data['labels_test'])
    m.update(bert_probe_layer=b, bert_probe_val_accuracy=by_layer[b].val_accuracy,
             bert_probe_test_accuracy=by_layer[b].test_accuracy,
             bert_probe_test_ci95=list(wilson_interval(int(by_layer[b].test_correct.sum()), n)),
             bert_probe_val_accuracy_by_layer={l: r.val_accuracy for l, r in by_layer.items()},
             bert_probe_test_accuracy_by_layer={l: r.test_accuracy for l, r in by_layer.items()},
             bert_steps=bstate['step'], bert_probe_seconds=time.time() - t0)
    correct.update(bert_probe_val=by_layer[b].val_correct, bert_probe_test=by_layer[b].test_correct)
    paired('ar_vs_bert', 'probe_test', 'bert_probe_test', 'test')
    save()
stage('done'); print(json.dumps({k: v for k, v in m.items() if not isinstance(v, (dict, list))}, indent=1))
