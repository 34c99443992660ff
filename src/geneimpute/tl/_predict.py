"""Sequence in, profile out: tissue profiles from promoters alone (no expression table)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import STRUCTURE_COLUMNS, gene_feature_table
from .._core.neighbors import no_neighbors
from .._core.sequence import (
    DEFAULT_DOWNSTREAM,
    DEFAULT_UPSTREAM,
    check_letters,
    check_tss,
    crop_to_window,
    encode_promoters,
)
from .._logging import logger, warn_data
from .._settings import Accelerator, resolve_device
from ..models import GeneInputs, HybridImputer
from ._model import resolve_model
from ._write import check_interval, gene_reliability

#: Pretrained models :func:`predict_profiles` picks with ``model="auto"``.
SEQUENCE_MODEL = "gtex_v8_37tissues_sequence"
PROMOTER_MODEL = "gtex_v8_37tissues_promoter"

Sequences: TypeAlias = str | Path | Mapping[str, str] | pd.Series | AnnData


def _as_series(data: str | Path | Mapping[str, str] | pd.Series) -> tuple[pd.Series, str]:
    """Sequences indexed by name, and where they came from."""
    if isinstance(data, str | Path):
        from ..pp import read_fasta

        return read_fasta(data), f"FASTA {data}"
    if isinstance(data, Mapping):
        data = pd.Series(dict(data), dtype=object)
        source = "mapping"
    elif isinstance(data, pd.Series):
        source = "Series"
    else:
        msg = (
            "sequences must be a FASTA path, a {name: sequence} mapping, a pandas Series or an "
            f"AnnData with promoters in var, got {type(data).__name__}"
        )
        raise TypeError(msg)
    s = data.copy()
    s.index = s.index.astype(str)
    if s.index.duplicated().any():
        dup = sorted(set(s.index[s.index.duplicated()]))
        msg = f"duplicated sequence names: {dup[:5]} ({len(dup)} in all)"
        raise ValueError(msg)
    if len(s) == 0:
        msg = "no sequences given"
        raise ValueError(msg)
    bad = [str(n) for n, v in s.items() if not isinstance(v, str) or not v]
    if bad:
        msg = f"{len(bad)} records have no sequence (empty or not a string): {bad[:5]}"
        raise ValueError(msg)
    return s.astype(str).str.upper(), source


def _tss_positions(seqs: pd.Series, tss_index: int | Mapping[str, int] | pd.Series | None):
    L = DEFAULT_UPSTREAM + DEFAULT_DOWNSTREAM + 1
    if tss_index is None:
        lens = seqs.str.len()
        wrong = lens != L
        if wrong.any():
            msg = (
                f"without tss_index, every sequence must be the model's {L} bp window "
                f"(-{DEFAULT_UPSTREAM}..+{DEFAULT_DOWNSTREAM}, TSS at 0-based index "
                f"{DEFAULT_UPSTREAM}); {int(wrong.sum())} are not, e.g. "
                f"{ {str(k): int(v) for k, v in lens[wrong].head(3).items()} }; "
                "pass tss_index= (one int, or one per name)"
            )
            raise ValueError(msg)
        return np.full(len(seqs), DEFAULT_UPSTREAM, dtype=np.int64)
    if isinstance(tss_index, Mapping | pd.Series):
        t = pd.Series(dict(tss_index) if isinstance(tss_index, Mapping) else tss_index)
        t.index = t.index.astype(str)
        missing = [n for n in seqs.index if n not in t.index]
        if missing:
            msg = f"tss_index lacks {len(missing)} sequence names: {missing[:5]}"
            raise KeyError(msg)
        return t.loc[seqs.index].to_numpy(dtype=np.int64)
    if isinstance(tss_index, bool) or not isinstance(tss_index, int | np.integer):
        msg = f"tss_index must be None, an int or a mapping of name -> int, got {tss_index!r}"
        raise TypeError(msg)
    return np.full(len(seqs), int(tss_index), dtype=np.int64)


def _gene_table(
    data: Sequences, tss_index, promoter_key: str, window: tuple[int, int]
) -> tuple[pd.DataFrame, str]:
    """``var``-like table with promoters cropped to ``window`` and their TSS index."""
    tss_col = f"{promoter_key}_tss_index"
    if isinstance(data, AnnData):
        var = data.var.copy()
        if promoter_key not in var.columns:
            msg = (
                f"adata.var has no {promoter_key!r} column of promoter sequences; add it with "
                "geneimpute.pp.extract_promoters, or pass promoter_key="
            )
            raise KeyError(msg)
        seqs = var[promoter_key].astype(object).fillna("").astype(str).str.upper()
        has = seqs.str.len().to_numpy() > 0
        if not has.any():
            msg = f"adata.var[{promoter_key!r}] holds no sequence"
            raise ValueError(msg)
        if tss_col in var.columns:
            tss = var[tss_col].to_numpy(dtype=np.int64)
        else:
            tss = np.full(len(var), -1, dtype=np.int64)
            tss[has] = _tss_positions(seqs[has], tss_index)
        if (~has).any():
            warn_data(
                f"{int((~has).sum())} genes have no promoter sequence in "
                f"var[{promoter_key!r}] (e.g. {list(var.index[~has][:3])}); their profiles "
                "come from the other gene features alone",
                stacklevel=4,
            )
        source = f"AnnData var[{promoter_key!r}]"
    else:
        seqs, source = _as_series(data)
        var = pd.DataFrame(index=seqs.index)
        has = np.ones(len(seqs), dtype=bool)
        tss = _tss_positions(seqs, tss_index)
    # validate whole records before cropping (a 10.5 kb record is never one-hot encoded)
    check_letters(seqs, what=source)
    check_tss(seqs.tolist(), tss, what=source)
    cropped = seqs.copy()
    new_tss = np.full(len(seqs), -1, dtype=np.int64)
    if has.any():
        c, t = crop_to_window(
            seqs[has].tolist(), tss[has], upstream=window[0], downstream=window[1]
        )
        cropped[has] = c
        new_tss[has] = t
    var[promoter_key] = cropped.to_numpy()
    var[tss_col] = new_tss
    return var, source


def _model_features(var: pd.DataFrame, promoter_key: str, model: HybridImputer) -> tuple:
    """Return the model's gene-feature columns of ``var`` (NaN where unknown) and the unknown."""
    table = gene_feature_table(var, promoter_key, use_structure="structure" in model.features_)
    unknown = [c for c in model.feature_names_ if c not in table.columns or table[c].isna().all()]
    for c in model.feature_names_:
        if c not in table.columns:
            table[c] = np.nan
    if unknown:
        warn_data(
            f"gene features {unknown} are unknown for these sequences (no coordinates or "
            "transcript structure) and treated as missing (the network uses their training "
            "mean). Accuracy from sequence alone is in the model card "
            "(geneimpute.models.pretrained_card)",
            stacklevel=4,
        )
    return table[model.feature_names_], unknown


def predict_profiles(
    sequences: Sequences,
    model: HybridImputer | str | Path = "auto",
    *,
    tss_index: int | Mapping[str, int] | pd.Series | None = None,
    promoter_key: str = "promoter_seq",
    interval: float | None = 0.9,
    accelerator: Accelerator | None = None,
) -> AnnData:
    """Predict tissue expression profiles from promoter sequence alone (Xpresso's task).

    Applies a sequence-only model (by default a shipped one, see
    :func:`geneimpute.models.pretrained`) to promoters
    given as a FASTA file, a mapping, a Series, or the ``var`` of an AnnData (e.g. genes with
    coordinates whose promoters :func:`~geneimpute.pp.extract_promoters` took from a genome).
    No expression table and no training are needed. Promoters follow the training window
    convention: transcription orientation (5' to 3', reverse-complemented for ``-`` strand
    genes), cut to -249..+50 bp around the TSS (+1) before encoding, so longer records (e.g.
    Xpresso's 10.5 kb) give the same input as their core. Method: Agarwal & Shendure, Cell
    Reports 2020 (doi:10.1016/j.celrep.2020.107663), here with the hybrid's CNN and XGBoost
    stage (Brown, Dong & Truong, Communications Biology 2026, doi:10.1038/s42003-026-10251-7).

    Parameters
    ----------
    sequences
        Path to a FASTA of promoters (record name = gene; read with
        :func:`~geneimpute.pp.read_fasta`), ``{name: sequence}``, a Series of sequences, or an
        AnnData whose ``var[promoter_key]`` (and ``var[f"{promoter_key}_tss_index"]``) hold
        them; its ``var`` columns ``start``/``end`` and the transcript-structure columns
        (``utr5_length``, ``exon_length``, ``utr3_length``, ``n_exons``) are used when present.
    model
        A sequence-only :class:`~geneimpute.models.HybridImputer` (trained with
        ``features=["promoter"]`` or ``["promoter", "structure"]``), a saved model directory,
        a pretrained name, or ``"auto"``: ``"gtex_v8_37tissues_sequence"`` when the input has
        gene coordinates (``start``, ``end``) and the structure columns, else
        ``"gtex_v8_37tissues_promoter"`` (promoter alone, e.g. FASTA).
    tss_index
        0-based position of the TSS in each sequence: None (every record is the 300 bp window,
        TSS at index 249, as EPDnew and :func:`~geneimpute.pp.extract_promoters` write them),
        one int for all records, or a mapping name -> int. Ignored for an AnnData with a
        ``_tss_index`` column.
    promoter_key
        ``var`` column of the promoters (AnnData input), and of the output.
    interval
        Confidence of the calibrated prediction interval (0.9); None for none.
    accelerator
        ``"auto"``, ``"cpu"`` or ``"cuda"``; None follows ``geneimpute.settings``.

    Returns
    -------
    AnnData
        A new ``(n_tissues, n_genes)`` AnnData, the model's tissues x the sequences. ``X`` and
        ``layers["log1p_tpm"]`` hold the predicted log1p(TPM) and ``layers["tpm"]`` TPM;
        ``layers["log1p_tpm_lower"]``, ``["log1p_tpm_upper"]``, ``["tpm_lower"]`` and
        ``["tpm_upper"]`` the bounds of the ``interval`` prediction interval (split conformal
        per tissue, calibrated on held-out reference genes of the model's training data).
        ``var[promoter_key]`` holds the cropped window, ``var[f"{promoter_key}_tss_index"]``
        its TSS and ``var["reliability"]`` the sd of the tissue-centred prediction over the
        mean half-width; ``varm["promoter_embedding"]`` the ``(n_genes, embedding_dim)`` CNN
        embeddings; ``uns["predict_profiles"]`` the ``params`` (model, setup, window,
        interval, input source, gene features that were unknown) and ``timings``.

    Raises
    ------
    FileNotFoundError
        If a FASTA path does not exist.
    KeyError
        If an AnnData lacks ``var[promoter_key]``, or a model name is unknown.
    ValueError
        On letters other than ``ACGTN``, empty records, duplicated names, sequences of the
        wrong length without ``tss_index``, a TSS index outside its sequence, or a model that
        needs neighbour profiles (use :func:`impute_expression` with a table for those).
    TypeError
        On inputs of another type.

    Examples
    --------
    >>> import geneimpute as ge
    >>> prof = ge.tl.predict_profiles("promoters.fa")  # doctest: +SKIP
    >>> prof.to_df().T.head()  # genes x tissues, log1p TPM  # doctest: +SKIP
    """
    check_interval(interval)
    t0 = time.perf_counter()
    if isinstance(model, str) and model == "auto":
        cols = sequences.var.columns if isinstance(sequences, AnnData) else ()
        known = all(c in cols for c in ("start", "end", *STRUCTURE_COLUMNS))
        model = SEQUENCE_MODEL if known else PROMOTER_MODEL
    resolved, source_model, _ = resolve_model(model, None)
    assert resolved is not None
    model = resolved
    window = model.config.promoter_window
    var, source = _gene_table(sequences, tss_index, promoter_key, window)
    if "neighbors" in model.features_:
        msg = (
            f"model {source_model!r} uses genomic neighbours (features {model.features_}): it "
            "needs an expression table of neighbour genes. Use geneimpute.tl.impute_expression "
            f"on a table, or a sequence-only model ({SEQUENCE_MODEL!r}, {PROMOTER_MODEL!r}) here"
        )
        raise ValueError(msg)
    table, unknown = _model_features(var, promoter_key, model)
    promoter = encode_promoters(
        var[promoter_key],
        var[f"{promoter_key}_tss_index"].to_numpy(),
        what=source,
        upstream=window[0],
        downstream=window[1],
    )
    n, T = len(var), len(model.tissues_)
    inputs = GeneInputs(
        promoter=promoter,
        gene_features=table.to_numpy(dtype=np.float64),
        neighbors=no_neighbors(n, model.config.k_neighbors),
        feature_names=list(table.columns),
    )
    want = interval is not None and model.calibrated
    if interval is not None and not model.calibrated:
        warn_data("the model has no interval calibration; no intervals are written", stacklevel=3)
    rows = np.arange(n)
    out = model.predict(
        np.full((n, T), np.nan),
        inputs,
        rows,
        accelerator=accelerator,
        return_embedding=True,
        return_sigma=want,
    )
    pred, emb, sigma = out if want else (*out, None)
    obs = pd.DataFrame(index=pd.Index(model.tissues_, name="tissue"))
    result = AnnData(X=pred.T.astype(np.float32), obs=obs, var=var)
    result.layers["log1p_tpm"] = pred.T.astype(np.float32)
    result.layers["tpm"] = np.expm1(pred.T).astype(np.float32)
    if want and sigma is not None and interval is not None:
        lo, hi = model.interval(pred, sigma, float(interval))
        result.layers["log1p_tpm_lower"] = lo.T.astype(np.float32)
        result.layers["log1p_tpm_upper"] = hi.T.astype(np.float32)
        result.layers["tpm_lower"] = np.expm1(np.maximum(lo, 0.0)).T.astype(np.float32)
        result.layers["tpm_upper"] = np.expm1(hi).T.astype(np.float32)
        result.var["reliability"] = gene_reliability(pred, lo, hi, model.mu_)
    if emb is not None:
        result.varm["promoter_embedding"] = emb.astype(np.float32)
    result.uns["predict_profiles"] = {
        "params": {
            "model": source_model,
            "input": source,
            "n_sequences": n,
            "window_bp": [-DEFAULT_UPSTREAM, DEFAULT_DOWNSTREAM],
            "interval": float(interval) if want and interval is not None else None,
            "units": "log1p_TPM",
            "unknown_gene_features": unknown,
            "device": resolve_device(accelerator),
            "model_setup": {k: v for k, v in model.setup_.to_dict().items() if v is not None},
        },
        "timings": {"total": time.perf_counter() - t0},
    }
    logger.info("predict_profiles: %d sequences x %d tissues", n, T)
    return result
