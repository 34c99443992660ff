"""What the model families share: building and checking configs, the training-loop options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, Self

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
