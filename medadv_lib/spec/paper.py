"""One chapter's specification: its notebook, presets, parameter rules and datasets.

Each chapter declares one :class:`PaperSpec` in ``medadv_lib/papers/<chapter>/__init__.py``; the
paper registry (:mod:`medadv_lib.papers`) discovers them.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .parameters import merged_parameters
from .rules import COMMON_RULES, Rule

REPO_ROOT = Path(__file__).resolve().parents[2]
CHAPTERS_PACKAGE = "medadv_lib.papers"


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
        """:class:`~medadv_lib.verdicts.claims.Fidelity` of a run: ``paper`` when it is the ``paper`` preset
        on the paper's kind of data with every parameter at the preset's value; otherwise reduced,
        with one line of what differs from the paper preset (resolution, width, images, passes)."""
        from ..verdicts import Fidelity

        dataset = parameters.get("dataset", "synthetic")
        # the paper preset's values for this dataset (no checks: the run's own were checked before
        # papermill, and inside the kernel a relative data_root reads from another folder)
        paper = merged_parameters(self, "paper", {"dataset": dataset} if "dataset" in parameters else {})
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
        module = importlib.import_module(f"{CHAPTERS_PACKAGE}.{self.name.replace('-', '_')}.claims")
        return list(module.CLAIMS)

    def replication_tables(self) -> list[Callable]:
        """The readers of the tables the paper prints with a spread over seeds, for the replication
        page (``TABLES`` of ``medadv_lib.papers.<module>.replication``; none without that module, and
        none for a spec of one's own that is no chapter of the collection)."""
        chapter = f"{CHAPTERS_PACKAGE}.{self.name.replace('-', '_')}"
        name = f"{chapter}.replication"
        if importlib.util.find_spec(chapter) is None or importlib.util.find_spec(name) is None:
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


