"""Accuracy scoreboard: the hybrid, its ablations and peer methods on held-out genes.

Usage: python benchmarks/accuracy.py [--quick] [--seeds 0 1 2 3 4] [--datasets gtex roadmap]
       python benchmarks/accuracy.py --partial [--seeds ...] [--datasets ...]

Datasets: the bundled GTEx v8 tissue table (37 tissues, TPM) and Roadmap Epigenomics
57epigenomes RPKM (read from ../shared/data; genes joined to the bundled coordinates and
promoters by Ensembl ID). Values are log1p(TPM / RPKM).

Protocol: hold out a seeded random 10% of genes; the rest are reference genes (neighbour
features only use reference genes). Metrics on held-out genes: per-tissue Pearson r across
genes, per-gene Pearson r across tissues on tissue-centred values, R^2, MSE
(``ge.tl.regression_metrics``); the same on the lowest-expressed third of held-out genes
(suffix ``_low``); and fit + predict seconds. Sequence-only rows are also scored on a
chromosome-held-out split (chr1, chr8, chr15 held out: no paralog or neighbour leakage), as rows
``*_chrom_holdout``.

Every geneimpute row goes through the public API on an AnnData whose held-out genes are NaN
(a float64 log1p layer, so predictions are scored unclipped and unrounded):
``ge.tl.train`` (package defaults; ablations leave parts out with ``components=``) then
``ge.tl.impute_expression`` with that model, and ``ge.tl.impute_neighbors`` for the
distance-based rows. Neighbours are searched among each split's reference genes and the tissue
correlation is computed from them. The Xpresso-style peer CNN (``ge.models.PromoterCNN`` and a
linear read-out) trains in a plain torch loop here.

Partial-profile protocol (``--partial``): the same 10% held-out genes (same seeds) keep a
random 90%, 70%, 50% or 10% of their tissues (fractions hidden: 0.1, 0.3, 0.5, 0.9; each gene
its own random tissues); only the hidden cells are scored (per-tissue r across the genes whose
cell is hidden, per-gene r across a gene's hidden tissues after tissue centring, R^2, MSE:
``ge.tl.evaluate(..., only_imputed=True)``). Fraction 1.0 (every tissue hidden) is the
fully-missing case, for comparison. Rows: ``hybrid`` (package defaults; the model trained on
the fully-missing split, applied with ``ge.tl.impute_expression`` to the partly measured genes,
which conditions the hybrid's errors in a gene's measured tissues onto its hidden ones),
``hybrid_unconditioned`` (its prediction without the measured tissues), ``observed_mean`` (the
gene's mean over its measured tissues), ``tissue_corr_ridge`` (ridge regression from the
measured tissues to each hidden one over the reference genes, one fit per pattern of measured
tissues), ``knn_imputer`` (``sklearn.impute.KNNImputer`` over genes, k=10, reference + held-out
genes), ``iterative_imputer`` (``sklearn.impute.IterativeImputer``, BayesianRidge, 10 rounds)
and ``distance_k10`` (the distance-based method). Written to accuracy.json under ``"partial"``
(``{"seeds", "defaults", dataset: {fraction: {row: {metric: {"mean", "sd", "per_seed"}}}}}``,
other keys kept).

Writes benchmarks/results/accuracy.json
({"seeds": [...], "defaults": {HybridConfig fields}, dataset: {row: {metric: {"mean", "sd",
"per_seed"}}}}; written after each dataset; a run of some datasets keeps the others from the
file when its seeds and package defaults are the same; ``per_seed`` in the order of ``seeds``,
so rows can be paired seed by seed) and prints the tables; ``python benchmarks/report.py``
renders them into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch
from report import PARTIAL_COLS, accuracy_table
from sklearn.metrics import r2_score

import geneimpute as ge

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
HOLDOUT_CHROMS = ("chr1", "chr8", "chr15")
DATASETS = ("gtex", "roadmap")
PROMOTER_KEY = "promoter_seq"
LOG1P = "log1p"  # the float64 log1p layer every geneimpute row reads
#: every call reads the log1p layer, searches neighbours among the split's reference genes and
#: computes the tissue correlation from them (nothing stored is reused between rows)
INPUTS = {"layer": LOG1P, "is_log1p": True, "neighbors_key": None, "tissue_correlation_key": None}
COMPONENTS = ge.models.HybridConfig().components  # the defaults: every component


def without(*parts: str) -> dict[str, list[str]]:
    """``train`` options for the hybrid without ``parts`` (names of ``COMPONENTS``)."""
    return {"components": [c for c in COMPONENTS if c not in parts]}


ABLATIONS = {
    "hybrid": {},
    "hybrid_no_cnn": without("cnn"),
    "hybrid_no_transformer": without("transformer"),
    "hybrid_no_tissue_corr": without("tissue_correlation"),
    "hybrid_no_distance": without("distance"),
    "xgboost_features": without("cnn", "transformer"),
    # Xpresso setting: promoter CNN + promoter composition + transcript structure, no neighbours
    "sequence_only": without("transformer", "neighbor_profile", "distance"),
}


def load(name: str):
    gtex = ge.datasets.gtex_tissues()
    if name == "gtex":
        return gtex
    rp = ge.pp.read_wide_tsv(SHARED / "roadmap_57epigenomes.RPKM.pc.gz", index_col_false=True)
    keep = rp.var_names.intersection(gtex.var_names)
    print(
        f"roadmap: {rp.n_vars} genes x {rp.n_obs} epigenomes; {len(keep)} have bundled "
        "coordinates (the rest are left out)"
    )
    rp = rp[:, keep].copy()
    rp.var = gtex.var.loc[keep].copy()
    return rp


def metrics_with_low(P: np.ndarray, T: np.ndarray) -> dict[str, float]:
    out = ge.tl.regression_metrics(P, T)
    # Xpresso's figure: R^2 of the median expression across tissues
    out["r2_median"] = float(r2_score(np.median(T, axis=1), np.median(P, axis=1)))
    low = T.mean(axis=1) <= np.quantile(T.mean(axis=1), 1 / 3)
    out |= {f"{k}_low": v for k, v in ge.tl.regression_metrics(P[low], T[low]).items()}
    return out


def kmer_features(seqs: pd.Series, k: int = 4) -> np.ndarray:
    """Xpresso's baseline input: normalised k-mer counts of the promoter (+ a missing flag)."""
    kmers = {"".join(p): i for i, p in enumerate(itertools.product("ACGT", repeat=k))}
    F = np.zeros((len(seqs), len(kmers) + 1))
    for i, s in enumerate(seqs.fillna("").astype(str)):
        if not s:
            F[i, -1] = 1
            continue
        for j in range(len(s) - k + 1):
            c = kmers.get(s[j : j + k])
            if c is not None:
                F[i, c] += 1
        F[i, :-1] /= max(len(s) - k + 1, 1)
    return F


def fit_kmer_ridge(adata, Y, train, test, seed):
    from sklearn.linear_model import RidgeCV

    F = kmer_features(adata.var[PROMOTER_KEY])
    m = RidgeCV(alphas=np.logspace(-2, 3, 8)).fit(F[train], Y[train])
    return m.predict(F[test])


def promoter_windows(var: pd.DataFrame, upstream: int = 249, downstream: int = 50) -> np.ndarray:
    """``(n_genes, upstream + downstream + 1, 5)`` one-hot promoters aligned on the TSS.

    The hybrid's CNN input: each promoter (TSS at ``var["promoter_seq_tss_index"]``) is cut to
    ``-upstream..+downstream`` and placed with its TSS at index ``upstream``; channels A, C, G,
    T (``ge.pp.one_hot_encode``) and "observed" (0 outside the sequence and for genes with none).
    """
    seqs = var[PROMOTER_KEY].astype(object).fillna("").astype(str).to_numpy()
    tss = var[f"{PROMOTER_KEY}_tss_index"].to_numpy(dtype=np.int64)
    cut = [
        (s[max(0, t - upstream) : t + downstream + 1], min(t, upstream))
        for s, t in zip(seqs, tss, strict=True)
    ]
    out = np.zeros((len(seqs), upstream + downstream + 1, 5), np.float32)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (s, t) in enumerate(cut):
        if s:
            groups.setdefault((len(s), t), []).append(i)
    for (length, t), rows in groups.items():
        a = upstream - t
        out[rows, a : a + length, :4] = ge.pp.one_hot_encode([cut[i][0] for i in rows], length)
        out[rows, a : a + length, 4] = 1
    return out


def train_early_stopping(net, train, loss_fn, val_fn, rng, epochs: int) -> None:
    """AdamW (rate 2e-3, weight decay 1e-4), shuffled batches of 256 (a last batch of 1 is
    skipped: batch norm), early stopping with patience 2 on ``val_fn``, best weights kept."""
    threads = torch.get_num_threads()
    torch.set_num_threads(ge.settings.n_jobs or len(os.sched_getaffinity(0)))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    best, best_state, bad = np.inf, None, 0
    try:
        for _ in range(epochs):
            net.train()
            perm = rng.permutation(train)
            for s in range(0, len(perm), 256):
                b = perm[s : s + 256]
                if len(b) < 2:
                    continue
                loss = loss_fn(b)
                opt.zero_grad()
                loss.backward()
                opt.step()
            val = float(val_fn())
            if val < best - 1e-4:
                best, bad = val, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
                if bad >= 2:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
    finally:
        torch.set_num_threads(threads)


def fit_xpresso_cnn(adata, Y, train, test, seed, epochs):
    """Promoter-only CNN (Xpresso-style) predicting the whole profile, no other features.

    The hybrid's promoter CNN (``ge.models.PromoterCNN``) and a linear read-out, trained with
    :func:`train_early_stopping` (10% of the training genes held aside) for up to ``epochs``.
    """
    torch.manual_seed(seed)
    X = torch.from_numpy(promoter_windows(adata.var))
    Yt = torch.from_numpy(Y.astype(np.float32))
    cnn = ge.models.PromoterCNN(32)
    head = torch.nn.Linear(32, Y.shape[1])
    with torch.no_grad():
        head.bias.copy_(Yt[train].mean(0))
    net = torch.nn.Sequential(cnn, head)
    rng = np.random.default_rng(seed)
    train = rng.permutation(train)
    val, train = train[: len(train) // 10], train[len(train) // 10 :]

    def loss_fn(b: np.ndarray) -> torch.Tensor:
        return ((net(X[b]) - Yt[b]) ** 2).mean()

    def val_fn() -> float:
        net.eval()
        with torch.no_grad():
            return float(((net(X[val]) - Yt[val]) ** 2).mean())

    train_early_stopping(net, train, loss_fn, val_fn, rng, epochs)
    net.eval()
    with torch.no_grad():
        return net(X[test]).numpy().astype(np.float64)


def masked(adata, hidden: np.ndarray) -> ad.AnnData:
    """A copy of ``adata`` whose ``hidden`` genes are NaN, with the float64 log1p layer."""
    out = adata.copy()
    Y = np.log1p(np.asarray(adata.X, dtype=np.float64))
    Y[:, hidden] = np.nan
    out.layers[LOG1P] = Y
    out.X = np.where(hidden[None, :], np.nan, np.asarray(adata.X))
    return out


def predicted(adata, key: str, genes: np.ndarray) -> np.ndarray:
    """``layers[key]`` of ``genes`` as genes x tissues (log1p)."""
    return np.asarray(adata.layers[key], dtype=np.float64)[:, genes].T


def fit_hybrid(data, seed: int, options: dict):
    """``ge.tl.train`` on ``data``'s reference genes; the model and its predictions of the
    NaN genes (``ge.tl.impute_expression``, no intervals)."""
    model = ge.tl.train(data, random_state=seed, **INPUTS, **options)
    ge.tl.impute_expression(data, model, interval=None, key_added="hybrid_pred", **INPUTS)
    hidden = np.isnan(np.asarray(data.layers[LOG1P])).all(axis=0)
    return model, predicted(data, "hybrid_pred", hidden)


def distance_profiles(data, hidden: np.ndarray, k: int, fallback: np.ndarray) -> np.ndarray:
    """The distance-based method (``ge.tl.impute_neighbors``) for ``hidden`` genes; genes
    without a reference neighbour get ``fallback`` (the mean reference profile)."""
    ge.tl.impute_neighbors(
        data,
        k=k,
        layer=LOG1P,
        is_log1p=True,
        neighbors_key=None,
        interval=None,
        key_added="distance_pred",
    )
    P = predicted(data, "distance_pred", hidden)
    return np.where(np.isfinite(P), P, fallback)


def split(adata, seed: int):
    """log1p values ``(genes, tissues)``, the seeded 10% held-out mask and the AnnData with
    those genes NaN: the split every accuracy row of a seed shares."""
    Yall = np.log1p(np.asarray(adata.X, dtype=np.float64)).T
    n = adata.n_vars
    rng = np.random.default_rng(seed)
    test = np.zeros(n, bool)
    test[rng.choice(n, n // 10, replace=False)] = True
    return Yall, test, masked(adata, test)


def run_seed(adata, name, seed, quick):
    Yall, test, data = split(adata, seed)
    ref = ~test
    T = Yall[test]
    res: dict[str, dict[str, float]] = {}

    def record(row, P, t0):
        res[row] = metrics_with_low(P, T) | {"seconds": time.perf_counter() - t0}
        print(
            f"  {name} seed {seed} {row:24s} r_tissue {res[row]['pearson_tissue']:.3f} "
            f"r_gene_c {res[row]['pearson_gene_centered']:.3f} R2 {res[row]['r2']:.3f} "
            f"({res[row]['seconds']:.0f} s)",
            flush=True,
        )

    t0 = time.perf_counter()
    mean_ref = Yall[ref].mean(axis=0)
    record("mean_profile", np.tile(mean_ref, (test.sum(), 1)), t0)
    for k in (1, 5, 20):
        t0 = time.perf_counter()
        record(f"distance_k{k}", distance_profiles(data, test, k, mean_ref), t0)
    epochs = 3 if quick else 10
    train_idx, test_idx = np.flatnonzero(ref), np.flatnonzero(test)
    t0 = time.perf_counter()
    record("kmer_ridge", fit_kmer_ridge(adata, Yall, train_idx, test_idx, seed), t0)
    t0 = time.perf_counter()
    record("xpresso_cnn", fit_xpresso_cnn(adata, Yall, train_idx, test_idx, seed, epochs), t0)
    for row, options in ABLATIONS.items():
        t0 = time.perf_counter()
        record(row, fit_hybrid(data, seed, options)[1], t0)
    # chromosome hold-out for the sequence-only models
    hold = adata.var["chrom"].isin(HOLDOUT_CHROMS).to_numpy()
    tr, te = np.flatnonzero(~hold), np.flatnonzero(hold)
    Th = Yall[hold]
    for row, fn in (("kmer_ridge", fit_kmer_ridge), ("xpresso_cnn", fit_xpresso_cnn)):
        t0 = time.perf_counter()
        args = (adata, Yall, tr, te, seed) + ((epochs,) if row == "xpresso_cnn" else ())
        P = fn(*args)
        res[f"{row}_chrom_holdout"] = metrics_with_low(P, Th) | {
            "seconds": time.perf_counter() - t0
        }
    t0 = time.perf_counter()
    P = fit_hybrid(masked(adata, hold), seed, ABLATIONS["sequence_only"])[1]
    res["sequence_only_chrom_holdout"] = metrics_with_low(P, Th) | {
        "seconds": time.perf_counter() - t0
    }
    return res


PARTIAL_FRACTIONS = (0.1, 0.3, 0.5, 0.9, 1.0)


def hide_tissues(n_genes: int, n_tissues: int, fraction: float, seed: int) -> np.ndarray:
    """``(n_genes, n_tissues)`` bool: True for each gene's randomly hidden tissues."""
    rng = np.random.default_rng([seed, round(fraction * 100)])
    k = min(n_tissues, max(1, round(fraction * n_tissues)))
    order = np.argsort(rng.random((n_genes, n_tissues)), axis=1)
    hidden = np.zeros((n_genes, n_tissues), bool)
    np.put_along_axis(hidden, order[:, :k], True, axis=1)
    return hidden


def tissue_corr_ridge(Yref: np.ndarray, Yo: np.ndarray) -> np.ndarray:
    """Predict each gene's hidden tissues from its measured ones: ridge over reference genes,
    one fit per pattern of measured tissues (genes with none keep the mean profile)."""
    from sklearn.linear_model import Ridge

    out = np.tile(Yref.mean(axis=0), (len(Yo), 1))
    seen = np.isfinite(Yo)
    some = np.flatnonzero(seen.any(axis=1))
    patterns, which = np.unique(seen[some], axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        genes, obs, hid = some[which.ravel() == p], pattern, ~pattern
        if hid.any():
            m = Ridge(alpha=1.0).fit(Yref[:, obs], Yref[:, hid])
            out[np.ix_(genes, np.flatnonzero(hid))] = m.predict(Yo[np.ix_(genes, obs)])
    return out


def masked_scores(P: np.ndarray, T: np.ndarray, hidden: np.ndarray) -> dict[str, float]:
    """``ge.tl.evaluate`` on the ``hidden`` cells only (genes x tissues log1p arrays)."""
    scored = ad.AnnData(np.asarray(T.T))
    scored.layers["pred"] = np.asarray(P.T, dtype=np.float64)
    scored.layers["pred_mask"] = np.asarray(hidden.T)
    s = ge.tl.evaluate(scored, T.T, key="pred", is_log1p=True, only_imputed=True)
    return {m: float(s[m]) for m in ("pearson_tissue", "pearson_gene_centered", "r2", "mse")}


def run_partial_seed(adata, name, seed):
    """Scores of every partial-profile row at every fraction for one seed (see module doc)."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer

    Yall, test, data = split(adata, seed)
    n_t = Yall.shape[1]
    ref, te = ~test, np.flatnonzero(test)
    Yref, T = Yall[ref], Yall[test]
    t0 = time.perf_counter()
    model, H = fit_hybrid(data, seed, {})  # package defaults
    fit_s = time.perf_counter() - t0
    D = distance_profiles(data, test, 10, Yref.mean(axis=0))
    res: dict[str, dict[str, dict[str, float]]] = {}
    for frac in PARTIAL_FRACTIONS:
        hidden = hide_tissues(len(te), n_t, frac, seed)
        Yo = np.where(hidden, np.nan, T)
        rows: dict[str, tuple[np.ndarray, float]] = {}
        part = data.copy()
        part.layers[LOG1P][:, te] = Yo.T
        t0 = time.perf_counter()
        ge.tl.impute_expression(
            part, model, test, reference=ref, interval=None, key_added="cond", **INPUTS
        )
        rows["hybrid"] = (predicted(part, "cond", test), fit_s + time.perf_counter() - t0)
        rows["hybrid_unconditioned"] = (H, fit_s)
        rows["distance_k10"] = (D, 0.0)
        if frac < 1:
            t0 = time.perf_counter()
            with np.errstate(invalid="ignore"):
                om = np.nanmean(Yo, axis=1, keepdims=True)
            rows["observed_mean"] = (np.repeat(om, n_t, axis=1), time.perf_counter() - t0)
            t0 = time.perf_counter()
            rows["tissue_corr_ridge"] = (tissue_corr_ridge(Yref, Yo), time.perf_counter() - t0)
            stacked = np.vstack([Yref, Yo])
            t0 = time.perf_counter()
            P = KNNImputer(n_neighbors=10).fit_transform(stacked)[len(Yref) :]
            rows["knn_imputer"] = (P, time.perf_counter() - t0)
            t0 = time.perf_counter()
            it = IterativeImputer(max_iter=10, random_state=seed)
            P = it.fit_transform(stacked)[len(Yref) :]
            rows["iterative_imputer"] = (P, time.perf_counter() - t0)
        key = f"{frac:.1f}"
        res[key] = {}
        for row, (P, sec) in rows.items():
            res[key][row] = masked_scores(P, T, hidden) | {"seconds": sec}
        print(
            f"  {name} seed {seed} hidden {key}: "
            + " | ".join(
                f"{r} r {v['pearson_tissue']:.3f} R2 {v['r2']:.3f}" for r, v in res[key].items()
            ),
            flush=True,
        )
    return res


def summarise_partial(per_seed: list[dict]) -> dict:
    """``{fraction: {row: {metric: {"mean", "sd", "per_seed"}}}}``."""
    return {f: summarise([s[f] for s in per_seed]) for f in per_seed[0]}


def main_partial(args) -> None:
    out = json.loads(args.output.read_text()) if args.output.exists() else {}
    out["partial"] = {"seeds": args.seeds, "defaults": asdict(ge.models.HybridConfig())}
    for name in args.datasets:
        adata = load(name)
        print(f"{name}: {adata.n_obs} tissues x {adata.n_vars} genes; seeds {args.seeds}")
        per_seed = [run_partial_seed(adata, name, s) for s in args.seeds]
        out["partial"][name] = summarise_partial(per_seed)
        for frac, rows in out["partial"][name].items():
            print(f"\n{name}, {frac} of tissues hidden:\n" + accuracy_table(rows, PARTIAL_COLS))
        args.output.write_text(json.dumps(out, indent=2))  # after each dataset
    print(f"wrote {args.output} (key 'partial')")


def summarise(per_seed: list[dict]) -> dict:
    """``{row: {metric: {"mean", "sd", "per_seed"}}}``; ``per_seed`` follows the seed order."""
    rows = per_seed[0].keys()
    return {
        row: {
            m: {
                "mean": float(np.mean([s[row][m] for s in per_seed])),
                "sd": float(np.std([s[row][m] for s in per_seed])),
                "per_seed": [float(s[row][m]) for s in per_seed],
            }
            for m in per_seed[0][row]
        }
        for row in rows
    }


def kept_datasets(path: Path, seeds: list[int], key: str, settings: object) -> dict:
    """The datasets of results file ``path`` whose run had these ``seeds`` and ``settings``
    (recorded under ``key``): a run of some datasets keeps the others ({} if none match)."""
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    if old.get("seeds") != seeds or old.get(key) != settings:
        return {}
    # with their notes (``roadmap_seeds``: a dataset run on other seeds, by hand)
    return {k: v for k, v in old.items() if k.split("_")[0] in DATASETS}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one seed, GTEx only, 3-epoch peer CNN")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    p.add_argument("--output", type=Path, default=RESULTS / "accuracy.json")
    p.add_argument("--partial", action="store_true", help="the partial-profile protocol only")
    args = p.parse_args()
    ge.settings.progress = False
    if args.partial:
        main_partial(args)
        return
    seeds = args.seeds[:1] if args.quick else args.seeds
    datasets = ["gtex"] if args.quick else args.datasets
    defaults = json.loads(json.dumps(asdict(ge.models.HybridConfig())))  # as the JSON holds it
    out: dict = {"seeds": seeds, "defaults": defaults}
    out |= kept_datasets(args.output, seeds, "defaults", defaults)
    if args.output.exists():  # the partial protocol records its own seeds and defaults
        old = json.loads(args.output.read_text())
        out |= {k: v for k, v in old.items() if k == "partial"}
    for name in datasets:
        adata = load(name)
        print(f"{name}: {adata.n_obs} tissues x {adata.n_vars} genes; seeds {seeds}")
        out[name] = summarise([run_seed(adata, name, s, args.quick) for s in seeds])
        write(args, out)  # after each dataset: a long run keeps what it finished


def write(args: argparse.Namespace, out: dict) -> None:
    """Write ``out`` to ``args.output`` and print its tables."""
    for name in (d for d in DATASETS if d in out):
        best = max(out[name][f"distance_k{k}"]["pearson_tissue"]["mean"] for k in (1, 5, 20))
        hyb = out[name]["hybrid"]["pearson_tissue"]["mean"]
        print(f"\n{name}:\n" + accuracy_table(out[name]))
        print(f"\nhybrid per-tissue r / best distance-based: {hyb / best:.2f}x")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
