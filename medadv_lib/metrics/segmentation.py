"""Segmentation overlap: Jaccard index (IoU) and Dice coefficient, as reported by SMIA (Table 6).

Masks are integer label maps (N, H, W) or (H, W). Scores are computed per image and class from
the confusion counts, then averaged; a class absent from both prediction and truth in an image
counts as a perfect 1 (nothing to find, nothing found), the usual convention.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["overlap_counts", "jaccard", "dice", "per_image_jaccard"]


def _as_labels(masks) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(masks) if not isinstance(masks, torch.Tensor) else masks)
    if t.is_floating_point():
        raise TypeError("masks must hold integer class labels (take argmax of the logits first)")
    return t.long().reshape(-1, *t.shape[-2:]) if t.ndim >= 2 else t.long().reshape(1, -1)


def overlap_counts(pred, target, num_classes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(intersection, predicted area, true area), each (N, num_classes)."""
    p, t = _as_labels(pred), _as_labels(target)
    t = t.to(p.device)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {tuple(p.shape)} differs from target shape {tuple(t.shape)}")
    if num_classes < 2:
        raise ValueError("num_classes must be at least 2")
    if (p.min() < 0) | (p.max() >= num_classes) | (t.min() < 0) | (t.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}]")
    classes = torch.arange(num_classes, device=p.device).view(1, -1, 1)
    pf, tf = p.flatten(1).unsqueeze(1) == classes, t.flatten(1).unsqueeze(1) == classes
    return (pf & tf).sum(-1).double(), pf.sum(-1).double(), tf.sum(-1).double()


def _classes(num_classes: int, include_background: bool) -> slice:
    return slice(0 if include_background else 1, num_classes)


def per_image_jaccard(pred, target, num_classes: int = 2, include_background: bool = False) -> torch.Tensor:
    """Jaccard |P n T| / |P u T| per image, averaged over the (foreground) classes: (N,)."""
    inter, area_p, area_t = overlap_counts(pred, target, num_classes)
    union = area_p + area_t - inter
    score = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return score[:, _classes(num_classes, include_background)].mean(1)


def jaccard(pred, target, num_classes: int = 2, include_background: bool = False) -> float:
    """Mean per-image Jaccard index (IoU) of the foreground classes."""
    return float(per_image_jaccard(pred, target, num_classes, include_background).mean())


def dice(pred, target, num_classes: int = 2, include_background: bool = False) -> float:
    """Mean per-image Dice 2|P n T| / (|P| + |T|) of the foreground classes."""
    inter, area_p, area_t = overlap_counts(pred, target, num_classes)
    total = area_p + area_t
    score = torch.where(total > 0, 2 * inter / total.clamp(min=1), torch.ones_like(total))
    return float(score[:, _classes(num_classes, include_background)].mean())
