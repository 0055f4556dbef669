"""What every chapter shows the same way: the data banner and the label of a cell the paper does not print
(the claims are in :mod:`medadv_lib.claims`)."""
from __future__ import annotations

__all__ = ["data_banner", "above_chance", "NOT_PRINTED"]


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
