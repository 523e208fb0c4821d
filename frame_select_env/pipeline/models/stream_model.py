"""One TSN stream model: backbone -> dropout -> linear classifier, and its input normalisation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from frame_select_env.pipeline.models.backbones import build_backbone
from frame_select_env.pipeline.streams import stream_spec


def preprocess_views(
    stream: str,
    views: np.ndarray | torch.Tensor,
    in_channels: int,
    input_norm: str = "imagenet",
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The project's single input normalisation, used by the frozen classifier and the TSN trainer.

    Each stream's own ``preprocess`` (:mod:`frame_select_env.pipeline.streams`) does the work. RGB:
    uint8 ``(..., H, W, 3)`` -> float ``(N, 3, H, W)``: ``(x/255 - mean) / std`` with ImageNet
    statistics (``input_norm="imagenet"`` or ``"tsn_torchvision"``), or BGR 0-255 minus the
    Caffe mean (``"caffe_bgr"``, tsn-pytorch BN-Inception). Flow: float32 ``(..., 2L, H, W)``
    in ``[-1, 1]`` -> ``(N, 2L, H, W)``, rescaled to what ``input_norm``'s public weights expect.

    :param stream: a registered stream (``"rgb"``, ``"flow"``, ...)
    :param views: the raw views
    :param in_channels: the stream network's input channels (3 or 2L)
    :param input_norm: the stream model's ``input_norm``
    :param device: where the result goes
    :return: float32 tensor ``(N, C_in, H, W)``
    """
    spec = stream_spec(stream)
    return spec.preprocess(torch.as_tensor(views), in_channels, input_norm,
                           torch.device(device))


# How raw views become network input, per weight provenance (applied in ONE place:
# TwoStreamClassifier.preprocess). RGB arrives as uint8 RGB in [0, 255]; flow as float in [-1, 1]
# with x = (v - 127.5) / 127.5 for the 8-bit JPEG value v.
#  "imagenet":        RGB (x/255 - mean) / std with ImageNet statistics; flow unchanged. Our own
#                     training, torchvision and mmaction2 (flow mean=std=128 is x up to 0.4%).
#  "caffe_bgr":       tsn-pytorch BN-Inception: BGR, 0-255, minus [104, 117, 128]; flow v - 128.
#  "tsn_torchvision": tsn-pytorch ResNets: RGB as "imagenet"; flow (v/255 - 0.5) / mean(std).
INPUT_NORMS = ("imagenet", "caffe_bgr", "tsn_torchvision")


class StreamModel(nn.Module):
    """One TSN stream: backbone ``F(.)`` -> dropout -> linear classifier ``CL(.)``.

    :param backbone: module returning pooled features ``(B, D)`` with ``.feature_dim``
    :param num_classes: number of action classes C
    :param dropout: dropout probability before the classifier (TSN: 0.8 RGB, 0.7 flow)
    :param input_norm: input normalisation the weights expect, one of ``INPUT_NORMS``
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        dropout: float = 0.5,
        input_norm: str = "imagenet",
    ) -> None:
        super().__init__()
        if input_norm not in INPUT_NORMS:
            raise ValueError(
                f"StreamModel: input_norm must be one of {INPUT_NORMS}: {input_norm!r}"
            )
        if num_classes < 1:
            raise ValueError(f"StreamModel: num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"StreamModel: dropout must be in [0, 1), got {dropout}")
        feature_dim = getattr(backbone, "feature_dim", None)
        if not isinstance(feature_dim, int):
            raise ValueError(f"StreamModel: {type(backbone).__name__} has no int .feature_dim")
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(feature_dim, num_classes)
        # TSN initialises the new classifier with a small normal
        nn.init.normal_(self.fc.weight, 0.0, 0.001)
        nn.init.zeros_(self.fc.bias)
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.dropout_p = float(dropout)
        self.input_norm = input_norm

    @property
    def in_channels(self) -> int:
        """Number of input channels the backbone expects."""
        # a plain int attribute; nn.Module.__getattr__ is typed for tensors and modules only
        return int(self.backbone.in_channels)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The backbone's features and the classifier's logits of a batch of images.

        :param x: preprocessed images ``(B, C_in, H, W)``
        :return: ``(features (B, D), logits (B, C))``
        """
        feats = self.backbone(x)
        return feats, self.fc(self.dropout(feats))


def build_stream_model(
    arch: str,
    in_channels: int,
    num_classes: int,
    dropout: float = 0.5,
    backbone_kwargs: Mapping[str, Any] | None = None,
    input_norm: str = "imagenet",
) -> StreamModel:
    """Build a :class:`StreamModel`: a backbone, dropout and a new linear classifier.

    :param arch: backbone architecture (see :func:`build_backbone`)
    :param in_channels: 3 for RGB, 2L for flow
    :param num_classes: number of classes
    :param dropout: dropout before the classifier
    :param backbone_kwargs: extra backbone options
    :param input_norm: input normalisation, one of ``INPUT_NORMS``
    :return: a freshly initialised :class:`StreamModel`
    """
    backbone = build_backbone(arch, in_channels, **dict(backbone_kwargs or {}))
    return StreamModel(backbone, num_classes, dropout, input_norm)


def stream_model_from_public(
    path_or_state_dict: str | os.PathLike[str] | Mapping[str, Any],
    arch: str,
    in_channels: int,
    num_classes: int,
    source: str = "auto",
    input_norm: str | None = None,
    backbone_kwargs: Mapping[str, Any] | None = None,
) -> StreamModel:
    """Build a :class:`StreamModel` from a trained public checkpoint (tsn-pytorch, mmaction2, ...).

    The load is strict (see :func:`frame_select_env.pipeline.models.weights.load_pretrained`).

    :param path_or_state_dict: the checkpoint
    :param arch: backbone architecture
    :param in_channels: 3 for RGB, 2L for flow
    :param num_classes: number of classes of the checkpoint's classifier
    :param source: key layout (``"auto"``, ``"mmaction2"``, ``"tsn-pytorch"``, ``"native"``)
    :param input_norm: default: ``"caffe_bgr"`` for BN-Inception, ``"tsn_torchvision"`` for
        tsn-pytorch ResNets, else ``"imagenet"``
    :param backbone_kwargs: extra backbone options
    :return: the model in eval mode
    """
    from frame_select_env.pipeline.models.weights import load_pretrained

    model = build_stream_model(arch, in_channels, num_classes, 0.5, backbone_kwargs)
    report = load_pretrained(model, path_or_state_dict, source=source)
    if input_norm is None:
        if arch == "bninception":
            input_norm = "caffe_bgr"
        elif report["source"] == "tsn-pytorch":
            input_norm = "tsn_torchvision"
        else:
            input_norm = "imagenet"
    if input_norm not in INPUT_NORMS:
        raise ValueError(f"stream_model_from_public: bad input_norm {input_norm!r}")
    model.input_norm = input_norm
    return model.eval()
