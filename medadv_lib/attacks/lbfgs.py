"""Box-constrained L-BFGS attack (Szegedy et al. 2014) as a Foolbox 3 attack (G5).

Minimise ``mean((x' - x)^2) + c * CE(f(x'), target)`` over ``x'`` in the box with scipy's
L-BFGS-B (``minimize``, the solver behind ``fmin_l_bfgs_b``) (m 15, maxiter 150 as in Foolbox 2.4), searching ``c`` per input: start at
``initial_const``, double while the attack fails, then bisect between the last failing and the
first succeeding ``c``; keep the closest adversarial found. Untargeted runs aim at the most
likely wrong class of the clean input. The objective is separable over inputs, so a batch is
optimised as one L-BFGS problem whose minimiser is every input's own minimiser.
"""
from __future__ import annotations

from typing import Any

import eagerpy as ep
import foolbox as fb
import numpy as np
import torch
import torch.nn.functional as F
from foolbox.attacks.base import MinimizationAttack, get_criterion
from scipy.optimize import Bounds, minimize

from .minimal_search import subset_criterion

__all__ = ["LBFGSAttack"]


class LBFGSAttack(MinimizationAttack):
    distance = fb.distances.l2

    def __init__(self, initial_const: float = 2e-5, search_steps: int = 30, max_iter: int = 150,
                 memory: int = 15):
        if initial_const <= 0 or search_steps < 1 or max_iter < 1:
            raise ValueError("need initial_const > 0, search_steps >= 1 and max_iter >= 1")
        self.initial_const, self.search_steps = initial_const, search_steps
        self.max_iter, self.memory = max_iter, memory
        self.gradient_evaluations = 0

    def run(self, model: fb.Model, inputs, criterion, *, early_stop: float | None = None, **kwargs: Any):
        x, restore_type = ep.astensor_(inputs)
        criterion = get_criterion(criterion)
        if not isinstance(x, ep.PyTorchTensor):
            raise TypeError("LBFGSAttack supports PyTorch models")
        x0 = x.raw.detach()
        lo, hi = model.bounds
        with torch.no_grad():
            logits = model(x).raw
            n_classes = logits.shape[1]
        if isinstance(criterion, fb.criteria.TargetedMisclassification):
            target = criterion.target_classes.raw
        else:
            labels = criterion.labels.raw
            masked = logits.clone()
            masked[torch.arange(len(labels)), labels] = -float("inf")
            target = masked.argmax(1) if n_classes > 1 else labels
        n = len(x0)
        best = x0.clone()
        best_dist = torch.full((n,), float("inf"), device=x0.device)
        const = torch.full((n,), self.initial_const, dtype=torch.float64)
        c_low = torch.zeros(n, dtype=torch.float64)
        c_high = torch.full((n,), float("inf"), dtype=torch.float64)
        is_adv_fn = lambda xs, idx: subset_criterion(criterion, ep.astensor(idx))(ep.astensor(xs), model(ep.astensor(xs))).raw
        already = is_adv_fn(x0, torch.arange(n, device=x0.device))
        best_dist[already] = 0.0
        active = ~already.cpu()
        shape = x0.shape[1:]
        n_pixels = int(np.prod(shape))
        for _ in range(self.search_steps):
            idx = torch.nonzero(active).flatten()
            if len(idx) == 0:
                break
            idx_dev = idx.to(x0.device)
            xs, ts, cs = x0[idx_dev], target[idx_dev], const[idx].to(x0.device, torch.float32)

            def objective(flat: np.ndarray):
                xp = torch.from_numpy(flat.astype(np.float32)).to(x0.device).view(len(idx), *shape)
                xp.requires_grad_(True)
                dist = ((xp - xs) ** 2).flatten(1).sum(1) / n_pixels
                loss = F.cross_entropy(model(ep.astensor(xp)).raw, ts, reduction="none")
                total = (dist + cs * loss).sum()
                grad, = torch.autograd.grad(total, xp)
                self.gradient_evaluations += 1
                return float(total.detach()), grad.detach().cpu().double().flatten().numpy()

            start = xs.detach().cpu().double().flatten().numpy()
            box = Bounds(np.full(start.size, lo), np.full(start.size, hi))
            solution = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=box,
                                options={"maxcor": self.memory, "maxiter": self.max_iter}).x
            xp = torch.from_numpy(solution.astype(np.float32)).to(x0.device).view(len(idx), *shape)
            with torch.no_grad():
                ok = is_adv_fn(xp, idx_dev)
                dist = (xp - xs).flatten(1).norm(dim=1)
            better = ok & (dist < best_dist[idx_dev])
            best[idx_dev[better]] = xp[better]
            best_dist[idx_dev[better]] = dist[better]
            ok_cpu = ok.cpu()
            c_high[idx[ok_cpu]] = torch.minimum(c_high[idx[ok_cpu]], const[idx[ok_cpu]])
            c_low[idx[~ok_cpu]] = torch.maximum(c_low[idx[~ok_cpu]], const[idx[~ok_cpu]])
            const = torch.where(torch.isinf(c_high), const * 2, (c_low + c_high) / 2)
            if early_stop is not None and bool((best_dist <= early_stop).all()):
                break
        return restore_type(ep.astensor(best))
