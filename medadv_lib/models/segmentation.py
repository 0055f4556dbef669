"""U-Net (Ronneberger et al. 2015) for lung segmentation, the SMIA segmentation model.

``depth`` down-sampling stages of two conv-BN-ReLU layers whose width doubles from ``width``,
a bottleneck, and ``depth`` up-sampling stages (transposed convolution, skip concatenation, two
conv-BN-ReLU layers); a 1x1 convolution gives per-pixel class logits (N, classes, H, W). Inputs
must be divisible by ``2 ** depth``.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from . import register_model

__all__ = ["UNet", "unet"]


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 16, depth: int = 3):
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"need depth >= 1 and width >= 1, got depth={depth}, width={width}")
        self.depth = depth
        widths = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths[:-1]:
            self.down.append(_double_conv(cin, w))
            cin = w
        self.pool = nn.MaxPool2d(2)
        self.bottom = _double_conv(widths[-2], widths[-1])
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                for i in reversed(range(depth)))
        self.decode = nn.ModuleList(_double_conv(2 * widths[i], widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2**self.depth or x.shape[-2] % 2**self.depth:
            raise ValueError(f"U-Net of depth {self.depth} needs sizes divisible by {2**self.depth}, "
                             f"got {tuple(x.shape[-2:])}")
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, decode, skip in zip(self.up, self.decode, reversed(skips)):
            x = decode(torch.cat([up(x), skip], 1))
        return self.head(x)


@register_model("unet")
def unet(in_channels: int = 1, num_classes: int = 2, width: int = 16, depth: int = 3) -> nn.Module:
    return UNet(in_channels, num_classes, width, depth)
