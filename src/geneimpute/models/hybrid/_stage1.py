"""Stage 1 of the hybrid: the networks' input tensors, training and read-outs (tissue z-scores)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..._core.training import fit_early_stopping
from ..._settings import torch_threads
from .._base import loop_options
from ._config import HybridConfig

if TYPE_CHECKING:
    import torch

    from ._networks import HybridNet, NetworkEnsemble

#: Branch read-outs the XGBoost stage receives.
READ_OUTS = ("joint", "cnn", "transformer")
#: Genes per forward pass of a read-out.
BATCH = 1024


def network_tensors(
    prep: dict, promoter: np.ndarray, index: np.ndarray, scaler: tuple
) -> dict[str, torch.Tensor]:
    """Tensors of every gene for :func:`batch_tensors` (``scaler``: gene-feature mean, sd, ...)."""
    import torch

    gmu, gsd, gmiss_cols = scaler
    gz = (prep["genef"] - gmu) / gsd
    miss = ~np.isfinite(gz)
    gz = np.where(miss, 0.0, gz)
    g_all = np.column_stack([gz, miss[:, gmiss_cols]]).astype(np.float32)
    return {
        "promoter": torch.from_numpy(promoter),
        "profile": torch.from_numpy(prep["profile_tokens"]),
        "dist": torch.from_numpy(prep["dist"]),
        "index": torch.from_numpy(index),
        "genef": torch.from_numpy(g_all),
    }


def batch_tensors(t: dict, rows: np.ndarray, device: str) -> tuple:
    """Network inputs ``(promoter, tokens, pad, genef)`` of the genes ``rows``."""
    import torch

    r = torch.from_numpy(rows)
    idx = t["index"][r]
    pad = idx < 0
    tokens = t["profile"][idx.clamp(min=0)]
    tokens = torch.cat([tokens, t["dist"][r][:, : idx.shape[1]]], dim=2)
    tokens[pad] = 0
    # a gene with no neighbour at all keeps one (zero) token so attention is defined
    pad[pad.all(dim=1), 0] = False
    return tuple(x.to(device) for x in (t["promoter"][r], tokens, pad, t["genef"][r]))


def level_pattern_loss(
    out: torch.Tensor, y: torch.Tensor, m: torch.Tensor | None, weight: float
) -> torch.Tensor:
    """Squared error over measured cells ``m`` (None: all): level + ``weight`` x pattern part."""
    import torch

    m = torch.ones_like(y) if m is None else m
    n_t = m.sum(dim=1, keepdim=True).clamp(min=1.0)
    o_m = (out * m).sum(dim=1, keepdim=True) / n_t
    y_m = (y * m).sum(dim=1, keepdim=True) / n_t
    level = ((o_m - y_m) ** 2 * n_t).sum()
    pattern = ((((out - o_m) - (y - y_m)) ** 2) * m).sum()
    return (level + weight * pattern) / m.sum().clamp(min=1.0)


def fit_network(
    new_net: Callable[[], HybridNet],
    t: dict,
    Z: np.ndarray,
    rows: np.ndarray,
    config: HybridConfig,
    device: str,
    seed: int,
    desc: str,
) -> tuple[HybridNet, list[dict]]:
    """Train ``new_net()`` on the z-scores ``Z`` of ``rows`` (seeded, the caller's RNG kept)."""
    import torch

    cuda = [torch.cuda.current_device()] if device == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        rows = rng.permutation(rows)
        n_val = max(1, len(rows) // 10)
        val, tr = rows[:n_val], rows[n_val:]
        net = new_net().to(device)
        Zt = torch.from_numpy(np.nan_to_num(Z).astype(np.float32))
        seen = np.isfinite(Z)
        # partly measured genes: the loss is the mean over measured cells only
        Mt = None if seen[rows].all() else torch.from_numpy(seen.astype(np.float32))
        w = float(config.pattern_weight)

        def loss_fn(b: np.ndarray) -> torch.Tensor:
            out = net(*batch_tensors(t, b, device))
            bt = torch.from_numpy(b)
            y = Zt[bt].to(device)
            m = None if Mt is None else Mt[bt].to(device)
            loss = level_pattern_loss(out["joint"], y, m, w)
            for key in ("cnn", "transformer"):
                if key in out:
                    loss = loss + 0.5 * level_pattern_loss(out[key], y, m, w)
            return loss

        def val_fn() -> float:
            P = read_out(net, t, val, device)["joint"]
            m = None if Mt is None else Mt[val]
            with torch.no_grad():
                return float(level_pattern_loss(torch.from_numpy(P), Zt[val], m, w))

        options = loop_options(config, min_batch=2, desc=desc, schedule="onecycle")
        result = fit_early_stopping(net, tr, loss_fn, val_fn, rng=rng, **options)
    return net, [{"net": desc, **h} for h in result.history]


def read_out(
    net: HybridNet | NetworkEnsemble, t: dict, rows: np.ndarray, device: str, *, scale=None
) -> dict[str, np.ndarray]:
    """Network outputs for ``rows`` by name: z-scores, or log1p with ``scale=(mu, sd)``."""
    import torch

    net.eval()
    outs: dict[str, list] = {}
    with torch_threads(), torch.no_grad():
        for s in range(0, len(rows), BATCH):
            o = net(*batch_tensors(t, rows[s : s + BATCH], device))
            for k, v in o.items():
                outs.setdefault(k, []).append(v.float().cpu().numpy())
    if not len(rows):
        return {"joint": np.zeros((0, net.n_tissues))}
    res = {k: np.concatenate(v) for k, v in outs.items()}
    if scale is not None:  # z-scores -> log1p
        mu, sd = scale
        for k in READ_OUTS:
            if k in res:
                res[k] = mu + sd * res[k]
    return res


def promoter_embeddings(net: HybridNet | NetworkEnsemble, promoter: np.ndarray, device: str):
    """CNN embeddings ``(n_genes, dim)`` of every promoter; genes without one share one."""
    import torch

    net.eval()
    cnn = net.cnn
    assert cnn is not None  # the caller checks that the model has a CNN
    observed = promoter[:, :, 4].any(axis=1)
    todo = np.flatnonzero(observed)
    if not observed.all():  # every gene without a promoter has the same (empty) input
        todo = np.append(todo, np.flatnonzero(~observed)[0])
    parts = []
    with torch_threads(), torch.inference_mode():
        for s in range(0, len(todo), BATCH):
            x = torch.from_numpy(promoter[todo[s : s + BATCH]]).to(device)
            parts.append(cnn(x).float().cpu().numpy())
    dim = int(cnn.proj[1].out_features)  # type: ignore[arg-type]
    emb = np.concatenate(parts) if parts else np.zeros((0, dim))
    out = np.empty((len(promoter), emb.shape[1]), dtype=emb.dtype)
    out[todo] = emb
    if not observed.all():
        out[~observed] = emb[-1]
    return out
