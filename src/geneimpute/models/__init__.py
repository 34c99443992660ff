"""Models on arrays (no AnnData): torch networks, the hybrid estimator."""

from ._donor import DonorHybrid, DonorTransformer, KNNDonor, TEEBoT, TissueMean
from ._hybrid import GeneInputs, HybridConfig, HybridImputer, idw_profiles, idw_weights
from ._networks import HybridNet, NeighborTransformer, PromoterCNN

__all__ = [
    "DonorHybrid",
    "DonorTransformer",
    "KNNDonor",
    "TEEBoT",
    "TissueMean",
    "GeneInputs",
    "HybridConfig",
    "HybridImputer",
    "HybridNet",
    "NeighborTransformer",
    "PromoterCNN",
    "idw_profiles",
    "idw_weights",
]
