"""A premise: a condition without which a run could not have shown a claim's effect (a fair
stand-in, a converged method, a positive control, a sample that can decide), checked on the run,
per model where it was computed so (see :mod:`medadv_lib.verdicts.claims`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..metrics.uncertainty import Estimate

__all__ = ["Premise", "STAND_IN", "stand_in", "POSITIVE_CONTROL", "covers", "case_label"]

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
    #: The premise per model (or finer case), when it was computed so: ``((key, Premise), ...)``. A
    #: key is a model's name, or a tuple whose first item is the model and whose others name a case
    #: within it (``("Small", "pneumonia")``: Small's UAPs aimed at pneumonia); see :func:`covers`.
    cases: tuple = ()

    def record(self) -> dict:
        return {"name": self.name, "met": bool(self.met), "evidence": self.evidence}

    def met_cases(self) -> list:
        """The cases (models, or finer cases) that meet this premise, in order."""
        return [k for k, p in self.cases if p.met]

    def meets(self, key) -> bool:
        """Whether the case ``key`` meets this premise: the case itself, or, for a premise computed
        per model, the model of a finer case (:func:`covers`); False when no case covers it."""
        found = [p.met for k, p in self.cases if covers(k, key)]
        return bool(found) and all(found)

    def on(self, keys: Sequence) -> "Premise":
        """This premise restricted to the cases ``keys`` (the models, or finer cases, a claim is
        tested on): met when each of them is, its evidence naming the cases left out and why."""
        if not self.cases:
            return self
        inside = [any(covers(k, key) for key in keys) for k, _ in self.cases]
        kept = [case for case, keep in zip(self.cases, inside) if keep]
        out = [case for case, keep in zip(self.cases, inside) if not keep]
        evidence = "; ".join(f"{case_label(k)}: {p.evidence}" for k, p in kept)
        if out:
            evidence = (f"on {', '.join(case_label(k) for k, _ in kept)}: {evidence}; left out "
                        + "; ".join(f"{case_label(k)} ({p.evidence})" for k, p in out))
        return Premise(self.name, all(p.met for _, p in kept) and bool(kept), evidence, tuple(kept))

    @classmethod
    def all_of(cls, name: str, cases: Mapping[Any, "Premise"] | Sequence["Premise"]) -> "Premise":
        """One premise over several cases (every model, say): met when every case is met; the
        evidence lists each case (the unmet ones first). The cases are kept (:attr:`cases`, in the
        order given), so that a claim can be decided on the cases that meet it (:meth:`on`)."""
        items = list(cases.items()) if isinstance(cases, Mapping) else [(p.name, p) for p in cases]
        if not items:
            return cls(name, False, "no case to check")
        ordered = sorted(items, key=lambda kv: kv[1].met)
        return cls(name, all(p.met for _, p in items),
                   "; ".join(f"{case_label(k)}: {p.evidence}" for k, p in ordered), tuple(items))


def covers(case, key) -> bool:
    """A premise's ``case`` covers a claim's case ``key`` when they are the same, or when ``case``
    is a model and ``key`` a finer case of that model (``"Small"`` covers ``("Small", "pneumonia")``)."""
    return case == key or (isinstance(key, tuple) and not isinstance(case, tuple) and key[0] == case)


def case_label(key) -> str:
    """A case as the evidence names it: ``Small``, or ``Small / pneumonia`` for a finer case."""
    return " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)


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


