"""Open an h5ad or zarr store with its expression matrices as lazy dask arrays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anndata as ad
from anndata import AnnData


def read_lazy(
    path: str | Path, *, layers: Sequence[str] | None = (), chunks: tuple[int, int] | None = None
) -> AnnData:
    """Open an ``.h5ad`` file or ``.zarr`` store with ``X`` (and layers) as dask arrays.

    ``obs``, ``var`` and ``uns`` are read into memory; ``X`` and the chosen ``layers`` stay on
    disk as :class:`dask.array.Array` (:func:`anndata.experimental.read_elem_lazy`), so a matrix
    larger than memory goes through :func:`~geneimpute.pp.tissue_medians` and
    :func:`~geneimpute.tl.impute_samples` block by block on the active dask scheduler.

    Parameters
    ----------
    path
        An ``.h5ad`` file or a ``.zarr`` directory written by anndata.
    layers
        Layers to open lazily too; None opens every layer. Other layers are not read.
    chunks
        Dask chunks ``(n_samples, n_genes)`` of every lazy matrix; None uses the store's own
        (for h5ad: anndata's default). ~1,000 samples x ~500 genes suits both access patterns
        (whole columns for medians, whole rows for imputation).

    Returns
    -------
    An :class:`~anndata.AnnData` with dask-backed ``X`` (None if the store has none) and
    ``layers``; ``obsm``/``varm``/``obsp``/``varp`` are not read. The h5ad file stays open
    as long as the arrays are used.

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

    def lazy(elem: Any) -> Any:
        return ad.experimental.read_elem_lazy(elem, chunks=chunks)

    stored = list(group["layers"].keys()) if "layers" in group else []
    wanted = stored if layers is None else list(layers)
    missing = [k for k in wanted if k not in stored]
    if missing:
        msg = f"layers {missing} are not in {path} (stored: {stored})"
        raise KeyError(msg)
    return AnnData(
        X=lazy(group["X"]) if "X" in group else None,
        obs=ad.io.read_elem(group["obs"]),
        var=ad.io.read_elem(group["var"]),
        uns=ad.io.read_elem(group["uns"]) if "uns" in group else None,
        layers={k: lazy(group["layers"][k]) for k in wanted},
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

    For the lazy layers of :func:`~geneimpute.tl.impute_samples` and
    :func:`~geneimpute.tl.impute_from_regulators`: one :func:`dask.array.store` on the active
    scheduler (each worker writing its own blocks) computes them together, so the input is read
    once (``adata.write_zarr`` computes each array separately, in the calling process). The
    arrays are in anndata's encoding (``layers/<key>``), read by :func:`read_lazy`.

    Parameters
    ----------
    adata
        AnnData whose ``layers[key]`` are numpy or dask arrays ``(n_obs, n_vars)``.
    path
        A zarr store written by anndata for the same observations and variables (e.g. the
        one :func:`read_lazy` opened), or a new path, where ``obs`` and ``var`` are written.
    keys
        Layers to write; None: every layer. Existing layers of the same name are replaced.
    chunks
        zarr chunks of the new arrays; None: each dask layer's chunks (numpy layers: zarr's
        automatic chunking). Dask blocks must cover whole zarr chunks, as workers write in
        parallel without locks.
    compressors
        zarr compressors of the new arrays (e.g. ``numcodecs.Blosc(cname="zstd")``);
        ``"auto"`` = zarr's default.

    Returns
    -------
    None. Writes ``layers/<key>`` of the store at ``path`` and re-consolidates its metadata;
    ``adata`` is not modified.

    Raises
    ------
    KeyError
        If a key is not a layer of ``adata``.
    ValueError
        If the store's ``obs``/``var`` counts differ from ``adata``'s.
    """
    import zarr

    keys = list(adata.layers) if keys is None else list(keys)
    missing = [k for k in keys if k not in adata.layers]
    if missing:
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
    lazy_src: list[Any] = []
    lazy_dst: list[Any] = []
    for k in keys:
        arr = adata.layers[k]
        zchunks: Any = chunks or (arr.chunksize if hasattr(arr, "chunksize") else "auto")
        kw = {"shape": arr.shape, "dtype": arr.dtype, "chunks": zchunks, "overwrite": True}
        z = layers.create_array(k, compressors=compressors, **kw)
        z.attrs.update({"encoding-type": "array", "encoding-version": "0.2.0"})
        if hasattr(arr, "compute"):
            lazy_src.append(arr)
            lazy_dst.append(z)
        else:
            z[...] = arr
    if lazy_src:
        import dask.array as da

        da.store(lazy_src, lazy_dst, lock=False)
    zarr.consolidate_metadata(str(path))  # as anndata's writer: readers use the consolidated view
