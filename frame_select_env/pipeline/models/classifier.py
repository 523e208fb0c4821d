"""Per-stream models, their checkpoints, and the frozen two-stream classifier."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import torch
from torch import nn

from frame_select_env.core.constants import STREAMS
from frame_select_env.pipeline.models.backbones import build_backbone
from frame_select_env.pipeline.models.weights import load_torch_file
from frame_select_env.pipeline.runtime import resolve_device
from frame_select_env.pipeline.streams import (  # noqa: F401  (IMAGENET_*: re-exported, public names)
    IMAGENET_MEAN,
    IMAGENET_STD,
    STREAM_SPECS,
    stream_spec,
)
from frame_select_env.store.atomic import atomic_torch_save, sha256_file

CHECKPOINT_FORMAT = "frame_select_env.stream/1"


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


# ----------------------------------------------------------------------------- checkpoints


def _plain(obj: Any, where: str) -> Any:
    # torch.load(weights_only=True) only accepts plain containers/scalars (and tensors)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(
        f"stream checkpoint: {where} has a {type(obj).__name__}; only plain types "
        "(str, int, float, bool, None, list, dict, paths) can be stored"
    )


def stream_checkpoint_dict(
    model: StreamModel,
    class_names: Sequence[str],
    config: Mapping[str, Any] | None = None,
    arch: str | None = None,
    backbone_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the plain (``weights_only``-loadable) per-stream checkpoint dict.

    :param model: the stream model
    :param class_names: the C class names, in label order
    :param config: training configuration to record (plain types only)
    :param arch: backbone architecture; default ``model.backbone.arch``
    :param backbone_kwargs: backbone options; default ``model.backbone.build_kwargs``
    :return: the checkpoint dict (tensors moved to CPU)
    """
    arch = arch if arch is not None else getattr(model.backbone, "arch", None)
    if arch is None:
        raise ValueError("stream_checkpoint_dict: arch unknown; pass arch= explicitly")
    if backbone_kwargs is None:
        backbone_kwargs = getattr(model.backbone, "build_kwargs", {})
    class_names = [str(c) for c in class_names]
    if len(class_names) != model.num_classes:
        raise ValueError(
            f"stream_checkpoint_dict: {len(class_names)} class names for a model with "
            f"{model.num_classes} classes"
        )
    return {
        "format": CHECKPOINT_FORMAT,
        "arch": str(arch),
        "in_channels": model.in_channels,
        "num_classes": model.num_classes,
        "feature_dim": model.feature_dim,
        "dropout": model.dropout_p,
        "backbone_kwargs": _plain(dict(backbone_kwargs), "backbone_kwargs"),
        "input_norm": model.input_norm,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "class_names": class_names,
        "config": _plain(dict(config or {}), "config"),
    }


def save_stream_checkpoint(
    path: str | os.PathLike[str],
    model: StreamModel,
    class_names: Sequence[str],
    config: Mapping[str, Any] | None = None,
    arch: str | None = None,
    backbone_kwargs: Mapping[str, Any] | None = None,
) -> Path:
    """Save a per-stream checkpoint atomically (tmp file in the same dir, then ``os.replace``).

    :param path: destination file
    :param model: see :func:`stream_checkpoint_dict` for the other parameters
    :return: the path written
    """
    path = Path(path)
    atomic_torch_save(
        stream_checkpoint_dict(model, class_names, config, arch, backbone_kwargs), path
    )
    return path


def read_stream_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate a per-stream checkpoint (plain or wrapped as ``{"model": ..., ...}``).

    :param path: checkpoint file
    :return: the per-stream checkpoint dict
    """
    path = Path(path)
    obj = load_torch_file(path, "stream checkpoint")
    if isinstance(obj, dict) and "format" not in obj and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        fmt = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(
            f"{path} is not a {CHECKPOINT_FORMAT!r} stream checkpoint (format: {fmt!r}); "
            "for public state dicts use frame_select_env.pipeline.models.weights.load_pretrained"
        )
    missing = [
        k
        for k in ("arch", "in_channels", "num_classes", "dropout", "state_dict", "class_names")
        if k not in obj
    ]
    if missing:
        raise ValueError(f"stream checkpoint {path} lacks keys {missing}")
    return obj


@overload
def load_stream_model(
    path: str | os.PathLike[str], return_checkpoint: Literal[False] = False
) -> StreamModel: ...


@overload
def load_stream_model(
    path: str | os.PathLike[str], return_checkpoint: Literal[True]
) -> tuple[StreamModel, dict[str, Any]]: ...


@overload
def load_stream_model(
    path: str | os.PathLike[str], return_checkpoint: bool = False
) -> StreamModel | tuple[StreamModel, dict[str, Any]]: ...


def load_stream_model(
    path: str | os.PathLike[str], return_checkpoint: bool = False
) -> StreamModel | tuple[StreamModel, dict[str, Any]]:
    """Rebuild a :class:`StreamModel` from a per-stream checkpoint (strict state-dict load).

    :param path: checkpoint file
    :param return_checkpoint: also return the checkpoint dict (class names, config, ...)
    :return: the model (in eval mode), or ``(model, checkpoint)``
    """
    ckpt = read_stream_checkpoint(path)
    model = stream_model_from_checkpoint(ckpt, path)
    return (model, ckpt) if return_checkpoint else model


def stream_model_from_checkpoint(ckpt: Mapping[str, Any], where: Any = "checkpoint") -> StreamModel:
    """Rebuild a :class:`StreamModel` from a per-stream checkpoint dict (strict state-dict load).

    :param ckpt: the dict of :func:`stream_checkpoint_dict`
    :param where: what to name in error messages (the file, ``file[rgb]``, ...)
    :return: the model in eval mode
    """
    model = build_stream_model(
        ckpt["arch"],
        int(ckpt["in_channels"]),
        int(ckpt["num_classes"]),
        float(ckpt["dropout"]),
        ckpt.get("backbone_kwargs") or {},
        ckpt.get("input_norm", "imagenet"),
    )
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as exc:
        raise ValueError(f"stream checkpoint {where}: state dict does not match: {exc}") from exc
    if len(ckpt["class_names"]) != model.num_classes:
        raise ValueError(
            f"stream checkpoint {where}: {len(ckpt['class_names'])} class names but "
            f"num_classes={model.num_classes}"
        )
    return model.eval()


# ----------------------------------------------------------------------------- two-stream file

TWO_STREAM_FORMAT = "frame_select_env.two_stream/1"


def save_two_stream_checkpoint(
    path: str | os.PathLike[str],
    stream_paths: Mapping[str, str | os.PathLike[str]],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Bundle per-stream checkpoints into one ``weights_only``-loadable two-stream file (atomic).

    Only what inference needs is kept (architecture, weights, class names, input
    normalisation, the training summary); optimizer state and the like are dropped. The sha256
    of every source file is recorded, so a store's ``classifier`` id (built from those hashes)
    can be traced back to this file.

    :param path: the file to write
    :param stream_paths: ``{"rgb": path, "flow": path}`` per-stream checkpoints
    :param extra: plain-typed extra information (e.g. the extraction settings)
    :return: the path written
    """
    streams, hashes = {}, {}
    for name, src in sorted(stream_paths.items()):
        ckpt = dict(read_stream_checkpoint(src))
        cfg = ckpt.get("config") or {}
        keep = ("epochs_trained", "best_val", "best_epoch", "final_val", "seed", "arch_kwargs")
        ckpt["config"] = {k: cfg[k] for k in keep if k in cfg}
        streams[name] = ckpt
        hashes[name] = sha256_file(src)
    names = {n: list(c["class_names"]) for n, c in streams.items()}
    if len({tuple(v) for v in names.values()}) != 1:
        raise ValueError(f"save_two_stream_checkpoint: streams disagree on class names: {names}")
    obj = {
        "format": TWO_STREAM_FORMAT,
        "streams": streams,
        "class_names": next(iter(names.values())),
        "stream_sha256": hashes,
        "extra": _plain(dict(extra or {}), "extra"),
    }
    atomic_torch_save(obj, path)
    return Path(path)


def read_two_stream_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check a two-stream file written by :func:`save_two_stream_checkpoint`.

    :param path: the file
    :return: its dict (``streams``, ``class_names``, ``stream_sha256``, ``extra``)
    """
    path = Path(path)
    obj = load_torch_file(path, "two-stream checkpoint")
    if not isinstance(obj, dict) or obj.get("format") != TWO_STREAM_FORMAT:
        fmt = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{path} is not a {TWO_STREAM_FORMAT!r} checkpoint (format: {fmt!r})")
    if not isinstance(obj.get("streams"), dict) or not obj["streams"]:
        raise ValueError(f"two-stream checkpoint {path} has no streams")
    return obj


# ----------------------------------------------------------------------------- classifier


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
