"""Exploratory: does averaging K regulator networks (different seeds) beat ridge?

Record, not maintained code (see ``experiments/README.md``). Results:
``results/regulators_ensemble_gtex.log`` (1153580, 2026-11-30). This script runs as it stands at
commit 93bbb6e (``git checkout 93bbb6e``), where ``benchmarks/regulators.py``, which it imports,
sits beside it; paths ``benchmarks/...`` below are the layout of that commit (its results now
live in ``experiments/results/``). Its figures are not current figures: ``docs/benchmarks.md``
has those.

Usage: python benchmarks/regulators_ensemble.py [K] [gtex|tcga]

Same masks, ridge row and scoring as benchmarks/regulators.py (imported from it). Prints, per
seed, the per-gene r of ridge, of one network (the package default, seeded with the mask seed)
and of the mean of K networks, and the paired differences against ridge. Not a package default;
the output of a run is in benchmarks/results/regulators_ensemble_gtex.log.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

import geneimpute as ge

sys.path.insert(0, str(Path(__file__).resolve().parent))
import regulators as bench  # noqa: E402


def run_seed(adata, name: str, seed: int, k: int) -> tuple[float, float, float]:
    X = np.asarray(adata.X, dtype=np.float64)
    typed = adata.var["regulator_type"].astype(str).isin(["RBP/SF", "TF"]).to_numpy()
    reg = typed & np.isfinite(X).all(axis=0)
    targets = ~reg & np.isfinite(X).any(axis=0)
    mask = bench.mask_tcga if name == "tcga" else bench.mask_gtex
    M = mask(adata, targets, np.random.default_rng(seed))
    Xm = X.copy()
    Xm[M] = np.nan
    groups = adata.obs["cohort" if name == "tcga" else "tissue"].astype(str).to_numpy()
    masked = adata.copy()
    masked.X = Xm.astype(np.float32)
    scored = groups if name == "tcga" else np.zeros(len(X))
    ridge = bench.ridge(Xm, reg, np.flatnonzero(M.any(axis=0)), groups)
    preds = []
    for i in range(k):
        model = ge.tl.train_regulators(
            masked,
            regulators=reg,
            targets=targets,
            random_state=seed if i == 0 else 1000 * seed + i,
        )
        out = ge.tl.impute_from_regulators(masked, model, copy=True)
        preds.append(np.asarray(out.layers["imputed_regulators"], dtype=np.float64))

    def r(P: np.ndarray) -> float:
        return bench.score(P, X, M, scored)["pearson_gene"]

    return r(ridge), r(preds[0]), r(np.mean(preds, axis=0))


def main() -> None:
    warnings.simplefilter("ignore")
    ge.settings.progress = False
    k = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    name = sys.argv[2] if len(sys.argv) > 2 else "gtex"
    adata = ge.datasets.gtex_tf_samples() if name == "gtex" else ge.datasets.tcga_cohorts()
    rows = []
    for seed in range(5):
        t0 = time.time()
        s_r, s1, sk = run_seed(adata, name, seed, k)
        rows.append((s_r, s1, sk))
        print(
            f"seed {seed} ridge {s_r:.4f} single {s1:.4f} ens{k} {sk:.4f}  "
            f"d1 {s1 - s_r:+.4f} dK {sk - s_r:+.4f} ({time.time() - t0:.0f}s)",
            flush=True,
        )
    a = np.array(rows)
    d1, dk = a[:, 1] - a[:, 0], a[:, 2] - a[:, 0]
    print(
        f"paired single {d1.mean():+.4f} ± {d1.std(ddof=1):.4f}; "
        f"ensemble {dk.mean():+.4f} ± {dk.std(ddof=1):.4f}"
    )


if __name__ == "__main__":
    main()
