"""What the numeric kernels (:mod:`.apgd`, :mod:`.smia`, :mod:`.dag`, the budget family's own
gradient steps) share: their result type, their argument checks and the geometry of the
L-inf and L2 balls.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["AttackRun", "check_attack_args", "project", "ascent_direction"]


@dataclass
class AttackRun:
    """Result of an iterative attack kernel: adversarial images, and optionally every perturbation
    ``history[t]`` after iteration ``t`` (``history[0]`` = start), the objective per iteration,
    ``iterates[t]``, the attacked images after chosen iterations ``t`` (``record_steps`` of a run,
    :attr:`medadv_lib.attacks.AttackResult.iterates`), whether each input fools the model and the
    model calls it took (APGD's restarts)."""

    adversarial: torch.Tensor
    history: torch.Tensor | None = None
    objective: list[float] | None = None
    iterates: dict[int, torch.Tensor] | None = None
    fooled: torch.Tensor | None = None
    calls: int | None = None

    @property
    def perturbation(self) -> torch.Tensor:
        return self.history[-1] if self.history is not None else None


def check_attack_args(epsilon: float, iterations: int, alpha: float = 0.0, budget: float | None = None,
                      bounds: tuple[float, float] = (0.0, 1.0)) -> None:
    """Clear errors before any model call."""
    if not epsilon > 0:
        raise ValueError(f"epsilon (the step size) must be > 0, got {epsilon}")
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive int, got {iterations!r}")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    if budget is not None and not budget > 0:
        raise ValueError(f"budget must be > 0 or None (no projection), got {budget}")
    if not bounds[0] < bounds[1]:
        raise ValueError(f"bounds must be (low, high) with low < high, got {bounds}")


def project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Each perturbation of the batch ``delta`` (N, ...) projected onto the ``norm`` ball of radius
    ``eps``: clipped per value (``"Linf"``) or scaled down to length ``eps`` (``"L2"``)."""
    if norm == "Linf":
        return delta.clamp(-eps, eps)
    length = delta.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *[1] * (delta.ndim - 1))
    return delta * torch.clamp(eps / length, max=1.0)


def ascent_direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """The steepest-ascent step of unit ``norm`` per input: the sign (``"Linf"``) or the gradient
    scaled to unit L2 length (``"L2"``)."""
    if norm == "Linf":
        return grad.sign()
    length = grad.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *[1] * (grad.ndim - 1))
    return grad / length
