"""Statistics of iterative perturbations used by SMIA (Qi et al. 2021, Table 1 and Figure 2).

``history`` is the stack of perturbations an iterative attack produced, (T + 1, N, C, H, W)
with ``history[0]`` the zero start, ``history[t]`` the perturbation after iteration ``t``.
"""
from __future__ import annotations

import torch

__all__ = ["updates", "consecutive_cosine", "share_positive_cosine", "perturbation_variance"]


def _check(history: torch.Tensor) -> torch.Tensor:
    history = torch.as_tensor(history)
    if history.ndim < 3:
        raise ValueError(f"history must be (T + 1, N, ...), got shape {tuple(history.shape)}")
    return history.double()


def updates(history: torch.Tensor) -> torch.Tensor:
    """Per-iteration updates ``eta_t - eta_{t-1}``: (T, N, ...)."""
    history = _check(history)
    return history[1:] - history[:-1]


def consecutive_cosine(history: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between consecutive updates of each image: (T - 1, N).

    A zero update (nothing changed) has cosine 0 with anything.
    """
    u = updates(history).flatten(2)
    if len(u) < 2:
        raise ValueError("need at least two iterations to compare consecutive updates")
    a, b = u[:-1], u[1:]
    norms = a.norm(dim=-1) * b.norm(dim=-1)
    return torch.where(norms > 0, (a * b).sum(-1) / norms.clamp(min=1e-300), torch.zeros_like(norms))


def share_positive_cosine(history: torch.Tensor) -> float:
    """Share of (image, iteration pair) with a positive cosine between consecutive updates."""
    return float((consecutive_cosine(history) > 0).double().mean())


def perturbation_variance(perturbation: torch.Tensor) -> torch.Tensor:
    """Variance of each image's perturbation values over its pixels and channels: (N,)."""
    p = torch.as_tensor(perturbation).double()
    return p.flatten(1).var(dim=1, unbiased=False)
