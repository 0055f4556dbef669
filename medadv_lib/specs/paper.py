"""One chapter's specification: its notebook, presets, parameter rules and datasets.

Each chapter declares one :class:`PaperSpec` in ``medadv_lib/papers/<chapter>/__init__.py``; the
paper registry (:mod:`medadv_lib.papers`) discovers them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .rules import COMMON_RULES, Rule

REPO_ROOT = Path(__file__).resolve().parents[2]
CHAPTERS_PACKAGE = "medadv_lib.papers"


def resolve(path: str):
    """The object a dotted path ``"package.module:NAME"`` names (imported now)."""
    module, _, attribute = path.partition(":")
    if not module or not attribute:
        raise ValueError(f"{path!r} is not a dotted path 'package.module:NAME'")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Hook:
    """A function named by its dotted path (``"package.module:NAME"``), imported only when it is
    called (or by :meth:`resolve`): a spec can name a function of a module that imports torch
    without importing it."""

    path: str

    def resolve(self) -> Callable:
        return resolve(self.path)

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)


@dataclass(frozen=True)
class PaperSpec:
    """One chapter, declared once in ``medadv_lib/papers/<module>/__init__.py`` as ``SPEC``."""

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
    #: ``paper`` preset (see :func:`.parameters.fidelity`). Empty for a chapter that is not from a paper.
    paper_datasets: tuple[str, ...] = ()
    #: Parameters that do not change what is measured (where it runs, what it prints).
    fidelity_ignores: tuple[str, ...] = ("seed", "device", "data_root", "preset")
    # -- the chapter's place in the collection, declared here once; every list of chapters (the
    # -- book's order, the matrix's chapters, the book's replications, the goldens' order, the
    # -- published values' test) is derived from these (tests/test_chapter_facts.py checks the rest)
    #: Position in the book (``medadv list``, the book's pages, the goldens' order): unique.
    order: int = 99
    #: True for a chapter that reproduces a paper: it has ``published.py`` (the paper's numbers,
    #: checked by tests/test_published_values.py) and ``paper_datasets``; False for one that is
    #: not from a paper (the robustness matrix).
    from_paper: bool = True
    #: The chapter's models offered to the robustness matrix: a :class:`Hook` (a dotted path,
    #: imported only when called, so that ``medadv list`` imports no torch) to
    #: ``victims(params, n, n_fit, device) -> list[Victim]``, which builds the chapter's models with
    #: the chapter's own ``params`` (their checkpoints come from the cache) and the first ``n`` test
    #: inputs (``n_fit`` training images for the UAP). None: the matrix does not attack its models.
    victims: Hook | None = None
    #: True for a chapter that runs after the chapters whose models it uses (the robustness
    #: matrix): in the book each of its runs waits for the chapters' runs on its dataset, it is not
    #: replicated, its golden is replayed after theirs, and its toc entry is under "Across the
    #: collection".
    runs_after: bool = False
    #: The sweep ``medadv book`` runs for this chapter itself (``medadv_lib.book.build.BOOK_REPLICATIONS``):
    #: a grid over notebook parameters, e.g. ``{"seed": [0, 1, 2, 3]}``; None: none.
    replication: dict[str, list] | None = None
    #: Dotted paths (``"module:NAME"``) to lists of readers of the tables the paper prints with a
    #: spread over seeds (``TABLES`` of ``papers/<module>/replication.py``), for the replication page
    #: (:meth:`replication_tables`).
    replication_readers: tuple[str, ...] = ()
    #: Rough seconds of one run per preset, on 2 CPU cores at one torch thread, two runs side by
    #: side (a real dataset's run is taken to cost about the synthetic one's): the order and the
    #: ETA of a first build only; from the second build on, each page's measured ``wall_seconds``
    #: (its provenance) replaces them (:func:`medadv_lib.running.schedule.expected_seconds`).
    #: The chapters' defaults are those of ``benchmarks/setup_time.py`` on 2026-12-07 (b678253).
    expected_seconds: dict[str, float] = field(default_factory=dict)
    #: The claims the ``smoke`` preset decides, per dataset of a golden (``synthetic`` and the real
    #: dataset of ``make golden``'s REAL_GOLDENS): verdicts other than *inconclusive* and *cannot be
    #: tested*, so that nbval replays a decided path end to end (issue 29, item 7).
    #: tests/test_notebooks.py checks every golden against it.
    smoke_decides: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Per real dataset whose golden decides no claim at any preset of this collection: why, with
    #: the measurement (a synthetic golden always decides; the test above reads this as its exception).
    smoke_undecided: dict[str, str] = field(default_factory=dict)

    def claims(self) -> list:
        """The chapter's claims (``medadv_lib.papers.<module>.claims.CLAIMS``)."""
        module = importlib.import_module(f"{CHAPTERS_PACKAGE}.{self.name.replace('-', '_')}.claims")
        return list(module.CLAIMS)

    def replication_tables(self) -> list[Callable]:
        """The readers of the tables the paper prints with a spread over seeds, for the replication
        page (the lists :attr:`replication_readers` names, e.g. ``TABLES`` of
        ``medadv_lib.papers.<module>.replication``; none when it names none)."""
        return [reader for path in self.replication_readers for reader in resolve(path)]

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


