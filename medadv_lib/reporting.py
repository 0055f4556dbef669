"""What every chapter shows the same way: the data banner and the label of a cell the paper does not print
(the claims are in :mod:`medadv_lib.claims`)."""
from __future__ import annotations

__all__ = ["data_banner", "NOT_PRINTED"]


#: What a paper cell shows when the paper's text prints no number for it (never a guess).
NOT_PRINTED = "not printed"


def data_banner(*datasets, dataset: str = "synthetic") -> str:
    """Markdown stating where this page's numbers come from, and what they are not: the synthetic
    default, or a real dataset of :mod:`medadv_lib.data.registry` with its attribution."""
    from .data.registry import attribution

    sources = list(dict.fromkeys(d.source for d in datasets))
    synthetic = any(d.is_synthetic for d in datasets)
    text = "**Data behind every number on this page:** " + "; ".join(sources) + "."
    if synthetic:
        text += (" Synthetic images are drawn by the library, not the paper's data: numbers on them "
                 "test whether the paper's *method and claims* carry over; they are not the paper's "
                 "results reproduced.")
    if dataset != "synthetic":
        text += ("\n\n" + attribution(dataset) + " Our numbers test whether the paper's claims hold on "
                 "these real images; they are not the paper's results reproduced.")
    return text
