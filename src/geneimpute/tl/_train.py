"""Train the hybrid model on the reference genes of a tissues x genes AnnData."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from anndata import AnnData

from .._adata import (
    PROMOTER_FEATURES,
    InputSources,
    build_inputs,
    has_promoters,
    prepare_task,
    resolve_tissue_correlation,
)
from .._logging import warn_data
from .._settings import Accelerator
from ..models import FEATURES, GeneInputs, HybridImputer, ModelSetup
from ..models.hybrid._config import COMPONENTS, components_for
from ._model import units_of

DEFAULT_PROMOTER_KEY = "promoter_seq"
DEFAULT_NEIGHBORS_KEY = "genomic_neighbors"
DEFAULT_CORRELATION_KEY = "tissue_correlation"


@dataclass(frozen=True)
class HybridFitSpec:
    """How to train a hybrid on an AnnData: the inputs to read, their units, the options.

    Built once by each public function from its arguments and handed to :func:`fit_hybrid`
    (``dataclasses.replace`` derives a variant, e.g. other ``model_kwargs`` per trial).

    Attributes
    ----------
    features
        Input groups (``"promoter"``, ``"neighbors"``, ``"structure"``); see :func:`train`.
    promoter_key, neighbors_key, tissue_correlation_key
        The ``var`` column and ``uns`` keys read (see :func:`train`); None reads none.
    is_log1p, layer
        Units and layer of the expression, recorded in the model's setup.
    random_state, accelerator, client
        Seed, device and optional ``dask.distributed.Client`` (see :func:`train`).
    model_kwargs
        Overrides of :class:`~geneimpute.models.HybridConfig`.
    """

    features: Sequence[str] = FEATURES
    promoter_key: str | None = DEFAULT_PROMOTER_KEY
    neighbors_key: str | None = DEFAULT_NEIGHBORS_KEY
    tissue_correlation_key: str | None = DEFAULT_CORRELATION_KEY
    is_log1p: bool = False
    layer: str | None = None
    random_state: int = 0
    accelerator: Accelerator | None = None
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    client: Any = None

    def trained_here(self) -> HybridFitSpec:
        """Return the spec of a model an imputer trains: ``promoter_key`` None -> the default."""
        return replace(self, promoter_key=self.promoter_key or DEFAULT_PROMOTER_KEY)


def usable_features(
    adata: AnnData, features: Sequence[str], promoter_key: str | None, *, stacklevel: int
) -> list[str]:
    """Validate ``features`` and drop ``"promoter"`` (warned) when ``adata`` has no promoters.

    ``stacklevel`` goes to :func:`~geneimpute._logging.warn_data`: 3 attributes the warning
    to this function's caller, each further level to the caller above.

    Raises
    ------
    ValueError
        On unknown feature names, or ``"promoter"`` alone without promoter sequences.
    """
    features = list(features)
    components_for(features)  # validates the names
    if "promoter" in features and not has_promoters(adata.var, promoter_key):
        rest = [f for f in features if f != "promoter"]
        if not rest:
            msg = (
                f"features={features} needs promoter sequences, but var[{promoter_key!r}] is "
                "absent or empty; add them with geneimpute.pp.extract_promoters"
            )
            raise ValueError(msg)
        what = "is absent" if promoter_key not in adata.var else "holds only empty sequences"
        warn_data(
            f"var[{promoter_key!r}] {what}: training without the promoter CNN "
            f"(features={rest}); add promoters with geneimpute.pp.extract_promoters",
            stacklevel=stacklevel,
        )
        features = rest
    return features


def fit_hybrid(
    adata: AnnData,
    Y: np.ndarray,
    reference: np.ndarray,
    tissues: list[str],
    spec: HybridFitSpec,
    *,
    reference_rule: str = "complete_profiles",
    stacklevel: int = 5,
) -> tuple[HybridImputer, GeneInputs, InputSources]:
    """Build the inputs (reading the stored keys of ``adata`` that ``spec`` names) and fit.

    ``Y`` is genes x ``tissues`` log1p(TPM) with NaN outside ``reference``; ``adata`` supplies
    ``var`` and the ``uns``/``varp`` keys; ``reference_rule`` (how the reference genes were
    chosen) is recorded in the setup. Everything is validated before the slow part.
    ``stacklevel`` goes to :func:`usable_features` (5: the caller's caller).
    """
    promoter_key, neighbors_key = spec.promoter_key, spec.neighbors_key
    tissue_correlation_key = spec.tissue_correlation_key
    features = usable_features(adata, spec.features, promoter_key, stacklevel=stacklevel)
    # the input groups the data has decide which components can be used
    given = spec.model_kwargs.get("components", COMPONENTS)
    opts = {**spec.model_kwargs, "components": components_for(features, given)}
    model = HybridImputer(random_state=spec.random_state, **opts)  # validates the options
    sources = InputSources()
    use_promoter = "promoter" in features
    t0 = time.perf_counter()
    inputs = build_inputs(
        adata,
        reference,
        k=model.config.k_neighbors,
        promoter_key=promoter_key if use_promoter else None,
        neighbors_key=neighbors_key,
        use_structure="structure" in features,
        sources=sources,
        window=model.config.promoter_window,
    )
    if not use_promoter:  # promoter composition belongs to the "promoter" features
        keep = [i for i, n in enumerate(inputs.feature_names) if n not in PROMOTER_FEATURES]
        inputs = GeneInputs(
            promoter=inputs.promoter,
            gene_features=inputs.gene_features[:, keep],
            neighbors=inputs.neighbors,
            feature_names=[inputs.feature_names[i] for i in keep],
        )
    C = resolve_tissue_correlation(adata, tissues, Y[reference], tissue_correlation_key, sources)
    features_seconds = time.perf_counter() - t0
    setup = ModelSetup(
        features=features,
        units=units_of(spec.is_log1p),
        layer=spec.layer,
        promoter_key=promoter_key if use_promoter else None,
        neighbors_key=neighbors_key if sources.neighbors.startswith("uns") else None,
        tissue_correlation_key=(
            tissue_correlation_key if sources.tissue_correlation.startswith("uns") else None
        ),
        reference=reference_rule,
    )
    model.fit(Y, inputs, tissues, C, setup=setup, accelerator=spec.accelerator, client=spec.client)
    model.timings_["features"] = features_seconds
    return model, inputs, sources


def train(
    adata: AnnData,
    reference: str | Sequence[bool] | np.ndarray | None = None,
    *,
    layer: str | None = None,
    is_log1p: bool = False,
    features: Sequence[str] = FEATURES,
    promoter_key: str = DEFAULT_PROMOTER_KEY,
    neighbors_key: str | None = DEFAULT_NEIGHBORS_KEY,
    tissue_correlation_key: str | None = DEFAULT_CORRELATION_KEY,
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    client: Any = None,
    **model_kwargs: Any,
) -> HybridImputer:
    """Train the hybrid imputer on the reference genes of a tissues x genes AnnData.

    The model (Brown, Dong & Truong, Communications Biology 2026,
    doi:10.1038/s42003-026-10251-7) combines a CNN over the one-hot promoter
    (``var[promoter_key]``), a transformer encoder over each gene's ``k`` nearest reference
    genes (their log1p profiles, TSS-to-TSS distances in bp, orientation), tissue
    correlations, hand-made gene features and an XGBoost regressor on top; see
    :class:`~geneimpute.models.HybridImputer`. Inputs that ``pp`` wrote are read, not
    recomputed: neighbours from ``uns[neighbors_key]``
    (:func:`~geneimpute.pp.neighbor_features`) and the tissue correlation from
    ``uns[tissue_correlation_key]`` (:func:`~geneimpute.pp.tissue_correlation`); each is
    computed only when its key is absent. The returned model stores this setup (tissues,
    features, units, layer, keys; :class:`~geneimpute.models.ModelSetup`) and checks it when
    applied.

    Parameters
    ----------
    adata
        ``obs`` = tissues, ``var`` = genes with ``chrom``, ``start``, ``end``, ``strand``
        (``tss`` optional), ``X`` (or ``layer``) = TPM, shape ``(n_tissues, n_genes)``.
    reference
        Boolean mask or ``var`` column of training genes; default: every gene measured in at
        least half of the tissues (genes measured in fewer are left out, with a warning).
        Reference genes may have NaN tissues: training uses every measured cell (the network's
        loss, the XGBoost rows and the calibration leave the NaN cells out; a neighbour's NaN
        tissue is left out of the neighbour inputs), so a table where no gene is complete
        still trains. Every tissue needs at least 20 measured reference genes.
    layer
        Expression layer instead of ``X``.
    is_log1p
        Set if the values are log1p(TPM) already.
    features
        Which inputs to use: ``"promoter"`` (CNN + promoter composition), ``"neighbors"``
        (transformer + distance-based profile), ``"structure"`` (transcript structure columns
        of ``var``). ``features=["promoter"]`` (optionally with ``"structure"``) gives a
        sequence-only, Xpresso-style model for genes without neighbours. Without promoter
        sequences in ``var[promoter_key]``, ``"promoter"`` is dropped with a warning.
    promoter_key
        ``var`` column with promoter sequences (:func:`~geneimpute.pp.extract_promoters`'s
        ``key_added``); ``var[f"{promoter_key}_tss_index"]`` gives the TSS position.
    neighbors_key
        ``uns`` key of :func:`~geneimpute.pp.neighbor_features` output to read; None (or an
        absent key) searches neighbours among the reference genes.
    tissue_correlation_key
        ``uns`` key of :func:`~geneimpute.pp.tissue_correlation` output (or a user DataFrame)
        to read; None (or an absent key) computes it from the reference genes.
    random_state
        Seed for numpy, torch and xgboost.
    accelerator
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
        follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
    client
        A ``dask.distributed.Client``: the XGBoost stage (the final regressor and the
        cross-fitted calibration models) is fitted with ``xgboost.dask`` on a design matrix
        partitioned over the cluster's workers, and kept as an ordinary
        ``xgboost.XGBRegressor`` (saved, loaded and applied like any other). The torch stage
        trains in this process as usual (see the "Scaling out" docs page for distributing it).
        Distributed histogram boosting partitions the rows differently, so the model is
        close to, not bit-identical with, the one trained without a client.
    **model_kwargs
        Overrides of :class:`~geneimpute.models.HybridConfig` (e.g. ``max_epochs``,
        ``n_folds``, ``k_neighbors``, ``components``).

    Returns
    -------
    The fitted :class:`~geneimpute.models.HybridImputer`; ``adata`` is not modified.

    Raises
    ------
    KeyError
        If coordinate columns, ``layer`` or a stored key's ``varp`` graph are missing.
    ValueError
        On duplicated gene IDs or tissues, all-NaN reference genes, genes without
        coordinates, infinite or negative values, TPM above 1e7, fewer than 20 reference
        genes, unknown ``features``, stored neighbours pointing at non-reference genes.
    TypeError
        On unknown ``model_kwargs``.

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
    spec = HybridFitSpec(
        features=features,
        promoter_key=promoter_key,
        neighbors_key=neighbors_key,
        tissue_correlation_key=tissue_correlation_key,
        is_log1p=is_log1p,
        layer=layer,
        random_state=random_state,
        accelerator=accelerator,
        model_kwargs=model_kwargs,
        client=client,
    )
    tissues = [str(t) for t in adata.obs_names]
    model, _, _ = fit_hybrid(
        adata, task.Y, task.reference, tissues, spec, reference_rule=task.reference_rule
    )
    return model
