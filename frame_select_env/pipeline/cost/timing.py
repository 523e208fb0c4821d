"""Measured seconds: decoding, optical flow and each stream's CNN, on one core of this machine.

Seconds are measured, never assumed, and mean nothing without the machine they were measured
on (:func:`machine_info`, recorded with them).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.pipeline.streams import stream_spec
from frame_select_env.pipeline.video import flow as _flow

#: the flow methods timed, in alphabetical order (the order of the cost dict)
FLOW_METHODS: tuple[str, ...] = tuple(sorted(_flow.FLOW_METHODS))


def machine_info() -> dict[str, Any]:
    """Where seconds were measured (they mean nothing without it).

    :return: the CPU, core count, platform, torch and OpenCV versions and the thread setting.
    """
    import cv2
    import torch

    cpu = platform.processor() or platform.machine()
    try:  # the model name is more useful than "x86_64" where /proc/cpuinfo exists
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "torch": torch.__version__, "opencv": cv2.__version__, "threads": 1,
            "note": "measured with 1 torch / OpenCV thread; the machine may have been shared"}


def _median_seconds(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure_flow_seconds(
    frames: Sequence[np.ndarray], methods: Sequence[str] = FLOW_METHODS,
    max_pairs: Mapping[str, int] | None = None,
) -> dict[str, float]:
    """Median seconds per frame pair of each flow method on consecutive real frames.

    :param frames: >= 2 consecutive (H, W, 3) uint8 RGB frames of one size.
    :param methods: flow methods of :func:`frame_select_env.pipeline.video.flow.compute_flow`.
    :param max_pairs: pairs timed per method (default 3 for tvl1, 10 for the others).
    :return: method -> median seconds per frame pair.
    """
    import cv2

    from frame_select_env.pipeline.video.flow import compute_flow

    if len(frames) < 2:
        raise ValueError(f"measure_flow_seconds: need >= 2 frames, got {len(frames)}")
    limits = {"tvl1": 3, **dict(max_pairs or {})}
    old = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        out = {}
        for method in methods:
            compute_flow(frames[0], frames[1], method)  # builds the estimator, warms caches
            n = min(len(frames) - 1, limits.get(method, 10))
            times = []
            for i in range(n):
                start = time.perf_counter()
                compute_flow(frames[i], frames[i + 1], method)
                times.append(time.perf_counter() - start)
            out[method] = float(np.median(times))
        return out
    finally:
        cv2.setNumThreads(old)


def measure_decode_seconds(path: str | os.PathLike, size: tuple[int, int]) -> dict[str, float]:
    """Seconds per frame to grab (demux + decode) and to retrieve + convert + resize a frame.

    Timed with OpenCV exactly as :func:`frame_select_env.pipeline.video.decode.read_frames` reads: a
    sequential pass that grabs every frame up to the last needed one and retrieves (colour
    conversion, resize) the needed ones.

    :param path: a video file.
    :param size: (W, H) the frames are resized to.
    :return: ``grab_seconds_per_frame`` and ``retrieve_seconds_per_frame`` (medians).
    """
    import cv2

    from frame_select_env.pipeline.video.decode import _resize_rgb

    old = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise ValueError(f"measure_decode_seconds: cannot open {str(path)!r}")
        grab, retrieve = [], []
        while True:
            start = time.perf_counter()
            ok = cap.grab()
            grab.append(time.perf_counter() - start)
            if not ok:
                grab.pop()
                break
            start = time.perf_counter()
            ok, bgr = cap.retrieve()
            if ok:
                _resize_rgb(bgr, size)
            retrieve.append(time.perf_counter() - start)
        cap.release()
    finally:
        cv2.setNumThreads(old)
    if not grab:
        raise ValueError(f"measure_decode_seconds: no decodable frame in {str(path)!r}")
    return {"grab_seconds_per_frame": float(np.median(grab)),
            "retrieve_seconds_per_frame": float(np.median(retrieve))}


def measure_cnn_seconds_per_crop(
    arch: str, stream: str, in_channels: int, num_classes: int, crop: int, size: tuple[int, int],
    backbone_kwargs: Mapping[str, Any] | None = None, num_frames: int = 25, num_views: int = 10,
    repeats: int = 3,
) -> float:
    """Seconds per crop of one stream on this CPU: ten-crop views, preprocessing and forward.

    Timing does not depend on the weights, so a freshly built network of the architecture runs
    on a video's worth of views (``num_frames`` x ``num_views``) the way extraction runs it.

    :param arch: backbone name.
    :param stream: a registered stream (``rgb``, ``flow``, ...).
    :param in_channels: the stream's input channels (3, 2L, ...).
    :param num_classes: C.
    :param crop: crop side.
    :param size: (W, H) of the frames the views are cut from.
    :param backbone_kwargs: architecture options.
    :param num_frames: frames per timed call.
    :param num_views: crops per frame.
    :param repeats: timed calls (the median is kept).
    :return: median seconds per crop.
    """
    import torch

    from frame_select_env.pipeline.models.classifier import TwoStreamClassifier, build_stream_model
    from frame_select_env.pipeline.video.views import view_at

    model = build_stream_model(arch, in_channels, num_classes, 0.0, backbone_kwargs)
    clf = TwoStreamClassifier({stream: model}, [f"c{i}" for i in range(num_classes)], "cpu")
    rng = np.random.default_rng(0)
    w, h = size
    spec = stream_spec(stream)
    # inputs of the stream's layout and dtype (timing does not depend on their values)
    shape = (num_frames, h, w, in_channels) if spec.layout == "hwc" else (
        num_frames, in_channels, h, w)
    if spec.dtype == "uint8":
        x = rng.integers(0, 256, shape, dtype=np.uint8)
    else:
        x = rng.uniform(-1, 1, shape).astype(np.float32)
    layout, is_flow = spec.layout, spec.flip_negates_x

    def run() -> None:
        views = np.stack([view_at(x, v, crop, layout, is_flow) for v in range(num_views)], axis=1)
        clf.extract(stream, views)

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run()  # warm-up (allocator, oneDNN kernels)
        seconds = _median_seconds(run, repeats)
    finally:
        torch.set_num_threads(old)
    return seconds / (num_frames * num_views)


def measure_seconds(
    streams: Mapping[str, Mapping[str, Any]], num_classes: int, extraction: Mapping[str, Any],
    flow_frames: Mapping[str, Sequence[np.ndarray]], decode_video: str | os.PathLike,
) -> dict[str, Any]:
    """Measure every seconds figure a cost dict needs, on this machine, one core.

    :param streams: as :func:`~frame_select_env.pipeline.cost.build_cost`.
    :param num_classes: C.
    :param extraction: as :func:`~frame_select_env.pipeline.cost.build_cost` (``size`` is the
        decode/resize size).
    :param flow_frames: label (e.g. ``"160x120"``) -> consecutive real frames at that size; the
        label equal to ``WxH`` of ``extraction["size"]`` is the one the cost model uses.
    :param decode_video: a video file of the store's kind (container, codec, resolution).
    :return: ``machine``, ``decode``, ``decode_video``, ``flow_seconds_per_pair`` (label ->
        method -> seconds), ``size_key`` and ``cnn_seconds_per_crop`` (stream -> seconds).
    """
    width, height = (int(s) for s in extraction["size"])
    size = (width, height)
    length = int(extraction["flow_length"])
    flow = {label: measure_flow_seconds(frames) for label, frames in flow_frames.items()}
    cnn = {}
    for name, spec in streams.items():
        in_ch = stream_spec(name).in_channels(length)
        cnn[name] = measure_cnn_seconds_per_crop(
            spec["arch"], name, in_ch, num_classes, int(extraction["crop"]), size,
            spec.get("backbone_kwargs"), int(extraction["num_frames"]),
            int(extraction["num_views"]))
    return {"machine": machine_info(), "decode": measure_decode_seconds(decode_video, size),
            "decode_video": Path(decode_video).name,
            "flow_seconds_per_pair": flow, "size_key": f"{size[0]}x{size[1]}",
            "cnn_seconds_per_crop": cnn}
