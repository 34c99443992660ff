"""mypy passes on ``src`` with the settings of ``[tool.mypy]`` in pyproject.toml."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (it is in the 'test' extra: pip install -e '.[test]')",
)
def test_mypy_passes_on_src(request, tmp_path):
    # the incremental cache lives in pytest's (git-ignored) cache dir, so reruns take seconds
    cache = getattr(request.config, "cache", None)
    cache_dir = cache.mkdir("mypy") if cache is not None else tmp_path
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache_dir)],
        cwd=ROOT,  # picks up [tool.mypy] (files = src/geneimpute) from pyproject.toml
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "Success" in out.stdout, out.stdout
