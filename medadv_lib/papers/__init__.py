"""The chapters of the collection, discovered: one package per chapter declares its ``SPEC``
(:class:`medadv_lib.spec.PaperSpec`); :func:`papers` finds them in the book's order.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..spec import PaperSpec, ParameterError, notebook_parameters

__all__ = ["papers", "get_paper", "run_fidelity"]


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


def run_fidelity(name: str, namespace: dict):
    """In a notebook, right after its ``parameters`` cell: the run's fidelity from the parameters
    in ``namespace`` (``globals()``), by the chapter's :meth:`PaperSpec.fidelity`."""
    spec = get_paper(name)
    return spec.fidelity({k: namespace[k] for k in notebook_parameters(spec) if k in namespace})


