"""Universal adversarial perturbations (UAPs) and adversarial retraining against them.

Hirano, Koga & Takemoto (2020), Sec. 2.2: the iterative algorithm of Moosavi-Dezfooli et al.
(2017) with an FGSM inner step, nontargeted and targeted (Hirano & Takemoto 2020), with the
semantics of ART's ``UniversalPerturbation`` that the paper's code used:

* each pass visits the images in a random order (Python ``random.sample``, as ART does);
* nontargeted: only an image whose prediction on ``x + v`` still equals its clean prediction gets
  an FGSM step (L-inf, strength ``eps_step``, label = that prediction) from ``x + v``; the update
  ``v <- P(adv - x)`` is kept only when the step changes the label;
* targeted: only an image not yet classified as the target gets a step *toward* the target; the
  update is kept only when the new label is the target;
* ``P`` projects onto the Lp ball of radius ``xi`` (p = 2 or inf); ``xi = zeta x`` the mean Lp norm
  of the images (:func:`uap_radius`); passes stop after ``max_passes`` or when the rate on the
  images reaches ``1 - delta``; with ``plateau`` set (ours, not ART's), also once the loop has
  converged by :func:`plateaued`: ``patience`` passes raised its best rate by at most ``plateau``.
  Nothing is clipped unless ``clip`` is given.

Two modes of :func:`universal_perturbation`:

``exact``  the reference's sequential loop, image by image at batch 1, with ART 1.20's arithmetic
           (the FGSM step re-projected onto its own eps-ball, ``v <- P(adv - x)``, the L2
           projection's norm in float32 and its scale factor in float64). On the CPU it returns
           ART's perturbation bit for bit for the same visiting order (``benchmarks/uap_vs_art.py``
           checks it). It is not batched because batched kernels round differently from batch-1
           ones: one flipped near-tie decision and the two runs part for good. Speed comes from
           doing only what the decisions need: one forward per visit that also serves the FGSM
           gradient, no parameter gradients, and no per-image numpy round trips.
``batched`` every image of a mini-batch sees the same ``v``; the kept steps of the batch are then
           applied one after another (``v <- P(v + step)``). An approximation that is much faster
           on a GPU or for large models.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from ..data.datasets import ImageDataset
from ..progress import tqdm
from ..utils import resolve_device

__all__ = ["UAPResult", "universal_perturbation", "random_perturbation", "uap_radius",
           "mean_image_norm", "project_lp", "perturbation_norm", "apply_perturbation",
           "predict_labels", "as_image_tensor", "parse_norm", "universal_pgd", "plateaued"]

MODES = ("exact", "batched")


def parse_norm(norm) -> str:
    """Accept 2, "2", "l2", inf, "inf", "linf"; return "2" or "inf"."""
    text = str(norm).lower().replace("l", "") if not isinstance(norm, float) or not math.isinf(norm) else "inf"
    if text in ("2", "2.0"):
        return "2"
    if text in ("inf", "np.inf"):
        return "inf"
    raise ValueError(f"norm must be 2 or inf, got {norm!r}")


def as_image_tensor(data) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images (N, C, H, W) float32 and targets (or None) from a dataset, loader or tensor."""
    if isinstance(data, ImageDataset):
        return data.float_images(), data.targets
    if isinstance(data, torch.Tensor):
        if data.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(data.shape)}")
        return (data.float() / 255.0 if data.dtype == torch.uint8 else data.float()), None
    if isinstance(data, DataLoader) or isinstance(data, Iterable):
        xs, ys = [], []
        for batch in data:
            x, y = (batch[0], batch[1]) if isinstance(batch, (tuple, list)) else (batch, None)
            xs.append(x.float())
            if y is not None:
                ys.append(torch.as_tensor(y))
        if not xs:
            raise ValueError("the data loader yielded no images")
        return torch.cat(xs), (torch.cat(ys) if len(ys) == len(xs) else None)
    raise TypeError(f"expected an ImageDataset, a DataLoader or a tensor, got {type(data).__name__}")


def mean_image_norm(images: torch.Tensor, norm) -> float:
    """Mean Lp norm of the images (one channel, as the paper's code: ``im[:, :, 0]``)."""
    flat = images[:, 0].reshape(len(images), -1).float()
    if parse_norm(norm) == "inf":
        return float(flat.abs().amax(1).mean())
    return float(flat.norm(dim=1).mean())


def uap_radius(images, zeta: float, norm) -> float:
    """``xi = zeta * mean image norm`` (Sec. 2.2; zeta = 0.01 and 0.02 in the paper).

    For a multi-channel image the budget applies to every channel alike (the paper projected one
    gray channel and copied it), so the L2 radius is that of one channel times sqrt(C).
    """
    if not 0 < zeta <= 1:
        raise ValueError(f"zeta must be in (0, 1], got {zeta}")
    images, _ = as_image_tensor(images)
    xi = zeta * mean_image_norm(images, norm)
    if parse_norm(norm) == "2":
        xi *= math.sqrt(images.shape[1])
    return xi


def perturbation_norm(v: torch.Tensor, norm) -> float:
    return float(v.abs().max() if parse_norm(norm) == "inf" else v.norm())


def project_lp(v: torch.Tensor, xi: float, norm, like_art: bool = False) -> torch.Tensor:
    """Projection onto the Lp ball of radius ``xi``: clip (inf) or rescale (2), as ART's
    ``projection``. ``like_art`` reproduces ART's rounding for L2 (numpy's float32 norm, a
    float64 scale factor, the product cast back to float32), which :func:`universal_perturbation`
    needs in ``exact`` mode to match ART bit for bit; it runs through numpy on the CPU."""
    if parse_norm(norm) == "inf":
        return v.clamp(-xi, xi)
    if like_art:
        flat = v.detach().cpu().numpy().reshape(1, -1)
        length = np.linalg.norm(flat, ord=2.0, axis=1, keepdims=True)
        scale = np.where(length, np.minimum(1, np.full(flat.shape, xi) / length), 0)
        return torch.from_numpy((flat * scale).astype(np.float32).reshape(v.shape)).to(v.device)
    length = v.norm()
    return v * min(1.0, xi / float(length)) if length > 0 else v


def random_perturbation(shape: Sequence[int], xi: float, norm, seed: int = 0) -> torch.Tensor:
    """The paper's random control: uniform on the L2 sphere of radius ``xi``, or uniform in
    ``[-xi, xi]`` per pixel for L-inf."""
    gen = torch.Generator().manual_seed(seed)
    if parse_norm(norm) == "inf":
        return (torch.rand(tuple(shape), generator=gen) * 2 - 1) * xi
    v = torch.randn(tuple(shape), generator=gen)
    return v * (xi / v.norm())


def apply_perturbation(images: torch.Tensor, v: torch.Tensor, clip: tuple[float, float] | None = None
                       ) -> torch.Tensor:
    out = images + v.to(images.device)
    return out if clip is None else out.clamp(*clip)


@torch.no_grad()
def predict_labels(model: nn.Module, images: torch.Tensor, v: torch.Tensor | None = None,
                   batch_size: int = 256, device="auto", clip=None) -> torch.Tensor:
    """argmax of ``model(images + v)``, batched on ``device``, returned on the CPU."""
    device = resolve_device(device)
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device)
        if v is not None:
            x = apply_perturbation(x, v.to(device), clip)
        out.append(model(x).argmax(1).cpu())
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


@dataclass
class UAPResult:
    perturbation: torch.Tensor          # (C, H, W), on the CPU
    norm: str
    xi: float
    target: int | None
    mode: str
    rate_history: list[float] = field(default_factory=list)  # per pass, on the input images
    updates: int = 0                    # kept updates of v
    steps: int = 0                      # FGSM steps taken
    seconds: float = 0.0

    @property
    def passes(self) -> int:
        return len(self.rate_history)


def _rate(model, images, v, reference, target, batch_size, device, clip) -> float:
    pred = predict_labels(model, images, v, batch_size, device, clip)
    if target is None:
        return float((pred != reference).float().mean())
    return float((pred == target).float().mean())


def _fgsm_step(xv: torch.Tensor, grad: torch.Tensor, eps_step: float, target: int | None, clip):
    """ART's ``FastGradientMethod`` step from ``xv``: ``xv +- eps sign(grad)``, clipped to the
    data range, then re-projected onto the eps-ball around ``xv`` (ART's default ``project``)."""
    adv = xv + (eps_step * grad.sign() if target is None else -eps_step * grad.sign())
    if clip is not None:
        adv = adv.clamp(*clip)
    return xv + (adv - xv).clamp(-eps_step, eps_step)


def _needs_step(label: torch.Tensor, clean: torch.Tensor, target: int | None) -> torch.Tensor:
    """Nontargeted: still classified as the clean prediction; targeted: not yet the target."""
    return label == clean if target is None else label != target


def _step_kept(new: torch.Tensor, current: torch.Tensor, target: int | None) -> torch.Tensor:
    """Nontargeted: the step changed the label; targeted: the step reached the target."""
    return new != current if target is None else new == target


def _fgsm_batch(model, x, v, labels, target, eps_step, clip):
    """For a mini-batch sharing ``v`` (batched mode): which images step, their steps, which are kept.

    Returns (kept mask, FGSM steps ``adv - x - v``, step mask), all over the batch.
    """
    xv = (x + v).requires_grad_(True)
    logits = model(xv)
    current = logits.argmax(1)
    step_mask = _needs_step(current, labels, target)
    kept = torch.zeros_like(step_mask)
    steps = torch.zeros_like(x)
    if not bool(step_mask.any()):
        return kept, steps, step_mask
    goal = labels[step_mask] if target is None else torch.full_like(current[step_mask], target)
    loss = F.cross_entropy(logits[step_mask], goal, reduction="sum")
    (grad,) = torch.autograd.grad(loss, xv)
    adv = _fgsm_step(xv.detach()[step_mask], grad[step_mask], eps_step, target, clip)
    with torch.no_grad():
        new = model(adv).argmax(1)
    kept[step_mask] = _step_kept(new, current[step_mask], target)
    steps[step_mask] = adv - x[step_mask] - v
    return kept, steps, step_mask


def universal_perturbation(model: nn.Module, data, xi: float, norm=2, *, target: int | None = None,
                           eps_step: float = 0.001, max_passes: int = 15, delta: float = 1e-6,
                           plateau: float | None = None, patience: int = 3, mode: str = "batched", batch_size: int = 64, seed: int = 0,
                           device="auto", clip: tuple[float, float] | None = None,
                           progress: bool = True) -> UAPResult:
    """Compute a UAP for ``model`` on ``data`` (ImageDataset, DataLoader or image tensor).

    ``target`` None: nontargeted (fool the clean prediction); an int: targeted toward that class.
    ``xi`` is the radius in the image scale of ``data``; see :func:`uap_radius`. ``batch_size`` is
    the mini-batch of ``batched`` mode (``exact`` mode runs at batch 1). Returns the
    perturbation and the per-pass fooling (or targeted success) rate on ``data``, measured against
    the clean predictions, the stopping criterion of the reference algorithm. ``plateau`` (None:
    off, as in the reference) also stops the loop once :func:`plateaued` (its last ``patience``
    passes raised its best rate by at most ``plateau``): a budget for runs that stop once converged
    rather than after ``max_passes``.
    """
    norm = parse_norm(norm)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not xi > 0 or not eps_step > 0:
        raise ValueError(f"xi and eps_step must be > 0, got xi={xi}, eps_step={eps_step}")
    if max_passes < 1 or batch_size < 1:
        raise ValueError("max_passes and batch_size must be >= 1")
    if plateau is not None and not 0 <= plateau < 1:
        raise ValueError(f"plateau must be None or in [0, 1), got {plateau}")
    if patience < 1:
        raise ValueError(f"patience must be >= 1, got {patience}")
    images, _ = as_image_tensor(data)
    device = resolve_device(device)
    model = model.to(device).eval()
    grad_flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    start = time.perf_counter()
    clean = predict_labels(model, images, None, 256, device)
    with torch.no_grad():
        n_classes = int(model(images[:1].to(device)).shape[1])
    if target is not None and not 0 <= target < n_classes:
        raise ValueError(f"target {target} is not a class of this model")
    images_dev = images.to(device)
    clean_dev = clean.to(device)
    n = len(images)
    v = torch.zeros((1,) + tuple(images.shape[1:]), device=device)
    rng = random.Random(seed)
    result = UAPResult(v, norm, float(xi), target, mode)
    bar = tqdm(range(max_passes), desc=f"UAP ({mode}, L{norm}, "
               f"{'nontargeted' if target is None else f'target {target}'})", leave=False,
               disable=not progress)
    try:
        for _ in bar:
            order = torch.tensor(rng.sample(range(n), n), device=device)
            if mode == "exact":
                v = _exact_pass(model, images_dev, clean_dev, order, v, xi, norm, target, eps_step,
                                clip, result)
            else:
                v = _batched_pass(model, images_dev, clean_dev, order, v, xi, norm, target,
                                  eps_step, batch_size, clip, result)
            rate = _rate(model, images_dev, v, clean_dev, target, 256, device, clip)
            result.rate_history.append(rate)
            bar.set_postfix(rate=f"{rate:.3f}", updates=result.updates)
            if rate >= 1.0 - delta:
                break
            if plateau is not None and plateaued(result.rate_history, plateau, patience):
                break
    finally:
        for p, flag in zip(model.parameters(), grad_flags):
            p.requires_grad_(flag)
    result.perturbation = v[0].detach().cpu()
    result.seconds = time.perf_counter() - start
    return result


def plateaued(history: Sequence[float], plateau: float, patience: int = 3) -> bool:
    """Whether a loop's rate per pass has converged: its last ``patience`` passes raised the best
    rate of the passes before them by at most ``plateau`` (a rate that falls counts as no gain).
    False until the loop has run more than ``patience`` passes. Rates are shares of a finite set of
    images, compared with a tolerance of 1e-6, so that float32 and rounded rates decide alike."""
    history = [float(h) for h in history]
    if len(history) <= patience:
        return False
    return max(history[-patience:]) - max(history[:-patience]) <= plateau + 1e-6


def _exact_pass(model, images, clean, order, v, xi, norm, target, eps_step, clip, result):
    """One pass of ART's ``UniversalPerturbation`` loop, image by image (see the module docstring).

    ART runs three model calls per step (predict, loss gradient, predict); here the forward that
    decides whether the image steps also carries the gradient, so a step costs one forward, one
    backward (inputs only) and the forward that checks the new label."""
    for i in order.tolist():
        x = images[i:i + 1]
        xv = (x + v).requires_grad_(True)
        logits = model(xv)
        current = logits.argmax(1)
        if not bool(_needs_step(current, clean[i:i + 1], target)):
            continue
        result.steps += 1
        goal = clean[i:i + 1] if target is None else torch.full_like(current, target)
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, goal), xv)
        adv = _fgsm_step(xv.detach(), grad, eps_step, target, clip)
        with torch.no_grad():
            new = model(adv).argmax(1)
        if bool(_step_kept(new, current, target)):
            v = project_lp(adv - x, xi, norm, like_art=True)
            result.updates += 1
    return v


def _batched_pass(model, images, clean, order, v, xi, norm, target, eps_step, batch_size, clip, result):
    """One pass in mini-batches that share ``v``; kept steps are applied in visiting order."""
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        kept, steps, stepped = _fgsm_batch(model, images[idx], v, clean[idx], target, eps_step, clip)
        result.steps += int(stepped.sum())
        for j in kept.nonzero().flatten().tolist():
            v = project_lp(v + steps[j:j + 1], xi, norm)
            result.updates += 1
    return v


def universal_pgd(model: nn.Module, data, xi: float, norm=2, *, labels: torch.Tensor | None = None,
                  steps: int = 100, step_size: float | None = None, batch_size: int = 128,
                  device="auto", clip: tuple[float, float] | None = None, progress: bool = True) -> UAPResult:
    """One shared perturbation by projected gradient ascent on the mean cross-entropy of every
    image (Shafahi et al. 2020, "Universal adversarial training", Alg. 1 without the training step):
    ``v <- P(v + alpha * dir(grad_v mean_i CE(f(x_i + v), y_i)))``, ``dir`` the sign (L-inf) or the
    unit-L2 direction, ``P`` the projection onto the ``xi``-ball. A stronger universal attack than
    the FGSM-step loop at the same ``xi``: the chapters' positive control, telling "the model
    resists UAPs" from "our UAP loop is weak". ``labels`` default to the clean predictions (the
    nontargeted goal of :func:`universal_perturbation`); ``step_size`` defaults to 2.5 xi / steps.
    The rate per step (share of images not at their label) goes to ``rate_history``."""
    norm = parse_norm(norm)
    if not xi > 0 or steps < 1:
        raise ValueError(f"xi must be > 0 and steps >= 1, got xi={xi}, steps={steps}")
    images, _ = as_image_tensor(data)
    device = resolve_device(device)
    was_training = model.training
    model = model.to(device).eval()
    grad_flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    start = time.perf_counter()
    goal = (labels if labels is not None else predict_labels(model, images, None, 256, device)).to(device)
    alpha = step_size if step_size is not None else 2.5 * xi / steps
    v = torch.zeros((1,) + tuple(images.shape[1:]), device=device)
    result = UAPResult(v, norm, float(xi), None, "pgd")
    try:
        for _ in tqdm(range(steps), desc=f"universal PGD (L{norm})", leave=False, disable=not progress):
            v = v.detach().requires_grad_(True)
            grad, wrong = torch.zeros_like(v), 0
            for i in range(0, len(images), batch_size):
                x = images[i:i + batch_size].to(device)
                xv = x + v if clip is None else (x + v).clamp(*clip)
                logits = model(xv)
                loss = F.cross_entropy(logits, goal[i:i + batch_size], reduction="sum") / len(images)
                grad += torch.autograd.grad(loss, v)[0]
                wrong += int((logits.argmax(1) != goal[i:i + batch_size]).sum())
            result.rate_history.append(wrong / len(images))
            with torch.no_grad():
                direction = grad.sign() if norm == "inf" else grad / grad.flatten().norm().clamp_min(1e-12)
                v = project_lp(v + alpha * direction, xi, norm)
            result.steps += 1
            result.updates += 1
    finally:
        for p, flag in zip(model.parameters(), grad_flags):
            p.requires_grad_(flag)
        model.train(was_training)
    result.perturbation = v[0].detach().cpu()
    result.seconds = time.perf_counter() - start
    return result
