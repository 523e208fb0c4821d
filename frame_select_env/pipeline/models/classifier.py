"""The frozen two-stream classifier: per-frame features and logits of both streams.

The stream model lives in :mod:`~frame_select_env.pipeline.models.stream_model`, its files in
:mod:`~frame_select_env.pipeline.models.checkpoints` (all of them in
:mod:`frame_select_env.pipeline.models`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from frame_select_env.core.constants import STREAMS
from frame_select_env.pipeline.models.checkpoints import (
    TWO_STREAM_FORMAT,
    load_stream_model,
    read_two_stream_checkpoint,
    stream_model_from_checkpoint,
)
from frame_select_env.pipeline.models.stream_model import (
    StreamModel,
    build_stream_model,
    preprocess_views,
)
from frame_select_env.pipeline.runtime import resolve_device
from frame_select_env.pipeline.streams import STREAM_SPECS, stream_spec

#: the stream-model names importable from here too (older imports; their modules are the home)
__all__ = [
    "TWO_STREAM_FORMAT",
    "StreamModel",
    "TwoStreamClassifier",
    "build_stream_model",
    "read_two_stream_checkpoint",
]


class TwoStreamClassifier:
    """The frozen two-stream (RGB + flow) TSN classifier that gives per-frame features and logits.

    Models are in eval mode with ``requires_grad=False`` and run under
    ``torch.inference_mode``; on CUDA they run under autocast (``amp_dtype``).

    :param streams: ``{"rgb": StreamModel, "flow": StreamModel}`` (either may be absent)
    :param class_names: the C class names, shared by all streams
    :param device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
    :param amp_dtype: autocast dtype on CUDA (``"float16"``, ``"bfloat16"`` or ``None`` = off)
    """

    def __init__(
        self,
        streams: Mapping[str, StreamModel],
        class_names: Sequence[str],
        device: str | torch.device = "auto",
        amp_dtype: str | None = "float16",
    ) -> None:
        if not streams:
            raise ValueError("TwoStreamClassifier: no streams given")
        self.class_names = [str(c) for c in class_names]
        self.device = resolve_device(device)
        if amp_dtype not in (None, "float16", "bfloat16"):
            raise ValueError(f"TwoStreamClassifier: bad amp_dtype {amp_dtype!r}")
        self.amp_dtype = None if amp_dtype is None else getattr(torch, amp_dtype)
        self.streams: dict[str, StreamModel] = {}
        for name, model in streams.items():
            spec = STREAM_SPECS.get(name)
            if spec is None:
                raise ValueError(f"TwoStreamClassifier: stream must be one of the registered "
                                 f"{tuple(STREAM_SPECS)}: {name!r}")
            if model.num_classes != len(self.class_names):
                raise ValueError(
                    f"TwoStreamClassifier: stream {name!r} has {model.num_classes} classes, "
                    f"but {len(self.class_names)} class names were given"
                )
            if not spec.accepts_channels(model.in_channels):
                raise ValueError(f"{name} stream must take {spec.channels_doc} channels, got "
                                 f"{model.in_channels}")
            model.eval().requires_grad_(False).to(self.device)
            self.streams[name] = model

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_checkpoints(
        cls,
        paths: Mapping[str, str | os.PathLike[str]],
        device: str | torch.device = "auto",
        amp_dtype: str | None = "float16",
    ) -> TwoStreamClassifier:
        """Load the classifier from per-stream checkpoints.

        :param paths: ``{"rgb": path, "flow": path}`` per-stream checkpoints
        :param device: see class docstring
        :param amp_dtype: see class docstring
        :return: the classifier; all streams must agree on the class names
        """
        streams: dict[str, StreamModel] = {}
        class_names: list[str] | None = None
        for name, path in paths.items():
            model, ckpt = load_stream_model(path, return_checkpoint=True)
            names = [str(c) for c in ckpt["class_names"]]
            if class_names is None:
                class_names = names
            elif names != class_names:
                raise ValueError(
                    f"checkpoint {path} (stream {name!r}) has different class names than the "
                    "other streams"
                )
            streams[name] = model
        if class_names is None:
            raise ValueError("TwoStreamClassifier.from_checkpoints: no paths given")
        return cls(streams, class_names, device=device, amp_dtype=amp_dtype)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        device: str | torch.device = "auto",
        amp_dtype: str | None = "float16",
    ) -> TwoStreamClassifier:
        """Load the classifier from one two-stream file.

        :param path: a two-stream file (:func:`save_two_stream_checkpoint`)
        :param device: see class docstring
        :param amp_dtype: see class docstring
        :return: the classifier
        """
        obj = read_two_stream_checkpoint(path)
        streams = {
            name: stream_model_from_checkpoint(ckpt, f"{path}[{name}]")
            for name, ckpt in obj["streams"].items()
        }
        return cls(streams, obj["class_names"], device=device, amp_dtype=amp_dtype)

    @classmethod
    def random_init(
        cls,
        arch: str = "small",
        num_classes: int = 10,
        flow_length: int = 5,
        seed: int = 0,
        device: str | torch.device = "cpu",
        class_names: Sequence[str] | None = None,
        backbone_kwargs: Mapping[str, Any] | None = None,
        streams: Sequence[str] = STREAMS,
    ) -> TwoStreamClassifier:
        """A randomly initialised classifier (tests only).

        :param arch: backbone architecture
        :param num_classes: number of classes
        :param flow_length: L; the flow stream takes 2L channels
        :param seed: torch seed for the initialisation
        :param device: device
        :param class_names: default ``class_000, ...``
        :param backbone_kwargs: extra backbone options
        :param streams: registered streams to build (inputs of ``in_channels(flow_length)``)
        """
        gen_state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            models = {
                name: build_stream_model(arch, stream_spec(name).in_channels(flow_length),
                                         num_classes, 0.5, backbone_kwargs)
                for name in streams
            }
            # a non-trivial BN state so that eval-mode outputs differ from identity BN
            for model in models.values():
                for m in model.modules():
                    # (built with track_running_stats, so the running buffers exist)
                    if (isinstance(m, nn.BatchNorm2d) and m.running_mean is not None
                            and m.running_var is not None):
                        m.running_mean.normal_(0.0, 0.1)
                        m.running_var.uniform_(0.5, 2.0)
                nn.init.normal_(model.fc.weight, 0.0, 0.1)
        finally:
            torch.random.set_rng_state(gen_state)
        if class_names is None:
            class_names = [f"class_{i:03d}" for i in range(num_classes)]
        return cls(models, class_names, device=device)

    # -- properties -------------------------------------------------------------------

    @property
    def num_classes(self) -> int:
        """Number of classes C."""
        return len(self.class_names)

    @property
    def flow_length(self) -> int | None:
        """L of the flow stream (``None`` without one)."""
        flow = self.streams.get("flow")
        return None if flow is None else flow.in_channels // 2

    def feature_dim(self, stream: str) -> int:
        """:param stream: stream name; :return: D of that stream."""
        return self._model(stream).feature_dim

    def _model(self, stream: str) -> StreamModel:
        if stream not in self.streams:
            raise KeyError(f"TwoStreamClassifier: no stream {stream!r} (have {list(self.streams)})")
        return self.streams[stream]

    # -- preprocessing (the ONE place) ------------------------------------------------

    def preprocess(self, stream: str, views: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Raw views -> network input on ``self.device`` (see :func:`preprocess_views`).

        :param stream: ``"rgb"`` or ``"flow"``
        :param views: the raw views
        :return: float32 tensor ``(N, C_in, H, W)``
        """
        model = self._model(stream)
        return preprocess_views(stream, views, model.in_channels, model.input_norm, self.device)

    # -- inference --------------------------------------------------------------------

    def _run(self, model: StreamModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.device.type == "cuda" and self.amp_dtype is not None:
            with torch.autocast("cuda", dtype=self.amp_dtype):
                feats, logits = model(x)
        else:
            feats, logits = model(x)
        return feats.float(), logits.float()

    def extract(
        self, stream: str, views: np.ndarray | torch.Tensor, batch_size: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features and logits for every view of every sampled frame of one video.

        :param stream: ``"rgb"`` or ``"flow"``
        :param views: rgb uint8 ``(T, V, H, W, 3)`` or flow float32 ``(T, V, 2L, H, W)``
        :param batch_size: crops per forward pass
        :return: ``(features (T, V, D), logits (T, V, C))`` float32 numpy arrays
        """
        model = self._model(stream)
        expect = 5
        if np.ndim(views) != expect:
            shape = stream_spec(stream).input_doc
            raise ValueError(
                f"extract({stream}): expected views {shape}, got shape {tuple(np.shape(views))}"
            )
        if batch_size < 1:
            raise ValueError(f"extract: batch_size must be >= 1, got {batch_size}")
        t, v = int(views.shape[0]), int(views.shape[1])
        n = t * v
        flat = views.reshape(n, *views.shape[2:])
        feats = np.empty((n, model.feature_dim), np.float32)
        logits = np.empty((n, model.num_classes), np.float32)
        with torch.inference_mode():
            for s in range(0, n, batch_size):
                x = self.preprocess(stream, flat[s : s + batch_size])
                f, lg = self._run(model, x)
                feats[s : s + len(x)] = f.cpu().numpy()
                logits[s : s + len(x)] = lg.cpu().numpy()
        return feats.reshape(t, v, -1), logits.reshape(t, v, -1)

    def __call__(
        self, stream: str, views: np.ndarray | torch.Tensor, batch_size: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """Alias of :meth:`extract`."""
        return self.extract(stream, views, batch_size)
