"""A small plain CNN: the fast model for tests, benchmarks and quick experiments."""
from __future__ import annotations

import torch.nn as nn

from . import register_model


@register_model("simple-cnn")
def simple_cnn(num_classes: int = 3, in_channels: int = 1, width: int = 16, depth: int = 3,
               pooling: str = "max") -> nn.Module:
    """``depth`` blocks of conv-BN-ReLU-pool doubling the width, global average pool, linear."""
    if pooling not in ("max", "avg"):
        raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
    pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
    layers, channels = [], in_channels
    for i in range(depth):
        out = width * 2**i
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                   nn.ReLU(inplace=True), pool(2)]
        channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)
