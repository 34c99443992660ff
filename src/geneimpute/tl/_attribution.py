"""Explain the promoter CNN: per-base attributions (Integrated Gradients) and motif summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import check_key, check_unique_var_names, gene_mask, promoter_onehot
from .._core.sequence import window_sequences
from .._docs import doc_params
from ..models import HybridImputer


def _readout(net, tissue: int | None, sd: np.ndarray):
    """Return the CNN branch read out to log1p units per gene (the mean over an ensemble)."""
    import torch

    scale = torch.from_numpy(np.asarray(sd, dtype=np.float32))
    members = getattr(net, "members", [net])

    def readout(x):
        out = torch.stack([m.cnn_head(m.cnn(x)) for m in members]).mean(dim=0) * scale
        return out.mean(dim=1) if tissue is None else out[:, tissue]

    return readout


def _require(module: str, extra: str = "interpret"):
    """Import an optional dependency or raise an ImportError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        msg = (
            f"this function needs {module.split('.')[0]!r}; install it with "
            f"pip install 'geneimpute[{extra}]'"
        )
        raise ImportError(msg) from None


def _jaspar_motifs(release: str) -> list[tuple[str, str, np.ndarray]]:
    """JASPAR CORE vertebrate motifs as ``(matrix_id, name, log-odds (4, length))``."""
    jaspardb = _require("pyjaspar").jaspardb
    motifs = jaspardb(release=release).fetch_motifs(collection="CORE", tax_group=["vertebrates"])
    pssms = [(m, m.counts.normalize(pseudocounts=0.5).log_odds()) for m in motifs]
    return [(m.matrix_id, m.name, np.array([p[b] for b in "ACGT"], dtype=float)) for m, p in pssms]


def _best_motif(seq: str, motifs: list[tuple[str, str, np.ndarray]]) -> tuple[str, str, float]:
    """Best JASPAR match of a k-mer on either strand: the overlap's PSSM score scaled to 0-1."""
    comp = str.maketrans("ACGT", "TGCA")
    best = ("", "", 0.0)
    for strand_seq in (seq, seq.translate(comp)[::-1]):
        codes = np.array(["ACGT".index(c) for c in strand_seq])
        k = len(codes)
        for mid, name, P in motifs:
            m = P.shape[1]
            w = min(k, m)
            for off in range(abs(m - k) + 1):
                cols = np.arange(off, off + w) if m >= k else np.arange(w)
                sub_codes = codes if m >= k else codes[off : off + w]
                Pw = P[:, cols]
                score = Pw[sub_codes, np.arange(w)].sum()
                lo, hi = Pw.min(axis=0).sum(), Pw.max(axis=0).sum()
                rel = (score - lo) / (hi - lo) if hi > lo else 0.0
                if rel > best[2] and w >= 6:
                    best = (mid, name, float(rel))
    return best


def _top_kmers(
    attr: np.ndarray, seq_of: list[str], rows: np.ndarray, kmer: int, top_k: int
) -> pd.DataFrame:
    """Return the ``top_k`` k-mers most often a gene's best-scoring ``kmer``-bp window."""
    counts: Counter[str] = Counter()
    scores: dict[str, list[float]] = {}
    for i in rows:
        w = pd.Series(attr[i]).rolling(kmer).sum().to_numpy()[kmer - 1 :]
        if np.all(np.isnan(w)):
            continue
        j = int(np.nanargmax(w))
        km = seq_of[i][j : j + kmer]
        if len(km) == kmer and "N" not in km:
            counts[km] += 1
            scores.setdefault(km, []).append(float(w[j]))
    top = pd.DataFrame(
        [(k, n, float(np.mean(scores[k]))) for k, n in counts.most_common(top_k)],
        columns=["kmer", "n_genes", "mean_attribution"],
    )
    top["jaspar_id"], top["jaspar_name"], top["motif_score"] = "", "", np.nan
    return top


@doc_params()
def attribute_promoters(
    adata: AnnData,
    model: HybridImputer,
    genes: str | Sequence[bool] | np.ndarray | None = None,
    *,
    tissue: str | None = None,
    n_steps: int = 32,
    kmer: int = 8,
    top_k: int = 15,
    jaspar_release: str | None = "JASPAR2024",
    min_motif_score: float = 0.95,
    promoter_key: str | None = None,
    key_added: str = "promoter_attribution",
    batch_size: int = 256,
    copy: bool = False,
) -> AnnData | None:
    """Per-base contributions of the promoter CNN, by Integrated Gradients (captum).

    Integrated Gradients (Sundararajan et al., ICML 2017) of the CNN branch's read-out (mean
    log1p TPM over tissues, or one ``tissue``) with respect to the one-hot promoter, from a
    baseline without base identity, summed over the bases: log1p TPM contributed per
    position. Each gene's best ``kmer``-bp window is pooled over genes and matched to JASPAR
    CORE vertebrate motifs (``pyjaspar``).

    Parameters
    ----------
    adata
        Genes in ``var`` with ``promoter_seq`` (as for :func:`~geneimpute.tl.train`).
    model
        A fitted :class:`~geneimpute.models.HybridImputer` with a CNN.
    genes
        Genes to explain (boolean mask or ``var`` column); default: every gene with a promoter.
    tissue
        Explain this tissue's read-out instead of the mean over tissues.
    n_steps
        Integration steps.
    kmer
        Width (bp) of the windows summarised.
    top_k
        Number of k-mers reported.
    jaspar_release
        JASPAR release to match against (None: no matching).
    min_motif_score
        Minimum relative PSSM score (0-1) for a JASPAR match to be reported.
    {promoter_key_model}
    key_added
        Keys written.
    batch_size
        Genes per attribution batch.
    {copy}

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes ``varm[key_added]`` (float32
    ``(n_genes, L)`` over the model's window, position ``i`` = bp ``i - promoter_upstream``
    from the TSS; NaN where not explained or without sequence) and ``uns[key_added]``:
    ``params`` and ``top_kmers`` (``kmer``, ``n_genes``, ``mean_attribution``, ``jaspar_id``,
    ``jaspar_name``, ``motif_score``).

    Raises
    ------
    ValueError
        If the model has no CNN, ``tissue`` is unknown, or no selected gene has a promoter.

    Examples
    --------
    >>> ge.tl.attribute_promoters(adata, model, top_k=10)  # doctest: +SKIP
    >>> adata.uns["promoter_attribution"]["top_kmers"]  # doctest: +SKIP
    """
    key_added = check_key(key_added)
    IntegratedGradients = _require("captum.attr").IntegratedGradients
    import torch

    check_unique_var_names(adata)
    model.check_fitted()
    if model.net_ is None or model.net_.cnn is None:
        msg = "the model has no promoter CNN (trained without 'promoter' features)"
        raise ValueError(msg)
    t_idx = None
    if tissue is not None:
        if tissue not in model.tissues_:
            msg = f"tissue {tissue!r} is not one of the model's tissues"
            raise ValueError(msg)
        t_idx = model.tissues_.index(tissue)
    key = promoter_key or model.setup_.promoter_key or "promoter_seq"
    if key not in adata.var.columns:
        msg = f"adata.var has no promoter column {key!r}; pass promoter_key="
        raise KeyError(msg)
    upstream, downstream = model.config.promoter_window
    X = promoter_onehot(adata.var, key, upstream=upstream, downstream=downstream)
    has_seq = X[:, :, 4].sum(axis=1) > 0
    sel = gene_mask(adata, genes, has_seq, "genes") & has_seq
    if not sel.any():
        msg = f"no selected gene has a promoter sequence in var[{key!r}]"
        raise ValueError(msg)
    rows = np.flatnonzero(sel)
    net = model.net_.cpu().eval()
    ig = IntegratedGradients(_readout(net, t_idx, model.sd_))
    attr = np.full(X.shape[:2], np.nan, dtype=np.float32)
    for s in range(0, len(rows), batch_size):
        r = rows[s : s + batch_size]
        x = torch.from_numpy(X[r])
        base = x.clone()
        base[:, :, :4] = 0
        a = ig.attribute(x, baselines=base, n_steps=n_steps, internal_batch_size=batch_size)
        per_base = a[:, :, :4].sum(dim=2).detach().numpy()
        per_base[X[r][:, :, 4] == 0] = np.nan
        attr[r] = per_base

    top = _top_kmers(attr, window_sequences(X), rows, kmer, top_k)
    if jaspar_release and len(top):
        motifs = _jaspar_motifs(jaspar_release)
        for j, km in enumerate(top["kmer"]):
            mid, name, score = _best_motif(km, motifs)
            if score >= min_motif_score:
                top.loc[j, ["jaspar_id", "jaspar_name"]] = mid, name
                top.loc[j, "motif_score"] = score
    adata = adata.copy() if copy else adata
    adata.varm[key_added] = attr
    adata.uns[key_added] = {
        "params": {
            "method": "integrated_gradients",
            "promoter_key": key,
            "n_steps": int(n_steps),
            "tissue": tissue or "mean over tissues",
            "tss_index": int(upstream),
            "n_genes": int(len(rows)),
            "kmer": int(kmer),
            "jaspar_release": jaspar_release or "",
        },
        "top_kmers": top,
    }
    return adata if copy else None
