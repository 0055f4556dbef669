"""What every chapter shows the same way: the data banner, paper-beside-ours tables, claims."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import pandas as pd

__all__ = ["Claim", "claims_table", "side_by_side", "data_banner", "format_claims", "NOT_PRINTED"]


@dataclass(frozen=True)
class Claim:
    """A claim of the paper checked against our numbers."""

    text: str
    holds: bool | None          # None: cannot be checked with this run (say why in evidence)
    evidence: str

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "not checked"}[self.holds]


def claims_table(claims: Iterable[Claim]) -> pd.DataFrame:
    return pd.DataFrame([{"claim": c.text, "verdict": c.verdict, "our evidence": c.evidence}
                         for c in claims])


def format_claims(claims: Iterable[Claim]) -> str:
    """Plain-text verdicts, one per line (stable: for nbval-checked cells)."""
    return "\n".join(f"[{c.verdict}] {c.text}" for c in claims)


#: What a paper cell shows when the paper's text prints no number for it (never a guess).
NOT_PRINTED = "not printed"


def side_by_side(paper: pd.DataFrame, ours: pd.DataFrame, paper_label: str = "paper",
                 ours_label: str = "ours") -> pd.DataFrame:
    """One table with the paper's values and ours in adjacent columns (same rows, same columns).

    A paper cell the paper's text does not print (missing or NaN) reads :data:`NOT_PRINTED`."""
    ours = ours.reindex(index=paper.index.union(ours.index, sort=False))
    paper = paper.reindex(index=ours.index)
    cols = list(dict.fromkeys(list(paper.columns) + list(ours.columns)))
    pieces = {}
    for col in cols:
        theirs = paper[col] if col in paper else pd.Series(index=paper.index, dtype=object)
        pieces[(col, paper_label)] = theirs.astype(object).where(theirs.notna(), NOT_PRINTED)
        pieces[(col, ours_label)] = ours[col] if col in ours else pd.Series(index=ours.index, dtype=object)
    return pd.DataFrame(pieces)


def data_banner(*datasets, dataset: str = "synthetic") -> str:
    """Markdown stating where this page's numbers come from, and what they are not: the synthetic
    default, or a real dataset of :mod:`medadv_lib.data.registry` with its attribution."""
    from .data.registry import attribution

    sources = list(dict.fromkeys(d.source for d in datasets))
    synthetic = any(d.is_synthetic for d in datasets)
    text = "**Data behind every number on this page:** " + "; ".join(sources) + "."
    if synthetic:
        text += (" These are synthetic images drawn by the library, not the paper's data: our "
                 "numbers test whether the paper's *method and claims* carry over; they are not "
                 "the paper's results reproduced.")
    elif dataset != "synthetic":
        text += ("\n\n" + attribution(dataset) + " Our numbers test whether the paper's claims hold on "
                 "these real images; they are not the paper's results reproduced.")
    return text
