"""Paired differences of the hybrid and every other row, seed by seed, from an accuracy log.

Usage: python benchmarks/paired_differences.py [benchmarks/results/accuracy.log]

Ablations share their split with the full hybrid, so the paired difference (hybrid - row, per
seed) is the fair test of whether a component earns its place: it is shown as mean ± standard
deviation over seeds for per-tissue Pearson r and per-gene centred Pearson r.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

LINE = re.compile(r"\s+(\w+) seed (\d+) (\w+)\s+r_tissue ([-\d.]+) r_gene_c ([-\d.]+) R2 ([-\d.]+)")


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/accuracy.log")
    rows: dict[tuple[str, str], dict[int, tuple[float, ...]]] = defaultdict(dict)
    for line in path.read_text().splitlines():
        m = LINE.match(line)
        if m:
            rows[(m.group(1), m.group(3))][int(m.group(2))] = tuple(map(float, m.groups()[3:]))
    for ds in dict.fromkeys(d for d, _ in rows):
        hyb = rows[(ds, "hybrid")]
        print(f"\n### {ds}: hybrid - row, paired over seeds {sorted(hyb)}\n")
        print("| row | per-tissue r | per-gene centred r | R^2 |\n|---|---|---|---|")
        for (d, row), v in rows.items():
            if d != ds or row == "hybrid":
                continue
            seeds = sorted(set(v) & set(hyb))
            diff = np.array([[hyb[s][i] - v[s][i] for i in range(3)] for s in seeds])
            cells = [f"{diff[:, i].mean():+.3f} ± {diff[:, i].std():.3f}" for i in range(3)]
            print(f"| {row} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
