"""Donor x tissue completion models (HYFA's task): baselines and the donor hybrid."""
