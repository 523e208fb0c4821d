"""The TSN stream model of a config: backbone, pretrained weights, SGD groups, preprocessing.

:func:`build_model` and :func:`param_groups` are what
:func:`~frame_select_env.pipeline.tsn.trainer.train_tsn` trains; the benchmark uses the same pieces.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from frame_select_env.pipeline.models import (
    StreamModel,
    build_stream_model,
    first_conv,
    preprocess_views,
    set_partial_bn,
)
from frame_select_env.pipeline.tsn.config import TSNConfig


def _preprocessor(model: StreamModel, stream: str, device: torch.device) -> Callable:
    """The project's single input normalisation (``preprocess_views``) for this stream model."""

    def run(x: torch.Tensor) -> torch.Tensor:
        return preprocess_views(stream, x, model.in_channels, model.input_norm, device)

    return run


def _load_pretrained(model: StreamModel, path: str) -> dict[str, Any]:
    """Initialise the backbone from pretrained weights at ``path``.

    The weights are loaded with ``frame_select_env.pipeline.models.weights.load_pretrained``
    (ImageNet
    weights, a Kinetics-trained stream checkpoint, tsn-pytorch / mmaction2 files).
    The classifier is left out (a new one is trained); a 3-channel (RGB) first conv is
    converted for a flow stream by TSN's cross-modality initialisation.

    :return: the loader's report
    """
    from frame_select_env.pipeline.models.weights import load_pretrained

    if not Path(path).is_file():
        raise FileNotFoundError(f"pretrained weights {path} do not exist")
    return load_pretrained(model.backbone, path, ignore=("fc.",), cross_modality=True)


def build_model(cfg: TSNConfig, num_classes: int, pretrained: str | None = None) -> StreamModel:
    """The stream model of a config.

    It has the backbone, dropout and classifier, optional pretrained weights, and partial BN
    when ``cfg.partial_bn``.

    :param cfg: configuration
    :param num_classes: C
    :param pretrained: weights to start from (default ``cfg.pretrained``)
    :return: the model (on CPU)
    """
    model = build_stream_model(
        cfg.arch, cfg.in_channels, num_classes, cfg.dropout, cfg.arch_kwargs
    )
    pretrained = pretrained if pretrained is not None else cfg.pretrained
    if pretrained:
        _load_pretrained(model, str(pretrained))
    if cfg.partial_bn:
        set_partial_bn(model, True)
    return model


def param_groups(model: StreamModel, cfg: TSNConfig) -> list[dict[str, Any]]:
    """SGD parameter groups.

    With ``cfg.tsn_lr_policy`` (TSN's ``get_optim_policies``): weights lr x1 with decay;
    biases lr x2 without decay; BN affine parameters without decay; for the flow stream the
    first conv's weight lr x5 and bias x10. Frozen parameters (partial BN) are left out.
    Without the policy, one group.

    :param model: the (unwrapped) stream model
    :param cfg: configuration (``lr``, ``weight_decay``)
    :return: groups with ``lr``, ``weight_decay`` and ``name``
    """
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not cfg.tsn_lr_policy:
        return [
            {"params": [p for _, p in params], "lr": cfg.lr, "weight_decay": cfg.weight_decay,
             "name": "all"}
        ]
    _, _, conv1 = first_conv(model)
    first_ids = {id(p) for p in conv1.parameters()}
    flow = cfg.stream == "flow"
    bn_types = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)
    norm_ids = {
        id(p) for m in model.modules() if isinstance(m, bn_types) for p in m.parameters()
    }
    buckets: dict[str, tuple[float, float, list]] = {
        "first_conv_weight": (5.0 if flow else 1.0, 1.0, []),
        "first_conv_bias": (10.0 if flow else 2.0, 0.0, []),
        "weight": (1.0, 1.0, []),
        "bias": (2.0, 0.0, []),
        "norm": (1.0, 0.0, []),
    }
    for name, p in params:
        if id(p) in first_ids:
            key = "first_conv_bias" if name.endswith("bias") else "first_conv_weight"
        elif id(p) in norm_ids:
            key = "norm"
        elif name.endswith("bias"):
            key = "bias"
        else:
            key = "weight"
        buckets[key][2].append(p)
    return [
        {"params": ps, "lr": cfg.lr * lr_mult, "weight_decay": cfg.weight_decay * decay_mult,
         "name": key}
        for key, (lr_mult, decay_mult, ps) in buckets.items()
        if ps
    ]
