"""Integrated Gradients of the promoter CNN (tl.attribute_promoters) and its optional extra."""

import sys

import numpy as np
import pytest

import geneimpute as ge

from ..conftest import FAST, hold_out


@pytest.fixture(scope="module")
def trained():
    adata, _, held = hold_out(40)
    model = ge.tl.train(adata, **FAST)
    return adata, model, held


def test_attributions_cover_exactly_the_genes_with_sequence(trained):
    adata, model, held = trained
    adata = adata.copy()
    ge.tl.attribute_promoters(adata, model, held, jaspar_release=None, n_steps=8)
    attr = adata.varm["promoter_attribution"]
    assert attr.shape == (adata.n_vars, 300) and attr.dtype == np.float32
    has = np.isfinite(attr).any(axis=1)
    assert not has[~held].any()
    with_seq = held & (adata.var["promoter_seq_tss_index"].to_numpy() >= 0)
    assert np.array_equal(has, with_seq)
    # positions outside a 60 bp promoter (TSS at 249 of the window) have no attribution
    short = np.flatnonzero(with_seq & (adata.var["promoter_seq"].str.len() == 60).to_numpy())
    if len(short):
        assert np.isnan(attr[short[0], :150]).all()
    params = adata.uns["promoter_attribution"]["params"]
    assert params["n_genes"] == int(with_seq.sum()) and params["tss_index"] == 249
    top = adata.uns["promoter_attribution"]["top_kmers"]
    assert list(top.columns[:3]) == ["kmer", "n_genes", "mean_attribution"]
    assert (top["kmer"].str.len() == 8).all()


def test_model_without_cnn_is_refused(trained):
    adata, _, held = trained
    model = ge.tl.train(adata, features=["neighbors"], **FAST)
    with pytest.raises(ValueError, match="no promoter CNN"):
        ge.tl.attribute_promoters(adata, model, held, jaspar_release=None)
    assert "promoter_attribution" not in adata.varm


def test_missing_interpret_extra_names_it(trained, monkeypatch):
    adata, model, held = trained
    for name in ("captum", "captum.attr"):  # None in sys.modules makes the import fail
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'geneimpute\[interpret\]'"):
        ge.tl.attribute_promoters(adata, model, held, jaspar_release=None)
