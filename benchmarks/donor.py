"""Donor-level completion benchmark (HYFA protocol) on real GTEx v8 samples.

Usage: python benchmarks/donor.py [--seeds 0 1 2] [--quick]

Donors are split into train / validation / test (70/10/20, seeded). Models are fitted on the
train + validation donors (the hybrid uses part of them internally for early stopping and for
its XGBoost stage). For every test donor with >= 2 sampled tissues, each sampled tissue in turn
is masked and predicted from the donor's other tissues. Reported, on log1p(normalised counts):

- pearson_sample: Pearson r across the 59 genes between predicted and true profile of one
  (donor, target tissue), averaged per target tissue, then over target tissues with at least
  25 test donors; mean and std over seeds.
- pearson_tissue: per target tissue and gene, Pearson r across test donors (0 for a prediction
  that is constant across donors), averaged over genes, then over target tissues with >= 25
  test donors; mean and std over seeds.

Writes benchmarks/results/donor.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

import geneimpute as ge
from geneimpute.models import DonorHybrid, KNNDonor, TEEBoT, TissueMean

OUT = Path(__file__).parent / "results" / "donor.json"
MIN_TEST_DONORS = 25


def rowwise_pearson(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows of ``A`` and ``B``; NaN where a row is constant."""
    A = A - A.mean(axis=1, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    den = np.sqrt((A**2).sum(axis=1) * (B**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (A * B).sum(axis=1) / den, np.nan)


def donor_array(donors) -> tuple[np.ndarray, list[str]]:
    """``(n_donors, n_tissues, n_genes)`` float64 from ``ge.pp.to_donor_layers``' tissue layers
    (listed in ``uns["donor_layout"]["tissues"]``; NaN = tissue not sampled)."""
    tissues = [str(t) for t in donors.uns["donor_layout"]["tissues"]]
    V = np.stack([np.asarray(donors.layers[t], dtype=np.float64) for t in tissues], axis=1)
    return V, tissues


def promoter_features(seqs: pd.Series) -> tuple[np.ndarray, int]:
    """Promoter GC fraction, CpG observed/expected and length (bp) per gene, NaN without a
    promoter (the features ``ge.tl.impute_donors`` gives the donor hybrid); and the number of
    genes without one."""
    s = seqs.fillna("").astype(str).str.upper()
    n = s.str.len().astype(float)
    acgt = n - s.str.count("N")
    c, g, cg = s.str.count("C"), s.str.count("G"), s.str.count("CG")
    with np.errstate(invalid="ignore", divide="ignore"):
        gc = ((c + g) / acgt).where(acgt > 0)
        cpg = (cg * acgt / (c * g)).where((c > 0) & (g > 0))
    return np.column_stack([gc, cpg, n]).astype(float), int((n == 0).sum())


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    a, b = int(0.7 * n), int(0.8 * n)
    return perm[:a], perm[a:b], perm[b:]


def score(V, pairs, pred, tissues):
    true = V[pairs[:, 0], pairs[:, 1]]
    r_sample = rowwise_pearson(pred, true)
    per_sample, per_tissue = {}, {}
    for t in np.unique(pairs[:, 1]):
        sel = pairs[:, 1] == t
        if sel.sum() < MIN_TEST_DONORS:
            continue
        per_sample[tissues[t]] = float(np.nanmean(r_sample[sel]))
        # a prediction that is constant across donors (the tissue mean) scores r = 0
        r_gene = np.nan_to_num(rowwise_pearson(pred[sel].T, true[sel].T), nan=0.0)
        per_tissue[tissues[t]] = float(np.mean(r_gene))
    return per_sample, per_tissue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="one seed, short training")
    parser.add_argument("--output", type=Path, default=OUT)
    args = parser.parse_args()
    seeds = args.seeds[:1] if args.quick else args.seeds
    ge.settings.progress = False
    long = ge.datasets.gtex_donors()
    # gtex_donors has no promoter sequences: join the bundled GTEx promoters (same gene IDs)
    # explicitly, as a user joins their own; genes without one get NaN features
    long.var["promoter_seq"] = (
        ge.datasets.gtex_tissues().var["promoter_seq"].reindex(long.var_names).to_numpy()
    )
    donors = ge.pp.to_donor_layers(long)
    V, tissues = donor_array(donors)
    gfeat, n_no_promoter = promoter_features(donors.var["promoter_seq"])
    print(
        f"GTEx v8: {V.shape[0]} donors x {V.shape[1]} tissues x {V.shape[2]} genes, "
        f"{np.isfinite(V).all(axis=2).mean():.1%} of donor x tissue cells observed, "
        f"{V.shape[2] - n_no_promoter} genes with a promoter sequence"
    )
    rows = {"mean": TissueMean, "knn": KNNDonor, "teebot": TEEBoT, "hybrid": DonorHybrid}
    res = {k: {"sample": [], "tissue": [], "seconds": [], "per_tissue": []} for k in rows}
    for seed in seeds:
        tr, va, te = split(V.shape[0], seed)
        fit_donors = np.concatenate([tr, va])
        seen = np.isfinite(V).all(axis=2)
        pairs = np.array([(d, t) for d in te if seen[d].sum() > 1 for t in np.flatnonzero(seen[d])])
        for name, cls in rows.items():
            t0 = time.perf_counter()
            if name == "hybrid":
                kw = {"max_epochs": 8} if args.quick else {}
                model = cls(random_state=seed, **kw).fit(V, fit_donors, gene_features=gfeat)
            else:
                model = cls().fit(V, fit_donors)
            pred = model.predict(V, pairs)
            secs = time.perf_counter() - t0
            ps, pt = score(V, pairs, pred, tissues)
            res[name]["sample"].append(np.mean(list(ps.values())))
            res[name]["tissue"].append(np.mean(list(pt.values())))
            res[name]["seconds"].append(secs)
            res[name]["per_tissue"].append(ps)
            print(
                f"seed {seed} {name:7s} pearson_sample {res[name]['sample'][-1]:.4f} "
                f"pearson_tissue {res[name]['tissue'][-1]:.4f} ({secs:.0f} s, "
                f"{len(pairs)} test pairs, {len(ps)} target tissues)",
                flush=True,
            )
    out = {
        "rows": {},
        "per_tissue": {},
        "params": {
            "seeds": seeds,
            "split": "donors 70/10/20",
            "min_test_donors": MIN_TEST_DONORS,
            "data": "ge.datasets.gtex_donors(): GTEx v8 read counts, 59 ACMG genes, "
            "log1p median-of-ratios normalised",
        },
    }
    for name, r in res.items():
        out["rows"][name] = {
            "pearson_sample": {
                "mean": float(np.mean(r["sample"])),
                "std": float(np.std(r["sample"])),
            },
            "pearson_tissue": {
                "mean": float(np.mean(r["tissue"])),
                "std": float(np.std(r["tissue"])),
            },
            "seconds": float(np.mean(r["seconds"])),
        }
        out["per_tissue"][name] = pd.DataFrame(r["per_tissue"]).mean().round(4).to_dict()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2))
    best_base = max(
        ("mean", "knn", "teebot"), key=lambda k: out["rows"][k]["pearson_sample"]["mean"]
    )
    print("\n| row | pearson_sample | pearson_tissue | seconds |\n|---|---|---|---|")
    for name, r in out["rows"].items():
        print(
            f"| {name} | {r['pearson_sample']['mean']:.4f} ± {r['pearson_sample']['std']:.4f} "
            f"| {r['pearson_tissue']['mean']:.4f} ± {r['pearson_tissue']['std']:.4f} "
            f"| {r['seconds']:.0f} |"
        )
    h, b = (
        out["rows"]["hybrid"]["pearson_sample"]["mean"],
        out["rows"][best_base]["pearson_sample"]["mean"],
    )
    print(f"\nhybrid vs best baseline ({best_base}) on pearson_sample: {h - b:+.4f}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
