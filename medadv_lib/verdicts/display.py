"""What every chapter shows the same way: the data banner, the label of a cell the paper does not
print, and the checked claims (their table, the verdict counts and the record the book reads)."""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from .claims import VERDICTS, CheckedClaim, Outcome, count_verdicts
from .premises import Premise
from .records import CLAIMS_MIME, chapter_record

__all__ = ["data_banner", "above_chance", "NOT_PRINTED", "premises_table", "claims_frame", "format_claims",
           "counts_line", "claims_report"]


#: What a paper cell shows when the paper's text prints no number for it (never a guess).
NOT_PRINTED = "not printed"


def data_banner(*datasets, dataset: str = "synthetic") -> str:
    """Markdown stating where this page's numbers come from, and what they are not: the synthetic
    default, or a real dataset of :mod:`medadv_lib.data.registry` with its attribution."""
    from ..data.registry import attribution

    sources = list(dict.fromkeys(d.source for d in datasets))
    synthetic = any(d.is_synthetic for d in datasets)
    text = "**Data behind every number on this page:** " + "; ".join(sources) + "."
    if synthetic:
        text += (" Synthetic images are drawn by the library, not the paper's data: numbers on them "
                 "test whether the paper's *method and claims* carry over; they are not the paper's "
                 "results reproduced.")
        calibrations = list(dict.fromkeys(d.calibration for d in datasets if d.calibration))
        if calibrations:
            text += " Their difficulty: " + "; ".join(calibrations) + "."
    if dataset != "synthetic":
        text += ("\n\n" + attribution(dataset) + " Our numbers test whether the paper's claims hold on "
                 "these real images; they are not the paper's results reproduced.")
    return text


def above_chance(estimates: dict, chance: float, metric: str, chance_is: str = "") -> str:
    """Markdown: is each model clearly better than chance on this run's test split (the lower bound
    of its 95 % interval above ``chance``)? When one is not, the page says plainly that the claims
    reading that model cannot be tested on this run: their verdicts then measure a model that has
    not learned the task, not the paper's claim. ``estimates``: model name -> Estimate of ``metric``;
    ``chance_is`` says where the chance level comes from."""
    weak = [name for name, est in estimates.items() if not est.low > chance]
    shown = "; ".join(f"{name} {est.fmt(3)}" for name, est in estimates.items())
    level = f"chance level {chance:.3f}" + (f" ({chance_is})" if chance_is else "")
    if not weak:
        return f"**Better than chance:** every model ({metric}: {shown}; {level})."
    return (f"**Not clearly better than chance:** {', '.join(weak)} ({metric}: {shown}; {level}). The 95 % "
            f"interval reaches the chance level, so this run cannot test the paper's claims on "
            f"{'these models' if len(weak) > 1 else 'this model'}: read its verdicts below as a check of the "
            f"pipeline on this data, not as evidence for or against the paper.")


def _premises_cell(outcome: Outcome) -> str:
    unmet = [p for p in outcome.premises if not p.met]
    if unmet:
        return "not met: " + "; ".join(f"{p.name} ({p.evidence})" for p in unmet)
    return "met: " + ", ".join(p.name for p in outcome.premises) if outcome.premises else ""


def _control_cell(outcome: Outcome) -> str:
    control = outcome.control
    if control is None:
        return ""
    return f"{'met' if control.met else 'not met'}: {control.evidence}"


def premises_table(premises: Mapping[str, Premise]):
    """The premises of a run as a table (premise, met, evidence), the unmet first, for the page."""
    import pandas as pd

    rows = sorted(premises.values(), key=lambda p: p.met)
    return pd.DataFrame([{"premise": p.name, "met": "yes" if p.met else "NO", "evidence": p.evidence}
                         for p in rows]).set_index("premise")


def claims_frame(checked: Iterable[CheckedClaim], published: Mapping | None = None):
    """One row per claim, the verdict first (next to the claim, never past a horizontal scroll):
    verdict, claim, where, the paper's evidence and numbers, ours, and the premises (the failed
    one named)."""
    import pandas as pd

    return pd.DataFrame([{"verdict (ours)": c.label, "kind": c.claim.kind, "claim": c.claim.text,
                          "where in the paper": c.claim.where,
                          "paper's evidence": c.claim.paper_evidence,
                          "paper's numbers": c.claim.paper_verdict(published),
                          "our evidence": c.outcome.evidence, "premises": _premises_cell(c.outcome),
                          "positive control": _control_cell(c.outcome)}
                         for c in checked])


def format_claims(checked: Iterable[CheckedClaim]) -> str:
    """Plain text for nbval-checked cells: verdict, claim and the evidence numbers behind it."""
    return "\n".join(f"[{c.label}] {c.claim.id}: {c.outcome.evidence}" for c in checked)


def counts_line(counts: Mapping[str, int]) -> str:
    """``3 holds, 2 not reproduced at this scale, 1 cannot be tested`` (kinds in :data:`VERDICTS` order)."""
    return ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts.get(v))


def claims_report(checked: Sequence[CheckedClaim], chapter: str, run: str = "synthetic",
                  published: Mapping | None = None, headline: str = "", preset: str = ""):
    """Display the verdict counts and the claims table in a notebook and emit the machine-readable
    record (mime type :data:`CLAIMS_MIME`) from which ``medadv book`` builds the scoreboard page
    and the intro's summary. ``headline``: the run's main result in one line (with its data and
    n), for the intro; ``preset``: the run's preset, named on the page and in every record."""
    from IPython.display import Markdown, display

    frame = claims_frame(checked, published)
    counts = count_verdicts(checked)
    records = [c.record(chapter, run, published, preset) for c in checked]
    fidelity = checked[0].fidelity.label if checked and checked[0].fidelity else "unknown"
    display(Markdown(f"**{len(records)} claims, preset `{preset or 'unknown'}`, fidelity {fidelity}:** "
                     f"{counts_line(counts)}."))
    display({CLAIMS_MIME: chapter_record(chapter, run, headline, preset, fidelity,
                                         {v: counts[v] for v in VERDICTS}, records),
             "text/plain": f"{len(records)} claims checked: {counts_line(counts)}"}, raw=True)
    return frame
