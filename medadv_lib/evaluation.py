"""Evaluate one model in one call: the robustness-matrix row of *your* model.

``medadv_lib.evaluate(model, images, labels, threat_model="Linf", eps=[...], attacks=[...])`` attacks the model
with every fixed-budget attack of the registry (:mod:`medadv_lib.attacks.registry`) that applies to
its task and norm (or the ``attacks`` named), at every budget, beside the random-noise control of
the same norm, as RobustBench's ``benchmark()`` does for CIFAR (Croce et al. 2021, "RobustBench: a
standardized adversarial robustness benchmark", NeurIPS Datasets and Benchmarks). It returns an
:class:`Evaluation`: clean accuracy, each attack, the worst case over the attacks per input (robust
only when the input survives every attack at that budget) and the noise control, each with its 95 %
Wilson interval and n, and the sanity checks of an adversarial evaluation that the robustness-matrix
chapter tests too (Carlini et al. 2019, "On Evaluating Adversarial Robustness", Sec. 5,
:mod:`medadv_lib.sanity_checks`).

This module is also the shared layer of the matrix chapter: the per-input rows
(:func:`outcome_row`), their selection (:func:`select_rows`, :func:`outcomes`, :func:`robust_rate`)
and the white-box loop (:func:`white_box_rows`) are the chapter's, so a model evaluated here and the
same model in the matrix get the same numbers for the same seed, budgets and steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from .attacks.registry import attack_names, get_attack, run_attack
from .claims import Fidelity
from .metrics.uncertainty import Estimate, wilson
from .progress import tqdm

__all__ = ["Evaluation", "evaluate", "Victim", "NOISE", "TRANSFER", "THREAT_MODELS", "DEFAULT_EPS", "budget_label",
           "outcome_row", "select_rows", "outcomes", "robust_rate", "models", "white_box_rows", "attack_params", "clean_fooled"]

NOISE = "noise"
#: The attack of the rows that score one model's white-box PGD inputs on another model (the matrix's transfer setting).
TRANSFER = "pgd (transfer)"
THREAT_MODELS = ("Linf", "L2")
#: The matrix chapter's default budgets on the [0, 1] scale.
DEFAULT_EPS = {"Linf": (0.5 / 255, 2 / 255, 8 / 255), "L2": (0.25, 0.5, 1.0)}


@dataclass
class Victim:
    """One trained model and the inputs it is attacked on."""

    name: str
    chapter: str
    task: str                      # binary | multiclass | multilabel | segmentation
    model: nn.Module
    images: torch.Tensor           # float in [0, 1]
    labels: torch.Tensor
    fit_images: torch.Tensor | None = None   # training inputs a universal perturbation is fitted on
    data: object = None            # the split the inputs come from (for the data banner)


def budget_label(norm: str, eps: float) -> str:
    """``2/255`` for L-inf budgets, ``0.5`` for L2 (both on the [0, 1] scale)."""
    return f"{eps * 255:g}/255" if norm == "Linf" else f"{eps:g}"


def attack_params(name: str, steps: int, restarts: int) -> dict:
    """The matrix's hyperparameters of attack ``name``: ``steps`` for the iterative attacks,
    ``restarts`` for APGD, the registry's defaults otherwise."""
    from .attacks.registry import hyperparameters

    names = {h.name for h in hyperparameters(name)}
    return {k: v for k, v in (("steps", steps), ("restarts", restarts)) if k in names}


def outcome_row(victim: Victim, attack: str, family: str, setting: str, norm: str, eps: float, robust: np.ndarray,
                seconds: float = float("nan"), calls: int = 0, label: str | None = None) -> dict:
    """One cell of the matrix: a model under one attack at one budget, with the per-input outcomes."""
    return {"model": victim.name, "chapter": victim.chapter, "task": victim.task, "attack": attack, "family": family,
            "setting": setting, "norm": norm, "eps": eps, "budget": label or budget_label(norm, eps),
            "n": len(robust), "robust": robust.astype(bool), "robust_accuracy": float(robust.mean()),
            "seconds": seconds, "model_calls": calls}


def clean_fooled(victim: Victim, inputs: torch.Tensor, batch_size: int, device) -> np.ndarray:
    """Per input: does ``victim`` get it wrong (the registry's task-wise criterion)?"""
    from .attacks.apgd import is_fooled
    from .training import predict

    logits = predict(victim.model, inputs.float(), batch_size, device).cpu()
    return is_fooled(logits, victim.labels.cpu(), victim.task).numpy()


def white_box_rows(victim: Victim, plan: Sequence[tuple[str, str, float]], *, steps: int, restarts: int,
                   batch_size: int, seed: int, device, keep=None, progress=None) -> tuple[list[dict], dict]:
    """``victim`` under every ``(attack, norm, eps)`` of ``plan``: one row each (``setting`` white);
    ``keep(attack, norm, eps)`` True: that run's adversarial inputs are returned too, by the key."""
    rows, kept = [], {}
    for name, norm, eps in plan:
        result = run_attack(name, victim.model, victim.images, victim.labels, eps=eps, norm=norm, task=victim.task,
                            batch_size=batch_size, seed=seed, device=device, **attack_params(name, steps, restarts))
        rows.append(outcome_row(victim, name, get_attack(name).family, "white", norm, eps, (~result.success).numpy(),
                                result.seconds, result.model_calls))
        if keep is not None and keep(name, norm, eps):
            kept[(name, norm, eps)] = result.adversarial
        if progress is not None:
            progress.update(1)
    return rows, kept


def select_rows(matrix, model, attack=None, norm=None, eps=None, setting=None) -> pd.DataFrame:
    rows = matrix[matrix["model"] == model]
    if attack is not None:
        rows = rows[rows["attack"] == attack]
    if norm is not None:
        rows = rows[rows["norm"] == norm]
    if eps is not None:
        rows = rows[np.isclose(rows["eps"], eps)]
    if setting is not None:
        rows = rows[rows["setting"] == setting]
    return rows


def outcomes(matrix, model, attack, norm=None, eps=None) -> np.ndarray:
    """Per-input robust outcomes of one cell; ``attack="worst"``: robust to every white-box attack
    (the noise control aside) at that budget."""
    if attack == "worst":
        rows = select_rows(matrix, model, norm=norm, eps=eps, setting="white")
        rows = rows[rows["attack"] != NOISE]
        if rows.empty:
            raise KeyError(f"no white-box attack on {model} at {norm} {eps}")
        return np.logical_and.reduce(np.stack(rows["robust"].to_list()))
    rows = select_rows(matrix, model, attack, norm, eps)
    if rows["setting"].eq("transfer").any():
        raise KeyError("transfer cells have one row per source: select them with their source")
    if len(rows) != 1:
        raise KeyError(f"{len(rows)} rows for {model} / {attack} / {norm} / {eps}")
    return rows["robust"].iloc[0]


def robust_rate(matrix: pd.DataFrame, model: str, attack: str, norm: str | None = None, eps: float | None = None):
    """The Wilson estimate of one cell's robust accuracy (``attack`` may be ``worst``)."""
    robust = outcomes(matrix, model, attack, norm, eps)
    return wilson(int(robust.sum()), len(robust))


def models(matrix: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(matrix["model"]))


# --------------------------------------------------------------------------- one model

@dataclass
class Evaluation:
    """The robustness-matrix row of one model (every estimate a share of the ``n`` inputs, with
    its 95 % Wilson interval): ``clean`` accuracy, ``robust[attack][eps]`` for each attack and the
    noise control, ``worst[eps]`` over the attacks, ``noise[eps]``, the ``strongest`` attack per
    budget, and ``checks``: the sanity checks of :mod:`medadv_lib.sanity_checks`
    (:class:`~medadv_lib.claims.CheckedClaim`)."""

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

    def checks_table(self) -> pd.DataFrame:
        from .claims import claims_frame

        return claims_frame(self.checks)


def _check_inputs(model, images, labels, threat_model, eps, attacks, task, device, batch_size):
    from .attacks.apgd import infer_task
    from .utils import resolve_device

    if threat_model not in THREAT_MODELS:
        raise ValueError(f"threat_model must be one of {THREAT_MODELS}, not {threat_model!r}")
    budgets = [float(e) for e in (DEFAULT_EPS[threat_model] if eps is None else
                                  (eps if isinstance(eps, (list, tuple)) else [eps]))]
    if not budgets or any(not e > 0 for e in budgets) or sorted(set(budgets)) != budgets:
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
    from .attacks.registry import _caller_model_kept

    with _caller_model_kept(model):
        model.to(device).eval()
        return model(x.float().to(device))


#: The fidelity of an evaluation's records: the matrix's sanity checks on the user's model are no
#: paper's claims, so their "does not hold" stands (see :mod:`medadv_lib.claims`).
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

    from .claims import CheckedClaim, Outcome, check_claims
    from .sanity_checks import CLAIMS, MatrixResults     # here, not at the top: it reads this module's rows

    start = time.perf_counter()
    budgets, names, task = _check_inputs(model, images, labels, threat_model, eps, attacks, task, device, batch_size)
    heat = budgets[len(budgets) // 2] if heat_eps is None else float(heat_eps)
    if not np.isclose(budgets, heat).any():
        raise ValueError(f"heat_eps {heat} must be one of the budgets {budgets}")
    victim = Victim(name, "evaluate", task, model, images, labels)
    plan = [(a, threat_model, e) for a in names + [NOISE] for e in budgets]
    from .attacks.registry import _caller_model_kept

    with _caller_model_kept(model):
        rows = [outcome_row(victim, "clean", "none", "clean", "none", 0.0,
                            ~clean_fooled(victim, images, batch_size, device), label="clean")]
        with tqdm(total=len(plan), desc=f"evaluate {name}", disable=not progress) as bar:
            white, _ = white_box_rows(victim, plan, steps=steps, restarts=restarts, batch_size=batch_size, seed=seed,
                                      device=device, progress=bar)
    matrix = pd.DataFrame(rows + white)
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
    return Evaluation(name, task, threat_model, budgets, names, len(images), robust_rate(matrix, name, "clean"),
                      {a: robust[a] for a in names}, worst, robust[NOISE], strongest, checks, matrix,
                      time.perf_counter() - start)
