"""The base class of every attack, its run loop, its result, and the registry of attacks by name.

Every attack is a class (:data:`ATTACKS`, :func:`attack_names`, :func:`get_attack`) in the style of
Foolbox 3 (``LinfPGD(steps=50, rel_stepsize=0.025)``) and torchattacks (``PGD(model, eps, alpha,
steps)``): its hyperparameters are keyword-only dataclass fields with documented defaults
(:func:`param`, :func:`hyperparameters`); an unknown or ill-typed one raises a :class:`TypeError`
that names the valid ones. Defining a subclass of :class:`Attack` with its own ``name`` registers
it (``__init_subclass__``, as timm's ``@register_model``): the registry itself never changes. The
attacks live in one module per family (:mod:`.budget`, :mod:`.minimal`, :mod:`.universal`), whose
base classes carry the family's defaults.

The run (:meth:`Attack.run`, :func:`run_attack`) is the one place that owns eval mode, frozen
parameters, the device, batching, the [0, 1] bounds, the count of model calls and the clock; an
attack only turns one batch into adversarial inputs (``perturb(ctx, x, y)``, ``ctx`` the run's
:class:`RunContext`). The caller's model comes back as it was (the training flag of every module,
the device, each parameter's ``requires_grad``; :func:`caller_model_kept`), and the global random
state is untouched: our own draws use a local ``torch.Generator`` seeded with ``seed``, and the
draws Foolbox makes from torch's global generator run inside ``torch.random.fork_rng`` seeded the
same way, so the same seed gives the same result and several budgets in one call equal separate
calls.

Success per input is the task's (:func:`.tasks.is_fooled`); an input the model gets wrong clean
counts as a success, as in Foolbox and AutoAttack. The iterative attacks whose loop the run can
see (``records_steps``) hand back their iterate after chosen steps: ``record_steps=(1, 3, 5, 10)``
fills :attr:`AttackResult.iterates` with the attacked inputs after each of those steps, each
exactly what the same run with ``steps=t`` returns. A record only: the run, its result and its
count of model calls are the same with or without it.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import time
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Sequence

import torch
import torch.nn as nn

from .tasks import infer_task, is_fooled

__all__ = ["AttackResult", "Attack", "RunContext", "Hyperparameter", "param", "ATTACKS", "attack_names",
           "get_attack", "hyperparameters", "run_attack", "fit_universal", "CountingModel", "caller_model_kept"]


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
class RunContext:
    """What an attack sees of its run at one budget: built by :meth:`Attack.run` (and
    :func:`fit_universal`), handed to ``perturb``, ``fit`` and ``ran_out``."""

    model: CountingModel                 # the caller's model, on the device, counting its calls
    task: str                            # one of .tasks.TASKS
    eps: float | None                    # the budget (None for minimal searches)
    norm: str                            # "Linf" or "L2"
    seed: int
    generator: torch.Generator           # our own draws, seeded with ``seed``
    outputs: int = 0                     # the model's outputs (classes, labels or 1)
    record_steps: tuple[int, ...] = ()   # the steps whose iterate the run hands back
    iterates: dict[int, torch.Tensor] = field(default_factory=dict)  # this batch's: {t: attacked inputs after step t}
    batch: int = 0                       # the index of the batch being perturbed (0, 1, ...)
    perturbation: torch.Tensor | None = None   # universal attacks: the fitted perturbation, on the device
    fit_result: Any = None               # universal attacks: the fit's own result (e.g. a UAPResult)
    foolbox_model: Any = None            # the Foolbox model of the run (built on first use)
    foolbox_attack: Any = None           # the Foolbox attack of the run (built once, on the first batch)

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


def param(default, doc: str, choices: tuple | None = None):
    """A hyperparameter field of an attack class: its default and its documentation (and allowed values)."""
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


#: Every registered attack by name, in the order the family modules define them.
ATTACKS: dict[str, type[Attack]] = {}


def _checked_init(cls):
    """Make the dataclass ``cls``'s constructor refuse unknown and ill-typed hyperparameters with a
    :class:`TypeError` naming the valid ones (an int given for a float field becomes a float)."""
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


_LABELS = {"binary": "(N,) 0/1", "multiclass": "(N,) class indices", "multilabel": "(N, K) 0/1 findings",
           "segmentation": "(N, H, W) class masks"}


def _documented(cls) -> None:
    """Complete the class docstring in torchattacks' layout from what the class declares (its norms,
    tasks, hyperparameters and kind), before its ``Example::`` if it has one: the sections are
    never written twice, so they cannot drift from the code."""
    minimal = cls.kind == "minimal"
    norms = "none (a minimal-perturbation search: no budget)" if minimal else ", ".join(cls.norms)
    records = " Records its iterates (``record_steps``)." if cls.records_steps else ""
    params = [f"    {h.name} ({h.type}): {h.doc}{', one of ' + str(list(h.choices)) if h.choices else ''}. "
              f"(Default: {h.default!r})" for h in hyperparameters(cls)]
    output = {"minimal": ", ``exhausted`` (N,); the clean input where the search failed",
              "universal": ", ``perturbation`` (C, H, W)"}.get(cls.kind, "")
    fit = " (and ``fit_images`` (M, C, H, W))" if cls.kind == "universal" else ""
    sections = "\n".join([
        f"Distance measure: {norms}. Tasks: {', '.join(cls.tasks)}.{records}", "",
        "Arguments (keyword only" + ("" if minimal else "; the budget ``eps`` and ``norm`` are the run's") + "):",
        *(params or ["    none"]), "",
        "Shape:",
        f"    - images: (N, C, H, W), float in [0, 1]{fit}.",
        "    - labels: " + "; ".join(f"{_LABELS[t]} ({t})" for t in cls.tasks) + ".",
        f"    - output: :class:`AttackResult`, ``adversarial`` (N, C, H, W), ``success`` (N,){output}."])
    head, example, tail = inspect.cleandoc(cls.__doc__ or "").partition("Example::")
    cls.__doc__ = f"{head.rstrip()}\n\n{sections}\n" + (f"\n{example}{tail}" if example else "")


# --------------------------------------------------------------------------- the base class

@contextlib.contextmanager
def caller_model_kept(model: nn.Module):
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
    """Base of every attack: the class attributes say what it is, the dataclass fields
    (:func:`param`) are its hyperparameters, :meth:`run` attacks a model. Subclasses implement
    ``perturb(ctx, x, y)`` (one batch on the device to attacked inputs) and, for universal attacks,
    ``fit(ctx, images)``. A subclass becomes a frozen keyword-only dataclass; one that sets its own
    ``name`` is registered under it (:data:`ATTACKS`), and its docstring (the method, the paper,
    an example) gains the sections of torchattacks' layout: distance measure and tasks, arguments
    (from the :func:`param` fields) and shapes."""

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

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True, kw_only=True)(cls)
        _checked_init(cls)
        if "name" in cls.__dict__:
            known = ATTACKS.get(cls.name)
            if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
                raise ValueError(f"attack name {cls.name!r} of {cls.__qualname__} is taken by {known.__qualname__}")
            ATTACKS[cls.name] = cls
            _documented(cls)

    @property
    def params(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def perturb(self, ctx: RunContext, x, y):      # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def fit(self, ctx: RunContext, images):        # universal attacks only
        raise NotImplementedError

    def ran_out(self, ctx: RunContext, x, fooled: torch.Tensor) -> torch.Tensor | None:
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
        with caller_model_kept(model):
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
        ctx = RunContext(counting, task or "", eps, norm, seed, torch.Generator().manual_seed(seed),
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
            ctx.perturbation = self.fit(ctx, fit_on.float().to(device)).to(device)
        outs, fooled, correct, exhausted = [], [], [], []
        kept = {t: [] for t in record_steps}
        for batch, i in enumerate(range(0, len(images), batch_size)):
            ctx.batch = batch
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
                            ctx.perturbation.cpu() if self.kind == "universal" else None, self.params, seed,
                            (torch.cat(exhausted) if exhausted else torch.zeros(0, dtype=torch.bool))
                            if self.kind == "minimal" else None, iterates, counting.inputs)

    __call__ = run


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
    with caller_model_kept(model), _private_rng(seed, device):
        counting = CountingModel(model).to(device).eval()
        with torch.no_grad():
            outputs = int(counting(fit_images[:1].float().to(device)).shape[1])
        ctx = RunContext(counting, "binary" if outputs == 1 else "multiclass", eps, norm, seed,
                         torch.Generator().manual_seed(seed), outputs)
        attack.fit(ctx, fit_images.float().to(device))
    return ctx.fit_result
