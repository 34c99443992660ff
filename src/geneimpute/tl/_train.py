"""Train the hybrid model on the reference genes of a tissues x genes AnnData."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
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
from .._docs import doc_params
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
    """How :func:`fit_hybrid` trains on an AnnData; the fields are :func:`train`'s parameters."""

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

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any], **overrides: Any) -> HybridFitSpec:
        """Build from ``arguments`` named like a field (e.g. ``locals()``), then ``overrides``."""
        names = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in arguments.items() if k in names}, **overrides})

    def trained_here(self) -> HybridFitSpec:
        """Return the spec of a model an imputer trains: ``promoter_key`` None -> the default."""
        return replace(self, promoter_key=self.promoter_key or DEFAULT_PROMOTER_KEY)


def usable_features(
    adata: AnnData, features: Sequence[str], promoter_key: str | None, *, stacklevel: int
) -> list[str]:
    """Validate ``features``; drop ``"promoter"`` (warned at ``stacklevel``) without promoters."""
    features = list(features)  # validated by components_for (the caller's)
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
    """Fit on ``Y`` (genes x ``tissues``, log1p, NaN off ``reference``) with ``spec``'s inputs."""
    features = usable_features(adata, spec.features, spec.promoter_key, stacklevel=stacklevel)
    use_promoter = "promoter" in features
    promoter_key = spec.promoter_key if use_promoter else None
    # the input groups the data has decide which components can be used
    given = spec.model_kwargs.get("components", COMPONENTS)
    opts = {**spec.model_kwargs, "components": components_for(features, given)}
    model = HybridImputer(random_state=spec.random_state, **opts)  # validates the options
    sources = InputSources()
    t0 = time.perf_counter()
    inputs = build_inputs(
        adata,
        reference,
        k=model.config.k_neighbors,
        promoter_key=promoter_key,
        neighbors_key=spec.neighbors_key,
        use_structure="structure" in features,
        sources=sources,
        window=model.config.promoter_window,
    )
    if not use_promoter:  # promoter composition belongs to the "promoter" features
        keep = [i for i, n in enumerate(inputs.feature_names) if n not in PROMOTER_FEATURES]
        names = [inputs.feature_names[i] for i in keep]
        inputs = replace(inputs, gene_features=inputs.gene_features[:, keep], feature_names=names)
    key = spec.tissue_correlation_key
    C = resolve_tissue_correlation(adata, tissues, Y[reference], key, sources)
    features_seconds = time.perf_counter() - t0
    setup = ModelSetup(
        features=features,
        units=units_of(spec.is_log1p),
        layer=spec.layer,
        promoter_key=promoter_key,
        neighbors_key=spec.neighbors_key if sources.neighbors.startswith("uns") else None,
        tissue_correlation_key=key if sources.tissue_correlation.startswith("uns") else None,
        reference=reference_rule,
    )
    model.fit(Y, inputs, tissues, C, setup=setup, accelerator=spec.accelerator, client=spec.client)
    model.timings_["features"] = features_seconds
    return model, inputs, sources


@doc_params()
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
    :class:`~geneimpute.models.HybridImputer`. Neighbours and tissue correlation that ``pp``
    wrote are read, not recomputed. The returned model stores this setup (tissues, features,
    units, layer, keys; :class:`~geneimpute.models.ModelSetup`) and checks it when applied.

    Parameters
    ----------
    {adata_tissues}
    {reference}
    {layer}
    {is_log1p}
    {features}
    {promoter_key}
    {neighbors_key}
    {tissue_correlation_key}
    {random_state}
    {accelerator}
    {client}
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
    spec = HybridFitSpec.from_arguments(locals())
    tissues = [str(t) for t in adata.obs_names]
    return fit_hybrid(
        adata, task.Y, task.reference, tissues, spec, reference_rule=task.reference_rule
    )[0]
