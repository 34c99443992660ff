import anndata as ad
import numpy as np

from geneimpute.cli import main


def test_cli_impute(small_missing, tmp_path, capsys):
    adata, _, held = small_missing
    src, dst = tmp_path / "in.h5ad", tmp_path / "out.h5ad"
    adata.write_h5ad(src)
    rc = main(["--no-progress", "--accelerator", "cpu", "impute", str(src), "-o", str(dst)])
    assert rc == 0
    out = ad.read_h5ad(dst)
    assert out.layers["imputed_mask"][:, held].all()
    assert f"of {int(held.sum())} genes" in capsys.readouterr().out


def test_cli_reports_bad_input(small, tmp_path, capsys):
    src = tmp_path / "in.h5ad"
    small.write_h5ad(src)
    rc = main(["--no-progress", "impute", str(src), "-o", str(tmp_path / "o.h5ad")])
    assert rc == 2
    assert "no genes to impute" in capsys.readouterr().err
    assert not (tmp_path / "o.h5ad").exists()
    np.testing.assert_array_equal(ad.read_h5ad(src).X, small.X)
