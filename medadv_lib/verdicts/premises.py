"""A premise: a condition without which a run could not have shown a claim's effect (a fair
stand-in, a converged method, a positive control, a sample that can decide), checked on the run,
per model where it was computed so (see :mod:`medadv_lib.verdicts.claims`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from ..metrics.uncertainty import Estimate

__all__ = ["Premise", "STAND_IN", "stand_in", "POSITIVE_CONTROL"]

#: The premise name of a chapter's positive control: the effect shown on this model and this
#: measurement by a stronger attack at the same budget (or, for a backdoor, the implanted trigger).
POSITIVE_CONTROL = "the positive control shows the effect"


@dataclass(frozen=True)
class Premise:
    """One premise a claim's test needs, checked on this run, with the evidence behind the check
    (e.g. ``Premise("fair stand-in", False, "test accuracy 56.0 [50.3, 61.5] % (n = 300) < 85 %")``)."""

    name: str
    met: bool
    evidence: str
    #: The premise per model (or other case), when it was computed so: ``((model, Premise), ...)``.
    cases: tuple = ()

    def record(self) -> dict:
        return {"name": self.name, "met": bool(self.met), "evidence": self.evidence}

    def met_cases(self) -> list[str]:
        """The cases (models) that meet this premise, in order."""
        return [k for k, p in self.cases if p.met]

    def on(self, keys: Sequence[str]) -> "Premise":
        """This premise restricted to the cases ``keys`` (the models a claim is tested on): met when
        each of them is, its evidence naming the cases left out and why."""
        if not self.cases:
            return self
        kept = [(k, p) for k, p in self.cases if k in keys]
        out = [(k, p) for k, p in self.cases if k not in keys]
        evidence = "; ".join(f"{k}: {p.evidence}" for k, p in kept)
        if out:
            evidence = (f"on {', '.join(k for k, _ in kept)}: {evidence}; left out "
                        + "; ".join(f"{k} ({p.evidence})" for k, p in out))
        return Premise(self.name, all(p.met for _, p in kept) and bool(kept), evidence, tuple(kept))

    @classmethod
    def all_of(cls, name: str, cases: Mapping[str, "Premise"] | Sequence["Premise"]) -> "Premise":
        """One premise over several cases (every model, say): met when every case is met; the
        evidence lists each case (the unmet ones first). The cases are kept (:attr:`cases`, in the
        order given), so that a claim can be decided on the cases that meet it (:meth:`on`)."""
        items = list(cases.items()) if isinstance(cases, Mapping) else [(p.name, p) for p in cases]
        if not items:
            return cls(name, False, "no case to check")
        ordered = sorted(items, key=lambda kv: kv[1].met)
        return cls(name, all(p.met for _, p in items), "; ".join(f"{k}: {p.evidence}" for k, p in ordered),
                   tuple(items))


#: The premise every chapter names for its models (see :func:`stand_in`).
STAND_IN = "fair stand-in"


def stand_in(estimates: Mapping[str, Estimate], minimum: float, metric: str, paper: str) -> Premise:
    """The models are fair stand-ins for the paper's: the lower bound of every model's 95 %
    interval of ``metric`` is at least ``minimum`` (the chapter says why that minimum); ``paper``:
    the paper's own value, shown beside ours."""
    cases = {m: Premise(STAND_IN, bool(est.low >= minimum), f"{metric} {est.fmt()} (n = {est.n})"
                        + ("" if est.low >= minimum else f", lower bound below {minimum:g}"))
             for m, est in estimates.items()}
    p = Premise.all_of(STAND_IN, cases)
    return Premise(STAND_IN, p.met, f"{p.evidence}; needs a lower bound >= {minimum:g} (the paper: {paper})", p.cases)


