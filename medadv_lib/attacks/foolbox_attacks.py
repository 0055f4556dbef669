"""The ten attacks of Taghanaki et al. 2018 (Table 1) behind one interface: :func:`run_attack`.

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

import inspect
import time
from dataclasses import dataclass
from typing import Callable

import foolbox as fb
import numpy as np
import torch
import torch.nn as nn

from ..utils import resolve_device
from .lbfgs import LBFGSAttack
from .minimal_search import MinimalEpsilonSearch
from .pixel_attacks import LocalSearchAttack, SinglePixelAttack

__all__ = ["ATTACKS", "ATTACK_IDS", "AttackInfo", "AttackResult", "TwoLogits", "as_two_logits",
           "foolbox_model", "build_attack", "run_attack", "run_all_attacks"]


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

def _fgsm(steps: int = 1000, max_epsilon: float = 1.0):
    """Foolbox 1 FGSM: the smallest of ``steps`` linear step sizes up to ``max_epsilon``."""
    return MinimalEpsilonSearch(fb.attacks.FGSM(), max_epsilon, steps, "linear")


def _pgd(epsilon: float = 0.3, stepsize: float = 0.01, iterations: int = 40, search_steps: int = 5,
         random_start: bool = True):
    """L-inf PGD, ``search_steps`` epsilons halving down from ``epsilon`` (Foolbox 1 binary search)."""
    return MinimalEpsilonSearch(fb.attacks.LinfPGD(rel_stepsize=stepsize / epsilon, steps=iterations,
                                                   random_start=random_start),
                                epsilon, search_steps, "geometric")


def _bim(epsilon: float = 0.3, stepsize: float = 0.05, iterations: int = 10, search_steps: int = 5):
    return MinimalEpsilonSearch(fb.attacks.LinfBasicIterativeAttack(rel_stepsize=stepsize / epsilon,
                                                                    steps=iterations),
                                epsilon, search_steps, "geometric")


def _deepfool(steps: int = 100, candidates: int = 10, overshoot: float = 0.02):
    return fb.attacks.L2DeepFoolAttack(steps=steps, candidates=candidates, overshoot=overshoot)


def _lbfgs(initial_const: float = 2e-5, search_steps: int = 30, max_iter: int = 150, gtol: float = 1e-5,
           ftol: float = 2.220446049250313e-09):
    return LBFGSAttack(initial_const=initial_const, search_steps=search_steps, max_iter=max_iter,
                       gtol=gtol, ftol=ftol)


def _local_search(r: float = 1.5, p: float = 10.0, d: int = 5, t: int = 5, R: int = 150,
                  initial_fraction: float = 0.1, max_candidates: int = 128, seed: int = 0):
    return LocalSearchAttack(r=r, p=p, d=d, t=t, R=R, initial_fraction=initial_fraction,
                             max_candidates=max_candidates, seed=seed)


def _single_pixel(max_pixels: int = 1000, seed: int = 0):
    return SinglePixelAttack(max_pixels=max_pixels, seed=seed)


def _blur(steps: int = 1000, max_sigma: float | None = None):
    return fb.attacks.GaussianBlurAttack(distance=fb.distances.l2, steps=steps, max_sigma=max_sigma)


def _contrast(steps: int = 1000):
    return fb.attacks.LinearSearchContrastReductionAttack(distance=fb.distances.l2, steps=steps)


def _noise(steps: int = 1000, max_epsilon: float = 1.0, n_values: int = 1):
    """Foolbox 1 additive Gaussian noise: per-pixel std ``eps / sqrt(3)`` for eps up to ``max_epsilon``.

    Foolbox 3's L2 noise of norm ``eps * sqrt(n_values / 3)`` has that per-pixel std
    (``n_values``: pixels per image, filled in by :func:`build_attack`).
    """
    scale = float(np.sqrt(n_values / 3.0))
    return MinimalEpsilonSearch(fb.attacks.L2AdditiveGaussianNoiseAttack(), max_epsilon * scale, steps, "linear")


@dataclass(frozen=True)
class AttackInfo:
    attack_id: str
    name: str
    group: str          # gradient | score | decision (the paper's three families)
    builder: Callable


ATTACKS: dict[str, AttackInfo] = {info.attack_id: info for info in [
    AttackInfo("G1", "FGSM", "gradient", _fgsm),
    AttackInfo("G2", "PGD", "gradient", _pgd),
    AttackInfo("G3", "DeepFool", "gradient", _deepfool),
    AttackInfo("G4", "L-inf BIM", "gradient", _bim),
    AttackInfo("G5", "L-BFGS", "gradient", _lbfgs),
    AttackInfo("S1", "Local Search", "score", _local_search),
    AttackInfo("S2", "Single Pixel", "score", _single_pixel),
    AttackInfo("D1", "Gaussian Blur", "decision", _blur),
    AttackInfo("D2", "Contrast Reduction", "decision", _contrast),
    AttackInfo("D3", "Additive Gaussian Noise", "decision", _noise),
]}
ATTACK_IDS = list(ATTACKS)


def build_attack(attack_id: str, n_classes: int = 2, image_shape: tuple = (), **params):
    """The Foolbox 3 attack for ``attack_id`` with Foolbox 1 defaults overridden by ``params``."""
    if attack_id not in ATTACKS:
        raise ValueError(f"unknown attack {attack_id!r}; valid ids: {', '.join(ATTACK_IDS)}")
    builder = ATTACKS[attack_id].builder
    accepted = inspect.signature(builder).parameters
    unknown = sorted(set(params) - set(accepted) - {"n_values"})
    if unknown:
        raise TypeError(f"attack {attack_id} ({ATTACKS[attack_id].name}) got unknown parameter(s) "
                        f"{unknown}; it accepts {sorted(p for p in accepted if p != 'n_values')}")
    params = {k: v for k, v in params.items() if k in accepted}
    if attack_id == "G3":
        params["candidates"] = min(params.get("candidates", 10), n_classes)
    if attack_id == "D3":
        params["n_values"] = int(np.prod(image_shape)) if image_shape else 1
    return builder(**params)


@dataclass
class AttackResult:
    """Output of :func:`run_attack`; tensors on the CPU, one row per input image.

    ``adversarial`` is the attack's image where it succeeded and the clean image elsewhere, so
    the model's accuracy on it is the accuracy under attack. ``success``: misclassified after the
    attack (clean misclassified images count as trivially successful, as in Foolbox).
    """

    attack_id: str
    name: str
    group: str
    adversarial: torch.Tensor
    success: torch.Tensor
    l2: torch.Tensor
    linf: torch.Tensor
    seconds: float
    clean_correct: torch.Tensor

    @property
    def success_rate(self) -> float:
        """Share of originally correct images that the attack fooled."""
        correct = self.clean_correct
        return float(self.success[correct].float().mean()) if correct.any() else float("nan")


def run_attack(attack_id: str, model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               device: str | torch.device = "auto", batch_size: int = 32, seed: int = 0,
               **params) -> AttackResult:
    """Run attack ``attack_id`` (G1..D3) on ``images`` (N, C, H, W in [0, 1]) with true ``labels``.

    ``params`` override the attack's Foolbox 1 defaults (e.g. ``steps``, ``iterations``);
    unknown names raise before any work. Same ``seed``: same result.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if images.dtype != torch.float32:
        raise TypeError(f"images must be float32 in [0, 1], got {images.dtype}")
    if len(images) and (images.min() < 0 or images.max() > 1):
        raise ValueError("images must lie in [0, 1]")
    device = resolve_device(device)
    if attack_id in ("S1", "S2") and "seed" not in params:
        params["seed"] = seed
    fmodel = foolbox_model(model, images, device)
    with torch.no_grad():
        n_classes = fmodel(images[:1].to(device)).shape[1]
    attack = build_attack(attack_id, n_classes, tuple(images.shape[1:]), **params)
    info = ATTACKS[attack_id]
    torch.manual_seed(seed)
    start = time.perf_counter()
    outs, correct = [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device)
        y = labels[i:i + batch_size].to(device).long()
        with torch.no_grad():
            correct.append((fmodel(x).argmax(1) == y).cpu())
        _, adv, _ = attack(fmodel, x, fb.criteria.Misclassification(y), epsilons=None)
        outs.append(adv.detach().cpu())
    seconds = time.perf_counter() - start
    adversarial = torch.cat(outs) if outs else images.clone()
    clean_correct = torch.cat(correct) if correct else torch.zeros(0, dtype=torch.bool)
    with torch.no_grad():
        pred = torch.cat([fmodel(adversarial[i:i + batch_size].to(device)).argmax(1).cpu()
                          for i in range(0, len(adversarial), batch_size)]) if len(images) else labels
    success = pred != labels.long()
    adversarial = torch.where(success.view(-1, 1, 1, 1), adversarial, images)
    delta = (adversarial - images).flatten(1)
    return AttackResult(attack_id, info.name, info.group, adversarial, success, delta.norm(dim=1),
                        delta.abs().amax(1) if delta.shape[1] else delta.sum(1), seconds, clean_correct)


def run_all_attacks(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                    params: dict[str, dict] | None = None, attack_ids: list[str] | None = None,
                    device: str | torch.device = "auto", seed: int = 0, desc: str = "attacks"
                    ) -> dict[str, AttackResult]:
    """:func:`run_attack` for each id (all ten by default), ``params[id]`` overriding defaults."""
    from ..progress import tqdm

    params = params or {}
    ids = attack_ids or ATTACK_IDS
    unknown = sorted(set(params) - set(ATTACK_IDS))
    if unknown:
        raise ValueError(f"parameters given for unknown attack id(s) {unknown}; valid: {ATTACK_IDS}")
    return {a: run_attack(a, model, images, labels, device=device, seed=seed, **params.get(a, {}))
            for a in tqdm(ids, desc=desc, leave=False)}
