"""Torch modules of the hybrid: promoter CNN, neighbour transformer, joint network."""

from __future__ import annotations

import torch
from torch import nn

from ._config import HybridConfig

_DEFAULTS = HybridConfig()


class PromoterCNN(nn.Module):
    """Convolutional encoder (Xpresso-style) of one-hot promoters ``(batch, length, 5)``.

    Channels ``A, C, G, T`` and "observed" (0 where the window has no sequence); output
    ``(batch, dim)``.
    """

    def __init__(
        self, dim: int = _DEFAULTS.embedding_dim, channels: int = 64, dropout: float = 0.2
    ) -> None:
        super().__init__()

        def stage(c_in: int, k: int) -> list[nn.Module]:
            conv = nn.Conv1d(c_in, channels, kernel_size=k, padding=k // 2)
            return [conv, nn.BatchNorm1d(channels), nn.ReLU(), nn.MaxPool1d(3)]

        layers = stage(5, 11) + stage(channels, 7)  # created in this order: seeded weights
        layers += [nn.Conv1d(channels, channels, kernel_size=5, padding=2), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        self.proj = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels + 1, dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed promoters ``(batch, length, 5)`` -> ``(batch, dim)``."""
        observed = x[:, :, 4].mean(dim=1, keepdim=True)
        h = self.conv(x.transpose(1, 2))
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2), observed], dim=1)
        return self.proj(pooled)


class NeighborTransformer(nn.Module):
    """Transformer encoder over a gene's neighbour tokens ``(batch, k, token_dim)``.

    A token is a neighbour's (smoothed) profile, its first ``n_pool`` columns the profile
    pooled, then its distance / orientation features, column ``distance_col`` the log10 TSS
    distance / 6 (no positional encoding); ``pad`` ``(batch, k)`` is True where there is no
    neighbour. A learned ``[CLS]`` token reads the set out to ``(batch, dim)``.
    """

    def __init__(
        self,
        token_dim: int,
        n_pool: int,
        distance_col: int,
        dim: int = 32,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(token_dim, d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward=2 * d_model, dropout=dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.proj = nn.Sequential(nn.Linear(d_model, dim), nn.ReLU())
        self.n_pool, self.distance_col = n_pool, distance_col
        # pooling score = learned token score + decay * log10(TSS distance) / 6: starts as
        # inverse-distance weighting (weight 1/d), then learns which neighbours matter
        self.score = nn.Linear(d_model, 1)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)
        self.decay = nn.Parameter(torch.tensor(-6.0 * 2.302585))

    def forward(self, tokens: torch.Tensor, pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the ``[CLS]`` embedding and the pooled profile ``(batch, n_pool)``.

        The pooled profile weights the first ``n_pool`` token columns by a softmax over
        neighbours of a learned score plus a learned distance decay.
        """
        b = tokens.shape[0]
        h = torch.cat([self.cls.expand(b, -1, -1), self.embed(tokens)], dim=1)
        mask = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=pad.device), pad], dim=1)
        h = self.encoder(h, src_key_padding_mask=mask)
        s = self.score(h[:, 1:]).squeeze(-1) + self.decay * tokens[:, :, self.distance_col]
        w = torch.softmax(s.masked_fill(pad, float("-inf")), dim=1)
        pooled = torch.einsum("bk,bkt->bt", w, tokens[:, :, : self.n_pool])
        return self.proj(h[:, 0]), pooled


class HybridNet(nn.Module):
    """Joint network: CNN and transformer embeddings + gene features -> tissue profile.

    The joint head predicts a gene's level and tissue pattern separately (tissue z-scores), so
    the pattern can be weighted in the loss. The transformer's pooled neighbour profile feeds
    the joint head and is its read-out; each branch's read-out (deep supervision) goes to
    XGBoost.

    Parameters
    ----------
    n_tissues, n_gene_features, token_dim
        Tissues of the profile, gene-feature columns, size of a neighbour token.
    use_cnn, use_transformer
        Include the promoter CNN / the neighbour transformer.
    dim
        Embedding size (default: :attr:`HybridConfig.embedding_dim`).
    dropout
        Dropout of the heads and branches.
    """

    def __init__(
        self,
        n_tissues: int,
        n_gene_features: int,
        token_dim: int,
        *,
        use_cnn: bool = True,
        use_transformer: bool = True,
        dim: int = _DEFAULTS.embedding_dim,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.use_cnn, self.use_transformer = use_cnn, use_transformer
        self.n_tissues = n_tissues
        self.n_profile = n_tissues if use_transformer else 0
        self.cnn = PromoterCNN(dim, dropout=dropout) if use_cnn else None
        self.transformer = (
            NeighborTransformer(token_dim, n_tissues, token_dim - 8, dim)
            if use_transformer
            else None
        )
        n_in = n_gene_features + dim * (int(use_cnn) + int(use_transformer)) + self.n_profile
        self.trunk = nn.Sequential(nn.Linear(n_in, 128), nn.ReLU(), nn.Dropout(dropout))
        self.level = nn.Linear(128, 1)
        self.pattern = nn.Linear(128, n_tissues)
        self.cnn_head = nn.Linear(dim, n_tissues) if use_cnn else None
        self.transformer_head = nn.Linear(dim, n_tissues) if use_transformer else None

    def forward(
        self, promoter: torch.Tensor, tokens: torch.Tensor, pad: torch.Tensor, genef: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Return ``{"joint", "cnn", "transformer", "promoter_embedding"}`` outputs."""
        x, out = [genef], {}
        if self.cnn is not None and self.cnn_head is not None:
            e_p = self.cnn(promoter)
            x.append(e_p)
            out["cnn"], out["promoter_embedding"] = self.cnn_head(e_p), e_p
        if self.transformer is not None and self.transformer_head is not None:
            e_n, pooled = self.transformer(tokens, pad)
            x += [e_n, pooled]
            out["transformer"] = self.transformer_head(e_n) + pooled
        h = self.trunk(torch.cat(x, dim=1))
        pattern = self.pattern(h)
        return {"joint": self.level(h) + pattern - pattern.mean(dim=1, keepdim=True), **out}


class NetworkEnsemble(nn.Module):
    """The out-of-fold :class:`HybridNet` s as one network: the mean of their outputs.

    New genes get read-outs from the networks XGBoost learned from (a network refitted on all
    genes reads out differently). ``promoter_embedding`` is the first network's (separately
    trained embeddings share no axes).

    Parameters
    ----------
    nets
        The networks, all built with the same arguments (at least one).
    """

    def __init__(self, nets: list[HybridNet]) -> None:
        super().__init__()
        if not nets:
            msg = "NetworkEnsemble needs at least one network"
            raise ValueError(msg)
        self.nets = nn.ModuleList(nets)

    @property
    def members(self) -> list[HybridNet]:
        """The networks of the ensemble."""
        return list(self.nets)  # type: ignore[arg-type]

    @property
    def n_tissues(self) -> int:
        """Number of tissues of the profiles (the first network's)."""
        return self.members[0].n_tissues

    @property
    def cnn(self) -> PromoterCNN | None:
        """The first network's promoter CNN (the one behind ``promoter_embedding``)."""
        return self.members[0].cnn

    def forward(
        self, promoter: torch.Tensor, tokens: torch.Tensor, pad: torch.Tensor, genef: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Mean over the networks of each read-out; the first network's embedding."""
        outs = [net(promoter, tokens, pad, genef) for net in self.nets]
        mean = {k: torch.stack([o[k] for o in outs]).mean(dim=0) for k in outs[0]}
        if "promoter_embedding" in mean:
            mean["promoter_embedding"] = outs[0]["promoter_embedding"]
        return mean
