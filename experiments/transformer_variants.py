"""Ways to give the neighbour transformer a place, paired against accuracy.py's rows (issue 12).

Record, not maintained code (see ``experiments/README.md``). Results:
``results/transformer_variants.json`` / ``transformer_variants.md`` (34990c2, 2026-12-01; log
``transformer_variants_gtex.log``). This script runs as it stands at commit 93bbb6e (``git
checkout 93bbb6e``), the last commit before issue 28 removed the options and private helpers it
compares and imports; paths ``benchmarks/...`` below are the layout of that commit (its results
now live in ``experiments/results/``). Its figures are not current figures:
``docs/benchmarks.md`` has those.

Usage: python benchmarks/transformer_variants.py [--variants NAME ...] [--seeds 0 1 2 3 4]
       [--datasets gtex roadmap]

With the package defaults the hybrid is better *without* its transformer on GTEx (paired
``hybrid - hybrid_no_transformer`` -0.002 per-tissue r, -0.004 per-gene centred r, 5 seeds in
``accuracy_paired.md``). Stage 2 already has the inverse-distance-weighted neighbour profile
(the ``idw`` block), so the question is whether the transformer's outputs add to it or only
duplicate it with more noise. Each variant changes how the transformer's outputs reach the
network's joint head or XGBoost, and nothing else (the package defaults otherwise):

- ``no_transformer_readout``: the transformer feeds the joint head as before, but its own
  read-out (``transformer_head(CLS) + pooled profile``) is not a block of the XGBoost design.
- ``separate_branches``: the joint head sees the gene features and the CNN only (what it sees
  in ``hybrid_no_transformer``); the transformer is a separate branch, trained through its
  deep-supervision read-out, which is its own XGBoost block.
- ``pooled_readout``: the transformer's read-out is its attention-pooled neighbour profile
  alone (the learned distance decay), without the linear correction from the ``[CLS]`` token.

The estimator is the package's (:class:`~geneimpute.models.HybridImputer`); a variant
overrides one method. Same datasets, split, seeds and metrics as ``benchmarks/accuracy.py``;
the variant rows are paired seed by seed with that script's ``hybrid`` and
``hybrid_no_transformer`` rows from ``results/accuracy.json``, which must have been run with the
same package defaults (checked). Writes results/transformer_variants.json (``{"seeds",
"defaults", dataset: {variant: {metric: {"mean", "sd", "per_seed"}}}}``) and
transformer_variants.md (means and paired differences ``variant - row``), after each dataset.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from accuracy import kept_datasets, load, paired_table, summarise
from stage1 import run_seed

import geneimpute as ge
from geneimpute.models import HybridConfig, HybridImputer, HybridNet

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("pearson_tissue", "pearson_gene_centered", "r2")
PAIRED_WITH = ("hybrid", "hybrid_no_transformer")


class _NoTransformerReadout(HybridImputer):
    """XGBoost's design without the transformer's read-out block."""

    def _design(self, nn_out, prep, rows):
        return super()._design({k: v for k, v in nn_out.items() if k != "transformer"}, prep, rows)


class _BranchNet(HybridNet):
    """:class:`HybridNet` whose joint head sees the gene features and the CNN only; with
    ``readout="pooled"`` instead, the joint head is the package's and the transformer's
    read-out is its pooled neighbour profile alone."""

    def __init__(self, *args, readout: str = "branch", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.readout = readout
        if readout == "branch" and self.heads == "level_pattern":
            n_in = kwargs["n_gene_features"] + kwargs["dim"] * int(kwargs["use_cnn"])
            drop = kwargs.get("dropout", 0.2)
            self.trunk = torch.nn.Sequential(
                torch.nn.Linear(n_in, 128), torch.nn.ReLU(), torch.nn.Dropout(drop)
            )

    def forward(self, promoter, tokens, pad, genef):
        e_p, e_n, pooled = self.embed(promoter, tokens, pad)
        joint_in = (e_p,) if self.readout == "branch" else (e_p, e_n, pooled)
        h = self.trunk(torch.cat([genef] + [e for e in joint_in if e is not None], dim=1))
        pattern = self.pattern(h)
        out = {"joint": self.level(h) + pattern - pattern.mean(dim=1, keepdim=True)}
        if e_p is not None and self.cnn_head is not None:
            out["cnn"] = self.cnn_head(e_p)
            out["promoter_embedding"] = e_p
        if e_n is not None and self.transformer_head is not None:
            t = self.transformer_head(e_n)
            if pooled is None:
                out["transformer"] = t
            else:
                out["transformer"] = pooled if self.readout == "pooled" else t + pooled
        return out


def _with_net(readout: str) -> type[HybridImputer]:
    class _Variant(HybridImputer):
        def _new_member(self):
            return _BranchNet(**self.net_args_, readout=readout)

    return _Variant


VARIANTS: dict[str, type[HybridImputer]] = {
    "no_transformer_readout": _NoTransformerReadout,
    "separate_branches": _with_net("branch"),
    "pooled_readout": _with_net("pooled"),
}


def baseline_rows(accuracy: dict, name: str, seeds: list[int]) -> dict:
    """accuracy.py's rows of ``name`` restricted to ``seeds`` (in their order)."""
    pos = [accuracy["seeds"].index(s) for s in seeds]
    out = {}
    for row in PAIRED_WITH:
        out[row] = {}
        for c in METRICS:
            per = [accuracy[name][row][c]["per_seed"][i] for i in pos]
            out[row][c] = {"mean": float(np.mean(per)), "sd": float(np.std(per)), "per_seed": per}
    return out


def table(name: str, summ: dict, base: dict, seeds: list[int]) -> str:
    lines = [f"### {name} ({len(seeds)} seeds: {seeds})", ""]
    lines += ["| row | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for row, m in {**base, **summ}.items():
        cells = [f"{m[c]['mean']:.4f} ± {m[c]['sd']:.4f}" for c in METRICS]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    for variant in summ:
        lines += ["", *paired_table(summ, variant, list(PAIRED_WITH), METRICS, base)]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--datasets", nargs="+", default=["gtex"])
    p.add_argument("--output", type=Path, default=RESULTS / "transformer_variants.json")
    args = p.parse_args()
    ge.settings.progress = False
    defaults = asdict(HybridConfig())
    accuracy = json.loads((RESULTS / "accuracy.json").read_text())
    if accuracy.get("defaults") != defaults or not set(args.seeds) <= set(accuracy["seeds"]):
        p.error("results/accuracy.json was run with other package defaults or seeds")
    out: dict = {"seeds": args.seeds, "defaults": defaults}
    out |= kept_datasets(args.output, args.seeds, "defaults", defaults)
    for name in args.datasets:
        if name not in accuracy:
            p.error(f"results/accuracy.json has no {name} rows to pair with")
        adata = load(name)
        rows = {v: {} for v in args.variants}  # package defaults
        per_seed = [run_seed(adata, name, s, rows, VARIANTS) for s in args.seeds]
        out[name] = {**out.get(name, {}), **summarise(per_seed)}
        md = [
            table(d, out[d], baseline_rows(accuracy, d, args.seeds), args.seeds)
            for d in ("gtex", "roadmap")
            if d in out
        ]
        text = "\n\n".join(md)
        print(text, flush=True)
        args.output.write_text(json.dumps(out, indent=2))
        args.output.with_suffix(".md").write_text(
            "Produced by `python benchmarks/transformer_variants.py` (package defaults; each "
            "variant changes how the transformer's outputs are used, see the script). Rows "
            "`hybrid` and `hybrid_no_transformer` are accuracy.py's, same splits and seeds.\n\n"
            + text
            + "\n"
        )


if __name__ == "__main__":
    main()
