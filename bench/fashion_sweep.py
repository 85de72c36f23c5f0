"""Choose the `fashion` preset's image size and shape on the validation split (chapter 08).

Every candidate pretrains for a step count fixed in advance from measured step times (3.3 to 5.1 minutes on 2 cores
here), then is judged on validation only: NLL on 2,000 validation images and the linear probe of every layer
(fitted on a 10,000-image subset of the training split, λ and layer chosen on validation). No test image is read.

Run: python bench/fashion_sweep.py  (about 25 minutes on 2 CPU cores; writes bench/fashion_sweep.json)
"""
import json, time
from pathlib import Path
import torch
from igpt_minimal.train import get_preset, prepare_data, train, evaluate
from igpt_minimal.probe import probe_layers, linear_probe
from igpt_minimal.evaluation import select_layer
from igpt_minimal.quantize import dequantize
from igpt_minimal.data import unraster

CANDIDATES = [  # (image_size, n_layer, n_embd, n_head, steps): steps ≈ 4 minutes at the step times measured beforehand
    (14, 8, 128, 4, 280), (14, 12, 96, 4, 200), (14, 16, 64, 4, 240), (10, 8, 128, 4, 450)]
out_path = Path(__file__).with_name('fashion_sweep.json')
rows = json.loads(out_path.read_text()) if out_path.exists() else []
done = {(r['image_size'], r['n_layer'], r['n_embd']) for r in rows}
for size, L, d, h, steps in CANDIDATES:
    if (size, L, d) in done: continue
    cfg = get_preset('fashion', image_size=size, n_layer=L, n_embd=d, n_head=h, max_steps=steps, warmup_steps=50, eval_every=10**6, ckpt_every=10**6)
    data = prepare_data(cfg, test=False)                  # the test split is never read
    sub = torch.randperm(len(data['tokens_train']), generator=torch.Generator().manual_seed(0))[:10_000]
    tr, ytr, va, yva = data['tokens_train'][sub].long(), data['labels_train'][sub], data['tokens_val'].long(), data['labels_val']
    res = train(cfg, data['tokens_train'], progress=False)
    val_nll = evaluate(res.model, va, cfg)      # the first 2,000 validation images (the preset's eval_samples)
    t0 = time.time(); probes = probe_layers(res.model, tr, ytr, va, yva)
    pix = lambda t: dequantize(unraster(t, size, size), data['palette']).flatten(1).float() / 255
    pixels = linear_probe(pix(tr), ytr, pix(va), yva)
    best = select_layer(probes)
    row = dict(image_size=size, n_layer=L, n_embd=d, n_head=h, steps=steps, train_seconds=round(res.seconds), probe_seconds=round(time.time() - t0),
               val_nll=val_nll, val_acc_by_layer={l: r.val_accuracy for l, r in probes.items()}, chosen_layer=best,
               val_acc=probes[best].val_accuracy, pixel_val_acc=pixels.val_accuracy)
    rows.append(row); out_path.write_text(json.dumps(rows, indent=1))
    print(f"{size}x{size} {L}x{d}: {steps} steps {res.seconds:.0f} s, val NLL {val_nll:.4f} nats/token, best layer {best} val {probes[best].val_accuracy:.2%} "
          f"(pixels {pixels.val_accuracy:.2%}); by layer " + ' '.join(f'{r.val_accuracy:.3f}' for r in probes.values()), flush=True)
