"""Attacks on the collection's models: one interface (:class:`Attack`, :func:`run_attack`) to every
attack, by family.

* :mod:`.budget`: fixed-budget attacks at radius ``eps`` in ``norm`` (FGSM, BIM, PGD, DeepFool,
  APGD-CE, APGD-margin, SMIA, DAG and the random-noise control);
* :mod:`.minimal`: minimal-perturbation searches, the ten attacks of Taghanaki et al. 2018 with
  Foolbox 1 semantics (:data:`TAGHANAKI`: the paper's ids G1 ... D3);
* :mod:`.universal`: one perturbation fitted on one set of images and applied to another (the UAPs
  of Hirano et al. 2020, nontargeted and targeted);
* :mod:`.poisoning`: backdoor poisoning of a training set (Nwadike et al. 2020), not a registry
  attack (it edits the training data, not the inputs).

Foolbox 3 runs what its criteria can express (single-label classification: FGSM, BIM, PGD,
DeepFool and the ten searches, through :mod:`.foolbox_adapters`); our own gradient steps run them
on multi-label and segmentation models with the task's loss (:mod:`.tasks`), and APGD
(:mod:`.apgd`), SMIA (:mod:`.smia`), DAG (:mod:`.dag`) and the UAPs (:mod:`.uap`) are our own
kernels for every task they fit. :mod:`.base` holds the base class, its run loop, the result and
the registry; a new attack is one class in its family module::

    PGD(steps=10).run(model, images, labels, eps=[1 / 255, 2 / 255])   # one result per budget
    run_attack("pgd", model, images, labels, eps=2 / 255, steps=10)     # the same, by name

Importing the package loads torch and the attack classes; Foolbox, SciPy and the kernels of SMIA,
DAG and the UAPs load when an attack first needs them.
"""
from .base import (ATTACKS, Attack, AttackResult, CountingModel, Hyperparameter, RunContext, attack_names,
                   caller_model_kept, fit_universal, get_attack, hyperparameters, param, run_attack)
from .tasks import CLASSIFICATION, TASKS, attack_loss, infer_task, is_fooled
# the family modules, in the registry's order (budget, universal, minimal): defining a class registers it
from .budget import APGDCE, BIM, DAG, FGSM, PGD, SMIA, APGDMargin, BudgetAttack, DeepFool, Noise  # noqa: E402
from .universal import UAP, TargetedUAP, UniversalAttack  # noqa: E402
from .minimal import (LBFGS, TAGHANAKI, Blur, Contrast, GaussianNoise, LocalSearch, MinimalBIM,  # noqa: E402
                      MinimalDeepFool, MinimalFGSM, MinimalPGD, MinimalSearch, SinglePixel)

__all__ = ["Attack", "AttackResult", "RunContext", "CountingModel", "Hyperparameter", "param", "ATTACKS",
           "attack_names", "get_attack", "run_attack", "fit_universal", "hyperparameters", "caller_model_kept",
           "TASKS", "CLASSIFICATION", "infer_task", "attack_loss", "is_fooled", "TAGHANAKI",
           "BudgetAttack", "FGSM", "BIM", "PGD", "DeepFool", "APGDCE", "APGDMargin", "SMIA", "DAG", "Noise",
           "UniversalAttack", "UAP", "TargetedUAP",
           "MinimalSearch", "MinimalFGSM", "MinimalPGD", "MinimalDeepFool", "MinimalBIM", "LBFGS", "LocalSearch",
           "SinglePixel", "Blur", "Contrast", "GaussianNoise"]
