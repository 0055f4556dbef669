"""The SMIA chapter's claims decide holds / does not hold / inconclusive from per-image tables."""
import numpy as np
import pandas as pd
import pytest

from medadv_lib.verdicts import FAILS, HOLDS, INCONCLUSIVE, UNTESTED
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
    from medadv_lib.verdicts import PAPER_FIDELITY, UNTESTED, check_claims
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
    from medadv_lib.verdicts import STAND_IN
    from medadv_lib.metrics.uncertainty import wilson
    from medadv_lib.papers.smia.claims import premises
    from medadv_lib.papers.smia.experiment import claim_results

    tables = _tables(0.2)
    assert premises(tables)[STAND_IN].met                      # no classifier: nothing to stand in for
    fair = claim_results(tables.scores, tables.sweeps, 1, {"fundus grader": wilson(90, 100)}, 0.5)
    weak = claim_results(tables.scores, tables.sweeps, 1, {"fundus grader": wilson(52, 100)}, 0.5)
    assert premises(fair)[STAND_IN].met and not premises(weak)[STAND_IN].met
    assert "fundus grader test accuracy" in premises(weak)[STAND_IN].evidence


# --------------------------------------------------------------------------- premise audit (issue 29)

def _stuck(tables, tasks=("classification", "segmentation")):
    """FGSM moves nothing on ``tasks`` (every method's score left at the clean 1.0 there): a budget
    at which no comparison of scores can show anything."""
    s = tables.scores
    s.loc[s["task"].isin(tasks) & (s["method"] != "clean"), "score"] = 1.0
    return tables


def _control(fgsm_drop: float, n: int = N, smia_drop: float = 0.5):
    """A positive control per task: per-image drops (1/0) at a step x16, FGSM's at ``fgsm_drop``."""
    def drops(level, seed):
        return (np.random.default_rng(seed).random(n) < level).astype(float)
    return {t: (16.0, 16 * 1e-4, {"FGSM": drops(fgsm_drop, 1), "PGD": drops(fgsm_drop, 2), "SMIA": drops(smia_drop, 3)})
            for t in ("classification", "segmentation")}


def test_the_premise_audit_passes_and_sorts_the_claims():
    """Every claim of Sec. 4 compares methods or settings: the score comparisons need MOVED, the two
    on the perturbation's shape need PERTURBED only (a weak attack still has a shape)."""
    from medadv_lib.verdicts import COMPARISON, audit
    from medadv_lib.papers.smia.claims import EFFECT, MOVED, PERTURBED

    table = audit(CLAIMS, effect=EFFECT)
    assert set(table["kind"]) == {COMPARISON} and EFFECT == (MOVED, PERTURBED)
    shape = {c.id for c in CLAIMS if PERTURBED in c.premises}
    assert shape == {"qi-sta-consistent", "qi-lowest-variance"}
    assert all(MOVED in c.premises for c in CLAIMS if c.id not in shape)


@pytest.mark.parametrize("fgsm_drop, met", [(0.3, True), (0.05, False)])
def test_a_weak_run_decides_what_it_could_have_shown(fgsm_drop, met):
    """Issue 29: nothing moved (MOVED unmet on both tasks) silences the score comparisons, not the
    claims on the perturbation's shape; a claim on the level of SMIA's effect (none of the paper's,
    built here on the chapter's premises) is decided too, and reads the positive control (FGSM moved
    by 20 points or more at the control's step), met or not."""
    from dataclasses import replace

    from medadv_lib.verdicts import LEVEL, POSITIVE_CONTROL, PAPER_FIDELITY, STAND_IN, Claim, check_claims, verdict_above
    from medadv_lib.metrics.uncertainty import paired_difference
    from medadv_lib.papers.smia.claims import MOVED, PERTURBED, premises, restrict

    weak = replace(_stuck(_tables(0.2)), control=_control(fgsm_drop))
    checks = premises(weak)
    assert not checks[MOVED].met and checks[PERTURBED].met and checks[POSITIVE_CONTROL].met is met
    assert ("in the 20-40 point band" if met else "below the 20-40 point band") in checks[POSITIVE_CONTROL].evidence

    def lowers(r):
        s = r.scores
        pick = lambda m: s[(s["method"] == m) & (s["task"] == "classification")].sort_values("image")["score"].to_numpy()  # noqa: E731
        d = paired_difference(pick("clean"), pick("SMIA"))
        return verdict_above(d, 0.10, f"SMIA's drop {d.fmt(3)}")

    level = Claim("smia-lowers-by-10", "SMIA lowers accuracy by at least 10 points", "Sec. 4.2", "(a test's own)",
                  lowers, premises=(STAND_IN,), kind=LEVEL)
    out = {c.claim.id: c for c in check_claims([*CLAIMS, level], weak, premises=checks, fidelity=PAPER_FIDELITY,
                                                restrict=restrict)}
    assert out["qi-beats-fgsm-pgd"].verdict == UNTESTED and out["qi-sta-stronger"].verdict == UNTESTED
    assert out["qi-sta-consistent"].verdict == HOLDS and out["qi-lowest-variance"].verdict == HOLDS
    decided = out["smia-lowers-by-10"]
    assert decided.verdict == FAILS and decided.outcome.control.met is met
    assert ("positive control met" if met else "positive control not met either") in decided.outcome.evidence
    assert decided.label.endswith("(1 seed)")


def test_a_run_that_changed_no_image_leaves_the_shape_claims_untested():
    """A zero update has no direction and a zero perturbation no variance: PERTURBED unmet."""
    from medadv_lib.verdicts import PAPER_FIDELITY, check_claims
    from medadv_lib.papers.smia.claims import PERTURBED, premises

    r = _tables(0.05)
    s = r.scores
    s.loc[(s["task"] == "segmentation") & (s["method"] == "DEV") & (s["image"] < 3), "linf"] = 0.0
    checks = premises(r)
    assert not checks[PERTURBED].met and "DEV changed 57 of 60 images" in checks[PERTURBED].evidence
    out = {c.claim.id: c for c in check_claims(CLAIMS, r, premises=checks, fidelity=PAPER_FIDELITY)}
    assert out["qi-lowest-variance"].verdict == UNTESTED and out["qi-beats-fgsm-pgd"].verdict == HOLDS


def test_a_claim_on_both_tasks_is_decided_on_the_task_that_moved():
    """Premises per task: segmentation does not move, so the comparisons over both tasks are decided
    on classification, their evidence naming segmentation; the segmentation-only claim cannot be
    tested, the classification-only one is decided."""
    from medadv_lib.verdicts import PAPER_FIDELITY, check_claims
    from medadv_lib.papers.smia.claims import MOVED, premises, restrict

    half = _stuck(_tables(0.05), tasks=("segmentation",))
    checks = premises(half)
    assert checks[MOVED].met_cases() == ["classification"]
    out = {c.claim.id: c for c in check_claims(CLAIMS, half, premises=checks, fidelity=PAPER_FIDELITY,
                                                restrict=restrict)}
    both = out["qi-beats-fgsm-pgd"]
    assert both.verdict == HOLDS and both.outcome.evidence.startswith("on classification")
    moved = next(p for p in both.outcome.premises if p.name == MOVED)
    assert moved.met and "left out segmentation" in moved.evidence
    assert out["qi-beats-second-best-aptos"].verdict == HOLDS
    assert out["qi-beats-dag-covid"].verdict == UNTESTED
    assert ("segmentation task: premise not met: the attacks moved the model: FGSM drop"
            in out["qi-beats-dag-covid"].outcome.evidence)
    # without restrict the run is tested as a whole: every comparison waits on the unmoved task
    whole = {c.claim.id: c.verdict for c in check_claims(CLAIMS, half, premises=checks, fidelity=PAPER_FIDELITY)}
    assert whole["qi-beats-fgsm-pgd"] == UNTESTED


def test_the_claims_on_missing_data_name_it():
    from medadv_lib.verdicts import PAPER_FIDELITY, check_claims
    from medadv_lib.papers.smia.claims import premises

    r = _tables(0.05)
    out = {c.claim.id: c for c in check_claims(CLAIMS, r, premises=premises(r), fidelity=PAPER_FIDELITY)}
    assert out["qi-kaggle-fpr"].verdict == UNTESTED and "Kaggle-DR" in out["qi-kaggle-fpr"].outcome.evidence
    assert out["qi-ead-iou"].verdict == UNTESTED and "detection" in out["qi-ead-iou"].outcome.evidence


def test_claim_results_reads_the_positive_control_table():
    from dataclasses import replace

    from medadv_lib.verdicts import POSITIVE_CONTROL
    from medadv_lib.papers.smia.claims import premises
    from medadv_lib.papers.smia.experiment import claim_results

    r = _tables(0.05)
    control = _control(0.3)
    table = pd.DataFrame({"task": list(control), "step epsilon": [c[1] for c in control.values()]}).set_index("task")
    table.attrs["drops"] = {t: (c[0], c[2]) for t, c in control.items()}
    results = claim_results(r.scores, r.sweeps, 1.0, control=table)
    assert results.control["segmentation"][:2] == (16.0, 16 * 1e-4)
    p = premises(results)[POSITIVE_CONTROL]
    assert p.met and [k for k, _ in p.cases] == ["classification", "segmentation"]
    assert "step x16" in p.evidence
    assert POSITIVE_CONTROL not in premises(r)           # no control computed: no premise
    overshot = premises(replace(results, control=_control(0.7)))[POSITIVE_CONTROL]
    assert overshot.met and "above the 20-40 point band" in overshot.evidence
