"""Accuracy scoreboard: the hybrid, its ablations and peer methods on held-out genes.

Usage: python benchmarks/accuracy.py [--quick] [--seeds 0 1 2 3 4] [--datasets gtex roadmap]
       python benchmarks/accuracy.py --partial [--seeds ...] [--datasets ...]

Datasets: the bundled GTEx v8 tissue table (37 tissues, TPM) and Roadmap Epigenomics
57epigenomes RPKM (read from ../shared/data; genes joined to the bundled coordinates and
promoters by Ensembl ID). Values are log1p(TPM / RPKM).

Protocol: hold out a seeded random 10% of genes; the rest are reference genes (neighbour
features only use reference genes). Metrics on held-out genes: per-tissue Pearson r across
genes, per-gene Pearson r across tissues on tissue-centred values, R^2, MSE; the same on the
lowest-expressed third of held-out genes (suffix ``_low``); and fit + predict seconds.
Sequence-only rows are also scored on a chromosome-held-out split (chr1, chr8, chr15 held out:
no paralog or neighbour leakage), as rows ``*_chrom_holdout``.

Partial-profile protocol (``--partial``): the same 10% held-out genes (same seeds) keep a
random 90%, 70%, 50% or 10% of their tissues (fractions hidden: 0.1, 0.3, 0.5, 0.9; each gene
its own random tissues); only the hidden cells are scored (per-tissue r across the genes whose
cell is hidden, per-gene r across a gene's hidden tissues after tissue centring, R^2, MSE:
``geneimpute._core.metrics.masked_metrics``). Fraction 1.0 (every tissue hidden) is the
fully-missing case, for comparison. Rows: ``hybrid`` (package defaults; the hybrid's errors
in a gene's measured tissues conditioned onto its hidden ones,
:class:`~geneimpute.models.ObservedTissueConditioner`), ``hybrid_unconditioned`` (its
prediction without the measured tissues), ``observed_mean`` (the gene's mean over its measured
tissues), ``tissue_corr_ridge`` (ridge regression from the measured tissues to each hidden one
over the reference genes, one fit per pattern of measured tissues), ``knn_imputer``
(``sklearn.impute.KNNImputer`` over genes, k=10, reference + held-out genes),
``iterative_imputer`` (``sklearn.impute.IterativeImputer``, BayesianRidge, 10 rounds) and
``distance_k10`` (the distance-based method). Written to accuracy.json under ``"partial"``
(``{dataset: {fraction: {row: {metric: {"mean", "sd", "per_seed"}}}}}``, other keys kept) and to
benchmarks/results/accuracy_partial.md.

Writes benchmarks/results/accuracy.json
({"seeds": [...], "defaults": {HybridConfig fields}, dataset: {row: {metric: {"mean", "sd",
"per_seed"}}}}; written after each dataset; a run of some datasets keeps the others from the
file when its seeds and package defaults are the same; ``per_seed`` in the
order of ``seeds``, so ``benchmarks/paired_differences.py`` can pair rows seed by seed) and
benchmarks/results/accuracy.md, and prints the tables. The peer CNN and the hybrid train
through the package's one training loop (``geneimpute._core.training.fit_early_stopping``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import r2_score

import geneimpute as ge
from geneimpute._anndata import promoter_onehot
from geneimpute._core.correlation import correlation_matrix
from geneimpute._core.metrics import regression_metrics
from geneimpute._core.neighbors import idw_profiles
from geneimpute._core.training import fit_early_stopping
from geneimpute.models import HybridConfig, HybridImputer, PromoterCNN
from geneimpute.models._conditioning import observation_patterns
from geneimpute.tl._inputs import InputSources, build_inputs

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
HOLDOUT_CHROMS = ("chr1", "chr8", "chr15")
DATASETS = ("gtex", "roadmap")
PROMOTER_KEY = "promoter_seq"
ABLATIONS = {
    "hybrid": {},
    "hybrid_no_cnn": {"use_cnn": False},
    "hybrid_no_transformer": {"use_transformer": False},
    "hybrid_no_tissue_corr": {"use_tissue_correlation": False},
    "hybrid_no_distance": {"use_distance": False},
    "xgboost_features": {"use_cnn": False, "use_transformer": False},
    # Xpresso setting: promoter CNN + promoter composition + transcript structure, no neighbours
    "sequence_only": {
        "use_transformer": False,
        "use_neighbor_features": False,
        "use_distance": False,
    },
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
    out = regression_metrics(P, T)
    # Xpresso's figure: R^2 of the median expression across tissues
    out["r2_median"] = float(r2_score(np.median(T, axis=1), np.median(P, axis=1)))
    low = T.mean(axis=1) <= np.quantile(T.mean(axis=1), 1 / 3)
    out |= {f"{k}_low": v for k, v in regression_metrics(P[low], T[low]).items()}
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


def fit_xpresso_cnn(adata, Y, train, test, seed, epochs):
    """Promoter-only CNN (Xpresso-style) predicting the whole profile, no other features.

    Trained through the package's one training loop (``fit_early_stopping``: AdamW, batches of
    256, early stopping with patience 2 on 10% of the training genes held aside), for up to
    ``epochs`` epochs.
    """
    torch.manual_seed(seed)
    X = torch.from_numpy(promoter_onehot(adata.var, PROMOTER_KEY))
    Yt = torch.from_numpy(Y.astype(np.float32))
    cnn = PromoterCNN(32)
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

    fit_early_stopping(
        net,
        train,
        loss_fn,
        val_fn,
        rng=rng,
        max_epochs=epochs,
        patience=2,
        batch_size=256,
        learning_rate=2e-3,
        weight_decay=1e-4,
        min_batch=2,  # batch norm
        desc="xpresso_cnn",
        progress=False,
    )
    net.eval()
    with torch.no_grad():
        return net(X[test]).numpy().astype(np.float64)


def gene_inputs(adata, reference: np.ndarray, k: int = 20):
    """Promoters, gene features and a fresh neighbour search over ``reference`` genes."""
    return build_inputs(
        adata,
        reference,
        k=k,
        promoter_key=PROMOTER_KEY,
        neighbors_key=None,  # search among this split's reference genes
        use_structure=True,
        sources=InputSources(),
    )


def split(adata, seed: int):
    """log1p values ``(genes, tissues)``, the seeded 10% held-out mask and the reference-only
    matrix (held-out rows NaN): the split every accuracy row of a seed shares."""
    Yall = np.log1p(np.asarray(adata.X, dtype=np.float64)).T
    n = adata.n_vars
    rng = np.random.default_rng(seed)
    test = np.zeros(n, bool)
    test[rng.choice(n, n // 10, replace=False)] = True
    return Yall, test, np.where(~test[:, None], Yall, np.nan)


def run_seed(adata, name, seed, quick):
    Yall, test, Yobs = split(adata, seed)
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
    record("mean_profile", np.tile(Yall[ref].mean(axis=0), (test.sum(), 1)), t0)
    inputs = gene_inputs(adata, ref)
    for k in (1, 5, 20):
        t0 = time.perf_counter()
        P = idw_profiles(Yobs, inputs.neighbors, k)[test]
        P = np.where(np.isfinite(P), P, Yall[ref].mean(axis=0))
        record(f"distance_k{k}", P, t0)
    epochs = 3 if quick else 10
    train_idx, test_idx = np.flatnonzero(ref), np.flatnonzero(test)
    t0 = time.perf_counter()
    record("kmer_ridge", fit_kmer_ridge(adata, Yall, train_idx, test_idx, seed), t0)
    t0 = time.perf_counter()
    record("xpresso_cnn", fit_xpresso_cnn(adata, Yall, train_idx, test_idx, seed, epochs), t0)
    C = correlation_matrix(Yall[ref])
    for row, abl in ABLATIONS.items():
        t0 = time.perf_counter()
        m = HybridImputer(random_state=seed, **abl)  # package defaults
        m.fit(Yobs, inputs, list(adata.obs_names), C, accelerator="auto")
        record(row, m.predict(Yobs, inputs, test_idx), t0)
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
    Yh = np.where(hold[:, None], np.nan, Yall)
    inputs_h = gene_inputs(adata, ~hold)
    m = HybridImputer(random_state=seed, **ABLATIONS["sequence_only"])
    m.fit(Yh, inputs_h, list(adata.obs_names), correlation_matrix(Yall[~hold]), accelerator="auto")
    res["sequence_only_chrom_holdout"] = metrics_with_low(m.predict(Yh, inputs_h, te), Th) | {
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
    """Predict each gene's hidden tissues from its measured ones: ridge over reference genes."""
    from sklearn.linear_model import Ridge

    out = np.tile(Yref.mean(axis=0), (len(Yo), 1))
    for genes, obs, hid in observation_patterns(np.isfinite(Yo)):
        if len(hid):
            m = Ridge(alpha=1.0).fit(Yref[:, obs], Yref[:, hid])
            out[np.ix_(genes, hid)] = m.predict(Yo[np.ix_(genes, obs)])
    return out


def run_partial_seed(adata, name, seed):
    """Scores of every partial-profile row at every fraction for one seed (see module doc)."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer

    from geneimpute._core.metrics import masked_metrics

    Yall, test, Yobs = split(adata, seed)
    n_t = Yall.shape[1]
    ref, te = ~test, np.flatnonzero(test)
    Yref, T = Yall[ref], Yall[test]
    inputs = gene_inputs(adata, ref)
    t0 = time.perf_counter()
    m = HybridImputer(random_state=seed)  # package defaults
    m.fit(Yobs, inputs, list(adata.obs_names), correlation_matrix(Yref), accelerator="auto")
    H = m.predict(Yobs, inputs, te)
    fit_s = time.perf_counter() - t0
    D = idw_profiles(Yobs, inputs.neighbors, 10)[test]
    D = np.where(np.isfinite(D), D, Yref.mean(axis=0))
    res: dict[str, dict[str, dict[str, float]]] = {}
    for frac in PARTIAL_FRACTIONS:
        hidden = hide_tissues(len(te), n_t, frac, seed)
        Yo = np.where(hidden, np.nan, T)
        rows: dict[str, tuple[np.ndarray, float]] = {}
        t0 = time.perf_counter()
        rows["hybrid"] = (m.conditioner_.complete(H, Yo), fit_s + time.perf_counter() - t0)
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
            res[key][row] = masked_metrics(P, T, hidden) | {"seconds": sec}
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


def partial_table(name: str, summ: dict) -> str:
    cols = ["pearson_tissue", "pearson_gene_centered", "r2", "mse", "seconds"]
    lines = [f"### {name}: partly measured genes (only hidden cells scored)", ""]
    lines += ["| hidden | row | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for frac, rows in summ.items():
        for row, m in rows.items():
            cells = [
                f"{m[c]['mean']:.3f} ± {m[c]['sd']:.3f}"
                if c != "seconds"
                else f"{m[c]['mean']:.0f}"
                for c in cols
            ]
            lines.append(f"| {frac} | {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main_partial(args) -> None:
    out = json.loads(args.output.read_text()) if args.output.exists() else {}
    out["partial"] = {"seeds": args.seeds, "defaults": asdict(HybridConfig())}
    md = []
    for name in args.datasets:
        adata = load(name)
        print(f"{name}: {adata.n_obs} tissues x {adata.n_vars} genes; seeds {args.seeds}")
        per_seed = [run_partial_seed(adata, name, s) for s in args.seeds]
        out["partial"][name] = summarise_partial(per_seed)
        md.append(partial_table(name, out["partial"][name]))
        args.output.write_text(json.dumps(out, indent=2))  # after each dataset
    text = "\n\n".join(md)
    print("\n" + text)
    path = args.output.with_name("accuracy_partial.md")
    path.write_text(
        f"Produced by `python benchmarks/accuracy.py --partial` ({len(args.seeds)} seeds, "
        "package defaults; paired differences: `python benchmarks/paired_differences.py "
        "--partial`).\n\n" + text + "\n"
    )
    print(f"wrote {args.output} (key 'partial') and {path}")


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


def paired_table(
    summ: dict, base: str, rows: list[str], metrics: tuple[str, ...], others: dict | None = None
) -> list[str]:
    """Markdown lines: paired ``base - row`` differences, mean ± sd over seeds, for each of
    ``rows`` (looked up in ``summ``, then in ``others``: rows of another run on the same splits
    and seeds)."""
    pool = {**(others or {}), **summ}
    lines = [f"paired `{base} - row` (mean ± sd over seeds):", ""]
    lines += ["| row | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for row in rows:
        cells = []
        for c in metrics:
            d = np.subtract(summ[base][c]["per_seed"], pool[row][c]["per_seed"])
            cells.append(f"{d.mean():+.4f} ± {d.std():.4f}")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return lines


def table(name: str, summ: dict) -> str:
    cols = [
        "pearson_tissue",
        "pearson_gene_centered",
        "r2",
        "mse",
        "pearson_tissue_low",
        "r2_low",
        "r2_median",
        "seconds",
    ]
    lines = [
        f"### {name}",
        "",
        "| row | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for row, m in summ.items():
        cells = [
            f"{m[c]['mean']:.3f} ± {m[c]['sd']:.3f}" if c != "seconds" else f"{m[c]['mean']:.0f}"
            for c in cols
        ]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    defaults = asdict(HybridConfig())
    out: dict = {"seeds": seeds, "defaults": defaults}
    out |= kept_datasets(args.output, seeds, "defaults", defaults)
    if args.output.exists():  # the partial protocol records its own seeds and defaults
        old = json.loads(args.output.read_text())
        out |= {k: v for k, v in old.items() if k == "partial"}
    for name in datasets:
        adata = load(name)
        print(f"{name}: {adata.n_obs} tissues x {adata.n_vars} genes; seeds {seeds}")
        out[name] = summarise([run_seed(adata, name, s, args.quick) for s in seeds])
        write(args, out, seeds)  # after each dataset: a long run keeps what it finished


def write(args: argparse.Namespace, out: dict, seeds: list[int]) -> None:
    """Write ``out`` to ``args.output`` and its tables to the ``.md`` beside it."""
    md = []
    for name in (d for d in DATASETS if d in out):
        md.append(table(name, out[name]))
        best = max(out[name][f"distance_k{k}"]["pearson_tissue"]["mean"] for k in (1, 5, 20))
        hyb = out[name]["hybrid"]["pearson_tissue"]["mean"]
        md.append(f"\nhybrid per-tissue r / best distance-based: {hyb / best:.2f}x\n")
    text = "\n\n".join(md)
    print("\n" + text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2))
    args.output.with_suffix(".md").write_text(
        f"Produced by `python benchmarks/accuracy.py{' --quick' if args.quick else ''}` "
        f"({len(seeds)} seed{'s' * (len(seeds) > 1)}, package defaults: "
        "`HybridConfig()`, recorded under `defaults` in the JSON).\n\n" + text + "\n"
    )
    print(f"wrote {args.output} and {args.output.with_suffix('.md')}")


if __name__ == "__main__":
    main()
