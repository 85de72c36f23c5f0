"""Choose the `digits` preset's shape on the validation split (the preset `igpt demo` trains).

Candidates are the shapes of about the same time per step (the earlier table, which chose on the test split, is in
git history); each trains the `digits` recipe (1,000 steps of 64, one-pixel shifts, weight decay 0.1) and is judged on
validation only: the validation NLL and the linear probe of every layer (λ and layer chosen on validation).
No test image is read. The shape with the highest validation accuracy of its chosen layer wins; ties go to the
lower validation NLL.

Run: python bench/digits_sweep.py  (about 13 minutes on 2 CPU cores; writes bench/digits_sweep.json)
"""
import json
from pathlib import Path
from igpt_minimal.train import get_preset, prepare_data, train, SPLITS
from igpt_minimal.probe import probe_layers, select_layer

CANDIDATES = [(4, 128), (8, 96), (12, 64)]   # (n_layer, n_embd), 4 heads: about the same time per step
out_path = Path(__file__).with_name('digits_sweep.json')
rows = json.loads(out_path.read_text()) if out_path.exists() else []
data = prepare_data(get_preset('digits'))
(tr, ytr), (va, yva) = [(data[f'tokens_{s}'].long(), data[f'labels_{s}']) for s in SPLITS[:2]]
for L, d in CANDIDATES:
    if any((r['n_layer'], r['n_embd']) == (L, d) for r in rows): continue
    res = train(get_preset('digits', n_layer=L, n_embd=d), data['tokens_train'], data['tokens_val'], progress=False)
    pr = probe_layers(res.model, tr, ytr, va, yva)
    best = select_layer(pr)
    rows.append(dict(n_layer=L, n_embd=d, train_seconds=round(res.seconds), val_nll=res.val_nll, chosen_layer=best,
                     val_acc=pr[best].val_accuracy, val_acc_by_layer={l: r.val_accuracy for l, r in pr.items()}))
    out_path.write_text(json.dumps(rows, indent=1))
    print(f"{L} x {d}: {res.seconds:.0f} s, validation NLL {res.val_nll:.4f}, layer {best}: {pr[best].val_accuracy:.1%} on validation", flush=True)
best = max(rows, key=lambda r: (r['val_acc'], -r['val_nll']))
print(f"chosen: {best['n_layer']} x {best['n_embd']}")
