"""Every ``python`` block and every ``geneimpute`` command of README.md and docs/*.md runs.

A page's blocks run in order in one namespace (later blocks use earlier names), in a temporary
directory that holds the files the docs name (:func:`doc_files`, written from bundled data).
Commands run in-process through :func:`geneimpute.cli.main`; each subcommand's ``--help`` too.
Other shell commands (the README's ``pip install`` steps) are what ``.ci/run`` runs.

So that the pages run in seconds on CI's 2 cores, and as the docs say next to each slow line,
the test runs them on less:

- ``REDUCED``: the defaults of the models that training builds (1 network epoch, 10 trees,
  small regulator networks). Arguments a snippet passes itself win.
- ``SUBSET``: the bundled datasets the snippets load are cut to a few hundred genes or samples.

A block right after a ``<!-- snippet: skip (why) -->`` line is not run (it needs a cluster or
files of yours); ``SKIPPED`` counts them per page, and the test fails when that changes.
"""

from __future__ import annotations

import functools
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

import geneimpute as ge
from geneimpute.cli import build_parser, main
from geneimpute.models import DonorHybrid, HybridImputer, RegulatorImputer

from .conftest import DATA

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(python|bash)\s*$")
SKIP = re.compile(r"^<!-- snippet: skip \((.+)\) -->$")
#: blocks marked ``snippet: skip`` per page (each says why in its marker)
SKIPPED = {"docs/index.md": 1, "docs/scaling.md": 2}
#: model defaults while the snippets run
REDUCED = {
    HybridImputer: {"max_epochs": 1, "xgb_n_estimators": 10},
    DonorHybrid: {"max_epochs": 1, "xgb_n_estimators": 5},
    RegulatorImputer: {
        "max_epochs": 2,
        "autoencoder_epochs": 2,
        "patience": 1,
        "context_folds": 2,
        "hidden": [32],
        "autoencoder_width": 32,
    },
}
GTEX, DONORS, TCGA = ge.datasets.gtex_tissues, ge.datasets.gtex_donors, ge.datasets.tcga_cohorts


@functools.cache
def _subsets() -> dict:
    """What the bundled loaders return while the snippets run (copied on each call)."""
    donors = DONORS()
    # the first 30 donors' samples (522 of 11,125)
    donors = donors[donors.obs["donor"].isin(sorted(set(donors.obs["donor"]))[:30]).to_numpy()]
    gtex = GTEX()
    # the genes on chr21 and chr22, and the 59 genes of gtex_donors (the snippets join them)
    keep = gtex.var["chrom"].isin(["chr21", "chr22"]) | gtex.var_names.isin(donors.var_names)
    return {
        "gtex_tissues": gtex[:, keep.to_numpy()].copy(),
        "gtex_donors": donors.copy(),
        "tcga_cohorts": TCGA()[::6].copy(),  # every 6th sample: 201 of 1,204, all 11 cohorts
    }


SUBSET = {
    name: functools.partial(lambda n: _subsets()[n].copy(), name)
    for name in ("gtex_tissues", "gtex_donors", "tcga_cohorts")
}


def blocks(page: Path) -> list[tuple[str, int, str, str | None]]:
    """``(language, first line, code, skip reason)`` of each python/bash block of ``page``."""
    lines = page.read_text().splitlines()
    out = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        end = lines.index("```", i + 1)
        skip = SKIP.match(lines[i - 1]) if i else None
        code = "\n".join(lines[i + 1 : end])
        out.append((fence.group(1), i + 2, code, skip.group(1) if skip else None))
        i = end + 1
    return out


def commands(code: str) -> list[list[str]]:
    """The ``geneimpute`` commands of a bash block (also inside ``a && b`` chains), as argv."""
    parts = [p.strip() for line in code.splitlines() for p in line.split("&&")]
    return [shlex.split(p, comments=True)[1:] for p in parts if p.startswith("geneimpute ")]


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


RUNNABLE = [p for p in PAGES if any(lang == "python" or commands(c) for lang, _, c, _ in blocks(p))]


@pytest.fixture(scope="module")
def doc_files(tmp_path_factory, chr22_fasta) -> Path:
    """The files the docs' snippets read, made from bundled data.

    ``table.h5ad`` (the GTEx table's 208 chr21 genes, 20 of them NaN), ``promoters.fa`` (20 bundled
    300 bp promoters), ``samples.h5ad`` (30 donors' GTEx samples, normalised counts, coordinates
    and promoters in ``var``, 4 genes NaN), and for ``predict --genes``: ``genes.txt`` (3
    Ensembl IDs), ``genes.gtf`` (their Xpresso hg19 TSS) and ``hg38.fa`` (a stand-in: the bundled
    GRCh37 chr22:20-21 Mb).
    """
    d = tmp_path_factory.mktemp("doc_files")
    gtex = SUBSET["gtex_tissues"]()
    table = gtex[:, (gtex.var["chrom"] == "chr21").to_numpy()].copy()
    table.X[:, np.random.default_rng(0).choice(table.n_vars, 20, replace=False)] = np.nan
    table.write_h5ad(d / "table.h5ad")
    seqs = gtex.var["promoter_seq"][gtex.var["promoter_seq"].str.len() == 300][:20]
    (d / "promoters.fa").write_text("".join(f">{g}\n{s}\n" for g, s in seqs.items()))
    samples = SUBSET["gtex_donors"]()
    samples.var = samples.var.join(gtex.var.drop(columns="gene_name"))
    samples.X = np.expm1(np.asarray(samples.X, dtype=np.float32))
    samples.X[:, :4] = np.nan
    del samples.layers["counts"]
    samples.write_h5ad(d / "samples.h5ad")
    bed = ge.pp.read_annotation(DATA / "xpresso_hg19_chr22.bed")
    bed = bed[bed["end"] - bed["start"] == 20000]
    tss = np.where(bed["strand"] == "+", bed["start"] + 10_000, bed["end"] - 10_000)
    bed = bed.assign(tss=tss)[(tss > 20_100_000) & (tss < 20_900_000)][:3]
    plus = bed["strand"] == "+"  # 1 kb genes that start (+) or end (-) at the TSS, 1-based
    start, end = (
        np.where(plus, bed["tss"] + 1, bed["tss"] - 998),
        np.where(plus, bed["tss"] + 1000, bed["tss"] + 1),
    )
    lines = [
        f'chr22\ttest\tgene\t{a}\t{b}\t.\t{s}\t.\tgene_id "{g}";\n'
        for g, a, b, s in zip(bed.index, start, end, bed["strand"], strict=True)
    ]
    (d / "genes.gtf").write_text("".join(lines))
    (d / "genes.txt").write_text("\n".join(bed.index) + "\n")
    shutil.copy(chr22_fasta, d / "hg38.fa")
    shutil.copy(f"{chr22_fasta}.fai", d / "hg38.fa.fai")
    return d


@pytest.fixture
def reduced(monkeypatch):
    """``REDUCED`` model defaults and ``SUBSET`` datasets, for one test."""
    for cls, small in REDUCED.items():
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args, _init=init, _small=small, **kwargs):
            if not args and "config" not in kwargs:  # not a model being loaded
                kwargs = {**_small, **kwargs}
            _init(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", __init__)
    for name, load in SUBSET.items():
        monkeypatch.setattr(ge.datasets, name, load)


@pytest.mark.parametrize("page", RUNNABLE, ids=_name)
def test_page_snippets_run(page, doc_files, reduced, one_thread, tmp_path, monkeypatch, capsys):
    for f in doc_files.iterdir():
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__snippet__"}
    skipped = 0
    for lang, line, code, skip in blocks(page):
        if skip is not None:
            skipped += 1
        elif lang == "python":  # padded: a traceback names the page's own line numbers
            exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
        else:
            for argv in commands(code):
                rc = main(argv)
                err = capsys.readouterr().err
                assert rc == 0, f"{_name(page)}:{line}: geneimpute {shlex.join(argv)}: {err}"
    assert skipped == SKIPPED.get(_name(page), 0)


def test_every_subcommand_has_help_and_a_documented_example(capsys):
    documented = {
        argv[0]
        for page in PAGES
        for lang, _, code, skip in blocks(page)
        if lang == "bash" and skip is None
        for argv in commands(code)
    }
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    assert documented == subcommands
    for sub in sorted(subcommands):
        with pytest.raises(SystemExit) as exc:
            main([sub, "--help"])
        assert exc.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: geneimpute {sub}")


def test_only_a_few_blocks_are_skipped_and_each_says_why():
    marked = {_name(p): [why for _, _, _, why in blocks(p) if why is not None] for p in PAGES}
    assert {p: len(w) for p, w in marked.items() if w} == SKIPPED
    assert sum(SKIPPED.values()) <= 3
