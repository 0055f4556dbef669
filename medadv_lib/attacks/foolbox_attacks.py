"""The Foolbox 3 builders of the ten attacks of Taghanaki et al. 2018 (Table 1), used by the
attack registry (:mod:`.registry`, whose classes carry the paper's ids as ``paper_id``).

Ids as in the paper: gradient G1 FGSM, G2 PGD, G3 DeepFool, G4 L-inf BIM, G5 L-BFGS; score
S1 Local Search, S2 Single Pixel; decision D1 Gaussian Blur, D2 Contrast Reduction, D3 Additive
Gaussian Noise. All are minimal-perturbation searches under misclassification, as Foolbox 1 ran
them (defaults below are Foolbox 1.2's, see reference-facts.md):

* Foolbox 3 attacks where it has them: FGSM, LinfPGD, L2DeepFool, LinfBasicIterative (wrapped
  in :class:`~.minimal_search.MinimalEpsilonSearch` to recover the epsilon search),
  GaussianBlurAttack (already a sigma search), LinearSearchContrastReductionAttack,
  L2AdditiveGaussianNoise (wrapped in the search; epsilon as Foolbox 1's noise scale).
* Ours, written as Foolbox 3 attacks: :mod:`.lbfgs` (G5) and :mod:`.pixel_attacks` (S1, S2).

Single-sigmoid-logit models are wrapped into two logits ``[0, z]`` (softmax = sigmoid), so the
decision and every probability are unchanged; grayscale (1-channel) inputs work throughout.
"""
from __future__ import annotations

import foolbox as fb
import numpy as np
import torch
import torch.nn as nn

from .lbfgs import LBFGSAttack
from .minimal_search import MinimalEpsilonSearch
from .pixel_attacks import LocalSearchAttack, SinglePixelAttack

__all__ = ["TwoLogits", "as_two_logits", "foolbox_model", "fgsm_search", "pgd_search", "deepfool", "bim_search",
           "lbfgs", "local_search", "single_pixel", "blur", "contrast", "gaussian_noise"]


class TwoLogits(nn.Module):
    """A single-logit (sigmoid) classifier seen as two logits ``[0, z]``: softmax equals sigmoid."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        z = self.model(x)
        return torch.cat([torch.zeros_like(z), z], 1)


def as_two_logits(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """``model`` unchanged when it has >= 2 outputs; wrapped in :class:`TwoLogits` when it has one."""
    with torch.no_grad():
        out = model(example[:1])
    if out.ndim != 2:
        raise ValueError(f"classifier outputs must be (N, K), got shape {tuple(out.shape)}")
    return TwoLogits(model) if out.shape[1] == 1 else model


def foolbox_model(model: nn.Module, example: torch.Tensor, device) -> fb.PyTorchModel:
    """Eval-mode Foolbox 3 model on ``device`` with bounds (0, 1); parameters need no gradient."""
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return fb.PyTorchModel(as_two_logits(model, example.to(device)).eval(), bounds=(0, 1), device=device)


# --- builders: keyword defaults are Foolbox 1.2's --------------------------------------------

def fgsm_search(steps: int = 1000, max_epsilon: float = 1.0):
    """Foolbox 1 FGSM: the smallest of ``steps`` linear step sizes up to ``max_epsilon``."""
    return MinimalEpsilonSearch(fb.attacks.FGSM(), max_epsilon, steps, "linear")


def pgd_search(epsilon: float = 0.3, stepsize: float = 0.01, iterations: int = 40, search_steps: int = 5,
         random_start: bool = True):
    """L-inf PGD, ``search_steps`` epsilons halving down from ``epsilon`` (Foolbox 1 binary search)."""
    return MinimalEpsilonSearch(fb.attacks.LinfPGD(rel_stepsize=stepsize / epsilon, steps=iterations,
                                                   random_start=random_start),
                                epsilon, search_steps, "geometric")


def bim_search(epsilon: float = 0.3, stepsize: float = 0.05, iterations: int = 10, search_steps: int = 5):
    return MinimalEpsilonSearch(fb.attacks.LinfBasicIterativeAttack(rel_stepsize=stepsize / epsilon,
                                                                    steps=iterations),
                                epsilon, search_steps, "geometric")


def deepfool(steps: int = 100, candidates: int = 10, overshoot: float = 0.02):
    return fb.attacks.L2DeepFoolAttack(steps=steps, candidates=candidates, overshoot=overshoot)


def lbfgs(initial_const: float = 2e-5, search_steps: int = 30, max_iter: int = 150, gtol: float = 1e-5,
           ftol: float = 2.220446049250313e-09):
    return LBFGSAttack(initial_const=initial_const, search_steps=search_steps, max_iter=max_iter,
                       gtol=gtol, ftol=ftol)


def local_search(r: float = 1.5, p: float = 10.0, d: int = 5, t: int = 5, R: int = 150,
                  initial_fraction: float = 0.1, max_candidates: int = 128, seed: int = 0):
    return LocalSearchAttack(r=r, p=p, d=d, t=t, R=R, initial_fraction=initial_fraction,
                             max_candidates=max_candidates, seed=seed)


def single_pixel(max_pixels: int = 1000, seed: int = 0):
    return SinglePixelAttack(max_pixels=max_pixels, seed=seed)


def blur(steps: int = 1000, max_sigma: float | None = None):
    return fb.attacks.GaussianBlurAttack(distance=fb.distances.l2, steps=steps, max_sigma=max_sigma)


def contrast(steps: int = 1000):
    return fb.attacks.LinearSearchContrastReductionAttack(distance=fb.distances.l2, steps=steps)


def gaussian_noise(steps: int = 1000, max_epsilon: float = 1.0, n_values: int = 1):
    """Foolbox 1 additive Gaussian noise: per-pixel std ``eps / sqrt(3)`` for eps up to ``max_epsilon``.

    Foolbox 3's L2 noise of norm ``eps * sqrt(n_values / 3)`` has that per-pixel std
    (``n_values``: pixels per image, filled in by the registry's ``GaussianNoise``).
    """
    scale = float(np.sqrt(n_values / 3.0))
    return MinimalEpsilonSearch(fb.attacks.L2AdditiveGaussianNoiseAttack(), max_epsilon * scale, steps, "linear")
