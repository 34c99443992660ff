"""The hybrid imputer on arrays: CNN + neighbour transformer + tissue correlations + XGBoost.

Nothing here touches AnnData; :mod:`geneimpute.tl` translates. Follows Brown, Dong & Truong,
"Estimating genotype-tissue specific gene expression using hybrid deep learning",
Communications Biology (2026).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import __version__
from .._genomic import GenomicNeighbors
from .._logging import logger
from .._settings import Accelerator, resolve_device, settings
from .._timing import timed
from ._networks import HybridNet

N_DISTANCE_FEATURES = 8
#: bytes of the stage-2 design matrix written per block (fits in a core's L2 cache)
DESIGN_BLOCK_BYTES = 1 << 20


@dataclass
class HybridConfig:
    """Hyperparameters and component switches of :class:`HybridImputer`.

    The ``use_*`` switches exist for ablations: each removes one component of the hybrid.

    Attributes
    ----------
    k_neighbors
        Neighbour reference genes per gene given to the transformer.
    k_idw
        Neighbours averaged by the distance-based profile fed to XGBoost.
    use_cnn, use_transformer
        Include the promoter CNN / the neighbour transformer.
    use_tissue_correlation
        Smooth neighbour tokens over correlated tissues and give XGBoost tissue-correlation
        context and tissue eigenvector coordinates.
    use_distance
        Give distances (bp) and orientation to the transformer, weight the distance-based
        profile by inverse distance, and add neighbourhood-density features.
    use_neighbor_features
        Give XGBoost the distance-based profile (False for sequence-only models).
    n_folds
        Out-of-fold networks for the XGBoost training rows (>= 2).
    max_epochs, patience, batch_size, learning_rate, weight_decay
        Network training (AdamW, early stopping on 10% of the training genes).
    embedding_dim
        Size of the promoter and neighbour embeddings.
    xgb_*
        XGBoost (``hist``) settings; rows are (gene, tissue) pairs, so ``min_child_weight`` is
        large to keep a leaf from fitting a handful of genes.
    n_tissue_components
        Eigenvectors of the tissue correlation matrix used as tissue descriptors.
    random_state
        Seed of numpy, torch and xgboost.
    """

    k_neighbors: int = 20
    k_idw: int = 10
    use_cnn: bool = True
    use_transformer: bool = True
    use_tissue_correlation: bool = True
    use_distance: bool = True
    use_neighbor_features: bool = True
    n_folds: int = 2
    max_epochs: int = 3
    patience: int = 2
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    embedding_dim: int = 32
    xgb_n_estimators: int = 200
    xgb_learning_rate: float = 0.05
    xgb_max_depth: int = 4
    xgb_min_child_weight: float = 300.0
    xgb_reg_lambda: float = 10.0
    xgb_subsample: float = 0.8
    n_tissue_components: int = 6
    random_state: int = 0


@dataclass
class GeneInputs:
    """Per-gene model inputs (rows aligned with the expression matrix).

    Attributes
    ----------
    promoter
        ``(n_genes, length, 5)`` float32 one-hot promoters with an "observed" channel.
    gene_features
        ``(n_genes, n_features)`` float hand-made features (NaN allowed).
    neighbors
        k nearest *reference* genes of each gene (indices into the same rows).
    feature_names
        Names of the ``gene_features`` columns.
    """

    promoter: np.ndarray
    gene_features: np.ndarray
    neighbors: GenomicNeighbors
    feature_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.promoter.shape[0]
        if self.gene_features.shape[0] != n or self.neighbors.index.shape[0] != n:
            msg = (
                f"inputs disagree on the number of genes: promoter {n}, gene_features "
                f"{self.gene_features.shape[0]}, neighbors {self.neighbors.index.shape[0]}"
            )
            raise ValueError(msg)


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)


def tissue_weights(C: np.ndarray) -> np.ndarray:
    """Row-normalised positive tissue correlations with a zero diagonal, ``(T, T)``."""
    W = np.clip(C, 0, None) ** 2
    np.fill_diagonal(W, 0)
    s = W.sum(axis=1, keepdims=True)
    s[s == 0] = 1
    return W / s


def idw_weights(
    neighbors: GenomicNeighbors, k: int, use_distance: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour indices and unnormalised weights ``1 / (distance_bp + 1000)``, ``(n, k)`` each.

    Missing neighbours have index -1 and weight 0; weights are uniform without ``use_distance``.
    """
    idx = neighbors.index[:, :k]
    valid = idx >= 0
    w = 1.0 / (neighbors.distance[:, :k] + 1000.0) if use_distance else np.ones(idx.shape)
    return idx, np.where(valid, w, 0.0)


def idw_profiles(
    Y: np.ndarray, neighbors: GenomicNeighbors, k: int, use_distance: bool = True
) -> np.ndarray:
    """Distance-based profile: inverse-distance-weighted mean of the ``k`` nearest references.

    Weights are ``1 / (distance_bp + 1000)`` (uniform when ``use_distance`` is False). Genes
    with no neighbour get NaN. Returns ``(n_genes, n_tissues)``.
    """
    idx, w = idw_weights(neighbors, k, use_distance)
    valid = idx >= 0
    vals = Y[np.where(valid, idx, 0)]
    vals = np.where(valid[:, :, None], vals, 0.0)
    denom = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.einsum("nk,nkt->nt", w, vals) / denom[:, None]
    out[denom == 0] = np.nan
    return out


def distance_features(neighbors: GenomicNeighbors) -> np.ndarray:
    """Per-token distance/orientation features ``(n_genes, k, 8)``, float32."""
    valid = neighbors.valid
    d = np.where(valid, neighbors.distance, 0.0)
    gap = np.where(valid, neighbors.gap, 0.0)
    o = neighbors.orientation
    feats = np.stack(
        [
            np.log10(d + 1) / 6,
            np.log10(gap + 1) / 6,
            neighbors.upstream,
            o == 0,
            o == 1,
            o == 2,
            neighbors.overlap,
            neighbors.nested,
        ],
        axis=-1,
    ).astype(np.float32)
    feats[~valid] = 0
    return feats


def density_features(neighbors: GenomicNeighbors) -> np.ndarray:
    """Gene-level neighbourhood features ``(n_genes, 4)``.

    Log10 distance to the nearest reference gene, counts of reference genes within 20 kb and
    60 kb, and the fraction of those within 20 kb that are divergent partners.
    """
    d = neighbors.distance
    near20 = (d < 20_000).sum(axis=1)
    near60 = (d < 60_000).sum(axis=1)
    div20 = ((d < 20_000) & (neighbors.orientation == 1)).sum(axis=1)
    nearest = np.where(np.isfinite(d[:, 0]), np.log10(d[:, 0] + 1), np.nan)
    return np.column_stack([nearest, near20, near60, div20 / np.maximum(near20, 1)])


class HybridImputer:
    """Hybrid estimator of log1p(TPM) tissue profiles from promoters and genomic neighbours.

    Stage 1 is a torch network (:class:`~geneimpute.models.HybridNet`): a CNN over the one-hot
    promoter and a transformer encoder over the gene's neighbour reference genes (their
    tissue-correlation smoothed profiles, intergene distances, orientation), each read out to
    a tissue profile. Stage 2 is an XGBoost regressor on (gene, tissue) rows: the branch
    read-outs, the distance-based profile, tissue-correlation context, tissue descriptors (top
    eigenvectors of the tissue correlation matrix) and the hand-made gene features. Stage-2
    training rows use out-of-fold stage-1 outputs (``n_folds`` networks) so XGBoost sees the
    network as it behaves on unseen genes; a final network fitted on all reference genes
    serves new genes.

    Parameters
    ----------
    config
        :class:`HybridConfig`; keyword arguments override its fields.
    """

    def __init__(self, config: HybridConfig | None = None, **kwargs) -> None:
        cfg = asdict(config or HybridConfig())
        if kwargs.get("n_folds", cfg["n_folds"]) < 2:
            msg = f"n_folds must be >= 2, got {kwargs['n_folds']}"
            raise ValueError(msg)
        unknown = set(kwargs) - set(cfg)
        if unknown:
            msg = f"unknown HybridImputer option(s) {sorted(unknown)}"
            raise TypeError(msg)
        cfg.update(kwargs)
        self.config = HybridConfig(**cfg)
        self.tissues_: list[str] = []
        self.feature_names_: list[str] = []
        self.timings_: dict[str, float] = {}
        self.history_: list[dict] = []
        self.net_: HybridNet | None = None
        self.xgb_ = None

    # ------------------------------------------------------------------ preparation
    def _set_tissue_correlation(self, C: np.ndarray) -> None:
        """Store the tissue correlation and what derives from it (weights, eigenvectors)."""
        self.tissue_correlation_ = np.asarray(C, dtype=np.float64)
        self.W_ = tissue_weights(self.tissue_correlation_)
        evecs = np.linalg.eigh(self.tissue_correlation_)[1]
        self.tissue_components_ = evecs[:, ::-1][:, : self.config.n_tissue_components]

    def _prepare(self, Y: np.ndarray, inputs: GeneInputs) -> dict[str, np.ndarray]:
        """Arrays derived from the reference profiles, shared by fit and predict."""
        cfg = self.config
        Yz = (Y - self.mu_) / self.sd_
        Yz = np.where(np.isfinite(Yz), Yz, 0.0)
        tok = [Yz]
        if cfg.use_tissue_correlation:
            tok.append(Yz @ self.W_.T)
        prof = np.concatenate(tok, axis=1).astype(np.float32)
        dist = distance_features(inputs.neighbors)
        if not cfg.use_distance:
            dist[:] = 0
        idw = idw_profiles(Y, inputs.neighbors, cfg.k_idw, cfg.use_distance)
        genef = inputs.gene_features.astype(np.float64)
        if cfg.use_distance and cfg.use_neighbor_features:
            genef = np.column_stack([genef, density_features(inputs.neighbors)])
        return {"profile_tokens": prof, "dist": dist, "idw": idw, "genef": genef}

    def _net_inputs(self, prep: dict, inputs: GeneInputs) -> dict[str, torch.Tensor]:
        g = prep["genef"]
        gz = (g - self.gmu_) / self.gsd_
        miss = ~np.isfinite(gz)
        gz = np.where(miss, 0.0, gz)
        g_all = np.column_stack([gz, miss[:, self.gmiss_cols_]]).astype(np.float32)
        return {
            "promoter": torch.from_numpy(inputs.promoter),
            "profile": torch.from_numpy(prep["profile_tokens"]),
            "dist": torch.from_numpy(prep["dist"]),
            "index": torch.from_numpy(inputs.neighbors.index[:, : self.config.k_neighbors]),
            "genef": torch.from_numpy(g_all),
        }

    def _batch(self, t: dict[str, torch.Tensor], rows: np.ndarray, device: str):
        r = torch.from_numpy(rows)
        idx = t["index"][r]
        pad = idx < 0
        tokens = t["profile"][idx.clamp(min=0)]
        tokens = torch.cat([tokens, t["dist"][r][:, : idx.shape[1]]], dim=2)
        tokens[pad] = 0
        # a gene with no neighbour at all keeps one (zero) token so attention is defined
        empty = pad.all(dim=1)
        pad[empty, 0] = False
        return (
            t["promoter"][r].to(device),
            tokens.to(device),
            pad.to(device),
            t["genef"][r].to(device),
        )

    # ------------------------------------------------------------------ stage 1
    def _new_net(self, n_genef: int, token_dim: int) -> HybridNet:
        cfg = self.config
        return HybridNet(
            len(self.tissues_),
            n_genef,
            token_dim,
            use_cnn=cfg.use_cnn,
            use_transformer=cfg.use_transformer,
            dim=cfg.embedding_dim,
        )

    def _fit_net(
        self, t: dict, Y: np.ndarray, rows: np.ndarray, device: str, seed: int, desc: str
    ) -> HybridNet:
        cfg = self.config
        rng = np.random.default_rng(seed)
        _seed_all(seed)
        rows = rng.permutation(rows)
        n_val = max(1, len(rows) // 10)
        val, tr = rows[:n_val], rows[n_val:]
        token_dim = t["profile"].shape[1] + t["dist"].shape[2]
        net = self._new_net(t["genef"].shape[1], token_dim).to(device)
        with torch.no_grad():
            net.head[-1].bias.copy_(torch.from_numpy(self.mu_.astype(np.float32)))
            for h in (net.cnn_head, net.transformer_head):
                if h is not None:
                    h.bias.copy_(torch.from_numpy(self.mu_.astype(np.float32)))
        opt = torch.optim.AdamW(
            net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
        )
        Yt = torch.from_numpy(np.nan_to_num(Y).astype(np.float32))
        best, best_state, bad = np.inf, None, 0
        bar = tqdm(range(cfg.max_epochs), desc=desc, disable=not settings.progress, leave=False)
        for epoch in bar:
            net.train()
            perm = rng.permutation(tr)
            total = 0.0
            for s in range(0, len(perm), cfg.batch_size):
                b = perm[s : s + cfg.batch_size]
                if len(b) < 2:
                    continue
                out = net(*self._batch(t, b, device))
                y = Yt[torch.from_numpy(b)].to(device)
                loss = ((out["joint"] - y) ** 2).mean()
                for key in ("cnn", "transformer"):
                    if key in out:
                        loss = loss + 0.5 * ((out[key] - y) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(b)
            val_loss = float(
                ((self._predict_net(net, t, val, device)["joint"] - Y[val]) ** 2).mean()
            )
            self.history_.append(
                {"net": desc, "epoch": epoch, "train_loss": total / len(tr), "val_mse": val_loss}
            )
            bar.set_postfix(val_mse=f"{val_loss:.3f}")
            if val_loss < best - 1e-4:
                best, bad = val_loss, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
                if bad >= cfg.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        logger.info("%s: best validation MSE %.4f after %d epochs", desc, best, epoch + 1)
        return net

    @torch.no_grad()
    def _predict_net(
        self, net: HybridNet, t: dict, rows: np.ndarray, device: str, batch_size: int = 1024
    ) -> dict[str, np.ndarray]:
        net.eval()
        outs: dict[str, list] = {}
        for s in range(0, len(rows), batch_size):
            o = net(*self._batch(t, rows[s : s + batch_size], device))
            for k, v in o.items():
                outs.setdefault(k, []).append(v.float().cpu().numpy())
        T = len(self.tissues_)
        res = {k: np.concatenate(v) for k, v in outs.items()}
        if not len(rows):
            res = {"joint": np.zeros((0, T))}
        return res

    # ------------------------------------------------------------------ stage 2
    def _design(self, nn_out: dict[str, np.ndarray], prep: dict, rows: np.ndarray) -> np.ndarray:
        """Stage-2 design ``(len(rows) * n_tissues, n_features)`` float32, gene-major rows.

        Built block by block of genes, small enough that a block's derived columns (mean,
        specificity, related-tissue context) and its rows of the design stay in cache, so
        memory is written once and no ``n_rows``-long temporary is made.
        """
        cfg = self.config
        T = len(self.tissues_)
        n = len(rows)
        corr = cfg.use_tissue_correlation
        pcs = self.tissue_components_ if corr else np.zeros((T, 0))
        blocks = {k: v for k, v in nn_out.items() if k in ("joint", "cnn", "transformer")}
        if cfg.use_neighbor_features:
            blocks["idw"] = prep["idw"]  # all genes: indexed by rows below
        g = prep["genef"]
        if g.shape[1] != len(self.genef_names_):
            msg = f"{g.shape[1]} gene features, expected {len(self.genef_names_)}"
            raise ValueError(msg)
        names = ["tissue_code"] + [f"tissue_pc{c + 1}" for c in range(pcs.shape[1])]
        for key in blocks:
            names += [key, f"{key}_mean", f"{key}_specificity"]
            names += [f"{key}_related_tissues"] if corr else []
        names += self.genef_names_
        self.design_names_ = names
        F = len(names)
        X = np.empty((n * T, F), dtype=np.float32)
        X3 = X.reshape(n, T, F)
        step = max(1, DESIGN_BLOCK_BYTES // (4 * T * F))
        with warnings.catch_warnings():  # genes with no neighbour: NaN, kept as missing
            warnings.simplefilter("ignore", RuntimeWarning)
            for s in range(0, n, step):
                sl = slice(s, s + step)
                out = X3[sl]  # (b, T, F) view
                out[:, :, 0] = np.arange(T)
                out[:, :, 1 : 1 + pcs.shape[1]] = pcs
                j = 1 + pcs.shape[1]
                for key, P in blocks.items():
                    Pb = P[rows[sl]] if key == "idw" else P[sl]
                    mean = np.nanmean(Pb, axis=1, keepdims=True) if Pb.size else Pb[:, :1]
                    out[:, :, j] = Pb
                    out[:, :, j + 1] = mean
                    out[:, :, j + 2] = Pb - mean
                    j += 3
                    if corr:
                        out[:, :, j] = np.nan_to_num(Pb) @ self.W_.T
                        j += 1
                out[:, :, j:] = g[rows[sl]][:, None, :]
        return X

    def _xgb_params(self, device: str) -> dict:
        cfg = self.config
        return {
            "n_estimators": cfg.xgb_n_estimators,
            "learning_rate": cfg.xgb_learning_rate,
            "max_depth": cfg.xgb_max_depth,
            "subsample": cfg.xgb_subsample,
            "colsample_bytree": 0.8,
            "min_child_weight": cfg.xgb_min_child_weight,
            "reg_lambda": cfg.xgb_reg_lambda,
            "tree_method": "hist",
            "device": "cuda" if device == "cuda" else "cpu",
            "n_jobs": settings.n_jobs,
            "random_state": cfg.random_state,
        }

    # ------------------------------------------------------------------ public API
    def fit(
        self,
        Y: np.ndarray,
        inputs: GeneInputs,
        tissues: list[str],
        tissue_correlation: np.ndarray,
        *,
        accelerator: Accelerator | None = None,
    ) -> HybridImputer:
        """Fit on the genes whose log1p profile in ``Y`` is fully observed.

        Parameters
        ----------
        Y
            ``(n_genes, n_tissues)`` log1p(TPM); rows with NaN are not used for training (but
            may still be neighbours' targets at prediction time).
        inputs
            :class:`GeneInputs` for the same rows; ``inputs.neighbors`` must only point at fully
            observed rows.
        tissues
            Tissue names, length ``n_tissues``.
        tissue_correlation
            ``(n_tissues, n_tissues)`` Pearson correlation of log1p expression.
        accelerator
            ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
            follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
        """
        import xgboost as xgb

        cfg = self.config
        device = resolve_device(accelerator)
        ref = np.isfinite(Y).all(axis=1)
        rows = np.flatnonzero(ref)
        if len(rows) < max(20, 2 * cfg.n_folds):
            msg = f"need at least 20 fully observed reference genes to train, got {len(rows)}"
            raise ValueError(msg)
        nb_idx = inputs.neighbors.index
        if (nb_idx >= 0).any() and not ref[nb_idx[nb_idx >= 0]].all():
            msg = "inputs.neighbors points at genes without a fully observed profile"
            raise ValueError(msg)
        self.tissues_ = list(tissues)
        self.mu_ = Y[rows].mean(axis=0)
        self.sd_ = Y[rows].std(axis=0) + 1e-6
        self._set_tissue_correlation(tissue_correlation)
        self.feature_names_ = list(inputs.feature_names)
        extra = [
            "log10_nearest_reference_bp",
            "n_reference_within_20kb",
            "n_reference_within_60kb",
            "divergent_fraction_20kb",
        ]
        use_extra = cfg.use_distance and cfg.use_neighbor_features
        self.genef_names_ = self.feature_names_ + (extra if use_extra else [])
        self.timings_ = {}
        with timed("prepare", self.timings_):
            prep = self._prepare(Y, inputs)
            g = prep["genef"][rows]
            self.gmu_ = np.nanmean(g, axis=0) if len(g) else np.zeros(g.shape[1])
            self.gmu_ = np.nan_to_num(self.gmu_)
            self.gsd_ = np.nan_to_num(np.nanstd(g, axis=0)) + 1e-6
            self.gmiss_cols_ = np.flatnonzero(~np.isfinite(prep["genef"]).all(axis=0))
            t = self._net_inputs(prep, inputs)

        with timed("network_out_of_fold", self.timings_):
            rng = np.random.default_rng(cfg.random_state)
            folds = np.array_split(rng.permutation(rows), cfg.n_folds)
            T = len(self.tissues_)
            oof: dict[str, np.ndarray] = {}
            for f, held in enumerate(folds if self.uses_network else []):
                train_rows = np.setdiff1d(rows, held)
                net = self._fit_net(
                    t,
                    Y,
                    train_rows,
                    device,
                    cfg.random_state + 1 + f,
                    f"network fold {f + 1}/{cfg.n_folds}",
                )
                out = self._predict_net(net, t, np.sort(held), device)
                for k, v in out.items():
                    if k == "promoter_embedding":
                        continue
                    oof.setdefault(k, np.zeros((len(Y), T)))[np.sort(held)] = v
        with timed("network_final", self.timings_):
            self.net_ = (
                self._fit_net(t, Y, rows, device, cfg.random_state, "network (all genes)")
                if self.uses_network
                else None
            )

        with timed("xgboost_design", self.timings_):
            self.oof_ = {k: v[rows] for k, v in oof.items()}
            X = self._design(self.oof_, prep, rows)
            y = Y[rows].ravel()
        with timed("xgboost_fit", self.timings_):
            self.xgb_ = xgb.XGBRegressor(**self._xgb_params(device))
            self.xgb_.fit(X, y)
        self.device_ = device
        return self

    @property
    def uses_network(self) -> bool:
        """Whether stage 1 exists (False: XGBoost on hand-made features alone)."""
        return self.config.use_cnn or self.config.use_transformer

    def _check_fitted(self) -> None:
        if self.xgb_ is None or (self.uses_network and self.net_ is None):
            msg = "this HybridImputer is not fitted yet; call fit() or geneimpute.tl.train()"
            raise RuntimeError(msg)

    def predict(
        self,
        Y: np.ndarray,
        inputs: GeneInputs,
        rows: np.ndarray,
        *,
        accelerator: Accelerator | None = None,
        return_embedding: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray | None]:
        """Predict log1p(TPM) profiles ``(len(rows), n_tissues)`` for ``rows`` of ``Y``.

        ``Y`` supplies the reference profiles that ``inputs.neighbors`` points at. With
        ``return_embedding``, also return the promoter CNN embeddings of every gene
        ``(n_genes, embedding_dim)`` (None without a CNN).
        """
        self._check_fitted()
        device = resolve_device(accelerator)
        if self.net_ is not None:
            self.net_.to(device)
        if Y.shape[1] != len(self.tissues_):
            msg = f"Y has {Y.shape[1]} tissues, the model was trained on {len(self.tissues_)}"
            raise ValueError(msg)
        rows = np.asarray(rows, dtype=np.int64)
        emb = None
        with timed("network_inference"):
            prep = self._prepare(Y, inputs)
            t = self._net_inputs(prep, inputs)
            if self.net_ is None:
                out = {}
            elif return_embedding and self.config.use_cnn:  # one pass serves both
                out = self._predict_net(self.net_, t, np.arange(len(Y)), device)
                emb = out.pop("promoter_embedding")
                out = {k: v[rows] for k, v in out.items()}
            else:
                out = self._predict_net(self.net_, t, rows, device)
                out.pop("promoter_embedding", None)
        with timed("xgboost_predict"):
            X = self._design(out, prep, rows)
            self.xgb_.set_params(device="cuda" if device == "cuda" else "cpu")
            pred = (
                self.xgb_.predict(X).reshape(len(rows), len(self.tissues_))
                if len(rows)
                else (np.zeros((0, len(self.tissues_))))
            )
            pred = np.asarray(pred, dtype=np.float64)
        return (pred, emb) if return_embedding else pred

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write the model to a directory: ``config.json``, ``network.pt``, ``xgboost.ubj``.

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is False.
        """
        self._check_fitted()
        p = Path(path)
        if p.exists() and not overwrite:
            msg = f"{p} exists; pass overwrite=True to replace it"
            raise FileExistsError(msg)
        p.mkdir(parents=True, exist_ok=True)
        state = {
            "geneimpute_version": __version__,
            "config": asdict(self.config),
            "tissues": self.tissues_,
            "feature_names": self.feature_names_,
            "genef_names": self.genef_names_,
            "mu": self.mu_.tolist(),
            "sd": self.sd_.tolist(),
            "gmu": self.gmu_.tolist(),
            "gsd": self.gsd_.tolist(),
            "gmiss_cols": self.gmiss_cols_.tolist(),
            "tissue_correlation": self.tissue_correlation_.tolist(),
            "token_dim": int(self.net_.transformer.embed.in_features)
            if self.net_ is not None and self.net_.transformer
            else 0,
            "n_net_genef": int(
                self.net_.head[0].in_features
                - self.config.embedding_dim
                * (int(self.config.use_cnn) + int(self.config.use_transformer))
            )
            if self.net_ is not None
            else 0,
        }
        (p / "config.json").write_text(json.dumps(state, indent=2))
        if self.net_ is not None:
            torch.save(self.net_.cpu().state_dict(), p / "network.pt")
        self.xgb_.save_model(p / "xgboost.ubj")

    @classmethod
    def load(cls, path: str | Path, *, map_location: str = "cpu") -> HybridImputer:
        """Load a model written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            If ``path`` lacks ``config.json``, ``network.pt`` or ``xgboost.ubj``.
        ValueError
            If the model was written by an incompatible geneimpute version.
        """
        import xgboost as xgb

        p = Path(path)
        for name in ("config.json", "xgboost.ubj"):
            if not (p / name).exists():
                msg = f"{p} is not a saved HybridImputer: {name} is missing"
                raise FileNotFoundError(msg)
        state = json.loads((p / "config.json").read_text())
        major = str(state.get("geneimpute_version", "0")).split(".")[:2]
        if major != __version__.split(".")[:2]:
            msg = (
                f"model was saved by geneimpute {state.get('geneimpute_version')}, "
                f"this is {__version__}"
            )
            raise ValueError(msg)
        model = cls(HybridConfig(**state["config"]))
        model.tissues_ = state["tissues"]
        model.feature_names_ = state["feature_names"]
        model.genef_names_ = state["genef_names"]
        model._set_tissue_correlation(state["tissue_correlation"])
        for key in ("mu", "sd", "gmu", "gsd"):
            setattr(model, f"{key}_", np.asarray(state[key], dtype=np.float64))
        model.gmiss_cols_ = np.asarray(state["gmiss_cols"], dtype=np.int64)
        if model.uses_network:
            if not (p / "network.pt").exists():
                msg = f"{p} is not a saved HybridImputer: network.pt is missing"
                raise FileNotFoundError(msg)
            token_dim = state["token_dim"] or 1
            model.net_ = model._new_net(state["n_net_genef"], token_dim)
            sd = torch.load(p / "network.pt", map_location=map_location, weights_only=True)
            model.net_.load_state_dict(sd)
        model.xgb_ = xgb.XGBRegressor()
        model.xgb_.load_model(p / "xgboost.ubj")
        return model
