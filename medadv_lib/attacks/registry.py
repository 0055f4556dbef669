"""One interface to every attack of the collection: a small typed class per attack, and
``run_attack(name, model, images, labels, ...)`` to build and run one by name.

Every attack is a class (:data:`ATTACKS`, :func:`attack_names`, :func:`get_attack`) in the style of
Foolbox 3 (``LinfPGD(steps=50, rel_stepsize=0.025)``) and torchattacks (``PGD(model, eps, alpha,
steps)``): its hyperparameters are keyword-only dataclass fields with documented defaults
(:func:`hyperparameters`); an unknown or ill-typed one raises a :class:`TypeError` that names the
valid ones. An instance runs on any model of the collection, binary (one sigmoid logit),
multi-class, multi-label and segmentation, gray or colour input::

    PGD(steps=10).run(model, images, labels, eps=[1 / 255, 2 / 255])   # one result per budget
    run_attack("pgd", model, images, labels, eps=2 / 255, steps=10)     # the same, by name

The run is the one place that owns eval mode, frozen parameters, the device, batching, the [0, 1]
bounds, the count of model calls and the clock; an attack only turns one batch into adversarial
inputs. The caller's model comes back as it was (the training flag of every module, the device,
each parameter's ``requires_grad``), and the global random state is untouched: our own draws use a
local ``torch.Generator`` seeded with ``seed``, and the draws Foolbox makes from torch's global
generator run inside ``torch.random.fork_rng`` seeded the same way, so the same seed gives the same
result and several budgets in one call equal separate calls.

Three kinds of attack are first-class:

* ``budget``: fixed-budget attacks at radius ``eps`` in ``norm`` (FGSM, PGD, BIM, DeepFool,
  APGD-CE, APGD-margin, SMIA, DAG and the random-noise control of the same norm);
* ``minimal``: minimal-perturbation searches (the ten attacks of Taghanaki et al. 2018, Foolbox 1
  semantics, which need no budget; the paper's ids G1 ... D3 are their ``paper_id``); their result
  says per input whether the search ran out of its grid or iterations (``exhausted``);
* ``universal``: one perturbation fitted on one set of images (``fit_images``) and applied to
  another (the UAPs of Hirano et al. 2020, nontargeted and targeted).

Foolbox 3 runs what its criteria can express (single-label classification: its FGSM, PGD, BIM,
DeepFool and the ten attacks' wrappers in :mod:`.foolbox_attacks`); a small base of ours runs the
gradient attacks on multi-label and segmentation models with the task's loss
(:func:`.apgd.attack_loss`), and APGD, SMIA, DAG and the UAPs are ours for every task they fit.
Success per input is the task's (:func:`.apgd.is_fooled`): misclassified, any finding flipped
(multi-label), or most of the foreground mislabelled (segmentation: foreground Jaccard below 0.5);
an input the model gets wrong clean counts as a success, as in Foolbox and AutoAttack.

The iterative attacks whose loop the run can see (PGD and BIM, Foolbox's or ours, and DAG; their
``records_steps``) hand back their iterate after chosen steps: ``record_steps=(1, 3, 5, 10)`` in
:meth:`Attack.run` or :func:`run_attack` fills :attr:`AttackResult.iterates` with the attacked
inputs after each of those steps, each exactly what the same run with ``steps=t`` returns (a
step depends only on the ones before it: the step size, the random start and the seed do not
depend on how many steps follow). A record only: the run, its result and its count of model calls
are the same with or without it.
"""
from __future__ import annotations

import contextlib
import functools
import time
import types
import typing
from dataclasses import dataclass, field, fields
from typing import ClassVar, Sequence

import torch
import torch.nn as nn

from .apgd import apgd, attack_loss, infer_task, is_fooled

__all__ = ["AttackResult", "Attack", "Hyperparameter", "ATTACKS", "TAGHANAKI", "attack_names", "get_attack",
           "hyperparameters", "run_attack", "fit_universal", "CountingModel", "TASKS",
           "FGSM", "BIM", "PGD", "DeepFool", "APGDCE", "APGDMargin", "SMIA", "DAG", "Noise", "UAP", "TargetedUAP",
           "MinimalFGSM", "MinimalPGD", "MinimalDeepFool", "MinimalBIM", "LBFGS", "LocalSearch", "SinglePixel",
           "Blur", "Contrast", "GaussianNoise"]

TASKS = ("binary", "multiclass", "multilabel", "segmentation")
CLASSIFICATION = ("binary", "multiclass")


class CountingModel(nn.Module):
    """The model, counting its forward calls (``calls``: a batched call counts once) and the inputs
    it was evaluated on (``inputs``: a call on a batch of k counts k, the queries of the
    score- and decision-based attacks' literature)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.calls = 0
        self.inputs = 0

    def forward(self, x):
        self.calls += 1
        self.inputs += int(x.shape[0])
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
    params: dict = field(default_factory=dict)  # the attack's hyperparameters, defaults included
    seed: int = 0
    #: Minimal searches only (None for the others): per input, the search ran out of its grid or
    #: iterations (no adversarial within the grid's largest size or the iteration limit). False
    #: where it found one, where the input was wrong clean, and where it failed for another
    #: reason (Single Pixel tried every pixel; a found adversarial lost on the re-check).
    exhausted: torch.Tensor | None = None
    #: With ``record_steps`` only (None otherwise): ``{t: attacked inputs after step t}`` for each
    #: recorded step, each equal to the ``adversarial`` of the same run with ``steps=t`` (the
    #: last step's is ``adversarial`` itself).
    iterates: dict[int, torch.Tensor] | None = None
    #: The inputs the model was evaluated on, summed over its calls (``model_calls`` counts a
    #: batched call once): the attack's queries, the probe and the clean and adversarial checks
    #: included.
    model_inputs: int = 0

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
    seed: int
    generator: torch.Generator
    outputs: int = 0
    state: dict = field(default_factory=dict)   # built once per run (e.g. the Foolbox attack)
    record_steps: tuple[int, ...] = ()          # the steps whose iterate the run hands back
    iterates: dict = field(default_factory=dict)  # this batch's: {t: attacked inputs after step t}

    def keep(self, t: int, adversarial: torch.Tensor) -> None:
        """The attack's hook: the batch's attacked inputs after step ``t`` (kept when ``t`` is one
        of ``record_steps``), exactly what the attack would return for it had it stopped there."""
        if t in self.record_steps:
            self.iterates[t] = adversarial.detach().clone()


# --------------------------------------------------------------------------- hyperparameters

@dataclass(frozen=True)
class Hyperparameter:
    """One documented hyperparameter of an attack class."""

    name: str
    type: str
    default: object
    doc: str
    choices: tuple | None = None

    def __str__(self) -> str:
        choices = f", one of {list(self.choices)}" if self.choices else ""
        return f"{self.name}: {self.type} = {self.default!r}{choices}  # {self.doc}"


def _param(default, doc: str, choices: tuple | None = None):
    """A hyperparameter field: its default and its documentation (and allowed values)."""
    return field(default=default, metadata={"doc": doc, "choices": choices})


def _type_name(hint) -> str:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return " | ".join(_type_name(a) for a in typing.get_args(hint))
    return "None" if hint is type(None) else getattr(hint, "__name__", str(hint))


def _fits(value, hint) -> bool:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_fits(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def hyperparameters(attack: str | type[Attack] | Attack) -> list[Hyperparameter]:
    """The documented hyperparameters of an attack (by name, class or instance), defaults included."""
    cls = get_attack(attack) if isinstance(attack, str) else (attack if isinstance(attack, type) else type(attack))
    hints = typing.get_type_hints(cls)
    return [Hyperparameter(f.name, _type_name(hints[f.name]), f.default, f.metadata.get("doc", ""),
                           f.metadata.get("choices")) for f in fields(cls)]


ATTACKS: dict[str, type[Attack]] = {}


def _register(cls):
    """Make ``cls`` a frozen keyword-only dataclass whose constructor refuses unknown and
    ill-typed hyperparameters with a :class:`TypeError` naming the valid ones; register it."""
    cls = dataclass(frozen=True, kw_only=True)(cls)
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args, **params):
        valid = hyperparameters(cls)
        listing = ", ".join(f"{h.name}={h.default!r}" for h in valid) or "none"
        if args:
            raise TypeError(f"attack {cls.name!r} takes its hyperparameters by keyword only; valid: {listing}")
        by_name = {h.name: h for h in valid}
        unknown = sorted(set(params) - set(by_name))
        if unknown:
            raise TypeError(f"attack {cls.name!r} got unknown hyperparameter(s) {unknown}; valid: {listing}")
        hints = typing.get_type_hints(cls)
        for key, value in params.items():
            if not _fits(value, hints[key]):
                raise TypeError(f"attack {cls.name!r}: hyperparameter {key!r} must be {_type_name(hints[key])}, "
                                f"got {type(value).__name__} {value!r}; valid: {listing}")
            if by_name[key].choices and value not in by_name[key].choices:
                raise TypeError(f"attack {cls.name!r}: hyperparameter {key!r} must be one of "
                                f"{list(by_name[key].choices)}, got {value!r}")
        init(self, **{k: float(v) if isinstance(v, int) and _fits(1.5, hints[k]) and not isinstance(v, bool) else v
                      for k, v in params.items()})

    cls.__init__ = __init__
    ATTACKS[cls.name] = cls
    return cls


# --------------------------------------------------------------------------- the base class

@contextlib.contextmanager
def _caller_model_kept(model: nn.Module):
    """Give the model back as it came: each module's training flag, each parameter's
    ``requires_grad``, the device of its first parameter (or buffer)."""
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    first = next(iter(model.parameters()), None)
    if first is None:
        first = next(iter(model.buffers()), None)
    device = first.device if first is not None else None
    try:
        yield
    finally:
        if device is not None:
            model.to(device)
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)


@contextlib.contextmanager
def _private_rng(seed: int, device: torch.device):
    """torch's global generators forked (restored afterwards) and seeded with ``seed``: Foolbox
    draws its random starts and noise from them."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):       # every CUDA device: manual_seed reseeds them all
        torch.manual_seed(seed)
        yield


def _norms(delta: torch.Tensor):
    flat = delta.flatten(1)
    return flat.norm(dim=1), (flat.abs().amax(1) if flat.shape[1] else flat.sum(1))


class Attack:
    """Base of every attack: the class attributes say what it is, the dataclass fields are its
    hyperparameters, :meth:`run` attacks a model. Subclasses implement ``perturb(ctx, x, y)`` (one
    batch on the device to attacked inputs) and, for universal attacks, ``fit(ctx, images)``."""

    name: ClassVar[str]
    family: ClassVar[str]              # gradient | score | decision | universal | control
    kind: ClassVar[str]                # budget | minimal | universal
    tasks: ClassVar[tuple[str, ...]]
    norms: ClassVar[tuple[str, ...]]   # empty for minimal-perturbation searches
    description: ClassVar[str] = ""
    paper_id: ClassVar[str | None] = None     # the ten attacks of Taghanaki et al. 2018: G1 ... D3
    paper_name: ClassVar[str | None] = None   # their name in that paper's Table 1
    #: Whether the attack hands back its iterate after chosen steps (``record_steps`` of :meth:`run`;
    #: such an attack has a ``steps`` hyperparameter and calls ``ctx.keep(t, attacked)`` after step t).
    records_steps: ClassVar[bool] = False

    @property
    def params(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def perturb(self, ctx: _Context, x, y):      # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def fit(self, ctx: _Context, images):        # universal attacks only
        raise NotImplementedError

    def ran_out(self, ctx: _Context, x, fooled: torch.Tensor) -> torch.Tensor | None:
        """Minimal searches: after ``perturb`` on the batch ``x``, per input, whether the search
        used up its grid or iterations (see :attr:`AttackResult.exhausted`); None for the others."""
        return None

    def _check(self, images, labels, budgets, norm):
        if images.ndim != 4 or not images.dtype.is_floating_point:
            raise ValueError(f"images must be a float (N, C, H, W) tensor, got {images.dtype} {tuple(images.shape)}")
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if len(images) and (images.min() < 0 or images.max() > 1):
            raise ValueError("images must lie in [0, 1]")
        if self.kind != "minimal":
            if not budgets or any(e is None or not e > 0 for e in budgets):
                raise ValueError(f"attack {self.name!r} needs a budget eps > 0 (a number or a list of numbers)")
            if norm not in self.norms:
                raise ValueError(f"attack {self.name!r} supports the norms {self.norms}, not {norm!r}")

    def run(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
            eps: float | Sequence[float] | None = None, norm: str = "Linf", task: str | None = None,
            fit_images: torch.Tensor | None = None, batch_size: int = 32, seed: int = 0,
            device: str | torch.device = "auto",
            record_steps: Sequence[int] | None = None) -> AttackResult | list[AttackResult]:
        """Attack ``model`` on ``images`` (N, C, H, W, float in [0, 1]) with true ``labels``.

        ``eps``/``norm``: the budget of ``budget`` and ``universal`` attacks (ignored by ``minimal``
        ones); a list of budgets gives one result per budget, each equal to a separate call with the
        same seed. ``task`` is inferred from the model's output and the labels when None.
        Universal attacks fit their perturbation on ``fit_images`` (default: ``images``).
        ``record_steps`` (attacks with ``records_steps`` only; each step in 1 ... ``steps``): also
        hand back the attacked inputs after each of those steps, :attr:`AttackResult.iterates`,
        each equal to this run's result with ``steps=t``.
        """
        from ..utils import resolve_device

        many = isinstance(eps, (list, tuple))
        budgets = [None] if self.kind == "minimal" and not many else (list(eps) if many else [eps])
        self._check(images, labels, budgets, norm)
        record_steps = self._check_record_steps(record_steps)
        device = resolve_device(device)
        results = []
        with _caller_model_kept(model):
            counting = CountingModel(model).to(device).eval()
            for p in model.parameters():
                p.requires_grad_(False)
            for budget in budgets:
                with _private_rng(seed, device):
                    results.append(self._run_one(counting, images, labels, budget, norm, task, fit_images,
                                                 batch_size, seed, device, record_steps))
        return results if many else results[0]

    def _check_record_steps(self, record_steps) -> tuple[int, ...]:
        if record_steps is None:
            return ()
        if not self.records_steps:
            recording = ", ".join(n for n, a in ATTACKS.items() if a.records_steps)
            raise ValueError(f"attack {self.name!r} does not record its iterates (record_steps); those that do: "
                             f"{recording}")
        steps = sorted(set(record_steps))
        if not steps or any(not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= self.steps for t in steps):
            raise ValueError(f"record_steps must be steps 1 ... {self.steps} (the attack's steps), got "
                             f"{list(record_steps)!r}")
        return tuple(steps)

    def _run_one(self, counting, images, labels, eps, norm, task, fit_images, batch_size, seed, device,
                 record_steps=()):
        counting.calls = counting.inputs = 0
        eps = None if eps is None or self.kind == "minimal" else float(eps)
        ctx = _Context(counting, task or "", eps, norm, seed, torch.Generator().manual_seed(seed),
                       record_steps=record_steps)
        start = time.perf_counter()
        with torch.no_grad():
            probe = counting(images[:1].float().to(device))
        ctx.task = task or infer_task(probe, labels[:1].to(device))
        ctx.outputs = int(probe.shape[1])
        if ctx.task not in self.tasks:
            raise ValueError(f"attack {self.name!r} applies to {self.tasks}, not to a {ctx.task} model")
        if self.kind == "universal":
            fit_on = images if fit_images is None else fit_images
            ctx.state["perturbation"] = self.fit(ctx, fit_on.float().to(device)).to(device)
        outs, fooled, correct, exhausted = [], [], [], []
        kept = {t: [] for t in record_steps}
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].float().to(device)
            y = labels[i:i + batch_size].to(device)
            with torch.no_grad():
                correct.append(~is_fooled(counting(x), y, ctx.task).cpu())
            ctx.iterates = {}
            adversarial = self.perturb(ctx, x, y).clamp(0, 1)
            for t in record_steps:      # as the run's result: clamped, on the CPU
                if t not in ctx.iterates:
                    raise RuntimeError(f"attack {self.name!r} kept no iterate after step {t}")
                kept[t].append(ctx.iterates[t].clamp(0, 1).cpu())
            with torch.no_grad():
                fooled.append(is_fooled(counting(adversarial), y, ctx.task).cpu())
            outs.append(adversarial.cpu())
            ran_out = self.ran_out(ctx, x, fooled[-1])
            if ran_out is not None:
                exhausted.append(torch.as_tensor(ran_out, dtype=torch.bool).cpu() & ~fooled[-1] & correct[-1])
        seconds = time.perf_counter() - start
        adversarial = torch.cat(outs) if outs else images.float().clone()
        success = torch.cat(fooled) if fooled else torch.zeros(0, dtype=torch.bool)
        clean_correct = torch.cat(correct) if correct else torch.zeros(0, dtype=torch.bool)
        if self.kind == "minimal":   # Foolbox 1 semantics: the clean input where the search failed
            adversarial = torch.where(success.view(-1, 1, 1, 1), adversarial, images.float())
        l2, linf = _norms(adversarial - images.float())
        iterates = {t: torch.cat(v) if v else images.float().clone() for t, v in kept.items()} if record_steps else None
        return AttackResult(self.name, self.family, self.kind, ctx.task, adversarial, success, clean_correct, l2,
                            linf, counting.calls, seconds, eps, norm if self.kind != "minimal" else None,
                            ctx.state["perturbation"].cpu() if self.kind == "universal" else None, self.params, seed,
                            (torch.cat(exhausted) if exhausted else torch.zeros(0, dtype=torch.bool))
                            if self.kind == "minimal" else None, iterates, counting.inputs)

    __call__ = run


# --------------------------------------------------------------------------- helpers

def _two_logits_model(ctx: _Context) -> nn.Module:
    from .foolbox_attacks import TwoLogits

    return TwoLogits(ctx.model) if ctx.task == "binary" else ctx.model


def _foolbox(ctx: _Context):
    import foolbox as fb

    if "fmodel" not in ctx.state:
        ctx.state["fmodel"] = fb.PyTorchModel(_two_logits_model(ctx).eval(), bounds=(0, 1),
                                              device=next(iter(ctx.model.parameters()), torch.empty(0)).device)
    return ctx.state["fmodel"]


def _foolbox_run(ctx: _Context, build, x, y, epsilons):
    """A Foolbox attack (built once per run) under misclassification of ``y``."""
    import foolbox as fb

    if "attack" not in ctx.state:
        ctx.state["attack"] = build()
    _, clipped, _ = ctx.state["attack"](_foolbox(ctx), x, fb.criteria.Misclassification(y.long()), epsilons=epsilons)
    return clipped.detach()


@functools.cache
def _recording(cls):
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


def _foolbox_descent(ctx: _Context, cls, kwargs: dict, x, y):
    """Foolbox's gradient-descent attack ``cls(**kwargs)`` at ``ctx.eps``. With ``record_steps`` the
    attack keeps the iterates (:func:`_recording`) and each is handed to ``ctx.keep`` clipped to the
    budget as Foolbox clips its result (``distance.clip_perturbation``): what a run stopped there returns."""
    if not ctx.record_steps:
        return _foolbox_run(ctx, lambda: cls(**kwargs), x, y, ctx.eps)

    def build():
        attack = _recording(cls)(**kwargs)
        attack.keep_at = frozenset(ctx.record_steps)
        return attack

    adversarial = _foolbox_run(ctx, build, x, y, ctx.eps)
    attack = ctx.state["attack"]
    if len(attack.starts) != attack.steps:
        raise RuntimeError(f"Foolbox's {cls.__name__} took {len(attack.starts)} gradients in {attack.steps} steps: "
                           "its loop is not the one the recording reads")
    for t in ctx.record_steps:
        ctx.keep(t, adversarial if t == attack.steps
                 else attack.distance.clip_perturbation(x, attack.starts[t], ctx.eps).detach())
    return adversarial


def _project(delta, eps, norm):
    if norm == "Linf":
        return delta.clamp(-eps, eps)
    length = delta.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *[1] * (delta.ndim - 1))
    return delta * torch.clamp(eps / length, max=1.0)


def _sign_steps(ctx: _Context, x, y, steps: int, step: float, random_start: bool):
    """Gradient steps on the task's loss (sign for L-inf, normalised for L2), projected into the
    ``eps`` ball and the [0, 1] box: FGSM (one step of ``eps``), BIM, PGD with a random start. The
    attacked inputs after step ``t`` go to ``ctx.keep``."""
    delta = torch.zeros_like(x)
    if random_start:
        noise = torch.rand(x.shape, generator=ctx.generator).to(x) * 2 - 1
        delta = _project(noise * ctx.eps, ctx.eps, ctx.norm)
        delta = (x + delta).clamp(0, 1) - x
    for t in range(1, steps + 1):
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
        if ctx.record_steps:
            ctx.keep(t, (x + delta).detach())
    return (x + delta).detach()


ALL, CLS = TASKS, CLASSIFICATION


# --------------------------------------------------------------------------- budget attacks

@_register
class FGSM(Attack):
    """FGSM (Goodfellow et al. 2015): one gradient step of the full budget (Foolbox 3's ``FGSM`` /
    ``L2FastGradientAttack`` on classifiers, the task's loss otherwise)."""

    name: ClassVar[str] = "fgsm"
    family: ClassVar[str] = "gradient"
    kind: ClassVar[str] = "budget"
    tasks: ClassVar[tuple] = ALL
    norms: ClassVar[tuple] = ("Linf", "L2")
    description: ClassVar[str] = "FGSM (Goodfellow et al. 2015): one gradient step of the full budget"

    def perturb(self, ctx, x, y):
        if ctx.task in CLASSIFICATION:
            import foolbox as fb
            return _foolbox_run(ctx, lambda: fb.attacks.FGSM() if ctx.norm == "Linf"
                                else fb.attacks.L2FastGradientAttack(), x, y, ctx.eps)
        return _sign_steps(ctx, x, y, 1, ctx.eps, False)


@_register
class BIM(Attack):
    """Basic iterative method (Kurakin et al. 2017): ``steps`` steps of ``rel_stepsize * eps``
    inside the budget (Foolbox 3's ``LinfBasicIterativeAttack``/``L2BasicIterativeAttack`` on
    classifiers)."""

    name: ClassVar[str] = "bim"
    family: ClassVar[str] = "gradient"
    kind: ClassVar[str] = "budget"
    tasks: ClassVar[tuple] = ALL
    norms: ClassVar[tuple] = ("Linf", "L2")
    description: ClassVar[str] = "basic iterative method (Kurakin et al. 2017): steps inside the budget"
    records_steps: ClassVar[bool] = True
    steps: int = _param(10, "gradient steps")
    rel_stepsize: float | None = _param(None, "step size relative to eps; None: 2.5 / steps")

    def perturb(self, ctx, x, y):
        rel = 2.5 / self.steps if self.rel_stepsize is None else self.rel_stepsize
        if ctx.task in CLASSIFICATION:
            import foolbox as fb
            cls = fb.attacks.LinfBasicIterativeAttack if ctx.norm == "Linf" else fb.attacks.L2BasicIterativeAttack
            return _foolbox_descent(ctx, cls, {"steps": self.steps, "rel_stepsize": rel}, x, y)
        return _sign_steps(ctx, x, y, self.steps, rel * ctx.eps, False)


@_register
class PGD(Attack):
    """PGD (Madry et al. 2018): BIM from a uniform random start in the ball (Foolbox 3's
    ``LinfPGD``/``L2PGD`` on classifiers). Step ``abs_stepsize`` when given, else
    ``rel_stepsize * eps`` (default ``2.5 / steps``, Madry et al.'s choice)."""

    name: ClassVar[str] = "pgd"
    family: ClassVar[str] = "gradient"
    kind: ClassVar[str] = "budget"
    tasks: ClassVar[tuple] = ALL
    norms: ClassVar[tuple] = ("Linf", "L2")
    description: ClassVar[str] = "PGD (Madry et al. 2018): BIM from a random start"
    records_steps: ClassVar[bool] = True
    steps: int = _param(40, "gradient steps")
    rel_stepsize: float | None = _param(None, "step size relative to eps; None: 2.5 / steps")
    abs_stepsize: float | None = _param(None, "absolute step size (overrides rel_stepsize)")
    random_start: bool = _param(True, "start from a uniform random point of the ball")

    def _step(self, eps: float) -> float:
        if self.abs_stepsize is not None:
            return self.abs_stepsize
        return (2.5 / self.steps if self.rel_stepsize is None else self.rel_stepsize) * eps

    def perturb(self, ctx, x, y):
        if ctx.task in CLASSIFICATION:
            import foolbox as fb
            cls = fb.attacks.LinfPGD if ctx.norm == "Linf" else fb.attacks.L2PGD
            kwargs = {"steps": self.steps, "random_start": self.random_start}
            if self.abs_stepsize is not None:
                kwargs["abs_stepsize"] = self.abs_stepsize
            else:
                kwargs["rel_stepsize"] = 2.5 / self.steps if self.rel_stepsize is None else self.rel_stepsize
            return _foolbox_descent(ctx, cls, kwargs, x, y)
        return _sign_steps(ctx, x, y, self.steps, self._step(ctx.eps), self.random_start)


@_register
class DeepFool(Attack):
    """DeepFool (Moosavi-Dezfooli et al. 2016; Foolbox 3's ``LinfDeepFoolAttack``/``L2DeepFoolAttack``),
    clipped to the budget; ``candidates`` is capped at the number of classes."""

    name: ClassVar[str] = "deepfool"
    family: ClassVar[str] = "gradient"
    kind: ClassVar[str] = "budget"
    tasks: ClassVar[tuple] = CLS
    norms: ClassVar[tuple] = ("Linf", "L2")
    description: ClassVar[str] = "DeepFool (Moosavi-Dezfooli et al. 2016), clipped to the budget"
    steps: int = _param(50, "DeepFool iterations")
    candidates: int = _param(10, "classes considered (capped at the number of classes)")
    overshoot: float = _param(0.02, "overshoot past the boundary")

    def perturb(self, ctx, x, y):
        import foolbox as fb
        cls = fb.attacks.LinfDeepFoolAttack if ctx.norm == "Linf" else fb.attacks.L2DeepFoolAttack
        candidates = min(self.candidates, max(2, ctx.outputs))
        return _foolbox_run(ctx, lambda: cls(steps=self.steps, candidates=candidates, overshoot=self.overshoot),
                            x, y, ctx.eps)


@dataclass(frozen=True, kw_only=True)
class _APGD(Attack):
    """The two APGD variants' shared hyperparameters and step (their loss differs)."""

    family: ClassVar[str] = "gradient"
    kind: ClassVar[str] = "budget"
    tasks: ClassVar[tuple] = ALL
    norms: ClassVar[tuple] = ("Linf", "L2")
    loss: ClassVar[str] = "ce"
    steps: int = _param(100, "iterations per restart")
    restarts: int = _param(1, "random restarts on the inputs not yet fooled")

    def perturb(self, ctx, x, y):
        batch = ctx.state.setdefault("batches", 0)
        adversarial, _, _ = apgd(ctx.model, x, y, eps=ctx.eps, norm=ctx.norm, steps=self.steps, restarts=self.restarts,
                                 loss=self.loss, task=ctx.task, seed=ctx.seed + batch, batch_size=len(x))
        ctx.state["batches"] = batch + 1
        return adversarial.to(x.device)


@_register
class APGDCE(_APGD):
    """APGD with cross-entropy (Croce & Hein 2020, :mod:`.apgd`; BCE for multi-label, per pixel for masks)."""

    name: ClassVar[str] = "apgd-ce"
    description: ClassVar[str] = "APGD with cross-entropy (Croce & Hein 2020; BCE for multi-label, per pixel for masks)"
    loss: ClassVar[str] = "ce"


@_register
class APGDMargin(_APGD):
    """APGD with a margin loss defined for 2 and 3 classes and multi-label (:mod:`.apgd`)."""

    name: ClassVar[str] = "apgd-margin"
    description: ClassVar[str] = "APGD with a margin loss defined for 2 and 3 classes and multi-label"
    loss: ClassVar[str] = "margin"


@_register
class SMIA(Attack):
    """SMIA (Qi et al. 2021, :mod:`.smia`): deviation loss minus ``alpha`` x stabilization, ``steps``
    steps of ``step`` (default eps / steps) inside the budget."""

    name: ClassVar[str] = "smia"
    family: ClassVar[str] = "gradient"
    kind: ClassVar[str] = "budget"
    tasks: ClassVar[tuple] = ("binary", "multiclass", "segmentation")
    norms: ClassVar[tuple] = ("Linf",)
    description: ClassVar[str] = "SMIA (Qi et al. 2021): deviation minus alpha x stabilization, steps of eps / T"
    steps: int = _param(10, "iterations T")
    step: float | None = _param(None, "step size; None: eps / steps")
    alpha: float = _param(1.0, "weight of the stabilization loss")
    kernel_size: int = _param(5, "Gaussian kernel size of the stabilization")
    sigma: float = _param(1.0, "Gaussian kernel sigma")

    def perturb(self, ctx, x, y):
        from .smia import smia

        run = smia(_two_logits_model(ctx), x, y, epsilon=ctx.eps / self.steps if self.step is None else self.step,
                   iterations=self.steps, alpha=self.alpha, kernel_size=self.kernel_size, sigma=self.sigma,
                   budget=ctx.eps, batch_size=len(x), device=x.device, seed=ctx.seed)
        return run.adversarial.to(x.device)


@_register
class DAG(Attack):
    """DAG (Xie et al. 2017, :mod:`.dag`): dense adversary generation for segmentation."""

    name: ClassVar[str] = "dag"
    family: ClassVar[str] = "gradient"
    kind: ClassVar[str] = "budget"
    tasks: ClassVar[tuple] = ("segmentation",)
    norms: ClassVar[tuple] = ("Linf",)
    description: ClassVar[str] = "DAG (Xie et al. 2017): dense adversary generation for segmentation"
    records_steps: ClassVar[bool] = True
    steps: int = _param(10, "iterations")
    step: float | None = _param(None, "step size; None: eps / steps")

    def perturb(self, ctx, x, y):
        from .dag import dag

        run = dag(ctx.model, x, y, epsilon=ctx.eps / self.steps if self.step is None else self.step,
                  iterations=self.steps, budget=ctx.eps, batch_size=len(x), device=x.device, seed=ctx.seed,
                  on_step=ctx.keep if ctx.record_steps else None)
        return run.adversarial.to(x.device)


@_register
class Noise(Attack):
    """The control: uniform noise in the L-inf ball, or on the L2 sphere, of radius ``eps``."""

    name: ClassVar[str] = "noise"
    family: ClassVar[str] = "control"
    kind: ClassVar[str] = "budget"
    tasks: ClassVar[tuple] = ALL
    norms: ClassVar[tuple] = ("Linf", "L2")
    description: ClassVar[str] = "random-noise control: uniform in the L-inf ball or on the L2 sphere of radius eps"

    def perturb(self, ctx, x, y):
        if ctx.norm == "Linf":
            delta = (torch.rand(x.shape, generator=ctx.generator) * 2 - 1) * ctx.eps
        else:
            delta = torch.randn(x.shape, generator=ctx.generator)
            delta = delta * (ctx.eps / delta.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *[1] * (x.ndim - 1)))
        return (x + delta.to(x)).clamp(0, 1)


# --------------------------------------------------------------------------- universal attacks

class _Universal(Attack):
    family: ClassVar[str] = "universal"
    kind: ClassVar[str] = "universal"
    tasks: ClassVar[tuple] = CLS
    norms: ClassVar[tuple] = ("Linf", "L2")

    def _target(self):
        return None

    def fit(self, ctx, images):
        from .uap import universal_perturbation

        result = universal_perturbation(
            _two_logits_model(ctx), images, ctx.eps, "inf" if ctx.norm == "Linf" else "2", target=self._target(),
            eps_step=self.eps_step, max_passes=self.max_passes, mode=self.mode, batch_size=self.batch_size,
            seed=ctx.seed, device=images.device, progress=False)
        ctx.state["fit_result"] = result
        return result.perturbation

    def perturb(self, ctx, x, y):
        return (x + ctx.state["perturbation"].to(x)).clamp(0, 1)


_UAP_MODES = ("batched", "exact")


@_register
class UAP(_Universal):
    """Nontargeted UAP (Hirano et al. 2020; Moosavi-Dezfooli et al. 2017; :mod:`.uap`, FGSM inner step)."""

    name: ClassVar[str] = "uap"
    description: ClassVar[str] = ("nontargeted UAP (Hirano et al. 2020, Moosavi-Dezfooli et al. 2017, "
                                  "FGSM inner step)")
    eps_step: float = _param(0.001, "FGSM step of the inner attack")
    max_passes: int = _param(15, "passes over the fitting images")
    mode: str = _param("batched", "batched (fast) or exact (ART 1.20's loop, batch 1)", _UAP_MODES)
    batch_size: int = _param(64, "batch of the batched mode")


@_register
class TargetedUAP(_Universal):
    """Targeted UAP (Hirano & Takemoto 2020) toward class ``target`` (required)."""

    name: ClassVar[str] = "uap-targeted"
    description: ClassVar[str] = "targeted UAP (Hirano & Takemoto 2020); target=<class>"
    target: int | None = _param(None, "the class the perturbation pushes toward (required)")
    eps_step: float = _param(0.001, "FGSM step of the inner attack")
    max_passes: int = _param(15, "passes over the fitting images")
    mode: str = _param("batched", "batched (fast) or exact (ART 1.20's loop, batch 1)", _UAP_MODES)
    batch_size: int = _param(64, "batch of the batched mode")

    def _target(self):
        if self.target is None:
            raise ValueError("uap-targeted needs target=<class index>")
        return self.target


# --------------------------------------------------------------------------- minimal searches

class _Minimal(Attack):
    """One of the ten attacks of Taghanaki et al. 2018 (Foolbox 1 minimal-perturbation semantics,
    the Foolbox 3 wrappers of :mod:`.foolbox_attacks`, Foolbox 1.2's defaults)."""

    kind: ClassVar[str] = "minimal"
    tasks: ClassVar[tuple] = CLS
    norms: ClassVar[tuple] = ()
    builder: ClassVar[str] = ""       # the builder's name in .foolbox_attacks

    def _build(self, ctx, x):
        from . import foolbox_attacks

        return getattr(foolbox_attacks, self.builder)(**self.params)

    def perturb(self, ctx, x, y):
        return _foolbox_run(ctx, lambda: self._build(ctx, x), x, y, None)

    def ran_out(self, ctx, x, fooled):
        """The search's own record (``exhausted``, per input of its last run) where it keeps one
        (our epsilon search, L-BFGS, Local Search, Single Pixel); Foolbox's own DeepFool, blur and
        contrast searches stop only when fooled or at the end of their steps or grid, so every
        failure of theirs ran out."""
        record = getattr(ctx.state.get("attack"), "exhausted", None)
        if record is None:
            return ~fooled
        record = torch.as_tensor(record, dtype=torch.bool).cpu()
        if len(record) != len(x):
            raise RuntimeError(f"attack {self.name!r} recorded {len(record)} searches for {len(x)} inputs")
        return record


def _minimal(paper_id: str, registry_name: str, family: str, paper_name: str, builder: str):
    def decorate(cls):
        cls.name, cls.family, cls.paper_id, cls.paper_name, cls.builder = (registry_name, family, paper_id,
                                                                            paper_name, builder)
        cls.description = f"{paper_name} of Taghanaki et al. 2018 (Table 1 id {paper_id}; Foolbox 1 semantics)"
        return _register(cls)
    return decorate


@_minimal("G1", "minimal-fgsm", "gradient", "FGSM", "fgsm_search")
class MinimalFGSM(_Minimal):
    """Foolbox 1 FGSM: the smallest of ``steps`` linear step sizes up to ``max_epsilon``."""

    steps: int = _param(1000, "step sizes tried")
    max_epsilon: float = _param(1.0, "largest step size")


@_minimal("G2", "minimal-pgd", "gradient", "PGD", "pgd_search")
class MinimalPGD(_Minimal):
    """L-inf PGD, ``search_steps`` epsilons halving down from ``epsilon`` (Foolbox 1's binary search)."""

    epsilon: float = _param(0.3, "largest budget of the search")
    stepsize: float = _param(0.01, "absolute step size")
    iterations: int = _param(40, "PGD steps")
    search_steps: int = _param(5, "budgets tried")
    random_start: bool = _param(True, "random start")


@_minimal("G3", "minimal-deepfool", "gradient", "DeepFool", "deepfool")
class MinimalDeepFool(_Minimal):
    """Foolbox's L2 DeepFool, unbounded (``candidates`` capped at the number of classes)."""

    steps: int = _param(100, "DeepFool iterations")
    candidates: int = _param(10, "classes considered")
    overshoot: float = _param(0.02, "overshoot past the boundary")

    def _build(self, ctx, x):
        from . import foolbox_attacks

        return foolbox_attacks.deepfool(**{**self.params, "candidates": min(self.candidates, max(2, ctx.outputs))})


@_minimal("G4", "minimal-bim", "gradient", "L-inf BIM", "bim_search")
class MinimalBIM(_Minimal):
    """L-inf BIM with Foolbox 1's binary search over epsilons."""

    epsilon: float = _param(0.3, "largest budget of the search")
    stepsize: float = _param(0.05, "absolute step size")
    iterations: int = _param(10, "BIM steps")
    search_steps: int = _param(5, "budgets tried")


@_minimal("G5", "lbfgs", "gradient", "L-BFGS", "lbfgs")
class LBFGS(_Minimal):
    """L-BFGS (Szegedy et al. 2014) as Foolbox 2.4 ran it (:mod:`.lbfgs`)."""

    initial_const: float = _param(2e-5, "first weight c of the cross-entropy term")
    search_steps: int = _param(30, "doublings and bisections of c")
    max_iter: int = _param(150, "L-BFGS-B iterations per solve")
    gtol: float = _param(1e-5, "L-BFGS-B gradient tolerance")
    ftol: float = _param(2.220446049250313e-09, "L-BFGS-B objective tolerance")


@_minimal("S1", "local-search", "score", "Local Search", "local_search")
class LocalSearch(_Minimal):
    """Local Search (Narodytska & Kasiviswanathan 2017; :mod:`.pixel_attacks`), Foolbox 1's defaults."""

    r: float = _param(1.5, "perturbation parameter")
    p: float = _param(10.0, "perturbation parameter")
    d: int = _param(5, "half side of the neighbourhood")
    t: int = _param(5, "pixels perturbed per round")
    R: int = _param(150, "rounds")
    initial_fraction: float = _param(0.1, "share of the pixels in the first candidate set")
    max_candidates: int = _param(128, "candidate locations scored per round")

    def _build(self, ctx, x):
        from . import foolbox_attacks

        return foolbox_attacks.local_search(**self.params, seed=ctx.seed)


@_minimal("S2", "single-pixel", "score", "Single Pixel", "single_pixel")
class SinglePixel(_Minimal):
    """Single Pixel (Foolbox 2.4): up to ``max_pixels`` random pixels set to the minimum or maximum."""

    max_pixels: int = _param(1000, "pixels tried")

    def _build(self, ctx, x):
        from . import foolbox_attacks

        return foolbox_attacks.single_pixel(**self.params, seed=ctx.seed)


@_minimal("D1", "blur", "decision", "Gaussian Blur", "blur")
class Blur(_Minimal):
    """Foolbox 3's ``GaussianBlurAttack`` (a sigma search)."""

    steps: int = _param(1000, "sigmas tried")
    max_sigma: float | None = _param(None, "largest sigma; None: Foolbox's default")


@_minimal("D2", "contrast", "decision", "Contrast Reduction", "contrast")
class Contrast(_Minimal):
    """Foolbox 3's ``LinearSearchContrastReductionAttack``."""

    steps: int = _param(1000, "contrast levels tried")


@_minimal("D3", "gaussian-noise", "decision", "Additive Gaussian Noise", "gaussian_noise")
class GaussianNoise(_Minimal):
    """Foolbox 1's additive Gaussian noise search (per-pixel std eps / sqrt(3), eps up to ``max_epsilon``)."""

    steps: int = _param(1000, "noise scales tried")
    max_epsilon: float = _param(1.0, "largest noise scale")

    def _build(self, ctx, x):
        from . import foolbox_attacks

        return foolbox_attacks.gaussian_noise(**self.params, n_values=int(x[0].numel()))


#: The ten attacks of Taghanaki et al. 2018 by the paper's id (their ``paper_id`` field).
TAGHANAKI: dict[str, str] = {cls.paper_id: name for name, cls in ATTACKS.items() if cls.paper_id}


# --------------------------------------------------------------------------- by name

def attack_names(task: str | None = None, kind: str | None = None, norm: str | None = None) -> list[str]:
    """The registered attacks, optionally only those that apply to a task, kind or norm."""
    return [name for name, a in ATTACKS.items()
            if (task is None or task in a.tasks) and (kind is None or a.kind == kind)
            and (norm is None or not a.norms or norm in a.norms)]


def get_attack(name: str) -> type[Attack]:
    """The attack class registered as ``name``."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; registered: {', '.join(ATTACKS)}")
    return ATTACKS[name]


def run_attack(name: str, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
               eps: float | Sequence[float] | None = None, norm: str = "Linf", task: str | None = None,
               fit_images: torch.Tensor | None = None, batch_size: int = 32, seed: int = 0,
               device: str | torch.device = "auto", record_steps: Sequence[int] | None = None,
               **params) -> AttackResult | list[AttackResult]:
    """Build attack ``name`` with hyperparameters ``params`` (see ``medadv attacks``; an unknown or
    ill-typed one raises :class:`TypeError` before any work) and run it: :meth:`Attack.run`.
    A list ``eps`` gives a list of results, one per budget; ``record_steps`` also hands back the
    iterates after those steps (:attr:`AttackResult.iterates`)."""
    return get_attack(name)(**params).run(model, images, labels, eps=eps, norm=norm, task=task,
                                          fit_images=fit_images, batch_size=batch_size, seed=seed, device=device,
                                          record_steps=record_steps)


def fit_universal(name: str, model: nn.Module, fit_images: torch.Tensor, *, eps: float, norm: str = "Linf",
                  seed: int = 0, device: str | torch.device = "auto", **params):
    """Fit a universal attack (``uap``, ``uap-targeted``) on ``fit_images`` without applying it:
    returns the attack's own result (for the UAPs: :class:`~.uap.UAPResult`, with the perturbation,
    the per-pass rates and the counts), for chapters that apply it their own way (Hirano et al.
    added the UAP without clipping). The caller's model comes back as it was."""
    from ..utils import resolve_device

    cls = get_attack(name)
    if cls.kind != "universal":
        raise ValueError(f"attack {name!r} is not universal; universal attacks: {attack_names(kind='universal')}")
    attack = cls(**params)
    if norm not in cls.norms or not eps > 0:
        raise ValueError(f"attack {name!r} needs eps > 0 and a norm of {cls.norms}")
    device = resolve_device(device)
    with _caller_model_kept(model), _private_rng(seed, device):
        counting = CountingModel(model).to(device).eval()
        with torch.no_grad():
            outputs = int(counting(fit_images[:1].float().to(device)).shape[1])
        ctx = _Context(counting, "binary" if outputs == 1 else "multiclass", eps, norm, seed,
                       torch.Generator().manual_seed(seed), outputs)
        attack.fit(ctx, fit_images.float().to(device))
    return ctx.state["fit_result"]
