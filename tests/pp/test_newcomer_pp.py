"""Issue 32: ``read_gct(strict=False)`` for subset files, and a quiet ``to_mudata``."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest

import geneimpute as ge

#: the real GTEx v8 subset whose line 2 counts the full table (../shared/data)
REAL_GCT = Path(__file__).resolve().parents[3] / "shared/data/gtex_v8_gene_reads_acmg59.gct.gz"


def _gct(path: Path, line2: str) -> Path:
    rows = ["#1.2", line2, "Name\tDescription\tGTEX-1-1\tGTEX-1-2\tGTEX-2-1"]
    rows += ["ENSG01.1\tA\t1\t2\t3", "ENSG02.4\tB\t4\t5\t6"]
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(rows) + "\n")
    return path


def test_read_gct_strict_false_reads_a_subset_with_the_full_line2(tmp_path):
    path = _gct(tmp_path / "sub.gct.gz", "56200\t3")
    counts = r"line 2 declares 56200 genes x 3 samples, but the table has 2 genes x 3 samples"
    with pytest.raises(ValueError, match=rf"{counts}; the file is truncated .*strict=False"):
        ge.pp.read_gct(path)
    with pytest.warns(ge.DataWarning, match=rf"{counts}; read the table as it is"):
        adata = ge.pp.read_gct(path, strict=False)
    assert adata.shape == (3, 2) and list(adata.var["gene_name"]) == ["A", "B"]
    np.testing.assert_array_equal(adata.X, np.array([[1, 4], [2, 5], [3, 6]], np.float32))
    with warnings.catch_warnings():  # a consistent line 2 reads silently either way
        warnings.simplefilter("error", ge.DataWarning)
        same = ge.pp.read_gct(_gct(tmp_path / "ok.gct.gz", "2\t3"), strict=False)
    np.testing.assert_array_equal(same.X, adata.X)


@pytest.mark.skipif(not REAL_GCT.exists(), reason="../shared/data is not here")
def test_read_gct_real_gtex_subset():
    with pytest.raises(ValueError, match="declares 56200 genes .* has 59 genes.*strict=False"):
        ge.pp.read_gct(REAL_GCT)
    with pytest.warns(ge.DataWarning, match="declares 56200 genes x 17382 samples.* 59 genes"):
        adata = ge.pp.read_gct(REAL_GCT, strict=False)
    assert adata.shape == (17382, 59) and "BRCA1" in set(adata.var["gene_name"])


def test_to_mudata_shows_no_future_warning():
    long = ge.datasets.gtex_donors()
    donors = sorted(long.obs["donor"].unique())[:20]
    d = ge.pp.to_donor_layers(long[long.obs["donor"].isin(donors).to_numpy()].copy())
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        m = ge.pp.to_mudata(d)
    tissues = list(d.uns["donor_layout"]["tissues"])
    assert list(m.mod) == tissues and m.shape == (20, 59)
    # as mudata < 0.4 built it: each modality's var columns pulled, prefixed by the tissue
    assert list(m.var.columns) == [f"{t}:gene_name" for t in tissues]
    assert (m.var[f"{tissues[0]}:gene_name"].to_numpy() == d.var["gene_name"].to_numpy()).all()
    for t in tissues:
        np.testing.assert_array_equal(m.mod[t].X, d.layers[t])
    back = ge.pp.from_mudata(m)
    for t in tissues:
        np.testing.assert_array_equal(back.layers[t], d.layers[t])
