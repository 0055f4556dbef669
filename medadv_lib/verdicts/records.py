"""The machine-readable record of a chapter's checked claims: one declared type, written here by the
notebook (:func:`claim_record`, :func:`chapter_record`, under its own mime type :data:`CLAIMS_MIME`)
and read back here (:func:`read_claims_outputs`) by the book (scoreboard, summary) and by
replication across seeds.

The records are JSON in the executed notebooks, so they are :class:`~typing.TypedDict` types: a
reader indexes them as the JSON they are, and a record that lacks a declared field is refused when it
is read, naming the field, rather than failing later in a page."""

import json
from typing import Any, Mapping, NotRequired, Optional, TypedDict

__all__ = ["CLAIMS_MIME", "PremiseRecord", "ClaimRecord", "ChapterRecord", "RecordError", "claim_record",
           "chapter_record", "read_claims_outputs"]

#: The mime type under which a chapter emits its checked claims (read back by the book's scoreboard).
CLAIMS_MIME = "application/vnd.medadv.claims+json"


class RecordError(ValueError):
    """A claims record that lacks a declared field (an old or foreign notebook)."""


class PremiseRecord(TypedDict):
    name: str
    met: bool
    evidence: str


class ClaimRecord(TypedDict):
    """One checked claim of one run."""

    id: str
    chapter: str
    run: str                    # "synthetic" or the real dataset's name
    claim: str                  # the claim in plain words
    where: str                  # where the paper makes it
    paper_evidence: str
    paper_verdict: str          # the paper's own numbers against the thresholds
    thresholds: dict
    verdict: str                # one of medadv_lib.verdicts.VERDICTS
    label: str                  # the verdict as shown (with n for an inconclusive one)
    evidence: str               # our numbers behind it
    n: Optional[int]
    premises: list              # [PremiseRecord, ...]
    # added as the collection grew: a reader takes a default when an older record lacks them
    preset: NotRequired[str]
    fidelity: NotRequired[str]  # "paper" or "reduced: what differs"
    kind: NotRequired[str]      # level or comparison (issue 29)
    seeds: NotRequired[int]     # training seeds behind the verdict (issue 29)
    control: NotRequired[Optional[PremiseRecord]]


class ChapterRecord(TypedDict):
    """What one notebook emits: its run, its headline and every checked claim."""

    chapter: str
    run: str
    headline: str
    claims: list                # [ClaimRecord, ...]
    preset: NotRequired[str]
    fidelity: NotRequired[str]
    counts: NotRequired[dict]   # verdict -> number of claims


def claim_record(checked: Any, chapter: str, run: str, published: Mapping | None = None,
                 preset: str = "") -> ClaimRecord:
    """The record of one checked claim, a :class:`~medadv_lib.verdicts.claims.CheckedClaim` (it needs
    the run's fidelity; typed loosely so that the record's module imports nothing of the claims')."""
    if checked.fidelity is None:
        raise ValueError(f"claim {checked.claim.id}: a record needs the run's fidelity (check_claims(..., fidelity=))")
    c, outcome = checked.claim, checked.outcome
    return ClaimRecord(id=c.id, chapter=chapter, run=run, claim=c.text, where=c.where,
                       paper_evidence=c.paper_evidence, paper_verdict=c.paper_verdict(published),
                       thresholds=dict(c.thresholds), verdict=outcome.verdict, label=outcome.label,
                       evidence=outcome.evidence, n=outcome.n, premises=[p.record() for p in outcome.premises],
                       preset=preset, fidelity=checked.fidelity.label, kind=c.kind, seeds=checked.seeds,
                       control=outcome.control.record() if outcome.control is not None else None)


def chapter_record(chapter: str, run: str, headline: str, preset: str, fidelity: str, counts: Mapping[str, int],
                   claims: list[ClaimRecord]) -> ChapterRecord:
    return ChapterRecord(chapter=chapter, run=run, headline=headline, preset=preset, fidelity=fidelity,
                         counts=dict(counts), claims=list(claims))


def _checked(record: Mapping, kind: type, where: str) -> dict:
    missing = [name for name in kind.__annotations__ if name in kind.__required_keys__ and name not in record]
    if missing:
        raise RecordError(f"{where}: the claims record lacks {', '.join(missing)} (made by an older medadv? "
                          f"re-run the notebook)")
    return dict(record)


def read_claims_outputs(notebook, where: str = "notebook") -> list[ChapterRecord]:
    """The chapter records a notebook (an ``nbformat`` node) emitted, in order, each checked against
    its declared fields (``where``: the notebook's name, for the error)."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            if CLAIMS_MIME in data:
                payload = data[CLAIMS_MIME]
                block = _checked(json.loads(payload) if isinstance(payload, str) else payload, ChapterRecord, where)
                block["claims"] = [_checked(r, ClaimRecord, f"{where}, claim {r.get('id', '?')}")
                                   for r in block["claims"]]
                found.append(block)
    return found
