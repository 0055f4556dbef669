"""The claims of Hirano et al. 2020 on hand-made result tables: where each must hold, must fail, or
cannot be decided by a small sample."""
import numpy as np
import pandas as pd
import pytest

from medadv_lib.verdicts import FAILS, HOLDS, INCONCLUSIVE, UNTESTED
from medadv_lib.papers.uap_covidnet.claims import CLAIMS
from medadv_lib.papers.uap_covidnet.experiment import UAPResults
from medadv_lib.papers.uap_covidnet.published import PUBLISHED

CLASSES = ("normal", "pneumonia", "COVID-19")
BY_ID = {c.id: c for c in CLAIMS}


def _preds(true, fooled_share, goal, rng):
    """Predictions where a ``fooled_share`` of the images go to ``goal`` (a class index) or, with
    ``goal`` None, to the next class."""
    pred = true.copy()
    hit = rng.random(len(true)) < fooled_share
    pred[hit] = goal if goal is not None else (true[hit] + 1) % len(CLASSES)
    if goal is not None:  # images of the goal class already "reach" it; others are not sent there otherwise
        pred[~hit & (pred == goal) & (true != goal)] = (goal + 1) % len(CLASSES)
    return pred


def results(n=600, rf=(0.6, 0.9), rf_random=0.05, rs=(0.7, 0.97), rs_random=0.3, to_disease=True,
            train_bonus=0.05, large_bonus=0.0, l2_bonus=0.0, clean_accuracy=0.95, retrain=None, seed=0):
    """A sweep's ``predictions`` table (and optionally ``retraining``) with chosen rates."""
    rng = np.random.default_rng(seed)
    true = np.arange(n) % 3
    frames = []

    def add(model, norm, zeta, target, split, kind, pred):
        frames.append(pd.DataFrame({"model": model, "norm": norm, "zeta": zeta, "target": target, "split": split,
                                    "kind": kind, "image": np.arange(n), "true": true, "pred": pred}))

    for model in ("Small", "Large"):
        for split in ("train", "test"):
            add(model, "none", 0.0, "none", split, "clean", _preds(true, 1 - clean_accuracy, None, rng))
            bonus = (train_bonus if split == "train" else 0) + (large_bonus if model == "Large" else 0)
            for norm in ("L2", "Linf"):
                extra = l2_bonus if norm == "L2" else 0.0
                for zeta, f, s in zip((0.01, 0.02), rf, rs):
                    add(model, norm, zeta, "none", split, "uap",
                        _preds(true, min(f + bonus, 1), 2 if to_disease else None, rng))
                    add(model, norm, zeta, "none", split, "random", _preds(true, rf_random, None, rng))
                    for k, target in enumerate(CLASSES):
                        add(model, norm, zeta, target, split, "uap", _preds(true, min(s + bonus + extra, 1), k, rng))
                        add(model, norm, zeta, target, split, "random", _preds(true, rs_random, k, rng))
    return UAPResults(predictions=pd.concat(frames, ignore_index=True), retraining=retrain, classes=CLASSES,
                      models=["Small", "Large"], norms=["L2", "Linf"], zetas=[0.01, 0.02],
                      retrain_targets=tuple(dict.fromkeys(retrain["target"])) if retrain is not None else (),
                      visibility=pd.DataFrame({"model": ["Small"], "norm": ["Linf"], "zeta": [0.02],
                                               "target": ["none"], "linf_255": [4.7], "ssim": [0.98]}))


def retraining(n=600, before=0.9, after=0.3, control_after=0.8, acc_before=0.9, acc_after=0.9,
               pneumonia_left=0.45, seed=1, target="none"):
    """A ``retraining`` table of Small: the new UAP's rate before and after one round (R_f, or R_s
    toward ``target``), in both arms."""
    rng = np.random.default_rng(seed)
    goal = None if target == "none" else CLASSES.index(target)
    true = np.arange(n) % 3
    frames = []
    clean = _preds(true, 1 - acc_before, None, rng)
    for arm, last in (("UAP-augmented", after), ("clean control", control_after)):
        for round_, (rate_, acc) in enumerate([(before, acc_before), (last, acc_after)]):
            pred_clean = clean if acc == acc_before else _preds(true, 1 - acc, None, rng)
            pred_uap = _preds(true, rate_, goal, rng)
            if arm == "UAP-augmented" and round_ == 1 and pneumonia_left is not None and goal is None:
                pred_uap = true.copy()
                pneu = true == 1
                pred_uap[pneu & (rng.random(n) < pneumonia_left)] = 2
            frames.append(pd.DataFrame({"target": target, "zeta": 0.02 if goal is None else 0.01, "model": "Small",
                                        "arm": arm, "round": round_, "image": np.arange(n),
                                        "true": true, "pred_clean": pred_clean,
                                        "pred_uap": pred_uap}))
    return pd.concat(frames, ignore_index=True)


def verdict(claim_id, r):
    return BY_ID[claim_id].check(r).outcome


@pytest.mark.parametrize("claim_id, good, bad", [
    ("hirano-clean-accuracy", {}, {"clean_accuracy": 0.5}),
    ("hirano-rf-grows-with-zeta", {}, {"rf": (0.9, 0.6)}),
    ("hirano-rf-above-85", {"rf": (0.6, 0.95), "to_disease": False}, {"rf": (0.6, 0.7)}),
    ("hirano-rf-far-above-random", {}, {"rf_random": 0.85}),
    ("hirano-small-uaps-fool", {}, {"rf": (0.1, 0.9)}),
    ("hirano-rf-norm-independent", {"n": 3000}, {"l2_bonus": 0.0, "rf": (0.6, 0.9), "_norm_gap": True}),
    ("hirano-rf-large-above-small-1pct", {"large_bonus": 0.2}, {"large_bonus": -0.3}),
    ("hirano-rf-models-alike-2pct", {"n": 3000}, {"large_bonus": -0.3}),
    ("hirano-rf-train-above-test", {"train_bonus": 0.2, "rf": (0.5, 0.6), "to_disease": False}, {"train_bonus": -0.2}),
    ("hirano-most-to-disease", {}, {"to_disease": False}),
    ("hirano-all-to-disease-2pct", {"rf": (0.9, 1.0)}, {"to_disease": False}),
    ("hirano-to-disease-1pct", {"rf": (0.95, 1.0)}, {"to_disease": False}),
    ("hirano-rs-above-90", {"rs": (0.7, 1.0)}, {"rs": (0.7, 0.5)}),
    ("hirano-rs-near-100", {"rs": (0.7, 1.0)}, {"rs": (0.7, 0.8)}),
    ("hirano-rs-1pct", {"rs": (0.8, 1.0)}, {"rs": (0.2, 1.0)}),
    ("hirano-rs-near-100", {"rs": (0.7, 0.99)}, {"rs": (0.7, 0.85)}),
    ("hirano-rs-grows-with-zeta", {}, {"rs": (0.9, 0.5)}),
    ("hirano-rs-p2-above-pinf", {"l2_bonus": 0.1}, {"l2_bonus": -0.2}),
    ("hirano-rs-far-above-random", {}, {"rs_random": 0.95}),
])
def test_claim_holds_and_fails_on_hand_made_tables(claim_id, good, bad):
    assert verdict(claim_id, results(**good)).verdict == HOLDS, verdict(claim_id, results(**good)).evidence
    bad = dict(bad)
    if bad.pop("_norm_gap", False):              # a 30-point gap between the norms
        r = results(**bad)
        p = r.predictions
        rows = (p["norm"] == "L2") & (p["target"] == "none") & (p["kind"] == "uap")
        p.loc[rows, "pred"] = p.loc[rows, "true"]
        assert verdict(claim_id, r).verdict == FAILS
        return
    assert verdict(claim_id, results(**bad)).verdict == FAILS, verdict(claim_id, results(**bad)).evidence


def test_small_samples_are_inconclusive_not_holds():
    out = verdict("hirano-rf-above-85", results(n=30, rf=(0.6, 0.9), to_disease=False, seed=3))
    assert out.verdict == INCONCLUSIVE and out.label == "inconclusive at n = 30"


def test_disease_target_and_resisting_disease_images():
    r = results(rs=(0.5, 0.97))
    p = r.predictions
    to_covid = (p["target"] == "COVID-19") & (p["kind"] == "uap") & (p["zeta"] == 0.01)
    p.loc[to_covid, "pred"] = 2                                      # COVID-19 target: every image reaches it
    assert verdict("hirano-disease-target-easiest", r).verdict == HOLDS
    others = (p["target"].isin(["normal", "pneumonia"])) & (p["kind"] == "uap") & (p["zeta"] == 0.01) & (p["true"] == 2)
    p.loc[others, "pred"] = 2                                        # COVID-19 images stay COVID-19
    assert verdict("hirano-disease-images-resist-1pct", r).verdict == HOLDS
    p.loc[others, "pred"] = 0
    assert verdict("hirano-disease-images-resist-1pct", r).verdict == FAILS
    p.loc[to_covid, "pred"] = p.loc[to_covid, "true"]
    assert verdict("hirano-disease-target-easiest", r).verdict == FAILS


def test_retraining_claims():
    r = results(retrain=retraining())
    for claim_id in ("hirano-retrain-lowers-rf", "hirano-retrain-keeps-accuracy", "hirano-retrain-pneumonia-remains",
                     "hirano-retrain-beats-control"):
        assert verdict(claim_id, r).verdict == HOLDS, claim_id
    r = results(retrain=retraining(after=0.95, acc_after=0.5, control_after=0.1, pneumonia_left=None))
    for claim_id in ("hirano-retrain-lowers-rf", "hirano-retrain-keeps-accuracy", "hirano-retrain-beats-control"):
        assert verdict(claim_id, r).verdict == FAILS, claim_id
    out = verdict("hirano-retrain-lowers-rs", r)                            # nontargeted retraining only
    assert out.verdict == UNTESTED and "no retraining against UAPs toward COVID-19" in out.evidence
    # Fig. 5B beside 5A: each claim reads its own retraining
    both = results(retrain=pd.concat([retraining(), retraining(target="COVID-19", seed=2)], ignore_index=True))
    for claim_id in ("hirano-retrain-lowers-rf", "hirano-retrain-lowers-rs", "hirano-retrain-keeps-accuracy",
                     "hirano-retrain-beats-control"):
        assert verdict(claim_id, both).verdict == HOLDS, claim_id
    assert "against R_s (COVID-19) UAPs" in verdict("hirano-retrain-keeps-accuracy", both).evidence
    targeted_only = results(retrain=retraining(target="COVID-19"))
    assert verdict("hirano-retrain-lowers-rs", targeted_only).verdict == HOLDS
    assert verdict("hirano-retrain-lowers-rf", targeted_only).verdict == UNTESTED
    assert verdict("hirano-retrain-beats-control", targeted_only).verdict == UNTESTED
    targeted_only.retraining = retraining(target="COVID-19", after=0.95)
    assert verdict("hirano-retrain-lowers-rs", targeted_only).verdict == FAILS
    assert verdict("hirano-retrain-lowers-rf", results(retrain=None)).verdict == UNTESTED


def _with_premises(r):
    """``r`` with what the stand-in and convergence premises read: accurate models, converged loops."""
    from medadv_lib.metrics.uncertainty import wilson
    n = int((r.predictions["kind"] == "clean").sum() // 4)
    r.test_accuracy = {m: wilson(int(0.95 * n), n) for m in r.models}
    r.convergence = pd.DataFrame([{"model": m, "norm": "Linf", "zeta": 0.02, "target": "none", "passes": 4,
                                   "steps": 900, "kept updates": 30, "rate per pass (%)": "50.0 55.0 55.5 56.0",
                                   "converged": True} for m in r.models])
    return r


def _does_nothing(r, target, models=("Small", "Large")):
    """The UAPs aimed at ``target`` on ``models`` send no more images there than their random controls."""
    p = r.predictions
    random = p[(p["target"] == target) & (p["kind"] == "random") & p["model"].isin(models)]
    p.loc[(p["target"] == target) & (p["kind"] == "uap") & p["model"].isin(models), "pred"] = random["pred"].to_numpy()


def _checked(r, restrict=True):
    from medadv_lib.verdicts import PAPER_FIDELITY, check_claims
    from medadv_lib.papers.uap_covidnet import claims as U
    return {c.claim.id: c for c in check_claims(CLAIMS, r, premises=U.premises(r), fidelity=PAPER_FIDELITY,
                                                 restrict=U.restrict if restrict else None)}


def test_targeted_comparisons_are_decided_on_the_targets_whose_uaps_did_something():
    """Issue 29, premises per case: the UAPs aimed at pneumonia do nothing on either model (seed 0 of
    the default: 28 % against random -1 point); the comparisons of targeted UAPs are decided on the
    other targets, naming pneumonia and why; a level claim still reads every target."""
    from medadv_lib.papers.uap_covidnet import claims as U
    r = _with_premises(results(retrain=retraining()))
    _does_nothing(r, "pneumonia")
    worked = U.premises(r)[U.TARGETED_WORK]
    assert not worked.met
    assert worked.met_cases() == [("Small", "normal"), ("Small", "COVID-19"), ("Large", "normal"), ("Large", "COVID-19")]
    by_id = _checked(r)
    grows = by_id["hirano-rs-grows-with-zeta"]
    assert grows.verdict == HOLDS
    assert grows.outcome.evidence.startswith("on Small / normal, Small / COVID-19, Large / normal, Large / COVID-19 "
                                             "(the cases that meet its premises)")
    assert "-> pneumonia" not in grows.outcome.evidence
    premise = next(p for p in grows.outcome.premises if p.name == U.TARGETED_WORK)
    assert premise.met and "left out Small / pneumonia" in premise.evidence and "Large / pneumonia" in premise.evidence
    assert by_id["hirano-rs-p2-above-pinf"].verdict != UNTESTED
    assert by_id["hirano-disease-target-easiest"].verdict != UNTESTED
    assert by_id["hirano-rs-above-90"].verdict == FAILS                 # a level claim reads pneumonia too
    assert "-> pneumonia" in by_id["hirano-rs-above-90"].outcome.evidence
    assert by_id["hirano-rf-grows-with-zeta"].verdict == HOLDS          # nontargeted: untouched
    # without the chapter's restriction the run is tested as a whole: every targeted comparison waits
    assert _checked(r, restrict=False)["hirano-rs-grows-with-zeta"].verdict == UNTESTED


def test_a_targeted_claim_whose_own_target_did_nothing_says_so():
    from medadv_lib.papers.uap_covidnet import claims as U
    r = _with_premises(results(retrain=pd.concat([retraining(), retraining(target="COVID-19", seed=2)],
                                                 ignore_index=True)))
    _does_nothing(r, "COVID-19", models=("Small",))
    by_id = _checked(r)
    assert by_id["hirano-rs-grows-with-zeta"].verdict == HOLDS          # on the five other cases
    easiest = by_id["hirano-disease-target-easiest"].outcome
    assert easiest.verdict == UNTESTED and "toward COVID-19" in easiest.evidence and "Small" in easiest.evidence
    lowers = by_id["hirano-retrain-lowers-rs"].outcome                 # Small was retrained against COVID-19
    assert lowers.verdict == UNTESTED and "retrained COVID-Net (Small) does not meet" in lowers.evidence
    # the restriction keeps the nontargeted rows and drops only the pairs left out
    assert by_id["hirano-retrain-lowers-rf"].verdict == HOLDS         # the nontargeted retraining stays
    kept = U.restrict(r, [("Small", "normal"), ("Large", "COVID-19")])
    targets = kept.predictions.groupby("model")["target"].unique().map(set).to_dict()
    assert targets == {"Small": {"none", "normal"}, "Large": {"none", "COVID-19"}}
    assert set(kept.retraining["target"]) == {"none"} and kept.retrained_left_out == ("Small",)


def test_untestable_cases_say_why():
    r = results()
    r.zetas = [0.02]
    out = verdict("hirano-rf-grows-with-zeta", r)
    assert out.verdict == UNTESTED and "one zeta" in out.evidence
    r = results()
    r.classes = ("normal", "pneumonia")
    r.retraining = retraining()
    assert verdict("hirano-retrain-pneumonia-remains", r).verdict == UNTESTED


def test_imperceptibility_proxy():
    r = results()
    assert verdict("hirano-imperceptible", r).verdict == HOLDS
    r.visibility.loc[0, "linf_255"] = 20.0
    assert verdict("hirano-imperceptible", r).verdict == FAILS


def test_every_paper_check_reads_the_published_tables():
    verdicts = {c.id: c.paper_verdict(PUBLISHED) for c in CLAIMS}
    checked = {k: v for k, v in verdicts.items() if v != "stated"}
    assert len(checked) >= 12 and all(v == HOLDS for v in checked.values()), checked
    assert len({c.id for c in CLAIMS}) == len(CLAIMS) >= 25
