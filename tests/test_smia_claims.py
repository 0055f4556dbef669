"""The SMIA chapter's claims decide holds / does not hold / inconclusive from per-image tables."""
import numpy as np
import pandas as pd
import pytest

from medadv_lib.claims import FAILS, HOLDS, INCONCLUSIVE, UNTESTED
from medadv_lib.papers.smia.claims import CLAIMS
from medadv_lib.papers.smia.experiment import BASELINES, SMIAResults, headline, sweep_table, table1, table6
from medadv_lib.papers.smia.published import PUBLISHED

N = 60


def _tables(smia_score: float, rng_seed: int = 0, alpha_best: float = 1.0):
    """Per-image tables (an :class:`SMIAResults` without the grader's accuracy): clean 1; baselines
    leave ``0.6``; DEV 0.5; SMIA ``smia_score`` (a share of images still correct, or a Jaccard
    level), with SMIA's variance the lowest and its cosines the highest."""
    rng = np.random.default_rng(rng_seed)
    rows, sweeps = [], []

    def outcome(level):
        return (rng.random(N) < level).astype(float)

    for task in ("classification", "segmentation"):
        rows.append(pd.DataFrame({"task": task, "method": "clean", "image": range(N), "score": 1.0, "variance": 0.0,
                                  "linf": 0.0, "cosine": np.nan}))
        levels = {m: 0.6 for m in BASELINES[task]} | {"DEV": 0.5, "SMIA": smia_score}
        for method, level in levels.items():
            rows.append(pd.DataFrame({
                "task": task, "method": method, "image": range(N), "score": outcome(level),
                "variance": rng.normal(1e-4 if method == "SMIA" else 2e-4, 1e-5, N), "linf": 0.01,
                "cosine": np.nan if method in BASELINES[task] else (0.9 if method == "SMIA" else 0.5)
                + rng.normal(0, 0.02, N)}))
        for t, level in ((1, 0.9), (2, 0.7), (4, smia_score)):
            sweeps.append(pd.DataFrame({"table": "2: iterations", "task": task, "value": float(t), "image": range(N),
                                        "score": outcome(level)}))
        for eps, level in ((0.5, 0.8), (1.0, smia_score), (2.0, 0.05)):
            sweeps.append(pd.DataFrame({"table": "3: epsilon", "task": task, "value": eps, "image": range(N),
                                        "score": outcome(level)}))
        for a in (0.0, 1.0, 2.0):
            level = smia_score if a == alpha_best else 0.6
            sweeps.append(pd.DataFrame({"table": "4: alpha", "task": task, "value": a, "image": range(N),
                                        "score": outcome(level)}))
    return SMIAResults(scores=pd.concat(rows, ignore_index=True), sweeps=pd.concat(sweeps, ignore_index=True),
                       alpha=1.0)


def _verdicts(results):
    return {c.id: c.check(results).outcome.verdict for c in CLAIMS}


def test_a_clearly_stronger_smia_holds():
    v = _verdicts(_tables(0.05))
    for claim in ("qi-sta-stronger", "qi-sta-consistent", "qi-more-iterations", "qi-larger-epsilon", "qi-alpha-one",
                  "qi-beats-second-best-aptos", "qi-beats-dag-covid", "qi-beats-fgsm-pgd", "qi-lowest-variance"):
        assert v[claim] == HOLDS, claim
    assert v["qi-kaggle-fpr"] == UNTESTED and v["qi-ead-iou"] == UNTESTED


def test_a_weaker_smia_does_not_hold():
    v = _verdicts(_tables(0.95))
    assert v["qi-sta-stronger"] == FAILS
    assert v["qi-beats-second-best-aptos"] == FAILS and v["qi-beats-dag-covid"] == FAILS
    assert v["qi-beats-fgsm-pgd"] == FAILS


def test_a_small_difference_is_inconclusive():
    # SMIA at the baselines' level (0.6 of the images kept), drawn on its own: 60 images cannot decide
    results = _tables(0.6)
    v = _verdicts(results)
    assert v["qi-beats-second-best-aptos"] == INCONCLUSIVE and v["qi-beats-dag-covid"] == INCONCLUSIVE


def test_another_alpha_surely_better_fails_alpha_one():
    assert _verdicts(_tables(0.05, alpha_best=2.0))["qi-alpha-one"] == FAILS


def test_tables_put_the_papers_statement_beside_ours():
    results = _tables(0.05)
    t6 = table6(results.scores)
    assert t6.loc[("segmentation", "SMIA"), "paper (Sec. 4.2, prose)"].startswith(PUBLISHED["text"]["table6_covid19"])
    assert t6.loc[("classification", "PGD"), "paper (Sec. 4.2, prose)"] == "not printed"
    assert (t6["n"] == N).all() and "[" in t6.loc[("classification", "SMIA"), "drop"]
    t1 = table1(results.scores)
    assert list(t1.index.get_level_values("loss")[:2]) == ["DEV", "DEV+STA"]
    sweep = sweep_table(results.sweeps, results.scores)
    assert set(sweep.index.get_level_values("table")) == {"2: iterations", "3: epsilon", "4: alpha"}
    assert "images per task" in headline(results.scores)


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_every_claim_cites_the_paper(claim):
    assert claim.where.startswith("Sec. 4") and claim.text and claim.paper_evidence


def test_a_budget_that_moves_nothing_leaves_the_comparisons_untested():
    """Issue 20: when FGSM (the weakest baseline) does not move the model, no method can beat
    another: the comparisons are untested, the variance claim (no model needed) is decided."""
    from medadv_lib.claims import PAPER_FIDELITY, UNTESTED, check_claims
    from medadv_lib.papers.smia.claims import MOVED, premises

    r = _tables(0.2)
    checks = premises(r)
    assert checks[MOVED].met                      # baselines leave 0.6 of a clean 1.0: a 0.4 drop
    stuck = _tables(0.2)
    s = stuck.scores
    s.loc[s["method"] == "FGSM", "score"] = 1.0   # FGSM moves nothing
    checks = premises(stuck)
    assert not checks[MOVED].met and "FGSM drop" in checks[MOVED].evidence
    out = {c.claim.id: c.verdict for c in check_claims(CLAIMS, stuck, premises=checks, fidelity=PAPER_FIDELITY)}
    assert out["qi-beats-fgsm-pgd"] == UNTESTED and out["qi-lowest-variance"] != UNTESTED


def test_the_stand_in_premise_reads_the_graders_accuracy_from_the_results():
    """The grader's accuracy and its chance level travel in the results (one argument to premises)."""
    from medadv_lib.claims import STAND_IN
    from medadv_lib.metrics.uncertainty import wilson
    from medadv_lib.papers.smia.claims import premises
    from medadv_lib.papers.smia.experiment import claim_results

    tables = _tables(0.2)
    assert premises(tables)[STAND_IN].met                      # no classifier: nothing to stand in for
    fair = claim_results(tables.scores, tables.sweeps, 1, {"fundus grader": wilson(90, 100)}, 0.5)
    weak = claim_results(tables.scores, tables.sweeps, 1, {"fundus grader": wilson(52, 100)}, 0.5)
    assert premises(fair)[STAND_IN].met and not premises(weak)[STAND_IN].met
    assert "fundus grader test accuracy" in premises(weak)[STAND_IN].evidence
