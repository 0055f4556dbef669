"""COVIDNet-CXR Small and Large, reconstructed in PyTorch from the COVID-Net paper.

Wang, Lin & Wong (2020), "COVID-Net: a tailored deep convolutional neural network design for
detection of COVID-19 cases from chest X-ray images", Sci. Rep. 10:19549. The official network was
produced by a generative-synthesis tool and its architecture code was never published, so this is
a **reconstruction** from the paper's description (Fig. 2 and Sec. "Network architecture"):

* a 7x7 stride-2 stem convolution (64 channels) and a 2x2 max-pool;
* four stages of PEPX modules (3, 4, 6, 3 modules at 256, 512, 1024, 2048 channels; 56, 28, 14,
  7 px for a 224 px input). A PEPX module is 1x1 *p*rojection (C/2), 1x1 *e*xpansion (3C/4),
  3x3 depthwise *r*epresentation, 1x1 *p*rojection (C/2) and 1x1 e*x*tension (C out);
* dense connectivity: each module reads the sum of all earlier outputs of its stage (and the
  max-pooled outputs of the previous stage);
* **Large** adds a 1x1 shortcut convolution per stage whose output joins every sum of the stage
  (the paper's "long-range connections"); Small has none;
* flatten, then three fully connected layers: 1024, 256, classes.

Choices the paper leaves open, made here so the network trains from scratch: batch norm after
every convolution, ReLU after all but the extension convolution, and ReLU on every dense sum; the
batch-norm scale after the extension convolution of every module but the first of a stage starts
at zero (as ResNet's "zero-init residual"), so that at initialisation each stage is one PEPX deep.
Without it the gradients explode through the ~80 batch-normalised layers of the densest path and
the network did not learn the synthetic task at all (training loss stuck at ln 3). ``width`` scales every channel count and the two hidden FC layers (1.0: the
paper's sizes); ``image_size`` (a multiple of 32) sets the flatten size.

Parameter counts at full width, 224 px, 3 input channels, 3 classes (checked in
a test still to be written): **Small 131.8M, Large 134.6M** -- the paper reports 117.4M and
127.4M. The 7*7*2048 -> 1024 flatten layer alone holds 102.8M, so our backbone (about 29M) is
larger than the official Small one (about 14.6M); the official channel counts found by
generative synthesis are not public.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import register_model

__all__ = ["PEPX", "COVIDNet", "covidnet_small", "covidnet_large", "STAGE_DEPTHS", "STAGE_CHANNELS"]

STAGE_DEPTHS = (3, 4, 6, 3)
STAGE_CHANNELS = (256, 512, 1024, 2048)
STEM_CHANNELS = 64
FC_HIDDEN = (1024, 256)


def _conv_bn(cin: int, cout: int, k: int, groups: int = 1, relu: bool = True) -> list[nn.Module]:
    layers = [nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return layers + [nn.ReLU(inplace=True)] if relu else layers


class PEPX(nn.Module):
    """Projection-Expansion-Projection-eXtension module (COVID-Net Fig. 2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        proj = max(1, in_channels // 2)
        expand = max(1, (3 * in_channels) // 4)
        self.body = nn.Sequential(
            *_conv_bn(in_channels, proj, 1),                                   # projection
            *_conv_bn(proj, expand, 1),                                        # expansion
            *_conv_bn(expand, expand, 3, groups=expand),                       # depthwise
            *_conv_bn(expand, proj, 1),                                        # projection
            *_conv_bn(proj, out_channels, 1, relu=False),                      # extension
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class COVIDNet(nn.Module):
    """Densely connected PEPX stages; ``variant`` "small" or "large" (extra 1x1 shortcuts)."""

    def __init__(self, variant: str = "small", num_classes: int = 3, in_channels: int = 1,
                 width: float = 1.0, image_size: int = 224):
        super().__init__()
        if variant not in ("small", "large"):
            raise ValueError(f"variant must be 'small' or 'large', got {variant!r}")
        if not 0 < width <= 1.0:
            raise ValueError(f"width must be in (0, 1], got {width}")
        if image_size % 32 or image_size < 32:
            raise ValueError(f"image_size must be a positive multiple of 32, got {image_size}")
        if num_classes < 2 or in_channels < 1:
            raise ValueError("num_classes must be >= 2 and in_channels >= 1")
        self.variant, self.image_size = variant, image_size

        def scaled(c: int) -> int:
            return max(4, int(round(c * width)))

        stem = scaled(STEM_CHANNELS)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 7, stride=2, padding=3, bias=False),
                                  nn.BatchNorm2d(stem), nn.ReLU(inplace=True))
        self.stages = nn.ModuleList()
        self.shortcuts = nn.ModuleList() if variant == "large" else None
        prev = stem
        for depth, channels in zip(STAGE_DEPTHS, STAGE_CHANNELS):
            c = scaled(channels)
            modules = [PEPX(prev if i == 0 else c, c) for i in range(depth)]
            for later in modules[1:]:
                nn.init.zeros_(later.body[-1].weight)   # see the module docstring
            self.stages.append(nn.ModuleList(modules))
            if self.shortcuts is not None:
                self.shortcuts.append(nn.Conv2d(prev, c, 1))
            prev = c
        side = image_size // 32
        hidden1, hidden2 = (max(8, int(round(h * width))) for h in FC_HIDDEN)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(prev * side * side, hidden1), nn.ReLU(inplace=True),
            nn.Linear(hidden1, hidden2), nn.ReLU(inplace=True), nn.Linear(hidden2, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ValueError(f"this COVIDNet expects {self.image_size}x{self.image_size} inputs, "
                             f"got {tuple(x.shape[-2:])}")
        x = F.max_pool2d(self.stem(x), 2)
        for s, stage in enumerate(self.stages):
            if s > 0:
                x = F.max_pool2d(x, 2)       # the pooled sum of the previous stage's outputs
            outputs = [] if self.shortcuts is None else [self.shortcuts[s](x)]
            inp = x
            for module in stage:
                outputs.append(module(inp))
                inp = F.relu(torch.stack(outputs).sum(0)) if len(outputs) > 1 else F.relu(outputs[0])
            x = inp
        return self.classifier(x)


@register_model("covidnet-small")
def covidnet_small(num_classes: int = 3, in_channels: int = 1, width: float = 1.0,
                   image_size: int = 224) -> nn.Module:
    """COVIDNet-CXR Small (reconstruction; paper: 117.4M parameters at 224 px)."""
    return COVIDNet("small", num_classes, in_channels, width, image_size)


@register_model("covidnet-large")
def covidnet_large(num_classes: int = 3, in_channels: int = 1, width: float = 1.0,
                   image_size: int = 224) -> nn.Module:
    """COVIDNet-CXR Large (reconstruction; paper: 127.4M parameters at 224 px)."""
    return COVIDNet("large", num_classes, in_channels, width, image_size)
