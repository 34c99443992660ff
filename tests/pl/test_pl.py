"""ge.pl draws what pp/tl wrote, in the units they recorded, and computes nothing of its own.

Imputed layers come from ``ge.tl.impute_neighbors`` (fast); no model is trained here.
"""

import subprocess
import sys

import matplotlib
import matplotlib.figure

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import geneimpute as ge  # noqa: E402
from geneimpute._logging import DataWarning  # noqa: E402

from ..conftest import hold_out  # noqa: E402

KEY = "imputed_distance"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def imputed():
    """Held-out chr21/22 genes imputed by neighbours, once from TPM and once from log1p(TPM).

    Returns ``(tpm, log1p, truth, held)``: ``tpm.layers[KEY]`` holds TPM, ``log1p.layers[KEY]``
    log1p(TPM), each with the units recorded in ``uns[KEY]["params"]``.
    """
    tpm, truth, held = hold_out(40)
    ge.pp.neighbor_features(tpm)
    lg = tpm.copy()
    lg.X = np.log1p(lg.X)
    ge.tl.impute_neighbors(tpm)
    ge.tl.impute_neighbors(lg, is_log1p=True)
    assert tpm.uns[KEY]["params"]["units"] == "TPM"
    assert lg.uns[KEY]["params"]["units"] == "log1p_TPM"
    return tpm, lg, truth, held


def _saved(path):
    assert path.exists() and path.stat().st_size > 5000


def test_import_does_not_load_pyplot():
    code = "import sys, geneimpute, geneimpute.pl; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- units: log1p layers are drawn as they are, TPM layers log-transformed once ---------------


def _bar_heights(ax):
    return np.array([p.get_height() for p in ax.patches])


def test_gene_profile_draws_log1p_once(imputed, tmp_path):
    tpm, lg, truth, held = imputed
    j = int(np.flatnonzero(held)[0])
    gene = tpm.var_names[j]
    expected = np.sort(np.log1p(tpm.layers[KEY][:, j]))[::-1]
    # log1p input: bars are the layer's values (not log1p twice)
    ax = ge.pl.gene_profile(lg, gene, key=KEY, save=tmp_path / "g.png")
    np.testing.assert_allclose(_bar_heights(ax), np.sort(lg.layers[KEY][:, j])[::-1], rtol=1e-6)
    np.testing.assert_allclose(_bar_heights(ax), expected, rtol=1e-5)
    _saved(tmp_path / "g.png")
    # TPM input: log-transformed once, same bars
    ax = ge.pl.gene_profile(tpm, gene, key=KEY)
    np.testing.assert_allclose(_bar_heights(ax), expected, rtol=1e-6)
    assert ax.get_ylabel() == "log1p(TPM)" and gene in ax.get_title()
    # a held-out gene is imputed in every tissue: all bars orange
    assert {matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches} == {
        matplotlib.colors.to_hex("tab:orange")
    }


def test_gene_profile_truth_units(imputed):
    tpm, _, truth, held = imputed
    j = int(np.flatnonzero(held)[1])
    order = np.argsort(-np.log1p(tpm.layers[KEY][:, j]), kind="stable")
    want = np.log1p(truth.X[order, j])
    ax = ge.pl.gene_profile(tpm, tpm.var_names[j], truth=truth, key=KEY)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), want, rtol=1e-6)
    log_truth = truth.copy()
    log_truth.X = np.log1p(log_truth.X)
    ax = ge.pl.gene_profile(tpm, tpm.var_names[j], truth=log_truth, truth_is_log1p=True, key=KEY)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), want, rtol=1e-6)


def test_layer_units_without_params(imputed):
    _, lg, _, held = imputed
    j = int(np.flatnonzero(held)[0])
    user = lg.copy()
    user.layers["mine"] = user.layers[KEY].copy()  # log1p values, nobody recorded units
    want = np.sort(user.layers["mine"][:, j])[::-1]
    ax = ge.pl.gene_profile(user, user.var_names[j], key="mine", is_log1p=True)
    np.testing.assert_allclose(_bar_heights(ax), want, rtol=1e-6)
    # default: TPM assumed, and values that look log1p are flagged
    with pytest.warns(DataWarning, match="looks like log1p"):
        ax = ge.pl.gene_profile(user, user.var_names[j], key="mine")
    np.testing.assert_allclose(_bar_heights(ax), np.log1p(want), rtol=1e-6)


def test_is_log1p_contradicting_params_raises(imputed):
    tpm, lg, _, held = imputed
    gene = tpm.var_names[held][0]
    with pytest.raises(
        ValueError, match=r"is_log1p=True contradicts adata.uns\['imputed_distance'"
    ):
        ge.pl.gene_profile(tpm, gene, key=KEY, is_log1p=True)
    with pytest.raises(ValueError, match="holds log1p"):
        ge.pl.gene_profile(lg, gene, key=KEY, is_log1p=False)
    with pytest.raises(KeyError, match="neither a var_name"):
        ge.pl.gene_profile(tpm, "NOT_A_GENE", key=KEY)
    with pytest.raises(KeyError, match="adata.layers has no 'imputed'"):
        ge.pl.gene_profile(tpm, gene)


def test_imputed_vs_observed(imputed, tmp_path):
    tpm, lg, truth, held = imputed
    i = tpm.obs_names.get_loc("liver")
    x = np.log1p(truth.X[i, held])
    y = np.log1p(tpm.layers[KEY][i, held])
    r = np.corrcoef(x, y)[0, 1]
    for adata in (tpm, lg):
        ax = ge.pl.imputed_vs_observed(adata, truth, "liver", key=KEY, save=tmp_path / "s.png")
        xy = ax.collections[0].get_offsets()
        np.testing.assert_allclose(np.sort(xy[:, 0]), np.sort(x), rtol=1e-6)
        np.testing.assert_allclose(np.sort(xy[:, 1]), np.sort(y), rtol=1e-5)
        assert ax.get_xlabel() == "observed log1p(TPM)"
        assert f"n=40, r={r:.2f}" in ax.get_title()
    _saved(tmp_path / "s.png")
    with pytest.raises(KeyError, match="tissue 'brain' not in"):
        ge.pl.imputed_vs_observed(tpm, truth, "brain", key=KEY)
    with pytest.raises(KeyError, match="truth lacks 1 of adata's var_names"):
        ge.pl.imputed_vs_observed(tpm, truth[:, 1:].copy(), "liver", key=KEY)


def test_show_and_axes_conventions(imputed, monkeypatch):
    tpm, _, truth, _ = imputed
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(1))
    corr = _with_correlation(tpm)
    # not interactive (Agg, scripts): show=None returns the Figure without showing
    assert isinstance(ge.pl.tissue_correlation(corr), matplotlib.figure.Figure) and not shown
    # show=True shows and returns None (scanpy's convention)
    assert ge.pl.tissue_correlation(corr, show=True) is None and len(shown) == 1
    # interactive (Jupyter): show=None shows a plot's own figure ...
    monkeypatch.setattr(plt, "isinteractive", lambda: True)
    assert ge.pl.imputed_vs_observed(tpm, truth, "liver", key=KEY) is None and len(shown) == 2
    # ... but not a caller's panel, which is returned to be filled further
    fig, axes = plt.subplots(1, 2)
    out = ge.pl.imputed_vs_observed(tpm, truth, "liver", key=KEY, ax=axes[1])
    assert out is axes[1] and len(shown) == 2
    assert len(axes[1].collections) == 1 and not axes[0].collections


def test_tissue_accuracy(imputed, tmp_path):
    tpm, lg, truth, held = imputed
    scores = pd.DataFrame(
        {
            "from TPM": ge.tl.evaluate(tpm, truth, held, key=KEY, per_tissue=True),
            "from log1p": ge.tl.evaluate(
                lg, np.log1p(truth.X), held, key=KEY, per_tissue=True, is_log1p=True
            ),
        }
    )
    ax = ge.pl.tissue_accuracy(scores, save=tmp_path / "a.png")
    assert len(ax.patches) == 2 * 37
    widths = np.array([p.get_width() for p in ax.patches[:37]])
    np.testing.assert_allclose(widths, np.sort(scores["from TPM"].to_numpy()), rtol=1e-12)
    _saved(tmp_path / "a.png")
    with pytest.raises(ValueError, match="at least one tissue"):
        ge.pl.tissue_accuracy(pd.DataFrame())


# --- tissue correlation: pp output or a user's DataFrame ---------------------------------------


def _with_correlation(adata):
    adata = adata.copy()
    ge.pp.tissue_correlation(adata)
    return adata


def test_tissue_correlation_reads_both_forms(imputed, tmp_path):
    adata = _with_correlation(imputed[0])
    C = adata.uns["tissue_correlation"]["correlation"]
    adata.uns["mine"] = C.copy()  # a user's plain DataFrame
    for key in ("tissue_correlation", "mine"):
        fig = ge.pl.tissue_correlation(adata, key=key, save=tmp_path / f"{key}.png")
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert sorted(labels) == sorted(adata.obs_names)
        np.testing.assert_allclose(ax.images[0].get_array(), C.loc[labels, labels].to_numpy())
        _saved(tmp_path / f"{key}.png")
    with pytest.raises(KeyError, match=r"run ge.pp.tissue_correlation\(adata\) first"):
        ge.pl.tissue_correlation(imputed[0], key="absent")
    adata.uns["bad"] = C.iloc[:, :-1]
    with pytest.raises(ValueError, match="square"):
        ge.pl.tissue_correlation(adata, key="bad")


# --- distance_similarity reads the neighbours pp stored -----------------------------------------


def test_distance_similarity_needs_neighbor_features(small):
    with pytest.raises(KeyError, match=r"run ge.pp.neighbor_features\(adata\) first"):
        ge.pl.distance_similarity(small)


def test_distance_similarity_reads_stored_neighbors(small, monkeypatch, tmp_path):
    import geneimpute._core.neighbors as core

    ge.pp.neighbor_features(small, k=10)

    def no_search(*args, **kwargs):
        raise AssertionError("pl.distance_similarity ran a neighbour search")

    monkeypatch.setattr(core, "find_genomic_neighbors", no_search)
    monkeypatch.setattr(core, "_search", no_search)
    ax = ge.pl.distance_similarity(small, save=tmp_path / "d.png")
    assert ax.get_xscale() == "log" and "kb" in ax.get_xlabel()
    _saved(tmp_path / "d.png")

    # first bin (0-10 kb): median r of the stored neighbour pairs, computed independently
    monkeypatch.undo()
    long = ge.pp.neighbor_features(small, k=10, inplace=False)
    near = long[long["distance_bp"] < 10_000]
    pairs = {tuple(sorted(p)) for p in zip(near["gene"], near["neighbor"], strict=True)}
    Y = pd.DataFrame(np.log1p(small.X.astype(np.float64)), columns=small.var_names)
    with np.errstate(invalid="ignore", divide="ignore"):  # constant profiles: r is NaN
        r = [np.corrcoef(Y[a], Y[b])[0, 1] for a, b in pairs]
    assert len(r) >= 5
    np.testing.assert_allclose(ax.lines[0].get_ydata()[0], np.nanmedian(r), rtol=1e-10)

    # the same plot from log1p input with is_log1p=True
    lg = small.copy()
    lg.X = np.log1p(lg.X)
    ax2 = ge.pl.distance_similarity(lg, is_log1p=True)
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), ax.lines[0].get_ydata(), rtol=1e-6)
    with pytest.warns(DataWarning, match="looks like log1p"):
        ge.pl.distance_similarity(lg)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 10\]"):
        ge.pl.distance_similarity(small, k=11)


def test_distance_similarity_neighbors_key(small):
    ge.pp.neighbor_features(small, k=5, key_added="nb5")
    ax = ge.pl.distance_similarity(small, neighbors_key="nb5", bins_kb=(0, 50, 1000))
    assert len(ax.lines[0].get_xdata()) == 2
    with pytest.raises(KeyError, match="key_added='genomic_neighbors'"):
        ge.pl.distance_similarity(small)
    with pytest.raises(ValueError, match="increasing"):
        ge.pl.distance_similarity(small, neighbors_key="nb5", bins_kb=(10, 0))


# --- promoter attribution: the stored track, with the promoter's bases ------------------------


def test_promoter_attribution(small, tmp_path):
    tss = small.var["promoter_seq_tss_index"].to_numpy()
    j = int(np.flatnonzero(tss == 249)[0])  # a 300 bp EPDnew promoter, TSS at index 249
    gene = small.var_names[j]
    attr = np.full((small.n_vars, 300), np.nan, dtype=np.float32)
    attr[j] = np.sin(np.arange(300) / 7.0)  # a track with both signs
    small.varm["promoter_attribution"] = attr
    bare = small.copy()
    del bare.varm["promoter_attribution"]
    with pytest.raises(KeyError, match="adata.varm has no 'promoter_attribution'"):
        ge.pl.promoter_attribution(bare, gene)
    fig = ge.pl.promoter_attribution(small, gene, zoom=(-10, 5), save=tmp_path / "p.png")
    track, zoom = fig.axes
    np.testing.assert_allclose([p.get_height() for p in track.patches[:300]], attr[j], rtol=1e-6)
    assert [p.get_x() + p.get_width() / 2 for p in track.patches][249] == 0  # TSS at 0
    seq = small.var["promoter_seq"].iloc[j]
    assert "".join(t.get_text() for t in zoom.texts) == seq[249 - 10 : 249 + 5]
    _saved(tmp_path / "p.png")
    assert len(ge.pl.promoter_attribution(small, gene, zoom=None).axes) == 1
    with pytest.raises(ValueError, match="has no attribution"):
        ge.pl.promoter_attribution(small, small.var_names[j + 1])
    with pytest.raises(KeyError, match="adata.var has no 'other_seq'"):
        ge.pl.promoter_attribution(small, gene, promoter_key="other_seq")


def test_calibration_bars_are_the_per_tissue_coverage(imputed, tmp_path):
    tpm, lg, truth, held = imputed
    ax = ge.pl.calibration(tpm, truth, key=KEY, save=tmp_path / "cal.png")
    lo, hi = tpm.layers[f"{KEY}_lower"][:, held], tpm.layers[f"{KEY}_upper"][:, held]
    tv = truth.X[:, held]
    per = ((tv >= lo * (1 - 1e-6)) & (tv <= hi * (1 + 1e-6))).mean(axis=1)
    widths = sorted(p.get_width() for p in ax.patches)
    np.testing.assert_allclose(widths, np.sort(per), atol=1e-6)
    assert "90%" in ax.get_title()
    _saved(tmp_path / "cal.png")
    # log1p layers give the same picture
    ax2 = ge.pl.calibration(lg, truth, key=KEY)
    np.testing.assert_allclose(sorted(p.get_width() for p in ax2.patches), widths, atol=1e-6)
    with pytest.raises(KeyError, match="interval=0.9"):
        ge.pl.calibration(truth, truth, key=KEY)


def test_gene_profile_draws_the_interval(imputed):
    tpm, _, truth, held = imputed
    gene = tpm.var_names[held][0]
    ax = ge.pl.gene_profile(tpm, gene, key=KEY)
    bars = ax.containers[-1]  # the error bars, one per imputed tissue
    (segments,) = bars.lines[2]
    ys = np.array([np.sort(seg[:, 1]) for seg in segments.get_segments()])  # (tissues, 2)
    j = tpm.var_names.get_loc(gene)
    lo = np.log1p(tpm.layers[f"{KEY}_lower"][:, j])
    hi = np.log1p(tpm.layers[f"{KEY}_upper"][:, j])
    np.testing.assert_allclose(np.sort(ys[:, 0]), np.sort(lo), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.sort(ys[:, 1]), np.sort(hi), rtol=1e-5, atol=1e-6)
    assert any("interval" in t.get_text() for t in ax.get_legend().get_texts())
