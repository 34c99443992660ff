"""Xpresso's 10.5 kb promoter window (-7,000..+3,500 bp) next to the bundled 300 bp (-249..+50).

Coordinates are GRCh37, from the Xpresso hg19 BED (TSS +-10 kb records); the sequence is the
committed GRCh37 chr22:20-21 Mb FASTA (``chr22_fasta``). The bundled GTEx coordinates are
GRCh38, so they are not used to cut the genome here.
"""

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

import geneimpute as ge
from geneimpute._adata import promoter_onehot
from geneimpute._logging import DataWarning
from geneimpute._settings import torch_threads

from ..conftest import DATA

#: Xpresso's window: 7,000 bp before the TSS, the TSS and 3,499 bp after it (10,500 bp). In
#: extract_promoters' convention the window is upstream + downstream + 1 bp with the TSS at
#: index ``upstream``, so ``downstream=3_500`` would give 10,501 bp (checked below).
UPSTREAM, DOWNSTREAM, LENGTH = 7_000, 3_499, 10_500
#: The FASTA record ``22:20000001-21000000`` as a 0-based half-open span of chr22.
CHUNK = (20_000_000, 21_000_000)
#: Bundled genes whose whole 10.5 kb hg19 window lies in the chunk (all on 20 kb BED records).
FULL_WINDOW = (
    "ENSG00000040608",
    "ENSG00000099899",
    "ENSG00000099901",
    "ENSG00000099904",
    "ENSG00000099910",
    "ENSG00000099917",
    "ENSG00000128185",
    "ENSG00000128191",
    "ENSG00000161133",
    "ENSG00000183597",
    "ENSG00000185252",
    "ENSG00000234409",
    "ENSG00000244486",
)
LONG = "xpresso_seq"
SHORT = "promoter_seq"  # the bundled EPDnew promoters, <= 300 bp
#: the smallest settings that train every stage (seconds on one CPU thread)
TRAIN = {
    "max_epochs": 1,
    "n_folds": 2,
    "calibrate": False,
    "xgb_n_estimators": 20,
    "accelerator": "cpu",
}


pytestmark = pytest.mark.usefixtures("one_thread")


def _revcomp(s: str) -> str:
    return s.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


@pytest.fixture(scope="module")
def hg19(gtex):
    """The bundled chr22 genes on 20 kb Xpresso records, with their hg19 coordinates."""
    ann = ge.pp.read_annotation(DATA / "xpresso_hg19_chr22.bed")
    ann = ann[ann["end"] - ann["start"] == 20_000]
    ad = gtex[:, gtex.var_names.isin(ann.index)].copy()
    ad.var = ad.var.drop(columns=["chrom", "start", "end", "strand", "tss"])
    ge.pp.annotate_genes(ad, ann, tss_from_bed_window=10_000)
    return ad


def _extract_long(ad, fasta):
    """Xpresso's window of every gene of ``ad`` into ``var[LONG]`` (genes outside: '')."""
    ge.pp.extract_promoters(
        ad, fasta, upstream=UPSTREAM, downstream=DOWNSTREAM, on_missing="skip", key_added=LONG
    )


@pytest.fixture(scope="module")
def long_promoters(hg19, chr22_fasta):
    """``var`` of the genes with a whole 10.5 kb window: ``LONG`` and the 300 bp ``"core"``."""
    ad = hg19.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # the genes outside the chunk
        _extract_long(ad, chr22_fasta)
        ge.pp.extract_promoters(ad, chr22_fasta, on_missing="skip", key_added="core")
    return ad.var.loc[ad.var[LONG] != "", [LONG, f"{LONG}_tss_index", "core", "core_tss_index"]]


@pytest.fixture(scope="module")
def table(gtex, long_promoters):
    """GTEx chr21/22 (618 genes) with ``var[LONG]`` for 13 genes ('' and -1 for the others),
    and 25 genes' profiles set to NaN (5 of them with a 10.5 kb promoter); (adata, held)."""
    adata = gtex[:, gtex.var["chrom"].isin(["chr21", "chr22"]).to_numpy()].copy()
    adata.var[LONG] = ""
    adata.var[f"{LONG}_tss_index"] = -1
    adata.var.loc[long_promoters.index, LONG] = long_promoters[LONG]
    adata.var.loc[long_promoters.index, f"{LONG}_tss_index"] = 7_000
    held = np.zeros(adata.n_vars, bool)
    held[np.random.default_rng(0).choice(adata.n_vars, 20, replace=False)] = True
    held[adata.var_names.get_indexer(long_promoters.index[:5])] = True
    adata.X[:, held] = np.nan
    return adata, held


@pytest.fixture(scope="module")
def models(table):
    """One model per promoter column, trained on ``table`` (the same genes and split)."""
    adata, _ = table
    return {key: ge.tl.train(adata, promoter_key=key, **TRAIN) for key in (LONG, SHORT)}


def test_extract_xpresso_window(hg19, chr22_fasta):
    """10,500 bp for exactly the genes whose whole window is in the FASTA, TSS at 7,000."""
    import pyfaidx

    ad = hg19.copy()
    var = ad.var
    # window arithmetic: [TSS - 7000, TSS + 3500) on +, its mirror [TSS - 3499, TSS + 7001) on -
    tss = var["tss"].to_numpy(np.int64)
    plus = (var["strand"] == "+").to_numpy()
    lo = np.where(plus, tss - UPSTREAM, tss - DOWNSTREAM)
    hi = np.where(plus, tss + DOWNSTREAM + 1, tss + UPSTREAM + 1)
    assert (hi - lo == LENGTH).all()
    inside = (lo >= CHUNK[0]) & (hi <= CHUNK[1])
    assert inside.sum() == len(FULL_WINDOW) == 13
    assert sorted(ad.var_names[inside]) == list(FULL_WINDOW)
    assert set(var.loc[inside, "strand"]) == {"+", "-"}
    n_out = int((~inside).sum())
    assert ad.n_vars == 380 and n_out == 367

    # on_missing="raise" (default): an error naming the count, adata unchanged
    before = var.copy()
    with pytest.raises(ValueError, match=rf"^{n_out} promoter windows are not inside the FASTA"):
        ge.pp.extract_promoters(ad, chr22_fasta, upstream=UPSTREAM, downstream=DOWNSTREAM)
    pd.testing.assert_frame_equal(ad.var, before)

    # on_missing="skip": '' and TSS index -1 for those genes, a DataWarning with their number
    with pytest.warns(
        DataWarning, match=rf"{n_out} of {ad.n_vars} genes have no promoter window in grch37"
    ):
        _extract_long(ad, chr22_fasta)
    seqs = ad.var[LONG]
    np.testing.assert_array_equal(seqs.str.len(), np.where(inside, LENGTH, 0))
    np.testing.assert_array_equal(ad.var[f"{LONG}_tss_index"], np.where(inside, UPSTREAM, -1))

    # strand convention: + genes read the genome forward, - genes its reverse complement, so
    # index 7000 is the TSS base (or its complement) on both strands
    record = pyfaidx.Fasta(str(chr22_fasta), sequence_always_upper=True)["22:20000001-21000000"]
    for i in np.flatnonzero(inside):
        ref = str(record[int(lo[i]) - CHUNK[0] : int(hi[i]) - CHUNK[0]])
        assert seqs.iloc[i] == (ref if plus[i] else _revcomp(ref)), ad.var_names[i]
        base = str(record[int(tss[i]) - CHUNK[0]])
        assert seqs.iloc[i][UPSTREAM] == (base if plus[i] else _revcomp(base))

    # the default 300 bp window (-249..+50) is the core of the 10.5 kb one, around one TSS
    with pytest.warns(DataWarning, match="have no promoter window"):
        ge.pp.extract_promoters(ad, chr22_fasta, on_missing="skip", key_added="core")
    core = ad.var.loc[inside, "core"]
    assert (core.str.len() == 300).all() and (ad.var.loc[inside, "core_tss_index"] == 249).all()
    assert (core == seqs[inside].str[UPSTREAM - 249 : UPSTREAM + 51]).all()

    # downstream=3_500 counts the TSS too: 10,501 bp
    one = ge.pp.extract_promoters(
        ad[:, inside].copy(), chr22_fasta, upstream=UPSTREAM, downstream=3_500, copy=True
    )
    assert (one.var["promoter_seq"].str.len() == LENGTH + 1).all()


@pytest.mark.parametrize("key", [LONG, SHORT])
def test_train_and_impute_with_either_promoter_column(table, models, key):
    adata, held = table
    model = models[key]
    assert model.setup_.promoter_key == key
    assert "promoter" in model.features_
    out = adata.copy()
    ge.tl.impute_expression(out, model, embedding_key="cnn", interval=None)
    imputed, mask = out.layers["imputed"], out.layers["imputed_mask"]
    assert imputed.shape == adata.shape == (37, 618)
    np.testing.assert_array_equal(mask, np.isnan(adata.X))
    assert mask[:, held].all() and np.isfinite(imputed).all() and (imputed >= 0).all()
    assert out.uns["imputed"]["params"]["n_genes_imputed"] == held.sum() == 25
    assert out.uns["imputed"]["params"]["inputs"]["promoters"] == f"var[{key!r}]"

    emb = out.varm["cnn"]
    assert emb.shape == (adata.n_vars, model.config.embedding_dim) == (618, 32)
    assert np.isfinite(emb).all()
    # the sequences reach the CNN: genes without one share the all-zero input's embedding,
    # genes with one do not
    has = (adata.var[key].fillna("").str.len() > 0).to_numpy()
    assert has.sum() == (13 if key == LONG else (adata.var["promoter_source"] != "none").sum())
    none = emb[~has]
    assert np.allclose(none, none[0])
    assert not np.isclose(emb[has], none[0]).all(axis=1).any()


def test_cnn_reads_the_300bp_core_of_a_long_promoter(table, models, long_promoters):
    """The CNN input of a 10.5 kb promoter is its -249..+50 core (promoter_onehot crops)."""
    adata, _ = table
    core = adata.copy()
    core.var.loc[long_promoters.index, LONG] = long_promoters["core"]
    core.var.loc[long_promoters.index, f"{LONG}_tss_index"] = 249
    out_long, out_core = adata.copy(), core.copy()
    ge.tl.impute_expression(out_long, models[LONG], interval=None)
    ge.tl.impute_expression(out_core, models[LONG], interval=None)
    np.testing.assert_array_equal(
        out_long.varm["promoter_embedding"], out_core.varm["promoter_embedding"]
    )
    assert promoter_onehot(adata.var, LONG).shape == (618, 300, 5)


@pytest.fixture(scope="module")
def promoter_model(table):
    """A sequence-only model (``features=["promoter"]``) trained on the 10.5 kb column, and
    what impute_expression and predict_profiles give for the 5 held-out genes that have one."""
    adata, held = table
    model = ge.tl.train(adata, features=["promoter"], promoter_key=LONG, **TRAIN)
    genes = held & (adata.var[LONG] != "").to_numpy()
    out = adata.copy()
    ge.tl.impute_expression(out, model, interval=None)
    prof = ge.tl.predict_profiles(adata[:, genes].copy(), model, promoter_key=LONG, interval=None)
    return model, genes, np.log1p(out.layers["imputed"][:, genes]), prof


def test_predict_profiles_reads_the_core_of_a_long_promoter(table, long_promoters, promoter_model):
    """predict_profiles cuts a 10.5 kb record to -249..+50 (as documented): its profiles are
    what impute_expression gives when the column holds that 300 bp core."""
    adata, _ = table
    model, genes, _, prof = promoter_model
    assert genes.sum() == 5 and prof.shape == (37, 5)
    assert (prof.var[LONG].str.len() == 300).all() and (prof.var[f"{LONG}_tss_index"] == 249).all()
    core = adata.copy()
    core.var.loc[long_promoters.index, LONG] = long_promoters["core"]
    core.var.loc[long_promoters.index, f"{LONG}_tss_index"] = 249
    ge.tl.impute_expression(core, model, interval=None)
    np.testing.assert_allclose(prof.X, np.log1p(core.layers["imputed"][:, genes]), atol=1e-5)


def test_promoter_model_agrees_between_impute_and_predict_profiles(promoter_model):
    """Promoter composition is computed on the -249..+50 core in both (one model, one answer)."""
    _, _, imputed, prof = promoter_model
    np.testing.assert_allclose(prof.X, imputed, atol=1e-5)


def test_long_promoters_are_cropped_before_one_hot_encoding(long_promoters):
    """promoter_matrix cuts a 10.5 kb record to the window before encoding it (memory)."""
    var = pd.concat([long_promoters] * 20)
    var.index = [f"g{i}" for i in range(len(var))]
    peak = {}
    for key in ("core", LONG):
        tracemalloc.start()
        x = promoter_onehot(var, key)
        peak[key] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert x.shape == (260, 300, 5)
    assert peak[LONG] < 3 * peak["core"], {k: f"{v / 1e6:.1f} MB" for k, v in peak.items()}


@pytest.mark.parametrize("length", [LENGTH, 300])
def test_promoter_cnn_takes_any_length(length):
    import torch

    from geneimpute.models.hybrid._networks import PromoterCNN

    torch.manual_seed(0)
    x = torch.zeros(2, length, 5)
    x[:, torch.arange(length), torch.randint(0, 4, (length,))] = 1
    x[:, :, 4] = 1
    cnn = PromoterCNN(32)
    with torch_threads():  # settings.n_jobs (1 here)
        emb = cnn(x)  # training mode: BatchNorm over the batch, gradients flow
        assert emb.shape == (2, 32) and torch.isfinite(emb).all()
        emb.sum().backward()
        assert all(p.grad is not None for p in cnn.parameters())
        cnn.eval()
        with torch.no_grad():
            assert cnn(x).shape == (2, 32)


def test_xpresso_window_model_reads_the_whole_window(table, long_promoters, tmp_path):
    """promoter_upstream=7000, promoter_downstream=3499: the CNN sees all 10,500 bp."""
    full, _ = table
    # the 13 genes with a 10.5 kb promoter and 57 others (a 10.5 kb CNN is slow on a CPU)
    keep = (full.var[LONG] != "").to_numpy()
    keep[np.random.default_rng(0).choice(np.flatnonzero(~keep), 57, replace=False)] = True
    adata = full[:, keep].copy()
    window = {"promoter_upstream": UPSTREAM, "promoter_downstream": DOWNSTREAM}
    x = promoter_onehot(adata.var, LONG, upstream=UPSTREAM, downstream=DOWNSTREAM)
    assert x.shape == (70, LENGTH, 5)
    has = (adata.var[LONG] != "").to_numpy()
    assert (x[has, :, 4] == 1).all() and (x[~has] == 0).all()
    model = ge.tl.train(adata, promoter_key=LONG, **TRAIN, **window)
    assert model.config.promoter_upstream == UPSTREAM
    out = adata.copy()
    ge.tl.impute_expression(out, model, interval=None)
    assert np.isfinite(out.layers["imputed"]).all()
    # the same genes with only their 300 bp core: a different CNN input, other embeddings
    core = adata.copy()
    core.var.loc[long_promoters.index, LONG] = long_promoters["core"]
    core.var.loc[long_promoters.index, f"{LONG}_tss_index"] = 249
    ge.tl.impute_expression(core, model, interval=None)
    e_long, e_core = out.varm["promoter_embedding"], core.varm["promoter_embedding"]
    assert not np.allclose(e_long[has], e_core[has])
    np.testing.assert_array_equal(e_long[~has], e_core[~has])
    # the window is part of the saved model
    model.save(tmp_path / "m")
    loaded = ge.models.HybridImputer.load(tmp_path / "m")
    assert (loaded.config.promoter_upstream, loaded.config.promoter_downstream) == (
        UPSTREAM,
        DOWNSTREAM,
    )
    again = adata.copy()
    ge.tl.impute_expression(again, loaded, interval=None)
    np.testing.assert_allclose(again.layers["imputed"], out.layers["imputed"], rtol=1e-5)
