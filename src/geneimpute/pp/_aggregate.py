"""Sample level -> tissue level: per-tissue median expression of a samples x genes AnnData."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from anndata import AnnData

from .._dask import column_pass, is_dask
from .._logging import warn_data
from .._utils import dense_rows, expression_source, sample_tissues


def tissue_medians(
    adata: AnnData,
    tissue_key: str = "tissue",
    *,
    layer: str | None = None,
    min_samples: int = 1,
    key_added: str = "tissue_medians",
) -> AnnData:
    """Median expression of every gene in every tissue, ignoring NaN (GTEx's median TPM table).

    Works one tissue at a time, so a 17,382 x 56,200 GTEx v8 sample matrix (dense or sparse)
    never needs a second full copy. A dask-backed ``X`` (opened lazily with
    :func:`~geneimpute.pp.read_lazy`, or any :class:`dask.array.Array`) is read once in blocks
    of whole columns on the active dask scheduler (a ``dask.distributed.Client`` when one
    exists) and never materialised; the medians are identical to the in-memory ones.

    Parameters
    ----------
    adata
        Samples x genes, ``X`` (or ``layer``) in TPM (or any unit: the median keeps it),
        shape ``(n_samples, n_genes)``; NaN = not measured.
    tissue_key
        ``obs`` column with each sample's tissue.
    layer
        Expression layer instead of ``X``.
    min_samples
        Tissues with fewer samples are left out, named in a :class:`~geneimpute.DataWarning`
        and in ``uns[key_added]["params"]["dropped_tissues"]`` of the result.
    key_added
        ``uns`` key of the returned AnnData that holds the parameters.

    Returns
    -------
    A new tissues x genes AnnData (``adata`` is not modified): ``X`` ``(n_tissues, n_genes)``
    float32 median in ``adata``'s unit (NaN where a gene has no measurement in a tissue),
    ``obs_names`` = tissues (in category order), ``obs["n_samples"]``, ``var`` copied from
    ``adata``, and ``uns[key_added] = {"params": {"tissue_key", "layer", "n_samples",
    "min_samples", "dropped_tissues"}}`` (``n_samples``: samples in ``adata``).

    Raises
    ------
    KeyError
        If ``tissue_key`` or ``layer`` is missing.
    ValueError
        If a sample has no tissue label, ``X`` is None, ``min_samples < 1``, or no tissue has
        ``min_samples`` samples.

    Examples
    --------
    >>> tdata = ge.pp.tissue_medians(sdata, "tissue", min_samples=5)  # doctest: +SKIP
    """
    if min_samples < 1:
        msg = f"min_samples must be >= 1, got {min_samples}"
        raise ValueError(msg)
    tissues = sample_tissues(adata, tissue_key)
    X = expression_source(adata, layer)
    counts = pd.Series(tissues).value_counts().reindex(tissues.categories)
    keep = [t for t in tissues.categories if counts[t] >= min_samples]
    dropped = [t for t in tissues.categories if counts[t] < min_samples]
    if not keep:
        msg = (
            f"no tissue has at least min_samples={min_samples} samples (largest: "
            f"{int(counts.max()) if len(counts) else 0})"
        )
        raise ValueError(msg)
    if dropped:
        warn_data(
            f"tissue_medians: {len(dropped)} of {len(counts)} tissues have fewer than "
            f"min_samples={min_samples} samples and are left out: {dropped[:5]}"
            + (" ..." if len(dropped) > 5 else "")
        )
    codes = np.asarray(tissues.codes)
    if is_dask(X):
        group = np.full(len(tissues.categories), -1)
        group[[tissues.categories.get_loc(t) for t in keep]] = np.arange(len(keep))
        out = column_pass(X, group[codes], len(keep))[0]
    else:
        out = _medians_in_memory(X, codes, [tissues.categories.get_loc(t) for t in keep])
    tdata = AnnData(
        X=out,
        obs=pd.DataFrame({"n_samples": counts[keep].to_numpy()}, index=pd.Index(keep)),
        var=adata.var.copy(),
    )
    tdata.uns[key_added] = {
        "params": {
            "tissue_key": tissue_key,
            "layer": layer,
            "n_samples": int(adata.n_obs),
            "min_samples": int(min_samples),
            "dropped_tissues": [str(t) for t in dropped],
        }
    }
    return tdata


def _medians_in_memory(X, codes: np.ndarray, groups: list[int]) -> np.ndarray:
    """``(len(groups), n_vars)`` float32 NaN-ignoring medians of the rows of each group."""
    out = np.empty((len(groups), X.shape[1]), dtype=np.float32)
    for i, g in enumerate(groups):
        rows = np.flatnonzero(codes == g)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN genes -> NaN
            out[i] = np.nanmedian(dense_rows(X, rows), axis=0)
    return out
