"""Every public function follows the scanpy shape (as scanpy's own structure test)."""

import inspect

import pytest

import geneimpute as ge

PUBLIC = [
    (mod.__name__.split(".")[-1], name, getattr(mod, name))
    for mod in (ge.pp, ge.tl, ge.pl)
    for name in mod.__all__
]


@pytest.mark.parametrize(("mod", "name", "func"), PUBLIC, ids=[f"{m}.{n}" for m, n, _ in PUBLIC])
def test_public_function_shape(mod, name, func):
    sig = inspect.signature(func)
    positional = [
        p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    assert len(positional) <= 3, f"{mod}.{name} has more than 3 positional parameters"
    doc = inspect.getdoc(func)
    assert doc and "Returns" in doc or "Parameters" in doc, f"{mod}.{name} lacks a numpy docstring"
    if "adata" in sig.parameters:
        assert positional[0].name == "adata"
        if "copy" in sig.parameters:
            assert sig.parameters["copy"].default is False
            assert sig.parameters["copy"].kind is inspect.Parameter.KEYWORD_ONLY


def test_version_and_modules():
    assert ge.__version__.count(".") == 2
    for m in ("pp", "tl", "pl", "datasets", "models"):
        assert hasattr(ge, m)
