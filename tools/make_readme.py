"""Generate README.md from nbs/index.ipynb without Quarto or network (nbdev_readme needs Quarto).

Usage: python tools/make_readme.py [--check]   (--check exits 1 if README.md is stale)
"""
import re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

root = Path(__file__).resolve().parent.parent
nb = nbformat.read(root/'nbs'/'index.ipynb', as_version=4)
keep = []
for cell in nb.cells:
    src = cell.source
    if cell.cell_type == 'code':
        if re.search(r'^#\|\s*(hide|export)', src, re.M): continue
        # drop nbdev directives from what the reader sees
        cell.source = re.sub(r'^#\|.*\n?', '', src, flags=re.M)
        # rich outputs (figures) are shown in the notebook, not copied into the README
        cell.outputs = [o for o in cell.get('outputs', []) if o.get('output_type') == 'stream']
    keep.append(cell)
nb.cells = keep
body, _ = MarkdownExporter().from_notebook_node(nb)
# images referenced relative to nbs/ must be found from the repository root
body = re.sub(r'\]\((?!https?://|/|#)([^)]+)\)', lambda m: f'](nbs/{m.group(1)})' if (root/'nbs'/m.group(1)).exists() else m.group(0), body)
text = '# ' + body.lstrip('# ').strip() + '\n' if body.startswith('#') else body.strip() + '\n'
text = '<!-- generated from nbs/index.ipynb by tools/make_readme.py: do not edit -->\n\n' + text
out = root/'README.md'
if '--check' in sys.argv:
    if not out.exists() or out.read_text() != text:
        sys.exit('README.md is out of date with nbs/index.ipynb: run `python tools/make_readme.py` and commit it.')
    print('README.md is current.')
else:
    out.write_text(text)
    print(f'wrote {out.relative_to(root)}')
