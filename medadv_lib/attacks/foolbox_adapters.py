"""Foolbox 3 inside a run: the attacks of :mod:`.budget` and :mod:`.minimal` that Foolbox runs
(single-label classification, what its criteria can express) go through these adapters.

The Foolbox model and the Foolbox attack are built once per run and kept on its
:class:`~.base.RunContext` (``foolbox_model``, ``foolbox_attack``); a binary model is seen as two
logits (:func:`.tasks.two_logits`). Foolbox is imported on first use only.
"""
from __future__ import annotations

import functools

import torch

from .base import RunContext
from .tasks import two_logits

__all__ = ["foolbox_model", "foolbox_run", "recording", "foolbox_descent"]


def foolbox_model(ctx: RunContext):
    """The run's Foolbox model (bounds (0, 1), on the model's device), built on first use."""
    import foolbox as fb

    if ctx.foolbox_model is None:
        ctx.foolbox_model = fb.PyTorchModel(two_logits(ctx.model, ctx.task).eval(), bounds=(0, 1),
                                            device=next(iter(ctx.model.parameters()), torch.empty(0)).device)
    return ctx.foolbox_model


def foolbox_run(ctx: RunContext, build, x, y, epsilons):
    """A Foolbox attack (``build()``, called once per run) under misclassification of ``y``."""
    import foolbox as fb

    if ctx.foolbox_attack is None:
        ctx.foolbox_attack = build()
    _, clipped, _ = ctx.foolbox_attack(foolbox_model(ctx), x, fb.criteria.Misclassification(y.long()),
                                       epsilons=epsilons)
    return clipped.detach()


@functools.cache
def recording(cls):
    """``cls``, one of Foolbox 3's gradient-descent attacks (``LinfPGD``, ``L2PGD``, the BIMs), also
    keeping the iterate each step starts from, at the indices in ``keep_at``. Its loop
    (``BaseGradientDescent.run``) calls ``value_and_grad``, the override point Foolbox documents,
    once per step on the current iterate, so call ``t`` (from 0) sees the iterate after ``t`` steps;
    the attack computes exactly what ``cls`` does."""

    class Recording(cls):
        keep_at: frozenset = frozenset()

        def run(self, model, inputs, criterion, *, epsilon, **kwargs):
            self.starts = []
            return super().run(model, inputs, criterion, epsilon=epsilon, **kwargs)

        def value_and_grad(self, loss_fn, x):
            self.starts.append(x.raw.detach() if len(self.starts) in self.keep_at else None)
            return super().value_and_grad(loss_fn, x)

    Recording.__name__ = Recording.__qualname__ = f"Recording{cls.__name__}"
    return Recording


def foolbox_descent(ctx: RunContext, cls, kwargs: dict, x, y):
    """Foolbox's gradient-descent attack ``cls(**kwargs)`` at ``ctx.eps``. With ``record_steps`` the
    attack keeps the iterates (:func:`recording`) and each is handed to ``ctx.keep`` clipped to the
    budget as Foolbox clips its result (``distance.clip_perturbation``): what a run stopped there returns."""
    if not ctx.record_steps:
        return foolbox_run(ctx, lambda: cls(**kwargs), x, y, ctx.eps)

    def build():
        attack = recording(cls)(**kwargs)
        attack.keep_at = frozenset(ctx.record_steps)
        return attack

    adversarial = foolbox_run(ctx, build, x, y, ctx.eps)
    attack = ctx.foolbox_attack
    if len(attack.starts) != attack.steps:
        raise RuntimeError(f"Foolbox's {cls.__name__} took {len(attack.starts)} gradients in {attack.steps} steps: "
                           "its loop is not the one the recording reads")
    for t in ctx.record_steps:
        ctx.keep(t, adversarial if t == attack.steps
                 else attack.distance.clip_perturbation(x, attack.starts[t], ctx.eps).detach())
    return adversarial
