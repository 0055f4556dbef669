"""Evaluate one model in one call: the robustness-matrix row of *your* model.

``medadv_lib.evaluate(model, images, labels, threat_model="Linf", eps=[...], attacks=[...])`` attacks the model
with every fixed-budget attack of the registry (:mod:`medadv_lib.attacks`) that applies to
its task and norm (or the ``attacks`` named), at every budget, beside the random-noise control of
the same norm, as RobustBench's ``benchmark()`` does for CIFAR (Croce et al. 2021, "RobustBench: a
standardized adversarial robustness benchmark", NeurIPS Datasets and Benchmarks). It returns an
:class:`Evaluation`: clean accuracy, each attack, the worst case over the attacks per input (robust
only when the input survives every attack at that budget) and the noise control, each with its 95 %
Wilson interval and n, and the sanity checks of an adversarial evaluation that the robustness-matrix
chapter tests too (Carlini et al. 2019, "On Evaluating Adversarial Robustness", Sec. 5,
:mod:`medadv_lib.evaluation.sanity`), and AutoAttack's flags (:mod:`medadv_lib.evaluation.flags`:
randomness, probability outputs and zero gradients probed before any attack; the noise control
beating the white-box worst case after them).

The per-input rows, the white-box loop and their selection are :mod:`medadv_lib.evaluation.rows`,
which the matrix chapter shares, so a model evaluated here and the same model in the matrix get the
same numbers for the same seed, budgets and steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from ..attacks import attack_names
from .flags import control_flag, model_flags
from ..verdicts import CheckedClaim, Fidelity, Outcome, check_claims
from ..metrics.uncertainty import Estimate
from ..progress import tqdm
from ..specs.budgets import budgets_in_order, from_gray_levels
from .rows import NOISE, Victim, budget_label, clean_fooled, matrix_frame, outcome_row, robust_rate, white_box_rows
from .sanity import CLAIMS, MatrixResults

__all__ = ["Evaluation", "evaluate", "THREAT_MODELS", "DEFAULT_EPS", "OWN_MODEL"]

THREAT_MODELS = ("Linf", "L2")
#: The matrix chapter's default budgets on the [0, 1] scale.
DEFAULT_EPS = {"Linf": tuple(from_gray_levels([0.5, 2, 8])), "L2": (0.25, 0.5, 1.0)}


# --------------------------------------------------------------------------- one model

@dataclass
class Evaluation:
    """The robustness-matrix row of one model (every estimate a share of the ``n`` inputs, with
    its 95 % Wilson interval): ``clean`` accuracy, ``robust[attack][eps]`` for each attack and the
    noise control, ``worst[eps]`` over the attacks, ``noise[eps]``, the ``strongest`` attack per
    budget, ``checks``: the sanity checks of :mod:`medadv_lib.evaluation.sanity`
    (:class:`~medadv_lib.verdicts.claims.CheckedClaim`), and ``flags``: AutoAttack's flags
    (:class:`~medadv_lib.evaluation.flags.Flag`)."""

    model: str
    task: str
    threat_model: str
    eps: list[float]
    attacks: list[str]
    n: int
    clean: Estimate
    robust: dict[str, dict[float, Estimate]]
    worst: dict[float, Estimate]
    noise: dict[float, Estimate]
    strongest: dict[float, str]
    checks: list = field(default_factory=list)
    flags: list = field(default_factory=list)      # AutoAttack's flags (medadv_lib.evaluation.flags.Flag)
    matrix: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)   # the rows, per-input outcomes kept
    seconds: float = 0.0

    def table(self, percent: bool = True) -> pd.DataFrame:
        """One row per budget: clean, each attack, the worst case, the noise control (%, [95 %
        interval]) and n, as the matrix chapter prints them."""
        rows = {}
        for eps in self.eps:
            row = {"clean": self.clean.fmt(1, percent=percent)}
            row.update({a: self.robust[a][eps].fmt(1, percent=percent) for a in self.attacks})
            row["worst case"] = self.worst[eps].fmt(1, percent=percent)
            row[NOISE] = self.noise[eps].fmt(1, percent=percent)
            row["strongest"] = self.strongest[eps]
            row["n"] = self.n
            rows[budget_label(self.threat_model, eps)] = row
        frame = pd.DataFrame(rows).T
        frame.index.name = f"{self.threat_model} budget"
        return frame

    def headline(self) -> str:
        """The worst case at the largest budget, with its interval and n, in one line."""
        eps = self.eps[-1]
        return (f"{self.model}: clean {self.clean.fmt(1, percent=True)} %, worst case at {self.threat_model} "
                f"{budget_label(self.threat_model, eps)} {self.worst[eps].fmt(1, percent=True)} % "
                f"({self.strongest[eps]} strongest; n = {self.n})")

    def flags_table(self) -> pd.DataFrame:
        """AutoAttack's flags: one row per flag, raised or not, with its evidence and meaning."""
        return pd.DataFrame([{"flag": f.name, "status": f.status, "evidence": f.evidence,
                              "if raised": f.meaning} for f in self.flags]).set_index("flag")

    def checks_table(self) -> pd.DataFrame:
        from ..verdicts import claims_frame

        return claims_frame(self.checks)


def _check_inputs(model, images, labels, threat_model, eps, attacks, task, device, batch_size):
    from ..attacks import infer_task
    from ..utils import resolve_device

    if threat_model not in THREAT_MODELS:
        raise ValueError(f"threat_model must be one of {THREAT_MODELS}, not {threat_model!r}")
    budgets = [float(e) for e in (DEFAULT_EPS[threat_model] if eps is None else
                                  (eps if isinstance(eps, (list, tuple)) else [eps]))]
    if not budgets_in_order(budgets):
        raise ValueError(f"eps must be budgets > 0 in increasing order, got {budgets}")
    if images.ndim != 4 or not images.dtype.is_floating_point or len(images) != len(labels) or not len(images):
        raise ValueError(f"images must be a non-empty float (N, C, H, W) tensor with one label each, got "
                         f"{tuple(images.shape)} images and {len(labels)} labels")
    if images.min() < 0 or images.max() > 1:
        raise ValueError(f"images must lie in [0, 1] (got [{float(images.min()):.3g}, {float(images.max()):.3g}]); "
                         "put the model's own input scaling inside the model")
    dev = resolve_device(device)
    with torch.no_grad():
        probe = _probe(model, images[:min(len(images), batch_size)], dev)
    task = task or infer_task(probe, labels[:len(probe)].to(probe.device))
    applicable = attack_names(task=task, kind="budget", norm=threat_model)
    names = [a for a in applicable if a != NOISE] if attacks is None else list(attacks)
    bad = [a for a in names if a not in applicable or a == NOISE]
    if bad:
        raise ValueError(f"attack(s) {bad} do not apply to a {task} model at {threat_model}; "
                         f"applicable: {[a for a in applicable if a != NOISE]}")
    if not names:
        raise ValueError("name at least one attack")
    return budgets, names, task


def _probe(model, x, device):
    from ..attacks import caller_model_kept

    with caller_model_kept(model):
        model.to(device).eval()
        return model(x.float().to(device))


#: The fidelity of an evaluation's records: the matrix's sanity checks on the user's model are no
#: paper's claims, so their "does not hold" stands (see :mod:`medadv_lib.verdicts.claims`).
OWN_MODEL = Fidelity(False, "your model on your data, not a paper's experiment")


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, threat_model: str = "Linf",
             eps: Sequence[float] | float | None = None, attacks: Sequence[str] | None = None, task: str | None = None,
             name: str = "model", steps: int = 10, restarts: int = 1, heat_eps: float | None = None,
             batch_size: int = 32, seed: int = 0, device: str | torch.device = "auto",
             progress: bool = False) -> Evaluation:
    """Attack ``model`` on ``images`` (N, C, H, W, float in [0, 1]; the model does its own
    normalisation) with true ``labels`` and return its :class:`Evaluation`.

    ``eps``: budgets on the [0, 1] scale in increasing order (default: the matrix chapter's, L-inf
    0.5, 2 and 8/255; L2 0.25, 0.5, 1). ``attacks``: registry names (default: every fixed-budget
    attack that applies to the task and ``threat_model``); the noise control always runs.
    ``steps``/``restarts``: of the iterative attacks and APGD (the matrix's parameters).
    ``heat_eps``: the budget of the "beats noise" check (default: the middle budget). The caller's
    model comes back as it was; the same seed gives the same numbers on CPU.
    """
    import time

    start = time.perf_counter()
    budgets, names, task = _check_inputs(model, images, labels, threat_model, eps, attacks, task, device, batch_size)
    heat = budgets[len(budgets) // 2] if heat_eps is None else float(heat_eps)
    if not np.isclose(budgets, heat).any():
        raise ValueError(f"heat_eps {heat} must be one of the budgets {budgets}")
    flags = model_flags(model, images, labels, task, device)            # before any attack
    victim = Victim(name, "evaluate", task, model, images, labels)
    plan = [(a, threat_model, e) for a in names + [NOISE] for e in budgets]
    from ..attacks import caller_model_kept

    with caller_model_kept(model):
        rows = [outcome_row(victim, "clean", "none", "clean", "none", 0.0,
                            ~clean_fooled(victim, images, batch_size, device), label="clean")]
        with tqdm(total=len(plan), desc=f"evaluate {name}", disable=not progress) as bar:
            white, _ = white_box_rows(victim, plan, steps=steps, restarts=restarts, batch_size=batch_size, seed=seed,
                                      device=device, progress=bar)
    matrix = matrix_frame(rows + white)
    robust = {a: {e: robust_rate(matrix, name, a, threat_model, e) for e in budgets} for a in names + [NOISE]}
    worst = {e: robust_rate(matrix, name, "worst", threat_model, e) for e in budgets}
    strongest = {e: min(names, key=lambda a: (robust[a][e].value, names.index(a))) for e in budgets}
    # the matrix's sanity checks read L-inf rows; under L2 they read this run's L2 rows instead
    checked_on = matrix.assign(norm=matrix["norm"].replace(threat_model, "Linf")) if threat_model != "Linf" else matrix
    results = MatrixResults(matrix=checked_on, linf_budgets=list(budgets), heat_eps=heat)
    checks = []
    for claim in CLAIMS:
        if claim.id == "matrix-white-beats-transfer":      # needs a second model attacked on the same inputs
            continue
        if claim.id == "matrix-pgd-not-weaker" and not {"fgsm", "pgd"} <= set(names):
            checks.append(CheckedClaim(claim, Outcome.untested("needs fgsm and pgd among the attacks"), OWN_MODEL))
        else:
            checks += check_claims([claim], results, fidelity=OWN_MODEL)
    flags.append(control_flag(matrix, name))
    return Evaluation(name, task, threat_model, budgets, names, len(images), robust_rate(matrix, name, "clean"),
                      {a: robust[a] for a in names}, worst, robust[NOISE], strongest, checks, flags, matrix,
                      time.perf_counter() - start)
