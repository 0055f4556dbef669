"""The universal attacks: one perturbation, fitted on one set of images (``fit_images``) and added
to every input of another (``kind = "universal"``), by :func:`.uap.universal_perturbation`.

:class:`UniversalAttack` holds the family's defaults and its run: ``fit`` computes the perturbation
(the UAP's own result goes to the run context, for :func:`.base.fit_universal`), ``perturb`` adds
it and clips to [0, 1].
"""
from __future__ import annotations

from typing import ClassVar

from .base import Attack, param
from .tasks import CLASSIFICATION, two_logits

__all__ = ["UniversalAttack", "UAP", "TargetedUAP"]

_UAP_MODES = ("batched", "exact")


class UniversalAttack(Attack):
    """Base of the universal attacks: the UAP loop of :mod:`.uap` on classifiers, L-inf and L2."""

    family: ClassVar[str] = "universal"
    kind: ClassVar[str] = "universal"
    tasks: ClassVar[tuple[str, ...]] = CLASSIFICATION
    norms: ClassVar[tuple[str, ...]] = ("Linf", "L2")

    def _target(self):
        return None

    def fit(self, ctx, images):
        from .uap import universal_perturbation

        result = universal_perturbation(
            two_logits(ctx.model, ctx.task), images, ctx.eps, "inf" if ctx.norm == "Linf" else "2",
            target=self._target(), eps_step=self.eps_step, max_passes=self.max_passes, plateau=self.plateau,
            patience=self.patience, mode=self.mode,
            batch_size=self.batch_size, seed=ctx.seed, device=images.device, progress=False)
        ctx.fit_result = result
        return result.perturbation

    def perturb(self, ctx, x, y):
        return (x + ctx.perturbation.to(x)).clamp(0, 1)


class UAP(UniversalAttack):
    """Nontargeted universal adversarial perturbation, FGSM inner step (:mod:`.uap`).

    Moosavi-Dezfooli, Fawzi, Fawzi & Frossard, "Universal adversarial perturbations", CVPR 2017,
    https://arxiv.org/abs/1610.08401; as Hirano, Koga & Takemoto, "Vulnerability of deep neural
    networks for detecting COVID-19 cases from chest X-ray images to universal adversarial
    attacks", PLoS ONE 2020, https://arxiv.org/abs/2005.11061 (ART's ``UniversalPerturbation``).

    Example::
        >>> result = UAP(max_passes=5).run(model, test_images, labels, eps=0.02, fit_images=train_images)
    """

    name = "uap"
    description = ("nontargeted UAP (Hirano et al. 2020, Moosavi-Dezfooli et al. 2017, "
                   "FGSM inner step)")
    eps_step: float = param(0.001, "FGSM step of the inner attack")
    max_passes: int = param(15, "passes over the fitting images")
    plateau: float | None = param(None, "also stop once `patience` passes raised the best rate by at most this (None: off)")
    patience: int = param(3, "passes the plateau rule looks back over")
    mode: str = param("batched", "batched (fast) or exact (ART 1.20's loop, batch 1)", _UAP_MODES)
    batch_size: int = param(64, "batch of the batched mode")


class TargetedUAP(UniversalAttack):
    """Targeted universal adversarial perturbation toward class ``target`` (required; :mod:`.uap`).

    Hirano & Takemoto, "Simple iterative method for generating targeted universal adversarial
    perturbations", Algorithms 2020, https://arxiv.org/abs/1911.06502.

    Example::
        >>> fit = fit_universal("uap-targeted", model, train_images, eps=0.02, target=0)   # a UAPResult
    """

    name = "uap-targeted"
    description = "targeted UAP (Hirano & Takemoto 2020); target=<class>"
    # the same fields as UAP's, after ``target`` (a dataclass puts inherited fields first)
    target: int | None = param(None, "the class the perturbation pushes toward (required)")
    eps_step: float = param(0.001, "FGSM step of the inner attack")
    max_passes: int = param(15, "passes over the fitting images")
    plateau: float | None = param(None, "also stop once `patience` passes raised the best rate by at most this (None: off)")
    patience: int = param(3, "passes the plateau rule looks back over")
    mode: str = param("batched", "batched (fast) or exact (ART 1.20's loop, batch 1)", _UAP_MODES)
    batch_size: int = param(64, "batch of the batched mode")

    def _target(self):
        if self.target is None:
            raise ValueError("uap-targeted needs target=<class index>")
        return self.target
