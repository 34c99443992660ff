"""Every public function follows the scanpy shape (as scanpy's own package-structure test).

Rules (docs: CONVENTIONS.md, "Function shape"):

- a numpy docstring with ``Parameters`` and ``Returns`` sections; ``Parameters`` documents
  every parameter by name and nothing else, without types (they are in the signature);
- every parameter and the return type annotated;
- at most three positional parameters; a first parameter that is an AnnData is ``adata``;
- ``copy`` is ``copy: bool = False``, keyword-only, and the function returns ``AnnData | None``;
- ``inplace`` is ``inplace: bool = True``, keyword-only, never next to ``copy``, and the
  function returns ``<result> | None``;
- a ``pp``/``tl`` function that writes into its AnnData (it takes ``copy`` or ``inplace``)
  names what it writes with a keyword-only ``key_added: str`` and its ``Returns`` section
  says where ``key_added`` goes;
- a ``pl`` function takes ``show`` and ``save`` keyword-only and returns ``<figure> | None``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

import pytest
from anndata import AnnData
from pandas import DataFrame

import geneimpute as ge

PUBLIC = [
    (f"{mod.__name__.split('.')[-1]}.{name}", getattr(mod, name))
    for mod in (ge.pp, ge.tl, ge.pl)
    for name in mod.__all__
]
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
KW_ONLY = inspect.Parameter.KEYWORD_ONLY


def _ann(annotation: object) -> str:
    """An annotation as source text (they are strings under ``from __future__ import
    annotations``), whitespace-normalised; ``""`` when missing."""
    if annotation is inspect.Parameter.empty:
        return ""
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    text = re.sub(r"\b(ad|anndata)\.AnnData\b", "AnnData", text)
    return re.sub(r"\s+", " ", text).strip()


def numpy_sections(doc: str) -> dict[str, list[str]]:
    """Section title -> its lines, for numpy-style section headers (title, then dashes)."""
    lines = doc.splitlines()
    out: dict[str, list[str]] = {}
    current = None
    for i, line in enumerate(lines):
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and not line[0].isspace() and re.fullmatch(r"-{3,}", underline):
            current = line.strip()
            out[current] = []
        elif current is not None and not re.fullmatch(r"-{3,}", line.strip()):
            out[current].append(line)
    return out


def documented_names(section: list[str]) -> list[str]:
    """Parameter names of a numpy ``Parameters`` section (``a``, ``a : int``, ``a, b``)."""
    names = []
    for line in section:
        if line.strip() and not line[0].isspace():
            head = line.split(" : ", 1)[0]
            names += [n.strip() for n in head.split(",") if n.strip()]
    return names


def shape_problems(qualname: str, func: Callable) -> list[str]:
    """Every way ``func`` departs from the rules in the module docstring."""
    problems = []
    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    mod = qualname.split(".")[0]

    # docstring
    doc = inspect.getdoc(func) or ""
    sections = numpy_sections(doc)
    for title in ("Parameters", "Returns"):
        if not "".join(sections.get(title, [])).strip():
            problems.append(f"docstring has no (or an empty) numpy {title!r} section")
    if "Parameters" in sections:
        documented = documented_names(sections["Parameters"])
        stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
        # *args / **kwargs may be documented with or without their stars
        expected = {p.name: {p.name, stars.get(p.kind, "") + p.name} for p in params}
        missing = [n for n, spell in expected.items() if not spell & set(documented)]
        known = set().union(*expected.values()) if expected else set()
        unknown = [n for n in documented if n not in known]
        dup = sorted({n for n in documented if documented.count(n) > 1})
        if missing:
            problems.append(f"Parameters section does not document {missing}")
        if unknown:
            problems.append(f"Parameters section documents {unknown}, not in the signature")
        if dup:
            problems.append(f"Parameters section documents {dup} twice")
        typed = [
            line.split(" : ", 1)[0]
            for line in sections["Parameters"]
            if line.strip() and not line[0].isspace() and " : " in line
        ]
        if typed:
            problems.append(
                f"Parameters section repeats types of {typed} (types go in the signature)"
            )

    # signature
    unannotated = [p.name for p in params if not _ann(p.annotation)]
    if unannotated:
        problems.append(f"parameters {unannotated} are not annotated")
    returns = _ann(sig.return_annotation)
    if not returns:
        problems.append("return type is not annotated")
    positional = [p for p in params if p.kind in POSITIONAL]
    if len(positional) > 3:
        problems.append(
            f"{len(positional)} positional parameters {[p.name for p in positional]} (max 3)"
        )
    if params and _ann(params[0].annotation) == "AnnData" and params[0].name != "adata":
        problems.append(f"first parameter is an AnnData named {params[0].name!r}, not 'adata'")
    if "adata" in sig.parameters and params[0].name != "adata":
        problems.append("'adata' is not the first parameter")
    if "adata" in sig.parameters and _ann(sig.parameters["adata"].annotation) != "AnnData":
        problems.append(f"'adata' is annotated {_ann(sig.parameters['adata'].annotation)!r}")

    copy, inplace = sig.parameters.get("copy"), sig.parameters.get("inplace")
    if copy is not None and inplace is not None:
        problems.append("takes both 'copy' and 'inplace'")
    if copy is not None:
        if (_ann(copy.annotation), copy.default, copy.kind) != ("bool", False, KW_ONLY):
            problems.append("'copy' is not keyword-only 'copy: bool = False'")
        if returns != "AnnData | None":
            problems.append(f"takes 'copy' but returns {returns!r}, not 'AnnData | None'")
    if inplace is not None:
        if (_ann(inplace.annotation), inplace.default, inplace.kind) != ("bool", True, KW_ONLY):
            problems.append("'inplace' is not keyword-only 'inplace: bool = True'")
        if not returns.endswith("| None") or returns == "None":
            problems.append(f"takes 'inplace' but returns {returns!r}, not '<result> | None'")

    writes = mod in ("pp", "tl") and (copy is not None or inplace is not None)
    key_added = sig.parameters.get("key_added")
    if writes and key_added is None:
        problems.append("writes into adata (takes copy/inplace) but has no 'key_added'")
    if key_added is not None:
        if key_added.kind is not KW_ONLY or _ann(key_added.annotation) != "str":
            problems.append("'key_added' is not a keyword-only 'key_added: str'")
        if "key_added" not in "".join(sections.get("Returns", [])):
            problems.append("Returns section does not say what is written under key_added")

    if mod == "pl":
        for name in ("show", "save"):
            p = sig.parameters.get(name)
            if p is None or p.kind is not KW_ONLY:
                problems.append(f"plot function without a keyword-only {name!r}")
        if not returns.endswith("| None"):
            problems.append(f"plot function returns {returns!r}, not '<figure> | None'")
    return problems


@pytest.mark.parametrize(("qualname", "func"), PUBLIC, ids=[q for q, _ in PUBLIC])
def test_public_function_shape(qualname, func):
    problems = shape_problems(qualname, func)
    assert not problems, f"{qualname}:\n  " + "\n  ".join(problems)


# ----------------------------------------------------------------------------- the checker
def _good(
    adata: AnnData, genes: list | None = None, *, key_added: str = "x", copy: bool = False
) -> AnnData | None:
    """Do it.

    Parameters
    ----------
    adata
        Data.
    genes
        Genes.
    key_added
        Key.
    copy
        Copy.

    Returns
    -------
    None or a copy; writes ``uns[key_added]``.
    """


def _bad(data, a, b, c, copy=True, inplace=False):
    """Do it.

    Parameters
    ----------
    data
        Data.
    a, b
        Stuff.
    d
        Not a parameter.
    """


def _bad_writer(adata: AnnData, *, inplace: bool = True) -> DataFrame:
    """Do it.

    Parameters
    ----------
    adata : AnnData
        Data.
    inplace
        In place.

    Returns
    -------
    A DataFrame.
    """


def test_checker_passes_a_conforming_function():
    assert shape_problems("tl._good", _good) == []


def test_checker_reports_each_departure():
    problems = shape_problems("tl._bad", _bad)
    assert problems == [
        "docstring has no (or an empty) numpy 'Returns' section",
        "Parameters section does not document ['c', 'copy', 'inplace']",
        "Parameters section documents ['d'], not in the signature",
        "parameters ['data', 'a', 'b', 'c', 'copy', 'inplace'] are not annotated",
        "return type is not annotated",
        "6 positional parameters ['data', 'a', 'b', 'c', 'copy', 'inplace'] (max 3)",
        "takes both 'copy' and 'inplace'",
        "'copy' is not keyword-only 'copy: bool = False'",
        "takes 'copy' but returns '', not 'AnnData | None'",
        "'inplace' is not keyword-only 'inplace: bool = True'",
        "takes 'inplace' but returns '', not '<result> | None'",
        "writes into adata (takes copy/inplace) but has no 'key_added'",
    ]
    assert shape_problems("pp._bad_writer", _bad_writer) == [
        "Parameters section repeats types of ['adata'] (types go in the signature)",
        "takes 'inplace' but returns 'DataFrame', not '<result> | None'",
        "writes into adata (takes copy/inplace) but has no 'key_added'",
    ]


def test_numpy_docstring_parsing():
    # the old check `doc and "Returns" in doc or "Parameters" in doc` passed any docstring
    # mentioning "Parameters"; sections are now parsed
    sections = numpy_sections(inspect.getdoc(_bad))
    assert set(sections) == {"Parameters"}
    assert documented_names(sections["Parameters"]) == ["data", "a", "b", "d"]
    assert numpy_sections("Returns a value.\n\nParameters are documented elsewhere.") == {}


def test_version_and_modules():
    assert re.fullmatch(r"\d+\.\d+\.\d+", ge.__version__)
    for m in ("pp", "tl", "pl", "datasets", "models"):
        assert hasattr(ge, m)
