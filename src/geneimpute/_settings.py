"""Package-wide settings and device selection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Accelerator = Literal["auto", "cpu", "cuda"]


@dataclass
class _Settings:
    """Global defaults; change e.g. ``ge.settings.progress = False``.

    Attributes
    ----------
    progress
        Show ``tqdm`` progress bars during training and encoding.
    accelerator
        Default device policy: ``"auto"`` uses CUDA when available, ``"cpu"`` forces the CPU.
    n_jobs
        Threads for XGBoost and torch on the CPU (``None``: all cores).
    """

    progress: bool = True
    accelerator: Accelerator = "auto"
    n_jobs: int | None = None


settings = _Settings()


def resolve_device(accelerator: Accelerator | None = None) -> str:
    """Return ``"cuda"`` or ``"cpu"`` for an accelerator policy.

    Raises
    ------
    ValueError
        If ``accelerator`` is unknown, or ``"cuda"`` is requested but unavailable.
    """
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
