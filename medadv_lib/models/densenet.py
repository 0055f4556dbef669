"""DenseNets from torchvision for the multi-label chest X-ray task (Nwadike et al. 2020).

* ``densenet121``: torchvision's DenseNet-121 (growth 32, blocks 6-12-24-16), randomly initialised
  (no pretrained weights can be downloaded here; the paper started from ImageNet weights), with
  the stem convolution taking ``in_channels`` (1 for grayscale radiographs) and ``num_classes``
  logits (14 findings; the sigmoid is applied by the loss and the metrics).
* ``densenet-small``: the same torchvision ``DenseNet`` class, narrower and shallower, for the
  CPU presets: by default two dense blocks of three layers (growth 12), so that a 64 px image
  keeps an 8 x 8 map at the last block for Grad-CAM; ``stem_pool=False`` drops the stem's max-pool
  (twice the resolution, four times the cost).

:func:`gradcam_layers` names the two layers of the paper's Figure 1: the output of the last dense
block (after its batch norm; the map the classifier pools) and a dense layer in the middle of that
same block, which has the same spatial size.
"""
from __future__ import annotations

from typing import Sequence

import torch.nn as nn
from torchvision.models import DenseNet, densenet121 as tv_densenet121

from . import register_model

__all__ = ["densenet121", "densenet_small", "gradcam_layers"]


def _adapt_stem(model: DenseNet, in_channels: int, stem_pool: bool = True) -> DenseNet:
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive int, got {in_channels!r}")
    old = model.features.conv0
    model.features.conv0 = nn.Conv2d(in_channels, old.out_channels, kernel_size=7, stride=2,
                                     padding=3, bias=False)
    nn.init.kaiming_normal_(model.features.conv0.weight)
    if not stem_pool:
        model.features.pool0 = nn.Identity()
    return model


@register_model("densenet121")
def densenet121(num_classes: int = 14, in_channels: int = 1) -> nn.Module:
    """torchvision DenseNet-121 without pretrained weights, ``num_classes`` logits."""
    return _adapt_stem(tv_densenet121(weights=None, num_classes=num_classes), in_channels)


@register_model("densenet-small")
def densenet_small(num_classes: int = 14, in_channels: int = 1, growth_rate: int = 12,
                   block_config: Sequence[int] = (3, 3), num_init_features: int = 16,
                   bn_size: int = 4, stem_pool: bool = True) -> nn.Module:
    """A narrower, shallower torchvision ``DenseNet`` (same building blocks as DenseNet-121)."""
    block_config = tuple(int(b) for b in block_config)
    if not block_config or min(block_config) < 2:
        raise ValueError(f"block_config needs at least one block of >= 2 layers, got {block_config}")
    model = DenseNet(growth_rate=growth_rate, block_config=block_config,
                     num_init_features=num_init_features, bn_size=bn_size, num_classes=num_classes)
    return _adapt_stem(model, in_channels, stem_pool)


def gradcam_layers(model: nn.Module) -> dict[str, str]:
    """Names of the ``last`` (final batch norm of the last dense block) and ``middle`` (a dense
    layer half-way through the last block) layers: same feature-map size, as in Figure 1."""
    features = getattr(model, "features", None)
    if features is None:
        raise ValueError("gradcam_layers expects a torchvision DenseNet (a .features module)")
    blocks = [name for name, _ in features.named_children() if name.startswith("denseblock")]
    last_block = getattr(features, blocks[-1])
    layers = [name for name, _ in last_block.named_children()]
    middle = layers[(len(layers) - 1) // 2]
    return {"last": "features.norm5", "middle": f"features.{blocks[-1]}.{middle}"}
