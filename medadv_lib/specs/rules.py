"""What a chapter's parameters may be: the rules each value is checked against before papermill.

A bad request (unknown name, wrong type, out of range, missing path) is one
:class:`ParameterError` with a clear message, raised before any heavy work.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    #: budgets (one or a list): text such as ``2/255`` is read on the [0, 1] scale when the
    #: parameters are merged (:func:`medadv_lib.specs.budgets.parse_budget`), the one parse of a budget
    budgets: bool = False
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


def require(condition: bool, message: str) -> None:
    """For a paper's ``validate``: raise :class:`ParameterError` with ``message`` unless ``condition``."""
    if not condition:
        raise ParameterError(message)
