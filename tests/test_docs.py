"""The Sphinx docs build without warnings and list every public function."""

import subprocess
import sys
from pathlib import Path

import pytest

import geneimpute as ge

DOCS = Path(__file__).parents[1] / "docs"


def test_api_page_lists_every_public_function():
    api = (DOCS / "api.md").read_text()
    for mod in (ge.pp, ge.tl, ge.pl, ge.datasets):
        short = mod.__name__.split(".")[-1]
        for name in mod.__all__:
            assert f"{short}.{name}" in api, f"docs/api.md does not list {short}.{name}"


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("myst_nb")
    out = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "tutorials" / "01_impute_gtex.html").exists()
    assert (tmp_path / "generated" / "geneimpute.tl.impute_expression.html").exists()
