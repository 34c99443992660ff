"""Regulator-driven imputation of samples: the DeepSF-style network against its peers.

    python benchmarks/regulators.py [--seeds 0 1 2 3 4] [--datasets tcga gtex]

Two protocols on the bundled real data, paired over seeds (every row sees the same masks):

- ``tcga`` (``ge.datasets.tcga_cohorts()``, 11 cohorts, 1,204 samples): in every cohort a
  seeded 10% of the target genes it measured is hidden in all of its samples (a cohort that
  never measured those genes). The 11 cohorts are masked at once, each with its own genes, so
  one fit per seed serves all 11 leave-one-cohort-out rotations; a hidden gene stays measured
  in at least 50 samples of other cohorts. Scores per (cohort, gene).
- ``gtex`` (``ge.datasets.gtex_tf_samples()``, 520 samples, 26 tissues): a seeded 10% of the
  non-regulator genes hidden in a seeded 20% of the samples.

Rows: ``group_mean`` (the gene's mean over observed samples of the same sample type (TCGA:
tumour / normal, from the other cohorts) or tissue (GTEx)), ``knn`` (sklearn ``KNNImputer``,
k = 10, over samples on all genes), ``ridge`` (``RidgeCV`` on the regulators, a per-target
alpha, one fit per set of cohorts lacking the targets; TEEBoT-like), ``context_ridge``
(``ge.models.ContextRidge`` alone: each hidden target regressed on every gene the sample
measured, regulators and targets; the linear base of ``dnn_ae``, so ``dnn_ae`` minus it is
what the network and its autoencoder add), ``dnn`` (the regulator network without the
autoencoder) and ``dnn_ae`` (with it; the package default), the last two
through ``ge.tl.train_regulators`` / ``ge.tl.impute_from_regulators``. Metrics on the hidden
cells: ``pearson_gene`` (per-gene Pearson r across the masked samples, within the cohort for
TCGA, mean over genes), ``pearson_sample`` (per-sample r across its masked genes, mean),
``r2`` (over all masked cells). DeepLIFT stability: for 50 fixed targets, the top regulator
of the ``dnn_ae`` model per seed (TCGA), and how often it is the same across seeds.

Writes ``benchmarks/results/regulators.json`` (``{dataset: {row: {metric: {"mean", "sd",
"per_seed"}}}}``, paired differences, timings, DeepLIFT stability) and prints its tables;
``python benchmarks/report.py`` renders them into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from report import regulator_table

import geneimpute as ge

RESULTS = Path(__file__).resolve().parent / "results"
ROWS = ("group_mean", "knn", "ridge", "context_ridge", "dnn", "dnn_ae")
METRICS = ("pearson_gene", "pearson_sample", "r2")
N_ATTRIBUTION_TARGETS = 50


def _r(p: np.ndarray, t: np.ndarray) -> float:
    if len(p) < 3 or p.std() < 1e-12 or t.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(p, t)[0, 1])


def score(P: np.ndarray, T: np.ndarray, M: np.ndarray, groups: np.ndarray) -> dict:
    """Per-gene r within each group's masked samples, per-sample r, R^2 over masked cells."""
    gene_r = []
    for g in np.unique(groups):
        rows = groups == g
        for j in np.flatnonzero(M[rows].any(axis=0)):
            m = M[rows, j]
            gene_r.append(_r(P[rows, j][m], T[rows, j][m]))
    sample_r = [_r(P[i, M[i]], T[i, M[i]]) for i in np.flatnonzero(M.any(axis=1))]
    p, t = P[M], T[M]
    r2 = 1 - ((p - t) ** 2).sum() / ((t - t.mean()) ** 2).sum()
    return {
        "pearson_gene": float(np.mean(gene_r)),
        "pearson_sample": float(np.mean(sample_r)),
        "r2": float(r2),
    }


def mask_tcga(adata, targets: np.ndarray, rng) -> np.ndarray:
    X = np.asarray(adata.X, dtype=np.float64)
    cohort = adata.obs["cohort"].astype(str).to_numpy()
    M = np.zeros(X.shape, dtype=bool)
    for c in np.unique(cohort):
        inc = cohort == c
        others = (np.isfinite(X[~inc]) & ~M[~inc]).sum(axis=0)
        ok = targets & np.isfinite(X[inc]).all(axis=0) & (others >= 50)
        cols = rng.choice(np.flatnonzero(ok), int(round(0.1 * ok.sum())), replace=False)
        M[np.ix_(np.flatnonzero(inc), cols)] = True
    return M


def mask_gtex(adata, targets: np.ndarray, rng) -> np.ndarray:
    cols = rng.choice(np.flatnonzero(targets), int(round(0.1 * targets.sum())), replace=False)
    rows = rng.choice(adata.n_obs, int(round(0.2 * adata.n_obs)), replace=False)
    M = np.zeros(adata.shape, dtype=bool)
    M[np.ix_(rows, cols)] = True
    return M


def group_mean(Xm: np.ndarray, groups: np.ndarray) -> np.ndarray:
    P = np.empty_like(Xm)
    overall = np.nanmean(Xm, axis=0)
    for g in np.unique(groups):
        rows = groups == g
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            m = np.nanmean(Xm[rows], axis=0)
        P[rows] = np.where(np.isfinite(m), m, overall)
    return P


def ridge(Xm: np.ndarray, reg: np.ndarray, cols: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """RidgeCV on the regulators (per-target alpha), one multi-output fit per set of groups
    (cohorts) in which the targets are missing; samples with a scattered NaN in any target of
    the set are left out of its fit."""
    from sklearn.linear_model import RidgeCV

    P = np.full_like(Xm, np.nan)
    R = Xm[:, reg]
    names = np.unique(groups)
    sets: dict[tuple, list[int]] = {}
    for j in cols:
        absent = tuple(g for g in names if not np.isfinite(Xm[groups == g, j]).any())
        sets.setdefault(absent, []).append(int(j))
    for js in sets.values():
        ok = np.isfinite(Xm[:, js]).all(axis=1)
        fit = RidgeCV(alphas=np.logspace(-1, 4, 11), alpha_per_target=True)
        fit.fit(R[ok], Xm[np.ix_(ok, js)])
        P[:, js] = fit.predict(R).reshape(len(R), len(js))
    return P


def context_ridge(Xm: np.ndarray, reg: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``ge.models.ContextRidge`` on z-scored genes (regulators first), trained on all samples."""
    cols = np.concatenate([np.flatnonzero(reg), np.flatnonzero(targets)])
    V = Xm[:, cols]
    mu, sd = np.nanmean(V, axis=0), np.nanstd(V, axis=0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    Z = (V - mu) / sd
    pred = ge.models.ContextRidge(Z, int(reg.sum())).predict(Z)
    P = np.full_like(Xm, np.nan)
    P[:, np.flatnonzero(targets)] = pred * sd[reg.sum() :] + mu[reg.sum() :]
    return P


def run_seed(name: str, adata, seed: int) -> tuple[dict, dict, np.ndarray | None]:
    X = np.asarray(adata.X, dtype=np.float64)
    typed = adata.var["regulator_type"].astype(str).isin(["RBP/SF", "TF"]).to_numpy()
    reg = typed & np.isfinite(X).all(axis=0)
    targets = ~reg & np.isfinite(X).any(axis=0)
    rng = np.random.default_rng(seed)
    M = (mask_tcga if name == "tcga" else mask_gtex)(adata, targets, rng)
    Xm = X.copy()
    Xm[M] = np.nan
    groups = adata.obs["cohort" if name == "tcga" else "tissue"].astype(str).to_numpy()
    kind = adata.obs["sample_type" if name == "tcga" else "tissue"].astype(str).to_numpy()
    masked = adata.copy()
    masked.X = Xm.astype(np.float32)
    cols = np.flatnonzero(M.any(axis=0))
    res, secs = {}, {}
    top = None
    for row in ROWS:
        t0 = time.perf_counter()
        if row == "group_mean":
            if name == "tcga":  # the cohort lacks the gene: same sample type, other cohorts
                P = np.empty_like(Xm)
                for g in np.unique(groups):
                    rows = groups == g
                    other = Xm.copy()
                    other[rows] = np.nan
                    P[rows] = group_mean(other, kind)[rows]
            else:
                P = group_mean(Xm, kind)
        elif row == "knn":
            from sklearn.impute import KNNImputer

            keep = np.isfinite(Xm).any(axis=0)
            P = np.full_like(Xm, np.nan)
            P[:, keep] = KNNImputer(n_neighbors=10).fit_transform(Xm[:, keep])
        elif row == "ridge":
            P = ridge(Xm, reg, cols, groups)
        elif row == "context_ridge":
            P = context_ridge(Xm, reg, targets)
        else:
            model = ge.tl.train_regulators(
                masked,
                regulators=reg,
                targets=targets,
                random_state=seed,
                use_autoencoder=row == "dnn_ae",
            )
            out = ge.tl.impute_from_regulators(masked, model, copy=True)
            P = np.asarray(out.layers["imputed_regulators"], dtype=np.float64)
            if row == "dnn_ae" and name == "tcga":
                pick = np.random.default_rng(12345).choice(
                    np.flatnonzero(targets), N_ATTRIBUTION_TARGETS, replace=False
                )
                ge.tl.regulator_attribution(masked, model, adata.var_names[pick].tolist())
                scores = masked.uns["regulator_attribution"]["scores"]
                top = scores.abs().idxmax(axis=0).reindex(adata.var_names[pick]).to_numpy()
        secs[row] = time.perf_counter() - t0
        # TCGA: a gene is masked in one cohort's samples, r across them; GTEx: across all
        # masked samples (of several tissues)
        res[row] = score(P, X, M, groups if name == "tcga" else np.zeros(len(X)))
        print(
            f"{name} seed {seed} {row:10s} "
            + " ".join(f"{m} {res[row][m]:.4f}" for m in METRICS)
            + f"  ({secs[row]:.1f} s)",
            flush=True,
        )
    return res, secs, top


def summary(values: list[float]) -> dict:
    a = np.asarray(values, dtype=float)
    return {
        "mean": float(a.mean()),
        "sd": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
        "per_seed": [float(v) for v in a],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--datasets", nargs="+", default=["tcga", "gtex"], choices=["tcga", "gtex"])
    p.add_argument("--out", default=str(RESULTS / "regulators.json"))
    args = p.parse_args()
    ge.settings.progress = False
    out: dict = {"seeds": args.seeds, "protocol": __doc__.split("Rows:")[0].strip()}
    for name in args.datasets:
        adata = ge.datasets.tcga_cohorts() if name == "tcga" else ge.datasets.gtex_tf_samples()
        per: dict = {row: {m: [] for m in METRICS} for row in ROWS}
        secs: dict = {row: [] for row in ROWS}
        tops = []
        for seed in args.seeds:
            res, sec, top = run_seed(name, adata, seed)
            for row in ROWS:
                secs[row].append(sec[row])
                for m in METRICS:
                    per[row][m].append(res[row][m])
            if top is not None:
                tops.append(top)
        block = {row: {m: summary(per[row][m]) for m in METRICS} for row in ROWS}
        block["paired_dnn_ae_minus"] = {
            row: {m: summary(np.subtract(per["dnn_ae"][m], per[row][m])) for m in METRICS}
            for row in ROWS
            if row != "dnn_ae"
        }
        block["seconds"] = {row: summary(secs[row]) for row in ROWS}
        if tops:
            T = np.array(tops)
            same = (T == T[0]).all(axis=0)
            pairs = [(i, j) for i in range(len(T)) for j in range(i + 1, len(T))]
            agree = [float((T[i] == T[j]).mean()) for i, j in pairs]
            block["deeplift_top_regulator"] = {
                "n_targets": N_ATTRIBUTION_TARGETS,
                "same_in_all_seeds": float(same.mean()),
                "pairwise_agreement_mean": float(np.mean(agree)) if agree else 1.0,
                "top_per_seed": T.tolist(),
            }
        out[name] = block
        Path(args.out).parent.mkdir(exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    for name in args.datasets:
        print(f"\n{name}:\n" + regulator_table(out[name]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
