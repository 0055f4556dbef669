"""Intervals (Wilson, bootstrap) and the claim verdicts that use them."""
import math

import numpy as np
import pytest

from medadv_lib.verdicts import (FAILS, HOLDS, INCONCLUSIVE, PAPER_FIDELITY, UNTESTED, Claim, Outcome, check_claims,
                               combine, format_claims, verdict_above, verdict_below)
from medadv_lib.metrics import uncertainty as u


def test_wilson_matches_the_textbook_interval():
    est = u.wilson(8, 12)
    # Wilson 95 % for 8/12: centre (p + z^2/2n)/(1 + z^2/n), z = 1.95996
    z, n, p = 1.959964, 12, 8 / 12
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert est.value == pytest.approx(p)
    assert est.low == pytest.approx(centre - half, abs=1e-6) and est.high == pytest.approx(centre + half, abs=1e-6)
    assert est.n == 12 and u.wilson(0, 5).low == 0.0 and u.wilson(5, 5).high == 1.0
    assert math.isnan(u.wilson(0, 0).value)
    with pytest.raises(ValueError):
        u.wilson(6, 5)


def test_rate_needs_one_outcome_per_image():
    assert u.rate([True, False, True, True]).value == 0.75
    with pytest.raises(ValueError, match="boolean"):
        u.rate([0.2, 0.9])


def test_binary_auroc_and_its_interval_are_seeded():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = y + rng.normal(0, 1.0, 200)
    a, b = u.auroc(y, s, seed=1), u.auroc(y, s, seed=1)
    from sklearn.metrics import roc_auc_score
    assert a.value == pytest.approx(roc_auc_score(y, s)) and a == b
    assert a.low < a.value < a.high and a.high - a.low < 0.2
    assert math.isnan(u.auroc(np.ones(5), np.arange(5.0)).value)
    single = u.auroc(np.array([1, 0, 0, 0]), np.array([0.9, 0.1, 0.2, 0.3]))   # one positive image
    assert single.value == 1.0 and math.isnan(single.low) and single.above(0.5) is None


def test_micro_auroc_and_paired_difference():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (60, 4)).astype(float)
    scores = y + rng.normal(0, 0.8, y.shape)
    scores[:5] = np.round(scores[:5])            # ties
    est = u.auroc(y, scores, seed=0)
    from sklearn.metrics import roc_auc_score
    assert est.value == pytest.approx(roc_auc_score(y, scores, average="micro"), abs=1e-12)
    assert 0.6 < est.low < est.value < est.high <= 1.0 and est.n == 60
    a = rng.random(300) < 0.7
    b = rng.random(300) < 0.3
    d = u.paired_difference(a, b)
    assert d.value == pytest.approx(a.mean() - b.mean()) and d.low > 0.25
    same = u.paired_difference(a, a)       # every pair agrees: no certainty from 300 images either
    bound = u.wilson(0, 300).high
    assert same.value == 0 and same.low == pytest.approx(-bound) and same.high == pytest.approx(bound)
    assert "Wilson" in same.method
    all_up = u.paired_difference(np.ones(12, bool), np.zeros(12, bool))   # 12 of 12 improve
    assert all_up.value == 1 and all_up.high == 1 and all_up.low == pytest.approx(1 - u.wilson(0, 12).high)
    assert all_up.above(0) is True and same.above(0) is None
    values = u.paired_difference(np.full(20, 0.5), np.full(20, 0.25))   # not yes/no: the bootstrap
    assert values.method == "bootstrap"


def test_estimate_sides_decide_or_abstain():
    est = u.Estimate(0.5, 0.4, 0.6, 50, "test")
    assert est.above(0.3) is True and est.above(0.6) is False and est.above(0.5) is None
    assert est.below(0.7) is True and est.below(0.4) is False and est.below(0.55) is None
    assert est.fmt(percent=True) == "50.0 [40.0, 60.0]" and str(est) == "0.500 [0.400, 0.600] (n=50)"


def test_verdicts_use_the_interval():
    assert verdict_above(u.Estimate(0.9, 0.86, 0.94, 300, "t"), 0.85).verdict == HOLDS
    assert verdict_above(u.Estimate(0.5, 0.4, 0.6, 300, "t"), 0.85).verdict == FAILS
    out = verdict_above(u.Estimate(0.87, 0.80, 0.93, 12, "t"), 0.85)
    assert out.verdict == INCONCLUSIVE and out.label == "inconclusive at n = 12"
    assert verdict_below(u.Estimate(0.05, 0.0, 0.09, 40, "t"), 0.1).verdict == HOLDS


def test_combine_all_cases():
    h, f, i = Outcome(HOLDS, "a", 10), Outcome(FAILS, "b", 20), Outcome(INCONCLUSIVE, "c", 5)
    assert combine([h, h]).verdict == HOLDS
    assert combine({"x": h, "y": f, "z": i}).verdict == FAILS
    both = combine({"x": h, "z": i})
    assert both.verdict == INCONCLUSIVE and both.n == 5 and both.evidence == "x: a; z: c"
    assert combine([h, Outcome.untested("no retraining")]).verdict == UNTESTED


def test_claims_checked_and_printed_with_evidence():
    claim = Claim("c1", "rates exceed 0.5", "Table 1", "paper: 0.9",
                  lambda r: verdict_above(r["rate"], 0.5), {"threshold": 0.5},
                  paper_check=lambda p: p["rate"] > 0.5)
    checked = check_claims([claim], {"rate": u.wilson(9, 10)}, fidelity=PAPER_FIDELITY)
    assert checked[0].verdict == HOLDS
    assert format_claims(checked).startswith("[holds (1 seed)] c1: 0.900 [")
    assert claim.paper_verdict({"rate": 0.4}) == FAILS and claim.paper_verdict(None) == "stated"
    record = checked[0].record("ch", "synthetic", {"rate": 0.9})
    assert record["paper_verdict"] == HOLDS and record["n"] == 10
    with pytest.raises(ValueError, match="duplicate"):
        check_claims([claim, claim], {"rate": u.wilson(1, 2)}, fidelity=PAPER_FIDELITY)


def test_above_chance_says_plainly_when_a_model_has_not_learned_the_task():
    from medadv_lib.metrics.uncertainty import wilson
    from medadv_lib.verdicts import above_chance

    good = {"A": wilson(90, 100), "B": wilson(80, 100)}
    assert above_chance(good, 0.5, "accuracy").startswith("**Better than chance:** every model")
    weak = {"A": wilson(90, 100), "B": wilson(55, 100)}     # B's interval [0.45, 0.64] reaches 0.5
    text = above_chance(weak, 0.5, "accuracy")
    assert text.startswith("**Not clearly better than chance:** B (") and "cannot test the paper's claims" in text
    assert "A 0.900" in text and "this model" in text
