"""Sample-level expression with regulator annotations (TCGA cohorts, GTEx subset)."""

from __future__ import annotations

import anndata as ad

from ._gtex import read_bundled


def tcga_cohorts() -> ad.AnnData:
    """TCGA RNA-seq of 602 tumour / adjacent-normal pairs in 11 cancer types, 3,960 genes.

    Real data, processed by ``scripts/build_regulator_datasets.py`` from the 11 paired TCGA
    open-access matrices shipped with the R package MetaGSCA (Guo et al., PLoS Comput Biol
    2021, doi:10.1371/journal.pcbi.1008976; github ``Haocan223/MetaGSCA``, GPL >= 2): per donor
    one primary tumour (sample type ``01``) and one adjacent normal (``11``); BRCA 113 donors,
    COAD 40, HNSC 43, KIRC 72, KIRP 32, LIHC 50, LUAD 58, LUSC 51, PRAD 52, STAD 32, THCA 59.

    Cohorts list slightly different genes (3,686-3,931 each; 3,556 in all 11): a gene a cohort
    lacks is NaN in all its samples (4.08% of ``X``). The COAD and STAD matrices also hold 2,948
    scattered NaN (0.06%, mostly lowly expressed genes), kept: 4.15% of ``X`` is NaN in all.

    Regulators: ``"RBP/SF"`` for the 221 genes among the 1,350 RNA-binding proteins / splicing
    factors of Sebestyen et al. (Genome Res 2016, preprint doi:10.1101/023010; list from github
    ``lvalcarcel/DeepRBP``), else ``"TF"`` for the 401 further genes among SEPIRA's 1,385 MSigDB
    transcription factors (``TFeid``; the 27 in both lists are ``"RBP/SF"``), else ``""``.
    Symbols map to Entrez and Ensembl IDs with org.Hs.eg.db 3.16; 62 older ones (e.g. ``AARS``,
    ``HIST1H4A``, ``SEPT2``) through the GTEx v8 (GENCODE v26) gene table.

    Returns
    -------
    AnnData ``(1,204 samples, 3,960 genes)``:

    - ``X``: log2-scale normalised RNA-seq as given by MetaGSCA (about -11 to 23; float32,
      rounded to 3 decimals, the source has 2); NaN where missing (see above).
    - ``obs``: index full TCGA barcode with dashes (``TCGA-A7-A0CE-01A-11R-A00Z-07``);
      ``cohort`` (category, 11 TCGA codes), ``sample_type`` (category ``tumour`` / ``normal``),
      ``donor`` (12-character barcode, ``TCGA-A7-A0CE``).
    - ``var``: index gene symbol as given; ``gene_symbol``, ``ensembl_id``, ``entrez_id`` (str,
      ``""`` where unmapped; ``ensembl_id`` loads as a category: CCL3L1 and CCL3L3 share one),
      ``regulator_type`` (category ``RBP/SF`` / ``TF`` / ``""``), ``n_cohorts_measured`` (1-11).
    - ``uns['dataset']``: name, source, units, licence, build command and counts.

    Examples
    --------
    >>> import geneimpute as ge
    >>> tcga = ge.datasets.tcga_cohorts()
    >>> int((tcga.var["regulator_type"] == "RBP/SF").sum())
    221
    >>> tcga.obs.loc[tcga.obs["donor"] == "TCGA-A7-A0CE", "sample_type"].tolist()  # a pair
    ['tumour', 'normal']
    >>> tcga.var.loc["ALB", "ensembl_id"]  # joins the var_names of gtex_tissues()
    'ENSG00000163631'
    """
    return read_bundled("tcga_cohorts")


def gtex_tf_samples() -> ad.AnnData:
    """GTEx RNA-seq of 467 genes in 520 samples (20 from each of 26 tissues), with TF labels.

    Real data, processed by ``scripts/build_regulator_datasets.py`` from the ``GeneExp`` matrix
    shipped with the R package SEPIRA (Chen, Widschwendter & Teschendorff, Genome Biol 2017,
    doi:10.1186/s13059-017-1366-0; github ``YC3/SEPIRA``, GPL-3): 20 random open-access GTEx
    samples of each tissue type. SEPIRA gives genes as Entrez IDs and samples only by tissue,
    without GTEx sample or donor IDs: ``donor`` is ``""`` (unknown), and samples of different
    tissues may share donors.

    85 of the 467 genes are among SEPIRA's 1,385 MSigDB transcription factors (``TFeid``);
    one of them (HMGB3) is also in the RBP / splicing-factor list of Sebestyen et al. (Genome
    Res 2016, preprint doi:10.1101/023010): ``regulator_type`` counts 84 ``"TF"``, 21 ``"RBP/SF"``.

    SEPIRA does not document the scale; the values (0 to 12.8, median 0.49, 21% zeros; SFTPC
    in lung about 9.4) look log-scaled already and are kept as given in ``X`` (no further log).

    Returns
    -------
    AnnData ``(520 samples, 467 genes)``:

    - ``X``: the values as given by SEPIRA (float32; see above), no NaN.
    - ``obs``: index ``GTEx_<tissue>_<k>`` (k = 1..20, spaces in the tissue replaced by
      ``_``); ``tissue`` (category, 26 GTEx tissue types, e.g. ``Adipose Tissue``, ``Lung``),
      ``sample_type`` (``normal tissue``), ``donor`` (``""``, unknown).
    - ``var``: index gene symbol (org.Hs.eg.db 3.16; all 467 Entrez IDs map); ``entrez_id``,
      ``gene_symbol``, ``ensembl_id`` (str values, ``""`` for 3 genes without one; loads as
      a category), ``regulator_type`` (category ``RBP/SF`` / ``TF`` / ``""``).
    - ``uns['dataset']``: name, source, units, licence, build command and counts.

    Examples
    --------
    >>> import geneimpute as ge
    >>> gtex = ge.datasets.gtex_tf_samples()
    >>> gtex.obs["tissue"].cat.categories[:3].tolist()  # GTEx tissue types, not SMTSD names
    ['Adipose Tissue', 'Adrenal Gland', 'Blood']
    >>> int((gtex.var["regulator_type"] == "TF").sum())
    84
    >>> round(float(gtex.X.max()), 1)  # the scale as given (see above)
    12.8
    """
    return read_bundled("gtex_tf_samples")
