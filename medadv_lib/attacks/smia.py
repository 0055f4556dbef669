"""SMIA, the stabilized medical image attack (Qi, Gong, Song, Ma, Zheng, ICLR 2021), as in the paper.

Objective (paper, Sec. 3): maximise ``L_DEV - alpha * L_STA`` over the perturbation ``eta`` where

* ``L_DEV = L(f(x + eta), y)``, the deviation from the ground truth (cross-entropy; per pixel,
  averaged over the image, for segmentation);
* ``L_STA = L(f(x + eta), f(x + W * eta))``, the loss between the prediction on the adversarial
  example and the prediction when the perturbation is smoothed by a Gaussian kernel ``W``
  (cross-entropy against the softmax of the smoothed branch; the gradient flows through both
  branches, as the paper differentiates the whole objective with respect to ``eta``).

Iteration 1 is an FGSM step on ``L_DEV`` alone (``eta`` is still zero); every iteration steps
``eta <- eta + epsilon * sign(grad)`` and keeps ``x + eta`` inside the image bounds. So after
``T`` iterations ``||eta||_inf <= T * epsilon`` without any projection, as in the paper; an
explicit L-inf projection (``budget``) is an option. ``W`` is a ``kernel_size`` x ``kernel_size``
Gaussian of standard deviation ``sigma``, centred, applied depthwise to any number of channels.

Differences of the authors' public code (imogenqi/SMA, ``SMIA.py``) from the paper, none of
which we copy: it does not run as published (undefined ``gt`` and ``model``); its kernel is
centred off the middle and stacked into a vertical 3-tap filter that mixes three channels; it
blurs the current gradient step instead of the perturbation; its default weights turn the
stabilization term off (a2 = 0); it never projects into an epsilon ball.

With ``alpha = 0`` the same loop is iterative FGSM on ``L_DEV`` (the paper's "DEV" ablation),
with ``iterations = 1`` it is FGSM, and with a budget and a random start it is PGD; the
segmentation baselines use exactly these special cases (:func:`fgsm`, :func:`pgd`), so all
methods share one step. :class:`SMIAAttack` exposes the attack to Foolbox 3.
"""
from __future__ import annotations

from typing import Any, Callable

import eagerpy as ep
import foolbox as fb
import torch
import torch.nn as nn
import torch.nn.functional as F
from foolbox.attacks.base import FixedEpsilonAttack, get_criterion, raise_if_kwargs, verify_input_bounds

from ..progress import tqdm
from ..utils import resolve_device
from .kernel import AttackRun, check_attack_args

__all__ = ["gaussian_kernel", "smooth_perturbation", "per_image_loss", "attack_loss", "objective_terms",
           "objective_record", "smia", "fgsm", "pgd", "SMIAAttack"]


def gaussian_kernel(size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    """Normalised, centred 2-D Gaussian ``W`` of odd ``size`` (the paper's smoothing kernel)."""
    if not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be an odd positive int, got {size!r}")
    if not sigma > 0:
        raise ValueError(f"kernel sigma must be > 0, got {sigma}")
    axis = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-axis**2 / (2 * sigma**2))
    kernel = torch.outer(g, g)
    return (kernel / kernel.sum()).float()


def smooth_perturbation(eta: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``W * eta``: depthwise convolution of each channel with ``kernel`` (reflect padding when
    the image is large enough, else zero padding), output the same size as ``eta``."""
    channels, k = eta.shape[1], kernel.shape[-1]
    weight = kernel.to(eta).expand(channels, 1, k, k)
    pad = k // 2
    if pad == 0:
        return eta
    if min(eta.shape[-2:]) > pad:
        return F.conv2d(F.pad(eta, (pad,) * 4, mode="reflect"), weight, groups=channels)
    return F.conv2d(eta, weight, padding=pad, groups=channels)


def per_image_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per image (N,). ``target``: class labels (N,) or (N, H, W) (per-pixel loss,
    averaged over the pixels) or class probabilities shaped like ``logits``."""
    per = F.cross_entropy(logits, target, reduction="none")
    return per.flatten(1).mean(1) if per.ndim > 1 else per


def attack_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """:func:`per_image_loss` summed over the batch."""
    return per_image_loss(logits, target).sum()


def objective_terms(model: Callable, x: torch.Tensor, eta: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor,
                    bounds: tuple[float, float] = (0.0, 1.0), stabilize: bool = True):
    """The two terms of SMIA's objective (Qi et al. 2021, Sec. 3, Eq. 3: maximise
    ``L_DEV - alpha * L_STA``) per image at the perturbation ``eta``: ``(L_DEV, L_STA)``, each (N,),
    with ``L_STA`` None when ``stabilize`` is False (no second model call). The gradient flows
    through both branches; the attack loop and :func:`objective_record` share this function."""
    logits = model(x + eta)
    dev = per_image_loss(logits, y)                                        # L_DEV
    if not stabilize:
        return dev, None
    lo, hi = bounds
    smoothed = (x + smooth_perturbation(eta, kernel)).clamp(lo, hi)
    return dev, per_image_loss(logits, F.softmax(model(smoothed), 1))      # L_STA


def _batch_attack(model: Callable, x: torch.Tensor, y: torch.Tensor, epsilon: float, iterations: int,
                  alpha: float, kernel: torch.Tensor, budget: float | None, random_start: bool,
                  bounds: tuple[float, float], generator: torch.Generator | None, record: bool):
    lo, hi = bounds
    eta = torch.zeros_like(x)
    if random_start:
        radius = budget if budget is not None else epsilon
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype) * 2 - 1
        eta = (x + radius * noise.to(x.device)).clamp(lo, hi) - x
    history = [eta.detach().cpu()] if record else None
    objective = []
    for t in range(1, iterations + 1):
        eta = eta.detach().requires_grad_(True)
        dev, sta = objective_terms(model, x, eta, y, kernel, bounds, stabilize=alpha > 0 and t > 1)
        loss = dev.sum() if sta is None else dev.sum() - alpha * sta.sum()   # L_DEV - alpha L_STA
        grad, = torch.autograd.grad(loss, eta)
        with torch.no_grad():
            eta = eta + epsilon * grad.sign()
            if budget is not None:
                eta = eta.clamp(-budget, budget)
            eta = (x + eta).clamp(lo, hi) - x
        objective.append(float(loss.detach()))
        if record:
            history.append(eta.detach().cpu())
    return (x + eta).detach(), (torch.stack(history) if record else None), objective


def smia(model: nn.Module | Callable, images: torch.Tensor, targets: torch.Tensor, *, epsilon: float,
         iterations: int = 10, alpha: float = 1.0, kernel_size: int = 5, sigma: float = 1.0,
         budget: float | None = None, random_start: bool = False, bounds: tuple[float, float] = (0.0, 1.0),
         record: bool = False, batch_size: int = 64, device: str | torch.device = "auto",
         seed: int = 0, progress: bool = False, desc: str = "SMIA") -> AttackRun:
    """Run SMIA on ``images`` (N, C, H, W) with ground truth ``targets`` ((N,) labels or
    (N, H, W) masks). ``epsilon`` is the step of every iteration (paper: 0.05 segmentation,
    5e-5 classification); ``budget`` an optional L-inf projection radius. Returns an
    :class:`AttackRun` on the CPU; ``record=True`` keeps the perturbation after every iteration.
    """
    check_attack_args(epsilon, iterations, alpha, budget, bounds)
    if len(images) != len(targets):
        raise ValueError(f"{len(images)} images but {len(targets)} targets")
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    device = resolve_device(device)
    if isinstance(model, nn.Module):
        model.eval()
    kernel = gaussian_kernel(kernel_size, sigma).to(device)
    generator = torch.Generator().manual_seed(seed)
    advs, hists, objective = [], [], None
    starts = range(0, len(images), batch_size)
    for i in tqdm(starts, desc=desc, leave=False, disable=not progress):
        x = images[i:i + batch_size].float().to(device)
        y = targets[i:i + batch_size].to(device)
        adv, hist, obj = _batch_attack(model, x, y, epsilon, iterations, alpha, kernel, budget,
                                       random_start, bounds, generator, record)
        advs.append(adv.cpu())
        hists.append(hist)
        objective = obj if objective is None else [a + b for a, b in zip(objective, obj)]
    history = torch.cat(hists, 1) if record else None
    return AttackRun(torch.cat(advs), history, objective)


@torch.no_grad()
def objective_record(model: nn.Module | Callable, images: torch.Tensor, targets: torch.Tensor,
                     perturbations: torch.Tensor, *, alpha: float = 1.0, kernel_size: int = 5, sigma: float = 1.0,
                     bounds: tuple[float, float] = (0.0, 1.0), batch_size: int = 64,
                     device: str | torch.device = "auto") -> dict[str, torch.Tensor]:
    """SMIA's objective (Qi et al. 2021, Sec. 3, Eq. 3) at each of a run's iterates: for
    ``perturbations`` (T + 1, N, C, H, W), ``history`` of an :class:`AttackRun` recorded with
    ``record=True`` (``[0]`` the start, ``[t]`` after iteration ``t``), returns per iterate and image
    ``{"dev": L_DEV, "sta": L_STA, "objective": L_DEV - alpha * L_STA}``, each (T + 1, N) on the CPU
    (``alpha = 0``, DEV or PGD: no ``"sta"``, and no second model call). The objective is read after
    each step (the loop computes it before the step, for its gradient), with the stabilization term
    at every iterate, so the record shows what iteration ``t`` reached. Pass a subset of the
    iterates to read only those. A record only: it calls the model without gradients and leaves
    the run untouched."""
    if perturbations.ndim != 5 or perturbations.shape[1:] != images.shape:
        raise ValueError(f"perturbations must be (T + 1, *images.shape), got {tuple(perturbations.shape)}")
    device = resolve_device(device)
    if isinstance(model, nn.Module):
        model.eval()
    kernel = gaussian_kernel(kernel_size, sigma).to(device)
    dev, sta = torch.zeros(perturbations.shape[:2]), torch.zeros(perturbations.shape[:2])
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].float().to(device)
        y = targets[i:i + batch_size].to(device)
        for t, eta in enumerate(perturbations[:, i:i + batch_size]):
            d, s = objective_terms(model, x, eta.to(device), y, kernel, bounds, stabilize=alpha > 0)
            dev[t, i:i + len(x)] = d.cpu()
            if s is not None:
                sta[t, i:i + len(x)] = s.cpu()
    if alpha > 0:
        return {"dev": dev, "sta": sta, "objective": dev - alpha * sta}
    return {"dev": dev, "objective": dev}


def fgsm(model, images, targets, *, budget: float, **kwargs) -> AttackRun:
    """FGSM (Goodfellow et al. 2015): one sign step of the full ``budget`` on ``L_DEV``."""
    return smia(model, images, targets, epsilon=budget, iterations=1, alpha=0.0, desc="FGSM", **kwargs)


def pgd(model, images, targets, *, epsilon: float, iterations: int, budget: float,
        random_start: bool = True, **kwargs) -> AttackRun:
    """PGD (Madry et al. 2018): sign steps of ``epsilon`` on ``L_DEV`` projected into the
    L-inf ``budget`` ball, from a uniform random start inside it."""
    return smia(model, images, targets, epsilon=epsilon, iterations=iterations, alpha=0.0, budget=budget,
                random_start=random_start, desc="PGD", **kwargs)


class SMIAAttack(FixedEpsilonAttack):
    """SMIA as a Foolbox 3 L-inf fixed-epsilon attack (untargeted, classification).

    ``epsilon`` of the Foolbox call is the L-inf radius; each of the ``steps`` iterations moves
    by ``abs_stepsize`` (default ``epsilon / steps``, so that the paper's unprojected attack with
    step ``e`` and ``T`` iterations is ``SMIAAttack(steps=T, abs_stepsize=e)`` at ``epsilon = T * e``).
    """

    distance = fb.distances.linf

    def __init__(self, *, steps: int = 10, alpha: float = 1.0, kernel_size: int = 5, sigma: float = 1.0,
                 abs_stepsize: float | None = None):
        check_attack_args(abs_stepsize or 1.0, steps, alpha)
        gaussian_kernel(kernel_size, sigma)
        self.steps, self.alpha, self.kernel_size, self.sigma = steps, alpha, kernel_size, sigma
        self.abs_stepsize = abs_stepsize

    def run(self, model: fb.Model, inputs, criterion, *, early_stop: float | None = None,
            epsilon: float, **kwargs: Any):
        raise_if_kwargs(kwargs)
        x, restore_type = ep.astensor_(inputs)
        del inputs
        criterion = get_criterion(criterion)
        verify_input_bounds(x, model)
        if not isinstance(criterion, fb.criteria.Misclassification):
            raise ValueError("SMIAAttack is untargeted: use a Misclassification criterion (labels)")
        if not isinstance(x, ep.PyTorchTensor):
            raise TypeError("SMIAAttack supports PyTorch models")
        step = self.abs_stepsize or epsilon / self.steps
        logits_of = lambda t: model(ep.astensor(t)).raw  # noqa: E731
        adv, _, _ = _batch_attack(logits_of, x.raw.detach(), criterion.labels.raw, step, self.steps,
                                  self.alpha, gaussian_kernel(self.kernel_size, self.sigma).to(x.raw.device),
                                  epsilon, False, model.bounds, None, False)
        return restore_type(ep.astensor(adv))
