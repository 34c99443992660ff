"""Paired differences of the hybrid and every other row, seed by seed, from accuracy results.

Usage: python experiments/paired_differences.py [benchmarks/results/accuracy.json | accuracy.log]
       python experiments/paired_differences.py --partial [benchmarks/results/accuracy.json]

Record of how ``results/accuracy_paired.md`` was made (from ``benchmarks/results/accuracy.json``
at 15cbbe5, 2026-12-01). It reads results files only, so it still runs; ``benchmarks/report.py``
now computes the same paired differences for ``docs/benchmarks.md``.

Ablations share their split with the full hybrid, so the paired difference (hybrid - row, per
seed) is the fair test of whether a component earns its place: it is shown as mean ± standard
deviation over seeds for per-tissue Pearson r, per-gene centred Pearson r and R^2.

Reads the per-seed values of ``accuracy.json`` (written by ``benchmarks/accuracy.py``:
``{"seeds": [...], dataset: {row: {metric: {"mean", "sd", "per_seed"}}}}``), or, for results
written before ``per_seed`` existed, the per-seed lines of ``accuracy.log`` (3 decimals).
Without an argument: ``accuracy.json`` when it has per-seed values, else ``accuracy.log``.
``--partial`` reads the partial-profile protocol (``accuracy.json["partial"]``), one table per
dataset and hidden fraction, marks each difference larger than its paired sd with ``*``, and
writes the tables to ``experiments/results/accuracy_partial_paired.md``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"  # what it reads
OUT = Path(__file__).resolve().parent / "results"  # what it writes
METRICS = ("pearson_tissue", "pearson_gene_centered", "r2")
LINE = re.compile(r"\s+(\w+) seed (\d+) (\w+)\s+r_tissue ([-\d.]+) r_gene_c ([-\d.]+) R2 ([-\d.]+)")

#: (dataset, row) -> {seed: (pearson_tissue, pearson_gene_centered, r2)}
Rows = dict[tuple[str, str], dict[int, tuple[float, ...]]]


def has_per_seed(path: Path) -> bool:
    data = json.loads(path.read_text())
    return "seeds" in data


def from_json(path: Path) -> Rows:
    data = json.loads(path.read_text())
    seeds = data.pop("seeds")
    data.pop("defaults", None)  # the HybridConfig the rows were run with
    rows: Rows = {}
    for ds, table in data.items():
        for row, metrics in table.items():
            if not all(m in metrics for m in METRICS):
                continue
            values = zip(*(metrics[m]["per_seed"] for m in METRICS), strict=True)
            rows[(ds, row)] = dict(zip(seeds, values, strict=True))
    return rows


def from_log(path: Path) -> Rows:
    rows: Rows = defaultdict(dict)
    for line in path.read_text().splitlines():
        m = LINE.match(line)
        if m:
            rows[(m.group(1), m.group(3))][int(m.group(2))] = tuple(map(float, m.groups()[3:]))
    return rows


def from_partial(path: Path) -> Rows:
    data = json.loads(path.read_text())["partial"]
    seeds = data.pop("seeds")
    data.pop("defaults", None)  # the HybridConfig the rows were run with
    rows: Rows = {}
    for ds, fractions in data.items():
        for frac, table in fractions.items():
            for row, metrics in table.items():
                values = zip(*(metrics[m]["per_seed"] for m in METRICS), strict=True)
                rows[(f"{ds}, {frac} of tissues hidden", row)] = dict(
                    zip(seeds, values, strict=True)
                )
    return rows


def paired_tables(rows: Rows, mark: bool = False) -> str:
    """Markdown tables of hybrid - row; with ``mark``, ``*`` where |mean| > paired sd."""
    out = []
    for ds in dict.fromkeys(d for d, _ in rows):
        hyb = rows[(ds, "hybrid")]
        out.append(f"\n### {ds}: hybrid - row, paired over seeds {sorted(hyb)}\n")
        out.append("| row | per-tissue r | per-gene centred r | R^2 |\n|---|---|---|---|")
        for (d, row), v in rows.items():
            if d != ds or row == "hybrid":
                continue
            seeds = sorted(set(v) & set(hyb))
            diff = np.array([[hyb[s][i] - v[s][i] for i in range(3)] for s in seeds])
            cells = [
                f"{diff[:, i].mean():+.4f} ± {diff[:, i].std():.4f}"
                + (" *" if mark and abs(diff[:, i].mean()) > diff[:, i].std() else "")
                for i in range(3)
            ]
            out.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path, nargs="?", help="accuracy.json or accuracy.log")
    p.add_argument("--partial", action="store_true", help="the partial-profile protocol")
    args = p.parse_args()
    path = args.results
    if args.partial:
        text = paired_tables(from_partial(path or RESULTS / "accuracy.json"), mark=True)
        print(text)
        out = OUT / "accuracy_partial_paired.md"
        out.write_text(
            "Produced by `python experiments/paired_differences.py --partial` from "
            "`accuracy.json` (hybrid minus row, mean ± sd over seeds; `*`: |mean| > sd).\n"
            + text
            + "\n"
        )
        print(f"wrote {out}")
        return
    if path is None:
        path = RESULTS / "accuracy.json"
        if not (path.exists() and has_per_seed(path)):
            path = RESULTS / "accuracy.log"
    rows = from_json(path) if path.suffix == ".json" else from_log(path)
    print(paired_tables(rows))


if __name__ == "__main__":
    main()
