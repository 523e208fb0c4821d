"""The stream registry: what each input stream of the classifier is, declared once.

A :class:`StreamSpec` says everything the pipeline needs to know about a stream:

* its **input**: how many consecutive frames one sample decodes (``window(L)``; RGB 1, flow
  L + 1 for L fields), how the network input is built from them (``build``; RGB the frame
  itself, flow L TV-L1/DIS fields stacked to 2L channels), its layout (``hwc`` uint8 frames or
  ``chw`` float stacks) and its channel count (``in_channels(L)``);
* its **sampling**: the TSN test protocol, ``sample_indices(n, T, window)`` window starts;
* its **preprocessing**: raw views -> normalised network input (``preprocess``, per
  ``input_norm``);
* its **default backbone** and TSN dropout;
* its **cost**: the frames it decodes (its windows), whether optical flow runs on each window's
  consecutive pairs (``flow_pairs``), and the CNN MACs of its backbone at ``in_channels(L)``.

Extraction (:mod:`frame_select_env.pipeline.extract`), the classifier
(:mod:`frame_select_env.pipeline.models.
classifier`), the TSN config, the cost model and the online store read :data:`STREAM_SPECS`, so
a new stream (TSN's RGB difference, a low-resolution preview) is one :func:`register_stream`
call. This module imports neither torch nor cv2 (the functions import them when called).

A stream registered at run time exists in the process that registered it (and its threads):
extraction with ``workers > 0`` and ``pool="process"`` spawn fresh interpreters, so register it
in a module those import (or extract with ``workers=0`` / threads).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: ``build(windows, starts, cfg)``: windows (T, window, H, W, 3) uint8 RGB frames, their first
#: frame indices (T,) and the ExtractConfig -> the stream's input (T, ...)
BuildFn = Callable[[np.ndarray, np.ndarray, Any], np.ndarray]
#: ``preprocess(views, in_channels, input_norm, device)``: raw views (a tensor (..., sample))
#: -> float32 network input (N, C_in, H, W) on ``device``
PreprocessFn = Callable[[Any, int, str, Any], Any]
#: ``precomputed(path, cfg)``: inputs read from a raw-frame folder instead of built from frames,
#: as ``(inputs (T, ...), window starts (T,))``, or ``None`` when the folder has none
PrecomputedFn = Callable[[Any, Any], "tuple[np.ndarray, np.ndarray] | None"]


@dataclass(frozen=True)
class StreamSpec:
    """One input stream of the classifier.

    :param name: the stream's name in stores, checkpoints and classifiers
    :param window: L -> consecutive frames one sample decodes
    :param in_channels: L -> network input channels
    :param build: see :data:`BuildFn`
    :param preprocess: see :data:`PreprocessFn`
    :param layout: ``"hwc"`` (channels last, e.g. uint8 frames) or ``"chw"`` (channels first)
    :param dtype: the raw input's dtype (``uint8`` or ``float32``; timing makes inputs of it)
    :param flip_negates_x: a horizontal flip negates the x channels (optical flow)
    :param flow_pairs: optical flow runs on each window's consecutive frame pairs (cost)
    :param default_arch: the backbone used when none is given
    :param dropout: TSN's dropout before the classifier for this stream
    :param channels_ok: whether a network with that many input channels fits the stream
    :param channels_doc: how the channels are described in errors (``"3"``, ``"2L"``)
    :param input_doc: the raw views' shape in errors, e.g. ``"(T, V, H, W, 3)"``
    :param precomputed: see :data:`PrecomputedFn` (``None``: always built from frames)
    :param tsn_trainable: the TSN data loader (:mod:`frame_select_env.pipeline.tsn.data`) reads this
        stream's inputs (RGB frames and flow stacks only)
    """

    name: str
    window: Callable[[int], int]
    in_channels: Callable[[int], int]
    build: BuildFn
    preprocess: PreprocessFn
    layout: str = "hwc"
    dtype: str = "uint8"
    flip_negates_x: bool = False
    flow_pairs: bool = False
    default_arch: str = "bninception"
    dropout: float = 0.5
    channels_ok: Callable[[int], bool] | None = None
    channels_doc: str = "C"
    input_doc: str = "(T, V, ...)"
    precomputed: PrecomputedFn | None = None
    tsn_trainable: bool = False

    def accepts_channels(self, channels: int) -> bool:
        """Whether a network with ``channels`` inputs fits this stream (``channels_ok``)."""
        return True if self.channels_ok is None else bool(self.channels_ok(channels))


#: name -> spec, in registration order: the order streams are extracted and stored in
STREAM_SPECS: dict[str, StreamSpec] = {}


def register_stream(spec: StreamSpec, *, replace: bool = False) -> StreamSpec:
    """Add a stream to :data:`STREAM_SPECS`.

    :param spec: the stream
    :param replace: allow redefining a registered name
    :return: ``spec``
    :raises ValueError: the name is taken (or ``fused``, the env's late-fusion name), or the
        layout or dtype is unknown
    """
    if not spec.name or spec.name == "fused":
        raise ValueError(f"register_stream: bad stream name {spec.name!r}")
    if spec.name in STREAM_SPECS and not replace:
        raise ValueError(f"register_stream: stream {spec.name!r} is already registered "
                         "(pass replace=True to redefine it)")
    if spec.layout not in ("hwc", "chw"):
        raise ValueError(f"register_stream({spec.name!r}): layout must be 'hwc' or 'chw', "
                         f"got {spec.layout!r}")
    if spec.dtype not in ("uint8", "float32"):
        raise ValueError(f"register_stream({spec.name!r}): dtype must be 'uint8' or 'float32', "
                         f"got {spec.dtype!r}")
    STREAM_SPECS[spec.name] = spec
    return spec


def unregister_stream(name: str) -> None:
    """Remove a registered stream (tests that register one clean up with this).

    :param name: the stream
    """
    STREAM_SPECS.pop(name, None)


def stream_spec(name: str) -> StreamSpec:
    """The spec of a registered stream.

    :param name: the stream
    :return: its spec
    :raises ValueError: naming the stream and the registered ones
    """
    spec = STREAM_SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown stream {name!r}; registered streams: {tuple(STREAM_SPECS)} "
                         "(frame_select_env.pipeline.streams.register_stream adds one)")
    return spec


def ordered_streams(names: Iterable[str]) -> list[str]:
    """``names`` in registry order (unregistered names last, as given).

    Extraction writes a classifier's streams in this order, whatever order its file lists
    them in, so one store layout comes out of every classifier file.
    """
    names = list(names)
    return [s for s in STREAM_SPECS if s in names] + [s for s in names if s not in STREAM_SPECS]


# ----------------------------------------------------------------------------- rgb


def _build_rgb(windows: np.ndarray, starts: np.ndarray, cfg: Any) -> np.ndarray:
    return windows[:, 0]


_NORM_CACHE: dict[tuple[str, str], tuple[Any, Any]] = {}


def _rgb_stats(norm: str, device: Any) -> tuple[Any, Any]:
    import torch

    key = (norm, str(device))
    if key not in _NORM_CACHE:
        if norm == "caffe_bgr":
            mean, std = (104.0, 117.0, 128.0), (1.0, 1.0, 1.0)
        else:
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        _NORM_CACHE[key] = (
            torch.tensor(mean, device=device).view(1, 3, 1, 1),
            torch.tensor(std, device=device).view(1, 3, 1, 1),
        )
    return _NORM_CACHE[key]


def _preprocess_rgb(x: Any, in_channels: int, input_norm: str, device: Any) -> Any:
    import torch

    if x.dtype != torch.uint8:
        raise ValueError(f"preprocess(rgb): expected uint8 views, got {x.dtype}")
    if x.ndim < 3 or x.shape[-1] != 3:
        raise ValueError(f"preprocess(rgb): expected (..., H, W, 3), got {tuple(x.shape)}")
    x = x.reshape(-1, *x.shape[-3:]).to(device, non_blocking=True)
    x = x.permute(0, 3, 1, 2).float()
    mean, std = _rgb_stats(input_norm, device)
    if input_norm == "caffe_bgr":
        return x.flip(1) - mean
    return (x.div_(255.0) - mean) / std


# ----------------------------------------------------------------------------- flow


def _build_flow(windows: np.ndarray, starts: np.ndarray, cfg: Any) -> np.ndarray:
    from frame_select_env.pipeline.video.flow import video_flow_stacks

    flow = video_flow_stacks(windows, starts, cfg.flow_method)
    return flow.astype(np.float32, copy=False)


def _precomputed_flow(path: Any, cfg: Any) -> tuple[np.ndarray, np.ndarray] | None:
    from frame_select_env.pipeline.video.decode import count_rawframes, load_flow_segments

    if not (path.is_dir() and count_rawframes(path, "flow_x_") >= cfg.flow_length):
        return None
    flow, starts, _ = load_flow_segments(path, cfg.num_frames, cfg.flow_length, cfg.size,
                                         return_indices=True)
    return flow.astype(np.float32, copy=False), np.asarray(starts)


def _preprocess_flow(x: Any, in_channels: int, input_norm: str, device: Any) -> Any:
    import torch

    c = in_channels
    if x.ndim < 3 or x.shape[-3] != c:
        raise ValueError(
            f"preprocess(flow): expected (..., {c}, H, W) for L={c // 2}, got {tuple(x.shape)}"
        )
    if not torch.is_floating_point(x):
        raise ValueError(f"preprocess(flow): expected float views in [-1, 1], got {x.dtype}")
    x = x.reshape(-1, *x.shape[-3:]).to(device, torch.float32, non_blocking=True)
    if input_norm == "caffe_bgr":  # v - 128 with v = 127.5 x + 127.5
        return x * 127.5 - 0.5
    if input_norm == "tsn_torchvision":  # (v / 255 - 0.5) / mean(ImageNet std)
        return x * (0.5 / float(np.mean(IMAGENET_STD)))
    return x


register_stream(StreamSpec(
    name="rgb", window=lambda length: 1, in_channels=lambda length: 3,
    build=_build_rgb, preprocess=_preprocess_rgb, layout="hwc", dtype="uint8",
    default_arch="bninception", dropout=0.8, channels_ok=lambda c: c == 3, channels_doc="3",
    input_doc="(T, V, H, W, 3)", tsn_trainable=True,
))
register_stream(StreamSpec(
    name="flow", window=lambda length: length + 1, in_channels=lambda length: 2 * length,
    build=_build_flow, preprocess=_preprocess_flow, layout="chw", dtype="float32",
    flip_negates_x=True, flow_pairs=True, default_arch="bninception", dropout=0.7,
    channels_ok=lambda c: c % 2 == 0, channels_doc="2L", input_doc="(T, V, 2L, H, W)",
    precomputed=_precomputed_flow, tsn_trainable=True,
))
# The preview: RGB frames downscaled (the built-in store: 80x60, one 56 px centre crop) for a
# small CNN that is observed on all T frames; rgb and flow are then paid frame by frame. It is an
# observe-only stream of a store (not in its two-stream fusion), so its inputs are RGB's.
PREVIEW = "preview"
register_stream(StreamSpec(
    name=PREVIEW, window=lambda length: 1, in_channels=lambda length: 3,
    build=_build_rgb, preprocess=_preprocess_rgb, layout="hwc", dtype="uint8",
    default_arch="small", dropout=0.0, channels_ok=lambda c: c == 3, channels_doc="3",
    input_doc="(T, V, H, W, 3)", tsn_trainable=True,
))
