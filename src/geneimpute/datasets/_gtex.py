"""GTEx v8 expression bundled with the package, and the reader of every bundled dataset."""

from __future__ import annotations

from importlib.resources import files

import anndata as ad


def read_bundled(name: str) -> ad.AnnData:
    """Read the bundled ``_data/{name}.h5ad``."""
    with (files("geneimpute.datasets") / "_data" / f"{name}.h5ad").open("rb") as fh:
        return ad.read_h5ad(fh)


def gtex_tissues() -> ad.AnnData:
    """GTEx v8 median TPM of 18,241 protein-coding genes in 37 tissues, with promoters.

    Real data, processed by ``scripts/build_datasets.py`` from:

    - expression: GTEx v8 samples re-quantified by the Human Protein Atlas 21.1 (Ensembl 103),
      summarised per tissue (the 54 GTEx tissues merged into 37 HPA tissue names); TPM;
    - coordinates (GRCh38): CAGE-corrected TSS and strand from Xpresso (Agarwal & Shendure,
      Cell Reports 2020; the 1,523 HPA genes without one are left out), gene bodies from the
      GTEx v8 gene table (GENCODE v26);
    - promoters: EPDnew human promoters, 300 bp (-249..+50 around the TSS; 7,579 genes) where
      available, else 60 bp (-49..+10; 7,481 genes); 3,181 genes have none;
    - transcript structure: Ensembl 110 canonical transcripts (5' UTR, exon, 3' UTR lengths,
      exon count).

    Returns
    -------
    AnnData ``(37 tissues, 18,241 genes)``:

    - ``X``: TPM, float32, no NaN.
    - ``var``: index Ensembl gene ID; ``gene_name``, ``chrom`` (``chr1``...), ``start``,
      ``end`` (0-based half-open, bp), ``strand``, ``tss`` (bp), ``gene_type``,
      ``promoter_seq`` (str, transcription orientation, upper case, ``""`` if none),
      ``promoter_seq_tss_index`` (the TSS's index in it: 249, 49 or -1), ``promoter_source``
      (``EPDnew_300bp`` / ``EPDnew_60bp`` / ``none``), ``promoter_id``, ``utr5_length``,
      ``exon_length``, ``utr3_length`` (bp), ``n_exons``.
    - ``uns['dataset']``: units, genome build and source credits.

    Examples
    --------
    >>> import geneimpute as ge
    >>> adata = ge.datasets.gtex_tissues()
    >>> adata.obs_names[:3].tolist()  # HPA tissue names
    ['adipose tissue', 'adrenal gland', 'amygdala']
    >>> int(adata["liver", "ENSG00000163631"].X[0, 0])  # ALB, in TPM
    24752
    """
    return read_bundled("gtex_tissues")


def gtex_donors() -> ad.AnnData:
    """GTEx v8 sample-level expression of 59 ACMG genes in 11,125 labelled samples.

    Real data, processed by ``scripts/build_datasets.py``: GTEx v8 RNA-SeQC read counts of the
    59 ACMG actionable genes (17,382 samples), with tissue labels joined from the GTEx v7 sample
    table (gtex-viz; 10,373 samples) and the UCSC Xena/Toil phenotype table (752 more) by
    :func:`geneimpute.pp.label_samples`; the 6,257 v8-only samples without a label are left
    out. 713 donors x 53 tissues, 29.4% of donor x tissue cells observed. A 59-gene panel has
    no meaningful library size, so ``X`` is log1p(count / median-of-ratios size factor)
    (:func:`geneimpute.pp.normalize_panel_counts`); raw counts are in ``layers['counts']``.

    Returns
    -------
    AnnData ``(11,125 samples, 59 genes)``: ``obs`` ``donor`` (``GTEX-XXXX``), ``tissue``
    (GTEx SMTSD name, e.g. ``Muscle - Skeletal``), ``sex``, ``age_bracket``, ``size_factor``,
    ``label_source``; ``var['gene_name']``; ``X`` float32; ``layers['counts']`` int32.
    Use :func:`geneimpute.pp.to_donor_layers` for donors x genes with one layer per tissue.

    Examples
    --------
    >>> import geneimpute as ge
    >>> long = ge.datasets.gtex_donors()
    >>> donors = ge.pp.to_donor_layers(long)
    >>> donors.shape
    (713, 59)
    """
    return read_bundled("gtex_donors")
