"""The one torch training loop: AdamW, mini-batches, early stopping on a validation score.

Every torch model of the package (the hybrid's stage 1, the donor transformer) and the
benchmark peers train through :func:`fit_early_stopping`, so batching, seeding, early stopping
and restoring the best weights behave the same everywhere. torch is imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._logging import logger
from .._settings import torch_threads

if TYPE_CHECKING:
    import torch


@dataclass
class TrainingResult:
    """What :func:`fit_early_stopping` did.

    Attributes
    ----------
    best_val
        Best validation score (lower is better).
    n_epochs
        Epochs run.
    history
        One dict per epoch: ``epoch``, ``train_loss`` (mean over items), ``val``.
    """

    best_val: float
    n_epochs: int
    history: list[dict[str, Any]] = field(default_factory=list)


def fit_early_stopping(
    net: torch.nn.Module,
    items: np.ndarray,
    loss_fn: Callable[[np.ndarray], torch.Tensor],
    val_fn: Callable[[], float],
    *,
    rng: np.random.Generator,
    max_epochs: int,
    patience: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float = 1e-4,
    min_batch: int = 1,
    min_delta: float = 1e-4,
    desc: str = "training",
    progress: bool = True,
    validate_start: bool = False,
    schedule: str = "constant",
) -> TrainingResult:
    """Train ``net`` in place with AdamW and early stopping; keep the best weights.

    Parameters
    ----------
    net
        The module; left in the state of its best validation epoch.
    items
        Training items (gene rows, donor-tissue pairs, ...), shuffled each epoch with ``rng``
        and split into batches of ``batch_size``.
    loss_fn
        Batch of items -> scalar loss tensor (the forward pass happens inside).
    val_fn
        Validation score after each epoch (lower is better); called with ``net`` in train mode
        left to the callee (it should switch to ``eval``).
    rng
        Shuffling generator (seeded by the caller; global RNG state is not touched).
    max_epochs, patience
        At most ``max_epochs``; stop after ``patience`` epochs without improving by
        ``min_delta``.
    batch_size, learning_rate, weight_decay
        Mini-batch size and AdamW settings.
    min_batch
        Batches smaller than this are skipped (e.g. 2 for batch norm).
    desc, progress
        Progress-bar label and switch (``tqdm.auto``).
    validate_start
        Score the untrained ``net`` first (recorded as epoch -1) and keep it if no epoch
        beats it: for a residual network that starts at zero, training must earn its place
        on validation.
    schedule
        Learning-rate schedule: ``"constant"`` or ``"onecycle"`` (one cycle over
        ``max_epochs`` epochs, :class:`torch.optim.lr_scheduler.OneCycleLR`, peak
        ``learning_rate``; Smith & Topin 2019, doi:10.1117/12.2520589).

    Returns
    -------
    :class:`TrainingResult`.
    """
    import torch

    with torch_threads():  # settings.n_jobs threads, whatever OMP_NUM_THREADS says
        opt = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
        if schedule not in ("constant", "onecycle"):
            msg = f"schedule must be 'constant' or 'onecycle', got {schedule!r}"
            raise ValueError(msg)
        steps = max(1, -(-len(items) // batch_size))
        sched = (
            torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=learning_rate, total_steps=max_epochs * steps
            )
            if schedule == "onecycle"
            else None
        )
        best, best_state, bad = np.inf, None, 0
        history: list[dict[str, Any]] = []
        epoch = -1
        if validate_start:
            best = float(val_fn())
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            history.append({"epoch": -1, "train_loss": float("nan"), "val": best})
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(range(max_epochs), desc=desc, leave=False)
        else:
            bar = None
        for epoch in bar if bar is not None else range(max_epochs):
            net.train()
            perm = rng.permutation(items)
            total, n_seen = 0.0, 0
            for s in range(0, len(perm), batch_size):
                b = perm[s : s + batch_size]
                if len(b) < min_batch:
                    continue
                loss = loss_fn(b)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                total += loss.item() * len(b)
                n_seen += len(b)
            val = float(val_fn())
            history.append({"epoch": epoch, "train_loss": total / max(n_seen, 1), "val": val})
            if bar is not None:
                bar.set_postfix(val=f"{val:.3f}")
            if val < best - min_delta:
                best, bad = val, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
                if bad >= patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        logger.info("%s: best validation %.4f after %d epochs", desc, best, epoch + 1)
        return TrainingResult(best_val=float(best), n_epochs=epoch + 1, history=history)
