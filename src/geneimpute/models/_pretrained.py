"""Pretrained models in ``_weights/<name>/`` (``scripts/build_pretrained.py``), model cards."""

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
    """Return the directory of the shipped model ``name`` (``KeyError``, ``FileNotFoundError``)."""
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
    ``{name: description}`` (names for :func:`pretrained` or ``tl.impute_expression(model=)``).
    """
    return dict(PRETRAINED)


def pretrained(name: str = "gtex_v8_37tissues") -> HybridImputer:
    """Load a pretrained model shipped with the package.

    ``"gtex_v8_37tissues"``: the hybrid trained on the bundled GTEx v8 table (37 tissues, TPM)
    without chromosome 8, on which its card's accuracy is measured; ``"..._sequence"`` and
    ``"..._promoter"`` need no table (see :func:`list_pretrained`).

    Parameters
    ----------
    name
        One of :func:`list_pretrained`.

    Returns
    -------
    A fitted :class:`HybridImputer`; :func:`pretrained_card` describes it.

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

    Keys: ``name``, ``description``, ``geneimpute_version``, ``data``, ``training`` and
    ``evaluation`` (accuracy and interval coverage on the held-out chromosome).

    Raises
    ------
    KeyError, FileNotFoundError
        As :func:`pretrained`.
    """
    return json.loads((pretrained_path(name) / "model_card.json").read_text())
