"""Power: whether a run's sample can decide a rate's threshold at all (Wilson interval), before and
after the run (see :mod:`medadv_lib.verdicts.claims`)."""
from __future__ import annotations

from .premises import Premise

__all__ = ["POWER", "decidable_n", "power_premise"]

#: The name of the power premise (:func:`power_premise`).
POWER = "the sample can decide the threshold"


def _wilson_bounds(k: int, n: int) -> tuple[float, float]:
    from ..metrics.uncertainty import wilson

    est = wilson(k, n)
    return est.low, est.high


def decidable_n(threshold: float, limit: int = 100_000) -> int:
    """The smallest ``n`` at which a rate's 95 % Wilson interval can fall on either side of
    ``threshold``: ``n`` of ``n`` puts its lower bound above it and 0 of ``n`` puts its upper bound
    at or below it. (0 of 12 gives [0, 0.24]: 12 images cannot show a rate below 10 %; 35 can.)"""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"a rate threshold lies in (0, 1), got {threshold}")
    lo, hi = 1, limit
    ok = lambda n: _wilson_bounds(n, n)[0] > threshold and _wilson_bounds(0, n)[1] <= threshold  # noqa: E731
    if not ok(hi):
        return limit
    while lo < hi:                       # both conditions are monotone in n
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
    return lo


def power_premise(n: int, threshold: float, side: str = "above") -> Premise:
    """Whether ``n`` images can decide a rate ``side`` (above/below) ``threshold`` (see
    :func:`decidable_n`)."""
    need = decidable_n(threshold)
    met = n >= need
    evidence = (f"n = {n} can decide a rate {side} {100 * threshold:g} % (needs n >= {need})" if met else
                f"n = {n} cannot decide a rate {side} {100 * threshold:g} % (needs n >= {need})")
    return Premise(POWER, met, evidence)
