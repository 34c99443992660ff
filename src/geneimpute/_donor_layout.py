"""Reader of the donor-layer layout of :func:`geneimpute.pp.to_donor_layers` (for pp and tl)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anndata import AnnData

#: ``uns`` key of the donor-layer layout.
LAYOUT_KEY = "donor_layout"


def donor_layout(dadata: AnnData) -> dict[str, Any]:
    """``dadata.uns["donor_layout"]``; KeyError if missing or naming a tissue with no layer."""
    if LAYOUT_KEY not in dadata.uns:
        msg = (
            f"not a donor-layer AnnData: uns[{LAYOUT_KEY!r}] is missing "
            "(build one with geneimpute.pp.to_donor_layers)"
        )
        raise KeyError(msg)
    lay = dadata.uns[LAYOUT_KEY]
    if "tissues" not in lay:
        msg = f"uns[{LAYOUT_KEY!r}] has no 'tissues' entry (build it with pp.to_donor_layers)"
        raise KeyError(msg)
    if missing := [str(t) for t in lay["tissues"] if str(t) not in dadata.layers]:
        msg = (
            f"uns[{LAYOUT_KEY!r}] lists {len(missing)} tissues without a layer, e.g. "
            f"{missing[:3]}; layers present: {sorted(dadata.layers)[:5]}"
        )
        raise KeyError(msg)
    return lay
