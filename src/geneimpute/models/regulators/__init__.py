"""Regulator-driven imputation (the DeepSF design with a context ridge)."""
