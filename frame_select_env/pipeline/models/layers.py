"""What the project's own backbones share: the He initialisation of their conv and BN layers."""

from __future__ import annotations

from torch import nn


def init_conv_bn(module: nn.Module) -> None:
    """Initialise every conv and BatchNorm layer of ``module`` as torchvision's ResNet does.

    Convolutions get Kaiming-normal weights (``fan_out``, ReLU gain), BatchNorm layers weight 1 and
    bias 0. The layers are visited in ``module.modules()`` order, so a seed gives the same weights.

    :param module: a freshly built backbone (:class:`~frame_select_env.pipeline.models.SmallCNN`,
        :class:`~frame_select_env.pipeline.models.ResNet`).
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
