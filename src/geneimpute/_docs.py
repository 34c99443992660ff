"""Docstring text shared by public functions, filled in by :func:`doc_params` (as scanpy's).

Write ``{name}`` in a docstring where fragment ``name`` belongs, e.g. a line ``{copy}`` in place
of the ``copy`` parameter entry, and decorate the function with ``@doc_params("copy")``. A
multi-line fragment gets the indentation of the line its placeholder stands on, so ``help()``
and sphinx show complete numpy docstrings. Replacement is plain text (not :meth:`str.format`),
so other braces stay. Fragments are written below, unindented, each after a line ``@name``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

_FRAGMENTS = """\
@copy
copy
    Return a modified copy instead of writing in place.
@layer
layer
    Expression layer instead of ``X``.
@is_log1p
is_log1p
    Set if the values are log1p(TPM) already.
@random_state
random_state
    Seed for numpy, torch and xgboost.
@accelerator
accelerator
    ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
    follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
@layer_is_log1p
is_log1p
    Units of ``layers[key]`` when ``uns[key]["params"]`` does not record them (the ``tl``
    imputers record ``is_log1p``): True for log1p(TPM), False or None for TPM. When the
    units are recorded, None uses them and a contradicting value raises.
@truth_is_log1p
truth_is_log1p
    Set if ``truth.X`` is already log1p(TPM) (default: TPM).
@truth
truth
    The held-out values: an AnnData with ``adata``'s obs and var names (any order, more
    allowed), TPM in ``X`` (log1p(TPM) with ``truth_is_log1p``).
@ax
ax
    Axes to draw on (default: a new figure).
@show_save
show
    Show the figure (``plt.show()``). None: show when matplotlib is interactive
    (Jupyter, IPython).
save
    Path (with extension) to save the figure to, at 150 dpi; relative paths are relative
    to the working directory.
@returns_axes
Returns
-------
The Axes, or None when shown.
@map_location
map_location
    Device the torch weights are loaded onto (``"cpu"``, ``"cuda"``).
@model_save
path
    Directory to write (its parent must exist).
overwrite
    Replace an existing ``path``.

Raises
------
FileExistsError
    If ``path`` exists and ``overwrite`` is False.
FileNotFoundError
    If the parent directory of ``path`` does not exist.
RuntimeError
    If the model is not fitted (nothing is written).
@model_load
path
    Directory written by ``save``.
@model_load_raises
Raises
------
FileNotFoundError
    If ``path`` is not a directory with a ``config.json``.
DamagedModelError
    (a ``ValueError``) If the directory is damaged or edited, naming what is wrong, or of
    another model schema (one line naming its version and how to retrain).
"""

#: Fragment name -> text (usually a parameter entry: its name line, the indented description).
DOC_PARAMS: dict[str, str] = dict(
    part.rstrip("\n").split("\n", 1) for part in ("\n" + _FRAGMENTS).split("\n@")[1:]
)
DOC_PARAMS["show_save_ax"] = DOC_PARAMS["show_save"].replace(
    "(Jupyter, IPython).", "(Jupyter, IPython) and no ``ax`` was passed."
)
#: ``ax``, ``show``, ``save`` and the Returns section of a plot that draws into an Axes.
DOC_PARAMS["plot_axes"] = "\n".join(
    [DOC_PARAMS["ax"], DOC_PARAMS["show_save_ax"], "", DOC_PARAMS["returns_axes"]]
)

_F = TypeVar("_F", bound=Callable[..., Any])


def doc_params(*names: str) -> Callable[[_F], _F]:
    """Fill each ``{name}`` in the decorated function's docstring with ``DOC_PARAMS[name]``.

    Raises
    ------
    ValueError
        If the docstring has no ``{name}`` for one of ``names``.
    """

    def decorate(func: _F) -> _F:
        lines = (func.__doc__ or "").split("\n")
        for name in names:
            mark = "{" + name + "}"
            if not any(mark in line for line in lines):
                msg = f"{func.__qualname__}'s docstring has no {mark}"
                raise ValueError(msg)
            for i, line in enumerate(lines):
                if mark in line:
                    indent = line[: len(line) - len(line.lstrip())]
                    text = "\n".join(indent + t if t else t for t in DOC_PARAMS[name].split("\n"))
                    lines[i] = line.replace(mark, text.removeprefix(indent))
        func.__doc__ = "\n".join(lines)
        return func

    return decorate
