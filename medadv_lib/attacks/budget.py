"""The fixed-budget attacks: a perturbation of size at most ``eps`` in ``norm`` (``kind = "budget"``).

FGSM, BIM, PGD and DeepFool run as Foolbox 3 attacks on single-label classifiers (what Foolbox's
criteria express; :mod:`.foolbox_adapters`) and as our own gradient steps on the task's loss
(:func:`.tasks.attack_loss`) for multi-label and segmentation models. APGD (:mod:`.apgd`), SMIA
(:mod:`.smia`) and DAG (:mod:`.dag`) are our own kernels; :class:`Noise` is the random control
of the same size.

Every class is registered by its ``name`` on definition (:class:`.base.Attack`);
:class:`BudgetAttack` holds the family's defaults (a gradient attack of any task, L-inf and L2).
Each class's docstring: the method, its paper, an example; the run completes it with the norms,
tasks, arguments and shapes (:class:`.base.Attack`).
"""
from __future__ import annotations

from typing import ClassVar

import torch

from .apgd import apgd
from .base import Attack, param
from .foolbox_adapters import foolbox_descent, foolbox_run
from .kernel import ascent_direction, project
from .tasks import CLASSIFICATION, TASKS, attack_loss, two_logits

__all__ = ["BudgetAttack", "FGSM", "BIM", "PGD", "DeepFool", "APGDCE", "APGDMargin", "SMIA", "DAG", "Noise"]


class BudgetAttack(Attack):
    """Base of the fixed-budget attacks: a gradient attack of every task, L-inf and L2, unless a
    subclass says otherwise."""

    family: ClassVar[str] = "gradient"
    kind: ClassVar[str] = "budget"
    tasks: ClassVar[tuple[str, ...]] = TASKS
    norms: ClassVar[tuple[str, ...]] = ("Linf", "L2")


def _sign_steps(ctx, x, y, steps: int, step: float, random_start: bool):
    """Gradient steps on the task's loss (sign for L-inf, normalised for L2), projected into the
    ``eps`` ball and the [0, 1] box: FGSM (one step of ``eps``), BIM, PGD with a random start. The
    attacked inputs after step ``t`` go to ``ctx.keep``."""
    delta = torch.zeros_like(x)
    if random_start:
        noise = torch.rand(x.shape, generator=ctx.generator).to(x) * 2 - 1
        delta = project(noise * ctx.eps, ctx.eps, ctx.norm)
        delta = (x + delta).clamp(0, 1) - x
    for t in range(1, steps + 1):
        delta = delta.detach().requires_grad_(True)
        loss = attack_loss(ctx.model(x + delta), y, ctx.task, "ce").sum()
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta = project(delta + step * ascent_direction(grad, ctx.norm), ctx.eps, ctx.norm)
            delta = (x + delta).clamp(0, 1) - x
        if ctx.record_steps:
            ctx.keep(t, (x + delta).detach())
    return (x + delta).detach()


class FGSM(BudgetAttack):
    """FGSM: one gradient step of the full budget.

    Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015,
    https://arxiv.org/abs/1412.6572. Foolbox 3's ``FGSM`` / ``L2FastGradientAttack`` on
    classifiers, one step on the task's loss otherwise.

    Example::
        >>> result = FGSM().run(model, images, labels, eps=2 / 255)
    """

    name = "fgsm"
    description = "FGSM (Goodfellow et al. 2015): one gradient step of the full budget"

    def perturb(self, ctx, x, y):
        if ctx.task in CLASSIFICATION:
            import foolbox as fb
            return foolbox_run(ctx, lambda: fb.attacks.FGSM() if ctx.norm == "Linf"
                               else fb.attacks.L2FastGradientAttack(), x, y, ctx.eps)
        return _sign_steps(ctx, x, y, 1, ctx.eps, False)


class BIM(BudgetAttack):
    """Basic iterative method: ``steps`` steps of ``rel_stepsize * eps`` inside the budget.

    Kurakin, Goodfellow & Bengio, "Adversarial examples in the physical world", ICLR 2017
    workshop, https://arxiv.org/abs/1607.02533. Foolbox 3's ``LinfBasicIterativeAttack`` /
    ``L2BasicIterativeAttack`` on classifiers, our steps on the task's loss otherwise.

    Example::
        >>> result = BIM(steps=10).run(model, images, labels, eps=2 / 255, record_steps=(1, 5))
    """

    name = "bim"
    description = "basic iterative method (Kurakin et al. 2017): steps inside the budget"
    records_steps = True
    steps: int = param(10, "gradient steps")
    rel_stepsize: float | None = param(None, "step size relative to eps; None: 2.5 / steps")

    def perturb(self, ctx, x, y):
        rel = 2.5 / self.steps if self.rel_stepsize is None else self.rel_stepsize
        if ctx.task in CLASSIFICATION:
            import foolbox as fb
            cls = fb.attacks.LinfBasicIterativeAttack if ctx.norm == "Linf" else fb.attacks.L2BasicIterativeAttack
            return foolbox_descent(ctx, cls, {"steps": self.steps, "rel_stepsize": rel}, x, y)
        return _sign_steps(ctx, x, y, self.steps, rel * ctx.eps, False)


class PGD(BudgetAttack):
    """PGD: BIM from a uniform random start in the ball.

    Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models Resistant to
    Adversarial Attacks", ICLR 2018, https://arxiv.org/abs/1706.06083. Foolbox 3's ``LinfPGD`` /
    ``L2PGD`` on classifiers, our steps on the task's loss otherwise. Step ``abs_stepsize`` when
    given, else ``rel_stepsize * eps`` (default ``2.5 / steps``, Madry et al.'s choice).

    Example::
        >>> results = PGD(steps=10).run(model, images, labels, eps=[1 / 255, 2 / 255])   # one per budget
    """

    name = "pgd"
    description = "PGD (Madry et al. 2018): BIM from a random start"
    records_steps = True
    steps: int = param(40, "gradient steps")
    rel_stepsize: float | None = param(None, "step size relative to eps; None: 2.5 / steps")
    abs_stepsize: float | None = param(None, "absolute step size (overrides rel_stepsize)")
    random_start: bool = param(True, "start from a uniform random point of the ball")

    def _rel(self) -> float:
        return 2.5 / self.steps if self.rel_stepsize is None else self.rel_stepsize

    def perturb(self, ctx, x, y):
        if ctx.task in CLASSIFICATION:
            import foolbox as fb
            cls = fb.attacks.LinfPGD if ctx.norm == "Linf" else fb.attacks.L2PGD
            kwargs = {"steps": self.steps, "random_start": self.random_start}
            if self.abs_stepsize is not None:
                kwargs["abs_stepsize"] = self.abs_stepsize
            else:
                kwargs["rel_stepsize"] = self._rel()
            return foolbox_descent(ctx, cls, kwargs, x, y)
        step = self.abs_stepsize if self.abs_stepsize is not None else self._rel() * ctx.eps
        return _sign_steps(ctx, x, y, self.steps, step, self.random_start)


class DeepFool(BudgetAttack):
    """DeepFool, clipped to the budget; ``candidates`` is capped at the number of classes.

    Moosavi-Dezfooli, Fawzi & Frossard, "DeepFool: a simple and accurate method to fool deep
    neural networks", CVPR 2016, https://arxiv.org/abs/1511.04599. Foolbox 3's
    ``LinfDeepFoolAttack`` / ``L2DeepFoolAttack``.

    Example::
        >>> result = DeepFool(steps=50).run(model, images, labels, eps=0.5, norm="L2")
    """

    name = "deepfool"
    description = "DeepFool (Moosavi-Dezfooli et al. 2016), clipped to the budget"
    tasks = CLASSIFICATION
    steps: int = param(50, "DeepFool iterations")
    candidates: int = param(10, "classes considered (capped at the number of classes)")
    overshoot: float = param(0.02, "overshoot past the boundary")

    def perturb(self, ctx, x, y):
        import foolbox as fb
        cls = fb.attacks.LinfDeepFoolAttack if ctx.norm == "Linf" else fb.attacks.L2DeepFoolAttack
        candidates = min(self.candidates, max(2, ctx.outputs))
        return foolbox_run(ctx, lambda: cls(steps=self.steps, candidates=candidates, overshoot=self.overshoot),
                           x, y, ctx.eps)


class _APGD(BudgetAttack):
    """The two APGD variants' shared hyperparameters and step (their ``loss`` differs). Each batch
    runs :func:`.apgd.apgd` with the seed ``seed + batch index``."""

    loss: ClassVar[str] = "ce"
    steps: int = param(100, "iterations per restart")
    restarts: int = param(1, "random restarts on the inputs not yet fooled")

    def perturb(self, ctx, x, y):
        adversarial, _, _ = apgd(ctx.model, x, y, eps=ctx.eps, norm=ctx.norm, steps=self.steps, restarts=self.restarts,
                                 loss=self.loss, task=ctx.task, seed=ctx.seed + ctx.batch, batch_size=len(x))
        return adversarial.to(x.device)


class APGDCE(_APGD):
    """APGD with cross-entropy (:mod:`.apgd`; BCE for multi-label, per pixel for masks).

    Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
    parameter-free attacks", ICML 2020, https://arxiv.org/abs/2003.01690 (Algorithm 1).

    Example::
        >>> result = APGDCE(steps=100).run(model, images, labels, eps=8 / 255)
    """

    name = "apgd-ce"
    description = "APGD with cross-entropy (Croce & Hein 2020; BCE for multi-label, per pixel for masks)"
    loss = "ce"


class APGDMargin(_APGD):
    """APGD with a margin loss defined for 2 and 3 classes and multi-label (:mod:`.apgd`,
    :func:`.tasks.margins`), where AutoAttack's APGD-DLR needs at least 3 (targeted: 4) classes.

    Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
    parameter-free attacks", ICML 2020, https://arxiv.org/abs/2003.01690 (Algorithm 1); the
    margin of Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE S&P
    2017, https://arxiv.org/abs/1608.04644.

    Example::
        >>> result = APGDMargin(restarts=2).run(model, images, labels, eps=8 / 255)
    """

    name = "apgd-margin"
    description = "APGD with a margin loss defined for 2 and 3 classes and multi-label"
    loss = "margin"


class SMIA(BudgetAttack):
    """SMIA (:mod:`.smia`): deviation loss minus ``alpha`` x stabilization, ``steps`` steps of
    ``step`` (default eps / steps) inside the budget.

    Qi, Gong, Song, Ma & Zheng, "Stabilized Medical Image Attacks", ICLR 2021,
    https://arxiv.org/abs/2103.05232.

    Example::
        >>> result = SMIA(steps=10, alpha=1.0).run(model, images, masks, eps=8 / 255)
    """

    name = "smia"
    description = "SMIA (Qi et al. 2021): deviation minus alpha x stabilization, steps of eps / T"
    tasks = ("binary", "multiclass", "segmentation")
    norms = ("Linf",)
    steps: int = param(10, "iterations T")
    step: float | None = param(None, "step size; None: eps / steps")
    alpha: float = param(1.0, "weight of the stabilization loss")
    kernel_size: int = param(5, "Gaussian kernel size of the stabilization")
    sigma: float = param(1.0, "Gaussian kernel sigma")

    def perturb(self, ctx, x, y):
        from .smia import smia

        step = ctx.eps / self.steps if self.step is None else self.step
        run = smia(two_logits(ctx.model, ctx.task), x, y, epsilon=step,
                   iterations=self.steps, alpha=self.alpha, kernel_size=self.kernel_size, sigma=self.sigma,
                   budget=ctx.eps, batch_size=len(x), device=x.device, seed=ctx.seed)
        return run.adversarial.to(x.device)


class DAG(BudgetAttack):
    """DAG (:mod:`.dag`): dense adversary generation for segmentation, every pixel a target.

    Xie, Wang, Zhang, Zhou, Xie & Yuille, "Adversarial Examples for Semantic Segmentation and
    Object Detection", ICCV 2017, https://arxiv.org/abs/1703.08603 (Algorithm 1).

    Example::
        >>> result = DAG(steps=10).run(model, images, masks, eps=8 / 255)
    """

    name = "dag"
    description = "DAG (Xie et al. 2017): dense adversary generation for segmentation"
    tasks = ("segmentation",)
    norms = ("Linf",)
    records_steps = True
    steps: int = param(10, "iterations")
    step: float | None = param(None, "step size; None: eps / steps")

    def perturb(self, ctx, x, y):
        from .dag import dag

        run = dag(ctx.model, x, y, epsilon=ctx.eps / self.steps if self.step is None else self.step,
                  iterations=self.steps, budget=ctx.eps, batch_size=len(x), device=x.device, seed=ctx.seed,
                  on_step=ctx.keep if ctx.record_steps else None)
        return run.adversarial.to(x.device)


class Noise(BudgetAttack):
    """The control: uniform noise in the L-inf ball, or uniform on the L2 sphere, of radius ``eps``
    (what a perturbation of the attack's size does without any attack).

    Example::
        >>> control = Noise().run(model, images, labels, eps=8 / 255)
    """

    name = "noise"
    family = "control"
    description = "random-noise control: uniform in the L-inf ball or on the L2 sphere of radius eps"

    def perturb(self, ctx, x, y):
        if ctx.norm == "Linf":
            delta = (torch.rand(x.shape, generator=ctx.generator) * 2 - 1) * ctx.eps
        else:
            delta = torch.randn(x.shape, generator=ctx.generator)
            delta = delta * (ctx.eps / delta.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *[1] * (x.ndim - 1)))
        return (x + delta.to(x)).clamp(0, 1)
