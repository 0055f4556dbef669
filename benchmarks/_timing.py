"""What the benchmarks share: a model wrapper counting gradient and plain passes, a device sync,
and the summary of repeated measurements (median with its spread: a noisy shared machine must not
decide a comparison with one sample)."""
from __future__ import annotations

import statistics

import torch
import torch.nn as nn

__all__ = ["Counting", "sync", "MIN_REPEATS", "median_spread", "fmt_spread"]

#: Every benchmark repeats each case at least this often (interleaved where it compares).
MIN_REPEATS = 5


def median_spread(values) -> tuple[float, float, float]:
    """``(median, min, max)`` of repeated measurements."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("no measurements")
    return statistics.median(values), min(values), max(values)


def fmt_spread(values, digits: int = 3, unit: str = "") -> str:
    """``"median (min-max, n=N)"``, e.g. ``1.124 (1.05-1.42, n=5)``."""
    values = list(values)
    med, lo, hi = median_spread(values)
    return f"{med:.{digits}f}{unit} ({lo:.{digits}f}-{hi:.{digits}f}, n={len(values)})"


class Counting(nn.Module):
    """The model, counting its passes with an input gradient and without."""

    def __init__(self, model):
        super().__init__()
        self.model, self.grad_passes, self.forward_passes = model, 0, 0

    def forward(self, x):
        if torch.is_grad_enabled() and x.requires_grad:
            self.grad_passes += 1
        else:
            self.forward_passes += 1
        return self.model(x)


def sync(device):
    """Wait for the GPU's queued work, so wall-clock times are complete."""
    if device.type == "cuda":
        torch.cuda.synchronize()
