"""Profile the demo's workload stage by stage: where do its seconds go on this machine?

The workload of ``geneimpute demo``: the bundled GTEx v8 table (37 tissues x 18,241 genes), a
seeded 10% of the genes held out, ``ge.tl.train`` with the defaults, ``ge.tl.impute_expression``
with 90% intervals. Two passes, both through the public API:

1. ``cProfile`` over ``train`` + ``impute_expression``. The package logs the end of every timed
   stage at DEBUG on the ``geneimpute`` logger (``benchmarks/scale.py`` reads the same records);
   a logging handler closes the running profile there and opens the next, so each stage gets the
   calls made since the previous stage ended. Written: the top 20 functions by own time per stage.
2. ``torch.profiler`` over one network fit with ``max_epochs=1`` (the network stage per epoch):
   the top 20 operators by self CPU time.

Usage::

    python benchmarks/profile_demo.py            # writes benchmarks/results/profile_demo.md

Profiling slows every call down, so the seconds here are larger than the demo's; the shares
are what to read. Run it on a quiet machine.
"""

from __future__ import annotations

import cProfile
import logging
import os
import platform
import pstats
import time
from pathlib import Path

import numpy as np

import geneimpute as ge

OUT = Path(__file__).resolve().parent / "results" / "profile_demo.md"
TOP = 20
SEED = 0


class StageProfiles(logging.Handler):
    """Close the running cProfile at each stage-end record of the ``geneimpute`` logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stages: list[tuple[str, float, pstats.Stats]] = []
        self.profile = cProfile.Profile()
        self.phase = ""

    def start(self) -> None:
        self.profile.enable()

    def close_stage(self, name: str, seconds: float) -> None:
        self.profile.disable()
        self.stages.append((f"{self.phase}: {name}", seconds, pstats.Stats(self.profile)))
        self.profile = cProfile.Profile()
        self.profile.enable()

    def emit(self, record: logging.LogRecord) -> None:
        stage = getattr(record, "stage", None)
        if stage is not None:
            self.close_stage(str(stage), float(getattr(record, "seconds", np.nan)))

    def stop(self, name: str) -> None:
        self.profile.disable()
        self.stages.append((name, np.nan, pstats.Stats(self.profile)))


def top_functions(stats: pstats.Stats, n: int = TOP) -> list[tuple[float, float, int, str]]:
    """``(own s, cumulative s, calls, function)`` of the ``n`` functions with most own time."""
    rows = []
    for (file, line, func), (_, calls, own, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(file).name}:{line}({func})" if line else func
        rows.append((own, cum, calls, where))
    return sorted(rows, reverse=True)[:n]


def held_out_table():
    adata = ge.datasets.gtex_tissues()
    rng = np.random.default_rng(SEED)
    held = np.zeros(adata.n_vars, bool)
    held[rng.choice(adata.n_vars, adata.n_vars // 10, replace=False)] = True
    X = np.asarray(adata.X, dtype=np.float32).copy()
    X[:, held] = np.nan
    adata.X = X
    return adata


def profile_stages(adata) -> tuple[list, dict]:
    handler = StageProfiles()
    log = logging.getLogger("geneimpute")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    t0 = time.perf_counter()
    try:
        handler.phase = "train"
        handler.start()
        model = ge.tl.train(adata, random_state=SEED)
        handler.phase = "impute"
        ge.tl.impute_expression(adata, model)
        handler.stop("impute: after the last stage")
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    wall = {"train + impute (profiled)": time.perf_counter() - t0}
    wall.update({f"train: {k}": v for k, v in model.timings_.items()})
    impute = adata.uns["imputed"]["timings"].items()
    wall.update({f"impute: {k}": v for k, v in impute if k not in model.timings_})
    return handler.stages, wall


def profile_network(adata) -> str:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        ge.tl.train(adata, random_state=SEED, max_epochs=1, calibrate=False)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=TOP)


def markdown(stages: list, wall: dict, torch_table: str) -> str:
    lines = [
        "# Profile of the demo's workload",
        "",
        f"`python benchmarks/profile_demo.py` on {platform.machine()}, Python "
        f"{platform.python_version()}, geneimpute {ge.__version__}, "
        f"{os.cpu_count()} CPUs; profiling slows calls down, read the shares.",
        "",
        "## Seconds per stage (the model's timings, profiled run)",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.1f} |" for k, v in wall.items()],
        "",
        "## Top functions by own time, per stage (cProfile)",
        "",
        "Each block holds the calls made since the previous stage ended.",
    ]
    for name, seconds, stats in stages:
        rows = top_functions(stats)
        total = sum(r[0] for r in top_functions(stats, n=10**9))
        lines += [
            "",
            f"### {name} ({seconds:.1f} s timed, {total:.1f} s own time profiled)",
            "",
            "| own s | cumulative s | calls | function |",
            "|---|---|---|---|",
            *[f"| {o:.2f} | {c:.2f} | {n} | `{w}` |" for o, c, n, w in rows],
        ]
    lines += [
        "",
        "## Network stage, one epoch per fold (torch.profiler, top operators by self CPU time)",
        "",
        "```",
        torch_table.rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ge.settings.progress = False
    stages, wall = profile_stages(held_out_table())
    torch_table = profile_network(held_out_table())
    OUT.write_text(markdown(stages, wall, torch_table))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
