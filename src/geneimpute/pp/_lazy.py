"""Open an h5ad or zarr store with its expression matrices as lazy dask arrays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anndata as ad
from anndata import AnnData
from anndata.experimental import read_elem_lazy


def read_lazy(
    path: str | Path, *, layers: Sequence[str] | None = (), chunks: tuple[int, int] | None = None
) -> AnnData:
    """Open an ``.h5ad`` file or ``.zarr`` store with ``X`` (and layers) as dask arrays.

    ``X`` and ``layers`` stay on disk (:func:`anndata.experimental.read_elem_lazy`), for
    :func:`~geneimpute.pp.tissue_medians` and :func:`~geneimpute.tl.impute_samples`.

    Parameters
    ----------
    path
        An ``.h5ad`` file or a ``.zarr`` directory written by anndata.
    layers
        Layers to open lazily too; None opens every layer. Other layers are not read.
    chunks
        Dask chunks ``(n_samples, n_genes)`` (~1,000 x ~500 suits both passes); None: the store's.

    Returns
    -------
    An :class:`~anndata.AnnData` with dask ``X`` (or None) and ``layers``, ``obs``, ``var``,
    ``uns`` (not ``obsm``/``varm``/``obsp``/``varp``); an h5ad file stays open.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is neither an ``.h5ad`` file nor a zarr store.
    KeyError
        If a requested layer is not in the store.

    Examples
    --------
    >>> sdata = ge.pp.read_lazy("gtex_samples.zarr")  # doctest: +SKIP
    >>> ge.tl.impute_samples(sdata, model)  # doctest: +SKIP
    >>> sdata.write_zarr("gtex_samples_imputed.zarr")  # doctest: +SKIP
    """
    path = Path(path)
    group: Any
    if not path.exists():
        msg = f"no such file or store: {path}"
        raise FileNotFoundError(msg)
    if path.is_dir():
        import zarr

        group = zarr.open_group(str(path), mode="r")
    elif path.suffix == ".h5ad":
        import h5py

        group = h5py.File(path, "r")
    else:
        msg = f"{path} is neither an .h5ad file nor a .zarr store"
        raise ValueError(msg)
    stored = list(group["layers"].keys()) if "layers" in group else []
    wanted = stored if layers is None else list(layers)
    if missing := [k for k in wanted if k not in stored]:
        msg = f"layers {missing} are not in {path} (stored: {stored})"
        raise KeyError(msg)
    return AnnData(
        X=read_elem_lazy(group["X"], chunks=chunks) if "X" in group else None,
        obs=ad.io.read_elem(group["obs"]),
        var=ad.io.read_elem(group["var"]),
        uns=ad.io.read_elem(group["uns"]) if "uns" in group else None,
        layers={k: read_elem_lazy(group["layers"][k], chunks=chunks) for k in wanted},
    )


def write_layers(
    adata: AnnData,
    path: str | Path,
    keys: Sequence[str] | None = None,
    *,
    chunks: tuple[int, int] | None = None,
    compressors: Any = "auto",
) -> None:
    """Write layers of ``adata`` into a zarr store, computing lazy layers in one dask pass.

    One :func:`dask.array.store` reads the input once, unlike ``write_zarr``.

    Parameters
    ----------
    adata
        AnnData whose ``layers[key]`` are numpy or dask arrays ``(n_obs, n_vars)``.
    path
        An anndata zarr store of the same shape (e.g. :func:`read_lazy`'s), or a new path.
    keys
        Layers to write; None: every layer. Existing layers of the same name are replaced.
    chunks
        zarr chunks, which dask blocks must cover whole (no locks); None: the dask chunks.
    compressors
        zarr compressors of the new arrays; ``"auto"`` = zarr's default.

    Returns
    -------
    None. Writes ``layers/<key>`` at ``path`` and re-consolidates its metadata.

    Raises
    ------
    KeyError
        If a key is not a layer of ``adata``.
    ValueError
        If the store's ``obs``/``var`` counts differ from ``adata``'s.
    """
    import zarr

    keys = list(adata.layers) if keys is None else list(keys)
    if missing := [k for k in keys if k not in adata.layers]:
        msg = f"layers {missing} not in adata.layers (available: {list(adata.layers)})"
        raise KeyError(msg)
    path = Path(path)
    if not path.exists():
        AnnData(obs=adata.obs, var=adata.var).write_zarr(path)
    group = zarr.open_group(str(path), mode="r+")
    n_obs, n_var = (len(ad.io.read_elem(group[k])) for k in ("obs", "var"))
    if (n_obs, n_var) != adata.shape:
        msg = (
            f"the store at {path} holds {n_obs} x {n_var}; adata is {adata.n_obs} x {adata.n_vars}"
        )
        raise ValueError(msg)
    layers = group.require_group("layers")
    lazy: list[tuple[Any, Any]] = []
    for k in keys:
        arr = adata.layers[k]
        zchunks: Any = chunks or (arr.chunksize if hasattr(arr, "chunksize") else "auto")
        kw = {"shape": arr.shape, "dtype": arr.dtype, "chunks": zchunks, "overwrite": True}
        z = layers.create_array(k, compressors=compressors, **kw)
        z.attrs.update({"encoding-type": "array", "encoding-version": "0.2.0"})
        if hasattr(arr, "compute"):
            lazy.append((arr, z))
        else:
            z[...] = arr
    if lazy:
        import dask.array as da

        da.store([a for a, _ in lazy], [z for _, z in lazy], lock=False)
    zarr.consolidate_metadata(str(path))  # as anndata's writer: readers use the consolidated view
