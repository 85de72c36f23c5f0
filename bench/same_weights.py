"""Does a change alter what training computes? Trains the `digits` preset for 60 steps (fp32, eager, AR and BERT,
with its shifts, weight decay and evaluations) with `igpt_minimal.train.train` at OLD_REV and in the working tree, and
compares the weights and the logged losses bit for bit.

Usage: python bench/same_weights.py OLD_REV   (a few minutes on 2 CPU cores; prints one line per objective)
"""
import os, subprocess, sys, tempfile
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
RUN = """
import sys, torch
from igpt_minimal.train import get_preset, prepare_data, train
out = {}
for objective in ('ar', 'bert'):
    cfg = get_preset('digits', max_steps=60, precision='fp32', compile='off', objective=objective, eval_every=30)
    data = prepare_data(cfg)
    res = train(cfg, data['tokens_train'], data['tokens_val'], progress=False)
    out[objective] = dict(weights=res.model.state_dict(), losses=[(r['loss'], r.get('val_nll')) for r in res.history])
torch.save(out, sys.argv[1])
"""


def run(src_dir:Path, out:Path):
    subprocess.run([sys.executable, '-c', RUN, str(out)], check=True, cwd=src_dir,
                   env={**os.environ, 'PYTHONPATH': str(src_dir)})
    return torch.load(out)


if __name__ == '__main__':
    old_rev = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        wt = Path(tmp)/'old'
        subprocess.run(['git', 'worktree', 'add', '-q', '--detach', str(wt), old_rev], cwd=ROOT, check=True)
        try: old = run(wt, Path(tmp)/'old.pt')
        finally: subprocess.run(['git', 'worktree', 'remove', '--force', str(wt)], cwd=ROOT, check=True)
        new = run(ROOT, Path(tmp)/'new.pt')
    for objective in old:
        a, b = old[objective], new[objective]
        same = all(torch.equal(a['weights'][k], b['weights'][k]) for k in a['weights'])
        print(f"{objective}: weights {'identical' if same else 'DIFFER'}; logged losses "
              f"{'identical' if a['losses'] == b['losses'] else 'DIFFER'}")
