"""torchvision ResNets for diabetic-retinopathy grading (SMIA, Qi et al. 2021, Sec. 4).

The paper classifies APTOS fundus photographs with a ResNet-50. ``resnet50`` / ``resnet18`` are
torchvision's models, randomly initialised (no pretrained weights can be downloaded here).
``slim-resnet`` is torchvision's :class:`~torchvision.models.ResNet` with its own blocks and
``_make_layer`` but narrower stages and fewer blocks, for CPU-sized presets.
"""
from __future__ import annotations

import torch.nn as nn
from torchvision.models import resnet18 as tv_resnet18, resnet50 as tv_resnet50
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from . import register_model

__all__ = ["SlimResNet", "resnet50", "resnet18", "slim_resnet"]


def _set_in_channels(model: ResNet, in_channels: int) -> ResNet:
    if in_channels != 3:
        old = model.conv1
        model.conv1 = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding,
                                bias=False)
    return model


@register_model("resnet50")
def resnet50(num_classes: int = 5, in_channels: int = 3) -> nn.Module:
    return _set_in_channels(tv_resnet50(weights=None, num_classes=num_classes), in_channels)


@register_model("resnet18")
def resnet18(num_classes: int = 5, in_channels: int = 3) -> nn.Module:
    return _set_in_channels(tv_resnet18(weights=None, num_classes=num_classes), in_channels)


class SlimResNet(ResNet):
    """torchvision's ResNet with stage widths ``width * (1, 2, 4, 8)`` and ``layers`` blocks."""

    def __init__(self, block, layers, width: int = 16, num_classes: int = 5, in_channels: int = 3):
        nn.Module.__init__(self)
        if len(layers) != 4 or min(layers) < 1 or width < 4:
            raise ValueError(f"need four stages of >= 1 block and width >= 4, got {layers}, {width}")
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


@register_model("slim-resnet")
def slim_resnet(num_classes: int = 5, in_channels: int = 3, width: int = 16,
                layers: tuple | list = (1, 1, 1, 1), bottleneck: bool = False) -> nn.Module:
    return SlimResNet(Bottleneck if bottleneck else BasicBlock, list(layers), width, num_classes, in_channels)
