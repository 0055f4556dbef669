"""Recover Foolbox 1's minimal-perturbation semantics for Foolbox 3 fixed-epsilon attacks.

Foolbox 1 (used by Taghanaki et al. 2018) ran FGSM, the iterative attacks and additive noise as
searches for the smallest epsilon that misclassifies; Foolbox 3 made them fixed-epsilon.
:class:`MinimalEpsilonSearch` wraps any Foolbox 3 ``FixedEpsilonAttack`` and tries an
increasing grid of epsilons, each only on the inputs not yet fooled, keeping the first success.
"""
from __future__ import annotations

from typing import Any

import eagerpy as ep
import foolbox as fb
import numpy as np
from foolbox.attacks.base import FixedEpsilonAttack, MinimizationAttack, get_criterion, get_is_adversarial
from foolbox.devutils import atleast_kd

__all__ = ["MinimalEpsilonSearch", "epsilon_grid", "subset_criterion"]


def epsilon_grid(max_epsilon: float, steps: int, grid: str = "linear") -> np.ndarray:
    """Increasing epsilons ending at ``max_epsilon``: linear (Foolbox 1) or geometric (halving)."""
    if max_epsilon <= 0 or steps < 1:
        raise ValueError(f"need max_epsilon > 0 and steps >= 1, got {max_epsilon}, {steps}")
    if grid == "linear":
        return np.linspace(max_epsilon / steps, max_epsilon, steps)
    if grid == "geometric":
        return max_epsilon * 0.5 ** np.arange(steps - 1, -1, -1, dtype=float)
    raise ValueError(f"grid must be 'linear' or 'geometric', got {grid!r}")


def subset_criterion(criterion: fb.criteria.Criterion, index) -> fb.criteria.Criterion:
    """The same criterion restricted to the inputs at ``index`` (Misclassification or TargetedMisclassification)."""
    if isinstance(criterion, fb.criteria.Misclassification):
        return fb.criteria.Misclassification(criterion.labels[index])
    if isinstance(criterion, fb.criteria.TargetedMisclassification):
        return fb.criteria.TargetedMisclassification(criterion.target_classes[index])
    raise TypeError(f"unsupported criterion {type(criterion).__name__}")


class MinimalEpsilonSearch(MinimizationAttack):
    """Smallest epsilon on a grid at which ``attack`` (a FixedEpsilonAttack) succeeds, per input."""

    def __init__(self, attack: FixedEpsilonAttack, max_epsilon: float, steps: int = 10,
                 grid: str = "linear"):
        if not isinstance(attack, FixedEpsilonAttack):
            raise TypeError(f"expected a Foolbox FixedEpsilonAttack, got {type(attack).__name__}")
        self.attack = attack
        self.epsilons = epsilon_grid(max_epsilon, steps, grid)
        self.found_epsilon: np.ndarray | None = None   # per input after run(); inf where not found
        self.exhausted: np.ndarray | None = None       # per input after run(): no epsilon of the grid fooled it

    @property
    def distance(self) -> fb.distances.Distance:
        return self.attack.distance

    def run(self, model: fb.Model, inputs, criterion, *, early_stop: float | None = None, **kwargs: Any):
        x, restore_type = ep.astensor_(inputs)
        criterion = get_criterion(criterion)
        is_adversarial = get_is_adversarial(criterion, model)
        result = x
        found = is_adversarial(x).numpy().copy()
        found_eps = np.where(found, 0.0, np.inf)
        for epsilon in self.epsilons:
            todo = np.flatnonzero(~found)
            if len(todo) == 0:
                break
            index = ep.from_numpy(x, todo.astype(np.int64))
            sub = subset_criterion(criterion, index)
            adv = self.attack.run(model, x[index], sub, epsilon=float(epsilon))
            adv_ok = get_is_adversarial(sub, model)(adv).numpy()
            hit = todo[adv_ok]
            if len(hit):
                mask = np.zeros(len(found), bool)
                mask[hit] = True
                full = x.numpy().copy()
                full[todo] = adv.numpy()
                result = ep.where(atleast_kd(ep.from_numpy(x, mask), x.ndim), ep.from_numpy(x, full), result)
                found[hit] = True
                found_eps[hit] = epsilon
        self.found_epsilon = found_eps
        self.exhausted = np.isinf(found_eps)
        return restore_type(result)
