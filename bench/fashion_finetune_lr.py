"""Choose the fine-tuning learning rate of chapter 08's Fashion-MNIST run on the validation split.

Fine-tunes the committed AR model (runs/fashion/model.pt) with L_CLF + L_GEN for 500 steps at peak learning rates
{1e-3, 2e-3, 4e-3} (W_clf's rate is 10x, as in tools/reproduce_fashion.py), evaluating validation accuracy every 100
steps. No test image is read. The rate with the best validation accuracy (at its best step) is the one
tools/reproduce_fashion.py uses; 2e-3 (the pretraining rate) was the rate used before this choice.

Run: python bench/fashion_finetune_lr.py  (about 6 minutes per rate on 2 CPU cores; writes bench/fashion_finetune_lr.json
and resumes from it)
"""
import json, time
from pathlib import Path
from igpt_minimal.train import load_model, prepare_data, split_args
from igpt_minimal.probe import finetune

RUN = Path(__file__).resolve().parents[1]/'runs'/'fashion'
out = Path(__file__).with_name('fashion_finetune_lr.json')
rows = json.loads(out.read_text()) if out.exists() else []
model, cfg, _ = load_model(RUN)
d = prepare_data(cfg, RUN)
tr, ytr, va, yva = split_args(d)[:4]                 # train and validation only: no test image is read
for lr in (1e-3, 2e-3, 4e-3):
    if any(r['lr'] == lr for r in rows): continue
    t0 = time.time()
    ft = finetune(model, tr, ytr, va, yva, steps=500, eval_every=100, gen_weight=1.0, lr=lr, clf_lr=10 * lr)
    rows.append(dict(lr=lr, best_step=ft.step, val_accuracy=ft.val_accuracy, val_history=ft.val_history, seconds=round(time.time() - t0)))
    out.write_text(json.dumps(rows, indent=1))
    print(f"lr {lr:g}: best validation accuracy {ft.val_accuracy:.2%} at step {ft.step} ({time.time() - t0:.0f} s)", flush=True)
best = max(rows, key=lambda r: r['val_accuracy'])
print(f"chosen: lr {best['lr']:g}")
