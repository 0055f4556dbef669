"""APGD, Auto-PGD (Croce & Hein, ICML 2020, Algorithm 1), for every kind of model in the collection.

AutoAttack's APGD-DLR needs at least 3 classes (4 targeted) and crashes on the binary and
three-class classifiers medical imaging is full of. This APGD keeps the algorithm and offers two
losses that are defined for any task (:func:`.tasks.attack_loss`):

* ``"ce"``: cross-entropy (multi-class), binary cross-entropy of the one logit (binary), binary
  cross-entropy summed over the labels (multi-label), per-pixel cross-entropy averaged over the
  image (segmentation);
* ``"margin"``: the largest other logit minus the true one (multi-class, Carlini-Wagner's margin),
  ``(1 - 2y) z`` for one sigmoid logit (binary), the largest per-label margin ``(1 - 2y_k) z_k``
  (multi-label: one label flipped is a success), the mean per-pixel margin (segmentation).

Algorithm 1 of the paper, as in the authors' reference code (``autopgd_base.py``): a first step of
size ``2 eps``; momentum ``alpha = 0.75``; checkpoints at ``p_0 = 0, p_1 = 0.22,
p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)`` of the iterations, where the step size is halved
(and the iterate reset to the best point) if fewer than ``rho = 75 %`` of the steps since the last
checkpoint raised the loss, or if neither the step size nor the best loss changed since then.
``restarts`` repeat it from new random starts on the inputs not yet fooled. L-inf and L2.

Returns, per input, the adversarial example (the first one found that fools the model, else the
point of highest loss) and whether it fools the model.
"""
from __future__ import annotations

import torch

from .kernel import AttackRun, ascent_direction, project
from .tasks import TASKS, attack_loss, infer_task, is_fooled

__all__ = ["LOSSES", "apgd", "checkpoints"]

LOSSES = ("ce", "margin")


def checkpoints(steps: int) -> list[int]:
    """The iterations at which the step size may be halved (Croce & Hein 2020, Sec. 3.2), in the
    integer form of the authors' code: the first after ``0.22 T`` steps, then intervals shrinking by
    ``0.03 T`` down to ``0.06 T``."""
    interval, shrink, shortest = max(int(0.22 * steps), 1), max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    marks, at = [], 0
    while at + interval <= steps:
        at += interval
        marks.append(at)
        interval = max(interval - shrink, shortest)
    return marks


def _project(x_adv, x, eps, norm):
    return (x + project(x_adv - x, eps, norm)).clamp(0.0, 1.0)


def _random_start(x, eps, norm, generator):
    t = torch.rand(x.shape, generator=generator).to(x) * 2 - 1
    if norm == "Linf":
        return _project(x + eps * t / t.flatten(1).abs().amax(1).view(-1, *[1] * (x.ndim - 1)), x, eps, norm)
    return _project(x + eps * ascent_direction(torch.randn(x.shape, generator=generator).to(x), "L2"), x, eps, norm)


def _apgd_once(model, x, y, eps, norm, steps, task, loss, rho, generator) -> AttackRun:
    n = len(x)
    shape = (-1,) + (1,) * (x.ndim - 1)
    calls = 0

    def value_and_grad(point):
        nonlocal calls
        point = point.clone().requires_grad_(True)
        logits = model(point)
        calls += 1
        values = attack_loss(logits, y, task, loss)
        (grad,) = torch.autograd.grad(values.sum(), point)
        return values.detach(), grad.detach(), is_fooled(logits.detach(), y, task)

    x_adv = _random_start(x, eps, norm, generator)
    step_size = torch.full((n,), 2.0 * eps, device=x.device)
    values, grad, fooled = value_and_grad(x_adv)
    best_adv = torch.where(fooled.view(shape), x_adv, x)      # the first fooling point, else x
    found = fooled.clone()
    x_best, loss_best, grad_best = x_adv.clone(), values.clone(), grad.clone()
    marks = checkpoints(steps)
    last_mark, increases = 0, torch.zeros(n, device=x.device)
    loss_best_at_mark = loss_best.clone()
    halved_at_mark = torch.ones(n, dtype=torch.bool, device=x.device)
    x_prev = x_adv.clone()
    for i in range(steps):
        with torch.no_grad():
            z = _project(x_adv + step_size.view(shape) * ascent_direction(grad, norm), x, eps, norm)
            a = 0.75 if i > 0 else 1.0
            x_next = _project(x_adv + a * (z - x_adv) + (1 - a) * (x_adv - x_prev), x, eps, norm)
        x_prev, x_adv = x_adv, x_next
        previous = values
        values, grad, fooled = value_and_grad(x_adv)
        new = fooled & ~found
        best_adv[new] = x_adv[new]
        found |= fooled
        increases += (values > previous).float()         # a successful step: the loss rose
        improved = values > loss_best
        x_best[improved], loss_best[improved], grad_best[improved] = x_adv[improved], values[improved], grad[improved]
        if i + 1 in marks:
            since = i + 1 - last_mark
            oscillating = increases < rho * since
            stalled = ~halved_at_mark & (loss_best_at_mark >= loss_best)
            halve = oscillating | stalled
            step_size[halve] /= 2.0
            x_adv[halve], grad[halve] = x_best[halve], grad_best[halve]
            halved_at_mark, loss_best_at_mark = halve, loss_best.clone()
            last_mark, increases = i + 1, torch.zeros(n, device=x.device)
    adversarial = torch.where(found.view(shape), best_adv, x_best)
    return AttackRun(adversarial, fooled=found, calls=calls)


def apgd(model, images: torch.Tensor, labels: torch.Tensor, *, eps: float, norm: str = "Linf",
         steps: int = 100, restarts: int = 1, loss: str = "ce", task: str | None = None,
         rho: float = 0.75, seed: int = 0, batch_size: int = 64, device=None
         ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """APGD on ``images`` (N, C, H, W in [0, 1]) with true ``labels``: returns (adversarial images,
    fooled per input, model calls). ``task`` is inferred from the model's output when None.
    Clean inputs the model already gets wrong count as fooled, as in AutoAttack."""
    if norm not in ("Linf", "L2"):
        raise ValueError(f"norm must be 'Linf' or 'L2', got {norm!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not eps > 0 or steps < 1 or restarts < 1 or not 0 < rho < 1:
        raise ValueError("need eps > 0, steps >= 1, restarts >= 1 and 0 < rho < 1")
    device = device or images.device
    params = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    outs, fooled_all, calls = [], [], 0
    try:
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].float().to(device)
            y = labels[start:start + batch_size].to(device)
            with torch.no_grad():
                logits = model(x)
            calls += 1
            kind = task or infer_task(logits, y)
            if kind not in TASKS:
                raise ValueError(f"task must be one of {TASKS}, got {kind!r}")
            fooled = is_fooled(logits, y, kind)
            adversarial = x.clone()
            for _ in range(restarts):
                todo = (~fooled).nonzero().flatten()
                if len(todo) == 0:
                    break
                run = _apgd_once(model, x[todo], y[todo], eps, norm, steps, kind, loss, rho, generator)
                calls += run.calls
                adversarial[todo] = run.adversarial
                fooled[todo] = run.fooled
            outs.append(adversarial.cpu())
            fooled_all.append(fooled.cpu())
    finally:
        for p, flag in zip(model.parameters(), params):
            p.requires_grad_(flag)
    return torch.cat(outs), torch.cat(fooled_all), calls
