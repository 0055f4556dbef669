"""The chapters of the collection, discovered: one package per chapter declares its ``SPEC``
(:class:`medadv_lib.specs.PaperSpec`); :func:`papers` finds them in the book's order (``SPEC.order``). Every list of chapters
is derived from the specs (tests/test_chapter_facts.py).
"""
from __future__ import annotations

import importlib
import pkgutil

from ..specs import PaperSpec, ParameterError, fidelity, notebook_parameters

__all__ = ["papers", "get_paper", "run_fidelity", "victim_chapters"]


def papers() -> dict[str, PaperSpec]:
    """All registered papers, by notebook name, in the book's order."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, PaperSpec):
            found.append(spec)
    return {spec.name: spec for spec in sorted(found, key=lambda s: (s.order, s.name))}


def victim_chapters() -> tuple[str, ...]:
    """The chapters whose trained models the robustness matrix attacks (those whose spec declares
    ``victims``), in the book's order."""
    return tuple(name for name, spec in papers().items() if spec.victims is not None)


def get_paper(name: str) -> PaperSpec:
    registry = papers()
    if name not in registry:
        raise ParameterError(f"unknown paper {name!r}; available: {', '.join(registry)}")
    return registry[name]


def run_fidelity(name: str, namespace: dict):
    """In a notebook, right after its ``parameters`` cell: the run's fidelity from the parameters
    in ``namespace`` (``globals()``), by :func:`medadv_lib.specs.fidelity`."""
    spec = get_paper(name)
    return fidelity(spec, {k: namespace[k] for k in notebook_parameters(spec) if k in namespace})


