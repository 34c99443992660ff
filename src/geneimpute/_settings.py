"""Package-wide settings and device selection."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

Accelerator = Literal["auto", "cpu", "cuda"]


@dataclass
class _Settings:
    """Global defaults; change e.g. ``ge.settings.progress = False``.

    Attributes
    ----------
    progress
        Show ``tqdm`` progress bars during training and encoding, and a line on stderr as
        each longer stage (XGBoost fit, out-of-fold errors, calibration, impute) starts.
    accelerator
        Default device policy: ``"auto"`` uses CUDA when available, ``"cpu"`` forces the CPU.
    n_jobs
        Threads for XGBoost and torch training on the CPU (``None``: every CPU this process
        may use). Applied while a network trains, whatever ``OMP_NUM_THREADS`` says (dask's
        ``LocalCluster`` sets it to 1 in the process that starts it).
    """

    progress: bool = True
    accelerator: Accelerator = "auto"
    n_jobs: int | None = None


settings = _Settings()


def resolve_device(accelerator: Accelerator | None = None) -> str:
    """``"cuda"`` or ``"cpu"`` for an accelerator policy; ValueError if unknown/unavailable."""
    import torch

    acc = settings.accelerator if accelerator is None else accelerator
    if acc not in ("auto", "cpu", "cuda"):
        msg = f"accelerator must be 'auto', 'cpu' or 'cuda', got {acc!r}"
        raise ValueError(msg)
    if acc == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if acc == "cuda" and not available:
        msg = "accelerator='cuda' was requested but torch.cuda.is_available() is False"
        raise ValueError(msg)
    return "cuda" if available else "cpu"


def cpu_threads() -> int:
    """Threads for torch and XGBoost: ``settings.n_jobs``, else the CPUs this process may use."""
    if settings.n_jobs is not None:
        return max(1, int(settings.n_jobs))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def torch_threads() -> Iterator[None]:
    """Run the block on :func:`cpu_threads` torch threads (dask's nanny sets OMP_NUM_THREADS=1)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(cpu_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before)
