"""``import geneimpute`` stays light, and the layers import only what they may."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "geneimpute"
HEAVY = ("torch", "matplotlib.pyplot", "xgboost", "captum", "pyjaspar", "scanpy")


def _run(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter and assert that it exits 0."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_import_geneimpute_loads_neither_torch_nor_pyplot():
    # the acceptance line of issue 11, verbatim
    code = (
        "import geneimpute, sys; "
        "assert 'torch' not in sys.modules and 'matplotlib.pyplot' not in sys.modules"
    )
    _run(code)


def test_import_tl_loads_optuna_only_with_tune():
    code = (
        "import sys, geneimpute.tl as tl; "
        "assert 'optuna' not in sys.modules; tl.tune; assert 'optuna' in sys.modules"
    )
    _run(code)


LIGHT = """
import sys, json
import geneimpute, geneimpute.pp, geneimpute.tl, geneimpute.pl, geneimpute.models
import geneimpute.datasets
for mod in (geneimpute.pp, geneimpute.tl, geneimpute.pl, geneimpute.datasets):
    for name in mod.__all__:
        getattr(mod, name)
for name in ("HybridImputer", "HybridConfig", "GeneInputs", "idw_profiles"):
    getattr(geneimpute.models, name)
heavy = {heavy!r}
before = [m for m in heavy if m in sys.modules]
geneimpute.models.HybridNet  # a torch module: loads torch on first access
print(json.dumps({{"before": before, "after": [m for m in heavy if m in sys.modules]}}))
"""


def test_public_functions_load_no_heavy_dependency_until_called():
    # every public pp/tl/pl/datasets function and the array-level model classes can be
    # imported without torch, xgboost, pyplot, captum, pyjaspar or scanpy
    out = _run(LIGHT.format(heavy=HEAVY))
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["before"] == [], f"importing geneimpute's public API loads {loaded['before']}"
    assert "torch" in loaded["after"]  # the check sees a heavy import when there is one


def test_public_api_exports():
    import geneimpute as ge

    assert issubclass(ge.DataWarning, UserWarning)
    assert ge.settings is not None
    for name in ge.__all__:
        assert hasattr(ge, name), name


# layer rules (CONVENTIONS.md, "Layout"): models and _core know arrays, not AnnData, pp, tl, pl
FORBIDDEN = {
    "models": (
        "anndata",
        "geneimpute.pp",
        "geneimpute.tl",
        "geneimpute.pl",
        "geneimpute._adata",
    ),
    "_core": (
        "anndata",
        "geneimpute.pp",
        "geneimpute.tl",
        "geneimpute.pl",
        "geneimpute.models",
        "geneimpute._adata",
    ),
}


def _imported(path: Path, root: Path) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import in ``path`` (relative ones resolved)."""
    package = ["geneimpute", *path.parent.relative_to(root).parts]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, mod))
            # `from .. import pp` imports geneimpute.pp
            found += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return found


def _layer_violations(package: str, forbidden: tuple[str, ...], root: Path = SRC) -> list[str]:
    files = sorted((root / package).rglob("*.py"))
    assert files, f"no modules under {root / package}"
    bad: dict[str, str] = {}  # one report per import statement
    for path in files:
        for lineno, mod in _imported(path, root):
            if any(mod == f or mod.startswith(f + ".") for f in forbidden):
                bad.setdefault(f"{path.relative_to(root.parent)}:{lineno}", mod)
    return [f"{where}: imports {mod}" for where, mod in bad.items()]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_array_layers_do_not_import_anndata_or_upper_layers(package):
    found = _layer_violations(package, FORBIDDEN[package])
    assert not found, "\n".join(found)


def test_acceptance_grep_finds_nothing_in_models():
    # issue 11: `grep -rn "from \.\.pp\|import anndata" src/geneimpute/models` finds nothing
    pattern = re.compile(r"from \.\.pp|import anndata")
    hits = [
        f"{path}:{i}"
        for path in sorted((SRC / "models").rglob("*.py"))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, hits


def test_layer_check_catches_violations(tmp_path):
    # the scan must be able to fail: each kind of forbidden import is reported with its line
    models = tmp_path / "geneimpute" / "models"
    models.mkdir(parents=True)
    (models / "_a.py").write_text("import numpy as np\nfrom anndata import AnnData\n")
    (models / "_b.py").write_text("from ..pp._promoters import one_hot_encode\n")
    (models / "_c.py").write_text("from .. import tl\nfrom .._core import io\n")
    (models / "_d.py").write_text("if True:\n    import anndata as ad\n")
    found = _layer_violations("models", FORBIDDEN["models"], root=tmp_path / "geneimpute")
    assert found == [
        "geneimpute/models/_a.py:2: imports anndata",
        "geneimpute/models/_b.py:1: imports geneimpute.pp._promoters",
        "geneimpute/models/_c.py:1: imports geneimpute.tl",
        "geneimpute/models/_d.py:2: imports anndata",
    ]
