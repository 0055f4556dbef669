"""The papers' claims as data, tested against a chapter's result tables, with honest verdicts.

A :class:`Claim` holds the claim in plain words, where the paper makes it, the paper's own
numbers for it, and ``test``: a function of the chapter's results (a mapping of tables and
:class:`~medadv_lib.metrics.uncertainty.Estimate`) that returns an :class:`Outcome`. Each paper
keeps its claims in its own place (``medadv_lib.papers.<paper>.claims``); this module is what they
share: the verdicts, the interval rules that decide them, the table a chapter shows and the record
the book's scoreboard is built from.

Verdicts:

* ``holds``: our 95 % interval lies entirely on the claim's side of its threshold;
* ``does not hold``: the interval lies entirely on the other side;
* ``inconclusive at n = ...``: the interval straddles the threshold: our sample cannot decide;
* ``cannot be tested``: this run lacks what the claim needs (the reason is given).

A claim over several cases (every model, every norm) holds when every case holds, does not hold
when any case does not hold, and is inconclusive otherwise.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

from .metrics.uncertainty import Estimate

__all__ = ["HOLDS", "FAILS", "INCONCLUSIVE", "UNTESTED", "Outcome", "Claim", "CheckedClaim",
           "check_claims", "verdict_above", "verdict_below", "combine", "claims_frame",
           "format_claims", "claims_report", "CLAIMS_MIME", "count_verdicts", "NOT_FROM_A_PAPER"]

HOLDS, FAILS, INCONCLUSIVE, UNTESTED = "holds", "does not hold", "inconclusive", "cannot be tested"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, UNTESTED)
#: The mime type under which a chapter emits its checked claims (read back by the book's scoreboard).
CLAIMS_MIME = "application/vnd.medadv.claims+json"
#: The "paper's numbers" verdict of a check that no paper makes.
NOT_FROM_A_PAPER = "not a paper's claim"


@dataclass(frozen=True)
class Outcome:
    """The verdict of one claim on one run, the evidence behind it and how many images decided it."""

    verdict: str
    evidence: str
    n: int | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @property
    def label(self) -> str:
        """The verdict as the chapter prints it: ``inconclusive at n = 12``."""
        if self.verdict == INCONCLUSIVE and self.n is not None:
            return f"{INCONCLUSIVE} at n = {self.n}"
        return self.verdict

    @classmethod
    def untested(cls, why: str) -> "Outcome":
        return cls(UNTESTED, why)


def _from_flag(flag: bool | None) -> str:
    return {True: HOLDS, False: FAILS, None: INCONCLUSIVE}[flag]


def verdict_above(estimate: Estimate, threshold: float, evidence: str | None = None) -> Outcome:
    """``holds`` when the whole interval of ``estimate`` is above ``threshold``."""
    return Outcome(_from_flag(estimate.above(threshold)),
                   evidence if evidence is not None else f"{estimate.fmt()} vs {threshold:g}", estimate.n)


def verdict_below(estimate: Estimate, threshold: float, evidence: str | None = None) -> Outcome:
    """``holds`` when the whole interval of ``estimate`` is below ``threshold``."""
    return Outcome(_from_flag(estimate.below(threshold)),
                   evidence if evidence is not None else f"{estimate.fmt()} vs {threshold:g}", estimate.n)


def combine(outcomes: Mapping[str, Outcome] | Sequence[Outcome], evidence: str | None = None) -> Outcome:
    """A claim over several cases: holds if all hold, does not hold if any does not, else
    inconclusive (at the smallest n); cannot be tested if any case cannot."""
    items = list(outcomes.items()) if isinstance(outcomes, Mapping) else [(None, o) for o in outcomes]
    if not items:
        return Outcome.untested("no case to test")
    verdicts = [o.verdict for _, o in items]
    if UNTESTED in verdicts:
        verdict = UNTESTED
    elif FAILS in verdicts:
        verdict = FAILS
    elif INCONCLUSIVE in verdicts:
        verdict = INCONCLUSIVE
    else:
        verdict = HOLDS
    ns = [o.n for _, o in items if o.n is not None]
    if evidence is None:
        evidence = "; ".join(f"{k}: {o.evidence}" if k is not None else o.evidence for k, o in items)
    return Outcome(verdict, evidence, min(ns) if ns else None)


@dataclass(frozen=True)
class Claim:
    """One claim of a paper.

    ``test(results)`` returns the :class:`Outcome` on a run's results; ``thresholds`` names every
    number the test uses beyond the paper's own (so a reader sees what "far above" meant).
    ``paper_check(published)``, when given, applies the same reading to the paper's printed
    numbers (point values, no intervals) and returns True/False.
    """

    id: str
    text: str
    where: str
    paper_evidence: str
    test: Callable[[Mapping], Outcome]
    thresholds: Mapping[str, float] = field(default_factory=dict)
    paper_check: Callable[[Mapping], bool] | None = None
    #: False for a chapter's own sanity checks (the robustness matrix): no paper makes them.
    from_paper: bool = True

    def check(self, results: Mapping) -> "CheckedClaim":
        outcome = self.test(results)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"claim {self.id}: test returned {type(outcome).__name__}, not an Outcome")
        return CheckedClaim(self, outcome)

    def paper_verdict(self, published: Mapping | None) -> str:
        """``holds`` / ``does not hold`` on the paper's own printed numbers, or ``stated`` when the
        paper prints no number that decides it."""
        if not self.from_paper:
            return NOT_FROM_A_PAPER
        if self.paper_check is None or published is None:
            return "stated"
        return HOLDS if self.paper_check(published) else FAILS


@dataclass(frozen=True)
class CheckedClaim:
    claim: Claim
    outcome: Outcome

    @property
    def verdict(self) -> str:
        return self.outcome.verdict

    def record(self, chapter: str, run: str, published: Mapping | None = None) -> dict:
        """The JSON record the book's scoreboard reads."""
        c = self.claim
        return {"id": c.id, "chapter": chapter, "run": run, "claim": c.text, "where": c.where,
                "paper_evidence": c.paper_evidence, "paper_verdict": c.paper_verdict(published),
                "thresholds": dict(c.thresholds), "verdict": self.outcome.verdict,
                "label": self.outcome.label, "evidence": self.outcome.evidence, "n": self.outcome.n}


def check_claims(claims: Iterable[Claim], results: Mapping) -> list[CheckedClaim]:
    """Apply every claim's test to ``results`` (ids must be unique)."""
    claims = list(claims)
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate claim ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    return [c.check(results) for c in claims]


def count_verdicts(checked: Iterable[CheckedClaim]) -> dict[str, int]:
    counts = {v: 0 for v in VERDICTS}
    for c in checked:
        counts[c.verdict] += 1
    return counts


def claims_frame(checked: Iterable[CheckedClaim], published: Mapping | None = None):
    """One row per claim: claim, where, the paper's evidence, ours, and the verdicts."""
    import pandas as pd

    return pd.DataFrame([{"claim": c.claim.text, "where in the paper": c.claim.where,
                          "paper's evidence": c.claim.paper_evidence,
                          "paper's numbers": c.claim.paper_verdict(published),
                          "our evidence": c.outcome.evidence, "verdict (ours)": c.outcome.label}
                         for c in checked])


def format_claims(checked: Iterable[CheckedClaim]) -> str:
    """Plain text for nbval-checked cells: verdict, claim and the evidence numbers behind it."""
    return "\n".join(f"[{c.outcome.label}] {c.claim.id}: {c.outcome.evidence}" for c in checked)


def claims_report(checked: Sequence[CheckedClaim], chapter: str, run: str = "synthetic",
                  published: Mapping | None = None, headline: str = ""):
    """Display the claims table in a notebook and emit the machine-readable record (mime type
    :data:`CLAIMS_MIME`) from which ``medadv book`` builds the scoreboard page and the intro's
    summary. ``headline``: the run's main result in one line (with its data and n), for the intro."""
    from IPython.display import display

    frame = claims_frame(checked, published)
    counts = count_verdicts(checked)
    records = [c.record(chapter, run, published) for c in checked]
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    display({CLAIMS_MIME: {"chapter": chapter, "run": run, "headline": headline, "claims": records},
             "text/plain": f"{len(records)} claims checked: {summary}"}, raw=True)
    return frame


def read_claims_outputs(notebook) -> list[dict]:
    """The claim records a notebook (an ``nbformat`` node) emitted, in order."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            if CLAIMS_MIME in data:
                payload = data[CLAIMS_MIME]
                found.append(json.loads(payload) if isinstance(payload, str) else payload)
    return found
