"""Pretrained models shipped with the package, and their model cards.

The files live in ``geneimpute/models/_weights/<name>/`` (``config.json``, ``network.pt``,
``xgboost*.ubj``, ``calibration.npz``, ``model_card.json``, ``MODEL_CARD.md``) and are built by
``python scripts/build_pretrained.py`` from the bundled GTEx table. They are read like any
saved model: JSON, torch weights with ``weights_only=True``, XGBoost UBJ and an ``.npz`` read
with ``allow_pickle=False``. No pickle, no network access.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from .hybrid._estimator import HybridImputer

#: Names of the shipped models and what each is.
PRETRAINED = {
    "gtex_v8_37tissues": (
        "the hybrid (promoter CNN, neighbour transformer, tissue correlations, XGBoost) trained "
        "on the bundled GTEx v8 table (37 HPA tissues, TPM) without chr8; imputes genes of a "
        "tissues x genes table from their promoter and their measured genomic neighbours"
    ),
    "gtex_v8_37tissues_sequence": (
        "sequence-only model (promoter CNN + promoter composition + gene length and transcript "
        "structure, XGBoost) trained on the same genes; predicts a 37-tissue profile of a gene "
        "from its promoter and its structure (geneimpute.tl.predict_profiles)"
    ),
    "gtex_v8_37tissues_promoter": (
        "promoter-only model (promoter CNN + promoter composition, XGBoost) trained on the "
        "same genes; predicts a 37-tissue profile from a promoter sequence alone, e.g. a FASTA "
        "record (geneimpute.tl.predict_profiles, geneimpute predict --fasta)"
    ),
}


def pretrained_path(name: str) -> Path:
    """Directory of the shipped model ``name``.

    Raises
    ------
    KeyError
        If ``name`` is not a shipped model (the known names are listed).
    FileNotFoundError
        If the package was installed without the model files.
    """
    if name not in PRETRAINED:
        msg = f"no pretrained model named {name!r}; available: {sorted(PRETRAINED)}"
        raise KeyError(msg)
    path = Path(str(resources.files("geneimpute.models") / "_weights" / name))
    if not (path / "config.json").exists():
        msg = (
            f"the files of pretrained model {name!r} are missing from {path}; reinstall "
            "geneimpute, or rebuild them with python scripts/build_pretrained.py"
        )
        raise FileNotFoundError(msg)
    return path


def list_pretrained() -> dict[str, str]:
    """Names of the pretrained models shipped with geneimpute, with a one-line description.

    Returns
    -------
    ``{name: description}``; pass a name to :func:`pretrained`, to
    :func:`~geneimpute.tl.impute_expression` (``model=``) or to
    :func:`~geneimpute.tl.predict_profiles`.
    """
    return dict(PRETRAINED)


def pretrained(name: str = "gtex_v8_37tissues") -> HybridImputer:
    """Load a pretrained model shipped with the package.

    ``"gtex_v8_37tissues"`` is the hybrid of Brown, Dong & Truong (Communications Biology
    2026, doi:10.1038/s42003-026-10251-7) trained with the package defaults on the bundled
    GTEx v8 table (37 tissues, HPA names; TPM) with chromosome 8 held out, so its model card's
    accuracy is measured on genes it never trained on. ``"gtex_v8_37tissues_sequence"`` is the
    sequence-only model (``features=["promoter", "structure"]``) for genes without a table
    (Xpresso's task; Agarwal & Shendure, Cell Reports 2020,
    doi:10.1016/j.celrep.2020.107663), and ``"gtex_v8_37tissues_promoter"``
    (``features=["promoter"]``) for promoter sequences alone.
    All carry calibrated interval data (a seeded 4,000-gene calibration subset).

    Parameters
    ----------
    name
        One of :func:`list_pretrained`.

    Returns
    -------
    A fitted :class:`HybridImputer` (equal to ``HybridImputer.load`` of the same files); its
    ``setup_`` holds the tissues, units (TPM), keys and features; see
    :func:`pretrained_card` for data, accuracy and training command.

    Raises
    ------
    KeyError
        If ``name`` is unknown (the available names are listed).
    FileNotFoundError
        If the model files are missing from this installation.

    Examples
    --------
    >>> import geneimpute as ge
    >>> model = ge.models.pretrained("gtex_v8_37tissues")  # doctest: +SKIP
    >>> ge.tl.impute_expression(adata, model="gtex_v8_37tissues")  # doctest: +SKIP
    """
    return HybridImputer.load(pretrained_path(name))


def pretrained_card(name: str = "gtex_v8_37tissues") -> dict[str, Any]:
    """Return the model card of a pretrained model (``model_card.json``) as a dict.

    Keys: ``name``, ``description``, ``geneimpute_version``, ``data`` (source, genes, tissues,
    units), ``training`` (command, config, held-out chromosome, seconds), ``evaluation``
    (per-tissue and per-gene centred Pearson r, R^2, MSE, interval coverage on the held-out
    chromosome, with the command that reproduces them). ``MODEL_CARD.md`` beside it says the
    same in prose.

    Raises
    ------
    KeyError, FileNotFoundError
        As :func:`pretrained`.
    """
    return json.loads((pretrained_path(name) / "model_card.json").read_text())
