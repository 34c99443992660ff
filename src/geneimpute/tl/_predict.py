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
    tss_as_int,
)
from .._docs import doc_params
from .._logging import logger, warn_data
from .._settings import Accelerator, resolve_device
from ..models import GeneInputs, HybridImputer
from ._model import check_interval, gene_reliability, in_units, resolve_model

#: Pretrained models :func:`predict_profiles` picks with ``model="auto"``.
SEQUENCE_MODEL = "gtex_v8_37tissues_sequence"
PROMOTER_MODEL = "gtex_v8_37tissues_promoter"

Sequences: TypeAlias = str | Path | Mapping[str, str] | pd.Series | AnnData


def _as_series(data: str | Path | Mapping[str, str] | pd.Series) -> tuple[pd.Series, str]:
    """Sequences indexed by name, and where they came from."""
    if isinstance(data, str | Path):
        from ..pp import read_fasta

        return read_fasta(data), f"FASTA {data}"
    if not isinstance(data, Mapping | pd.Series):
        msg = (
            "sequences must be a FASTA path, a {name: sequence} mapping, a pandas Series or an "
            f"AnnData with promoters in var, got {type(data).__name__}"
        )
        raise TypeError(msg)
    source = "Series" if isinstance(data, pd.Series) else "mapping"
    s = data.copy() if isinstance(data, pd.Series) else pd.Series(dict(data), dtype=object)
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
    """Return the 0-based TSS index of each sequence (each must be the window without one)."""
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
        return tss_as_int(t.loc[seqs.index].to_numpy(), seqs, what="tss_index")
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
            tss = tss_as_int(var[tss_col].to_numpy(), seqs, what=f"var[{tss_col!r}]")
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
    cropped, new_tss = seqs.copy(), np.full(len(seqs), -1, dtype=np.int64)
    up, down = window
    cropped[has], new_tss[has] = crop_to_window(
        seqs[has].tolist(), tss[has], upstream=up, downstream=down
    )
    var[promoter_key], var[tss_col] = cropped.to_numpy(), new_tss
    return var, source


def _sequence_inputs(
    var: pd.DataFrame, model: HybridImputer, promoter_key: str, source: str
) -> tuple[GeneInputs, list[str]]:
    """Return the model's inputs for ``var`` (no neighbours) and the unknown gene features."""
    table = gene_feature_table(var, promoter_key, use_structure="structure" in model.features_)
    unknown = [c for c in model.feature_names_ if c not in table.columns or table[c].isna().all()]
    if unknown:
        warn_data(
            f"gene features {unknown} are unknown for these sequences (no coordinates or "
            "transcript structure) and treated as missing (the network uses their training "
            "mean). Accuracy from sequence alone is in the model card "
            "(geneimpute.models.pretrained_card)",
            stacklevel=4,
        )
    table = table.reindex(columns=model.feature_names_)  # the unknown ones NaN
    window = model.config.promoter_window
    promoter = encode_promoters(
        var[promoter_key],
        var[f"{promoter_key}_tss_index"].to_numpy(),
        what=source,
        upstream=window[0],
        downstream=window[1],
    )
    inputs = GeneInputs(
        promoter=promoter,
        gene_features=table.to_numpy(dtype=np.float64),
        neighbors=no_neighbors(len(var), model.config.k_neighbors),
        feature_names=list(table.columns),
    )
    return inputs, unknown


@doc_params()
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

    No expression table is needed. Promoters (in transcription orientation) are cut to the
    model's window around the TSS (-249..+50 bp) before encoding, so longer records (Xpresso's
    10.5 kb) give their core's input. Method: Agarwal & Shendure, Cell Reports 2020
    (doi:10.1016/j.celrep.2020.107663), with the hybrid's CNN and XGBoost stage (Brown, Dong &
    Truong, Communications Biology 2026, doi:10.1038/s42003-026-10251-7).

    Parameters
    ----------
    sequences
        A FASTA path (record name = gene; :func:`~geneimpute.pp.read_fasta`), ``{name:
        sequence}``, a Series, or an AnnData with ``var[promoter_key]`` (and its
        ``_tss_index`` column; ``start``/``end`` and transcript-structure columns are used).
    model
        A sequence-only :class:`~geneimpute.models.HybridImputer` (``features=["promoter"]``
        or with ``"structure"``), a saved directory, a pretrained name
        (:func:`~geneimpute.models.pretrained`), or ``"auto"``:
        ``"gtex_v8_37tissues_sequence"`` when the input has ``start``, ``end`` and the
        structure columns, else ``"gtex_v8_37tissues_promoter"``.
    tss_index
        0-based TSS position in each sequence: None (each is the 300 bp window, TSS at 249, as
        EPDnew and :func:`~geneimpute.pp.extract_promoters` write them), one int, or a mapping
        name -> int; ignored for an AnnData with a ``_tss_index`` column.
    promoter_key
        ``var`` column of the promoters (AnnData input), and of the output.
    interval
        Confidence of the calibrated prediction interval (0.9); None for none.
    {accelerator}

    Returns
    -------
    AnnData
        The model's tissues x the sequences: ``X`` and ``layers["log1p_tpm"]`` log1p(TPM),
        ``layers["tpm"]`` TPM, ``layers["log1p_tpm_lower"]``, ``["log1p_tpm_upper"]``,
        ``["tpm_lower"]``, ``["tpm_upper"]`` the ``interval`` bounds (split conformal per
        tissue; all float32, clipped to [0, 1e6] TPM); ``var[promoter_key]`` the cropped
        window and its ``_tss_index``, ``var["reliability"]`` (as in
        :func:`impute_expression`); ``varm["promoter_embedding"]`` the CNN embeddings;
        ``uns["predict_profiles"]`` ``params`` and ``timings``.

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
    var, source = _gene_table(sequences, tss_index, promoter_key, model.config.promoter_window)
    if "neighbors" in model.features_:
        msg = (
            f"model {source_model!r} uses genomic neighbours (features {model.features_}): it "
            "needs an expression table of neighbour genes. Use geneimpute.tl.impute_expression "
            f"on a table, or a sequence-only model ({SEQUENCE_MODEL!r}, {PROMOTER_MODEL!r}) here"
        )
        raise ValueError(msg)
    inputs, unknown = _sequence_inputs(var, model, promoter_key, source)
    want = interval is not None and model.calibrated
    if interval is not None and not model.calibrated:
        warn_data("the model has no interval calibration; no intervals are written", stacklevel=3)
    n, T = len(var), len(model.tissues_)
    out = model.predict(
        np.full((n, T), np.nan),
        inputs,
        np.arange(n),
        accelerator=accelerator,
        return_embedding=True,
        return_sigma=want,
    )
    pred, emb, sigma = out if want else (*out, None)
    obs = pd.DataFrame(index=pd.Index(model.tissues_, name="tissue"))
    result = AnnData(X=in_units(pred, True).T.astype(np.float32), obs=obs, var=var)
    result.layers["log1p_tpm"] = in_units(pred, True).T.astype(np.float32)
    result.layers["tpm"] = in_units(pred, False).T.astype(np.float32)
    if sigma is not None and interval is not None:
        lo, hi = model.interval(pred, sigma, float(interval))
        for units, log1p in (("log1p_tpm", True), ("tpm", False)):
            for name, bound in (("lower", lo), ("upper", hi)):
                result.layers[f"{units}_{name}"] = in_units(bound, log1p).T.astype(np.float32)
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
