"""Train the hybrid model and impute missing tissue profiles."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._logging import logger
from .._settings import Accelerator, resolve_device
from .._timing import timed
from .._utils import tissue_frame
from ..models import GeneInputs, HybridImputer
from ..pp._correlation import correlation_matrix
from ._common import ExpressionTask, prepare_task, write_imputed
from ._inputs import build_inputs

FEATURES = ("promoter", "neighbors", "structure")


def _model_options(features: Sequence[str], kwargs: dict) -> dict:
    unknown = set(features) - set(FEATURES)
    if unknown or not features:
        msg = f"features must be a non-empty subset of {FEATURES}, got {list(features)}"
        raise ValueError(msg)
    opts = {
        "use_cnn": "promoter" in features,
        "use_transformer": "neighbors" in features,
        "use_neighbor_features": "neighbors" in features,
    }
    if "neighbors" not in features:
        opts["use_distance"] = False
    opts.update(kwargs)
    return opts


def _tissue_corr(adata: AnnData, task: ExpressionTask, key: str) -> np.ndarray:
    """Use ``adata.uns[key]`` if it matches the tissues, else compute over reference genes."""
    C = adata.uns.get(key)
    if (
        isinstance(C, pd.DataFrame)
        and list(C.index) == list(adata.obs_names)
        and list(C.columns) == list(adata.obs_names)
    ):
        return C.to_numpy(dtype=np.float64)
    return correlation_matrix(task.Y[task.reference])


def _fit(
    adata: AnnData,
    task: ExpressionTask,
    *,
    features: Sequence[str],
    tissue_correlation_key: str,
    random_state: int,
    accelerator: Accelerator,
    model_kwargs: dict,
) -> tuple[HybridImputer, GeneInputs]:
    """Build the inputs from ``adata`` and fit; return the model and the inputs it saw."""
    opts = _model_options(features, model_kwargs)
    model = HybridImputer(random_state=random_state, **opts)
    t0 = time.perf_counter()
    inputs = build_inputs(
        adata.var,
        task.reference,
        k=model.config.k_neighbors,
        use_structure="structure" in features,
    )
    with timed("tissue_correlation"):
        C = _tissue_corr(adata, task, tissue_correlation_key)
    features_seconds = time.perf_counter() - t0
    model.fit(task.Y, inputs, list(adata.obs_names), C, accelerator=accelerator)
    model.timings_["features"] = features_seconds
    model.features_ = list(features)
    return model, inputs


def train(
    adata: AnnData,
    reference: str | Sequence[bool] | np.ndarray | None = None,
    *,
    layer: str | None = None,
    is_log1p: bool = False,
    features: Sequence[str] = FEATURES,
    tissue_correlation_key: str = "tissue_correlation",
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    **model_kwargs,
) -> HybridImputer:
    """Train the hybrid imputer on the reference genes of a tissues x genes AnnData.

    The model (Brown, Dong & Truong, Communications Biology 2026) combines a CNN over the
    one-hot promoter (``var['promoter_seq']``), a transformer encoder over each gene's ``k``
    nearest reference genes (their log1p profiles, TSS-to-TSS distances in bp, orientation),
    tissue correlations, hand-made gene features and an XGBoost regressor on top; see
    :class:`~geneimpute.models.HybridImputer`.

    Parameters
    ----------
    adata
        ``obs`` = tissues, ``var`` = genes with ``chrom``, ``start``, ``end``, ``strand``
        (``tss`` optional), ``X`` (or ``layer``) = TPM, shape ``(n_tissues, n_genes)``.
    reference
        Boolean mask or ``var`` column of training genes; default: every gene whose profile has
        no NaN. Reference genes must have complete profiles.
    layer
        Expression layer instead of ``X``.
    is_log1p
        Set if the values are log1p(TPM) already.
    features
        Which inputs to use: ``"promoter"`` (CNN + promoter composition), ``"neighbors"``
        (transformer + distance-based profile), ``"structure"`` (transcript structure columns
        of ``var``). ``features=["promoter"]`` (optionally with ``"structure"``) gives a
        sequence-only, Xpresso-style model for genes without neighbours.
    tissue_correlation_key
        ``uns`` key of a precomputed :func:`~geneimpute.pp.tissue_correlation` (used if its
        tissues match); otherwise it is computed from the reference genes.
    random_state
        Seed for numpy, torch and xgboost.
    accelerator
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
        follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
    **model_kwargs
        Overrides of :class:`~geneimpute.models.HybridConfig` (e.g. ``max_epochs``,
        ``n_folds``, ``k_neighbors``, ``use_tissue_correlation``).

    Returns
    -------
    The fitted :class:`~geneimpute.models.HybridImputer`; ``adata`` is not modified.

    Raises
    ------
    KeyError
        If coordinate columns or ``layer`` are missing.
    ValueError
        On duplicated gene IDs or tissues, NaN in reference genes, genes without
        coordinates, negative TPM, fewer than 20 reference genes, or unknown ``features``.

    Examples
    --------
    >>> import geneimpute as ge
    >>> adata = ge.datasets.gtex_tissues()
    >>> model = ge.tl.train(adata, max_epochs=2)  # doctest: +SKIP
    >>> model.save("gtex_model")  # doctest: +SKIP
    """
    task = prepare_task(
        adata, None, layer=layer, is_log1p=is_log1p, reference=reference, require_targets=False
    )
    model, _ = _fit(
        adata,
        task,
        features=features,
        tissue_correlation_key=tissue_correlation_key,
        random_state=random_state,
        accelerator=accelerator,
        model_kwargs=model_kwargs,
    )
    return model


def impute_expression(
    adata: AnnData,
    model: HybridImputer | str | Path | None = None,
    genes: str | Sequence[bool] | np.ndarray | None = None,
    *,
    reference: str | Sequence[bool] | np.ndarray | None = None,
    layer: str | None = None,
    is_log1p: bool = False,
    overwrite: bool = False,
    key_added: str = "imputed",
    embedding_key: str = "promoter_embedding",
    tissue_correlation_key: str = "tissue_correlation",
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    copy: bool = False,
    **train_kwargs,
) -> AnnData | None:
    """Impute missing tissue profiles with the hybrid model.

    Parameters
    ----------
    adata
        ``obs`` = tissues, ``var`` = genes with coordinates (see :func:`train`), ``X`` (or
        ``layer``) = TPM, shape ``(n_tissues, n_genes)``, NaN where not measured.
    model
        A fitted :class:`~geneimpute.models.HybridImputer`, a directory written by
        :meth:`~geneimpute.models.HybridImputer.save`, or None to train on the reference genes
        (all genes with complete profiles that are not imputed) first.
    genes
        Boolean mask or ``var`` column of genes to impute; default: genes whose profile is
        all NaN. Partly observed target genes keep their observed values unless ``overwrite``.
    reference
        Boolean mask or ``var`` column of reference genes (training targets and neighbours);
        default: every gene with a complete profile that is not a target. They must not
        contain NaN.
    layer
        Expression layer instead of ``X``.
    is_log1p
        Set if the values are log1p(TPM); the output is then log1p(TPM) too.
    overwrite
        Replace every value of the target genes (e.g. unreliable low-read genes), not only NaN.
    key_added
        Layer name for the result.
    embedding_key
        ``varm`` key for the promoter CNN embeddings.
    tissue_correlation_key
        ``uns`` key for the tissue correlation matrix.
    random_state
        Seed when training (``model=None``).
    accelerator
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
        follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
    copy
        Return a modified copy instead of writing in place.
    **train_kwargs
        Passed to :func:`train` when ``model`` is None.

    Returns
    -------
    Writes (or returns a copy with):

    - ``adata.layers[key_added]``: ``(n_tissues, n_genes)``, observed values unchanged, missing
      values of target genes filled, in the input's units (TPM, or log1p TPM with ``is_log1p``).
    - ``adata.layers[f"{key_added}_mask"]``: bool, True where a value was imputed.
    - ``adata.varm[embedding_key]``: ``(n_genes, embedding_dim)`` promoter CNN embeddings.
    - ``adata.uns[tissue_correlation_key]``: tissue x tissue Pearson r (DataFrame).
    - ``adata.uns[key_added]``: ``params`` (genes imputed, reference genes, device, model
      config) and ``timings`` (seconds per step).

    Raises
    ------
    KeyError, ValueError
        As :func:`train`; also if ``model``'s tissues differ from ``adata.obs_names``, or no
        gene needs imputing. ``adata`` is unchanged when an error is raised.

    Examples
    --------
    >>> import geneimpute as ge
    >>> adata = ge.datasets.gtex_tissues()
    >>> adata.X[:, :100] = float("nan")  # pretend 100 genes were not measured
    >>> ge.tl.impute_expression(adata, max_epochs=2)  # doctest: +SKIP
    >>> adata.layers["imputed"], adata.layers["imputed_mask"]  # doctest: +SKIP
    """
    task = prepare_task(adata, genes, layer=layer, is_log1p=is_log1p, reference=reference)
    if isinstance(model, str | Path):
        model = HybridImputer.load(model)
    if model is not None and list(model.tissues_) != list(adata.obs_names):
        msg = (
            f"the model was trained on tissues {model.tissues_[:3]}... ({len(model.tissues_)}), "
            f"adata has {list(adata.obs_names[:3])}... ({adata.n_obs}); reorder or subset adata "
            "to the model's tissues"
        )
        raise ValueError(msg)
    timings: dict[str, float] = {}
    inputs = None
    if model is None:
        t0 = time.perf_counter()
        model, inputs = _fit(
            adata,
            task,
            features=train_kwargs.pop("features", FEATURES),
            tissue_correlation_key=tissue_correlation_key,
            random_state=random_state,
            accelerator=accelerator,
            model_kwargs=train_kwargs,
        )
        timings["train"] = time.perf_counter() - t0
    elif train_kwargs:
        msg = f"training options {sorted(train_kwargs)} given, but model is already trained"
        raise TypeError(msg)
    t0 = time.perf_counter()
    if inputs is None:  # a trained model: build its inputs from this adata
        inputs = build_inputs(
            adata.var,
            task.reference,
            k=model.config.k_neighbors,
            feature_names=model.feature_names_,
        )
    rows = np.flatnonzero(task.target)
    pred, emb = model.predict(task.Y, inputs, rows, accelerator=accelerator, return_embedding=True)
    timings["impute"] = time.perf_counter() - t0

    adata = adata.copy() if copy else adata
    with timed("write_layers", timings):
        n_filled = write_imputed(
            adata,
            task,
            pred,
            is_log1p=is_log1p,
            key_added=key_added,
            overwrite=overwrite,
            layer=layer,
        )
    if emb is not None:
        adata.varm[embedding_key] = emb.astype(np.float32)
    adata.uns[tissue_correlation_key] = tissue_frame(model.tissue_correlation_, adata.obs_names)
    adata.uns[key_added] = {
        "params": {
            "method": "hybrid",
            "n_genes_imputed": int(task.target.sum()),
            "n_values_imputed": n_filled,
            "n_reference_genes": int(task.reference.sum()),
            "layer": layer or "X",
            "is_log1p": bool(is_log1p),
            "overwrite": bool(overwrite),
            "random_state": int(random_state),
            "device": resolve_device(accelerator),
            "features": list(getattr(model, "features_", FEATURES)),
            "model_config": {k: v for k, v in vars(model.config).items()},
        },
        "timings": {**model.timings_, **timings},
    }
    logger.info("impute_expression: filled %d values of %d genes", n_filled, len(rows))
    return adata if copy else None
