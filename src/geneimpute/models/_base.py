"""What the model families share: building and checking configs, the training-loop options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, Self

import numpy as np

from .._settings import settings

#: Fields a config may hold that :func:`~geneimpute._core.training.fit_early_stopping` takes.
_LOOP_FIELDS = ("max_epochs", "patience", "batch_size", "learning_rate", "weight_decay")


class FromDict:
    """Mixin of the config dataclasses: :meth:`from_dict`."""

    @classmethod
    def from_dict(cls, values: dict[str, Any], **overrides: Any) -> Self:
        """Build from a dict plus keyword overrides; unknown names raise ``TypeError``."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted((set(values) | set(overrides)) - names)
        if unknown:
            msg = f"unknown {cls.__name__} option(s) {unknown}; known: {sorted(names)}"
            raise TypeError(msg)
        return cls(**{**values, **overrides})


def require(config: object, name: str, ok: Callable[[Any], bool], rule: str) -> None:
    """Raise ``ValueError`` naming the field ``name`` of ``config`` unless ``ok(value)``."""
    value = getattr(config, name)
    if not ok(value):
        msg = f"{type(config).__name__}.{name} must be {rule}, got {value!r}"
        raise ValueError(msg)


def loop_options(config: object, **options: Any) -> dict[str, Any]:
    """``fit_early_stopping`` keywords from ``config``'s training fields, then ``options``."""
    found = {name: getattr(config, name) for name in _LOOP_FIELDS if hasattr(config, name)}
    return {**found, "progress": settings.progress, **options}


#: :func:`scale_shift` tolerances ``(median mean shift in training sd, sd ratio)``: a tissue's
#: level across genes is stable between tables in one unit; a gene's across samples is not.
TISSUE_TOLERANCE, COHORT_TOLERANCE = (0.5, 1.25), (1.0, 1.5)


def scale_shift(
    mean: np.ndarray, sd: np.ndarray, new_mean: np.ndarray, new_sd: np.ndarray, tolerance: tuple
) -> str | None:
    """Describe how new columns' ``new_mean`` / ``new_sd`` are off training's; None if within.

    Off: the median over columns of ``|new_mean - mean| / sd`` exceeds ``tolerance[0]``, or
    that of ``new_sd / sd`` is outside a factor ``tolerance[1]`` (non-finite ones skipped).
    """
    ok = np.isfinite(new_mean) & np.isfinite(new_sd) & (sd > 0)
    if not ok.any():
        return None
    shift = float(np.median(np.abs(new_mean[ok] - mean[ok]) / sd[ok]))
    spread = float(np.median(new_sd[ok] / sd[ok]))
    max_shift, max_ratio = tolerance
    if shift <= max_shift and 1 / max_ratio <= spread <= max_ratio:
        return None
    return (
        f"their means differ from the training data's by a median {shift:.2f} training sd and "
        f"their spread is {spread:.2f}x training's (tolerance: {max_shift} sd, "
        f"{1 / max_ratio:.2f}-{max_ratio}x)"
    )
