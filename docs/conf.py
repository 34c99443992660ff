"""Sphinx configuration of the geneimpute documentation."""

import shutil
from pathlib import Path

import geneimpute

project = "geneimpute"
author = "geneimpute developers"
version = release = geneimpute.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]
autosummary_generate = True
autodoc_typehints = "none"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
nb_execution_mode = "off"  # tutorials are executed by the test suite (nbmake)
myst_enable_extensions = ["colon_fence"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "alabaster"
suppress_warnings = ["mystnb.unknown_mime_type"]

# the tutorials live in ../tutorials; copy them in so the docs render them
_here = Path(__file__).parent
(_here / "tutorials").mkdir(exist_ok=True)
for nb in sorted((_here.parent / "tutorials").glob("*.ipynb")):
    shutil.copy(nb, _here / "tutorials" / nb.name)
