"""Render docs/benchmarks.md and README.md's result blocks from benchmarks/results/.

Usage: python benchmarks/report.py [--check]

Every figure on the page is read from a results file in ``benchmarks/results/`` (or computed
from one: paired differences come from the per-seed values, ratios from the means). The prose is
the templates in this script. Each section names the command and the file it comes from, and
says whether the file was made with today's package defaults: it compares the ``HybridConfig``
a file records with ``ge.models.HybridConfig()``. README.md gets the demo's metrics block and
the headline table between ``<!-- report:NAME -->`` and ``<!-- /report:NAME -->`` markers.
``--check`` writes nothing and exits 1 when a rendered file differs from the committed one
(``tests/test_docs.py`` checks the same). The scripts print their tables with the renderers
here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"
README = ROOT / "README.md"
METRICS = {
    "pearson_tissue": "per-tissue r",
    "pearson_gene_centered": "per-gene centred r",
    "r2": "R²",
}
ACCURACY_COLS = (
    "pearson_tissue",
    "pearson_gene_centered",
    "r2",
    "mse",
    "pearson_tissue_low",
    "r2_low",
    "r2_median",
    "seconds",
)
PARTIAL_COLS = ("pearson_tissue", "pearson_gene_centered", "r2", "mse", "seconds")
#: accuracy.py's ablations: what each row leaves out
ABLATED = {
    "hybrid_no_cnn": "the promoter CNN",
    "hybrid_no_transformer": "the neighbour transformer",
    "hybrid_no_tissue_corr": "the tissue correlations",
    "hybrid_no_distance": "distances and orientation",
    "xgboost_features": "both networks",
}
DATASET_NAMES = {"gtex": "GTEx (bundled, 37 tissues)", "roadmap": "Roadmap (57 epigenomes)"}


# ----------------------------------------------------------------------------- helpers
def read(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def pm(m: dict, digits: int = 3) -> str:
    """``mean ± sd`` of a ``{"mean", "sd"}`` (or ``"std"``) summary."""
    sd = m["sd"] if "sd" in m else m["std"]
    return f"{m['mean']:.{digits}f} ± {sd:.{digits}f}"


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean and sd over seeds of the per-seed difference ``a - b``."""
    d = np.subtract(a, b)
    return float(d.mean()), float(d.std())


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def today_defaults() -> dict:
    import geneimpute as ge

    return json.loads(json.dumps(asdict(ge.models.HybridConfig())))


def settings_note(recorded: dict | None, command: str, what: str = "the hybrid") -> str:
    """Whether a results file was made with today's ``HybridConfig()`` defaults (the settings
    of ``what``, recorded in the file)."""
    if recorded is None:
        return (
            f"**Earlier defaults.** The file does not record the settings of {what}: it was "
            "made before the scripts recorded them, with the package defaults of that time. "
            f"Re-run `{command}` for figures with today's defaults."
        )
    today = today_defaults()
    diff = [k for k, v in today.items() if k in recorded and recorded[k] != v]
    if not diff:
        return "Made with today's package defaults (the `HybridConfig` the file records)."
    changed = ", ".join(f"`{k}` {recorded[k]!r} (today {today[k]!r})" for k in diff)
    return f"**Other settings than today's defaults:** {changed}. Re-run `{command}`."


def source(command: str, files: str) -> str:
    return f"Command: `{command}`. File: {files}."


# ----------------------------------------------------------------------------- tables
def accuracy_table(summ: dict, cols: tuple[str, ...] = ACCURACY_COLS) -> str:
    rows = [
        [row] + [pm(m[c]) if c != "seconds" else f"{m[c]['mean']:.0f}" for c in cols]
        for row, m in summ.items()
    ]
    return md_table(["row", *cols], rows)


def paired_table(summ: dict, base: str = "hybrid") -> str:
    """``base - row`` for every other row (mean ± sd over seeds)."""
    rows = []
    for row, m in summ.items():
        if row == base:
            continue
        cells = [
            "{:+.4f} ± {:.4f}".format(*paired(summ[base][c]["per_seed"], m[c]["per_seed"]))
            for c in METRICS
        ]
        rows.append([row, *cells])
    return md_table(["row", *METRICS.values()], rows)


def partial_table(fractions: dict) -> str:
    rows = []
    for frac, table in fractions.items():
        for row, m in table.items():
            cells = [pm(m[c]) if c != "seconds" else f"{m[c]['mean']:.0f}" for c in PARTIAL_COLS]
            rows.append([frac, row, *cells])
    return md_table(["hidden", "row", *PARTIAL_COLS], rows)


def scale_table(runs: list[dict]) -> str:
    """Seconds and peak RSS of every stage, one column per run."""
    stages = list(dict.fromkeys(s for r in runs for s in r["stages"]))
    head = [
        f"{r['level']} {r['n_obs']:,}x{r['n_vars']:,} ({r['device']}"
        + (", dask)" if r.get("engine") == "dask" else ")")
        for r in runs
    ]
    rows = [
        [st]
        + [
            f"{r['stages'][st]['seconds']:.1f} s / {r['stages'][st]['peak_mib']:,.0f} MiB"
            if st in r["stages"]
            else "-"
            for r in runs
        ]
        for st in stages
    ]
    rows.append(
        ["**total**"] + [f"**{r['total_seconds']:.0f} s / {r['peak_mib']:,.0f} MiB**" for r in runs]
    )
    return md_table(["stage", *head], rows)


def exponent_table(result: dict) -> str:
    """Growth exponents with the seconds each was fitted on (scale.json)."""
    gene = [r for r in result["runs"] if r["level"] == "gene"]
    rows = []
    for st, e in result["exponents"].items():
        isolated = result["exponent_sources"][st].startswith("isolated")
        secs = [
            r["isolated_seconds"][st]
            if isolated
            else (r["total_seconds"] if st == "total" else r["stages"][st]["seconds"])
            for r in gene
        ]
        pipe = result["exponents_in_pipeline"].get(st)
        rows.append(
            [st, f"{e:.2f}", result["exponent_sources"][st]]
            + [f"{x:.3g} s" for x in secs]
            + ["-" if pipe is None else f"{pipe:.2f}"]
        )
    head = ["stage", "exponent", "fitted on", *(f"{r['n_vars']:,} genes" for r in gene)]
    return md_table([*head, "in-pipeline exponent"], rows)


def dask_table(r: dict) -> str:
    """A dask run: what it held, then every stage with the peak RSS of every process."""
    procs = list(r["process_peak_mib"])
    store = r["store"]
    text = (
        f"{r['n_obs']:,} samples x {r['n_vars']:,} genes, {r['n_genes_imputed']:,} genes "
        f"filled in every sample ({r['n_values_imputed']:,} values; the written mask holds "
        f"{r['n_values_in_written_mask']:,}); {r['cluster']['n_workers']} workers x 1 thread, "
        f"memory limit {r['cluster']['memory_limit']} each. Store: {store['format']}; "
        f"{store['values']}; {store['uncompressed_gib']} GiB as float32, "
        f"{store['compressed_gib']} GiB on disk, {store['compressed_gib_with_layers']} GiB with "
        f"the two layers (removed afterwards: {r['store_removed']}). Bytes spilled to disk by "
        f"the workers: {sum(r['spilled_bytes'].values()):,}."
    )
    rows = [
        [name, f"{st['seconds']:.1f}"] + [f"{st['process_peak_mib'][p] / 1024:.2f}" for p in procs]
        for name, st in r["stages"].items()
    ]
    rows.append(
        ["**total**", f"**{r['total_seconds']:.0f}**"]
        + [f"**{r['process_peak_mib'][p] / 1024:.2f}**" for p in procs]
    )
    head = ["stage", "seconds", *(f"peak RSS {p} (GiB)" for p in procs)]
    return text + "\n\n" + md_table(head, rows)


def regulator_table(block: dict) -> str:
    rows = []
    for row in ("group_mean", "knn", "ridge", "context_ridge", "dnn", "dnn_ae"):
        d = block["paired_dnn_ae_minus"].get(row, {}).get("pearson_gene")
        rows.append(
            [row]
            + [pm(block[row][m], 4) for m in ("pearson_gene", "pearson_sample", "r2")]
            + [
                f"{block['seconds'][row]['mean']:.1f}",
                f"{d['mean']:+.4f} ± {d['sd']:.4f}" if d else "—",
            ]
        )
    head = ["row", "per-gene r", "per-sample r", "R²", "seconds", "dnn_ae − row, per-gene r"]
    return md_table(head, rows)


def demo_block(demo: dict) -> str:
    """The metrics table ``geneimpute demo`` prints, from its ``--json`` output."""
    h, d = demo["hybrid"], demo["distance"]
    rows = []
    for m in ("pearson_tissue", "pearson_gene_centered", "r2", "mse"):
        if m == "mse":
            ratio = f"{d[m] / h[m]:.2f}x lower"
        elif m == "r2" or d[m] <= 0:
            ratio = f"{h[m] - d[m]:+.3f}"
        else:
            ratio = f"{h[m] / d[m]:.2f}x"
        rows.append([m, f"{h[m]:.3f}", f"{d[m]:.3f}", ratio])
    if "coverage_90" in h:
        rows.append(
            ["coverage_90", f"{h['coverage_90']:.3f}", f"{d['coverage_90']:.3f}", "nominal 0.900"]
        )
        w = (h["width_90"], d["width_90"])
        rows.append(["width_90 (log1p)", f"{w[0]:.2f}", f"{w[1]:.2f}", f"{w[0] / w[1]:.2f}x"])
    header = ["metric", "hybrid", f"distance (k={demo['params']['k_distance']})"]
    return text_table([*header, "hybrid vs distance"], rows)


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """Plain-text table as the command line prints it (first column left-aligned)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = enumerate(zip(r, widths, strict=True))
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in cells)

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def best_distance(summ: dict) -> str:
    """The distance-based row (``distance_k*``) with the highest mean per-tissue r."""
    rows = [r for r in summ if r.startswith("distance_k")]
    return max(rows, key=lambda r: summ[r]["pearson_tissue"]["mean"])


def headline_table(acc: dict) -> str:
    """Hybrid, best distance-based row and XGBoost on the features, GTEx and Roadmap."""
    best = {ds: best_distance(acc[ds]) for ds in ("gtex", "roadmap")}
    ks = " / ".join(best[ds].removeprefix("distance_k") for ds in best)
    picks = {
        "hybrid": dict.fromkeys(best, "hybrid"),
        f"distance-based method (best k: {ks})": best,
        "XGBoost on the hand-made features": dict.fromkeys(best, "xgboost_features"),
    }
    rows = [
        [label] + [pm(acc[ds][row[ds]][m]) for ds in best for m in ("pearson_tissue", "r2")]
        for label, row in picks.items()
    ]
    head = ["method", "GTEx per-tissue r", "GTEx R²", "Roadmap per-tissue r", "Roadmap R²"]
    return md_table(head, rows)


def reading(mean: float, sd: float) -> str:
    """A paired difference (hybrid minus the ablation) in words."""
    if mean > 2 * sd:
        return "better with it"
    if mean < -2 * sd:
        return "better without it"
    if mean == sd == 0:
        return "identical on every seed"
    return "no difference beyond twice the paired sd"


# ----------------------------------------------------------------------------- sections
INTRO = """# Benchmarks

This page is generated by `python benchmarks/report.py` from the results files in
`benchmarks/results/`. Edit the script, not the page: `tests/test_docs.py` checks that the two
agree. Each section names the command that wrote its file, and says whether the file was made
with today's package defaults.

Accuracy metrics are on log1p values of held-out genes. Per-tissue r is the Pearson r across
genes within a tissue, averaged over tissues. Per-gene centred r is the Pearson r across
tissues per gene after each tissue is centred: it measures tissue specificity. R² and MSE pool
all held-out values. Figures are mean ± sd over seeds. A paired difference is computed seed by
seed on the same split, then averaged: an ablation is clearly worse only when the hybrid's
paired lead is well above its sd.

The experiments behind each design choice, with their figures and files, are indexed in
`experiments/README.md` in the repository. Those are records, not current figures.
"""


def demo_section(demo: dict) -> str:
    p = demo["params"]
    steps = md_table(["step", "seconds"], [[k, f"{v:.1f}"] for k, v in demo["seconds"].items()])
    return f"""## The demo

{source("geneimpute demo --json demo_metrics.json", "`benchmarks/results/demo_metrics.json`")}
It holds out a seeded random {p["holdout"]:.0%} of the genes of the bundled GTEx table (seed
{p["seed"]}, {p["n_held_out"]:,} genes), trains the hybrid with the package defaults, imputes
them and compares with the distance-based method (k = {p["k_distance"]}). Both methods' 90%
intervals are calibrated the same way; `width_90` is their mean width in log1p units.

```text
{demo_block(demo)}
```

{steps}

Peak resident memory: {demo["peak_memory_gib"]:.2f} GiB.
"""


def ablation_lines(summ: dict) -> str:
    lines = []
    for row, what in ABLATED.items():
        if row not in summ:
            continue
        parts = []
        for m, label in (
            ("pearson_tissue", "per-tissue r"),
            ("pearson_gene_centered", "centred r"),
        ):
            d, sd = paired(summ["hybrid"][m]["per_seed"], summ[row][m]["per_seed"])
            parts.append(f"{label} {d:+.4f} ± {sd:.4f} ({reading(d, sd)})")
        lines.append(f"- Without {what} (`{row}`): " + "; ".join(parts) + ".")
    return "\n".join(lines)


def accuracy_section(acc: dict) -> str:
    seeds = acc["seeds"]
    out = [
        f"""## Accuracy on held-out genes

{
            source(
                "python benchmarks/accuracy.py",
                "`benchmarks/results/accuracy.json` (per-seed log: `accuracy.log`)",
            )
        }
{settings_note(acc.get("defaults"), "python benchmarks/accuracy.py")}

A seeded random 10% of the genes is held out ({len(seeds)} seeds: {seeds}); the rest are the
reference genes, the only ones neighbours are drawn from. Rows: the mean reference profile;
the distance-based method (`distance_k*`, inverse-distance-weighted mean of the k nearest
reference genes); a ridge on promoter 4-mer counts and an Xpresso-style promoter CNN; the hybrid
(`ge.tl.train` with the package defaults, then `ge.tl.impute_expression`); the hybrid without
one part (`components=`); `xgboost_features` (the XGBoost stage on the hand-made features,
without both networks); and `sequence_only` (no neighbour inputs, as Xpresso). The
`*_chrom_holdout` rows hold out chr1, chr8 and chr15 instead, which leaves no paralogue or
neighbour on the same chromosome for the sequence-only models. `*_low` is the lowest-expressed
third of the held-out genes. `r2_median` is the R² of the median across tissues, Xpresso's
figure. `seconds` is fit plus prediction.
"""
    ]
    for ds in (d for d in DATASET_NAMES if d in acc):
        summ = acc[ds]
        best = best_distance(summ)
        ratio = summ["hybrid"]["pearson_tissue"]["mean"] / summ[best]["pearson_tissue"]["mean"]
        out.append(f"""### {DATASET_NAMES[ds]}

{accuracy_table(summ)}

The hybrid's per-tissue r is {ratio:.2f}x that of the best distance-based row (`{best}`).
Paired differences, the hybrid minus each row:

{paired_table(summ)}

What each part adds (the hybrid minus the hybrid without it, paired):

{ablation_lines(summ)}
""")
    return "\n".join(out)


def partial_section(acc: dict) -> str:
    part = acc["partial"]
    out = [
        f"""## Partly measured genes

{
            source(
                "python benchmarks/accuracy.py --partial",
                "`benchmarks/results/accuracy.json`, key "
                "`partial` (per-seed log: `accuracy_partial.log`)",
            )
        }
{settings_note(part.get("defaults"), "python benchmarks/accuracy.py --partial")}

The same held-out genes ({len(part["seeds"])} seeds) keep a random share of their tissues.
Only the hidden cells are scored (`ge.tl.evaluate(..., only_imputed=True)`); `hidden` is the
fraction of each gene's tissues hidden, and 1.0 is the fully missing case. `hybrid` is the
model applied with `ge.tl.impute_expression`, which carries the hybrid's errors in a gene's
measured tissues over to its hidden ones; `hybrid_unconditioned` ignores the measured tissues.
The peers are the gene's observed mean, a ridge from the measured tissues to each hidden one
(`tissue_corr_ridge`), scikit-learn's `KNNImputer` and `IterativeImputer`, and the
distance-based method.
"""
    ]
    for ds in (d for d in DATASET_NAMES if d in part):
        rows = []
        for frac, table in part[ds].items():
            others = [r for r in table if r not in ("hybrid", "hybrid_unconditioned")]
            for m, label in METRICS.items():
                best = max(others, key=lambda r, m=m: table[r][m]["mean"])
                d, sd = paired(table["hybrid"][m]["per_seed"], table[best][m]["per_seed"])
                rows.append([frac, label, f"`{best}`", f"{d:+.4f} ± {sd:.4f}"])
        out.append(f"""### {DATASET_NAMES[ds]}

{partial_table(part[ds])}

The hybrid against the best other row at each fraction, paired:

{md_table(["hidden", "metric", "best other row", "hybrid − row"], rows)}
""")
    return "\n".join(out)


def uncertainty_section(unc: dict) -> str:
    datasets = [d for d in DATASET_NAMES if d in unc]
    rows = [
        [k] + [pm(unc[d][k], 0 if k == "seconds" else 3) for d in datasets]
        for k in unc[datasets[0]]
    ]
    return f"""## Prediction intervals

{
        source(
            "python benchmarks/uncertainty.py",
            "`benchmarks/results/uncertainty.json` (per-seed log: `uncertainty.log`)",
        )
    }
{settings_note(unc.get("defaults"), "python benchmarks/uncertainty.py")}

The accuracy benchmark's splits ({len(unc["seeds"])} seeds). `coverage_*` is the share of
held-out values inside their interval: overall, in the worst tissue (`_min_tissue`) and on the
lowest-expressed third of the genes (`_low_third`). `width_ratio_vs_distance` is the hybrid's
mean 90% width over the distance-based method's; both are calibrated the same way.
`reliability_*_decile_r` is the per-gene centred r of the imputed genes in the top and bottom
decile of `var["imputed_reliability"]`. The `plain_*` rows, where present, are the same model
and calibration without the difficulty model.

{md_table(["metric", *(DATASET_NAMES[d] for d in datasets)], rows)}
"""


def scale_section(scale: dict) -> str:
    notes = {settings_note(r.get("defaults"), "python benchmarks/scale.py") for r in scale["runs"]}
    dask = [r for r in scale["runs"] if r.get("engine") == "dask"]
    dask_text = (
        f"""### 10x GTEx on a dask cluster (`python benchmarks/scale.py --dask`)

{dask_table(dask[-1])}
"""
        if dask
        else ""
    )
    return f"""## Scale

{
        source(
            "python benchmarks/scale.py",
            "`benchmarks/results/scale.json` (logs: `scale.log`, `scale_dask.log`)",
        )
    }
{" ".join(sorted(notes))}

Time and peak resident memory of every stage. Gene level: tissues x genes tables with 1x, 2x
and 3x the bundled gene count, trained and imputed (`ge.tl.train`, then
`ge.tl.impute_expression`). Sample level: `ge.tl.impute_samples` on a samples x genes matrix.
The inputs are resampled from the bundled real data (see the script's docstring). Each
gene-level size runs in fresh processes and the fastest time of each stage is kept. Stage
times come from geneimpute's timing hook (records logged at `DEBUG` on the `geneimpute`
logger). Machine: {scale["machine"]["cpu_count"]} CPUs, {scale["machine"]["memory_gib"]} GiB.

{scale_table(scale["runs"])}

The growth exponent is the least-squares slope of log seconds on log genes over the gene-level
runs. Short stages are fitted on their times in warm memory (`isolated`), because inside the
pipeline a sub-second stage is dominated by first-touch page faults. Long stages are fitted on
the pipeline times.

{exponent_table(scale)}

{dask_text}"""


def pretrained_section(pre: dict) -> str:
    med = pre["median"]
    rows = [[k, f"{v:.2f}"] for k, v in med.items()]
    config = pre.get("model_config")
    if config is not None:
        config = {k: v for k, v in config.items() if k != "random_state"}
    return f"""## A pretrained model, without training

{source("python benchmarks/pretrained.py", "`benchmarks/results/pretrained.json`")}
{settings_note(config, "python benchmarks/pretrained.py", "the shipped model")}

Task: {pre["task"]}. Each run is a fresh Python process; median of {len(pre["runs"])} runs on
{pre["machine"]}:

{md_table(["step", "median"], rows)}
"""


def donor_section(donor: dict) -> str:
    rows = [
        [row, pm(r["pearson_sample"], 4), pm(r["pearson_tissue"], 3), f"{r['seconds']:.0f}"]
        for row, r in donor["rows"].items()
    ]
    pt = donor["per_tissue"]
    ahead = sum(pt["hybrid"][t] > pt["teebot"][t] for t in pt["hybrid"])
    p = donor["params"]
    return f"""## Donor-level completion

{source("python benchmarks/donor.py", "`benchmarks/results/donor.json` (log: `donor.log`)")}

HYFA's protocol on real GTEx v8 samples ({p["data"]}). Split: {p["split"]}, seeds
{p["seeds"]}. Each sampled tissue of a test donor is masked in turn and predicted from
the donor's other tissues. Scores cover target tissues with at least {p["min_test_donors"]}
test donors. Per-sample r is across the genes of one (donor, tissue) profile. Per-tissue r is
across test donors, per gene: it shows the donor-specific signal that the genes' mean levels
hide in the per-sample r.

{md_table(["row", "per-sample r", "per-tissue r (across donors)", "seconds"], rows)}

The hybrid's per-sample r is above TEEBoT's in {ahead} of the {len(pt["hybrid"])} scored target
tissues (mean over seeds).
"""


def regulators_section(reg: dict) -> str:
    out = [
        f"""## Regulator-driven imputation

{
            source(
                "python benchmarks/regulators.py",
                "`benchmarks/results/regulators.json` (log: `regulators.log`)",
            )
        }

{len(reg["seeds"])} seeds, every row on the same masks. TCGA: each cohort hides 10% of the
genes it measured, in all its samples. GTEx (SEPIRA subset): 10% of the non-regulator genes
are hidden in 20% of the samples. The rows: `group_mean` is the sample-type or tissue mean;
`knn` is `KNNImputer`; `ridge` is `RidgeCV` on the regulators; `context_ridge` is
`ge.models.ContextRidge` alone, each missing gene regressed on every gene the sample measured;
`dnn` is the regulator network without the autoencoder; `dnn_ae` is the package default,
network plus autoencoder on the context ridge. The last column is the default minus the row,
paired.
"""
    ]
    for ds, title in (("tcga", "TCGA (11 cohorts)"), ("gtex", "GTEx (SEPIRA subset)")):
        if ds not in reg:
            continue
        b = reg[ds]
        d = b["paired_dnn_ae_minus"]["context_ridge"]["pearson_gene"]
        text = (
            f"The network and its autoencoder add {d['mean']:+.4f} ± {d['sd']:.4f} per-gene r "
            f"to the context ridge alone ({reading(d['mean'], d['sd'])})."
        )
        if "deeplift_top_regulator" in b:
            s = b["deeplift_top_regulator"]
            text += (
                f" DeepLIFT's top regulator of {s['n_targets']} fixed targets is the same in all "
                f"seeds for {s['same_in_all_seeds']:.0%} of them; two seeds agree on "
                f"{s['pairwise_agreement_mean']:.0%} on average."
            )
        out.append(f"### {title}\n\n{regulator_table(b)}\n\n{text}\n")
    return "\n".join(out)


# ----------------------------------------------------------------------------- output
def optional(name: str, section) -> str:
    """``section(read(name))``, or nothing when ``name`` is absent (see ``PENDING``)."""
    if (RESULTS / name).exists():
        return section(read(name))
    return ""


#: Results deleted with the earlier defaults, to be measured again with today's.
PENDING = """## Not yet measured with today's defaults

The partly-measured-genes protocol (`python benchmarks/accuracy.py --partial`), the scaling runs
(`python benchmarks/scale.py`, `--dask`) and the pretrained-model timing
(`python benchmarks/pretrained.py`) were last run with the package defaults before the tuning
run; those results were deleted with them. Each command writes its results file, and this page
shows it once `python benchmarks/report.py` is run again.
"""


def page() -> str:
    acc = read("accuracy.json")
    sections = [
        INTRO,
        demo_section(read("demo_metrics.json")),
        accuracy_section(acc),
        partial_section(acc) if "partial" in acc else "",
        uncertainty_section(read("uncertainty.json")),
        optional("scale.json", scale_section),
        optional("pretrained.json", pretrained_section),
        donor_section(read("donor.json")),
        regulators_section(read("regulators.json")),
        PENDING,
    ]
    text = "\n".join(s for s in sections if s)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def readme(text: str) -> str:
    """README.md with its ``report:demo`` and ``report:headline`` blocks rendered."""
    demo, acc = read("demo_metrics.json"), read("accuracy.json")
    blocks = {
        "demo": (
            "The metrics of the committed run (`benchmarks/results/demo_metrics.json`, seed "
            f"{demo['params']['seed']}, {demo['params']['n_held_out']:,} held-out genes), "
            "followed by the seconds of each step:\n\n```\n" + demo_block(demo) + "\n```"
        ),
        "headline": (
            "Held-out genes (a seeded random 10%, mean ± sd over "
            f"{len(acc['seeds'])} seeds), on the bundled GTEx table and on Roadmap Epigenomics "
            "(57 epigenomes), from `benchmarks/results/accuracy.json`:\n\n" + headline_table(acc)
        ),
    }
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- report:{name} -->\n).*?(\n<!-- /report:{name} -->)", re.S)
        if not pattern.search(text):
            msg = f"README.md has no <!-- report:{name} --> ... <!-- /report:{name} --> block"
            raise ValueError(msg)
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    return text


def render() -> dict[Path, str]:
    """``{path: text}`` of every file this script writes."""
    return {PAGE: page(), README: readme(README.read_text())}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with the files, write nothing")
    args = p.parse_args()
    stale = []
    for path, text in render().items():
        if path.read_text() != text:
            stale.append(path)
            if not args.check:
                path.write_text(text)
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
