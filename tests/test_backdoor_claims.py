"""The backdoor chapter's claims decide holds / does not hold / inconclusive from per-image arrays."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from medadv_lib.verdicts import FAILS, HOLDS, INCONCLUSIVE, UNTESTED
from medadv_lib.papers.backdoor.claims import CLAIMS
from medadv_lib.papers.backdoor.experiment import BackdoorResults, TrojanedProbs
from medadv_lib.papers.backdoor.published import PUBLISHED

N, K, TARGET = 200, 14, 0


def _results(backdoor_strength: float, diagnosis: float = 3.0, seed: int = 0):
    """Per-image arrays like :func:`experiment.claim_results` (a :class:`BackdoorResults`): a clean
    model whose probabilities follow the true findings with strength ``diagnosis``, trojaned models
    that keep it, and a trigger that raises the target's probability by ``backdoor_strength`` (more
    for the larger trigger)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((N, K)) < 0.15).astype(float)

    def diagnose(strength):
        return 1 / (1 + np.exp(-(strength * (labels - 0.5) + rng.normal(0, 1, (N, K)))))

    def triggered(boost):
        p = diagnose(diagnosis)
        p[:, TARGET] = 1 / (1 + np.exp(-(boost + rng.normal(0, 0.5, N))))
        return p

    trojaned = {}
    for k, boost in ((1, backdoor_strength), (3, backdoor_strength + 2)):
        trojaned[k] = TrojanedProbs(nn=diagnose(diagnosis), tt_max=triggered(boost + 4), asr_max=triggered(boost),
                                    asr_min=triggered(boost - 4), tn_min=triggered(boost))
    mass = pd.DataFrame([
        {"epoch": 2, "layer": "last", "images": "infected", "chance_share": 0.06,
         "per_image": np.clip(rng.normal(0.1 + 0.3 * (backdoor_strength > 0), 0.05, 30), 0, 1)},
        {"epoch": 2, "layer": "last", "images": "clean", "chance_share": 0.06,
         "per_image": np.r_[np.nan, np.clip(rng.normal(0.08, 0.03, 29), 0, 1)]}])
    mixed = {0.001: (labels, diagnose(diagnosis)), 0.1: (labels, diagnose(diagnosis * (0.3 if backdoor_strength > 0
                                                                                          else 1)))}
    return BackdoorResults(labels=labels, target=TARGET, clean_probs=diagnose(diagnosis), trojaned=trojaned,
                           focus_size=3,
                           mixed=mixed, mass=mass)


def _verdicts(results):
    return {c.id: c.check(results).outcome.verdict for c in CLAIMS}


@pytest.mark.slow
def test_a_strong_stealthy_backdoor_holds():
    v = _verdicts(_results(4.0))
    for claim in ("nwadike-small-trigger-asr", "nwadike-tt-high", "nwadike-larger-min-asr", "nwadike-gradcam-trigger",
                  "nwadike-contamination"):
        assert v[claim] == HOLDS, claim
    assert v["nwadike-stealth"] in (HOLDS, INCONCLUSIVE)


@pytest.mark.slow
def test_no_backdoor_does_not_hold():
    v = _verdicts(_results(-6.0))
    assert v["nwadike-small-trigger-asr"] == FAILS
    assert v["nwadike-gradcam-trigger"] == FAILS


@pytest.mark.slow
def test_stealth_cannot_be_tested_without_a_diagnosis():
    stealth = next(c for c in CLAIMS if c.id == "nwadike-stealth")
    assert stealth.check(_results(4.0, diagnosis=0.0)).outcome.verdict == UNTESTED


def test_a_saturated_comparison_is_inconclusive():
    results = _results(4.0)
    for probs in results.trojaned.values():
        probs.asr_min[:, TARGET] = 0.99                          # every trigger size fools every image
    larger = next(c for c in CLAIMS if c.id == "nwadike-larger-min-asr")
    assert larger.check(results).outcome.verdict == INCONCLUSIVE


def test_paper_checks_read_table_1():
    verdicts = {c.id: c.paper_verdict(PUBLISHED) for c in CLAIMS}
    assert verdicts["nwadike-small-trigger-asr"] == HOLDS       # ASR(0.6) 1.000 with 1x1
    assert verdicts["nwadike-tt-high"] == HOLDS                 # AUROC-TT 1.000 with 3x3
    assert verdicts["nwadike-stealth"] == HOLDS                 # AUROC-NN 0.824-0.851 against 0.846
    assert verdicts["nwadike-larger-min-asr"] == "stated"


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_every_claim_cites_the_paper(claim):
    assert claim.where and claim.text and claim.paper_evidence


@pytest.mark.slow
def test_one_label_leaves_auroc_tt_untested_and_the_rest_decided():
    """Kermany's data: one sigmoid label (Pneumonia) is the target, so every triggered image carries
    the attacker's label and AUROC-TT has no negatives; the other claims still read."""
    full = _results(4.0)
    one = replace(full, labels=full.labels[:, :1], clean_probs=full.clean_probs[:, :1],
                  trojaned={k: replace(v, **{name: p[:, :1] for name, p in vars(v).items()})
                            for k, v in full.trojaned.items()},
                  mixed={e: (lab[:, :1], p[:, :1]) for e, (lab, p) in full.mixed.items()})
    v = _verdicts(one)
    assert v["nwadike-tt-high"] == UNTESTED
    assert v["nwadike-small-trigger-asr"] == HOLDS


@pytest.mark.slow
def test_no_backdoor_leaves_the_comparisons_untested_and_decides_the_level_claims():
    """Issue 29: a trigger that never took silences the claims that compare with the backdoor in
    place (Grad-CAM, trigger sizes), not the level claims ("even the smallest trigger reaches a high
    ASR"): for those it is the finding, read by the positive control (the implanted trigger)."""
    from medadv_lib.verdicts import FAILS, POSITIVE_CONTROL, PAPER_FIDELITY, UNTESTED, check_claims
    from medadv_lib.papers.backdoor.claims import IMPLANTED, premises

    none = _results(-6.0)
    checks = premises(none)
    assert not checks[IMPLANTED].met and "max ASR(0.6)" in checks[IMPLANTED].evidence
    assert checks[POSITIVE_CONTROL].met is False and "implanted trigger" in checks[POSITIVE_CONTROL].evidence
    out = {c.claim.id: c for c in check_claims(CLAIMS, none, premises=checks, fidelity=PAPER_FIDELITY)}
    assert out["nwadike-gradcam-trigger"].verdict == UNTESTED and out["nwadike-larger-min-asr"].verdict == UNTESTED
    small = out["nwadike-small-trigger-asr"]
    assert small.verdict == FAILS and small.outcome.control is not None and not small.outcome.control.met
    assert "positive control not met either, so the model resists at this budget" in small.outcome.evidence
    strong = _results(4.0)
    checks = premises(strong)
    assert checks[IMPLANTED].met and checks[POSITIVE_CONTROL].met
    out = {c.claim.id: c.verdict for c in check_claims(CLAIMS, strong, premises=checks, fidelity=PAPER_FIDELITY)}
    assert out["nwadike-small-trigger-asr"] == HOLDS and out["nwadike-larger-min-asr"] == HOLDS


@pytest.mark.slow
def test_a_small_trigger_short_of_an_implanted_large_one_reads_the_control():
    """The largest trigger took (control met), the smallest did not: the level claim does not hold,
    and its evidence says the small trigger falls short of what this model allowed."""
    from medadv_lib.verdicts import FAILS, PAPER_FIDELITY, check_claims
    from medadv_lib.papers.backdoor.claims import premises

    r = _results(-6.0)
    largest = max(r.trojaned)
    r.trojaned[largest].asr_max[:, TARGET] = 0.99                 # only the largest trigger is implanted
    checks = premises(r)
    small = next(c for c in check_claims(CLAIMS, r, premises=checks, fidelity=PAPER_FIDELITY)
                 if c.claim.id == "nwadike-small-trigger-asr")
    assert small.verdict == FAILS and small.outcome.control.met
    assert "positive control met, so the attack falls short of what this model allows" in small.outcome.evidence


def test_the_premise_audit_passes():
    from medadv_lib.verdicts import LEVEL, audit
    from medadv_lib.papers.backdoor.claims import EFFECT, IMPLANTED

    table = audit(CLAIMS, effect=EFFECT)
    assert set(table.index[table["kind"] == LEVEL]) == {"nwadike-small-trigger-asr", "nwadike-tt-high"}
    assert all(IMPLANTED in c.premises for c in CLAIMS if c.kind != LEVEL)


def test_claim_results_reads_each_array_at_its_metrics_extreme_epoch(monkeypatch):
    """``claim_results`` builds the typed results: per trigger size the outputs at the epochs where
    AUROC-NN/-TT and ASR are highest and ASR/AUROC-TN lowest (outputs stubbed: epoch, model, images)."""
    from types import SimpleNamespace

    import torch

    from medadv_lib.papers.backdoor import experiment as ex

    def probs_at(run, epoch, dataset, device):
        return np.full((2, 1), 100 * epoch + run.tag) + dataset.tag

    def run(tag):
        return SimpleNamespace(tag=tag, history=[{"epoch": e} for e in (1, 2, 3)])

    def data(tag):
        return SimpleNamespace(tag=tag, targets=torch.zeros(2, 1))

    monkeypatch.setattr(ex, "_probs_at", probs_at)
    runs = {("clean", None, 0): run(0), ("fixed", 1, 0): run(1), ("fixed", 3, 0): run(3)}
    test, infected = data(0.0), {("fixed", 1): data(0.5), ("fixed", 3): data(0.5)}
    rows = [{"model": model, "location": "fixed", "size": size, "seed": 0, "epoch": e, "auroc_nn": [1, 3, 2][e - 1],
             "auroc_tt": [3, 1, 2][e - 1], "asr_0.6": [2, 3, 1][e - 1], "auroc_tn": [2, 1, 3][e - 1]}
            for model, size in (("clean", 3), ("trojaned", 1), ("trojaned", 3)) for e in (1, 2, 3)]
    mixed = {0.1: SimpleNamespace(dataset=data(0.25))}
    r = ex.claim_results(runs, pd.DataFrame(rows), test, infected, mixed, "mass", [1, 3], 3, 0, 0, "cpu")
    assert isinstance(r, BackdoorResults) and sorted(r.trojaned) == [1, 3] and r.focus_size == 3 and r.target == 0
    assert r.clean_probs[0, 0] == 200                                  # clean model, best AUROC-NN at epoch 2
    t = r.trojaned[3]
    assert (t.nn[0, 0], t.tt_max[0, 0], t.asr_max[0, 0], t.asr_min[0, 0], t.tn_min[0, 0]) == (203, 103.5, 203.5,
                                                                                             303.5, 203.5)
    assert r.mixed[0.1][1][0, 0] == 303.25 and r.mass == "mass"       # the focus model's last epoch
