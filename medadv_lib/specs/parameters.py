"""A run's parameters: read from the notebook's ``parameters`` cell, merged with the preset, the
dataset's preset and the command line, coerced to each default's type and checked, before papermill.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .budgets import parse_budget, parse_budgets
from .rules import PRESETS, ParameterError

if TYPE_CHECKING:
    from .paper import PaperSpec


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


def merged_parameters(spec: PaperSpec, preset: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
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
            value = parse_value(raw)
            rule = spec.rule(name)
            if rule is not None and rule.budgets:
                value = parse_budgets(value) if isinstance(defaults[name], list) else parse_budget(value)
            merged[name] = _coerce(name, value, defaults[name])
    merged["preset"] = preset
    return merged


def resolve_parameters(spec: PaperSpec, preset: str = "default",
                       overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the preset, then the overrides; every value checked. Cheap: no torch."""
    if preset not in PRESETS:
        raise ParameterError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")
    merged = merged_parameters(spec, preset, overrides)
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


def undecidable(spec: PaperSpec, parameters: dict) -> list[str]:
    """Before papermill starts: the chapter's claims whose rate thresholds this run's sample sizes
    cannot decide (see :func:`medadv_lib.verdicts.claims.undecidable_claims`)."""
    from ..verdicts import undecidable_claims

    try:
        claims = spec.claims()
    except ModuleNotFoundError:
        return []
    return undecidable_claims(claims, parameters)


def fidelity(spec: PaperSpec, parameters: dict):
    """:class:`~medadv_lib.verdicts.claims.Fidelity` of a run of ``spec``'s chapter: ``paper`` when it
    is the ``paper`` preset on the paper's kind of data with every parameter at the preset's value;
    otherwise reduced, with one line of what differs from the paper preset (resolution, width,
    images, passes)."""
    from ..verdicts import Fidelity

    dataset = parameters.get("dataset", "synthetic")
    # the paper preset's values for this dataset (no checks: the run's own were checked before
    # papermill, and inside the kernel a relative data_root reads from another folder)
    paper = merged_parameters(spec, "paper", {"dataset": dataset} if "dataset" in parameters else {})
    differs = []
    if parameters.get("preset") != "paper":
        differs.append(f"preset {parameters.get('preset')!r}")
    if dataset not in spec.paper_datasets:
        differs.append(f"data {dataset} (the paper: {', '.join(spec.paper_datasets) or 'none'})")
    for name, value in parameters.items():
        if name in spec.fidelity_ignores or name == "dataset" or name not in paper:
            continue
        if value != paper[name]:
            differs.append(f"{name} {value!r} (paper preset {paper[name]!r})")
    shown = differs[:6] + ([f"{len(differs) - 6} more parameters"] if len(differs) > 6 else [])
    return Fidelity(not differs, "; ".join(shown))
