"""The verdict rules of issue 20: premises, fidelity and power decide whether a claim is decided.

* an unmet premise gives ``cannot be tested`` (never holds or fails), naming the premise;
* a paper's claim that fails below the paper's fidelity reads ``not reproduced at this scale``;
  ``does not hold`` only at fidelity ``paper`` (the robustness matrix's own checks keep it);
* a rate threshold that the sample cannot decide gives ``cannot be tested: n = 12 cannot decide``;
* a UAP loop that did not converge, or a UAP that did nothing, leaves its claims untested;
* the record carries premises, preset and fidelity, and ``medadv run`` names the undecidable
  claims before papermill starts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medadv_lib import verdicts as C
from medadv_lib.verdicts import (FAILS, HOLDS, POSITIVE_CONTROL, NOT_REPRODUCED, PAPER_FIDELITY, UNTESTED, Claim, CheckedClaim,
                               Fidelity, Outcome, Premise, check_claims, decidable_n, verdict_above,
                               verdict_below)
from medadv_lib.metrics.uncertainty import wilson
from medadv_lib.papers.uap_covidnet.experiment import UAPResults

REDUCED = Fidelity(False, "image_size 64 (paper preset 224)")


def _claim(test, **kw):
    return Claim("c", "a claim", "Table 1", "paper: 0.9", test, {"rate": 0.5}, **kw)


def test_decidable_n_is_the_smallest_sample_that_can_go_either_way():
    # 0 of 12 gives a Wilson interval [0, 0.24]: 12 images cannot show a rate below 10 %
    assert wilson(0, 12).high > 0.10
    n = decidable_n(0.10)
    assert wilson(0, n).high <= 0.10 and wilson(n, n).low > 0.10
    assert wilson(0, n - 1).high > 0.10          # one fewer cannot
    assert decidable_n(0.90) == decidable_n(0.10)  # the Wilson interval is symmetric
    with pytest.raises(ValueError):
        decidable_n(1.0)


def test_a_sample_that_cannot_decide_its_threshold_is_not_decided():
    out = verdict_below(wilson(0, 12), 0.10)
    assert out.verdict == UNTESTED
    assert "n = 12 cannot decide a rate below 10 %" in out.evidence
    assert out.premises and out.premises[0].name == C.POWER and not out.premises[0].met
    # with enough images the same observation decides
    assert verdict_below(wilson(0, 60), 0.10).verdict == HOLDS
    assert verdict_above(wilson(0, 60), 0.10).verdict == FAILS


def test_a_small_sample_that_rejects_its_threshold_decides_the_negative():
    """Issue 29: 12 of 26 images fooled cannot show "below 10 %", but the whole interval lies above
    it, so the claim does not hold (S2 on seed 2 of ten-attacks), while 1 of 26 stays undecided."""
    out = verdict_below(wilson(12, 26), 0.10)
    assert out.verdict == FAILS and not out.premises
    assert "n = 26 could not have shown it" in out.evidence
    assert verdict_below(wilson(1, 26), 0.10).verdict == UNTESTED
    assert verdict_above(wilson(1, 26), 0.90).verdict == FAILS     # the mirror image
    assert verdict_above(wilson(25, 26), 0.90).verdict == UNTESTED


def test_an_unmet_premise_gives_cannot_be_tested_and_names_it():
    claim = _claim(lambda r: verdict_above(wilson(1, 100), 0.5), premises=("fair stand-in",))
    bad = Premise("fair stand-in", False, "test accuracy 0.56 [0.50, 0.62] (n = 300)")
    checked = check_claims([claim], {}, premises={"fair stand-in": bad}, fidelity=PAPER_FIDELITY)[0]
    assert checked.verdict == UNTESTED
    assert "fair stand-in" in checked.outcome.evidence and "0.56" in checked.outcome.evidence
    record = checked.record("ch", "synthetic", preset="default")
    assert record["premises"] == [{"name": "fair stand-in", "met": False, "evidence": bad.evidence}]
    good = Premise("fair stand-in", True, "0.93")
    assert check_claims([claim], {}, premises={"fair stand-in": good}, fidelity=PAPER_FIDELITY)[0].verdict == FAILS


def test_one_decided_counterexample_rejects_a_claim_beside_an_untested_case():
    """A claim over every case does not hold when one case does not, even when another case could
    not be tested; without a failure, an untested case leaves it untested."""
    untested = Outcome.untested("n = 12 cannot decide")
    failed = verdict_above(wilson(20, 300), 0.5)
    held = verdict_above(wilson(290, 300), 0.5)
    assert C.combine({"Small": untested, "Large": failed}).verdict == FAILS
    assert C.combine({"Small": untested, "Large": held}).verdict == UNTESTED
    assert C.combine({"Small": held, "Large": held}).verdict == HOLDS


def test_a_premise_the_chapter_did_not_compute_is_an_error():
    claim = _claim(lambda r: verdict_above(wilson(99, 100), 0.5), premises=("converged",))
    with pytest.raises(ValueError, match="converged"):
        check_claims([claim], {}, premises={}, fidelity=PAPER_FIDELITY)


def test_a_failure_below_the_papers_fidelity_is_not_reproduced_at_this_scale():
    claim = _claim(lambda r: verdict_above(wilson(1, 100), 0.5))
    reduced = check_claims([claim], {}, fidelity=REDUCED)[0]
    assert reduced.verdict == NOT_REPRODUCED
    assert "image_size 64" in reduced.outcome.evidence
    record = reduced.record("ch", "synthetic", preset="default")
    assert record["fidelity"] == "reduced: image_size 64 (paper preset 224)" and record["preset"] == "default"
    assert check_claims([claim], {}, fidelity=PAPER_FIDELITY)[0].verdict == FAILS
    # holds stays holds at any fidelity; a check no paper makes keeps "does not hold"
    assert check_claims([_claim(lambda r: verdict_above(wilson(99, 100), 0.5))], {}, fidelity=REDUCED)[0].verdict == HOLDS
    own = Claim("m", "sanity", "ours", "", lambda r: verdict_above(wilson(1, 100), 0.5), from_paper=False)
    assert check_claims([own], {}, fidelity=REDUCED)[0].verdict == FAILS


def test_the_rules_are_enforced_on_every_record():
    claim = _claim(lambda r: None)
    with pytest.raises(ValueError, match="below the paper's fidelity"):
        CheckedClaim(claim, Outcome(FAILS, "x", 10), REDUCED)
    with pytest.raises(ValueError, match="unmet premise"):
        Outcome(HOLDS, "x", 10, (Premise("p", False, "e"),))
    with pytest.raises(ValueError, match="fidelity"):
        CheckedClaim(claim, Outcome(HOLDS, "x", 10)).record("ch", "synthetic")


def test_fidelity_names_what_differs_from_the_paper_preset():
    from medadv_lib.papers import get_paper
    from medadv_lib.specs import fidelity, resolve_parameters

    spec = get_paper("uap-covidnet")
    default = fidelity(spec, resolve_parameters(spec, "default"))
    assert not default.paper
    assert "preset 'default'" in default.differs and "image_size 64 (paper preset 224)" in default.differs
    assert "data synthetic" in default.differs
    # the paper preset on synthetic data is still reduced: not the paper's kind of data
    paper_synthetic = fidelity(spec, resolve_parameters(spec, "paper"))
    assert not paper_synthetic.paper and paper_synthetic.differs.startswith("data synthetic")


def test_run_names_the_undecidable_claims_before_papermill(capsys, tmp_path):
    from medadv_lib.papers import get_paper
    from medadv_lib.specs import resolve_parameters, undecidable

    spec = get_paper("uap-covidnet")
    lines = undecidable(spec, resolve_parameters(spec, "default", {"n_test": 12}))
    assert any(line.startswith("hirano-rs-near-100: n = 12 cannot decide a rate above 93 %") for line in lines)
    assert undecidable(spec, resolve_parameters(spec, "default")) == []


# --------------------------------------------------------------------------- the UAP chapter's premises

def _uap_results(fooled_uap: float, fooled_random: float, accuracy: float, history="2.0 3.0 4.5 7.0", updates=14,
                 control: float | None = None, models=("Small",), accuracies=None):
    """One hand-made UAP run: per model, test images fooled by the UAPs (both zetas), by their random
    controls and (``control``) by the positive control, universal PGD."""
    from medadv_lib.attacks.uap import UAPResult
    from medadv_lib.papers.uap_covidnet import claims as U
    from medadv_lib.papers.uap_covidnet.experiment import loop_converged

    rng = np.random.default_rng(0)
    n = 300
    true = rng.integers(0, 2, n)
    rows, fooled_control, acc = [], {}, {}

    def add(model, kind, share, zeta=0.02, norm="Linf"):
        wrong = rng.random(n) < share
        pred = np.where(wrong, 1 - true, true)
        rows.append(pd.DataFrame({"model": model, "norm": norm if kind != "clean" else "none",
                                  "zeta": zeta if kind != "clean" else 0.0, "target": "none", "split": "test",
                                  "kind": kind, "image": np.arange(n), "true": true, "pred": pred}))
        return wrong
    for model in models:
        a = (accuracies or {}).get(model, accuracy)
        acc[model] = wilson(int(a * n), n)
        add(model, "clean", 1 - a)
        for z in (0.01, 0.02):
            add(model, "uap", fooled_uap, z)
            add(model, "random", fooled_random, z)
        if control is not None:
            fooled_control[model] = rng.random(n) < control
    loop = UAPResult(None, "inf", 0.1, None, "batched",
                     rate_history=[float(h) / 100 for h in history.split()], updates=updates, steps=1135)
    convergence = pd.DataFrame([{"model": m, "norm": "Linf", "zeta": z, "target": "none", "passes": loop.passes,
                                 "steps": loop.steps, "kept updates": updates, "rate per pass (%)": history,
                                 "converged": loop_converged(loop)}
                                for m in models for z in (0.01, 0.02)])
    r = UAPResults(predictions=pd.concat(rows, ignore_index=True), classes=("normal", "pneumonia"), models=list(models),
                   norms=["Linf"], zetas=[0.01, 0.02], test_accuracy=acc, convergence=convergence,
                   control_fooled=fooled_control)
    return r, U


def _verdicts(r, U, fidelity=PAPER_FIDELITY):
    return {c.claim.id: c for c in check_claims(U.CLAIMS, r, premises=U.premises(r), fidelity=fidelity,
                                                 restrict=U.restrict)}


@pytest.mark.parametrize("control", [0.5, 0.12])
def test_a_weak_converged_uap_decides_its_level_claims_and_silences_its_comparisons(control):
    """Issue 29's audit rule on a weak but converged run (R_f at the random control's and the clean
    error's level, flat over the last three passes), with a met positive control (universal PGD fools 50 %)
    and a failed one (it too stays at the clean error): the level claim is decided either way, the
    control saying what the finding means; the comparison needs the UAPs to have done something."""
    r, U = _uap_results(fooled_uap=0.12, fooled_random=0.12, accuracy=0.88, history="6.0 6.5 6.5 7.0", control=control)
    checks = U.premises(r)
    assert checks[U.STAND_IN].met and checks[U.CONVERGED].met
    assert not checks[U.UAPS_WORK].met and "random" in checks[U.UAPS_WORK].evidence
    assert checks[POSITIVE_CONTROL].met == (control == 0.5)
    level, comparison = "hirano-rf-above-85", "hirano-rf-grows-with-zeta"
    by_id = _verdicts(r, U)
    assert by_id[level].verdict == FAILS                              # a weak UAP at the paper's fidelity
    reading = "falls short of what this model allows" if control == 0.5 else "the model resists at this budget"
    assert reading in by_id[level].outcome.evidence
    assert by_id[level].outcome.control.met == (control == 0.5)
    assert by_id[level].record("uap-covidnet", "synthetic")["control"]["met"] == (control == 0.5)
    assert by_id[comparison].verdict == UNTESTED and U.UAPS_WORK in by_id[comparison].outcome.evidence
    assert by_id["hirano-clean-accuracy"].outcome.control is None     # about the models, not an attack
    reduced = _verdicts(r, U, REDUCED)
    assert reduced[level].verdict == NOT_REPRODUCED and reduced[comparison].verdict == UNTESTED


def test_a_uap_loop_that_did_nothing_and_did_not_converge_is_not_decided():
    # the Kermany default of issue 20: R_f at the random control's and the clean error's level,
    # still rising over the last passes (2.0 -> 7.0 %): no claim on it, level or comparison
    r, U = _uap_results(fooled_uap=0.12, fooled_random=0.12, accuracy=0.88, control=0.5)
    checks = U.premises(r)
    assert checks[U.STAND_IN].met and not checks[U.CONVERGED].met and not checks[U.UAPS_WORK].met
    by_id = _verdicts(r, U)
    for cid in ("hirano-rf-above-85", "hirano-rf-far-above-random", "hirano-small-uaps-fool", "hirano-rf-grows-with-zeta"):
        assert by_id[cid].verdict == UNTESTED, cid
        assert U.CONVERGED in by_id[cid].outcome.evidence


def test_a_claim_is_decided_on_the_models_that_meet_its_premises():
    """Issue 29 item 3: Small is no fair stand-in, Large is. A claim about every model is decided on
    Large, its evidence naming Small and why; a claim comparing Small with Large needs both."""
    r, U = _uap_results(fooled_uap=0.6, fooled_random=0.1, accuracy=0.9, history="54.0 55.0 55.5 56.0", updates=300,
                        control=0.7, models=("Small", "Large"), accuracies={"Small": 0.56, "Large": 0.9})
    checks = U.premises(r)
    assert not checks[U.STAND_IN].met and checks[U.STAND_IN].met_cases() == ["Large"]
    by_id = _verdicts(r, U)
    rf = by_id["hirano-rf-above-85"]
    assert rf.verdict == FAILS and rf.outcome.evidence.startswith("on Large (the models that meet its premises)")
    stand_in = next(p for p in rf.outcome.premises if p.name == U.STAND_IN)
    assert stand_in.met and "left out Small" in stand_in.evidence
    assert by_id["hirano-rf-far-above-random"].verdict == HOLDS         # 60 % against 10 %, on Large
    assert by_id["hirano-rf-large-above-small-1pct"].verdict == UNTESTED  # scope: every model
    # the retraining claims read the retrained model only: Small, left out here, is named
    frame = pd.DataFrame([{"target": "none", "zeta": 0.02, "model": "Small", "arm": "UAP-augmented", "round": k,
                           "image": i, "true": 0, "pred_clean": 0, "pred_uap": 1} for k in (0, 1) for i in range(50)])
    r.retraining, r.retrain_targets = frame, ("none",)
    out = _verdicts(r, U)["hirano-retrain-keeps-accuracy"]
    assert out.verdict == UNTESTED and "retrained COVID-Net (Small) does not meet" in out.outcome.evidence
    # no model qualifies: cannot be tested
    r, U = _uap_results(fooled_uap=0.6, fooled_random=0.1, accuracy=0.56, history="54.0 55.0 55.5 56.0", updates=300,
                        models=("Small", "Large"))
    assert _verdicts(r, U)["hirano-rf-above-85"].verdict == UNTESTED


def test_every_chapter_passes_its_premise_audit():
    """Each chapter's claims declare their kind; a level claim never names an 'attack did
    something' premise, a comparison always does (medadv_lib.verdicts.claims.audit, issue 29)."""
    from medadv_lib.verdicts import COMPARISON, LEVEL, audit
    from medadv_lib.papers.uap_covidnet import claims as U

    table = audit(U.CLAIMS, effect=U.EFFECT)
    assert set(table["kind"]) == {LEVEL, COMPARISON} and len(table) == len(U.CLAIMS)
    wrong = Claim("x", "t", "w", "e", lambda r: None, premises=(U.UAPS_WORK,))
    with pytest.raises(ValueError, match="a level claim names"):
        audit([wrong], effect=U.EFFECT)
    with pytest.raises(ValueError, match="a comparison claim names none"):
        audit([Claim("y", "t", "w", "e", lambda r: None, kind=COMPARISON)], effect=U.EFFECT)


def test_a_uap_loop_that_did_not_converge_is_not_decided():
    r, U = _uap_results(fooled_uap=0.6, fooled_random=0.1, accuracy=0.9, history="4.5 8.0 12.0 17.0", updates=14)
    checks = U.premises(r)
    assert checks[U.UAPS_WORK].met and not checks[U.CONVERGED].met
    assert "4.5 8.0 12.0 17.0" in checks[U.CONVERGED].evidence
    out = check_claims(U.CLAIMS, r, premises=checks, fidelity=PAPER_FIDELITY)
    assert {c.claim.id: c.verdict for c in out}["hirano-rf-above-85"] == UNTESTED
    # converged (flat over the last three passes): now the claim is decided, and fails at the paper's fidelity
    r, U = _uap_results(fooled_uap=0.6, fooled_random=0.1, accuracy=0.9, history="54.0 55.0 55.5 56.0", updates=300)
    checks = U.premises(r)
    assert checks[U.CONVERGED].met
    out = {c.claim.id: c.verdict for c in check_claims(U.CLAIMS, r, premises=checks, fidelity=PAPER_FIDELITY)}
    assert out["hirano-rf-above-85"] == FAILS
    out = {c.claim.id: c.verdict for c in check_claims(U.CLAIMS, r, premises=checks, fidelity=REDUCED)}
    assert out["hirano-rf-above-85"] == NOT_REPRODUCED


def test_a_weak_model_is_no_fair_stand_in():
    r, U = _uap_results(fooled_uap=0.6, fooled_random=0.1, accuracy=0.56, history="54.0 55.0 55.5 56.0", updates=300)
    checks = U.premises(r)
    assert not checks[U.STAND_IN].met and "needs a lower bound >= 0.8" in checks[U.STAND_IN].evidence
    out = {c.claim.id: c.verdict for c in check_claims(U.CLAIMS, r, premises=checks, fidelity=REDUCED)}
    assert out["hirano-rf-above-85"] == UNTESTED
    assert out["hirano-clean-accuracy"] == NOT_REPRODUCED   # the accuracy claim itself is tested


def test_training_curves_show_the_loss_per_epoch_and_the_last_change():
    from types import SimpleNamespace

    from medadv_lib.training import training_curves

    runs = {"Small": SimpleNamespace(model_name="covidnet-small", history=[
                {"epoch": 1, "loss": 1.0, "test_accuracy": 0.5}, {"epoch": 2, "loss": 0.8, "test_accuracy": 0.6}]),
            ("clean", None, 0): SimpleNamespace(model_name="densenet-small", history=[{"epoch": 1, "loss": 0.5}])}
    table = training_curves(runs)
    assert table.loc["Small", "loss per epoch"] == "1.000 0.800"
    assert table.loc["Small", "last-epoch change of the loss (%)"] == -20.0
    assert table.loc["Small", "held-out accuracy per epoch"] == "0.500 0.600"
    assert "clean 0" in table.index


def test_universal_pgd_is_a_positive_control_that_finds_a_shared_perturbation():
    import torch
    import torch.nn as nn

    from medadv_lib.attacks.uap import universal_pgd

    torch.manual_seed(0)
    # a linear two-class model on 1x8x8 images: one shared direction flips every image
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[0].fill_(1.0)
        model[1].weight[1].fill_(-1.0)
        model[1].bias.zero_()
    images = 0.5 + 0.01 * torch.rand(32, 1, 8, 8)           # all class 0 (sum > 0)
    result = universal_pgd(model, images, xi=0.6, norm="inf", steps=20, progress=False)
    assert result.perturbation.abs().max() <= 0.6 + 1e-6
    assert result.rate_history[0] == 0.0 and result.rate_history[-1] == 1.0
    with torch.no_grad():
        assert (model(images + result.perturbation).argmax(1) == 1).all()
    assert model.training                                     # the caller's mode is given back


def test_ten_attacks_positive_control_runs_pgd_at_the_median_minimal_size():
    from types import SimpleNamespace

    import torch
    import torch.nn as nn

    from medadv_lib.papers.ten_attacks import experiment as ex

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 1))
    x = torch.rand(10, 1, 8, 8)
    with torch.no_grad():
        y = (model(x).squeeze(1) > 0).long()             # every image correct clean
    test = SimpleNamespace(float_images=lambda: x, targets=y)
    data = SimpleNamespace(test_of=lambda variant: test)
    attacks = pd.DataFrame({"variant": "A", "setting": "white", "clean_correct": True, "attack": "G1",
                            "success": [True] * 5 + [False] * 5, "linf": [0.5] * 5 + [0.0] * 5,
                            "image": np.arange(10)})
    table = ex.positive_control({"A": model}, data, SimpleNamespace(attacks=attacks), 10, 0, "cpu")
    assert table.loc["A", "median minimal L-inf (x255)"] == 127.5
    assert table.loc["A", "minimal attacks' success (%)"] == "50.0"
    assert table.loc["A", "PGD success at that budget [95% CI] (%)"].startswith("100.0")   # a budget that suffices


def test_fidelity_inside_the_kernel_does_not_recheck_a_relative_data_root(tmp_path, monkeypatch):
    """The kernel runs in the output folder: a relative data_root checked before papermill no
    longer resolves there, and the fidelity must not re-check it (it only compares values)."""
    from medadv_lib.specs import REPO_ROOT, fidelity, resolve_parameters
    from medadv_lib.papers import get_paper

    from conftest import shared_or_skip

    spec = get_paper("smia")
    shared_or_skip("data/medmnist")
    monkeypatch.chdir(REPO_ROOT)
    params = resolve_parameters(spec, "smoke", {"dataset": "retinamnist", "data_root": "../shared/data/medmnist"})
    monkeypatch.chdir(tmp_path)
    run = fidelity(spec, params)
    assert not run.paper and "data retinamnist" in run.differs
