"""Pretrained models: loading without pickle, imputation by name, model cards, predict."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import geneimpute as ge
from geneimpute.cli import main
from geneimpute.models import HybridImputer
from geneimpute.models._pretrained import pretrained_path

from ..conftest import DATA

ROOT = Path(__file__).resolve().parents[2]
HYBRID, SEQUENCE = "gtex_v8_37tissues", "gtex_v8_37tissues_sequence"
PROMOTER = "gtex_v8_37tissues_promoter"
NAMES = (HYBRID, SEQUENCE, PROMOTER)


def _build_script():
    spec = importlib.util.spec_from_file_location(
        "build_pretrained", ROOT / "scripts" / "build_pretrained.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def models():
    return {name: ge.models.pretrained(name) for name in NAMES}


@pytest.fixture
def table(gtex):
    """4,000 real bundled genes (chr1-chr3 and chr8) with 200 of them never measured."""
    keep = gtex.var["chrom"].isin(["chr2", "chr8"]).to_numpy()
    a = gtex[:, keep].copy()
    held = np.zeros(a.n_vars, bool)
    held[np.random.default_rng(0).choice(a.n_vars, 200, replace=False)] = True
    truth = a.copy()
    a.X[:, held] = np.nan
    return a, truth, held


def test_list_and_files_are_pickle_free(models):
    import torch

    assert set(ge.models.list_pretrained()) == set(NAMES)
    for name, model in models.items():
        path = pretrained_path(name)
        files = {p.name for p in path.iterdir()}
        assert files <= {
            "config.json",
            "network.pt",
            "xgboost.ubj",
            "xgboost_pattern.ubj",
            "xgboost_sigma.ubj",
            "calibration.npz",
            "model_card.json",
            "MODEL_CARD.md",
            "manifest.json",
        }, files
        size = sum(p.stat().st_size for p in path.iterdir())
        assert size < 5e6, f"{name}: {size / 1e6:.1f} MB"
        torch.load(path / "network.pt", weights_only=True)  # refuses pickled objects
        with np.load(path / "calibration.npz", allow_pickle=False) as cal:
            assert cal["residuals"].shape == (4000, 37) == cal["sigmas"].shape
        assert model.tissues_ == list(ge.datasets.gtex_tissues().obs_names)
        assert model.setup_.units == "TPM" and model.calibrated
    assert models[SEQUENCE].features_ == ["promoter", "structure"]
    assert models[PROMOTER].features_ == ["promoter"]
    assert models[PROMOTER].feature_names_ == [
        "promoter_gc",
        "promoter_cpg_oe",
        "promoter_length_bp",
    ]
    assert "neighbors" in models[HYBRID].features_


def test_unknown_name():
    with pytest.raises(KeyError, match="no pretrained model named 'gtex'.*available"):
        ge.models.pretrained("gtex")
    a = ge.datasets.gtex_tissues()[:, :50].copy()
    a.X[:, :5] = np.nan
    with pytest.raises(FileNotFoundError, match="neither a saved model directory nor a pretr"):
        ge.tl.impute_expression(a, model="gtex_v9")


def test_impute_by_name_equals_load_of_the_files(table):
    a, truth, held = table
    b = a.copy()
    ge.tl.impute_expression(a, model=HYBRID)
    ge.tl.impute_expression(b, model=HybridImputer.load(pretrained_path(HYBRID)))
    for key in ("imputed", "imputed_lower", "imputed_upper"):
        assert np.array_equal(a.layers[key], b.layers[key], equal_nan=True)
    assert a.uns["imputed"]["params"]["model"] == f"pretrained {HYBRID!r}"
    assert np.isfinite(a.layers["imputed"][:, held]).all()
    # observed values untouched, and the pretrained hybrid beats the distance-based method
    assert np.array_equal(a.layers["imputed"][:, ~held], truth.X[:, ~held])
    ge.tl.impute_neighbors(a, genes=held)
    hyb = ge.tl.evaluate(a, truth)
    dist = ge.tl.evaluate(a, truth, key="imputed_distance")
    assert hyb["pearson_tissue"] > dist["pearson_tissue"] + 0.1, (hyb, dist)


def test_card_figures_reproduce(models, gtex):
    script = _build_script()
    for name, evaluate in (
        (HYBRID, script.evaluate_hybrid),
        (SEQUENCE, script.evaluate_sequence),
        (PROMOTER, script.evaluate_promoter),
    ):
        card = ge.models.pretrained_card(name)
        assert card["data"]["held_out_chromosome"] == "chr8"
        assert card["evaluation"]["command"] == "python scripts/build_pretrained.py --check"
        now = evaluate(models[name], gtex)
        assert set(now) == set(card["evaluation"]["results"])
        for row, metrics in card["evaluation"]["results"].items():
            for metric in ("pearson_tissue", "pearson_gene_centered", "r2", "coverage_90"):
                assert abs(now[row][metric] - metrics[metric]) < 1e-4, (name, row, metric)
    hybrid = ge.models.pretrained_card(HYBRID)["evaluation"]["results"]
    assert hybrid["hybrid"]["pearson_tissue"] > hybrid["distance_k10"]["pearson_tissue"]
    for name in NAMES:
        assert (ROOT / "src/geneimpute/models/_weights" / name / "MODEL_CARD.md").exists()


def test_gtex_names_missing_retina(models, gtex):
    a = gtex[:, gtex.var["chrom"].isin(["chr21"]).to_numpy()].copy()
    a.X[:, :10] = np.nan
    smtsd = a.copy()
    smtsd.obs_names = ["Brain - Cortex" if t == "cerebral cortex" else t for t in a.obs_names]
    with pytest.raises(ValueError, match=r"\['cerebral cortex'\].*merge_gtex_tissues"):
        ge.tl.impute_expression(smtsd, model=models[HYBRID])
    no_retina = a[a.obs_names != "retina"].copy()
    before = no_retina.copy()
    with pytest.raises(ValueError, match=r"lacks 1 of the model's 37 tissues: \['retina'\]"):
        ge.tl.impute_expression(no_retina, model=models[HYBRID])
    assert "imputed" not in no_retina.layers and np.array_equal(
        no_retina.X, before.X, equal_nan=True
    )
    with pytest.warns(ge.DataWarning, match=r"lacks 1 of the model's tissues \(\['retina'\]\)"):
        ge.tl.impute_expression(no_retina, model=models[HYBRID], missing_tissues="estimate")
    assert np.isfinite(no_retina.layers["imputed"][:, :10]).all()
    assert no_retina.uns["imputed"]["params"]["model_tissues_estimated"] == ["retina"]
    # with all 37 tissues the other tissues' predictions differ only through the neighbours
    ge.tl.impute_expression(a, model=models[HYBRID])
    full = a.layers["imputed"][a.obs_names != "retina"][:, :10]
    r = np.corrcoef(np.log1p(full).ravel(), np.log1p(no_retina.layers["imputed"][:, :10]).ravel())
    assert r[0, 1] > 0.98


def _chr22_promoters(gtex, chr22_fasta):
    """Promoters (-249..+50) cut from GRCh37 chr22:20-21 Mb at the Xpresso hg19 TSS."""
    ann = ge.pp.read_annotation(DATA / "xpresso_hg19_chr22.bed")
    ann = ann[ann["end"] - ann["start"] == 20000]
    a = ad.AnnData(var=pd.DataFrame(index=ann.index.astype(str)))
    ge.pp.annotate_genes(a, ann, tss_from_bed_window=10_000)
    inside = ((a.var["tss"] > 20_000_400) & (a.var["tss"] < 20_999_600)).to_numpy()
    a = a[:, inside].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ge.DataWarning)
        ge.pp.extract_promoters(a, chr22_fasta, on_missing="skip")
    seqs = a.var["promoter_seq"][a.var["promoter_seq"].str.len() == 300]
    return seqs[~seqs.str.contains("N")]


def _write_fasta(path, records):
    path.write_text("".join(f">{n}\n{s}\n" for n, s in records))
    return path


def test_cli_predict_fasta(tmp_path, gtex, chr22_fasta, capsys):
    seqs = _chr22_promoters(gtex, chr22_fasta)
    assert len(seqs) >= 12
    fa = _write_fasta(tmp_path / "promoters.fa", seqs.items())
    out = tmp_path / "profiles.h5ad"
    assert main(["--no-progress", "predict", "--fasta", str(fa), "-o", str(out)]) == 0
    assert f"predicted {len(seqs)} profiles x 37 tissues" in capsys.readouterr().out
    prof = ad.read_h5ad(out)
    assert prof.shape == (37, len(seqs)) and list(prof.var_names) == list(seqs.index)
    assert np.isfinite(prof.X).all() and np.isfinite(prof.layers["tpm_upper"]).all()
    assert (prof.layers["log1p_tpm_lower"] <= prof.X).all() and (
        prof.X <= prof.layers["log1p_tpm_upper"]
    ).all()
    np.testing.assert_allclose(prof.layers["tpm"], np.expm1(prof.X), rtol=1e-5)
    assert prof.uns["predict_profiles"]["params"]["model"] == f"pretrained {PROMOTER!r}"
    assert len(prof.uns["predict_profiles"]["params"]["unknown_gene_features"]) == 0


@pytest.mark.parametrize(
    ("records", "match"),
    [
        ([("a", "ACGT" * 75), ("b", "ACGU" * 75)], "letters other than A, C, G, T, N"),
        ([("a", "ACGT" * 75), ("b", "")], "without sequence"),
        ([("a", "ACGT" * 75), ("a", "ACGT" * 75)], "duplicated"),
        ([("a", "ACGT" * 70)], "must be the model's 300 bp window"),
    ],
)
def test_cli_predict_bad_fasta(tmp_path, capsys, records, match):
    fa = _write_fasta(tmp_path / "bad.fa", records)
    out = tmp_path / "out.h5ad"
    assert main(["--no-progress", "predict", "--fasta", str(fa), "-o", str(out)]) != 0
    err = capsys.readouterr().err
    assert "geneimpute: error:" in err and match in err, err
    assert not out.exists()


def test_predict_profiles_crops_long_records(models, gtex):
    """A 10.5 kb record (-7,000..+3,500, Xpresso's window) gives its core's profile."""
    var = gtex.var[gtex.var["promoter_seq"].str.len() == 300].iloc[:30]
    rng = np.random.default_rng(0)
    flank = lambda n: "".join(rng.choice(list("ACGT"), n))  # noqa: E731
    long = {g: flank(7000 - 249) + s + flank(3500 - 50) for g, s in var["promoter_seq"].items()}
    short = var["promoter_seq"]
    p_long = ge.tl.predict_profiles(long, tss_index=7000)  # auto: the promoter model
    p_short = ge.tl.predict_profiles(short, models[PROMOTER])
    assert p_long.uns["predict_profiles"]["params"]["model"] == f"pretrained {PROMOTER!r}"
    assert np.array_equal(p_long.X, p_short.X)
    assert (p_long.var["promoter_seq"] == short).all()
    with pytest.raises(ValueError, match="uses genomic neighbours"):
        ge.tl.predict_profiles(short, models[HYBRID])
    with pytest.warns(ge.DataWarning, match="gene features .* are unknown"):
        ge.tl.predict_profiles(short, models[SEQUENCE])


def test_predict_profiles_from_anndata_roundtrip(models, gtex, tmp_path):
    sub = gtex[:, gtex.var["chrom"].isin(["chr21"]).to_numpy()]
    with pytest.warns(ge.DataWarning, match="have no promoter sequence"):
        prof = ge.tl.predict_profiles(sub)  # auto: coordinates + structure -> sequence model
    assert prof.uns["predict_profiles"]["params"]["model"] == f"pretrained {SEQUENCE!r}"
    assert prof.shape == (37, sub.n_vars) and np.isfinite(prof.X).all()
    assert len(prof.uns["predict_profiles"]["params"]["unknown_gene_features"]) == 0
    prof.write_h5ad(tmp_path / "p.h5ad")
    back = ad.read_h5ad(tmp_path / "p.h5ad")
    assert np.array_equal(back.X, prof.X) and set(back.layers) == set(prof.layers)
    assert back.varm["promoter_embedding"].shape == (sub.n_vars, 32)


def test_cli_impute_with_pretrained(tmp_path, gtex, capsys):
    a = gtex[:, gtex.var["chrom"].isin(["chr21"]).to_numpy()].copy()
    a.X[:, :20] = np.nan
    a.write_h5ad(tmp_path / "in.h5ad")
    out = tmp_path / "out.h5ad"
    code = main(
        ["--no-progress", "impute", str(tmp_path / "in.h5ad"), "-o", str(out), "--model", HYBRID]
    )
    assert code == 0, capsys.readouterr().err
    assert "imputed 740 values of 20 genes" in capsys.readouterr().out
    assert np.isfinite(ad.read_h5ad(out).layers["imputed"][:, :20]).all()
    assert main(["impute", str(tmp_path / "in.h5ad"), "-o", str(out), "--model", "nope"]) != 0
    assert "neither a model directory nor a pretrained model" in capsys.readouterr().err


def test_model_card_json_matches_files():
    import hashlib

    for name in NAMES:
        path = pretrained_path(name)
        card = json.loads((path / "model_card.json").read_text())
        for f, digest in card["files_sha256"].items():
            assert hashlib.sha256((path / f).read_bytes()).hexdigest() == digest, f
        assert card["data"]["tissues"] == ge.models.pretrained(name).tissues_


def test_cli_predict_genes_genome_gtf(tmp_path, gtex, chr22_fasta, capsys):
    """``--genes`` (IDs or names) + ``--genome`` + ``--gtf``: promoters cut at the GTF's TSS."""
    ann = ge.pp.read_annotation(DATA / "xpresso_hg19_chr22.bed")
    ann = ann[ann["end"] - ann["start"] == 20000]
    seqs = _chr22_promoters(gtex, chr22_fasta)
    lines = []
    for gid in seqs.index[:6]:
        row = ann.loc[gid]
        tss = int(row["start"]) + 10_000 if row["strand"] == "+" else int(row["end"]) - 10_000
        start, end = (tss, tss + 1000) if row["strand"] == "+" else (tss - 999, tss + 1)
        name = gtex.var.loc[gid, "gene_name"]
        lines.append(
            f"chr22\ttest\tgene\t{start + 1}\t{end}\t.\t{row['strand']}\t.\t"
            f'gene_id "{gid}.1"; gene_name "{name}";\n'
        )
    (tmp_path / "genes.gtf").write_text("".join(lines))
    wanted = [*seqs.index[:5], gtex.var.loc[seqs.index[5], "gene_name"]]  # IDs and a name
    (tmp_path / "genes.txt").write_text("\n".join(wanted) + "\n")
    out = tmp_path / "p.h5ad"
    args = ["--genes", str(tmp_path / "genes.txt"), "--genome", str(chr22_fasta)]
    code = main(["predict", *args, "--gtf", str(tmp_path / "genes.gtf"), "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    prof = ad.read_h5ad(out)
    assert list(prof.var_names) == list(seqs.index[:6]) and np.isfinite(prof.X).all()
    # the same promoters as cut by extract_promoters at the Xpresso TSS
    assert (prof.var["promoter_seq"] == seqs.iloc[:6].to_numpy()).all()
    (tmp_path / "bad.txt").write_text("NOT_A_GENE\n")
    args[1] = str(tmp_path / "bad.txt")
    assert main(["predict", *args, "--gtf", str(tmp_path / "genes.gtf"), "-o", str(out)]) != 0
    assert "1 genes are not in" in capsys.readouterr().err
