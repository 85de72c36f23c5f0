"""The derivation builds only on itself: the core modules and the chapters that build them (00-06) import no appendix
module, in the module or in any cell, and nothing is patched onto IGPT outside chapter 02."""
import ast, json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = {'quantize', 'data', 'model', 'losses', 'loop', 'sample', 'probe'}
CORE_NOTEBOOKS = sorted((ROOT/'nbs').glob('0[0-6]_*.ipynb'))
LAZY_HF = {'from_hf', 'to_hf'}      # IGPT.from_hf / IGPT.to_hf may import the Hugging Face appendix when called


def package_imports(tree:ast.AST) -> list[tuple[str, str|None]]:
    "(module of igpt_minimal imported, the enclosing function's name or None) for every import in `tree`."
    found = []
    def visit(node, fn):
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else fn
            if isinstance(child, ast.ImportFrom):
                mod = child.module or ''
                if child.level:                                   # from .x import y / from . import x
                    mods = [mod] if mod else [a.name for a in child.names]
                    found.extend((m.split('.')[0], fn) for m in mods)
                elif mod == 'igpt_minimal': found.extend((a.name, fn) for a in child.names)
                elif mod.startswith('igpt_minimal.'): found.append((mod.split('.')[1], fn))
            elif isinstance(child, ast.Import):
                found.extend((a.name.split('.')[1], fn) for a in child.names if a.name.startswith('igpt_minimal.'))
            visit(child, name)
    visit(tree, None)
    return found


def notebook_code(path:Path) -> str:
    "A notebook's code cells as one Python source (cell directives and shell lines dropped)."
    cells = json.loads(path.read_text())['cells']
    keep = lambda l: not l.lstrip().startswith(('#|', '%', '!'))
    return '\n'.join('\n'.join(l for l in ''.join(c['source']).splitlines() if keep(l))
                     for c in cells if c['cell_type'] == 'code')


def appendix_imports(tree) -> list[str]:
    return sorted({m for m, fn in package_imports(tree) if m not in CORE and not (m == 'hf' and fn in LAZY_HF)})


@pytest.mark.parametrize('module', sorted(CORE))
def test_core_module_imports_no_appendix(module):
    tree = ast.parse((ROOT/'igpt_minimal'/f'{module}.py').read_text())
    assert appendix_imports(tree) == [], f"igpt_minimal/{module}.py imports appendix modules"


@pytest.mark.parametrize('nb', CORE_NOTEBOOKS, ids=lambda p: p.stem)
def test_core_chapter_imports_no_appendix(nb):
    assert appendix_imports(ast.parse(notebook_code(nb))) == [], f"{nb.name} imports appendix modules"


def test_the_checker_sees_appendix_imports():
    src = ("from igpt_minimal.train import get_preset\nfrom .scale import plan\nimport igpt_minimal.runfiles\n"
           "from igpt_minimal import kmeans\ndef f():\n    from igpt_minimal.evaluation import run_probe\n"
           "def from_hf(m):\n    from igpt_minimal.hf import from_hf\n")
    assert appendix_imports(ast.parse(src)) == ['evaluation', 'kmeans', 'runfiles', 'scale', 'train']
    assert appendix_imports(ast.parse("from igpt_minimal.model import IGPT\nfrom .loop import train_step")) == []


def test_nothing_patched_onto_igpt_outside_its_chapter():
    for py in sorted((ROOT/'igpt_minimal').glob('*.py')):
        for node in ast.walk(ast.parse(py.read_text())):
            if isinstance(node, ast.FunctionDef) and any(getattr(d, 'id', None) == 'patch' for d in node.decorator_list):
                ann = node.args.args[0].annotation if node.args.args else None
                assert getattr(ann, 'id', None) != 'IGPT', f"{py.name}: {node.name} is patched onto IGPT"


def test_every_module_is_core_or_appendix():
    # a new module must be placed: core (a chapter 00-06) or not
    core_from_nbs = set()
    for nb in CORE_NOTEBOOKS:
        for c in json.loads(nb.read_text())['cells']:
            for l in ''.join(c['source']).splitlines():
                if l.startswith('#| default_exp'): core_from_nbs.add(l.split()[-1])
    assert core_from_nbs == CORE
