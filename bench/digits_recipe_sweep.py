"""Choose the `digits` preset (what `igpt demo` trains) and fine-tuning's rates on the validation split alone.

Nothing is inherited from earlier sweeps (an earlier one compared runs on the test split; it is in git history). The
sweep starts from a stated, generic recipe: AdamW at lr 1e-3, no weight decay, no shifts, 1,000 steps of 64 images,
50 warm-up steps, precision auto. Then one choice at a time, each candidate judged on the validation split:
  1. the shape, among three of about equal step time: 4 x 128, 8 x 96, 12 x 64 (4 heads)
  2. the peak learning rate: 3e-4, 1e-3, 3e-3
  3. weight decay: 0, 0.1
  4. shifts (augment_pad): 0, 1 pixel
  5. steps: 1,000, 1,500 (the demo's budget: about four minutes on 2 CPU cores in bf16)
Pretraining candidates are compared by validation NLL (6,000 nats-per-token terms from 142 images: far less noisy than
a probe's accuracy on 142 images); the probe of every layer is recorded beside it. Then fine-tuning of the chosen
model (L_CLF + L_GEN, 300 steps of 64, the stopping step kept on validation): the model's rate 1e-3 or 3e-3 times a
classifier-rate ratio of 1, 10 or 30, compared by validation accuracy.

The data comes from prepare_data(test=False): the test split is never read.
Run: python bench/digits_recipe_sweep.py   (writes bench/digits_recipe_sweep.json and resumes from it)
"""
import json, time
from pathlib import Path
from igpt_minimal.train import get_preset, prepare_data, train, split_args
from igpt_minimal.probe import probe_layers, finetune
from igpt_minimal.evaluation import select_layer
from igpt_minimal.model import resolve_precision

START = dict(n_layer=8, n_embd=96, lr=1e-3, weight_decay=0.0, augment_pad=0, max_steps=1000)
STAGES = [dict(n_layer=[4, 8, 12]), dict(lr=[3e-4, 1e-3, 3e-3]), dict(weight_decay=[0.0, 0.1]),
          dict(augment_pad=[0, 1]), dict(max_steps=[1000, 1500])]
WIDTH = {4: 128, 8: 96, 12: 64}                   # the shape stage's n_embd for each n_layer
FINETUNE = [dict(lr=lr, ratio=r) for lr in (1e-3, 3e-3) for r in (1, 10, 30)]
out_path = Path(__file__).with_name('digits_recipe_sweep.json')
log = json.loads(out_path.read_text()) if out_path.exists() else dict(pretrain=[], finetune=[])
data = prepare_data(get_preset('digits'), test=False)   # the test split is never read
tr, ytr, va, yva = split_args(data)
PRECISION = resolve_precision('auto', 'cpu')[0]         # what the preset's runs use on this machine


def save(): out_path.write_text(json.dumps(log, indent=1))


models = {}                                         # this session's trained candidates, by recipe


def pretrain(recipe:dict) -> dict:
    "Train and probe one candidate (unless the JSON has it); its row."
    done = [r for r in log['pretrain'] if r['recipe'] == recipe]
    if done: return done[0]
    cfg = get_preset('digits', **recipe, warmup_steps=50, eval_every=10**6, ckpt_every=10**6)
    res = train(cfg, data['tokens_train'], data['tokens_val'], progress=False)
    models[json.dumps(recipe, sort_keys=True)] = res.model
    probes = probe_layers(res.model, tr, ytr, va, yva, precision=PRECISION)
    best = select_layer(probes)
    row = dict(recipe=recipe, train_seconds=round(res.seconds), val_nll=res.val_nll, probe_layer=best,
               probe_val_accuracy=probes[best].val_accuracy,
               probe_val_accuracy_by_layer={l: p.val_accuracy for l, p in probes.items()})
    log['pretrain'].append(row)
    save()
    print(f"{recipe}: {res.seconds:.0f} s, validation NLL {res.val_nll:.4f}; probe layer {best} "
          f"{probes[best].val_accuracy:.1%}", flush=True)
    return row


recipe = dict(START)
for stage in STAGES:
    (key, values), = stage.items()
    rows = []
    for v in values:
        cand = {**recipe, key: v, **({'n_embd': WIDTH[v]} if key == 'n_layer' else {})}
        rows.append(pretrain(cand))
    recipe = min(rows, key=lambda r: r['val_nll'])['recipe']
    print(f"stage {key}: chose {recipe}", flush=True)
log['chosen'] = recipe
save()

model = models.get(json.dumps(recipe, sort_keys=True))
for ft in FINETUNE:
    if any(r['lr'] == ft['lr'] and r['ratio'] == ft['ratio'] for r in log['finetune']): continue
    if model is None:        # resumed from the JSON: train the chosen recipe again (same seed, same weights)
        model = train(get_preset('digits', **recipe, warmup_steps=50, eval_every=10**6, ckpt_every=10**6),
                      data['tokens_train'], progress=False).model
    t0 = time.time()
    r = finetune(model, tr, ytr, va, yva, steps=300, eval_every=50, gen_weight=1.0, lr=ft['lr'],
                 clf_lr=ft['lr'] * ft['ratio'], precision=PRECISION)
    log['finetune'].append(dict(ft, step=r.step, val_accuracy=r.val_accuracy, val_history=r.val_history,
                                seconds=round(time.time() - t0)))
    save()
    print(f"fine-tuning lr {ft['lr']:g}, classifier x{ft['ratio']}: validation {r.val_accuracy:.1%} at step {r.step}",
          flush=True)
best = max(log['finetune'], key=lambda r: (r['val_accuracy'], -r['lr'], -r['ratio']))
log['chosen_finetune'] = dict(lr=best['lr'], ratio=best['ratio'])
save()
print("chosen:", log['chosen'], log['chosen_finetune'])
