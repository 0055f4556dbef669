"""The paper registry: one module per paper declares its notebook, presets and parameter rules.

A notebook's parameters and their defaults are read from its ``parameters`` cell (the single
source of truth, also what papermill sees); the module adds what a cell cannot say: presets and
the allowed range or choices of each parameter. :func:`resolve_parameters` checks a request
before any heavy work and raises :class:`ParameterError` with one clear message.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import math
import re
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

__all__ = ["Rule", "PaperSpec", "ParameterError", "papers", "get_paper", "notebook_parameters",
           "resolve_parameters", "parse_value", "PRESETS", "REPO_ROOT", "COMMON_RULES", "check_device",
           "require", "run_fidelity", "undecidable"]

REPO_ROOT = Path(__file__).resolve().parents[2]
PRESETS = ("smoke", "default", "paper")


class ParameterError(ValueError):
    """A bad notebook parameter: unknown name, wrong type, out of range, missing path."""


@dataclass(frozen=True)
class Rule:
    """What values one parameter accepts, beyond the type of its default."""

    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    path: bool = False          # a file or directory that must exist (empty string: not used)
    item_min: float | None = None  # for list parameters: bounds of each item
    item_max: float | None = None
    doc: str = ""

    def check(self, name: str, value: Any) -> None:
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise ParameterError(f"parameter {name!r}: {v!r} is not a finite number")
        if self.choices is not None:
            bad = [v for v in values if v not in self.choices]
            if bad:
                raise ParameterError(f"parameter {name!r}: {bad[0]!r} is not one of {list(self.choices)}")
        lo = self.item_min if isinstance(value, (list, tuple)) else self.min
        hi = self.item_max if isinstance(value, (list, tuple)) else self.max
        if isinstance(value, (list, tuple)):
            if self.min is not None and len(value) < self.min:
                raise ParameterError(f"parameter {name!r}: needs at least {int(self.min)} item(s)")
        for v in values:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if lo is not None and v < lo:
                    raise ParameterError(f"parameter {name!r}: {v} is below the minimum {lo}")
                if hi is not None and v > hi:
                    raise ParameterError(f"parameter {name!r}: {v} is above the maximum {hi}")
        if self.path and value and not Path(str(value)).expanduser().exists():
            raise ParameterError(f"parameter {name!r}: path does not exist: {value}")


COMMON_RULES = {
    "preset": Rule(choices=PRESETS, doc="smoke (CI), default (the book) or paper (GPU, real data)"),
    "seed": Rule(min=0, max=2**31 - 1, doc="random seed of data, training and attacks"),
    "device": Rule(doc="auto (CUDA when present), cpu, cuda or cuda:N"),
    "data_root": Rule(path=True, doc="real dataset folder; empty: the synthetic embedded default"),
}


@dataclass(frozen=True)
class PaperSpec:
    name: str                       # notebook name, e.g. "uap-covidnet"
    title: str
    citation: str
    presets: dict[str, dict] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    source: Path | None = None      # jupytext source; default notebooks/<name>.py
    #: Cross-parameter checks (``validate(params)`` raises :class:`ParameterError`), run by
    #: :func:`resolve_parameters` after the per-parameter rules, before papermill starts.
    validate: Callable[[dict], None] | None = None
    #: The datasets the chapter runs on (``dataset`` parameter): ``synthetic`` (the embedded
    #: default) first, then the real ones whose task fits (names of :mod:`medadv_lib.data.registry`).
    datasets: tuple[str, ...] = ("synthetic",)
    #: Per real dataset, per preset: parameter values that fit that data (resolution, sizes),
    #: applied after the preset and before the command line.
    dataset_presets: dict[str, dict[str, dict]] = field(default_factory=dict)
    #: The paper's own kind of data: a run is at the paper's fidelity only on one of these, at the
    #: ``paper`` preset (see :meth:`fidelity`). Empty for a chapter that is not from a paper.
    paper_datasets: tuple[str, ...] = ()
    #: Parameters that do not change what is measured (where it runs, what it prints).
    fidelity_ignores: tuple[str, ...] = ("seed", "device", "data_root", "preset")

    def fidelity(self, parameters: dict):
        """:class:`~medadv_lib.claims.Fidelity` of a run: ``paper`` when it is the ``paper`` preset
        on the paper's kind of data with every parameter at the preset's value; otherwise reduced,
        with one line of what differs from the paper preset (resolution, width, images, passes)."""
        from ..claims import Fidelity

        dataset = parameters.get("dataset", "synthetic")
        # the paper preset's values for this dataset (no checks: the run's own were checked before
        # papermill, and inside the kernel a relative data_root reads from another folder)
        paper = _merged(self, "paper", {"dataset": dataset} if "dataset" in parameters else {})
        differs = []
        if parameters.get("preset") != "paper":
            differs.append(f"preset {parameters.get('preset')!r}")
        if dataset not in self.paper_datasets:
            differs.append(f"data {dataset} (the paper: {', '.join(self.paper_datasets) or 'none'})")
        for name, value in parameters.items():
            if name in self.fidelity_ignores or name == "dataset" or name not in paper:
                continue
            if value != paper[name]:
                differs.append(f"{name} {value!r} (paper preset {paper[name]!r})")
        shown = differs[:6] + ([f"{len(differs) - 6} more parameters"] if len(differs) > 6 else [])
        return Fidelity(not differs, "; ".join(shown))

    def claims(self) -> list:
        """The chapter's claims (``medadv_lib.papers.<module>.claims.CLAIMS``)."""
        module = importlib.import_module(f"{__name__}.{self.name.replace('-', '_')}.claims")
        return list(module.CLAIMS)

    def replication_tables(self) -> list[Callable]:
        """The readers of the tables the paper prints with a spread over seeds, for the replication
        page (``TABLES`` of ``medadv_lib.papers.<module>.replication``; none without that module)."""
        name = f"{__name__}.{self.name.replace('-', '_')}.replication"
        if importlib.util.find_spec(name) is None:
            return []
        return list(importlib.import_module(name).TABLES)

    @property
    def notebook(self) -> Path:
        return self.source or REPO_ROOT / "notebooks" / f"{self.name}.py"

    def rule(self, name: str) -> Rule | None:
        if name == "dataset":
            return Rule(choices=self.datasets, doc="synthetic (the embedded default) or a real dataset "
                                                   "(with data_root); see `medadv list`")
        return self.rules.get(name) or COMMON_RULES.get(name)

    def run_name(self, parameters: dict) -> str:
        """The name of a run's executed notebook: ``NAME`` on synthetic data, ``NAME--DATASET``
        on a real dataset."""
        dataset = parameters.get("dataset", "synthetic")
        return self.name if dataset == "synthetic" else f"{self.name}--{dataset}"


def papers() -> dict[str, PaperSpec]:
    """All registered papers, by notebook name, in the book's order."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, PaperSpec):
            found.append((getattr(module, "ORDER", 99), spec))
    return {spec.name: spec for _, spec in sorted(found, key=lambda t: (t[0], t[1].name))}


def get_paper(name: str) -> PaperSpec:
    registry = papers()
    if name not in registry:
        raise ParameterError(f"unknown paper {name!r}; available: {', '.join(registry)}")
    return registry[name]


def _parameters_cell_source(notebook: Path) -> str:
    import jupytext  # local import: jupytext is slow to import

    nb = jupytext.read(notebook)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell.source
    raise ParameterError(f"{notebook} has no cell tagged 'parameters'")


def notebook_parameters(spec: PaperSpec) -> dict[str, Any]:
    """Parameter names and default values, read from the notebook's ``parameters`` cell."""
    tree = ast.parse(_parameters_cell_source(spec.notebook))
    params = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name) and node.value is not None:
                params[target.id] = ast.literal_eval(node.value)
    return params


def parse_value(text: Any) -> Any:
    """Command-line text to a Python value (YAML scalars and lists: 3, 0.5, true, [1, 2], abc)."""
    if not isinstance(text, str):
        return text
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)      # YAML 1.1 reads "1e-5" as text; a user means the number
    if isinstance(value, list):
        return [float(v) if isinstance(v, str) and _NUMBER.match(v.strip()) else v for v in value]
    return value


_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _coerce(name: str, value: Any, default: Any) -> Any:
    def kind(v):
        return "bool" if isinstance(v, bool) else type(v).__name__

    if default is None or isinstance(value, type(default)) and kind(value) == kind(default):
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(default, list) and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        value = [value]
    if isinstance(default, list) and isinstance(value, list):
        if default and isinstance(default[0], float):
            value = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        item = type(default[0]) if default else None
        if item is None or all(isinstance(v, item) and kind(v) == kind(default[0]) for v in value):
            return value
    raise ParameterError(f"parameter {name!r}: expected {kind(default)} (like the default "
                         f"{default!r}), got {kind(value)} {value!r}")


def _merged(spec: PaperSpec, preset: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults, then the preset, then the dataset's preset, then the overrides, each coerced to
    its default's type (unknown names refused); no range, path or dataset check."""
    defaults = notebook_parameters(spec)
    merged: dict[str, Any] = dict(defaults)
    dataset = parse_value((overrides or {}).get("dataset", defaults.get("dataset", "synthetic")))
    layers = [("preset " + preset, spec.presets.get(preset, {})),
              (f"dataset {dataset!r}", spec.dataset_presets.get(str(dataset), {}).get(preset, {})),
              ("command line", overrides or {})]
    for source, values in layers:
        for name, raw in values.items():
            if name not in defaults:
                raise ParameterError(f"unknown parameter {name!r} for {spec.name} (from {source}); "
                                     f"valid names: {', '.join(sorted(defaults))}")
            merged[name] = _coerce(name, parse_value(raw), defaults[name])
    merged["preset"] = preset
    return merged


def resolve_parameters(spec: PaperSpec, preset: str = "default",
                       overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the preset, then the overrides; every value checked. Cheap: no torch."""
    if preset not in PRESETS:
        raise ParameterError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")
    merged = _merged(spec, preset, overrides)
    for name, value in merged.items():
        rule = spec.rule(name)
        if rule is not None:
            rule.check(name, value)
    if "device" in merged:
        check_device(merged["device"])
    if "dataset" in merged:
        check_dataset(merged["dataset"], merged.get("data_root", ""))
    if spec.validate is not None:
        spec.validate(merged)
    return merged


def check_dataset(dataset: str, data_root: str) -> None:
    """A real dataset needs its folder, and the folder must hold that dataset: the registry's
    cheap check (label files, headers, labels, listed images present; no image decoded) runs here,
    before the kernel starts, so a damaged dataset is refused with exit 2 like a bad parameter."""
    if dataset == "synthetic":
        if data_root:
            raise ParameterError("data_root is given but dataset is 'synthetic': name the dataset "
                                 "with -p dataset NAME (see `medadv list`)")
        return
    if not data_root:
        raise ParameterError(f"dataset {dataset!r} needs data_root: the folder that holds it")
    from ..data.datasets import DataFileError
    from ..data.registry import get_dataset

    try:
        get_dataset(dataset).check(Path(str(data_root)).expanduser())
    except DataFileError as exc:
        raise ParameterError(f"dataset {dataset!r} at {data_root}: {exc}") from exc


_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device(device: Any) -> None:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``; CUDA must be present when asked for by name.

    torch is imported only for an explicit CUDA request, so that listing and checking stay cheap."""
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise ParameterError(f"parameter 'device': {device!r} is not one of auto, cpu, cuda, cuda:N")
    if device.startswith("cuda"):
        from ..utils import resolve_device
        try:
            resolve_device(device)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"parameter 'device': {exc}") from exc


def run_fidelity(name: str, namespace: dict):
    """In a notebook, right after its ``parameters`` cell: the run's fidelity from the parameters
    in ``namespace`` (``globals()``), by the chapter's :meth:`PaperSpec.fidelity`."""
    spec = get_paper(name)
    return spec.fidelity({k: namespace[k] for k in notebook_parameters(spec) if k in namespace})


def undecidable(spec: PaperSpec, parameters: dict) -> list[str]:
    """Before papermill starts: the chapter's claims whose rate thresholds this run's sample sizes
    cannot decide (see :func:`medadv_lib.claims.undecidable_claims`)."""
    from ..claims import undecidable_claims

    try:
        claims = spec.claims()
    except ModuleNotFoundError:
        return []
    return undecidable_claims(claims, parameters)


def require(condition: bool, message: str) -> None:
    """For a paper's ``validate``: raise :class:`ParameterError` with ``message`` unless ``condition``."""
    if not condition:
        raise ParameterError(message)
