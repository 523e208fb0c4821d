"""A small, fast CPU CNN backbone for the built-in dataset (inputs around 112x112)."""

from __future__ import annotations

import torch
from torch import nn

from frame_select_env.pipeline.models.layers import init_conv_bn


def _conv_bn_relu(
    in_ch: int, out_ch: int, kernel: int, stride: int, padding: int
) -> list[nn.Module]:
    return [
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    ]


class SmallCNN(nn.Module):
    """Conv-BN-ReLU stack with global average pooling, returning pooled features ``(B, D)``.

    Layout (for a 112x112 input): a 4x4/stride-4 "patchify" stem to 28x28 (cheap even with
    2L = 10 flow channels), then 3x3 conv blocks at 28x28, 14x14 and 7x7, a 1x1 projection to
    ``feature_dim`` and global average pooling. About 3-5 MFLOPs (multiply-adds) per crop at
    the default width, so thousands of crops/s fit on two CPU cores. Any input size >= 16 works.

    :param in_channels: number of input channels (3 for RGB, 2L for a flow stack)
    :param feature_dim: size D of the pooled feature
    :param width: channels after the stem; the later stages use 2x and 4x this
    """

    first_conv_name = "stem.0"

    def __init__(self, in_channels: int, feature_dim: int = 64, width: int = 16) -> None:
        super().__init__()
        if in_channels < 1 or feature_dim < 1 or width < 1:
            raise ValueError(
                f"SmallCNN: in_channels, feature_dim and width must be >= 1, got "
                f"{in_channels}, {feature_dim}, {width}"
            )
        self.in_channels = in_channels
        self.feature_dim = feature_dim
        self.width = width
        w = width
        self.stem = nn.Sequential(*_conv_bn_relu(in_channels, w, 4, 4, 0))
        self.features = nn.Sequential(
            *_conv_bn_relu(w, w, 3, 1, 1),  # 28x28
            *_conv_bn_relu(w, 2 * w, 3, 2, 1),  # 14x14
            *_conv_bn_relu(2 * w, 4 * w, 3, 2, 1),  # 7x7
            *_conv_bn_relu(4 * w, feature_dim, 1, 1, 0),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The globally pooled features of a batch of images.

        :param x: images ``(B, C, H, W)``
        :return: pooled features ``(B, feature_dim)``
        """
        return torch.flatten(self.pool(self.features(self.stem(x))), 1)
