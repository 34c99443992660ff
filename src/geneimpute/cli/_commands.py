"""``geneimpute impute`` and ``geneimpute predict``: read, run the ``tl`` function, write."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._output import CliError, error_text


def run_impute(args: argparse.Namespace) -> None:
    """Impute all-NaN (or selected) genes of a user's ``.h5ad``."""
    import anndata as ad

    import geneimpute as ge
    from geneimpute._core.io import write_h5ad_atomic

    try:
        adata = ad.read_h5ad(args.input)
    except (OSError, KeyError, ValueError, TypeError) as err:
        msg = f"cannot read {args.input} as .h5ad: {error_text(err)}"
        raise CliError(msg) from None
    ge.tl.impute_expression(
        adata,
        args.model,
        args.genes,
        layer=args.layer,
        is_log1p=args.is_log1p,
        save_model=args.save_model,
        missing_tissues="estimate" if args.estimate_missing_tissues else "raise",
        random_state=args.seed,
        accelerator=args.accelerator,
    )
    params = adata.uns["imputed"]["params"]
    write_h5ad_atomic(adata, args.output, compression="gzip")
    saved = f"; saved the model to {args.save_model}" if args.save_model else ""
    print(
        f"imputed {params['n_values_imputed']} values of {params['n_genes_imputed']} genes "
        f"from {params['n_reference_genes']} reference genes; wrote {args.output}{saved}"
    )


def _genes_from_annotation(args: argparse.Namespace):
    """Build a genes-only AnnData for ``--genes``: coordinates from the GTF, promoters."""
    import anndata as ad
    import pandas as pd

    import geneimpute as ge

    wanted = [g.strip() for g in Path(args.genes).read_text().split() if g.strip()]
    if not wanted:
        msg = f"--genes {args.genes}: no gene IDs or names"
        raise CliError(msg)
    ann = ge.pp.read_annotation(args.gtf)
    ids = pd.Index(ann.index.astype(str).str.replace(r"\.\d+$", "", regex=True))
    names = ann["gene_name"].astype(str) if "gene_name" in ann.columns else pd.Series([], dtype=str)
    by_name = dict(zip(names, ids, strict=False))
    chosen: list[str] = []
    unknown: list[str] = []
    for g in wanted:
        gid = g.split(".")[0] if g.split(".")[0] in set(ids) else by_name.get(g)
        (chosen if gid is not None else unknown).append(gid if gid is not None else g)
    if unknown:
        msg = f"--genes: {len(unknown)} genes are not in {args.gtf}: {unknown[:5]}"
        raise CliError(msg)
    chosen = list(dict.fromkeys(chosen))
    adata = ad.AnnData(var=pd.DataFrame(index=pd.Index(chosen, name="gene_id")))
    ge.pp.annotate_genes(adata, ann)
    ge.pp.extract_promoters(adata, args.genome)
    return adata


def run_predict(args: argparse.Namespace) -> None:
    """Profiles across the model's tissues from promoters (FASTA, or genes + genome + GTF)."""
    import geneimpute as ge
    from geneimpute._core.io import write_h5ad_atomic

    source = args.fasta if args.fasta is not None else _genes_from_annotation(args)
    prof = ge.tl.predict_profiles(source, args.model, tss_index=args.tss_index)
    write_h5ad_atomic(prof, args.output, compression="gzip")
    print(
        f"predicted {prof.n_vars} profiles x {prof.n_obs} tissues (log1p TPM in X, TPM in "
        f"layers['tpm'], 90% intervals) with "
        f"{prof.uns['predict_profiles']['params']['model']}; wrote {args.output}"
    )
