"""The Sphinx docs build without warnings and list every public function."""

import importlib.util
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


def test_benchmarks_page_and_readme_results_are_rendered_from_the_results_files():
    script = DOCS.parent / "benchmarks" / "report.py"
    spec = importlib.util.spec_from_file_location("benchmarks_report", script)
    assert spec is not None and spec.loader is not None
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    for path, text in report.render().items():
        assert path.read_text() == text, f"{path.name} is stale: run python benchmarks/report.py"


def test_readme_is_short_and_keeps_its_two_commands():
    readme = (DOCS.parent / "README.md").read_text()
    assert len(readme.splitlines()) <= 120
    assert "pip install -e . && geneimpute demo --json demo_metrics.json" in readme
    assert 'pip install -e ".[test]" && python -m pytest' in readme  # what .ci/run runs
    assert "doi:[10.1038/s42003-026-10251-7]" in readme
