"""Attack budgets: one unit inside the code, the [0, 1] image scale, from the parse on.

The gray levels of an 8-bit image (``2/255``) appear only here: where a budget is read from text
(the command line, a YAML file, a chapter parameter given in units of 1/255) and where one is shown
(:func:`budget_label`). Every budget is parsed once at the boundary (:func:`parse_budget`,
:func:`from_gray_levels`) and checked by one rule (:func:`budgets_in_order`) wherever a caller hands
budgets in (the spec of a run before papermill starts, ``medadv_lib.evaluate`` for a library user).
"""
from __future__ import annotations

import re
from typing import Iterable

from .rules import ParameterError

__all__ = ["GRAY_LEVELS", "parse_budget", "parse_budgets", "from_gray_levels", "budgets_in_order", "budget_label"]

#: The step between two gray levels of an 8-bit image, in which L-inf budgets are usually quoted.
GRAY_LEVELS = 255
_BUDGET = re.compile(r"\s*([0-9.eE+-]+)\s*(?:/\s*([0-9.eE+-]+))?\s*")


def parse_budget(text) -> float:
    """``"2/255"``, ``"0.5"`` or a number: a budget on the [0, 1] scale."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    match = _BUDGET.fullmatch(str(text))
    try:
        if not match:
            raise ValueError
        value = float(match.group(1)) / (float(match.group(2)) if match.group(2) else 1.0)
    except (ValueError, ZeroDivisionError):
        raise ParameterError(f"budget {text!r} is not a number such as 2/255 or 0.5") from None
    return value


def parse_budgets(values) -> list[float]:
    """One budget or a list of them (text or numbers), each by :func:`parse_budget`."""
    return [parse_budget(v) for v in (values if isinstance(values, (list, tuple)) else [values])]


def from_gray_levels(values: float | Iterable[float]) -> float | list[float]:
    """Budgets given in gray levels (units of 1/255, a chapter's parameters such as the matrix's
    ``linf_budgets = [0.5, 2, 8]``) on the [0, 1] scale."""
    if isinstance(values, (int, float)):
        return float(values) / GRAY_LEVELS
    return [float(v) / GRAY_LEVELS for v in values]


def budgets_in_order(budgets: Iterable[float], upper: float | None = None) -> bool:
    """The one rule for a list of budgets: non-empty, each above 0 (and at most ``upper``), strictly
    increasing."""
    budgets = list(budgets)
    return (bool(budgets) and all(e > 0 and (upper is None or e <= upper) for e in budgets)
            and sorted(set(budgets)) == budgets)


def budget_label(norm: str, eps: float) -> str:
    """``2/255`` for L-inf budgets, ``0.5`` for L2 (both on the [0, 1] scale)."""
    return f"{eps * GRAY_LEVELS:g}/{GRAY_LEVELS}" if norm == "Linf" else f"{eps:g}"
