"""Measured proxies for the paper's by-eye perceptibility levels (Taghanaki et al. 2018, Table 1).

The paper graded each attack's perturbations as Obvious, Mixed or Hard to perceive. We measure
per image: L2 and L-inf of the perturbation (pixels in [0, 1]) and SSIM (scikit-image,
``data_range=1``), and map an image to a level by SSIM and L-inf:

* **Hard**: SSIM >= 0.95 and L-inf <= 8/255 (no structural change, at most a few gray levels);
* **Obvious**: SSIM < 0.80 or L-inf >= 64/255 (structure visibly changed, or a quarter of the
  gray range moved somewhere);
* **Mixed**: everything between.

An attack's level is the majority level of its successful images (ties towards the more visible
level). The thresholds are ours, stated here, not the paper's; they follow common usage of SSIM
(>= 0.95 visually near-identical) and 8/255 as an imperceptible L-inf budget.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from skimage.metrics import structural_similarity

__all__ = ["LEVELS", "HARD_SSIM", "HARD_LINF", "OBVIOUS_SSIM", "OBVIOUS_LINF", "perturbation_norms",
           "ssim", "perceptibility_level", "perceptibility_table", "attack_level"]

LEVELS = ("Hard", "Mixed", "Obvious")
HARD_SSIM, HARD_LINF = 0.95, 8 / 255
OBVIOUS_SSIM, OBVIOUS_LINF = 0.80, 64 / 255


def _check(clean: torch.Tensor, adversarial: torch.Tensor) -> None:
    if clean.shape != adversarial.shape or clean.ndim != 4:
        raise ValueError(f"need two (N, C, H, W) tensors of one shape, got {tuple(clean.shape)} "
                         f"and {tuple(adversarial.shape)}")


def perturbation_norms(clean: torch.Tensor, adversarial: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(L2, L-inf) of ``adversarial - clean`` per image."""
    _check(clean, adversarial)
    delta = (adversarial.float() - clean.float()).flatten(1)
    return delta.norm(dim=1).numpy(), delta.abs().amax(1).numpy()


def ssim(clean: torch.Tensor, adversarial: torch.Tensor) -> np.ndarray:
    """Structural similarity per image (mean over channels), ``data_range=1``."""
    _check(clean, adversarial)
    a, b = clean.float().numpy(), adversarial.float().numpy()
    side = min(a.shape[2:])
    win = min(7, side if side % 2 else side - 1)
    return np.array([np.mean([structural_similarity(a[i, c], b[i, c], data_range=1.0, win_size=win)
                              for c in range(a.shape[1])]) for i in range(len(a))])


def perceptibility_level(ssim_value: float, linf: float) -> str:
    """Map one image's SSIM and L-inf to Hard / Mixed / Obvious (thresholds in the module doc)."""
    if ssim_value < OBVIOUS_SSIM or linf >= OBVIOUS_LINF:
        return "Obvious"
    if ssim_value >= HARD_SSIM and linf <= HARD_LINF:
        return "Hard"
    return "Mixed"


def attack_level(levels: list[str]) -> str:
    """Majority level of an attack's successful images; ties go to the more visible level."""
    if not levels:
        return "n/a"
    counts = {lvl: levels.count(lvl) for lvl in LEVELS}
    return max(reversed(LEVELS), key=lambda lvl: counts[lvl])


def perceptibility_table(clean: torch.Tensor, adversarial: torch.Tensor,
                         success: torch.Tensor) -> pd.DataFrame:
    """Per-image L2, L-inf, SSIM and level, for the images where the attack succeeded."""
    l2, linf = perturbation_norms(clean, adversarial)
    keep = success.numpy().astype(bool)
    values = ssim(clean[keep], adversarial[keep]) if keep.any() else np.zeros(0)
    frame = pd.DataFrame({"l2": l2[keep], "linf": linf[keep], "ssim": values})
    frame["level"] = [perceptibility_level(s, m) for s, m in zip(frame.ssim, frame.linf)]
    return frame
