"""What the benchmarks share: a model wrapper counting gradient and plain passes, and a device sync."""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["Counting", "sync"]


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
