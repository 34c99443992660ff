"""Docstring fragments shared by public functions, filled in by :func:`doc_params` (as scanpy's).

A docstring line holding nothing but ``{name}`` gets fragment ``name`` at its indentation (lines
indented further below it continue the description), so ``help()`` and sphinx show complete
numpy docstrings. Fragments are written below, unindented, each after a line ``@name``.
"""

from __future__ import annotations

import re
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
@adata_tissues
adata
    ``(n_tissues, n_genes)``: ``obs`` tissues, ``var`` genes with ``chrom``, ``start``,
    ``end``, ``strand`` (``tss`` optional), ``X`` (or ``layer``) TPM, NaN where not measured.
@reference
reference
    Boolean mask or ``var`` column of reference genes (training targets and neighbours);
    default: every gene measured in at least half of the tissues (others: left out, warned).
    Training leaves their NaN cells out (network loss, XGBoost rows, calibration, neighbour
    inputs), so no gene needs to be complete; each tissue needs 20 measured ones.
@features
features
    Inputs: ``"promoter"`` (CNN + promoter composition), ``"neighbors"`` (transformer +
    distance-based profile), ``"structure"`` (transcript structure columns of ``var``).
    ``["promoter"]`` (+ ``"structure"``): a sequence-only, Xpresso-style model for genes
    without neighbours. Without ``var[promoter_key]``, ``"promoter"`` is dropped (warned).
@promoter_key
promoter_key
    ``var`` column with promoter sequences (:func:`~geneimpute.pp.extract_promoters`'s
    ``key_added``); ``var[promoter_key + "_tss_index"]`` gives the TSS position.
@promoter_key_model
promoter_key
    ``var`` column with promoters; None: the model's (``"promoter_seq"`` when training).
@neighbors_key
neighbors_key
    ``uns`` key of :func:`~geneimpute.pp.neighbor_features` output, read when present (its
    neighbours must be reference genes); None or an absent key searches the reference genes.
@tissue_correlation_key
tissue_correlation_key
    ``uns`` key of :func:`~geneimpute.pp.tissue_correlation` output (or a user DataFrame)
    to train with: read when present, else computed from the reference genes and written
    there by the imputers; None computes it and writes nothing. A fitted model uses its own.
@client
client
    A ``dask.distributed.Client``: a hybrid trained here fits its XGBoost stage (final
    regressor, cross-fitted calibration models) with ``xgboost.dask`` over the cluster's
    workers and keeps an ordinary ``xgboost.XGBRegressor``; torch trains in this process
    (docs: "Scaling out"). Distributed histograms partition the rows differently, so the
    model is close to, not bit-identical with, one trained without a client.
@model_hybrid
model
    A fitted :class:`~geneimpute.models.HybridImputer`, a directory written by
    :meth:`~geneimpute.models.HybridImputer.save`, a pretrained model's name
    (:func:`~geneimpute.models.list_pretrained`), or None to train one first.
@is_log1p_model
is_log1p
    Whether the values are log1p(TPM) (the output is then log1p(TPM) too); None: the
    model's training units, or TPM when training here.
@overwrite
overwrite
    Replace every value of the target genes (e.g. unreliable low-read genes), not only NaN.
@key_added
key_added
    Layer name for the result (and ``uns`` key of its parameters). The default never
    replaces an earlier result under its name (an error); naming the key replaces it.
@interval
interval
    Confidence of the prediction interval written for every imputed value (0.9: 90%); None
    writes none. Mondrian normalised split conformal (:class:`~geneimpute.models.TissueConformal`)
    with genes as the exchangeable unit, calibrated per tissue on out-of-sample residuals
    of reference genes scaled by a per-(gene, tissue) difficulty: coverage holds on
    average over genes exchangeable with the reference genes.
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
@show_save
show
    Show the figure (``plt.show()``). None: show when matplotlib is interactive
    (Jupyter, IPython).
save
    Path (with extension) to save the figure to, at 150 dpi; relative paths are relative
    to the working directory.
@map_location
map_location
    Device the torch weights are loaded onto (``"cpu"``, ``"cuda"``).
@model_save
Parameters
----------
path
    Directory to write (its parent must exist).
overwrite
    Replace an existing model directory ``path`` (anything else there is refused).

Raises
------
FileExistsError
    If ``path`` exists and ``overwrite`` is False, or is not a model directory.
FileNotFoundError
    If the parent directory of ``path`` does not exist.
RuntimeError
    If the model is not fitted (nothing is written).
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
#: ``ax``, ``show``, ``save`` and the Returns section of a plot that draws into an Axes.
_SHOW_AX = DOC_PARAMS["show_save"].replace("IPython).", "IPython) and no ``ax`` was passed.")
DOC_PARAMS["plot_axes"] = (
    f"ax\n    Axes to draw on (default: a new figure).\n{_SHOW_AX}\n\n"
    "Returns\n-------\nThe Axes, or None when shown."
)
#: Parameters (``path``; ``map_location`` in ``model_load_device``) and Raises of a ``load``.
_LOAD = "Parameters\n----------\npath\n    Directory written by ``save``."
DOC_PARAMS["model_load"] = "\n".join([_LOAD, "", DOC_PARAMS["model_load_raises"]])
DOC_PARAMS["model_load_device"] = "\n".join(
    [_LOAD, DOC_PARAMS["map_location"], "", DOC_PARAMS["model_load_raises"]]
)

_F = TypeVar("_F", bound=Callable[..., Any])
_MARK = re.compile(r"(\s*)\{(\w+)\}\s*")


def doc_params(*names: str) -> Callable[[_F], _F]:
    """Fill each line ``{name}`` of the decorated function's docstring with ``DOC_PARAMS[name]``.

    Without ``names``, every such line is filled; ``ValueError`` if one is missing or unknown.
    """

    def decorate(func: _F) -> _F:
        lines = (func.__doc__ or "").split("\n")
        marks = {i: m.groups() for i, line in enumerate(lines) if (m := _MARK.fullmatch(line))}
        found = {name for _, name in marks.values()}
        wanted = set(names) if names else found
        bad = sorted(wanted - found if names else found - DOC_PARAMS.keys())
        if bad or not wanted:
            msg = f"{func.__qualname__}'s docstring: no line {{name}} of a fragment for {bad}"
            raise ValueError(msg)
        for i, (indent, name) in marks.items():
            if name in wanted:
                text = DOC_PARAMS[name].split("\n")
                lines[i] = "\n".join(indent + t if t else t for t in text)
        func.__doc__ = "\n".join(lines)
        return func

    return decorate
