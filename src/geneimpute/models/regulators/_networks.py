"""Torch modules of the regulator-driven imputer (DeepSF design)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _dense(n_in: int, n_out: int, dropout: float) -> list[nn.Module]:
    """Linear -> batch norm -> ReLU -> dropout (new modules each call, as DeepLIFT needs)."""
    return [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU(), nn.Dropout(dropout)]


class SampleAutoencoder(nn.Module):
    """Autoencoder of a sample's measured transcriptome (its cellular context).

    Encoder ``2 n_genes -> width -> width``, decoder ``width -> width -> n_genes`` (batch
    norm); the input is the z-scored expression (0 where unmeasured) and the "measured"
    indicator of every gene.
    """

    def __init__(self, n_genes: int, width: int = 512, dropout: float = 0.1) -> None:
        super().__init__()
        self.n_genes, self.width = n_genes, width
        self.encoder = nn.Sequential(
            *_dense(2 * n_genes, width, dropout), *_dense(width, width, dropout)
        )
        self.decoder = nn.Sequential(*_dense(width, width, dropout), nn.Linear(width, n_genes))

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``(batch, n_genes)`` from ``(batch, 2 n_genes)`` values + indicators."""
        return self.decoder(self.encoder(context))


class RegulatorNet(nn.Module):
    """Regulator expression -> target expression, optionally with a sample-context encoder.

    DeepSF: dense layers with batch norm (``hidden``) -> output layer; the code of
    ``encoder`` (a :class:`SampleAutoencoder`'s) joins before the output layer. The output is
    added to a fixed linear base ``regulators @ base`` (zeros unless set).
    """

    def __init__(
        self,
        n_regulators: int,
        n_targets: int,
        hidden: Sequence[int] = (183, 82),
        encoder: nn.Module | None = None,
        code_dim: int = 0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        n_in = n_regulators
        for h in hidden:
            layers += _dense(n_in, int(h), dropout)
            n_in = int(h)
        self.regulator_layers = nn.Sequential(*layers)
        self.encoder = encoder
        self.output = nn.Linear(n_in + (code_dim if encoder is not None else 0), n_targets)
        # the linear (ridge) base the layers add to: fixed, saved with the weights
        self.base: torch.Tensor
        self.register_buffer("base", torch.zeros(n_regulators, n_targets))
        nn.init.zeros_(self.output.weight)  # start from the base: the layers add a residual
        nn.init.zeros_(self.output.bias)

    def forward(
        self, regulators: torch.Tensor, context: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(batch, n_targets)`` z-scored targets from ``(batch, n_regulators)`` regulators."""
        h = self.regulator_layers(regulators)
        if self.encoder is not None:
            if context is None:
                msg = "this network has a context encoder: pass the sample context"
                raise ValueError(msg)
            h = torch.cat([h, self.encoder(context)], dim=1)
        return self.output(h) + regulators @ self.base
