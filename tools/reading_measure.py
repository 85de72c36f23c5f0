"""How much there is to read: words of markdown prose plus lines of code (outputs excluded), per notebook, for the
main path (the numbered chapters) and the appendices. Issue 16's measure of reading time.

Usage: python tools/reading_measure.py [--rev GIT_REV]   (default: the working tree)
"""
import argparse, json, re, subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def notebooks(rev):
    if rev is None: return {p.name: p.read_text() for p in sorted((ROOT/'nbs').glob('*.ipynb'))}
    names = subprocess.run(['git', 'ls-tree', '--name-only', rev, 'nbs/'], capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    return {Path(n).name: subprocess.run(['git', 'show', f'{rev}:{n}'], capture_output=True, text=True, cwd=ROOT, check=True).stdout
            for n in names if n.endswith('.ipynb')}


def measure(text):
    words = lines = 0
    for c in json.loads(text)['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': words += len(re.findall(r'\S+', src))
        else: lines += sum(1 for l in src.splitlines() if l.strip() and not l.strip().startswith('#|'))
    return words, lines


ap = argparse.ArgumentParser(); ap.add_argument('--rev'); a = ap.parse_args()
tot = {'main': [0, 0], 'appendix': [0, 0]}
for name, text in notebooks(a.rev).items():
    if name == 'index.ipynb': continue
    w, l = measure(text)
    part = 'main' if name[0].isdigit() else 'appendix'
    tot[part][0] += w; tot[part][1] += l
    print(f"{name:28s} {w:6d} words {l:5d} code lines")
for part, (w, l) in tot.items(): print(f"{part:9s}: {w:6d} words of prose + {l:5d} lines of code = {w + l:6d}")
