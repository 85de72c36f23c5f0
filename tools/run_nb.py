"""Execute notebooks in place to refresh their committed outputs, skipping cells flagged with nbdev test flags.

Usage: python tools/run_nb.py nbs/02_model.ipynb [more.ipynb ...] [--flags "slow cuda"]
Cells marked `#| slow`, `#| cuda` or `#| notest` are skipped unless listed in --flags; then run `nbdev_clean`.
Prints each notebook's time and its slowest cells.
"""
import argparse, os, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.config import get_config

ap = argparse.ArgumentParser()
ap.add_argument('nbs', nargs='+'); ap.add_argument('--flags', default='')
a = ap.parse_args()
skip = set(get_config().tst_flags.split()) - set(a.flags.split())
os.environ.setdefault('MPLBACKEND', 'module://matplotlib_inline.backend_inline')
for fn in map(Path, a.nbs):
    nb = read_nb(fn)
    times, starts = [], {}
    def preproc(cell):
        "True means: do not run this cell."
        if cell.cell_type != 'code': return True
        first = [l.strip() for l in cell.source.splitlines() if l.strip().startswith('#|')]
        flags = {w for l in first for w in l[2:].split()}
        if flags & skip:
            cell.outputs = []; cell.execution_count = None
            return True
        starts[id(cell)] = time.time(); return False
    def postproc(cell):
        if id(cell) in starts: times.append((time.time() - starts.pop(id(cell)), cell.source.splitlines()[0][:70]))
    t0 = time.time()
    sh = CaptureShell(fn)
    cwd = os.getcwd(); os.chdir(fn.parent)
    try: sh.run_all(nb, exc_stop=True, preproc=preproc, postproc=postproc)
    finally: os.chdir(cwd)
    write_nb(nb, fn)
    print(f'{fn}: {time.time() - t0:.1f} s; slowest cells: ' + '; '.join(f'{t:.1f}s {s!r}' for t, s in sorted(times, reverse=True)[:4]))
