"""Models: a registry of named builders so that a checkpoint can be rebuilt from its config.

Each submodule registers its builders with :func:`register_model`; all submodules of this
package are imported on first use, so adding a file is enough to add models.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

import torch.nn as nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
_loaded = False


def register_model(name: str):
    """Decorator: make ``builder(**kwargs) -> nn.Module`` available as ``build_model(name, ...)``."""
    def wrap(builder):
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"model {name!r} registered twice")
        _BUILDERS[name] = builder
        return builder
    return wrap


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True


def model_names() -> list[str]:
    _load_all()
    return sorted(_BUILDERS)


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; unknown names get the list of valid ones."""
    _load_all()
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name](**kwargs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["register_model", "build_model", "model_names", "count_parameters"]
