"""The one torch training loop (AdamW, mini-batches, early stopping) of every torch model."""

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
    """What :func:`fit_early_stopping` did: best validation score, epochs, per-epoch history."""

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
    """Train ``net`` in place with AdamW and early stopping on ``val_fn()``; keep the best.

    ``validate_start`` keeps the untrained ``net`` unless an epoch beats it; ``"onecycle"``:
    OneCycleLR (Smith & Topin 2019, doi:10.1117/12.2520589).
    """
    import torch

    with torch_threads():  # settings.n_jobs threads, whatever OMP_NUM_THREADS says
        opt = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
        if schedule not in ("constant", "onecycle"):
            msg = f"schedule must be 'constant' or 'onecycle', got {schedule!r}"
            raise ValueError(msg)
        steps = max_epochs * max(1, -(-len(items) // batch_size))
        sched = None
        if schedule == "onecycle":
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, learning_rate, total_steps=steps)
        best, best_state, bad, epoch = np.inf, None, 0, -1
        history: list[dict[str, Any]] = []
        if validate_start:
            best = float(val_fn())
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            history.append({"epoch": -1, "train_loss": float("nan"), "val": best})
        from tqdm.auto import tqdm

        bar = tqdm(range(max_epochs), desc=desc, leave=False, disable=not progress)
        for epoch in bar:
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
