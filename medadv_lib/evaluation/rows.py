"""The per-input rows of a robustness evaluation, shared by :func:`medadv_lib.evaluation.robustness`
(one model), the sanity checks (:mod:`medadv_lib.evaluation.sanity`) and the robustness-matrix chapter
(every model of the collection): one row per model, attack, norm and budget with its per-input
outcomes (:func:`outcome_row`), the white-box loop that fills them (:func:`white_box_rows`) and their
selection (:func:`select_rows`, :func:`outcomes`, :func:`robust_rate`). One home, so that a model
evaluated alone and the same model in the matrix get the same numbers for the same seed, budgets
and steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from ..attacks import get_attack, run_attack
from ..metrics.uncertainty import wilson
from ..specs.budgets import budget_label

__all__ = ["Victim", "NOISE", "TRANSFER", "budget_label", "attack_params", "MatrixRow", "outcome_row", "matrix_frame", "clean_fooled",
           "white_box_rows", "select_rows", "outcomes", "robust_rate", "models"]

NOISE = "noise"
#: The attack of the rows that score one model's white-box PGD inputs on another model (the matrix's transfer setting).
TRANSFER = "pgd (transfer)"


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


def attack_params(name: str, steps: int, restarts: int) -> dict:
    """The matrix's hyperparameters of attack ``name``: ``steps`` for the iterative attacks,
    ``restarts`` for APGD, the registry's defaults otherwise."""
    from ..attacks import hyperparameters

    names = {h.name for h in hyperparameters(name)}
    return {k: v for k, v in (("steps", steps), ("restarts", restarts)) if k in names}


@dataclass(frozen=True)
class MatrixRow:
    """One cell of a robustness matrix: a model under one attack at one budget, with the per-input
    outcomes (``robust``: True where the input stayed correctly classified). Made by
    :func:`outcome_row`, turned into the matrix's table by :func:`matrix_frame` only."""

    model: str
    chapter: str
    task: str
    attack: str
    family: str
    setting: str                   # clean, white, universal or transfer
    norm: str                      # Linf, L2 or none (clean)
    eps: float                     # on the [0, 1] scale
    budget: str                    # as shown: 2/255, 0.5, "clean", "zeta 0.04"
    n: int
    robust: np.ndarray
    robust_accuracy: float
    seconds: float
    model_calls: int
    source: str | None = None      # a transfer row: the model whose adversarial inputs were scored


def outcome_row(victim: Victim, attack: str, family: str, setting: str, norm: str, eps: float, robust: np.ndarray,
                seconds: float = float("nan"), calls: int = 0, label: str | None = None,
                source: str | None = None) -> MatrixRow:
    """One cell of the matrix: a model under one attack at one budget, with the per-input outcomes."""
    return MatrixRow(model=victim.name, chapter=victim.chapter, task=victim.task, attack=attack, family=family,
                     setting=setting, norm=norm, eps=eps, budget=label or budget_label(norm, eps), n=len(robust),
                     robust=robust.astype(bool), robust_accuracy=float(robust.mean()), seconds=seconds,
                     model_calls=calls, source=source)


def matrix_frame(rows: Sequence[MatrixRow]) -> pd.DataFrame:
    """The matrix as a table, one row per :class:`MatrixRow` in order (the ``source`` column only
    where a transfer row names one)."""
    records = []
    for row in rows:
        record = dict(vars(row))
        if record["source"] is None:
            del record["source"]
        records.append(record)
    return pd.DataFrame(records)


def clean_fooled(victim: Victim, inputs: torch.Tensor, batch_size: int, device) -> np.ndarray:
    """Per input: does ``victim`` get it wrong (the registry's task-wise criterion)?"""
    from ..attacks import is_fooled
    from ..training import predict

    logits = predict(victim.model, inputs.float(), batch_size, device).cpu()
    return is_fooled(logits, victim.labels.cpu(), victim.task).numpy()


def white_box_rows(victim: Victim, plan: Sequence[tuple[str, str, float]], *, steps: int, restarts: int,
                   batch_size: int, seed: int, device, keep=None, progress=None) -> tuple[list[MatrixRow], dict]:
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
