"""One interface to every attack of the collection: ``run_attack(name, model, images, labels, ...)``.

Every attack is reachable by name (:data:`ATTACKS`, :func:`attack_names`) and called the same way on
any model of the collection: binary (one sigmoid logit), multi-class, multi-label and segmentation,
gray or colour input. This module is the one place that owns eval mode, frozen parameters, the
device, batching, the [0, 1] bounds, the count of model calls and the clock; an attack only turns
one batch into adversarial inputs. It returns one result type, :class:`AttackResult`.

Three kinds of attack are first-class:

* ``budget``: fixed-budget attacks at radius ``eps`` in ``norm`` (FGSM, PGD, BIM, DeepFool,
  APGD-CE, APGD-margin, SMIA, DAG and the random-noise control of the same norm);
* ``minimal``: minimal-perturbation searches (the ten attacks of Taghanaki et al. 2018, Foolbox 1
  semantics, which need no budget);
* ``universal``: one perturbation fitted on one set of images (``fit_images``) and applied to
  another (the UAPs of Hirano et al. 2020, nontargeted and targeted).

Foolbox 3 runs what its criteria can express (single-label classification: its FGSM, PGD, BIM,
DeepFool and the ten attacks' wrappers in :mod:`.foolbox_attacks`); a small base of ours runs the
gradient attacks on multi-label and segmentation models with the task's loss
(:func:`.apgd.attack_loss`), and APGD, SMIA, DAG and the UAPs are ours for every task they fit.
Success per input is the task's (:func:`.apgd.is_fooled`): misclassified, any finding flipped
(multi-label), or most of the foreground mislabelled (segmentation: foreground Jaccard below 0.5);
an input the model gets wrong clean counts as a success, as in Foolbox and AutoAttack.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn

from .apgd import apgd, attack_loss, infer_task, is_fooled

__all__ = ["AttackResult", "Attack", "ATTACKS", "attack_names", "get_attack", "run_attack", "fit_universal",
           "CountingModel", "TASKS"]

TASKS = ("binary", "multiclass", "multilabel", "segmentation")
CLASSIFICATION = ("binary", "multiclass")


class CountingModel(nn.Module):
    """The model, counting its forward calls (a batched call counts once)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.model(x)


@dataclass
class AttackResult:
    """What every attack returns, tensors on the CPU, one row per input."""

    name: str
    family: str
    kind: str                    # budget | minimal | universal
    task: str
    adversarial: torch.Tensor    # the attacked inputs (minimal attacks: the clean input where they failed)
    success: torch.Tensor        # fooled (inputs wrong when clean count as fooled)
    clean_correct: torch.Tensor
    l2: torch.Tensor             # norms of adversarial - clean, per input
    linf: torch.Tensor
    model_calls: int
    seconds: float
    eps: float | None = None
    norm: str | None = None
    perturbation: torch.Tensor | None = None   # universal attacks: the perturbation itself
    params: dict = field(default_factory=dict)

    @property
    def robust_accuracy(self) -> float:
        """Share of inputs still classified correctly after the attack."""
        return float((~self.success).float().mean()) if len(self.success) else float("nan")

    @property
    def success_rate(self) -> float:
        """Share of the inputs correct when clean that the attack fooled."""
        correct = self.clean_correct
        return float(self.success[correct].float().mean()) if correct.any() else float("nan")


@dataclass
class _Context:
    model: CountingModel
    task: str
    eps: float | None
    norm: str
    params: dict
    seed: int
    generator: torch.Generator
    state: dict = field(default_factory=dict)   # built once per run (e.g. the Foolbox attack)


@dataclass(frozen=True)
class Attack:
    """A registered attack: ``perturb(ctx, x, y)`` turns one batch (on the device) into attacked
    inputs; universal attacks also ``fit(ctx, images)`` a perturbation first."""

    name: str
    family: str          # gradient | score | decision | universal | control
    kind: str            # budget | minimal | universal
    tasks: tuple[str, ...]
    norms: tuple[str, ...]
    perturb: Callable
    fit: Callable | None = None
    description: str = ""


# --------------------------------------------------------------------------- helpers

def _two_logits_model(ctx: _Context) -> nn.Module:
    from .foolbox_attacks import TwoLogits

    return TwoLogits(ctx.model) if ctx.task == "binary" else ctx.model


def _foolbox(ctx: _Context):
    import foolbox as fb

    if "fmodel" not in ctx.state:
        ctx.state["fmodel"] = fb.PyTorchModel(_two_logits_model(ctx).eval(), bounds=(0, 1),
                                              device=next(iter(ctx.model.parameters())).device)
    return ctx.state["fmodel"]


def _foolbox_budget(build: Callable) -> Callable:
    """A Foolbox fixed-epsilon attack (single-label classification) at radius ``ctx.eps``."""
    def perturb(ctx: _Context, x, y):
        import foolbox as fb

        if "attack" not in ctx.state:
            ctx.state["attack"] = build(ctx)
        _, clipped, _ = ctx.state["attack"](_foolbox(ctx), x, fb.criteria.Misclassification(y.long()),
                                            epsilons=ctx.eps)
        return clipped.detach()
    return perturb


def _project(delta, eps, norm):
    if norm == "Linf":
        return delta.clamp(-eps, eps)
    length = delta.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *[1] * (delta.ndim - 1))
    return delta * torch.clamp(eps / length, max=1.0)


def _sign_steps(ctx: _Context, x, y, steps: int, step: float, random_start: bool):
    """Gradient steps on the task's loss (sign for L-inf, normalised for L2), projected into the
    ``eps`` ball and the [0, 1] box: FGSM (one step of ``eps``), BIM, PGD with a random start."""
    delta = torch.zeros_like(x)
    if random_start:
        noise = torch.rand(x.shape, generator=ctx.generator).to(x) * 2 - 1
        delta = _project(noise * ctx.eps, ctx.eps, ctx.norm)
        delta = (x + delta).clamp(0, 1) - x
    for _ in range(steps):
        delta = delta.detach().requires_grad_(True)
        loss = attack_loss(ctx.model(x + delta), y, ctx.task, "ce").sum()
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            if ctx.norm == "Linf":
                direction = grad.sign()
            else:
                direction = grad / grad.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *[1] * (x.ndim - 1))
            delta = _project(delta + step * direction, ctx.eps, ctx.norm)
            delta = (x + delta).clamp(0, 1) - x
    return (x + delta).detach()


def _gradient(name: str, steps_default: int, random_start: bool, foolbox_build: Callable):
    """One gradient attack: Foolbox for single-label classification, our steps otherwise."""
    via_foolbox = _foolbox_budget(foolbox_build)

    def perturb(ctx: _Context, x, y):
        if ctx.task in CLASSIFICATION:
            return via_foolbox(ctx, x, y)
        steps = 1 if name == "fgsm" else int(ctx.params.get("steps", steps_default))
        step = ctx.eps if name == "fgsm" else float(ctx.params.get("rel_stepsize", 2.5 / steps)) * ctx.eps
        return _sign_steps(ctx, x, y, steps, step, random_start and ctx.params.get("random_start", True))
    return perturb


def _fgsm_foolbox(ctx):
    import foolbox as fb
    return fb.attacks.FGSM() if ctx.norm == "Linf" else fb.attacks.L2FastGradientAttack()


def _pgd_foolbox(ctx):
    import foolbox as fb
    kwargs = {"steps": int(ctx.params.get("steps", 40)), "random_start": ctx.params.get("random_start", True)}
    if "abs_stepsize" in ctx.params:
        kwargs["abs_stepsize"] = float(ctx.params["abs_stepsize"])
    else:
        kwargs["rel_stepsize"] = float(ctx.params.get("rel_stepsize", 2.5 / kwargs["steps"]))
    return (fb.attacks.LinfPGD if ctx.norm == "Linf" else fb.attacks.L2PGD)(**kwargs)


def _bim_foolbox(ctx):
    import foolbox as fb
    steps = int(ctx.params.get("steps", 10))
    kwargs = {"steps": steps, "rel_stepsize": float(ctx.params.get("rel_stepsize", 2.5 / steps))}
    return (fb.attacks.LinfBasicIterativeAttack if ctx.norm == "Linf" else fb.attacks.L2BasicIterativeAttack)(**kwargs)


def _deepfool_foolbox(ctx):
    import foolbox as fb
    classes = max(2, int(ctx.state.get("outputs", 2)))
    kwargs = {"steps": int(ctx.params.get("steps", 50)), "candidates": min(int(ctx.params.get("candidates", 10)), classes)}
    return (fb.attacks.LinfDeepFoolAttack if ctx.norm == "Linf" else fb.attacks.L2DeepFoolAttack)(**kwargs)


def _apgd(loss: str):
    def perturb(ctx: _Context, x, y):
        adversarial, _, _ = apgd(ctx.model, x, y, eps=ctx.eps, norm=ctx.norm, steps=int(ctx.params.get("steps", 100)),
                                 restarts=int(ctx.params.get("restarts", 1)), loss=loss, task=ctx.task,
                                 seed=ctx.seed + ctx.state.setdefault("batches", 0), batch_size=len(x))
        ctx.state["batches"] += 1
        return adversarial.to(x.device)
    return perturb


def _smia(ctx: _Context, x, y):
    from .smia import smia

    steps = int(ctx.params.get("steps", 10))
    run = smia(_two_logits_model(ctx), x, y, epsilon=float(ctx.params.get("step", ctx.eps / steps)), iterations=steps,
               alpha=float(ctx.params.get("alpha", 1.0)), kernel_size=int(ctx.params.get("kernel_size", 5)),
               sigma=float(ctx.params.get("sigma", 1.0)), budget=ctx.eps, batch_size=len(x), device=x.device,
               seed=ctx.seed)
    return run.adversarial.to(x.device)


def _dag(ctx: _Context, x, y):
    from .dag import dag

    steps = int(ctx.params.get("steps", 10))
    run = dag(ctx.model, x, y, epsilon=float(ctx.params.get("step", ctx.eps / steps)), iterations=steps,
              budget=ctx.eps, batch_size=len(x), device=x.device, seed=ctx.seed)
    return run.adversarial.to(x.device)


def _noise(ctx: _Context, x, y):
    """The control: uniform noise in the L-inf ball, or on the L2 sphere, of radius ``eps``."""
    if ctx.norm == "Linf":
        delta = (torch.rand(x.shape, generator=ctx.generator) * 2 - 1) * ctx.eps
    else:
        delta = torch.randn(x.shape, generator=ctx.generator)
        delta = delta * (ctx.eps / delta.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *[1] * (x.ndim - 1)))
    return (x + delta.to(x)).clamp(0, 1)


def _uap_fit(targeted: bool):
    def fit(ctx: _Context, images):
        from .uap import universal_perturbation

        target = ctx.params.get("target") if targeted else None
        if targeted and target is None:
            raise ValueError("uap-targeted needs params target=<class index>")
        result = universal_perturbation(
            _two_logits_model(ctx), images, ctx.eps, "inf" if ctx.norm == "Linf" else "2", target=target,
            eps_step=float(ctx.params.get("eps_step", 0.001)), max_passes=int(ctx.params.get("max_passes", 15)),
            mode=ctx.params.get("mode", "batched"), batch_size=int(ctx.params.get("batch_size", 64)),
            seed=ctx.seed, device=images.device, progress=False)
        ctx.state["fit_result"] = result
        return result.perturbation
    return fit


def _apply_universal(ctx: _Context, x, y):
    return (x + ctx.state["perturbation"].to(x)).clamp(0, 1)


def _minimal(attack_id: str):
    """One of the ten attacks of Taghanaki et al. (Foolbox 1 minimal-perturbation semantics)."""
    def perturb(ctx: _Context, x, y):
        import foolbox as fb

        from .foolbox_attacks import build_attack

        if "attack" not in ctx.state:
            params = dict(ctx.params)
            if attack_id in ("S1", "S2"):
                params.setdefault("seed", ctx.seed)
            ctx.state["attack"] = build_attack(attack_id, max(2, ctx.state["outputs"]), tuple(x.shape[1:]), **params)
        _, adversarial, _ = ctx.state["attack"](_foolbox(ctx), x, fb.criteria.Misclassification(y.long()),
                                                epsilons=None)
        return adversarial.detach()
    return perturb


ALL, CLS = TASKS, CLASSIFICATION
ATTACKS: dict[str, Attack] = {a.name: a for a in [
    Attack("fgsm", "gradient", "budget", ALL, ("Linf", "L2"), _gradient("fgsm", 1, False, _fgsm_foolbox),
           description="FGSM (Goodfellow et al. 2015): one gradient step of the full budget"),
    Attack("bim", "gradient", "budget", ALL, ("Linf", "L2"), _gradient("bim", 10, False, _bim_foolbox),
           description="basic iterative method (Kurakin et al. 2017): steps inside the budget"),
    Attack("pgd", "gradient", "budget", ALL, ("Linf", "L2"), _gradient("pgd", 40, True, _pgd_foolbox),
           description="PGD (Madry et al. 2018): BIM from a random start"),
    Attack("deepfool", "gradient", "budget", CLS, ("Linf", "L2"), _foolbox_budget(_deepfool_foolbox),
           description="DeepFool (Moosavi-Dezfooli et al. 2016), clipped to the budget"),
    Attack("apgd-ce", "gradient", "budget", ALL, ("Linf", "L2"), _apgd("ce"),
           description="APGD with cross-entropy (Croce & Hein 2020; BCE for multi-label, per pixel for masks)"),
    Attack("apgd-margin", "gradient", "budget", ALL, ("Linf", "L2"), _apgd("margin"),
           description="APGD with a margin loss defined for 2 and 3 classes and multi-label"),
    Attack("smia", "gradient", "budget", ("binary", "multiclass", "segmentation"), ("Linf",), _smia,
           description="SMIA (Qi et al. 2021): deviation minus alpha x stabilization, steps of eps / T"),
    Attack("dag", "gradient", "budget", ("segmentation",), ("Linf",), _dag,
           description="DAG (Xie et al. 2017): dense adversary generation for segmentation"),
    Attack("noise", "control", "budget", ALL, ("Linf", "L2"), _noise,
           description="random-noise control: uniform in the L-inf ball or on the L2 sphere of radius eps"),
    Attack("uap", "universal", "universal", CLS, ("Linf", "L2"), _apply_universal, _uap_fit(False),
           description="nontargeted UAP (Hirano et al. 2020, Moosavi-Dezfooli et al. 2017, FGSM inner step)"),
    Attack("uap-targeted", "universal", "universal", CLS, ("Linf", "L2"), _apply_universal, _uap_fit(True),
           description="targeted UAP (Hirano & Takemoto 2020); params target=<class>"),
] + [Attack(name, family, "minimal", CLS, (), _minimal(attack_id), description=f"{attack_id} of Taghanaki et al. 2018")
     for attack_id, name, family in [
         ("G1", "minimal-fgsm", "gradient"), ("G2", "minimal-pgd", "gradient"), ("G3", "minimal-deepfool", "gradient"),
         ("G4", "minimal-bim", "gradient"), ("G5", "lbfgs", "gradient"), ("S1", "local-search", "score"),
         ("S2", "single-pixel", "score"), ("D1", "blur", "decision"), ("D2", "contrast", "decision"),
         ("D3", "gaussian-noise", "decision")]]}

#: The ten attacks of Taghanaki et al. 2018 by the paper's id.
TAGHANAKI = {a.description.split()[0]: name for name, a in ATTACKS.items() if a.kind == "minimal"}


def attack_names(task: str | None = None, kind: str | None = None, norm: str | None = None) -> list[str]:
    """The registered attacks, optionally only those that apply to a task, kind or norm."""
    return [name for name, a in ATTACKS.items()
            if (task is None or task in a.tasks) and (kind is None or a.kind == kind)
            and (norm is None or not a.norms or norm in a.norms)]


def get_attack(name: str) -> Attack:
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; registered: {', '.join(ATTACKS)}")
    return ATTACKS[name]


def fit_universal(name: str, model: nn.Module, fit_images: torch.Tensor, *, eps: float, norm: str = "Linf",
                  seed: int = 0, device: str | torch.device = "auto", **params):
    """Fit a universal attack (``uap``, ``uap-targeted``) on ``fit_images`` without applying it:
    returns the attack's own result (for the UAPs: :class:`~.uap.UAPResult`, with the perturbation,
    the per-pass rates and the counts), for chapters that apply it their own way (Hirano et al.
    added the UAP without clipping)."""
    from ..utils import resolve_device

    attack = get_attack(name)
    if attack.kind != "universal":
        raise ValueError(f"attack {name!r} is not universal; universal attacks: {attack_names(kind='universal')}")
    if norm not in attack.norms or not eps > 0:
        raise ValueError(f"attack {name!r} needs eps > 0 and a norm of {attack.norms}")
    device = resolve_device(device)
    counting = CountingModel(model).to(device).eval()
    with torch.no_grad():
        outputs = int(counting(fit_images[:1].float().to(device)).shape[1])
    ctx = _Context(counting, "binary" if outputs == 1 else "multiclass", eps, norm, dict(params), seed,
                   torch.Generator().manual_seed(seed))
    attack.fit(ctx, fit_images.float().to(device))
    return ctx.state["fit_result"]


def _norms(delta: torch.Tensor):
    flat = delta.flatten(1)
    return flat.norm(dim=1), (flat.abs().amax(1) if flat.shape[1] else flat.sum(1))


def run_attack(name: str, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
               eps: float | None = None, norm: str = "Linf", task: str | None = None,
               fit_images: torch.Tensor | None = None, batch_size: int = 32, seed: int = 0,
               device: str | torch.device = "auto", **params) -> AttackResult:
    """Run attack ``name`` on ``images`` (N, C, H, W, float in [0, 1]) with true ``labels``.

    ``eps``/``norm``: the budget of ``budget`` and ``universal`` attacks (ignored by ``minimal``
    ones). ``task`` is inferred from the model's output and the labels when None. Universal
    attacks fit their perturbation on ``fit_images`` (default: ``images``). ``params`` go to the
    attack (e.g. ``steps``, ``restarts``, ``alpha``, ``target``); the same ``seed`` gives the same
    result.
    """
    from ..utils import resolve_device

    attack = get_attack(name)
    if images.ndim != 4 or not images.dtype.is_floating_point:
        raise ValueError(f"images must be a float (N, C, H, W) tensor, got {images.dtype} {tuple(images.shape)}")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(images) and (images.min() < 0 or images.max() > 1):
        raise ValueError("images must lie in [0, 1]")
    if attack.kind != "minimal":
        if eps is None or not eps > 0:
            raise ValueError(f"attack {name!r} needs a budget eps > 0")
        if norm not in attack.norms:
            raise ValueError(f"attack {name!r} supports the norms {attack.norms}, not {norm!r}")
    device = resolve_device(device)
    counting = CountingModel(model).to(device).eval()
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    torch.manual_seed(seed)                   # Foolbox draws its random starts from torch's generator
    ctx = _Context(counting, task or "", eps, norm, dict(params), seed, torch.Generator().manual_seed(seed))
    start = time.perf_counter()
    try:
        with torch.no_grad():
            probe = counting(images[:1].to(device))
        ctx.task = task or infer_task(probe, labels[:1].to(device))
        ctx.state["outputs"] = int(probe.shape[1])
        if ctx.task not in attack.tasks:
            raise ValueError(f"attack {name!r} applies to {attack.tasks}, not to a {ctx.task} model")
        if attack.kind == "universal":
            fit_on = images if fit_images is None else fit_images
            ctx.state["perturbation"] = attack.fit(ctx, fit_on.float().to(device)).to(device)
        outs, fooled, correct = [], [], []
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].float().to(device)
            y = labels[i:i + batch_size].to(device)
            with torch.no_grad():
                correct.append(~is_fooled(counting(x), y, ctx.task).cpu())
            adversarial = attack.perturb(ctx, x, y).clamp(0, 1)
            with torch.no_grad():
                fooled.append(is_fooled(counting(adversarial), y, ctx.task).cpu())
            outs.append(adversarial.cpu())
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
    seconds = time.perf_counter() - start
    adversarial = torch.cat(outs) if outs else images.clone()
    success = torch.cat(fooled) if fooled else torch.zeros(0, dtype=torch.bool)
    clean_correct = torch.cat(correct) if correct else torch.zeros(0, dtype=torch.bool)
    if attack.kind == "minimal":   # Foolbox 1 semantics: the clean input where the search failed
        adversarial = torch.where(success.view(-1, 1, 1, 1), adversarial, images.float())
    l2, linf = _norms(adversarial - images.float())
    return AttackResult(name, attack.family, attack.kind, ctx.task, adversarial, success, clean_correct, l2, linf,
                        counting.calls, seconds, eps if attack.kind != "minimal" else None,
                        norm if attack.kind != "minimal" else None,
                        ctx.state["perturbation"].cpu() if attack.kind == "universal" else None, dict(params))
