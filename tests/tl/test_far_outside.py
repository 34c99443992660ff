"""A shipped model applied far outside its training says so (no training here)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import geneimpute as ge

MODEL = "gtex_v8_37tissues"


def _messages(record):
    return [str(w.message) for w in record if issubclass(w.category, ge.DataWarning)]


def test_contiguous_block_and_genes_out_of_range(small):
    """The README's ``X[:, :500]`` case, on chr21: a block, genes with no neighbour in range."""
    chr21 = np.flatnonzero(small.var["chrom"].to_numpy() == "chr21")
    block = chr21[np.argsort(small.var["tss"].to_numpy()[chr21])][:100]
    small.X[:, block] = np.nan
    with pytest.warns(ge.DataWarning) as rec:
        ge.tl.impute_expression(small, model=MODEL)
    messages = _messages(rec)
    assert any("100 consecutive genes on chr21" in m and "hardest case" in m for m in messages)
    far = [m for m in messages if "beyond the model's training range" in m]
    assert len(far) == 1 and "reliability is NaN" in far[0]
    n_far = int(far[0].split(" of ")[0])
    rel = small.var["imputed_reliability"].to_numpy()[block]
    assert 0 < n_far < 100 and np.isnan(rel).sum() == n_far
    assert np.isfinite(small.layers["imputed"][:, block]).all()  # values are still written


def test_too_few_reference_genes(small):
    """One measured gene in 20 (31 of 618): reference genes sparser than in training, warned.

    Fewer than 20 reference genes are an error already (the task needs 20).
    """
    hidden = np.ones(small.n_vars, bool)
    hidden[::20] = False
    small.X[:, hidden] = np.nan
    with pytest.warns(ge.DataWarning) as rec:
        ge.tl.impute_expression(small, model=MODEL)
    hit = [m for m in _messages(rec) if "few reference genes nearby" in m]
    assert len(hit) == 1 and "among 31 reference genes (the model uses 20 per gene)" in hit[0]


def test_scattered_genes_are_not_flagged(small_missing):
    """30 seeded genes of chr21/22 (a chromosome subset keeps training's density): no warning."""
    adata, _, held = small_missing
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ge.tl.impute_expression(adata, model=MODEL)
    flagged = ("few reference genes nearby", "training range", "consecutive genes")
    assert not [m for m in _messages(rec) if any(f in m for f in flagged)]
    assert np.isfinite(adata.var["imputed_reliability"].to_numpy()[held]).all()
