"""Does bf16 cost quality? The fashion preset trained twice from the same seed on the same batches, in fp32 and in
bf16 (autocast, chapter 02), for --steps steps with the preset's schedule compressed to that length; both scored on
the whole validation split in fp32 and in their own precision, then probed layer by layer (λ and layer chosen on
validation; a fixed subset of the training split fits the probes), and the test split scored once per probe.

Usage: python bench/precision_quality.py [--steps 1000] [--probe-train 10000]    writes bench/precision_quality.json
"""
import argparse, json, platform, os, time
from dataclasses import replace
from pathlib import Path
import torch
from igpt_minimal.train import get_preset, prepare_data, train, evaluate, split_args
from igpt_minimal.scale import Runtime
from igpt_minimal.probe import probe_layers
from igpt_minimal.evaluation import select_layer, wilson_interval, paired_difference

ROOT = Path(__file__).resolve().parent
ap = argparse.ArgumentParser()
ap.add_argument('--steps', type=int, default=1000)
ap.add_argument('--probe-train', type=int, default=10_000)
ap.add_argument('--cache', default='/tmp/igpt_fashion_tokens_10', help='token cache directory')
a = ap.parse_args()
torch.set_num_threads(os.cpu_count())
SIDE = 10   # the side of the fashion preset when this ran (2026-12-05); the preset is 14x14 now
data = prepare_data(get_preset('fashion', image_size=SIDE), a.cache)
n_val, res = len(data['tokens_val']), {}
for prec in ('fp32', 'bf16'):
    cfg = get_preset('fashion', image_size=SIDE, precision=prec, max_steps=a.steps, compile='off', eval_every=a.steps,
                     ckpt_every=a.steps, keep_best=False)
    r = train(cfg, data['tokens_train'], data['tokens_val'], progress=False)
    full = replace(cfg, eval_samples=n_val)
    nll32 = evaluate(r.model, data['tokens_val'], full, Runtime(torch.device('cpu'), precision='fp32'))
    nll_own = evaluate(r.model, data['tokens_val'], full, Runtime(torch.device('cpu'), precision=prec))
    args = split_args(data)
    args[0], args[1] = args[0][:a.probe_train], args[1][:a.probe_train]
    t = time.time()
    by_layer = probe_layers(r.model, *args, precision=prec)
    best = select_layer(by_layer)
    k = int(by_layer[best].test_correct.sum())
    res[prec] = dict(train_seconds=r.seconds, seconds_per_step=r.seconds / a.steps, val_nll_fp32_eval=nll32,
                     val_nll_own_eval=nll_own, probe_seconds=time.time() - t, probe_layer=best,
                     probe_val_accuracy={l: p.val_accuracy for l, p in by_layer.items()},
                     probe_test_accuracy=by_layer[best].test_accuracy,
                     probe_test_ci95=wilson_interval(k, len(by_layer[best].test_correct)),
                     test_correct=by_layer[best].test_correct)
    print(prec, {k: v for k, v in res[prec].items() if k not in ('test_correct', 'probe_val_accuracy')}, flush=True)
d = paired_difference(res['bf16']['test_correct'], res['fp32']['test_correct'])
out = dict(date=time.strftime('%Y-%m-%d'), hardware=dict(cpu=platform.processor() or platform.machine(),
           cores=os.cpu_count(), torch=torch.__version__), steps=a.steps, probe_train=a.probe_train,
           val_images=n_val, **{p: {k: v for k, v in r.items() if k != 'test_correct'} for p, r in res.items()},
           val_nll_relative_difference=res['bf16']['val_nll_fp32_eval'] / res['fp32']['val_nll_fp32_eval'] - 1,
           probe_test_bf16_minus_fp32=d)
(ROOT / 'precision_quality.json').write_text(json.dumps(out, indent=1, default=float))
print(json.dumps({k: v for k, v in out.items() if k not in ('fp32', 'bf16')}, indent=1, default=float))
