"""The sanity checks of an adversarial evaluation, as claims (no paper's claims: the checks any
adversarial evaluation should pass; Carlini et al. 2019, "On Evaluating Adversarial Robustness",
Sec. 5, arXiv:1902.06705): robust accuracy falls as the budget grows and reaches about zero at the
largest budget, the attacks beat random noise of the same norm, white-box beats transfer, and
iterative PGD is not weaker than single-step FGSM (else: gradient masking).

They are tested on :class:`MatrixResults`, the per-input rows of :mod:`medadv_lib.evaluation.rows`
(:func:`~medadv_lib.evaluation.rows.outcome_row`) with their budgets: per model (or per transfer pair)
on the same inputs, with paired 95 % intervals, and combined: a check holds when it holds for every
model. Two readers: :func:`medadv_lib.evaluate` (one user's model; the transfer check needs a second
model and is skipped) and the robustness-matrix chapter (:mod:`medadv_lib.papers.robustness_matrix`,
every model of the collection), which re-exports them as its claims.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..verdicts import Claim, Outcome, combine, verdict_above, verdict_below
from .rows import NOISE, TRANSFER, budget_label, models, outcomes, select_rows
from ..metrics.uncertainty import paired_difference, wilson

__all__ = ["CLAIMS", "NEAR_ZERO", "PGD_SLACK", "N_INPUTS", "MatrixResults"]


@dataclass(frozen=True)
class MatrixResults:
    """What the sanity checks (:data:`CLAIMS`) read: the matrix and its budgets, on the [0, 1] scale."""

    #: one row per model, attack, norm, budget and input (:func:`medadv_lib.evaluation.rows.outcome_row`)
    matrix: pd.DataFrame
    #: the L-inf budgets of the curves, / 255 -> [0, 1]
    linf_budgets: list[float]
    #: the heat map's L-inf budget, [0, 1]
    heat_eps: float


#: "Near 0": the worst case's 95 % interval lies below this robust accuracy at the largest budget.
NEAR_ZERO = 0.10
#: The parameter that sets how many inputs each model is attacked on (the matrix and
#: :func:`medadv_lib.evaluate` alike): the n of every per-model rate, known before the run.
N_INPUTS = "n_inputs"
#: PGD counts as no weaker than FGSM unless its robust accuracy is decisively this much higher.
PGD_SLACK = 0.05
_WHERE = "ours: a sanity check (Carlini et al. 2019, Sec. 5)"
_NOT_PAPER = "not a claim of a paper"


def _points(estimate) -> str:
    return f"{100 * estimate.value:.1f} [{100 * estimate.low:.1f}, {100 * estimate.high:.1f}] points"


def _falls(r):
    small, large = min(r.linf_budgets), max(r.linf_budgets)
    m = r.matrix
    out = {}
    for model in models(m):
        d = paired_difference(outcomes(m, model, "worst", "Linf", small), outcomes(m, model, "worst", "Linf", large))
        out[model] = verdict_above(d, 0.0, f"{budget_label('Linf', small)} minus {budget_label('Linf', large)}: "
                                           f"{_points(d)}")
    return combine(out)


def _n_inputs(parameters) -> int:
    """The inputs each model is attacked on (every per-model rate's n; a model whose test split is
    smaller has fewer)."""
    return int(parameters[N_INPUTS])


def _near_zero(r):
    large, m = max(r.linf_budgets), r.matrix
    out = {}
    for model in models(m):
        robust = outcomes(m, model, "worst", "Linf", large)
        est = wilson(int(robust.sum()), len(robust))
        out[model] = verdict_below(est, NEAR_ZERO, f"{est.fmt(1, percent=True)} %")
    return combine(out, None)


def _beats_noise(r):
    eps, m = r.heat_eps, r.matrix
    out = {}
    for model in models(m):
        d = paired_difference(outcomes(m, model, NOISE, "Linf", eps), outcomes(m, model, "worst", "Linf", eps))
        out[model] = verdict_above(d, 0.0, f"noise minus worst case: {_points(d)}")
    return combine(out)


def _white_beats_transfer(r):
    eps, m = r.heat_eps, r.matrix
    transfer = m[(m["attack"] == TRANSFER) & np.isclose(m["eps"], eps)]
    if transfer.empty:
        return Outcome.untested("no two models of one chapter were attacked on the same inputs")
    out = {}
    for _, row in transfer.iterrows():
        white = outcomes(m, row["model"], "pgd", "Linf", eps)
        d = paired_difference(row["robust"], white)
        out[f"{row['source']} -> {row['model']}"] = verdict_above(d, 0.0, f"transfer minus white-box: {_points(d)}")
    return combine(out)


def _pgd_not_weaker(r):
    large, m = max(r.linf_budgets), r.matrix
    out = {}
    for model in models(m):
        if select_rows(m, model, "pgd", "Linf", large).empty:
            continue
        d = paired_difference(outcomes(m, model, "fgsm", "Linf", large), outcomes(m, model, "pgd", "Linf", large))
        out[model] = verdict_above(d, -PGD_SLACK, f"FGSM minus PGD: {_points(d)}")
    return combine(out)


CLAIMS = [
    Claim("matrix-falls-with-budget", "Robust accuracy falls as the budget grows: for every model, the worst "
          "case over the attacks is lower at the largest L-inf budget than at the smallest (same inputs)",
          _WHERE, _NOT_PAPER, _falls, {}, from_paper=False),
    Claim("matrix-near-zero", "At the largest L-inf budget the gradient attacks take every model to about 0 "
          "(worst-case robust accuracy below 10 %)", _WHERE, _NOT_PAPER, _near_zero, {"near_zero": NEAR_ZERO}, from_paper=False,
          # a Wilson rate per model on its n_inputs inputs: 35 are needed to show a rate below 10 %
          n_of=_n_inputs, rate_thresholds={"near_zero": "below"}),
    Claim("matrix-beats-noise", "The attacks beat random noise of the same L-inf norm: at the heat-map budget "
          "the worst case is below the noise control for every model", _WHERE, _NOT_PAPER, _beats_noise, {}, from_paper=False),
    Claim("matrix-white-beats-transfer", "White-box beats transfer: PGD crafted on the model itself leaves fewer "
          "inputs robust than PGD crafted on another model of the same chapter", _WHERE, _NOT_PAPER,
          _white_beats_transfer, {}, from_paper=False),
    Claim("matrix-pgd-not-weaker", "No sign of gradient masking: iterative PGD is not weaker than single-step "
          "FGSM at the largest L-inf budget (PGD's robust accuracy at most 5 points above FGSM's)", _WHERE,
          _NOT_PAPER, _pgd_not_weaker, {"slack": PGD_SLACK}, from_paper=False),
]
