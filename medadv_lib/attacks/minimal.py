"""The minimal-perturbation searches (``kind = "minimal"``): the ten attacks of Taghanaki, Das &
Hamarneh, "Vulnerability Analysis of Chest X-Ray Image Classification Against Adversarial
Attacks", MICCAI 2018 workshops, https://arxiv.org/abs/1807.02905 (Table 1), as Foolbox 1 ran them.

Ids as in the paper (each class's ``paper_id``; :data:`TAGHANAKI` maps them to the registry's
names): gradient G1 FGSM, G2 PGD, G3 DeepFool, G4 L-inf BIM, G5 L-BFGS; score S1 Local Search,
S2 Single Pixel; decision D1 Gaussian Blur, D2 Contrast Reduction, D3 Additive Gaussian Noise.
All search the smallest perturbation that misclassifies, need no budget, and say per input
whether the search ran out of its grid or iterations (:attr:`.base.AttackResult.exhausted`);
where a search fails the result keeps the clean input. Hyperparameter defaults are Foolbox 1.2's.

Each class's ``build`` makes the Foolbox 3 attack the run calls once per batch
(:func:`.foolbox_adapters.foolbox_run`): Foolbox 3's own where it has one (FGSM, LinfPGD,
L2DeepFool, LinfBasicIterative and L2AdditiveGaussianNoise wrapped in
:class:`~.minimal_search.MinimalEpsilonSearch` to recover Foolbox 1's epsilon search,
GaussianBlurAttack, LinearSearchContrastReductionAttack), ours written as Foolbox 3 attacks
elsewhere (:mod:`.lbfgs` for G5, :mod:`.pixel_attacks` for S1 and S2). A single-sigmoid-logit
model is seen as two logits ``[0, z]`` (:func:`.tasks.two_logits`), so the decision and every
probability are unchanged; grayscale (1-channel) inputs work throughout.
"""
from __future__ import annotations

from typing import ClassVar

import torch

from .base import ATTACKS, Attack, param
from .foolbox_adapters import foolbox_run
from .tasks import CLASSIFICATION

__all__ = ["MinimalSearch", "TAGHANAKI", "MinimalFGSM", "MinimalPGD", "MinimalDeepFool", "MinimalBIM", "LBFGS",
           "LocalSearch", "SinglePixel", "Blur", "Contrast", "GaussianNoise"]


class MinimalSearch(Attack):
    """Base of the minimal-perturbation searches: classifiers, no budget. A subclass sets its
    ``name``, ``family``, ``paper_id`` and ``paper_name`` (its ``description`` follows from the
    last two) and implements ``build(ctx, x)``, the Foolbox 3 attack of the run."""

    kind: ClassVar[str] = "minimal"
    tasks: ClassVar[tuple[str, ...]] = CLASSIFICATION
    norms: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        if "paper_id" in cls.__dict__ and "description" not in cls.__dict__:
            cls.description = (f"{cls.paper_name} of Taghanaki et al. 2018 (Table 1 id {cls.paper_id}; "
                               "Foolbox 1 semantics)")
        super().__init_subclass__(**kwargs)

    def build(self, ctx, x):       # pragma: no cover - every subclass implements it
        """The Foolbox 3 attack (a ``MinimizationAttack``) that searches on the batch ``x``."""
        raise NotImplementedError

    def perturb(self, ctx, x, y):
        return foolbox_run(ctx, lambda: self.build(ctx, x), x, y, None)

    def ran_out(self, ctx, x, fooled):
        """The search's own record (``exhausted``, per input of its last run) where it keeps one
        (our epsilon search, L-BFGS, Local Search, Single Pixel); Foolbox's own DeepFool, blur and
        contrast searches stop only when fooled or at the end of their steps or grid, so every
        failure of theirs ran out."""
        record = getattr(ctx.foolbox_attack, "exhausted", None)
        if record is None:
            return ~fooled
        record = torch.as_tensor(record, dtype=torch.bool).cpu()
        if len(record) != len(x):
            raise RuntimeError(f"attack {self.name!r} recorded {len(record)} searches for {len(x)} inputs")
        return record


class MinimalFGSM(MinimalSearch):
    """Foolbox 1 FGSM: the smallest of ``steps`` linear step sizes up to ``max_epsilon``.

    Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015,
    https://arxiv.org/abs/1412.6572. Taghanaki et al. 2018, Table 1 id G1.

    Example::
        >>> result = MinimalFGSM(steps=100).run(model, images, labels)
    """

    name, family, paper_id, paper_name = "minimal-fgsm", "gradient", "G1", "FGSM"
    steps: int = param(1000, "step sizes tried")
    max_epsilon: float = param(1.0, "largest step size")

    def build(self, ctx, x):
        import foolbox as fb

        from .minimal_search import MinimalEpsilonSearch
        return MinimalEpsilonSearch(fb.attacks.FGSM(), self.max_epsilon, self.steps, "linear")


class MinimalPGD(MinimalSearch):
    """L-inf PGD, ``search_steps`` epsilons halving down from ``epsilon`` (Foolbox 1's binary search).

    Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models Resistant to
    Adversarial Attacks", ICLR 2018, https://arxiv.org/abs/1706.06083. Taghanaki et al. 2018,
    Table 1 id G2.

    Example::
        >>> result = MinimalPGD(iterations=20).run(model, images, labels)
    """

    name, family, paper_id, paper_name = "minimal-pgd", "gradient", "G2", "PGD"
    epsilon: float = param(0.3, "largest budget of the search")
    stepsize: float = param(0.01, "absolute step size")
    iterations: int = param(40, "PGD steps")
    search_steps: int = param(5, "budgets tried")
    random_start: bool = param(True, "random start")

    def build(self, ctx, x):
        import foolbox as fb

        from .minimal_search import MinimalEpsilonSearch
        return MinimalEpsilonSearch(fb.attacks.LinfPGD(rel_stepsize=self.stepsize / self.epsilon,
                                                       steps=self.iterations, random_start=self.random_start),
                                    self.epsilon, self.search_steps, "geometric")


class MinimalDeepFool(MinimalSearch):
    """Foolbox's L2 DeepFool, unbounded (``candidates`` capped at the number of classes).

    Moosavi-Dezfooli, Fawzi & Frossard, "DeepFool: a simple and accurate method to fool deep
    neural networks", CVPR 2016, https://arxiv.org/abs/1511.04599. Taghanaki et al. 2018,
    Table 1 id G3.

    Example::
        >>> result = MinimalDeepFool().run(model, images, labels)
    """

    name, family, paper_id, paper_name = "minimal-deepfool", "gradient", "G3", "DeepFool"
    steps: int = param(100, "DeepFool iterations")
    candidates: int = param(10, "classes considered")
    overshoot: float = param(0.02, "overshoot past the boundary")

    def build(self, ctx, x):
        import foolbox as fb

        return fb.attacks.L2DeepFoolAttack(steps=self.steps, candidates=min(self.candidates, max(2, ctx.outputs)),
                                           overshoot=self.overshoot)


class MinimalBIM(MinimalSearch):
    """L-inf BIM with Foolbox 1's binary search over epsilons.

    Kurakin, Goodfellow & Bengio, "Adversarial examples in the physical world", ICLR 2017
    workshop, https://arxiv.org/abs/1607.02533. Taghanaki et al. 2018, Table 1 id G4.

    Example::
        >>> result = MinimalBIM(search_steps=3).run(model, images, labels)
    """

    name, family, paper_id, paper_name = "minimal-bim", "gradient", "G4", "L-inf BIM"
    epsilon: float = param(0.3, "largest budget of the search")
    stepsize: float = param(0.05, "absolute step size")
    iterations: int = param(10, "BIM steps")
    search_steps: int = param(5, "budgets tried")

    def build(self, ctx, x):
        import foolbox as fb

        from .minimal_search import MinimalEpsilonSearch
        return MinimalEpsilonSearch(fb.attacks.LinfBasicIterativeAttack(rel_stepsize=self.stepsize / self.epsilon,
                                                                        steps=self.iterations),
                                    self.epsilon, self.search_steps, "geometric")


class LBFGS(MinimalSearch):
    """Box-constrained L-BFGS as Foolbox 2.4 ran it (:mod:`.lbfgs`): the closest input of
    ``mean((x' - x)^2) + c * CE(f(x'), target)``, ``c`` doubled and bisected per input.

    Szegedy, Zaremba, Sutskever, Bruna, Erhan, Goodfellow & Fergus, "Intriguing properties of
    neural networks", ICLR 2014, https://arxiv.org/abs/1312.6199. Taghanaki et al. 2018,
    Table 1 id G5.

    Example::
        >>> result = LBFGS(max_iter=50).run(model, images, labels)
    """

    name, family, paper_id, paper_name = "lbfgs", "gradient", "G5", "L-BFGS"
    initial_const: float = param(2e-5, "first weight c of the cross-entropy term")
    search_steps: int = param(30, "doublings and bisections of c")
    max_iter: int = param(150, "L-BFGS-B iterations per solve")
    gtol: float = param(1e-5, "L-BFGS-B gradient tolerance")
    ftol: float = param(2.220446049250313e-09, "L-BFGS-B objective tolerance")

    def build(self, ctx, x):
        from .lbfgs import LBFGSAttack
        return LBFGSAttack(initial_const=self.initial_const, search_steps=self.search_steps,
                           max_iter=self.max_iter, gtol=self.gtol, ftol=self.ftol)


class LocalSearch(MinimalSearch):
    """Local Search (:mod:`.pixel_attacks`, Algorithm 3), Foolbox 1's defaults: greedy rounds on
    pixel locations scored by the true class's probability.

    Narodytska & Kasiviswanathan, "Simple Black-Box Adversarial Perturbations for Deep
    Networks", CVPR 2017 workshops, https://arxiv.org/abs/1612.06299. Taghanaki et al. 2018,
    Table 1 id S1.

    Example::
        >>> result = LocalSearch(R=50).run(model, images, labels, seed=0)
    """

    name, family, paper_id, paper_name = "local-search", "score", "S1", "Local Search"
    r: float = param(1.5, "perturbation parameter")
    p: float = param(10.0, "perturbation parameter")
    d: int = param(5, "half side of the neighbourhood")
    t: int = param(5, "pixels perturbed per round")
    R: int = param(150, "rounds")
    initial_fraction: float = param(0.1, "share of the pixels in the first candidate set")
    max_candidates: int = param(128, "candidate locations scored per round")

    def build(self, ctx, x):
        from .pixel_attacks import LocalSearchAttack
        return LocalSearchAttack(r=self.r, p=self.p, d=self.d, t=self.t, R=self.R,
                                 initial_fraction=self.initial_fraction, max_candidates=self.max_candidates,
                                 seed=ctx.seed)


class SinglePixel(MinimalSearch):
    """Single Pixel (Foolbox 2.4, :mod:`.pixel_attacks`): up to ``max_pixels`` random pixels, one
    at a time, set to the minimum or maximum.

    Narodytska & Kasiviswanathan, "Simple Black-Box Adversarial Perturbations for Deep
    Networks", CVPR 2017 workshops, https://arxiv.org/abs/1612.06299. Taghanaki et al. 2018,
    Table 1 id S2.

    Example::
        >>> result = SinglePixel(max_pixels=200).run(model, images, labels, seed=0)
    """

    name, family, paper_id, paper_name = "single-pixel", "score", "S2", "Single Pixel"
    max_pixels: int = param(1000, "pixels tried")

    def build(self, ctx, x):
        from .pixel_attacks import SinglePixelAttack
        return SinglePixelAttack(max_pixels=self.max_pixels, seed=ctx.seed)


class Blur(MinimalSearch):
    """Foolbox 3's ``GaussianBlurAttack``: the smallest Gaussian blur (a sigma search) that misclassifies.

    Rauber, Brendel & Bethge, "Foolbox: A Python toolbox to benchmark the robustness of machine
    learning models", 2017, https://arxiv.org/abs/1707.04131. Taghanaki et al. 2018, Table 1 id D1.

    Example::
        >>> result = Blur(steps=100).run(model, images, labels)
    """

    name, family, paper_id, paper_name = "blur", "decision", "D1", "Gaussian Blur"
    steps: int = param(1000, "sigmas tried")
    max_sigma: float | None = param(None, "largest sigma; None: Foolbox's default")

    def build(self, ctx, x):
        import foolbox as fb

        return fb.attacks.GaussianBlurAttack(distance=fb.distances.l2, steps=self.steps, max_sigma=self.max_sigma)


class Contrast(MinimalSearch):
    """Foolbox 3's ``LinearSearchContrastReductionAttack``: the smallest contrast reduction that misclassifies.

    Rauber, Brendel & Bethge, "Foolbox: A Python toolbox to benchmark the robustness of machine
    learning models", 2017, https://arxiv.org/abs/1707.04131. Taghanaki et al. 2018, Table 1 id D2.

    Example::
        >>> result = Contrast(steps=100).run(model, images, labels)
    """

    name, family, paper_id, paper_name = "contrast", "decision", "D2", "Contrast Reduction"
    steps: int = param(1000, "contrast levels tried")

    def build(self, ctx, x):
        import foolbox as fb

        return fb.attacks.LinearSearchContrastReductionAttack(distance=fb.distances.l2, steps=self.steps)


class GaussianNoise(MinimalSearch):
    """Foolbox 1's additive Gaussian noise search: per-pixel std ``eps / sqrt(3)``, ``eps`` on a
    linear grid up to ``max_epsilon`` (Foolbox 3's L2 noise of norm ``eps * sqrt(n / 3)``, ``n``
    the values per image, in :class:`~.minimal_search.MinimalEpsilonSearch`).

    Rauber, Brendel & Bethge, "Foolbox: A Python toolbox to benchmark the robustness of machine
    learning models", 2017, https://arxiv.org/abs/1707.04131. Taghanaki et al. 2018, Table 1 id D3.

    Example::
        >>> result = GaussianNoise(steps=100).run(model, images, labels, seed=0)
    """

    name, family, paper_id, paper_name = "gaussian-noise", "decision", "D3", "Additive Gaussian Noise"
    steps: int = param(1000, "noise scales tried")
    max_epsilon: float = param(1.0, "largest noise scale")

    def build(self, ctx, x):
        import foolbox as fb
        import numpy as np

        from .minimal_search import MinimalEpsilonSearch
        scale = float(np.sqrt(int(x[0].numel()) / 3.0))
        return MinimalEpsilonSearch(fb.attacks.L2AdditiveGaussianNoiseAttack(), self.max_epsilon * scale,
                                    self.steps, "linear")


#: The ten attacks of Taghanaki et al. 2018 by the paper's id (their ``paper_id``) to their registry name.
TAGHANAKI: dict[str, str] = {cls.paper_id: name for name, cls in ATTACKS.items() if cls.paper_id}
