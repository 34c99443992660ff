"""The hybrid: promoter CNN + neighbour transformer + tissue correlations + XGBoost."""
