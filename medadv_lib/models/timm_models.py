"""Inception-ResNet-v2 and NASNet-Large from timm, and the max-to-average pooling swap.

Taghanaki et al. 2018 (Sec. 2) train both networks from scratch on ChestX-ray14 and compare each
with a copy whose max-pooling layers are replaced by average pooling. Here:

* ``inception-resnet-v2``: timm's ``inception_resnet_v2`` (54M parameters); its smallest input is
  75x75 (the stem and the three reductions need it). ``depth="reduced"`` repeats its residual
  Inception blocks 2/4/2 times instead of 10/20/9 (same blocks and reductions, 15M parameters).
* ``nasnet-large``: timm's ``nasnetalarge``. ``width="full"`` is the published network (NASNet-A
  6 @ 4032: 6 normal cells per stage, 4032 features, 85M parameters, input >= 32 px);
  ``width="reduced"`` is NASNet-A 2 @ 768 (:class:`NASNetReduced`): the same stem, normal and
  reduction cells (timm's), 2 normal cells per stage instead of 6, ``num_features=768`` and
  ``stem_size=32`` (1.3M parameters). The earlier reduction, 6 @ 192 with a 16-channel stem
  (0.27M parameters), stayed at chance on the ten-attacks task (issue 29, item 5): its stem cells
  had 2 and 4 channels (``num_features // 96`` and ``// 48``), and at every width the 18-cell
  network memorised its 320 training images (training AUC 0.78-1.0) without learning the finding
  (test AUC 0.49-0.63). Max pooling lives only in the two stem and two reduction cells (8
  layers; normal cells average), all kept: the pooling swap replaces the same layers as in the
  published network. Chapters say which was used.
* ``pooling="avg"`` applies :func:`swap_max_to_avg_pooling` after building.

Both take ``in_chans`` (1 for grayscale X-rays) and ``num_classes`` (1: a single sigmoid logit,
as for a binary "finding" output). No pretrained weights are ever loaded.
"""
from __future__ import annotations

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import SelectAdaptivePool2d
from timm.layers.adaptive_avgmax_pool import (AdaptiveAvgMaxPool2d, AdaptiveCatAvgMaxPool2d,
                                              FastAdaptiveAvgMaxPool, FastAdaptiveCatAvgMaxPool,
                                              FastAdaptiveMaxPool)
from timm.layers.padding import pad_same
from timm.layers.pool2d_same import MaxPool2dSame
from timm.models.nasnet import NASNetALarge

from . import register_model

__all__ = ["MIN_INPUT_SIZE", "NASNET_WIDTHS", "NASNET_CELLS", "NASNetReduced", "IRV2_DEPTHS", "swap_max_to_avg_pooling", "max_pooling_layers",
           "AvgPool2dSameExcludePad", "AdaptiveAvgLike", "inception_resnet_v2", "nasnet_large"]

#: Smallest square input each network accepts (measured: smaller inputs fail in a reduction).
MIN_INPUT_SIZE = {"inception-resnet-v2": 75, "nasnet-large": 32}
#: Inception-ResNet-v2 depths: repeats of its Block35, Block17 and Block8 stages.
IRV2_DEPTHS = {"full": (10, 20, 9), "reduced": (2, 4, 2)}
#: NASNet-Large widths: timm ``NASNetALarge`` (num_features, stem_size).
NASNET_WIDTHS = {"full": (4032, 96), "reduced": (768, 32)}
#: NASNet-Large normal cells per stage (the "N" of NASNet-A N @ width; the published network: 6).
NASNET_CELLS = {"full": 6, "reduced": 2}
POOLINGS = ("max", "avg")


class AvgPool2dSameExcludePad(nn.Module):
    """Average pooling with TensorFlow 'SAME' padding that averages only real pixels.

    The counterpart of timm's ``MaxPool2dSame`` (which pads with -inf so padding never wins):
    padded positions are excluded from the mean (``count_include_pad=False`` semantics).
    """

    def __init__(self, kernel_size, stride, dilation=(1, 1), ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.stride = tuple(kernel_size), tuple(stride)
        self.dilation, self.ceil_mode = tuple(dilation), ceil_mode
        if any(d != 1 for d in self.dilation):
            raise ValueError("average pooling has no dilation; cannot replace a dilated max pool")

    def forward(self, x):
        padded = pad_same(x, self.kernel_size, self.stride, self.dilation, value=0.0)
        ones = pad_same(torch.ones_like(x[:1, :1]), self.kernel_size, self.stride, self.dilation, value=0.0)
        total = F.avg_pool2d(padded, self.kernel_size, self.stride, 0, self.ceil_mode, True)
        count = F.avg_pool2d(ones, self.kernel_size, self.stride, 0, self.ceil_mode, True)
        return total / count

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding=SAME (excluded)"


class AdaptiveAvgLike(nn.Module):
    """Global average pooling with the output layout of a max-based timm global pool.

    ``copies=2`` replaces a concatenating avg+max pool (the max half becomes a second average) so
    the feature dimension, and hence the classifier, is unchanged.
    """

    def __init__(self, output_size=1, flatten: bool = False, copies: int = 1):
        super().__init__()
        self.output_size, self.flatten, self.copies = output_size, flatten, copies

    def forward(self, x):
        x = F.adaptive_avg_pool2d(x, self.output_size)
        if self.copies > 1:
            x = torch.cat([x] * self.copies, 1)
        return x.flatten(1) if self.flatten else x


_MAX_TYPES = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d, FastAdaptiveMaxPool,
              FastAdaptiveAvgMaxPool, FastAdaptiveCatAvgMaxPool, AdaptiveAvgMaxPool2d,
              AdaptiveCatAvgMaxPool2d, nn.FractionalMaxPool2d, nn.LPPool2d)


def max_pooling_layers(model: nn.Module) -> list[str]:
    """Names of every module that takes a maximum (or pools by a max-based global pool)."""
    found = [name for name, m in model.named_modules() if isinstance(m, _MAX_TYPES)]
    found += [name for name, m in model.named_modules()
              if isinstance(m, SelectAdaptivePool2d) and "max" in m.pool_type.lower()]
    return found


def _replacement(module: nn.Module) -> nn.Module | None:
    if isinstance(module, MaxPool2dSame):
        return AvgPool2dSameExcludePad(module.kernel_size, module.stride, module.dilation, module.ceil_mode)
    if isinstance(module, nn.MaxPool2d):
        dilation = module.dilation if isinstance(module.dilation, tuple) else (module.dilation,) * 2
        if any(d != 1 for d in dilation):
            raise ValueError(f"cannot replace dilated max pooling {module} by average pooling")
        return nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode,
                            count_include_pad=False)
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool3d, nn.FractionalMaxPool2d, nn.LPPool2d)):
        raise ValueError(f"no average-pooling counterpart implemented for {type(module).__name__}")
    if isinstance(module, nn.AdaptiveMaxPool2d):
        return nn.AdaptiveAvgPool2d(module.output_size)
    if isinstance(module, (FastAdaptiveMaxPool, FastAdaptiveAvgMaxPool)):
        return AdaptiveAvgLike(1, module.flatten)
    if isinstance(module, FastAdaptiveCatAvgMaxPool):
        return AdaptiveAvgLike(1, module.flatten, copies=2)
    if isinstance(module, AdaptiveAvgMaxPool2d):
        return AdaptiveAvgLike(module.output_size)
    if isinstance(module, AdaptiveCatAvgMaxPool2d):
        return AdaptiveAvgLike(module.output_size, copies=2)
    return None


def swap_max_to_avg_pooling(model: nn.Module) -> nn.Module:
    """Replace every max-pooling layer of ``model`` in place by average pooling of the same geometry.

    Same kernel, stride, padding and ceil_mode, with ``count_include_pad=False`` (and SAME padding
    excluded from the mean for timm's ``MaxPool2dSame``); timm's max-based global pools become
    global averages with the same output layout. Every intermediate shape is unchanged, weights
    are untouched. Returns ``model``.
    """
    for name, module in list(model.named_modules()):
        if isinstance(module, SelectAdaptivePool2d) and "max" in module.pool_type.lower():
            module.pool_type = module.pool_type.lower().replace("catavgmax", "catavgavg") \
                .replace("avgmax", "avg").replace("max", "avg")
        for child_name, child in list(module.named_children()):
            new = _replacement(child)
            if new is not None:
                setattr(module, child_name, new)
    left = [n for n, m in model.named_modules() if isinstance(m, _MAX_TYPES)]
    if left:
        raise RuntimeError(f"max pooling left after the swap: {left}")
    return model


def _finish(model: nn.Module, pooling: str) -> nn.Module:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    return swap_max_to_avg_pooling(model) if pooling == "avg" else model


@register_model("inception-resnet-v2")
def inception_resnet_v2(num_classes: int = 1, in_chans: int = 1, pooling: str = "max",
                        drop_rate: float = 0.0, depth: str = "full") -> nn.Module:
    """timm ``inception_resnet_v2`` from scratch (Szegedy et al. 2017); input >= 75x75.

    ``depth="reduced"`` keeps every kind of block and each reduction but repeats the residual
    Inception blocks 2, 4 and 2 times instead of 10, 20 and 9 (15M parameters instead of 54M): the
    same architecture family at a depth a CPU trains in minutes. Chapters say which was used."""
    if depth not in IRV2_DEPTHS:
        raise ValueError(f"depth must be one of {list(IRV2_DEPTHS)}, got {depth!r}")
    model = timm.create_model("inception_resnet_v2", pretrained=False, num_classes=num_classes,
                              in_chans=in_chans, drop_rate=drop_rate)
    if depth != "full":
        repeats = IRV2_DEPTHS[depth]
        model.repeat = model.repeat[:repeats[0]]
        model.repeat_1 = model.repeat_1[:repeats[1]]
        model.repeat_2 = model.repeat_2[:repeats[2]]
    return _finish(model, pooling)


class NASNetReduced(NASNetALarge):
    """timm's ``NASNetALarge`` with ``cells`` normal cells per stage instead of 6 (NASNet-A N @ width,
    Zoph et al. 2018, Sec. 3): the stem cells, both reduction cells and the first ``cells`` normal
    cells of each stage, wired as timm wires them (each cell reads the two before it; the cell after
    a reduction reads the reduction and the cell before it). 2 and 6 are the counts whose channels
    match timm's cells."""

    def __init__(self, cells: int = 2, **kwargs):
        if cells not in (2, 6):
            raise ValueError(f"cells must be 2 or 6, got {cells}")
        super().__init__(**kwargs)
        self.cells = cells
        for first in (0, 6, 12):
            for i in range(first + cells, first + 6):
                delattr(self, f"cell_{i}")

    def forward_features(self, x):
        x_conv0 = self.conv0(x)
        prev = self.cell_stem_0(x_conv0)
        cur = self.cell_stem_1(x_conv0, prev)
        for stage, first in enumerate((0, 6, 12)):
            if stage:
                cur = getattr(self, f"reduction_cell_{stage - 1}")(cur, prev)
            for i in range(first, first + self.cells):
                prev, cur = cur, getattr(self, f"cell_{i}")(cur, prev)
        return self.act(cur)


@register_model("nasnet-large")
def nasnet_large(num_classes: int = 1, in_chans: int = 1, pooling: str = "max", width: str = "full",
                 drop_rate: float = 0.0) -> nn.Module:
    """timm ``nasnetalarge`` from scratch (Zoph et al. 2018); ``width="reduced"``: NASNet-A 2 @ 768
    (:class:`NASNetReduced`, :data:`NASNET_CELLS`)."""
    if width not in NASNET_WIDTHS:
        raise ValueError(f"width must be one of {list(NASNET_WIDTHS)}, got {width!r}")
    num_features, stem_size = NASNET_WIDTHS[width]
    kwargs = dict(num_classes=num_classes, in_chans=in_chans, num_features=num_features, stem_size=stem_size,
                  drop_rate=drop_rate)
    if NASNET_CELLS[width] == 6:
        model = timm.create_model("nasnetalarge", pretrained=False, **kwargs)
    else:
        model = NASNetReduced(cells=NASNET_CELLS[width], **kwargs)
    return _finish(model, pooling)
