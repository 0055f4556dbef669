"""Every claim of Qi et al. 2021's results (Sec. 4, Tables 1-6) as a test of our results.

The tests read the chapter's per-image tables (:class:`.experiment.SMIAResults`, built by
:func:`.experiment.claim_results`): ``scores`` (task, method, image, score, variance, linf, cosine)
and ``sweeps`` (table, task, value, image, score); the premises also read the grader's clean
accuracy and its chance level. "Lowers the performance more" is read per image:
the paired difference of the scores (1/0 correct, or a slice's Jaccard index) with a 95 %
bootstrap interval; a claim holds on a task when the whole interval is on the claimed side, and
on the chapter when it holds on both tasks. The paper's text prints no table cell, so no claim has
a check on the paper's own numbers ("stated").

**Premise audit (issue 29).** The two tasks act as the chapter's "models": the premises are computed
per task (:meth:`~medadv_lib.verdicts.claims.Premise.all_of`), and a claim of scope ``EACH`` is decided on
the tasks that meet them (:func:`restrict`), its evidence naming the other. A claim that compares
the methods' scores (SMIA against DEV or a baseline, more iterations, a larger step, alpha = 1) is a
``COMPARISON``: it needs :data:`MOVED`, since at a budget where no method moves the model no method
can beat another. The two claims on the perturbation's own shape (the cosines of consecutive
updates, the variance) compare the methods too, but on a quantity every run measures, moved or not:
they need :data:`PERTURBED` (SMIA and DEV changed every attacked image; a zero update has no
direction and a zero perturbation no variance to compare), never :data:`MOVED`. No claim of the
paper's Sec. 4 is on the level of an effect (each compares methods or settings), so the positive
control (:data:`~medadv_lib.verdicts.claims.POSITIVE_CONTROL`, the comparison again at the step where FGSM
moves the model by 20-40 points) gates nothing: it is shown with the premises and says whether this
model can be moved at all. The two claims on data this collection lacks (Kaggle-DR, EAD-2019
detection) name that as their premise.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...verdicts import (COMPARISON, EACH, FAILS, HOLDS, INCONCLUSIVE, POSITIVE_CONTROL, STAND_IN, Claim,
                       Outcome, Premise, combine, stand_in, verdict_above)
from ...metrics.uncertainty import mean, paired_difference

from .experiment import BASELINES, CONTROL_BAND, SMIAResults

__all__ = ["CLAIMS", "premises", "restrict", "MOVED", "PERTURBED", "MIN_DROP", "EFFECT", "KAGGLE_DR", "DETECTION"]

#: The premise of every comparison of scores: at this run's budget the weakest baseline moves the model.
MOVED = "the attacks moved the model"
#: FGSM, the weakest baseline, must lower the per-image score by at least 5 points (the lower bound
#: of its paired drop's 95 % interval): at a budget where every method flips the same few images
#: (RetinaMNIST at the paper's eps 5e-5 x 10 iterations: 5 of 100), no method can beat another.
MIN_DROP = 0.05
#: The premise of the claims on the perturbation's shape (Table 1's cosines, Table 6's variance):
#: SMIA and DEV, the two recorded methods, changed every attacked image.
PERTURBED = "the attacks perturbed the images"
#: The chapter's premises that the attacks did something (for :func:`medadv_lib.verdicts.claims.audit`): moved
#: the model (the score comparisons) or changed the images (the comparisons of the perturbation).
EFFECT = (MOVED, PERTURBED)
#: Premises of the two claims on data this collection lacks: never met, their evidence says why.
KAGGLE_DR = "Kaggle-DR is in this collection"
DETECTION = "a detection task is in this collection"


def premises(r: SMIAResults) -> dict[str, Premise]:
    """This run's premises, by name, with their evidence, each per task (its ``cases``) where it is
    computed per task. ``r.accuracy``/``r.chance``: the fundus grader's test accuracy (name ->
    Estimate) and the share of the commonest grade: the grader is a fair stand-in when its accuracy
    is clearly above always answering that grade (Qi et al. print no clean accuracy of their
    graders); the U-Net has no minimum (the paper prints no clean score of it either).
    ``r.control`` (when the run computed it): :data:`~medadv_lib.verdicts.claims.POSITIVE_CONTROL`, per
    task: the comparison of Table 6 again at the step where FGSM lowers the score by 20-40 points
    (:data:`.experiment.CONTROL_BAND`), where a comparison can show a difference either way
    (:func:`_control_case`)."""
    tasks = _tasks(r)
    moved = {}
    for t in tasks:
        drop = paired_difference(_score(r, t, "clean"), _score(r, t, "FGSM"))
        moved[t] = Premise(MOVED, bool(drop.low >= MIN_DROP),
                           f"FGSM drop {drop.fmt(3)} (n = {drop.n}), needs a lower bound >= {MIN_DROP:g}")
    checks = {MOVED: Premise.all_of(MOVED, moved), PERTURBED: Premise.all_of(PERTURBED, {t: _perturbed(r, t)
                                                                                       for t in tasks})}
    if r.accuracy:
        grader = stand_in(r.accuracy, float(r.chance or 0.0) + 1e-9, "fundus grader test accuracy",
                          "not printed; the minimum is the commonest grade's share")
        cases = {t: (Premise(STAND_IN, grader.met, grader.evidence) if t == "classification" else
                     Premise(STAND_IN, True, "the U-Net: no minimum (Qi et al. print no clean score of theirs)"))
                 for t in tasks}
        checks[STAND_IN] = Premise.all_of(STAND_IN, cases)
    else:
        checks[STAND_IN] = Premise(STAND_IN, True, "no classifier in this run")
    if r.control:
        checks[POSITIVE_CONTROL] = Premise.all_of(POSITIVE_CONTROL, {t: _control_case(*r.control[t])
                                                                     for t in tasks if t in r.control})
    checks[KAGGLE_DR] = Premise(KAGGLE_DR, False, "Kaggle-DR (the paper's false-positive-rate dataset) is not part "
                                                  "of this collection")
    checks[DETECTION] = Premise(DETECTION, False, "EAD-2019 detection is left out: no detection data or detector "
                                                  "in this collection")
    return checks


def _perturbed(r, task) -> Premise:
    """SMIA's and DEV's final perturbations are non-zero on every attacked image of ``task``."""
    counts = {m: (int((_score(r, task, m, "linf") > 0).sum()), len(_score(r, task, m, "linf"))) for m in ("SMIA", "DEV")}
    return Premise(PERTURBED, all(k == n and n > 0 for k, n in counts.values()),
                   "; ".join(f"{m} changed {k} of {n} images" for m, (k, n) in counts.items()))


def _control_case(factor: float, step: float, drops: dict) -> Premise:
    """The positive control on one task (:func:`.experiment.positive_control`): met when, at the
    smallest step multiple tried that lets FGSM lower the mean score by :data:`.experiment.CONTROL_BAND`'s
    lower end (20 points), it did, i.e. this model and this score can show an attack's effect; not
    met when no multiple tried moved it that far (the model resists these budgets). The evidence says
    whether FGSM's drop lies in the 20-40 point band (where a comparison can go either way) or a
    coarse step overshot it, and SMIA's drop and lead there."""
    fgsm = float(np.mean(drops["FGSM"]))
    best = max(("FGSM", "PGD"), key=lambda m: float(np.mean(drops[m])))
    diff = paired_difference(drops["SMIA"], drops[best])
    low, high = CONTROL_BAND
    band = f"{100 * low:g}-{100 * high:g} point band"
    where = (f"below the {band} at the largest step tried" if fgsm < low else
             f"in the {band}" if fgsm <= high else f"above the {band} (the step multiples overshot it)")
    return Premise(POSITIVE_CONTROL, bool(fgsm >= low),
                   f"step x{factor:g} ({step:.3g}): FGSM drop {mean(drops['FGSM']).fmt(3)}, {where}; SMIA drop "
                   f"{mean(drops['SMIA']).fmt(3)}; SMIA minus {best} {diff.fmt(3)} (n = {diff.n})")


def restrict(r: SMIAResults, tasks) -> SMIAResults:
    """The results on ``tasks`` only (for :func:`medadv_lib.verdicts.claims.check_claims`: a claim of scope
    ``EACH`` is decided on the tasks that meet its premises); ``left_out`` maps each other task to
    the premises it misses, with their evidence (a claim on that task alone says so)."""
    keep = list(tasks)
    s, w = r.scores, r.sweeps
    checks = premises(r)
    gates = [p for name, p in checks.items() if name != POSITIVE_CONTROL]      # the control gates nothing
    left_out = {t: "; ".join(f"{p.name}: {case.evidence}" for p in gates for k, case in p.cases
                             if k == t and not case.met) or "it misses no per-task premise"
                for t in _tasks(r) if t not in keep}
    return replace(r, scores=s[s["task"].isin(keep)], sweeps=w[w["task"].isin(keep)], left_out=left_out)


def _score(r, task, method, column="score"):
    s = r.scores
    part = s[(s["task"] == task) & (s["method"] == method)].sort_values("image")
    return part[column].to_numpy()


def _swept(r, table, task):
    s = r.sweeps
    part = s[(s["table"] == table) & (s["task"] == task)]
    return {value: rows.sort_values("image")["score"].to_numpy() for value, rows in part.groupby("value")}


def _tasks(r):
    return list(dict.fromkeys(r.scores["task"]))


def _stronger(r, task, stronger, weaker, column="score", what="score"):
    """``stronger`` lowers ``column`` more than ``weaker``: weaker's score minus stronger's > 0.
    Inconclusive when ``weaker`` already leaves nothing to lower (every image at zero): saturated."""
    weak = _score(r, task, weaker, column)
    est = paired_difference(weak, _score(r, task, stronger, column))
    if column == "score" and np.all(weak == 0):
        return Outcome(INCONCLUSIVE, f"saturated: {weaker} already takes the score of all {len(weak)} images to 0",
                       len(weak))
    return verdict_above(est, 0.0, f"{what} {weaker} minus {stronger}: {est.fmt(3)}")


def _sci(est):
    return f"{est.value:.2e} [{est.low:.2e}, {est.high:.2e}]"


def _sta_stronger(r):
    return combine({t: _stronger(r, t, "SMIA", "DEV") for t in _tasks(r)})


def _sta_consistent(r):
    outcomes = {}
    for t in _tasks(r):
        dev = _score(r, t, "DEV", "cosine")
        if np.all(dev == 1):
            outcomes[t] = Outcome(INCONCLUSIVE, f"saturated: DEV's consecutive updates already all agree "
                                                f"({len(dev)} images)", len(dev))
            continue
        est = paired_difference(_score(r, t, "SMIA", "cosine"), dev)
        outcomes[t] = verdict_above(est, 0.0, f"share of positive cosines, DEV+STA minus DEV: {est.fmt(3)}")
    return combine(outcomes)


def _sweep_ends(table: str, what: str):
    """The score at the smallest swept value minus at the largest, per task: > 0 when more lowers more."""
    def test(r):
        outcomes = {}
        for t in _tasks(r):
            by_value = _swept(r, table, t)
            low, high = min(by_value), max(by_value)
            if low == high:
                return Outcome.untested(f"one {what} only")
            est = paired_difference(by_value[low], by_value[high])
            outcomes[t] = verdict_above(est, 0.0, f"score at {what} {low:g} minus at {high:g}: {est.fmt(3)}")
        return combine(outcomes)
    return test


def _alpha_one(r):
    """Holds when every other alpha leaves a surely higher score; does not hold when some other alpha
    leaves a surely lower one; inconclusive otherwise."""
    outcomes = {}
    for t in _tasks(r):
        by_alpha = _swept(r, "4: alpha", t)
        if 1.0 not in by_alpha or len(by_alpha) < 2:
            return Outcome.untested("alpha = 1 and another alpha are needed")
        estimates = {a: paired_difference(score, by_alpha[1.0]) for a, score in by_alpha.items() if a != 1.0}
        evidence = "; ".join(f"score at alpha {a:g} minus at 1: {e.fmt(3)}" for a, e in estimates.items())
        n = min(e.n for e in estimates.values())
        if all(e.above(0.0) for e in estimates.values()):
            outcomes[t] = Outcome(HOLDS, evidence, n)
        elif any(e.below(0.0) for e in estimates.values()):
            outcomes[t] = Outcome(FAILS, evidence, n)
        else:
            outcomes[t] = Outcome(INCONCLUSIVE, evidence, n)
    return combine(outcomes)


def _beats_best_baseline(task):
    def test(r):
        if task not in _tasks(r):
            why = f"premise not met: {r.left_out[task]}" if task in r.left_out else "not in this run"
            return Outcome.untested(f"the {task} task: {why}")
        clean = _score(r, task, "clean")
        drops = {m: float((clean - _score(r, task, m)).mean()) for m in BASELINES[task]}
        best = max(drops, key=drops.get)
        return _stronger(r, task, "SMIA", best, what=f"score (strongest baseline {best})")
    return test


def _beats_fgsm_pgd(r):
    return combine({f"{t}, {m}": _stronger(r, t, "SMIA", m) for t in _tasks(r) for m in ("FGSM", "PGD")})


def _lowest_variance(r):
    cases = {}
    for t in _tasks(r):
        for m in BASELINES[t] + ("DEV",):
            est = paired_difference(_score(r, t, m, "variance"), _score(r, t, "SMIA", "variance"))
            cases[f"{t}, {m}"] = verdict_above(est, 0.0, f"variance {m} minus SMIA: {_sci(est)}")
    return combine(cases)


def _untested(why):
    return lambda r: Outcome.untested(why)


CLAIMS = [
    Claim("qi-sta-stronger", "Adding the stabilization loss to the deviation loss lowers the performance further",
          "Sec. 4.1; Table 1", "stated for all three datasets (the text prints no cell)", _sta_stronger,
          premises=(STAND_IN, MOVED), kind=COMPARISON, scope=EACH),
    Claim("qi-sta-consistent", "The stabilization loss raises the share of positive cosine similarities between "
          "consecutive perturbation updates", "Sec. 4.1; Table 1", "stated (the text prints no cell)", _sta_consistent,
          premises=(STAND_IN, PERTURBED), kind=COMPARISON, scope=EACH),
    Claim("qi-more-iterations", "More iterations lower the performance further (Table 2; here: SMIA after the "
          "fewest against the most iterations swept)", "Sec. 4.1; Table 2", "stated", _sweep_ends("2: iterations", "iterations"),
          premises=(STAND_IN, MOVED), kind=COMPARISON, scope=EACH),
    Claim("qi-larger-epsilon", "A larger step epsilon lowers the performance further (Table 3; the paper states "
          "it for EAD-2019, where SMIA does best at 0.01)", "Sec. 4.1; Table 3", "stated", _sweep_ends("3: epsilon", "epsilon"),
          premises=(STAND_IN, MOVED), kind=COMPARISON, scope=EACH),
    Claim("qi-alpha-one", "SMIA lowers the performance most at alpha = 1 among the weights tried",
          "Sec. 4.1; Table 4", "stated", _alpha_one,
          premises=(STAND_IN, MOVED), kind=COMPARISON, scope=EACH),
    Claim("qi-beats-second-best-aptos", "On fundus grading SMIA lowers accuracy more than the strongest baseline "
          "(the paper: about 10 points more than PGD on APTOS-2019)", "Sec. 4.2; Table 6",
          "about 10 points more than the second best (PGD)", _beats_best_baseline("classification"),
          premises=(STAND_IN, MOVED), kind=COMPARISON, scope=EACH),
    Claim("qi-beats-dag-covid", "On COVID-19 CT segmentation SMIA lowers the score more than the strongest "
          "baseline (the paper: about 9 points more than DAG)", "Sec. 4.2; Table 6",
          "about 9 points more than the second best (DAG)", _beats_best_baseline("segmentation"),
          premises=(STAND_IN, MOVED), kind=COMPARISON, scope=EACH),
    Claim("qi-beats-fgsm-pgd", "SMIA lowers the performance more than FGSM and PGD (the paper: also on MNIST)",
          "Sec. 4.2; Tables 5-6", "stated", _beats_fgsm_pgd,
          premises=(STAND_IN, MOVED), kind=COMPARISON, scope=EACH),
    Claim("qi-lowest-variance", "SMIA's perturbation has the lowest variance of all methods on every dataset",
          "Sec. 4.2; Table 6; Fig. 2", "stated", _lowest_variance,
          premises=(STAND_IN, PERTURBED), kind=COMPARISON, scope=EACH),
    Claim("qi-kaggle-fpr", "SMIA gives the highest false positive rate on Kaggle-DR", "Sec. 4.2; Table 6",
          "stated", _untested("Kaggle-DR is not part of this collection"),
          premises=(KAGGLE_DR, STAND_IN, MOVED), kind=COMPARISON, scope=EACH),
    Claim("qi-ead-iou", "On EAD-2019 detection DAG lowers mAP more, SMIA lowers IoU more (7.62 % against 4.8 %)",
          "Sec. 4.2; Table 6", "IoU drop 7.62 % (SMIA) against 4.8 % (DAG)",
          _untested("detection is left out: no detection data or detector in this collection"),
          premises=(DETECTION, STAND_IN, MOVED), kind=COMPARISON, scope=EACH),
]
