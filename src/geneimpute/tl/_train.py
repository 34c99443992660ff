"""Train the hybrid model and impute missing tissue profiles."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from anndata import AnnData

from .._anndata import has_promoters
from .._logging import logger, warn_data
from .._settings import Accelerator, resolve_device
from .._timing import timed
from ..models import FEATURES, GeneInputs, HybridImputer, ModelSetup
from ..models._pretrained import PRETRAINED, pretrained
from ..models.hybrid._config import feature_options
from ._common import (
    ExpressionTask,
    check_interval,
    gene_reliability,
    interval_layers,
    prepare_task,
    write_imputed,
    write_intervals,
)
from ._inputs import (
    PROMOTER_FEATURES,
    InputSources,
    build_inputs,
    model_correlation_entry,
    resolve_tissue_correlation,
)

DEFAULT_PROMOTER_KEY = "promoter_seq"
DEFAULT_NEIGHBORS_KEY = "genomic_neighbors"
DEFAULT_CORRELATION_KEY = "tissue_correlation"


class Prediction(NamedTuple):
    """Output of :func:`predict_hybrid` (log1p TPM, genes x model tissues)."""

    pred: np.ndarray
    embedding: np.ndarray | None
    inputs: GeneInputs
    sigma: np.ndarray | None


def units_of(is_log1p: bool) -> str:
    """``"log1p_TPM"`` or ``"TPM"``."""
    return "log1p_TPM" if is_log1p else "TPM"


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
    feature_options(features)  # validates the names
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
    *,
    features: Sequence[str],
    promoter_key: str | None,
    neighbors_key: str | None,
    tissue_correlation_key: str | None,
    is_log1p: bool,
    layer: str | None,
    reference_rule: str,
    random_state: int,
    accelerator: Accelerator | None,
    model_kwargs: dict[str, Any],
    client: Any = None,
) -> tuple[HybridImputer, GeneInputs, InputSources]:
    """Build the inputs (reading stored keys of ``adata``) and fit a hybrid.

    ``Y`` is genes x ``tissues`` log1p(TPM) with NaN outside ``reference``; ``adata`` supplies
    ``var`` and the ``uns``/``varp`` keys. Everything is validated before the slow part.
    """
    features = usable_features(adata, features, promoter_key, stacklevel=5)
    opts = {**feature_options(features), **model_kwargs}
    model = HybridImputer(random_state=random_state, **opts)  # validates the options
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
        units=units_of(is_log1p),
        layer=layer,
        promoter_key=promoter_key if use_promoter else None,
        neighbors_key=neighbors_key if sources.neighbors.startswith("uns") else None,
        tissue_correlation_key=(
            tissue_correlation_key if sources.tissue_correlation.startswith("uns") else None
        ),
        reference=reference_rule,
    )
    model.fit(Y, inputs, tissues, C, setup=setup, accelerator=accelerator, client=client)
    model.timings_["features"] = features_seconds
    return model, inputs, sources


def resolve_model(
    model: HybridImputer | str | Path | None, is_log1p: bool | None
) -> tuple[HybridImputer | None, str, bool]:
    """Load a saved model directory or a pretrained model by name; ``(model, source, is_log1p)``.

    A string names a directory when one exists at that path, else a pretrained model
    (:func:`geneimpute.models.list_pretrained`).

    ``is_log1p=None`` takes the model's training units (TPM when there is no model).

    Raises
    ------
    TypeError
        If ``model`` is neither a HybridImputer, a path nor None.
    FileNotFoundError
        If a string is neither an existing directory nor a pretrained name.
    """
    source = "given"
    if isinstance(model, str | Path):
        source = str(model)
        if isinstance(model, str) and model in PRETRAINED and not Path(model).exists():
            source = f"pretrained {model!r}"
            model = pretrained(model)
        elif not Path(model).exists():
            msg = (
                f"model={str(model)!r} is neither a saved model directory nor a pretrained "
                f"model name; pretrained: {sorted(PRETRAINED)}"
            )
            raise FileNotFoundError(msg)
        else:
            model = HybridImputer.load(model)
    if model is not None and not isinstance(model, HybridImputer):
        msg = f"model must be a HybridImputer, a saved model directory or None, got {type(model)}"
        raise TypeError(msg)
    if is_log1p is None:
        return model, source, bool(model is not None and model.setup_.units == "log1p_TPM")
    return model, source, bool(is_log1p)


def model_tissue_order(
    tissues: Sequence[str], model: HybridImputer, *, allow_missing: bool = False
) -> tuple[np.ndarray, list]:
    """Positions in ``tissues`` of the model's tissues (-1: absent), and the data's extras.

    Raises
    ------
    ValueError
        If a tissue of the model is not in ``tissues`` (unless ``allow_missing``), naming the
        model's missing tissues and the data's unmatched ones.
    """
    names = [str(t) for t in tissues]
    pos = {t: i for i, t in enumerate(names)}
    missing = [t for t in model.tissues_ if t not in pos]
    if missing and not allow_missing:
        from ..pp._gtex_tissues import GTEX_TISSUE_MAP

        unmatched = [t for t in names if t not in set(model.tissues_)]
        gtex = {k.lower() for k in GTEX_TISSUE_MAP}
        hint = (
            "; these look like GTEx SMTSD names: merge them into the model's HPA tissue names "
            "with geneimpute.pp.merge_gtex_tissues(adata)"
            if any(t.strip().lower() in gtex for t in unmatched)
            else ""
        )
        msg = (
            f"adata lacks {len(missing)} of the model's {len(model.tissues_)} tissues: "
            f"{missing}; adata's tissues that match none of the model's: {unmatched}. The "
            f"model needs every tissue it was trained on (by obs_name, any order){hint}"
        )
        raise ValueError(msg)
    extra = [t for t in names if t not in set(model.tissues_)]
    return np.array([pos.get(t, -1) for t in model.tissues_], dtype=np.int64), extra


def model_tissue_values(
    Y: np.ndarray, order: np.ndarray, model: HybridImputer, reference: np.ndarray
) -> np.ndarray:
    """``Y`` (genes x data tissues, log1p) in the model's tissue order.

    Model tissues absent from the data (``order == -1``) are estimated for the reference genes
    as the conditional mean of a Gaussian with the model's tissue correlation, given the
    gene's z-scored values in the present tissues (clipped at 0); NaN for other genes.
    """
    present = order >= 0
    Ym = np.full((len(Y), len(order)), np.nan)
    Ym[:, present] = Y[:, order[present]]
    if present.all():
        return Ym
    p, m = np.flatnonzero(present), np.flatnonzero(~present)
    C = model.tissue_correlation_
    Z = (Ym[reference][:, p] - model.mu_[p]) / model.sd_[p]
    coef = np.linalg.solve(C[np.ix_(p, p)] + 1e-3 * np.eye(len(p)), C[np.ix_(p, m)])
    est = model.mu_[m] + model.sd_[m] * (Z @ coef)
    rows = np.flatnonzero(reference)
    Ym[np.ix_(rows, m)] = np.clip(est, 0.0, None)
    return Ym


def condition_on_observed(
    model: HybridImputer,
    pred: np.ndarray,
    task: ExpressionTask,
    order: np.ndarray,
    rows: np.ndarray,
    overwrite: bool,
) -> np.ndarray | None:
    """Complete partly measured target genes from their measured tissues, or None.

    ``pred`` is ``(len(rows), n_model_tissues)`` log1p; the hybrid's errors in a gene's
    measured tissues are carried to its missing ones through their covariance over tissues
    (:class:`~geneimpute.models.ObservedTissueConditioner`). None when no target is partly
    measured, with ``overwrite`` (the measured values are then not trusted), or for a model
    without the error covariance (warned).
    """
    if overwrite or not task.partial[rows].any():
        return None
    if model.conditioner_ is None:
        warn_data(
            f"{int(task.partial[rows].sum())} target genes are partly measured, but the model "
            "has no error covariance (saved by an older geneimpute without interval "
            "calibration): they get the hybrid's prediction without using their measured "
            "tissues; re-train the model to use them",
            stacklevel=4,
        )
        return None
    observed = model_tissue_values(task.observed[rows], order, model, np.zeros(len(rows), bool))
    return model.conditioner_.complete(pred, observed)


def check_model_setup(
    adata: AnnData, model: HybridImputer, *, promoter_key: str | None, is_log1p: bool
) -> None:
    """Raise if ``adata`` lacks an input the model was trained with; warn on unit changes."""
    setup = model.setup_
    if "promoter" in setup.features:
        key = promoter_key or setup.promoter_key
        if key is None or key not in adata.var.columns:
            msg = (
                f"the model was trained with promoter sequences in var[{setup.promoter_key!r}]; "
                f"adata.var has no {key!r} column (add it with geneimpute.pp.extract_promoters, "
                "or pass promoter_key= naming your column)"
            )
            raise KeyError(msg)
    if units_of(is_log1p) != setup.units:
        logger.info(
            "the model was trained on %s; this data is %s (converted to log1p internally)",
            setup.units,
            units_of(is_log1p),
        )


def check_scale(model: HybridImputer, Y: np.ndarray, reference: np.ndarray) -> None:
    """Warn when the reference genes' mean log1p level differs from the model's training data.

    A shift of more than 1 log1p unit in the median tissue means that the data's units differ
    from what was declared (log1p data declared TPM is logged twice, for example).
    """
    if not reference.any():
        return
    with np.errstate(invalid="ignore"):
        level = np.nanmean(Y[reference], axis=0)
    shift = float(np.nanmedian(level - model.mu_))
    if np.isfinite(shift) and abs(shift) > 1.0:
        warn_data(
            f"the reference genes' mean log1p(TPM) differs from the model's training data by "
            f"{shift:+.2f} (median over tissues): check the units (is_log1p) and normalisation "
            f"of this data (the model was trained on {model.setup_.units})",
            stacklevel=4,
        )


def predict_hybrid(
    adata: AnnData,
    model: HybridImputer,
    Y: np.ndarray,
    reference: np.ndarray,
    rows: np.ndarray,
    *,
    promoter_key: str | None,
    neighbors_key: str | None,
    accelerator: Accelerator | None,
    sources: InputSources,
    inputs: GeneInputs | None = None,
    with_sigma: bool = False,
) -> Prediction:
    """Predict log1p profiles of ``rows`` (``Y`` genes x model tissues, NaN off reference).

    With ``with_sigma`` (a calibrated model), also the difficulty estimates for intervals.
    """
    if inputs is None:
        use_promoter = "promoter" in model.features_
        inputs = build_inputs(
            adata,
            reference,
            k=model.config.k_neighbors,
            promoter_key=(promoter_key or model.setup_.promoter_key) if use_promoter else None,
            neighbors_key=neighbors_key,
            use_structure=True,
            sources=sources,
            feature_names=model.feature_names_,
            window=model.config.promoter_window,
        )
    out = model.predict(
        Y, inputs, rows, accelerator=accelerator, return_embedding=True, return_sigma=with_sigma
    )
    pred, emb, sigma = out if with_sigma else (*out, None)
    return Prediction(pred, emb, inputs, sigma)


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
        ``n_folds``, ``k_neighbors``, ``use_tissue_correlation``).

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
    model, _, _ = fit_hybrid(
        adata,
        task.Y,
        task.reference,
        [str(t) for t in adata.obs_names],
        features=features,
        promoter_key=promoter_key,
        neighbors_key=neighbors_key,
        tissue_correlation_key=tissue_correlation_key,
        is_log1p=is_log1p,
        layer=layer,
        reference_rule=task.reference_rule,
        random_state=random_state,
        accelerator=accelerator,
        model_kwargs=model_kwargs,
        client=client,
    )
    return model


def impute_expression(
    adata: AnnData,
    model: HybridImputer | str | Path | None = None,
    genes: str | Sequence[bool] | np.ndarray | None = None,
    *,
    reference: str | Sequence[bool] | np.ndarray | None = None,
    layer: str | None = None,
    is_log1p: bool | None = None,
    overwrite: bool = False,
    promoter_key: str | None = None,
    neighbors_key: str | None = DEFAULT_NEIGHBORS_KEY,
    tissue_correlation_key: str | None = DEFAULT_CORRELATION_KEY,
    key_added: str = "imputed",
    embedding_key: str = "promoter_embedding",
    interval: float | None = 0.9,
    missing_tissues: Literal["raise", "estimate"] = "raise",
    save_model: str | Path | None = None,
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Impute missing tissue profiles with the hybrid model.

    With a fitted ``model``, ``adata`` is checked against the model's setup first: its tissues
    are aligned to the model's by name (any order; extra tissues are left as they are, with a
    warning), and a missing tissue, promoter column or gene-feature column is an error. With
    ``model=None`` a hybrid is trained with the package defaults on the reference genes (see
    :func:`train`; use :func:`train` for other options and to keep the model, or pass
    ``save_model``).

    Parameters
    ----------
    adata
        ``obs`` = tissues, ``var`` = genes with coordinates (see :func:`train`), ``X`` (or
        ``layer``) = TPM, shape ``(n_tissues, n_genes)``, NaN where not measured.
    model
        A fitted :class:`~geneimpute.models.HybridImputer`, a directory written by
        :meth:`~geneimpute.models.HybridImputer.save`, or None to train one first.
    genes
        Boolean mask or ``var`` column of genes to impute; default: every gene with a NaN
        value, fully missing genes (no measured tissue) and partly measured ones alike; a
        warning gives both counts when partly measured genes are among them. Partly measured
        genes keep their measured values unless ``overwrite``, and their missing tissues are
        predicted *from* them: the hybrid's errors in the gene's measured tissues are carried
        to its missing ones through the covariance of the hybrid's out-of-fold errors over
        tissues, learned on the reference genes (conditional Gaussian mean;
        :class:`~geneimpute.models.ObservedTissueConditioner`). A fully missing gene gets the
        hybrid's prediction. With ``overwrite`` the measured values are not used.
    reference
        Boolean mask or ``var`` column of reference genes (training targets and neighbours);
        default: every gene measured in at least half of the tissues, except genes chosen
        with ``genes=``. With ``genes=None`` a partly measured gene can be both: its measured
        cells train the model, and when the model is trained here its missing cells are
        filled from its out-of-fold prediction (a model that did not see the gene) before
        conditioning. Reference genes may have NaN tissues (see :func:`train`).
    layer
        Expression layer instead of ``X``.
    is_log1p
        Whether the values are log1p(TPM) (the output is then log1p(TPM) too); None: the
        model's training units, or TPM when training here.
    overwrite
        Replace every value of the target genes (e.g. unreliable low-read genes), not only NaN.
    promoter_key
        ``var`` column with promoters; None: the model's (``"promoter_seq"`` when training).
    neighbors_key
        ``uns`` key of :func:`~geneimpute.pp.neighbor_features` output; read when present
        (no new neighbour search), else neighbours are searched. None always searches.
    tissue_correlation_key
        ``uns`` key of a tissue correlation to train with (read when present, computed from
        the reference genes when absent, and then written there; an existing entry is never
        overwritten). A fitted model uses the correlation it was trained with.
    key_added
        Layer name for the result (and ``uns`` key of its parameters).
    embedding_key
        ``varm`` key for the promoter CNN embeddings.
    interval
        Confidence of the prediction interval written for every imputed value (0.9: a 90%
        interval); None writes none. Conformal prediction with genes as the exchangeable
        unit, calibrated per tissue on cross-fitted residuals of reference genes and scaled by
        a learned per-(gene, tissue) difficulty (Mondrian normalised split conformal; see
        :class:`~geneimpute.models.TissueConformal`). Coverage holds on average over genes
        exchangeable with the reference genes. For a partly measured gene the interval keeps
        the fully-missing width around the conditioned value: conservative, since the
        measured tissues make the error smaller.
    missing_tissues
        What to do when ``adata`` lacks tissues of a fitted ``model``: ``"raise"`` (default)
        or ``"estimate"``: the reference genes' values in those tissues (neighbour inputs) are
        estimated from their other tissues with the model's tissue correlation (conditional
        Gaussian mean of z-scored log1p values), with a warning; nothing is written for the
        absent tissues. For example a GTEx table merged with
        :func:`~geneimpute.pp.merge_gtex_tissues` has 36 of the pretrained model's 37 tissues
        (retina is not a GTEx tissue).
    save_model
        Directory to save the model trained when ``model`` is None (must not exist).
    random_state
        Seed when training (``model=None``).
    accelerator
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
        follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes:

    - ``adata.layers[key_added]``: ``(n_tissues, n_genes)``, observed values unchanged, missing
      values of target genes filled, in the input's units (TPM, or log1p TPM).
    - ``adata.layers[f"{key_added}_mask"]``: bool, True where a value was imputed.
    - ``adata.varm[embedding_key]``: ``(n_genes, embedding_dim)`` promoter CNN embeddings
      (models with a CNN).
    - ``adata.layers[f"{key_added}_lower"]``, ``adata.layers[f"{key_added}_upper"]``: bounds
      of the ``interval`` prediction interval of every imputed value, in the units of
      ``layers[key_added]`` (TPM, or log1p TPM); NaN where the value was observed.
    - ``adata.var[f"{key_added}_reliability"]``: per imputed gene, the spread of its predicted
      tissue pattern (sd over tissues of the tissue-centred log1p prediction) divided by its
      mean interval half-width; higher = a pattern the model is surer of; NaN for other genes.
    - ``adata.uns[tissue_correlation_key]``: the tissue correlation used, only if the key was
      absent.
    - ``adata.uns[key_added]``: ``params`` (genes imputed, reference genes, units, device,
      features, where each input came from, model setup and config; also
      ``n_genes_fully_missing``, ``n_genes_partly_missing``,
      ``n_missing_values_partly_missing`` and ``conditioned_on_observed``) and ``timings``.

    Raises
    ------
    KeyError, ValueError, TypeError
        As :func:`train`; also if ``adata`` lacks tissues, the promoter column or gene-feature
        columns the model was trained with, if no gene needs imputing, or if a saved model
        directory is damaged. ``adata`` is unchanged when an error is raised.

    Examples
    --------
    >>> import geneimpute as ge
    >>> adata = ge.datasets.gtex_tissues()
    >>> adata.X[:, :100] = float("nan")  # pretend 100 genes were not measured
    >>> model = ge.tl.train(adata)  # doctest: +SKIP
    >>> ge.tl.impute_expression(adata, model)  # doctest: +SKIP
    >>> adata.layers["imputed"], adata.layers["imputed_mask"]  # doctest: +SKIP
    """
    check_interval(interval)
    if missing_tissues not in ("raise", "estimate"):
        msg = f"missing_tissues must be 'raise' or 'estimate', got {missing_tissues!r}"
        raise ValueError(msg)
    model, model_source, log1p = resolve_model(model, is_log1p)
    if model is not None and save_model is not None:
        msg = "save_model is for a model trained here (model=None)"
        raise ValueError(msg)
    if save_model is not None and Path(save_model).exists():
        msg = f"save_model={str(save_model)!r} exists; choose a new directory"
        raise FileExistsError(msg)
    task = prepare_task(adata, genes, layer=layer, is_log1p=log1p, reference=reference)
    tissues = [str(t) for t in adata.obs_names]
    timings: dict[str, float] = {}
    inputs: GeneInputs | None = None
    sources = InputSources()
    trained_here = model is None
    if model is None:
        model_source = "trained here"
        t0 = time.perf_counter()
        model, inputs, sources = fit_hybrid(
            adata,
            task.Y,
            task.reference,
            tissues,
            features=FEATURES,
            promoter_key=promoter_key or DEFAULT_PROMOTER_KEY,
            neighbors_key=neighbors_key,
            tissue_correlation_key=tissue_correlation_key,
            is_log1p=log1p,
            layer=layer,
            reference_rule=task.reference_rule,
            random_state=random_state,
            accelerator=accelerator,
            model_kwargs={},
        )
        timings["train"] = time.perf_counter() - t0
        if save_model is not None:
            model.save(save_model)
            model_source = f"trained here, saved to {save_model}"
    else:
        check_model_setup(adata, model, promoter_key=promoter_key, is_log1p=log1p)
        sources.tissue_correlation = "model"
    order, extra = model_tissue_order(tissues, model, allow_missing=missing_tissues == "estimate")
    absent = [t for t, o in zip(model.tissues_, order, strict=True) if o < 0]
    if absent:
        warn_data(
            f"adata lacks {len(absent)} of the model's tissues ({absent}); the reference "
            "genes' values there are estimated from their other tissues with the model's "
            "tissue correlation, and these tissues are not imputed",
            stacklevel=3,
        )
    Y_model = model_tissue_values(task.Y, order, model, task.reference)
    if not trained_here:
        check_scale(model, Y_model, task.reference)
    t0 = time.perf_counter()
    rows = np.flatnonzero(task.target)
    want_interval = interval is not None
    if want_interval and not model.calibrated:
        warn_data(
            "the model has no interval calibration (trained with calibrate=False); no "
            "intervals are written",
            stacklevel=3,
        )
        want_interval = False
    pred_m, emb, _, sigma_m = predict_hybrid(
        adata,
        model,
        Y_model,
        task.reference,
        rows,
        promoter_key=promoter_key,
        neighbors_key=neighbors_key,
        accelerator=accelerator,
        sources=sources,
        inputs=inputs,
        with_sigma=want_interval,
    )
    if trained_here and model.oof_prediction_ is not None and model.oof_rows_ is not None:
        # partly measured genes that trained the model: their out-of-fold predictions
        hit = np.isin(rows, model.oof_rows_)
        pred_m[hit] = model.oof_prediction_[np.searchsorted(model.oof_rows_, rows[hit])]
    conditioned = condition_on_observed(model, pred_m, task, order, rows, overwrite)
    if conditioned is not None:
        pred_m = conditioned
    bounds = None
    if want_interval and sigma_m is not None and interval is not None:
        lo_m, hi_m = model.interval(pred_m, sigma_m, float(interval))
        here = order >= 0
        bounds = interval_layers(lo_m[:, here], hi_m[:, here], order[here], adata.n_obs, log1p)
        reliability = gene_reliability(pred_m, lo_m, hi_m, model.mu_)
    timings["impute"] = time.perf_counter() - t0
    if extra:
        warn_data(
            f"{len(extra)} tissues of adata are not among the model's tissues and are not "
            f"imputed: {extra[:5]}",
            stacklevel=3,
        )
    pred = np.full((len(rows), adata.n_obs), np.nan)
    pred[:, order[order >= 0]] = pred_m[:, order >= 0]

    corr_entry = model_correlation_entry(
        adata, tissue_correlation_key, model, f"geneimpute.tl.impute_expression ({key_added!r})"
    )
    adata = adata.copy() if copy else adata
    with timed("write_layers", timings):
        n_filled = write_imputed(
            adata,
            task,
            pred,
            is_log1p=log1p,
            key_added=key_added,
            overwrite=overwrite,
            layer=layer,
        )
    if emb is not None:
        adata.varm[embedding_key] = emb.astype(np.float32)
    if corr_entry is not None:
        adata.uns[tissue_correlation_key] = corr_entry
    if bounds is not None:
        write_intervals(adata, key_added, rows, bounds, reliability)
    adata.uns[key_added] = {
        "params": {
            "method": "hybrid",
            "interval": float(interval) if bounds is not None and interval is not None else None,
            "n_genes_imputed": int(task.target.sum()),
            **task.counts(),
            "conditioned_on_observed": conditioned is not None,
            "n_values_imputed": n_filled,
            "n_reference_genes": int(task.reference.sum()),
            "layer": layer or "X",
            "is_log1p": log1p,
            "units": units_of(log1p),
            "overwrite": bool(overwrite),
            "random_state": int(random_state),
            "device": resolve_device(accelerator),
            "features": model.features_,
            "model": model_source,
            "inputs": sources.to_dict(),
            "tissues_not_in_model": list(extra),
            "model_tissues_estimated": absent,
            "model_setup": {k: v for k, v in model.setup_.to_dict().items() if v is not None},
            "model_config": dict(vars(model.config)),
        },
        "timings": {**model.timings_, **timings},
    }
    logger.info("impute_expression: filled %d values of %d genes", n_filled, len(rows))
    return adata if copy else None
