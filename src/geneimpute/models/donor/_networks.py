"""Torch module of the donor hybrid: a transformer over a donor's observed tissues."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import torch
from torch import nn

from .._persistence import damaged, load_weights
from ._saving import SavedModel


class DonorTransformer(SavedModel, nn.Module):
    """Transformer over a donor's observed tissues (tokens) with a query token for the target.

    Token = standardised gene profile + learned tissue embedding + projected tissue-correlation
    row; the query token carries only the target tissue's identity and correlation row.

    Saved by :meth:`save` as ``config.json`` (format ``"geneimpute.DonorTransformer"``,
    ``network``: the constructor arguments ``n_genes``, ``n_tissues``, ``d_model``,
    ``n_layers``) and ``network.pt`` (the ``state_dict``); :meth:`load` rebuilds the module
    on ``map_location`` in eval mode.
    """

    FORMAT = "geneimpute.DonorTransformer"
    ARRAYS = False

    def __init__(self, n_genes: int, n_tissues: int, d_model: int = 64, n_layers: int = 2) -> None:
        super().__init__()
        self.init_args = {
            "n_genes": int(n_genes),
            "n_tissues": int(n_tissues),
            "d_model": int(d_model),
            "n_layers": int(n_layers),
        }
        self.profile = nn.Linear(n_genes, d_model)
        self.tissue = nn.Embedding(n_tissues, d_model)
        self.corr = nn.Linear(n_tissues, d_model)
        self.query = nn.Parameter(torch.zeros(1, 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, 4, 2 * d_model, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, n_genes)

    def forward(self, z, src, pad, target, C):  # noqa: D102
        tok = self.profile(z) + self.tissue(src) + self.corr(C[src])
        q = (
            self.query.expand(len(target), -1, -1)
            + (self.tissue(target) + self.corr(C[target]))[:, None]
        )
        h = torch.cat([q, tok], dim=1)
        mask = torch.cat([torch.zeros(len(target), 1, dtype=torch.bool, device=pad.device), pad], 1)
        return self.out(self.encoder(h, src_key_padding_mask=mask)[:, 0])

    def _shape(self) -> tuple[int, int]:
        return self.init_args["n_tissues"], self.init_args["n_genes"]

    def _header(self) -> dict[str, Any]:
        return {"config": {}, "network": dict(self.init_args), "state": {}}

    def _write_files(self, tmp: Path) -> None:
        torch.save({k: v.detach().cpu() for k, v in self.state_dict().items()}, tmp / "network.pt")

    @classmethod
    def _new(cls, state: dict[str, Any]) -> Self:
        return cls(**state["network"])

    def _restore(self, path, shape, state, arrays, map_location) -> None:
        if shape != self._shape():
            raise damaged(path, "network sizes differ from setup.n_tissues / setup.n_genes")
        load_weights(self, path, "network.pt", map_location)
        self.to(map_location).eval()
