"""Build the pretrained models shipped in ``geneimpute/models/_weights`` and their model cards.

Run from the repository root (training: about 20 minutes on 2 idle CPU cores)::

    python scripts/build_pretrained.py            # train, evaluate, write files + cards
    python scripts/build_pretrained.py --check    # re-evaluate the shipped files, compare
    python scripts/build_pretrained.py --update-cards  # re-evaluate, rewrite the cards' figures

The models are trained with the package defaults (``HybridConfig()``) on the bundled GTEx v8 table
(``ge.datasets.gtex_tissues()``: 37 HPA tissues x 18,241 genes, TPM) with every chr8 gene left
out of training (not a target, not a neighbour), so the card's accuracy is measured on genes
the shipped model never saw:

- ``gtex_v8_37tissues`` (the hybrid): the chr8 genes are split into 10 seeded folds; each fold
  is hidden (NaN) in turn and imputed with ``ge.tl.impute_expression`` from the rest of the
  table, as a user's table with 10% of a chromosome missing; the distance-based method
  (``ge.tl.impute_neighbors``, k = 10) is scored on the same folds.
- ``gtex_v8_37tissues_sequence`` (promoter + gene length and transcript structure): every chr8
  gene predicted with ``ge.tl.predict_profiles`` from ``var``.
- ``gtex_v8_37tissues_promoter`` (promoter alone): the chr8 genes with a promoter, predicted
  from the sequence alone as from a FASTA.

Metrics on log1p(TPM): per-tissue Pearson r (across genes, mean over tissues), per-gene
tissue-centred Pearson r, R^2, MSE, and the coverage / mean width of the 90% intervals. The
calibration set of each model is thinned to a seeded 4,000 genes to keep the files small.
``--check`` loads the shipped files, recomputes every figure and fails if one differs from the
card by more than 1e-4.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

import geneimpute as ge
from geneimpute._core.metrics import regression_metrics
from geneimpute.models import HybridImputer
from geneimpute.models._persistence import MANIFEST, write_manifest
from geneimpute.models._pretrained import PRETRAINED

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "geneimpute" / "models" / "_weights"
HELD_OUT = "chr8"
N_FOLDS = 10
SEED = 0
CALIBRATION_GENES = 4000
TOLERANCE = 1e-4
HYBRID, SEQUENCE = "gtex_v8_37tissues", "gtex_v8_37tissues_sequence"
PROMOTER = "gtex_v8_37tissues_promoter"
#: name -> (train() keyword arguments, evaluation)
MODELS = {
    HYBRID: ({}, "evaluate_hybrid"),
    SEQUENCE: ({"features": ["promoter", "structure"]}, "evaluate_sequence"),
    PROMOTER: ({"features": ["promoter"]}, "evaluate_promoter"),
}
METRICS = ("pearson_tissue", "pearson_gene_centered", "r2", "mse", "coverage_90", "width_90")


def scores(pred: np.ndarray, truth: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict:
    """Metrics on log1p ``(n_genes, n_tissues)`` arrays, intervals included."""
    out = regression_metrics(pred, truth)
    out["coverage_90"] = float(((truth >= lo) & (truth <= hi)).mean())
    out["width_90"] = float((hi - lo).mean())
    out["n_genes"] = int(len(pred))
    return out


def evaluate_hybrid(model: HybridImputer, adata) -> dict:
    """10-fold imputation of the held-out chromosome's genes: hybrid and distance-based."""
    held = np.flatnonzero(adata.var["chrom"].to_numpy() == HELD_OUT)
    folds = np.array_split(np.random.default_rng(SEED).permutation(held), N_FOLDS)
    truth = np.log1p(np.asarray(adata.X, dtype=np.float64)).T
    keys = {"hybrid": "imputed", "distance_k10": "imputed_distance"}
    out = {k: np.full((adata.n_vars, 3, adata.n_obs), np.nan) for k in keys}
    seconds = []
    for fold in folds:
        a = adata.copy()
        a.X = np.asarray(a.X, dtype=np.float32)
        a.X[:, fold] = np.nan
        mask = np.zeros(a.n_vars, dtype=bool)
        mask[fold] = True
        t0 = time.perf_counter()
        ge.tl.impute_expression(a, model, genes=mask)
        seconds.append(time.perf_counter() - t0)
        ge.tl.impute_neighbors(a, genes=mask, k=10)
        for name, key in keys.items():
            for j, suffix in enumerate(("", "_lower", "_upper")):
                out[name][fold, j] = np.log1p(np.asarray(a.layers[key + suffix])[:, fold].T)
    res = {}
    for name in keys:
        P = out[name][held]
        res[name] = scores(P[:, 0], truth[held], P[:, 1], P[:, 2])
    res["hybrid"]["impute_seconds_per_fold_median"] = float(np.median(seconds))
    return res


def _promoter_genes(adata):
    sub = adata[:, adata.var["chrom"].to_numpy() == HELD_OUT]
    has = sub.var["promoter_seq"].astype(object).fillna("").str.len().to_numpy() > 0
    truth = np.log1p(np.asarray(sub.X, dtype=np.float64)).T
    return sub, has, truth


def _scores_of(prof, truth) -> dict:
    return scores(
        np.asarray(prof.X, np.float64).T,
        truth,
        np.asarray(prof.layers["log1p_tpm_lower"], np.float64).T,
        np.asarray(prof.layers["log1p_tpm_upper"], np.float64).T,
    )


def evaluate_sequence(model: HybridImputer, adata) -> dict:
    """Held-out chromosome from ``var`` (promoter, gene length, transcript structure)."""
    sub, has, truth = _promoter_genes(adata)
    return {
        "with_structure": _scores_of(ge.tl.predict_profiles(sub, model), truth),
        "with_structure_promoter_genes": _scores_of(
            ge.tl.predict_profiles(sub[:, has], model), truth[has]
        ),
    }


def evaluate_promoter(model: HybridImputer, adata) -> dict:
    """Held-out genes with a promoter, from the promoter sequence alone (as a FASTA gives)."""
    sub, has, truth = _promoter_genes(adata)
    seqs = sub.var["promoter_seq"][has].astype(str)
    tss = sub.var["promoter_seq_tss_index"][has]
    prof = ge.tl.predict_profiles(seqs, model, tss_index=tss)
    return {"promoter_alone_promoter_genes": _scores_of(prof, truth[has])}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def card(name: str, model: HybridImputer, adata, evaluation: dict, seconds: float) -> dict:
    held = adata.var["chrom"].to_numpy() == HELD_OUT
    files = sorted(
        p.name
        for p in (WEIGHTS / name).iterdir()
        if not p.name.startswith("model_") and p.name != MANIFEST
    )
    return {
        "name": name,
        "description": PRETRAINED[name],
        "geneimpute_version": ge.__version__,
        "built": datetime.date.today().isoformat(),
        "data": {
            "dataset": "geneimpute.datasets.gtex_tissues()",
            "source": (
                "GTEx v8 samples re-quantified by the Human Protein Atlas 21.1 (Ensembl 103), "
                "summarised per tissue into 37 HPA tissue names; promoters EPDnew; "
                "coordinates GRCh38 (Xpresso CAGE-corrected TSS)"
            ),
            "units": model.setup_.units,
            "tissues": model.tissues_,
            "n_training_genes": int(model.setup_.n_reference_genes),
            "held_out_chromosome": HELD_OUT,
            "n_held_out_genes": int(held.sum()),
        },
        "training": {
            "command": "python scripts/build_pretrained.py",
            "features": model.features_,
            "config": dict(vars(model.config)),
            "random_state": SEED,
            "calibration_genes": CALIBRATION_GENES,
            "seconds": round(seconds, 1),
            "machine": f"{platform.machine()}, Python {platform.python_version()}",
        },
        "evaluation": {
            "command": "python scripts/build_pretrained.py --check",
            "protocol": (
                f"every {HELD_OUT} gene was left out of training; "
                + (
                    f"its genes split into {N_FOLDS} seeded folds, each hidden in turn and "
                    "imputed from the rest of the bundled table (neighbours may be other "
                    f"{HELD_OUT} genes, which the model never trained on)"
                    if name == HYBRID
                    else "every held-out gene predicted from var (promoter, gene length, "
                    "transcript structure), and the genes with a promoter alone"
                    if name == SEQUENCE
                    else "the held-out genes with a promoter predicted from the promoter "
                    "sequence alone (-249..+50 bp), as from a FASTA"
                )
            ),
            "units": "log1p(TPM)",
            "results": evaluation,
        },
        "files_sha256": {f: sha256(WEIGHTS / name / f) for f in files},
    }


def markdown(c: dict) -> str:
    ev = c["evaluation"]["results"]
    lines = [
        f"# Model card: `{c['name']}`",
        "",
        c["description"][0].upper() + c["description"][1:] + ".",
        "",
        f"- geneimpute {c['geneimpute_version']}, built {c['built']} with "
        f"`{c['training']['command']}` ({c['training']['seconds']} s on "
        f"{c['training']['machine']}).",
        f"- Data: `{c['data']['dataset']}` -- {c['data']['source']}. Units: {c['data']['units']} "
        f"(log1p internally); {len(c['data']['tissues'])} tissues.",
        f"- Trained on {c['data']['n_training_genes']:,} genes (features "
        f"{', '.join(c['training']['features'])}; `HybridConfig()` of geneimpute "
        f"{c['geneimpute_version']}, seed {c['training']['random_state']}); all "
        f"{c['data']['n_held_out_genes']:,} "
        f"{c['data']['held_out_chromosome']} genes held out of training.",
        f"- Intervals: split conformal per tissue on cross-fitted residuals, a seeded "
        f"{c['training']['calibration_genes']:,}-gene calibration subset.",
        "- Files: `config.json` (setup, config), `network.pt` (torch state_dict, loaded with "
        "`weights_only=True`), `xgboost.ubj`, `xgboost_pattern.ubj`, `xgboost_sigma.ubj`, "
        "`calibration.npz` "
        "(`allow_pickle=False`); `manifest.json` (size and SHA-256 of every file, checked on "
        "load). No pickle.",
        "",
        "## Accuracy on the held-out chromosome",
        "",
        c["evaluation"]["protocol"][0].upper() + c["evaluation"]["protocol"][1:] + ". "
        f"Reproduce with `{c['evaluation']['command']}`. On {c['evaluation']['units']}:",
        "",
        "| row | genes | per-tissue r | per-gene centred r | R^2 | MSE | 90% coverage "
        "| 90% width |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row, m in ev.items():
        lines.append(
            f"| {row} | {m['n_genes']:,} | {m['pearson_tissue']:.3f} | "
            f"{m['pearson_gene_centered']:.3f} | {m['r2']:.3f} | {m['mse']:.3f} | "
            f"{m['coverage_90']:.3f} | {m['width_90']:.2f} |"
        )
    lines += [
        "",
        "## Use and limits",
        "",
        "- Tissue names must be the 37 HPA names; a GTEx table with SMTSD names is merged with "
        "`ge.pp.merge_gtex_tissues` first (arteries, tibial nerve, whole blood and cell lines "
        "have no counterpart).",
        "- Values are HPA-processed GTEx TPM (about 0.6-0.75x the GTEx-portal medians); other "
        "normalisations shift the level (a warning is shown when the reference genes' level "
        "differs by more than 1 log1p unit).",
        "- Genes of the bundled table outside chr8 were training targets: imputing them with "
        "this model is not an out-of-sample test.",
        "",
    ]
    return "\n".join(lines)


def build(only: str | None = None) -> dict:
    adata = ge.datasets.gtex_tissues()
    keep = adata.var["chrom"].to_numpy() != HELD_OUT
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    cards = {}
    for name, (kwargs, evaluation) in MODELS.items():
        if only is not None and name != only:
            continue
        t0 = time.perf_counter()
        model = ge.tl.train(adata, reference=keep, random_state=SEED, **kwargs)
        seconds = time.perf_counter() - t0
        model.thin_calibration(CALIBRATION_GENES, random_state=SEED)
        model.save(WEIGHTS / name, overwrite=True)
        model = HybridImputer.load(WEIGHTS / name)  # evaluate what ships
        ev = globals()[evaluation](model, adata)
        c = card(name, model, adata, ev, seconds)
        (WEIGHTS / name / "model_card.json").write_text(json.dumps(c, indent=2) + "\n")
        (WEIGHTS / name / "MODEL_CARD.md").write_text(markdown(c))
        write_manifest(WEIGHTS / name)  # the cards are part of the checked directory
        print(markdown(c))
        cards[name] = c
    return cards


def check(update: bool = False) -> int:
    adata = ge.datasets.gtex_tissues()
    bad = 0
    for name, (_, evaluation) in MODELS.items():
        c = ge.models.pretrained_card(name)
        model = ge.models.pretrained(name)
        ev = globals()[evaluation](model, adata)
        if update:  # the shipped files stay; only the cards' figures (and the manifest) change
            c["evaluation"]["results"] = {row: ev[row] for row in c["evaluation"]["results"]}
            (WEIGHTS / name / "model_card.json").write_text(json.dumps(c, indent=2) + "\n")
            (WEIGHTS / name / "MODEL_CARD.md").write_text(markdown(c))
            write_manifest(WEIGHTS / name)
        for row, m in c["evaluation"]["results"].items():
            for metric in METRICS:
                now, then = ev[row][metric], m[metric]
                ok = abs(now - then) <= TOLERANCE
                bad += not ok
                print(
                    f"{name:28s} {row:40s} {metric:22s} card {then:.4f} now {now:.4f}"
                    f"{'' if ok else '  MISMATCH'}"
                )
    print("all figures reproduced" if not bad else f"{bad} figures differ by more than {TOLERANCE}")
    return 1 if bad else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="re-evaluate the shipped models")
    p.add_argument("--only", choices=list(MODELS), help="build one of the models")
    p.add_argument(
        "--update-cards",
        action="store_true",
        help="re-evaluate the shipped models and rewrite their cards' figures (no training)",
    )
    args = p.parse_args()
    if args.check or args.update_cards:
        return check(update=args.update_cards)
    build(args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
