"""Issue 32: errors and warnings that name their fix (tissues, CLI flags, regulators, docs)."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest

import geneimpute as ge
from geneimpute.cli import main

from ..conftest import assert_unchanged, hold_out

matplotlib.use("Agg")

#: tiny regulator settings: trains in a few seconds on 2 CPU cores
TINY = {"max_epochs": 3, "autoencoder_epochs": 2, "patience": 2}
PRETRAINED = "gtex_v8_37tissues"


@pytest.fixture(scope="module")
def held():
    """chr21/22 genes of the bundled GTEx table with 30 genes held out: ``(adata, held)``."""
    adata, _, held = hold_out(30)
    return adata, held


def test_missing_tissue_error_names_estimate(held):
    adata, _ = held
    no_retina = adata[adata.obs_names != "retina"].copy()
    before = no_retina.copy()
    remedy = r"missing_tissues='estimate' \(command line: --estimate-missing-tissues\)"
    with pytest.raises(ValueError, match=rf"lacks 1 of the model's 37 tissues.*{remedy}"):
        ge.tl.impute_expression(no_retina, PRETRAINED)
    assert_unchanged(no_retina, before)


def test_title_case_tissues_match_as_merge_gtex_tissues(held):
    adata, _ = held
    exact, titled = adata.copy(), adata.copy()
    titled.obs_names = [t.title() for t in adata.obs_names]  # "Adipose Tissue"
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*only when case", category=ge.DataWarning)
        ge.tl.impute_expression(exact, PRETRAINED)  # the model's spelling: no such warning
    match = r"37 tissue names match the model's only when case.*'Adipose Tissue' as 'adipose"
    with pytest.warns(ge.DataWarning, match=match):
        ge.tl.impute_expression(titled, PRETRAINED)
    for key in ("imputed", "imputed_lower", "imputed_upper"):
        assert np.array_equal(exact.layers[key], titled.layers[key], equal_nan=True)


def test_cli_missing_tissue_names_the_flag(held, tmp_path, capsys):
    adata, _ = held
    src = tmp_path / "in.h5ad"
    adata[adata.obs_names != "retina"].copy().write_h5ad(src)
    out = tmp_path / "out.h5ad"
    rc = main(["--no-progress", "impute", str(src), "-o", str(out), "--model", PRETRAINED])
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    assert "from the others with --estimate-missing-tissues" in err
    assert "missing_tissues" not in err and "command line:" not in err


def test_cli_predict_error_names_tss_index_flag(tmp_path, capsys):
    fasta = tmp_path / "p.fa"
    fasta.write_text(">short\n" + "ACGT" * 50 + "\n")  # 200 bp, not the 300 bp window
    before = ge.settings.progress
    ge.settings.progress = True
    try:  # --no-progress after the subcommand also switches progress off
        rc = main(
            ["predict", "--fasta", str(fasta), "-o", str(tmp_path / "o.h5ad"), "--no-progress"]
        )
        assert ge.settings.progress is False
    finally:
        ge.settings.progress = before
    err = capsys.readouterr().err
    assert rc == 2
    assert "without --tss-index, every sequence" in err and "pass --tss-index (one int" in err
    assert "tss_index=" not in err


def test_impute_expression_docstring_names_every_pretrained_model():
    doc = ge.tl.impute_expression.__doc__
    for name in ge.models.list_pretrained():
        assert f'``"{name}"``' in doc, name


# --- regulators ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regulators():
    """``(adata, model, typed regulator, left-out gene)``: the targets asked include an RBP."""
    adata = ge.datasets.gtex_tf_samples()
    kind = adata.var["regulator_type"].astype(str)
    rbp, (left_out, *others) = (
        str(adata.var_names[kind == "RBP/SF"][0]),
        adata.var_names[kind == ""],
    )
    targets = [*others, rbp]
    before = adata.copy()
    match = rf"1 genes of targets= are typed regulators .*regulators, not targets: \['{rbp}'\]"
    with pytest.warns(ge.DataWarning, match=match):
        model = ge.tl.train_regulators(adata, targets=targets, **TINY)
    assert_unchanged(adata, before)
    assert rbp in model.setup_.regulators and model.setup_.targets == [str(g) for g in others]
    return adata, model, rbp, str(left_out)


def test_attribution_of_a_regulator_names_why(regulators):
    adata, model, rbp, left_out = regulators
    before = adata.copy()
    with pytest.raises(KeyError, match=rf"{rbp} is typed RBP/SF, so it is a regulator, not a"):
        ge.tl.regulator_attribution(adata, model, [model.setup_.targets[0], rbp])
    with pytest.raises(KeyError, match=rf"{left_out} was not a target in training"):
        ge.tl.regulator_attribution(adata, model, [left_out])
    assert_unchanged(adata, before)


def test_all_zero_attribution_is_reported_not_drawn(regulators):
    adata, model, _, _ = regulators
    a = adata.copy()
    # fully measured targets, network at its zero start after 3 epochs: no attribution
    with pytest.warns(ge.DataWarning, match=r"every attribution of the 3 targets is zero"):
        ge.tl.regulator_attribution(a, model, model.setup_.targets[:3])
    assert not a.uns["regulator_attribution"]["scores"].to_numpy().any()
    with pytest.raises(ValueError, match=r"every attribution is zero in adata.uns"):
        ge.pl.regulator_heatmap(a, show=False)
