"""ResNet-18/50 in the torchvision layout (``conv1, bn1, layer1..4, fc``), in plain torch."""

from __future__ import annotations

import torch
from torch import nn

from frame_select_env.pipeline.models.layers import init_conv_bn


class BasicBlock(nn.Module):
    """Two 3x3 convs (ResNet-18/34), parameter names as in torchvision."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _downsample(inplanes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Two 3x3 convs plus the (downsampled) input, then ReLU."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1-3x3-1x1 bottleneck with the stride on the 3x3 conv (torchvision "ResNet v1.5")."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(inplanes, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """1x1, 3x3 and 1x1 convs plus the (downsampled) input, then ReLU."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _downsample(inplanes: int, outplanes: int, stride: int) -> nn.Sequential | None:
    # torchvision names: downsample.0 (1x1 conv), downsample.1 (BN)
    if stride == 1 and inplanes == outplanes:
        return None
    return nn.Sequential(
        nn.Conv2d(inplanes, outplanes, 1, stride=stride, bias=False), nn.BatchNorm2d(outplanes)
    )


_SPECS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
}


class ResNet(nn.Module):
    """ResNet backbone whose ``forward`` returns globally pooled features ``(B, feature_dim)``.

    ``feature_dim`` is 512 for ResNet-18, 2048 for ResNet-50.

    The optional ``fc`` layer (``num_classes > 0``) exists only so that ImageNet checkpoints in
    the torchvision layout load strictly; it is applied by :meth:`forward_logits`, never by
    :meth:`forward`. With ``num_classes=1000`` the parameter counts equal torchvision's
    (11,689,512 for ResNet-18, 25,557,032 for ResNet-50).

    :param depth: 18, 34, 50 or 101
    :param in_channels: input channels (3 for RGB, 2L for a flow stack)
    :param num_classes: size of the optional ImageNet-style ``fc`` (0: no ``fc``)
    :param zero_init_residual: zero the last BN gamma of every residual branch
    """

    first_conv_name = "conv1"

    def __init__(
        self,
        depth: int = 50,
        in_channels: int = 3,
        num_classes: int = 0,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if depth not in _SPECS:
            raise ValueError(f"ResNet: depth must be one of {sorted(_SPECS)}, got {depth}")
        if in_channels < 1:
            raise ValueError(f"ResNet: in_channels must be >= 1, got {in_channels}")
        block, layers = _SPECS[depth]
        self.depth = depth
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        stages = []
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(inplanes, planes, stride))
                inplanes = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = inplanes
        self.fc = nn.Linear(inplanes, num_classes) if num_classes > 0 else None
        init_conv_bn(self)
        if zero_init_residual:
            for m in self.modules():
                last = getattr(m, "bn3", None) if isinstance(m, Bottleneck) else None
                if isinstance(m, BasicBlock):
                    last = m.bn2
                if last is not None:
                    nn.init.zeros_(last.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The globally pooled features of a batch of images.

        :param x: images ``(B, C, H, W)``; any size >= 32 (224 is the standard)
        :return: pooled features ``(B, feature_dim)``
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The ``fc`` logits of a batch of images (``fc`` on :meth:`forward`).

        :param x: images ``(B, C, H, W)``
        :return: ``fc`` logits ``(B, num_classes)``
        """
        if self.fc is None:
            raise RuntimeError("ResNet.forward_logits: this ResNet was built with num_classes=0")
        return self.fc(self.forward(x))


def resnet18(in_channels: int = 3, **kwargs: object) -> ResNet:
    """:param in_channels: input channels; other kwargs go to :class:`ResNet`."""
    return ResNet(18, in_channels, **kwargs)  # type: ignore[arg-type]


def resnet50(in_channels: int = 3, **kwargs: object) -> ResNet:
    """:param in_channels: input channels; other kwargs go to :class:`ResNet`."""
    return ResNet(50, in_channels, **kwargs)  # type: ignore[arg-type]
