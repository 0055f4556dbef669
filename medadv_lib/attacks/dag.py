"""Dense Adversary Generation (DAG; Xie, Wang, Zhang, Zhou, Xie, Yuille, ICCV 2017, Algorithm 1).

For segmentation every pixel is a target. Each pixel ``t`` gets its true label ``l_t`` and an
adversarial label ``l'_t != l_t`` (drawn at random, as in the paper; with two classes the other
class). While some target pixel is still predicted as its true label (the active set ``T_m``) and
fewer than ``iterations`` steps were taken:

    r_m   = sum_{t in T_m} grad_x [ f_{l'_t}(x + r, t) - f_{l_t}(x + r, t) ]      (logits)
    r'_m  = gamma / ||r_m||_inf * r_m
    r    <- r + r'_m

``gamma`` is the L-inf size of one step; we pass SMIA's per-iteration ``epsilon`` so that all
methods compare at the same step, number of iterations and resulting L-inf bound. ``x + r`` is
kept inside the image bounds; an optional ``budget`` projects ``r`` into an L-inf ball. Images are
independent: an image whose active set is empty stops moving.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from ..progress import tqdm
from ..utils import resolve_device
from .kernel import AttackRun, check_attack_args

__all__ = ["adversarial_labels", "dag"]


def adversarial_labels(labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A random wrong label for every entry of ``labels`` (uniform over the other classes)."""
    if num_classes < 2:
        raise ValueError("DAG needs at least two classes")
    shift = torch.randint(1, num_classes, labels.shape, generator=generator).to(labels.device)
    return (labels + shift) % num_classes


def _dag_batch(model, x, y, gamma, iterations, budget, bounds, generator, record, on_step=None):
    lo, hi = bounds
    with torch.no_grad():
        num_classes = model(x[:1]).shape[1]
    y_adv = adversarial_labels(y, num_classes, generator)
    r = torch.zeros_like(x)
    history = [r.cpu()] if record else None
    active_share = []
    for t in range(1, iterations + 1):
        r = r.detach().requires_grad_(True)
        logits = model(x + r)
        active = (logits.argmax(1) == y)                                  # T_m, (N, H, W)
        active_share.append(float(active.float().mean()))
        if not active.any():
            if record:
                history.append(r.detach().cpu())
            if on_step is not None:
                on_step(t, (x + r).detach())
            continue
        gap = logits.gather(1, y_adv.unsqueeze(1)) - logits.gather(1, y.unsqueeze(1))
        grad, = torch.autograd.grad((gap.squeeze(1) * active).sum(), r)
        with torch.no_grad():
            peak = grad.flatten(1).abs().amax(1).view(-1, *[1] * (x.ndim - 1))
            step = torch.where(peak > 0, gamma * grad / peak.clamp(min=1e-30), torch.zeros_like(grad))
            r = r + step
            if budget is not None:
                r = r.clamp(-budget, budget)
            r = (x + r).clamp(lo, hi) - x
        if record:
            history.append(r.detach().cpu())
        if on_step is not None:
            on_step(t, (x + r).detach())
    return (x + r).detach(), (torch.stack(history) if record else None), active_share


def dag(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, *, epsilon: float,
        iterations: int = 10, budget: float | None = None, bounds: tuple[float, float] = (0.0, 1.0),
        record: bool = False, batch_size: int = 64, device: str | torch.device = "auto", seed: int = 0,
        progress: bool = False, on_step: Callable[[int, torch.Tensor], None] | None = None) -> AttackRun:
    """DAG against a segmentation model (logits (N, K, H, W)) with true ``masks`` (N, H, W).

    ``epsilon`` is ``gamma``, the L-inf size of each step. ``objective`` of the result holds the
    share of target pixels still correctly labelled before each iteration. ``on_step(t, attacked)``,
    when given, is called after each iteration ``t`` (1 ... ``iterations``) of each batch of
    ``batch_size`` images in turn, with that batch's attacked inputs ``x + r`` on the device:
    exactly what a run of ``t`` iterations returns for it (the registry's ``record_steps``).
    """
    check_attack_args(epsilon, iterations, 0.0, budget, bounds)
    if images.ndim != 4 or masks.ndim != 3 or len(images) != len(masks):
        raise ValueError(f"need images (N, C, H, W) and masks (N, H, W), got {tuple(images.shape)} "
                         f"and {tuple(masks.shape)}")
    device = resolve_device(device)
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    advs, hists, shares = [], [], []
    for i in tqdm(range(0, len(images), batch_size), desc="DAG", leave=False, disable=not progress):
        x = images[i:i + batch_size].float().to(device)
        y = masks[i:i + batch_size].long().to(device)
        adv, hist, share = _dag_batch(model, x, y, epsilon, iterations, budget, bounds, generator, record, on_step)
        advs.append(adv.cpu())
        hists.append(hist)
        shares.append((len(x), share))
    n = len(images)
    objective = [sum(k * s[j] for k, s in shares) / n for j in range(iterations)]
    return AttackRun(torch.cat(advs), torch.cat(hists, 1) if record else None, objective)
