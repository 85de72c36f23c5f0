"""Did a change slow the training step? Times igpt_minimal.model's AR training step (forward, loss, backward, AdamW)
at two git revisions side by side in one process, interleaved, on the bench's two training shapes.

Usage: python bench/step_regression.py OLD_REV [NEW_REV]   (NEW_REV defaults to the working tree)
"""
import argparse, importlib.util, subprocess, sys, tempfile, time
from pathlib import Path
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {'ctx1024': dict(T=1024, L=4, D=256, B=4), 'ctx256': dict(T=256, L=8, D=256, B=16)}   # bench/run.py's


def load_model_module(rev, tmp):
    "igpt_minimal/model.py at `rev` (None: the working tree) as a module of its own (it imports nothing local)."
    src = (ROOT / 'igpt_minimal/model.py').read_text() if rev is None else subprocess.run(
        ['git', 'show', f'{rev}:igpt_minimal/model.py'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    path = Path(tmp) / f"model_{rev or 'tree'}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    return mod


def step_fn(mod, c, seed=0):
    torch.manual_seed(seed)
    m = mod.IGPT(mod.IGPTConfig(n_colors=512, n_positions=c['T'], n_embd=c['D'], n_layer=c['L'], n_head=8))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.95))
    x = torch.randint(0, 512, (c['B'], c['T']), generator=torch.Generator().manual_seed(seed))
    def step():
        loss = F.cross_entropy(m(x).flatten(0, 1), x.flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


ap = argparse.ArgumentParser()
ap.add_argument('old')
ap.add_argument('new', nargs='?')
ap.add_argument('--reps', type=int, default=15)
a = ap.parse_args()
with tempfile.TemporaryDirectory() as tmp:
    old, new = load_model_module(a.old, tmp), load_model_module(a.new, tmp)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of {a.reps}, interleaved")
    for name, c in CONFIGS.items():
        fo, fn = step_fn(old, c), step_fn(new, c)
        fo()                                   # warm-up
        fn()
        to, tn = [], []
        for _ in range(a.reps):
            for f, ts in ((fo, to), (fn, tn)):
                t = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t)
        tok = c['B'] * c['T']
        print(f"{name}: {a.old} {tok / min(to):,.0f} tokens/s, {a.new or 'working tree'} {tok / min(tn):,.0f} tokens/s, "
              f"new/old {min(to) / min(tn):.3f}")
