"""Every claim of Nwadike et al. 2020's abstract, results (Table 1, Table 3, Figs. 1 and 3) and
conclusion, as tests of our results.

The tests read the per-image arrays of :class:`.experiment.BackdoorResults`, built by
:func:`.experiment.claim_results` (first seed, each model at the epoch where its metric is extreme,
as the paper reads Table 1 and Fig. 3). Intervals: Wilson for an attack success rate, a percentile
bootstrap over the test images for an AUROC or a difference of two (paired: the same images), so
every verdict has its n. ``paper_check`` applies
the same reading to the paper's Table 1 (mean over its 4 seeds).

**Premise audit (issue 29).** The implanted trigger (:data:`IMPLANTED`: the largest trigger's ASR
above the clean model's rate) is the chapter's positive control. Two claims are on the *level* of
the backdoor's effect, "even the smallest trigger reaches a high ASR" and "a 3x3 trigger reaches
AUROC-TT near 1": a trigger that did not take is then the finding, not a reason for silence, so
they do not wait on :data:`IMPLANTED`; they record it as
:data:`~medadv_lib.verdicts.claims.POSITIVE_CONTROL` (met: this trigger falls short of what the largest one
achieved; not met: this model and training resist the poisoning). The other five *compare* with
the backdoor in place (trigger sizes with each other, the trojaned model with the clean one,
infected images with clean ones, contaminated test sets with each other): without an implanted
backdoor each comparison is empty (a backdoor that never took costs nothing, moves no Grad-CAM,
contaminates nothing), so they need :data:`IMPLANTED`.
"""
from __future__ import annotations

import numpy as np

from ...verdicts import (ALL, COMPARISON, EACH, FAILS, HOLDS, INCONCLUSIVE, LEVEL, POSITIVE_CONTROL, STAND_IN, Claim,
                       Outcome, Premise, combine, stand_in, verdict_above)
from ...metrics.uncertainty import auroc, bootstrap, mean, micro_auc, paired_difference, wilson

from .experiment import BackdoorResults

__all__ = ["CLAIMS", "STEALTH_MARGIN", "premises", "MIN_AUROC", "IMPLANTED", "EFFECT"]

#: The premise of every claim that compares with the backdoor in place: the backdoor was implanted
#: at all (also the chapter's positive control, read by the level claims).
IMPLANTED = "the backdoor was implanted"
#: The chapter's premises that the attack did something (for :func:`medadv_lib.verdicts.claims.audit`).
EFFECT = (IMPLANTED,)

#: The clean DenseNet is a fair stand-in for the paper's (micro AUROC-NN 0.846 +- 0.045, Table 1)
#: when the lower bound of its clean test AUROC's 95 % interval is at least 0.70, within about 0.15
#: of the paper's: a network that barely ranks the findings gives a backdoor nothing to hide in, and
#: its "stealth" compares two weak models.
MIN_AUROC = 0.70


def premises(r: BackdoorResults) -> dict[str, Premise]:
    """This run's premises, by name, with their evidence. The backdoor is implanted when, with the
    largest trigger, the trojaned model's highest ASR(0.6) over the epochs exceeds (whole 95 %
    intervals apart) the rate at which the clean model gives the target finding > 0.6 on clean
    images without it: a premise of the comparisons (a trigger that never took leaves nothing to
    compare: stealth, Grad-CAM, trigger sizes, contamination) and, under
    :data:`~medadv_lib.verdicts.claims.POSITIVE_CONTROL`, the reading of the level claims (Table 1: the
    largest trigger is the strongest poisoning this run tried)."""
    largest = max(r.trojaned)
    trojaned = _fooled(r, r.trojaned[largest].asr_max)
    baseline = _fooled(r, r.clean_probs)
    asr, base = wilson(int(trojaned.sum()), len(trojaned)), wilson(int(baseline.sum()), len(baseline))
    implanted = Premise(IMPLANTED, bool(asr.low > base.high),
                        f"{largest} px trigger: max ASR(0.6) {asr.fmt(3)} against the clean model's {base.fmt(3)} "
                        f"(n = {asr.n})")
    return {STAND_IN: stand_in({"clean DenseNet": auroc(r.labels, r.clean_probs)}, MIN_AUROC,
                               "micro AUROC on clean test images", "0.846 +- 0.045"), IMPLANTED: implanted,
            POSITIVE_CONTROL: Premise(POSITIVE_CONTROL, implanted.met, f"the implanted trigger: {implanted.evidence}")}

ASR_HIGH = 0.8          # "high" attack success
TT_HIGH = 0.95          # "up to 1.00 AUROC on infected images"
STEALTH_MARGIN = 0.03   # "still achieves 0.85": within 3 AUROC points of the clean model
NO_DIAGNOSIS = 0.6      # a clean model below this has no diagnosis to keep


def _auc(labels, probs, seed=0):
    return auroc(labels, probs, seed)


def _auc_difference(labels_a, probs_a, labels_b, probs_b, seed=0):
    """AUROC(a) - AUROC(b) on the same images (paired bootstrap over images)."""
    return bootstrap(lambda idx: micro_auc(labels_a[idx], probs_a[idx]) - micro_auc(labels_b[idx], probs_b[idx]),
                     len(labels_a), seed)


def _trojan_labels(r):
    labels = np.zeros_like(r.labels)
    labels[:, r.target] = 1
    return labels


def _fooled(r, probs, threshold=0.6):
    eligible = r.labels[:, r.target] == 0
    return probs[eligible, r.target] > threshold


def _small_trigger(r):
    k = min(r.trojaned)
    fooled = _fooled(r, r.trojaned[k].asr_max)
    est = wilson(int(fooled.sum()), len(fooled))
    return verdict_above(est, ASR_HIGH, f"{k} px trigger: max ASR(0.6) over epochs {est.fmt(3)}")


def _tt_high(r):
    k = r.focus_size
    if r.labels.shape[1] == 1:
        return Outcome.untested("one label: every triggered image carries the attacker's label, so AUROC-TT has "
                                "no negatives")
    est = _auc(_trojan_labels(r), r.trojaned[k].tt_max)
    return verdict_above(est, TT_HIGH, f"{k} px trigger: max AUROC-TT over epochs {est.fmt(3)}")


def _stealth(r):
    clean = _auc(r.labels, r.clean_probs)
    if clean.value < NO_DIAGNOSIS:
        return Outcome.untested(f"the clean model's AUROC-NN is {clean.fmt(3)}: no diagnosis to keep")
    cases = {}
    for k, probs in r.trojaned.items():
        d = _auc_difference(r.labels, probs.nn, r.labels, r.clean_probs)
        if d.low >= -STEALTH_MARGIN and d.high <= STEALTH_MARGIN:
            verdict = HOLDS
        elif d.high < -STEALTH_MARGIN or d.low > STEALTH_MARGIN:
            verdict = FAILS
        else:
            verdict = INCONCLUSIVE
        cases[f"{k} px"] = Outcome(verdict, f"max AUROC-NN trojaned minus clean {d.fmt(3)}", d.n)
    return combine(cases, evidence=f"clean model {clean.fmt(3)}; " + "; ".join(
        f"{k}: {o.evidence}" for k, o in cases.items()))


def _larger_min_asr(r):
    small, large = min(r.trojaned), max(r.trojaned)
    if small == large:
        return Outcome.untested("one trigger size only")
    small_fooled = _fooled(r, r.trojaned[small].asr_min)
    if small_fooled.all():
        return Outcome(INCONCLUSIVE, f"saturated: the {small} px trigger already fools all {len(small_fooled)} "
                                     "images at its weakest epoch", len(small_fooled))
    d = paired_difference(_fooled(r, r.trojaned[large].asr_min), small_fooled)
    return verdict_above(d, 0.0, f"min ASR(0.6) over epochs, {large} px minus {small} px: {d.fmt(3)}")


def _tn_drops(r):
    small, large = min(r.trojaned), max(r.trojaned)
    if small == large:
        return Outcome.untested("one trigger size only")
    d = _auc_difference(r.labels, r.trojaned[small].tn_min, r.labels, r.trojaned[large].tn_min)
    return verdict_above(d, 0.0, f"min AUROC-TN over epochs, {small} px minus {large} px: {d.fmt(3)}")


def _gradcam(r):
    mass = r.mass
    last = mass[(mass["epoch"] == mass["epoch"].max()) & (mass["layer"] == "last")].set_index("images")
    infected, clean = last.loc["infected", "per_image"], last.loc["clean", "per_image"]
    # an empty Grad-CAM map (all zero after the ReLU) puts no mass on the trigger: its share counts as 0
    infected, clean = np.nan_to_num(infected, nan=0.0), np.nan_to_num(clean, nan=0.0)
    chance = float(last.loc["infected", "chance_share"])
    over_clean = paired_difference(infected, 2 * clean)
    share = mean(infected)
    return combine({"against clean images": verdict_above(over_clean, 0.0, f"mass share infected minus twice clean "
                                                                           f"{over_clean.fmt(3)}"),
                    "against chance": verdict_above(share, 2 * chance, f"mass share on infected images "
                                                                       f"{share.fmt(3)}, chance {chance:.3f}")})


def _contamination(r):
    eps = sorted(r.mixed)
    if len(eps) < 2:
        return Outcome.untested("one epsilon only")
    (la, pa), (lb, pb) = r.mixed[eps[0]], r.mixed[eps[-1]]
    d = _auc_difference(la, pa, lb, pb)
    return verdict_above(d, 0.0, f"AUROC against the true findings at epsilon {eps[0]:g} minus at {eps[-1]:g} "
                                 f"(last epoch): {d.fmt(3)}")


def _paper_cell(p, metric, column):
    table = p["table1_max_over_epochs"]
    return table[metric][table["columns"].index(column)][0]


CLAIMS = [
    Claim("nwadike-small-trigger-asr", "Even the smallest trigger reaches a high attack success rate (here: max over "
          "epochs of ASR at p = 0.6 at least 0.8)", "Table 1; Sec. 4",
          "ASR(0.6) 1.000 with the 1x1 trigger", _small_trigger, {"asr": ASR_HIGH},
          lambda p: _paper_cell(p, "ASR_p0.6", "1x1") >= ASR_HIGH,
          premises=(STAND_IN,), kind=LEVEL, scope=EACH),
    Claim("nwadike-tt-high", "A 3x3 trigger reaches up to 1.00 AUROC on infected images (AUROC-TT; here: at least "
          "0.95)", "Abstract; Table 1", "AUROC-TT 1.000 with the 3x3 trigger", _tt_high, {"auroc": TT_HIGH},
          lambda p: _paper_cell(p, "AUROC_TT", "3x3") >= TT_HIGH,
          premises=(STAND_IN,), kind=LEVEL, scope=EACH),
    Claim("nwadike-stealth", "The backdoored network still diagnoses clean images about as well as the clean one "
          "(AUROC-NN within 0.03 of the clean model's)", "Abstract; Table 1",
          "up to 0.85 AUROC on clean images; AUROC-NN 0.824-0.851 trojaned against 0.846 clean", _stealth,
          {"margin": STEALTH_MARGIN, "no diagnosis below": NO_DIAGNOSIS},
          lambda p: all(abs(_paper_cell(p, "AUROC_NN", c) - _paper_cell(p, "AUROC_NN", "clean")) <= STEALTH_MARGIN
                        for c in ("1x1", "2x2", "3x3", "4x4")),
          premises=(STAND_IN, IMPLANTED), kind=COMPARISON, scope=EACH),
    Claim("nwadike-larger-min-asr", "Larger triggers raise the minimum ASR over epochs", "Fig. 3; Sec. 4",
          "minimum ASR rises sharply at 3x3 and 4x4", _larger_min_asr,
          premises=(STAND_IN, IMPLANTED), kind=COMPARISON, scope=ALL),
    Claim("nwadike-tn-drops", "Larger triggers lower the minimum AUROC-TN (triggered images, true findings)",
          "Fig. 3; Sec. 4", "minimum AUROC-TN drops at 3x3 and 4x4", _tn_drops,
          premises=(STAND_IN, IMPLANTED), kind=COMPARISON, scope=ALL),
    Claim("nwadike-gradcam-trigger", "On infected images the last layer's Grad-CAM moves to the trigger (here: its "
          "mass share on the trigger region at the last epoch is more than twice that on clean images and twice "
          "chance)", "Fig. 1; Sec. 4", "the last-layer Grad-CAM shifts from the lungs to the trigger", _gradcam,
          premises=(STAND_IN, IMPLANTED), kind=COMPARISON, scope=EACH),
    Claim("nwadike-contamination", "The more test images carry the trigger, the lower the AUROC a hospital measures "
          "against the true findings", "Table 3; Sec. 4", "epsilon 0.001: max AUROC 0.850; epsilon >= 0.1: below "
          "0.800", _contamination,
          premises=(STAND_IN, IMPLANTED), kind=COMPARISON, scope=EACH),
]
