"""Score-based pixel attacks Foolbox 3 dropped, as Foolbox 3 attacks (S1 Local Search, S2 Single Pixel).

* :class:`LocalSearchAttack`: Narodytska & Kasiviswanathan 2016, Algorithm 3, as in Foolbox 1
  (r 1.5, p 10, d 5, t 5, R 150; at most 128 candidate locations scored per round).
* :class:`SinglePixelAttack`: Foolbox 1's SinglePixelAttack; set one pixel (all channels) to the
  minimum or the maximum of the bounds, pixels tried in random order, up to ``max_pixels``.

Both query only the model's outputs; candidates are scored in batches of ``batch_size``.
"""
from __future__ import annotations

from typing import Any

import eagerpy as ep
import foolbox as fb
import numpy as np
import torch
from foolbox.attacks.base import MinimizationAttack, get_criterion

__all__ = ["LocalSearchAttack", "SinglePixelAttack"]


def _labels(criterion) -> torch.Tensor:
    if not isinstance(criterion, fb.criteria.Misclassification):
        raise TypeError("pixel attacks support the Misclassification criterion only")
    return criterion.labels.raw


def _forward(model: fb.Model, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(ep.astensor(images[i:i + batch_size])).raw
                          for i in range(0, len(images), batch_size)])


def _prepare(model: fb.Model, inputs, criterion, seed: int):
    """The common start of a Foolbox 3 ``run``: raw input tensor, true labels, the model's bounds,
    a result tensor to fill (a copy of the inputs), a seeded generator and the type restorer."""
    x, restore_type = ep.astensor_(inputs)
    x0 = x.raw
    return (x0, _labels(get_criterion(criterion)), model.bounds, x0.clone(),
            np.random.default_rng(seed), restore_type)


class SinglePixelAttack(MinimizationAttack):
    """Change one pixel to the bound minimum or maximum (Foolbox 1 semantics)."""

    distance = fb.distances.l0

    def __init__(self, max_pixels: int = 1000, batch_size: int = 256, seed: int = 0):
        if max_pixels < 1:
            raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
        self.max_pixels, self.batch_size, self.seed = max_pixels, batch_size, seed
        self.queries = 0
        # per input after run(): tried max_pixels pixels, fewer than the image has, none fooled it
        # (False where every pixel was tried: no single pixel fools it, whatever the budget)
        self.exhausted: np.ndarray | None = None

    def run(self, model: fb.Model, inputs, criterion, *, early_stop: float | None = None, **kwargs: Any):
        x0, labels, (lo, hi), result, rng, restore_type = _prepare(model, inputs, criterion, self.seed)
        _, _, h, w = x0.shape
        self.exhausted = np.zeros(len(x0), bool)
        for i in range(len(x0)):
            if _forward(model, x0[i:i + 1], 1).argmax(1).item() != labels[i].item():
                continue  # already misclassified
            pixels = rng.permutation(h * w)[:self.max_pixels]
            self.exhausted[i] = len(pixels) < h * w
            # candidate order as Foolbox 1: pixel by pixel, minimum before maximum
            order = [(p, v) for p in pixels for v in (lo, hi)]
            for start in range(0, len(order), self.batch_size):
                chunk = order[start:start + self.batch_size]
                cand = x0[i:i + 1].repeat(len(chunk), 1, 1, 1)
                rows = torch.tensor([p // w for p, _ in chunk])
                cols = torch.tensor([p % w for p, _ in chunk])
                vals = torch.tensor([v for _, v in chunk], dtype=x0.dtype, device=x0.device)
                cand[torch.arange(len(chunk)), :, rows, cols] = vals[:, None]
                self.queries += len(chunk)
                wrong = (_forward(model, cand, self.batch_size).argmax(1) != labels[i]).nonzero()
                if len(wrong):
                    result[i] = cand[wrong[0, 0]]
                    self.exhausted[i] = False
                    break
        return restore_type(ep.astensor(result))


class LocalSearchAttack(MinimizationAttack):
    """Greedy local search on pixel locations (Narodytska & Kasiviswanathan 2016).

    Each round: perturb each candidate location to ``p * sign(value)`` (image normalised to
    [-1/2, 1/2]), score by the true class probability, take the ``t`` best locations, multiply
    them by ``r`` with cyclic wrapping into the bounds; stop when misclassified; the next
    candidates are the ``(2d+1)^2`` neighbourhoods of those locations. ``R`` rounds at most.
    """

    distance = fb.distances.l2

    def __init__(self, r: float = 1.5, p: float = 10.0, d: int = 5, t: int = 5, R: int = 150,
                 initial_fraction: float = 0.1, max_candidates: int = 128, batch_size: int = 256,
                 seed: int = 0):
        if not (r > 0 and p > 0 and d >= 0 and t >= 1 and R >= 1 and 0 < initial_fraction <= 1):
            raise ValueError("need r > 0, p > 0, d >= 0, t >= 1, R >= 1, 0 < initial_fraction <= 1")
        self.r, self.p, self.d, self.t, self.R = r, p, d, t, R
        self.initial_fraction, self.max_candidates = initial_fraction, max_candidates
        self.batch_size, self.seed = batch_size, seed
        self.queries = 0
        self.exhausted: np.ndarray | None = None   # per input after run(): R rounds, still not fooled

    def run(self, model: fb.Model, inputs, criterion, *, early_stop: float | None = None, **kwargs: Any):
        x0, labels, (lo, hi), result, rng, restore_type = _prepare(model, inputs, criterion, self.seed)
        n, c, h, w = x0.shape
        lb, ub = -0.5, 0.5
        to_model = lambda im: im * (hi - lo) + (lo + hi) / 2
        self.exhausted = np.zeros(n, bool)
        for i in range(n):
            label = labels[i].item()
            if _forward(model, x0[i:i + 1], 1).argmax(1).item() != label:
                continue
            image = (x0[i] - (lo + hi) / 2) / (hi - lo)
            count = max(1, int(self.initial_fraction * h * w))
            flat = rng.choice(h * w, size=count, replace=False)
            locations = np.stack([flat // w, flat % w], 1)
            for _ in range(self.R):
                locations = locations[rng.permutation(len(locations))[:self.max_candidates]]
                cand = image.unsqueeze(0).repeat(len(locations), 1, 1, 1)
                rows, cols = torch.as_tensor(locations[:, 0]), torch.as_tensor(locations[:, 1])
                ar = torch.arange(len(locations))
                cand[ar, :, rows, cols] = self.p * torch.sign(cand[ar, :, rows, cols])
                self.queries += len(cand)
                probs = _forward(model, to_model(cand), self.batch_size).softmax(1)[:, label]
                best = locations[probs.argsort()[:self.t].cpu().numpy()]
                for row, col in best:
                    value = self.r * image[:, row, col]
                    value = torch.where(value < lb, value + (ub - lb), value)
                    value = torch.where(value > ub, value - (ub - lb), value)
                    image[:, row, col] = value
                self.queries += 1
                if _forward(model, to_model(image)[None], 1).argmax(1).item() != label:
                    result[i] = to_model(image).clamp(lo, hi)
                    break
                near = [(a, b) for ra, ca in best for a in range(ra - self.d, ra + self.d + 1)
                        for b in range(ca - self.d, ca + self.d + 1) if 0 <= a < h and 0 <= b < w]
                locations = np.array(sorted(set(near)))
            else:
                self.exhausted[i] = True
        return restore_type(ep.astensor(result))
