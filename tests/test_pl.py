"""Every ge.pl function renders to a file (and returns its Axes / Figure)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import geneimpute as ge  # noqa: E402

from .conftest import FAST, hold_out  # noqa: E402


@pytest.fixture(scope="module")
def result():
    adata, truth, held = hold_out(40)
    model = ge.tl.train(adata, **FAST)
    ge.tl.impute_expression(adata, model)
    ge.tl.impute_neighbors(adata)
    ge.tl.attribute_promoters(adata, model, held, jaspar_release=None, n_steps=8)
    return adata, truth, held


def _rendered(path):
    assert path.exists() and path.stat().st_size > 5000
    plt.close("all")


def test_imputed_vs_observed(result, tmp_path):
    adata, truth, _ = result
    ax = ge.pl.imputed_vs_observed(adata, truth, "liver", save=tmp_path / "s.png")
    assert ax.get_xlabel() == "observed log1p(TPM)" and "n=40" in ax.get_title()
    _rendered(tmp_path / "s.png")
    with pytest.raises(KeyError, match="tissue 'brain' not in"):
        ge.pl.imputed_vs_observed(adata, truth, "brain")


def test_tissue_accuracy(result, tmp_path):
    adata, truth, held = result
    scores = pd.DataFrame(
        {
            "hybrid": ge.tl.evaluate(adata, truth, held, per_tissue=True),
            "distance": ge.tl.evaluate(adata, truth, held, key="imputed_distance", per_tissue=True),
        }
    )
    ax = ge.pl.tissue_accuracy(scores, save=tmp_path / "a.png")
    assert len(ax.patches) == 2 * 37
    _rendered(tmp_path / "a.png")


def test_tissue_correlation_heatmap(result, tmp_path):
    fig = ge.pl.tissue_correlation(result[0], save=tmp_path / "c.png")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert sorted(labels) == sorted(result[0].obs_names)
    _rendered(tmp_path / "c.png")


def test_gene_profile(result, tmp_path):
    adata, truth, held = result
    gene = adata.var_names[held][0]
    ax = ge.pl.gene_profile(adata, gene, truth=truth, save=tmp_path / "g.png")
    assert ax.get_ylabel() == "log1p(TPM)" and gene in ax.get_title()
    _rendered(tmp_path / "g.png")
    with pytest.raises(KeyError, match="neither a var_name"):
        ge.pl.gene_profile(adata, "NOT_A_GENE")


def test_distance_similarity(result, tmp_path):
    ax = ge.pl.distance_similarity(result[1], save=tmp_path / "d.png")
    assert ax.get_xscale() == "log" and "kb" in ax.get_xlabel()
    _rendered(tmp_path / "d.png")


def test_promoter_attribution(result, tmp_path):
    adata, _, held = result
    attr = adata.varm["promoter_attribution"]
    assert attr.shape == (adata.n_vars, 300)
    has = np.isfinite(attr).any(axis=1)
    assert not has[~held].any()  # only the requested genes are explained
    gene = adata.var_names[has][0]
    fig = ge.pl.promoter_attribution(adata, gene, save=tmp_path / "p.png")
    assert len(fig.axes) == 2
    _rendered(tmp_path / "p.png")
