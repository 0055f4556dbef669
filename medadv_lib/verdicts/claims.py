"""The papers' claims as data, tested against a chapter's result tables, with honest verdicts.

A :class:`Claim` holds the claim in plain words, where the paper makes it, the paper's own
numbers for it, and ``test``: a function of the chapter's results (the chapter's results
dataclass, e.g. ``UAPResults``, whose tables and :class:`~medadv_lib.metrics.uncertainty.Estimate`
fields it reads) that returns an :class:`Outcome`. Each paper keeps its claims in its own place
(``medadv_lib.papers.<paper>.claims``); this module is what they share: the verdicts and the
interval rules that decide them (the premises, the power of a sample, the record and the table a
chapter shows are their own modules of :mod:`medadv_lib.verdicts`).

Verdicts:

* ``holds``: our 95 % interval lies entirely on the claim's side of its threshold;
* ``does not hold``: the interval lies entirely on the other side, on a run at the paper's
  fidelity (the ``paper`` preset on the paper's kind of data);
* ``not reproduced at this scale``: the same, on a run below the paper's fidelity, with one line of
  what differs (resolution, model width, images, iterations): a smaller experiment that did not
  show the effect is no evidence against the paper;
* ``inconclusive at n = ...``: the interval straddles the threshold: our sample cannot decide;
* ``cannot be tested``: a premise of the test is not met (the model is no fair stand-in for the
  paper's, the attack did nothing, the method did not converge, the sample is too small to decide
  the threshold) or the run lacks what the claim needs; the failed premise and its evidence are
  given.

A claim over several cases (every model, every norm) holds when every case holds, does not hold
when any case does not hold, and is inconclusive otherwise.

**Premises.** A :class:`Claim` names the premises its test needs (``premises``); the chapter
computes each as a :class:`Premise` (name, met, evidence) from its results and passes them to
:func:`check_claims`. A claim with an unmet premise is never decided. **Power.** A threshold on a
rate (Wilson interval) is decided only when the sample could have given either answer: with
``n`` images, all of them on one side must put the interval past the threshold, and none of them
must put it on the other side (:func:`decidable_n`); otherwise the verdict is *cannot be tested:
n = 12 cannot decide a bound below 10 %*, unless the whole interval already lies on the side
that rejects the claim (46 [29, 65] % of 26 images against "below 10 %"): the data reject it,
whatever n could have shown, and the claim does not hold. Two rules hold for every record (checked on
construction): an unmet premise gives ``cannot be tested``; a paper's claim says ``does not hold``
only at fidelity ``paper``.

**Kinds (issue 29: a premise fails only when the run could not have shown the effect).** A claim
on the *level* of an effect ("R_f > 85 %", "far above random") needs a fair stand-in, a method
that converged and a sample that can decide; a weak attack is then the finding, never silence. Its
chapter's positive control (:data:`POSITIVE_CONTROL`: a stronger attack at the same budget, the
implanted trigger) does not gate it but says what the finding means: met, the attack falls short
of what this model allows; not met, the model resists at this budget. A claim that *compares*
attack results ("R_f grows with zeta", "p = 2 and p = inf differ by 7 points at most") also needs
the attacks to have done something: a difference between two results of an attack that did
nothing is noise. :func:`audit` checks the rule on a chapter's claims and tabulates it for the page.
**Per model.** A premise computed per model (:meth:`Premise.all_of`, keeping its cases) lets a
claim of scope :data:`EACH` be decided on the models that meet it, its evidence naming the others
and why; it reads *cannot be tested* only when no model qualifies. A premise may be computed per
finer case of a model (the UAPs aimed at one target: ``("Small", "pneumonia")``); a claim naming it
is then decided on the cases that meet it and the per-model premises, the others named (a
targeted UAP that did nothing silences the comparisons of that target only). A claim of scope :data:`ALL`
(one that compares the models with each other) needs every model. **Seeds.** Every verdict says
how many training seeds it rests on (``check_claims(..., seeds=)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..metrics.uncertainty import Estimate
from .power import power_premise
from .premises import POSITIVE_CONTROL, Premise, case_label
from .records import ClaimRecord, claim_record

__all__ = ["HOLDS", "FAILS", "NOT_REPRODUCED", "INCONCLUSIVE", "UNTESTED", "VERDICTS", "Outcome", "Claim",
           "CheckedClaim", "Fidelity", "PAPER_FIDELITY", "check_claims", "verdict_above", "verdict_below",
           "combine", "count_verdicts", "NOT_FROM_A_PAPER", "LEVEL", "COMPARISON", "KINDS", "EACH", "ALL",
           "SCOPES", "audit", "undecidable_claims"]

HOLDS, FAILS, INCONCLUSIVE, UNTESTED = "holds", "does not hold", "inconclusive", "cannot be tested"
NOT_REPRODUCED = "not reproduced at this scale"
VERDICTS = (HOLDS, NOT_REPRODUCED, FAILS, INCONCLUSIVE, UNTESTED)
#: The "paper's numbers" verdict of a check that no paper makes.
NOT_FROM_A_PAPER = "not a paper's claim"
#: The kinds of claim (see the module's docstring): on the level of an effect, or comparing results.
LEVEL, COMPARISON = "level", "comparison"
KINDS = (LEVEL, COMPARISON)
#: A claim's scope over the models of a run: decided on each model that meets its premises, or
#: only when every model does (a claim comparing the models with each other).
EACH, ALL = "each model", "every model"
SCOPES = (EACH, ALL)


@dataclass(frozen=True)
class Fidelity:
    """How close a run is to the paper's experiment: ``paper`` (the paper preset on the paper's
    kind of data) or reduced, with one line of what differs."""

    paper: bool
    differs: str = ""

    @property
    def label(self) -> str:
        return "paper" if self.paper else f"reduced: {self.differs}"


PAPER_FIDELITY = Fidelity(True)
@dataclass(frozen=True)
class Outcome:
    """The verdict of one claim on one run, the evidence behind it and how many images decided it.
    ``premises``: premises the test itself checked (the power of its sample), recorded with it."""

    verdict: str
    evidence: str
    n: int | None = None
    premises: tuple[Premise, ...] = ()
    #: The chapter's positive control on the models the claim read (a level claim: what its
    #: finding means; see the module's docstring), recorded beside the premises.
    control: Premise | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if any(not p.met for p in self.premises) and self.verdict != UNTESTED:
            raise ValueError(f"an outcome with an unmet premise is {UNTESTED!r}, not {self.verdict!r}")

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


def _verdict(estimate: Estimate, threshold: float, evidence: str | None, side: str) -> Outcome:
    evidence = evidence if evidence is not None else f"{estimate.fmt()} vs {threshold:g}"
    flag = estimate.above(threshold) if side == "above" else estimate.below(threshold)
    if estimate.method == "Wilson" and 0.0 < threshold < 1.0 and estimate.n > 0:
        power = power_premise(estimate.n, threshold, side)
        if not power.met and flag is False:
            # too few images to show the claim, but the whole interval lies on the other side: the
            # data reject it whatever n could have shown (issue 29: a negative result is a finding)
            return Outcome(FAILS, f"{evidence} (n = {estimate.n} could not have shown it, but the whole interval "
                                  f"is on the other side of {100 * threshold:g} %)", estimate.n)
        if not power.met:   # a test that could not have given the other answer decides nothing
            return Outcome(UNTESTED, f"{power.evidence}; {evidence}", estimate.n, (power,))
    return Outcome(_from_flag(flag), evidence, estimate.n)


def verdict_above(estimate: Estimate, threshold: float, evidence: str | None = None) -> Outcome:
    """``holds`` when the whole interval of ``estimate`` is above ``threshold``; ``cannot be
    tested`` when ``estimate`` is a rate on too few images to decide ``threshold``."""
    return _verdict(estimate, threshold, evidence, "above")


def verdict_below(estimate: Estimate, threshold: float, evidence: str | None = None) -> Outcome:
    """``holds`` when the whole interval of ``estimate`` is below ``threshold`` (power as in
    :func:`verdict_above`)."""
    return _verdict(estimate, threshold, evidence, "below")


def combine(outcomes: Mapping[str, Outcome] | Sequence[Outcome], evidence: str | None = None) -> Outcome:
    """A claim over several cases: does not hold if any case does not (whatever the others, an
    untested one included: one decided counterexample rejects a claim about every case); else
    cannot be tested if any case cannot; else inconclusive (at the smallest n) if any case is; else
    holds."""
    items = list(outcomes.items()) if isinstance(outcomes, Mapping) else [(None, o) for o in outcomes]
    if not items:
        return Outcome.untested("no case to test")
    verdicts = [o.verdict for _, o in items]
    if FAILS in verdicts:
        verdict = FAILS
    elif UNTESTED in verdicts:
        verdict = UNTESTED
    elif INCONCLUSIVE in verdicts:
        verdict = INCONCLUSIVE
    else:
        verdict = HOLDS
    ns = [o.n for _, o in items if o.n is not None]
    if evidence is None:
        evidence = "; ".join(f"{k}: {o.evidence}" if k is not None else o.evidence for k, o in items)
    premises = tuple(dict.fromkeys(p for _, o in items for p in o.premises))
    if verdict != UNTESTED:
        premises = tuple(p for p in premises if p.met)
    return Outcome(verdict, evidence, min(ns) if ns else None, premises)


@dataclass(frozen=True)
class Claim:
    """One claim of a paper, declared as one unit.

    ``test(results)`` returns the :class:`Outcome` on a run's results; ``thresholds`` names every
    number the test uses beyond the paper's own (so a reader sees what "far above" meant; the test
    reads them from the same constants). ``premises`` names the premises the test needs (computed
    by the chapter, see :class:`Premise`): the claim is decided only when every one is met.
    ``paper_check(published)``, when given, applies the same reading to the paper's printed
    numbers (point values, no intervals) and returns True/False. ``n_of(parameters)``, when given,
    is the number of images the test's rates will rest on, known before the run (for
    :func:`undecidable_claims`).
    """

    id: str
    text: str
    where: str
    paper_evidence: str
    test: Callable[[Any], Outcome]          # of the chapter's results dataclass
    thresholds: Mapping[str, float] = field(default_factory=dict)
    paper_check: Callable[[Mapping], bool] | None = None
    #: False for a chapter's own sanity checks (the robustness matrix): no paper makes them.
    from_paper: bool = True
    premises: tuple[str, ...] = ()
    n_of: Callable[[Mapping], int] | None = None
    #: Thresholds of ``thresholds`` that bound a rate (Wilson interval), with their side.
    rate_thresholds: Mapping[str, str] = field(default_factory=dict)
    #: :data:`LEVEL` (the level of an effect) or :data:`COMPARISON` (attack results compared).
    kind: str = LEVEL
    #: :data:`EACH` (decided on the models that meet its premises) or :data:`ALL` (needs every model).
    scope: str = EACH
    #: A level claim about an attack's effect reads the chapter's positive control; one about the
    #: models themselves (their clean accuracy) or a measurement without an attack does not.
    reads_control: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"claim {self.id}: scope must be one of {SCOPES}, got {self.scope!r}")

    def _cases(self, needed: Sequence[Premise]) -> list | None:
        """The cases this claim is tested on, when its premises were computed per case and some (not
        all) of them meet every one; None: test the run as it is. The cases are those of its finest
        premise: models, or finer cases of a model (``("Small", "pneumonia")``) when a premise was
        computed so, a premise per model then covering each of its model's cases."""
        per_case = [p for p in needed if p.cases]
        if self.scope != EACH or not per_case or any(not p.met for p in needed if not p.cases):
            return None
        finest = max(per_case, key=lambda p: isinstance(p.cases[0][0], tuple))
        keys = [k for k, _ in finest.cases]
        ok = [k for k in keys if all(p.meets(k) for p in per_case)]
        return ok if ok and len(ok) < len(keys) else None

    def check(self, results, premises: Mapping[str, Premise] | None = None,
              fidelity: Fidelity | None = None, restrict: Callable | None = None) -> "CheckedClaim":
        """The verdict on ``results``: ``cannot be tested`` when a premise named in
        :attr:`premises` is unmet (``premises`` maps names to this run's checks); a failure below
        the paper's ``fidelity`` becomes ``not reproduced at this scale``. Without ``premises``
        and ``fidelity`` (the claim's own unit tests) the test's verdict as it is.

        ``restrict(results, cases)``, when the chapter gives it, returns the results on the given
        cases only (models, or a model's finer cases, see :meth:`_cases`): a claim of scope
        :data:`EACH` whose per-case premises some cases meet is tested on those (its premises
        recorded on them, naming the others). A level claim records
        the chapter's :data:`POSITIVE_CONTROL` (when computed) and, when the effect fell short,
        says what the control makes of it."""
        needed = []
        if self.premises and premises is not None:
            missing = [name for name in self.premises if name not in premises]
            if missing:
                raise ValueError(f"claim {self.id}: premise(s) {missing} not computed by the chapter "
                                 f"(given: {sorted(premises)})")
            needed = [premises[name] for name in self.premises]
        control = (premises or {}).get(POSITIVE_CONTROL) if self.kind == LEVEL and self.reads_control else None
        cases = self._cases(needed) if restrict is not None else None
        if cases is not None:
            results = restrict(results, cases)
            needed = [p.on(cases) for p in needed]
            control = control.on(cases) if control is not None else None
        unmet = [p for p in needed if not p.met]
        if unmet:
            outcome = Outcome(UNTESTED, "premise not met: " + "; ".join(f"{p.name}: {p.evidence}" for p in unmet),
                              None, tuple(needed))
        else:
            outcome = self.test(results)
            if not isinstance(outcome, Outcome):
                raise TypeError(f"claim {self.id}: test returned {type(outcome).__name__}, not an Outcome")
            evidence = outcome.evidence
            if cases is not None:
                which = "cases" if any(isinstance(k, tuple) for k in cases) else "models"
                evidence = (f"on {', '.join(case_label(k) for k in cases)} (the {which} that meet its premises): "
                            f"{evidence}")
            if control is not None and outcome.verdict in (FAILS, INCONCLUSIVE):
                evidence += (f"; positive control met, so the attack falls short of what this model allows "
                             f"({control.evidence})" if control.met else
                             f"; positive control not met either, so the model resists at this budget "
                             f"({control.evidence})")
            outcome = Outcome(outcome.verdict, evidence, outcome.n, tuple(needed) + outcome.premises, control)
        if outcome.verdict == FAILS and self.from_paper and fidelity is not None and not fidelity.paper:
            outcome = Outcome(NOT_REPRODUCED, f"{outcome.evidence} (below the paper's fidelity: {fidelity.differs})",
                              outcome.n, outcome.premises, outcome.control)
        return CheckedClaim(self, outcome, fidelity)

    def paper_verdict(self, published: Mapping | None) -> str:
        """``holds`` / ``does not hold`` on the paper's own printed numbers, or ``stated`` when the
        paper prints no number that decides it."""
        if not self.from_paper:
            return NOT_FROM_A_PAPER
        if self.paper_check is None or published is None:
            return "stated"
        return HOLDS if self.paper_check(published) else FAILS

    def undecidable(self, parameters: Mapping) -> list[str]:
        """Before the run: why its sample cannot decide this claim's rate thresholds (empty: it can)."""
        if self.n_of is None:
            return []
        n = int(self.n_of(parameters))
        out = []
        for name, side in self.rate_thresholds.items():
            power = power_premise(n, float(self.thresholds[name]), side)
            if not power.met:
                out.append(f"{self.id}: {power.evidence}")
        return out


@dataclass(frozen=True)
class CheckedClaim:
    claim: Claim
    outcome: Outcome
    fidelity: Fidelity | None = None
    #: How many training seeds the verdict rests on (one run: 1).
    seeds: int = 1

    def __post_init__(self):
        o = self.outcome
        if any(not p.met for p in o.premises) and o.verdict != UNTESTED:
            raise ValueError(f"claim {self.claim.id}: {o.verdict!r} on an unmet premise")
        if o.verdict == FAILS and self.claim.from_paper and self.fidelity is not None and not self.fidelity.paper:
            raise ValueError(f"claim {self.claim.id}: {FAILS!r} below the paper's fidelity")

    @property
    def verdict(self) -> str:
        return self.outcome.verdict

    @property
    def label(self) -> str:
        """The verdict with its n and the seeds it rests on: ``inconclusive at n = 12 (1 seed)``."""
        return f"{self.outcome.label} ({self.seeds} seed{'s' if self.seeds != 1 else ''})"

    def record(self, chapter: str, run: str, published: Mapping | None = None, preset: str = "") -> "ClaimRecord":
        """The JSON record the book's scoreboard reads (:func:`medadv_lib.verdicts.records.claim_record`)."""
        return claim_record(self, chapter, run, published, preset)


def check_claims(claims: Iterable[Claim], results, *, fidelity: Fidelity,
                 premises: Mapping[str, Premise] | None = None, restrict: Callable | None = None,
                 seeds: int = 1) -> list[CheckedClaim]:
    """Apply every claim's test to ``results`` (ids must be unique), each gated by the premises it
    names (``premises``: this run's checks by name) and by the run's ``fidelity``; ``restrict``:
    the chapter's results on some models only (see :meth:`Claim.check`); ``seeds``: the training
    seeds behind ``results``."""
    claims = list(claims)
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate claim ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    if int(seeds) < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    premises = dict(premises or {})
    return [replace(c.check(results, premises, fidelity, restrict), seeds=int(seeds)) for c in claims]


def audit(claims: Iterable[Claim], effect: Iterable[str] = ()):
    """The premise audit of a chapter's claims (issue 29), as the page shows it: one row per claim
    with its kind, scope and premises. ``effect``: the chapter's premises that an attack did
    something; a :data:`LEVEL` claim that names one is refused (a weak attack is its finding, not
    a reason to stay silent), and a :data:`COMPARISON` claim must name one."""
    import pandas as pd

    effect = set(effect)
    rows, wrong = [], []
    for c in claims:
        named = set(c.premises) & effect
        if c.kind == LEVEL and named:
            wrong.append(f"{c.id}: a level claim names {sorted(named)}")
        if c.kind == COMPARISON and effect and not named:
            wrong.append(f"{c.id}: a comparison claim names none of {sorted(effect)}")
        rows.append({"claim": c.id, "kind": c.kind, "scope": c.scope,
                     "premises": ", ".join(c.premises) or "none",
                     "positive control": "reads the finding" if c.kind == LEVEL and c.reads_control else "not read"})
    if wrong:
        raise ValueError("premise audit: " + "; ".join(wrong))
    return pd.DataFrame(rows).set_index("claim")


def count_verdicts(checked: Iterable[CheckedClaim]) -> dict[str, int]:
    counts = {v: 0 for v in VERDICTS}
    for c in checked:
        counts[c.verdict] += 1
    return counts


def undecidable_claims(claims: Iterable[Claim], parameters: Mapping) -> list[str]:
    """Before papermill starts: the claims whose rate thresholds this run's sample sizes cannot
    decide, each with the n it has and the n it needs."""
    return [line for c in claims for line in c.undecidable(parameters)]
