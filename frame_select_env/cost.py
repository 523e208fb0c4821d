"""Compute cost of recognising a video: counted multiply-accumulates and measured seconds.

Units, used everywhere in the project:

* **MACs** (multiply-accumulates). ``torch.utils.flop_counter.FlopCounterMode`` counts FLOPs of
  the matrix products and convolutions a forward pass runs, with one multiply-add = 2 FLOPs;
  :func:`count_macs` divides by 2. Element-wise work (BatchNorm, ReLU, pooling, softmax) is not
  counted, as in the MAC figures of the literature (OCSampler, AR-Net, FrameExit report
  "GFLOPs" that are in fact GMACs). Tables give GMACs (1e9 MACs) per video.
* **seconds**: wall-clock seconds on one core of the machine recorded in the cost dict
  (``machine``), measured, never assumed: decoding (grab and retrieve + resize per frame),
  optical flow per frame pair of each method (``dis``, ``farneback``, ``tvl1``), and each
  stream's CNN per crop. The agent's seconds are measured where it runs (the evaluation).

The *cost dict* (:func:`build_cost`) is what extraction stores in the store's metadata under
``"cost"``; :func:`store_cost` reads it back (or, for the built-in store, whose metadata predates
it, the shipped ``data/sparse_actions_cost.json``). :class:`CostModel` turns "which (frame, crop)
pairs of which stream were computed" into per-video MACs and seconds. A stream the agent observes
is computed on all T frames; a stream it only predicts with is computed on the kept frames only
(select-before-compute). Flow stacks of neighbouring sampled frames overlap on short videos, and
the extractor computes each frame pair once, so flow seconds count *distinct* frame pairs, from
the video's frame count where known.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.video.decode import sample_indices

COST_FORMAT = "frame_select_cost/1"
MAC_UNIT = "MACs (multiply-accumulates of matmuls and convolutions; 1 MAC = 2 FLOPs)"
SECONDS_UNIT = "wall-clock seconds on one CPU core of the recorded machine"
BUILTIN_COST_JSON = Path(__file__).resolve().parent / "data" / "sparse_actions_cost.json"
FLOW_METHODS = ("dis", "farneback", "tvl1")


# ----------------------------------------------------------------------------- counting MACs


def count_macs(module: Any, *inputs: Any) -> int:
    """MACs of one forward pass of ``module(*inputs)``, counted by ``FlopCounterMode``.

    ``FlopCounterMode`` does not see inside the fused ``aten::lstm`` kernel (it reports 0 for an
    ``nn.LSTM``), so every ``nn.LSTM`` is counted by running the same computation as
    ``nn.LSTMCell`` steps (which it does count) for the sequence length the forward pass used.

    :param module: a ``torch.nn.Module`` (put in eval mode by the caller if it matters).
    :param inputs: the forward pass's arguments (any batch size; MACs scale with it).
    :return: MACs (FLOPs / 2).
    """
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    seen: list[tuple[nn.LSTM, int, int]] = []

    def hook(mod: nn.LSTM, args: tuple, _out: Any) -> None:
        x = args[0]
        batch_first = mod.batch_first
        seq = int(x.shape[1] if batch_first else x.shape[0]) if x.ndim == 3 else int(x.shape[0])
        batch = int(x.shape[0] if batch_first else x.shape[1]) if x.ndim == 3 else 1
        seen.append((mod, seq, batch))

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.LSTM)]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    flops = int(counter.get_total_flops())
    for lstm, seq, batch in seen:
        flops += 2 * _lstm_macs_by_cells(lstm, seq, batch)
    return flops // 2


def _lstm_macs_by_cells(lstm: Any, seq_len: int, batch: int) -> int:
    """MACs of an ``nn.LSTM`` over ``seq_len`` steps, counted on equivalent ``LSTMCell`` steps."""
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    if getattr(lstm, "proj_size", 0):
        raise ValueError("count_macs: nn.LSTM with proj_size is not supported")
    directions = 2 if lstm.bidirectional else 1
    total = 0
    for layer in range(lstm.num_layers):
        in_size = lstm.input_size if layer == 0 else lstm.hidden_size * directions
        cell = nn.LSTMCell(in_size, lstm.hidden_size, bias=lstm.bias)
        x = torch.zeros(batch, in_size)
        h = (torch.zeros(batch, lstm.hidden_size), torch.zeros(batch, lstm.hidden_size))
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            for _ in range(seq_len):
                h = cell(x, h)
        total += directions * int(counter.get_total_flops()) // 2
    return total


def stream_macs_per_crop(
    arch: str,
    in_channels: int,
    num_classes: int,
    crop: int,
    backbone_kwargs: Mapping[str, Any] | None = None,
) -> int:
    """MACs of one stream (backbone F + classifier CL) on one ``crop`` x ``crop`` input.

    MACs do not depend on the weights, so the network is built from its architecture only.

    :param arch: backbone name (:data:`frame_select_env.models.backbones.ARCHS`).
    :param in_channels: 3 for RGB, 2L for a flow stack.
    :param num_classes: C of the classifier.
    :param crop: input side in pixels.
    :param backbone_kwargs: architecture options (e.g. SmallCNN's ``feature_dim``, ``width``).
    """
    import torch

    from frame_select_env.models.classifier import build_stream_model

    if crop < 1 or in_channels < 1 or num_classes < 1:
        raise ValueError(f"stream_macs_per_crop: crop, in_channels and num_classes must be >= 1, "
                         f"got {crop}, {in_channels}, {num_classes}")
    model = build_stream_model(arch, in_channels, num_classes, 0.0, backbone_kwargs).eval()
    return count_macs(model, torch.zeros(1, in_channels, crop, crop))


def agent_macs_per_sequence(agent: Any, num_frames: int) -> int:
    """MACs of one forward pass of an :class:`agents.as_agent.ASAgent` over T frames (one view).

    :param agent: the agent (its config gives the input sizes).
    :param num_frames: T.
    """
    import torch

    cfg = agent.config
    obs = {"features": torch.zeros(1, num_frames, cfg.feature_dim),
           "predictions": torch.full((1, num_frames, cfg.num_classes), 1.0 / cfg.num_classes)}
    was_training = agent.training
    agent.eval()
    try:
        return count_macs(_AgentLogits(agent), {k: obs[k] for k in cfg.parts})
    finally:
        agent.train(was_training)


class _AgentLogits:
    """``module(obs)`` view of an agent for :func:`count_macs` (which calls ``module(*inputs)``)."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent

    def modules(self) -> Any:
        return self.agent.modules()

    def __call__(self, obs: Mapping[str, Any]) -> Any:
        return self.agent.logits(obs)


# ----------------------------------------------------------------------------- measuring seconds


def machine_info() -> dict[str, Any]:
    """Where seconds were measured (they mean nothing without it)."""
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
    :param methods: flow methods of :func:`frame_select_env.video.flow.compute_flow`.
    :param max_pairs: pairs timed per method (default 3 for tvl1, 10 for the others).
    """
    import cv2

    from frame_select_env.video.flow import compute_flow

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

    Timed with OpenCV exactly as :func:`frame_select_env.video.decode.read_frames` reads: a
    sequential pass that grabs every frame up to the last needed one and retrieves (colour
    conversion, resize) the needed ones.

    :param path: a video file.
    :param size: (W, H) the frames are resized to.
    """
    import cv2

    from frame_select_env.video.decode import _resize_rgb

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
    :param stream: ``rgb`` or ``flow``.
    :param in_channels: 3 or 2L.
    :param num_classes: C.
    :param crop: crop side.
    :param size: (W, H) of the frames the views are cut from.
    :param backbone_kwargs: architecture options.
    :param num_frames: frames per timed call.
    :param num_views: crops per frame.
    :param repeats: timed calls (the median is kept).
    """
    import torch

    from frame_select_env.models.classifier import TwoStreamClassifier, build_stream_model
    from frame_select_env.video.views import view_at

    model = build_stream_model(arch, in_channels, num_classes, 0.0, backbone_kwargs)
    clf = TwoStreamClassifier({stream: model}, [f"c{i}" for i in range(num_classes)], "cpu")
    rng = np.random.default_rng(0)
    w, h = size
    if stream == "rgb":
        x = rng.integers(0, 256, (num_frames, h, w, 3), dtype=np.uint8)
        layout, is_flow = "hwc", False
    else:
        x = rng.uniform(-1, 1, (num_frames, in_channels, h, w)).astype(np.float32)
        layout, is_flow = "chw", True

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


# ----------------------------------------------------------------------------- the cost dict


def build_cost(
    streams: Mapping[str, Mapping[str, Any]],
    num_classes: int,
    extraction: Mapping[str, Any],
    measured: Mapping[str, Any] | None = None,
    num_video_frames: Sequence[int] | None = None,
) -> dict[str, Any]:
    """The cost dict of a store: MACs counted from the architectures, plus measured seconds.

    :param streams: stream -> ``{"arch": ..., "backbone_kwargs": {...}}`` (flow's in_channels is
        2L from ``extraction["flow_length"]``).
    :param num_classes: C.
    :param extraction: the extraction config (``crop``, ``num_views``, ``num_frames``,
        ``flow_length``, ``flow_method``, ``size``), e.g. ``asdict(ExtractConfig)``.
    :param measured: measured seconds (see :func:`measure_seconds`); ``None`` leaves seconds out.
    :param num_video_frames: frame count of every store row (lets flow and decoding count the
        distinct frame pairs and frames of overlapping windows); ``None`` = unknown.
    """
    for key in ("crop", "num_views", "num_frames", "flow_length", "flow_method"):
        if key not in extraction:
            raise ValueError(f"build_cost: extraction config has no {key!r} "
                             f"(keys {sorted(extraction)})")
    length = int(extraction["flow_length"])
    crop = int(extraction["crop"])
    out_streams = {}
    for name, spec in streams.items():
        if "arch" not in spec:
            raise ValueError(f"build_cost: stream {name!r} has no 'arch' (got {dict(spec)})")
        in_ch = 3 if name == "rgb" else 2 * length
        kwargs = dict(spec.get("backbone_kwargs") or {})
        out_streams[name] = {
            "arch": spec["arch"], "backbone_kwargs": kwargs, "in_channels": in_ch,
            "macs_per_crop": stream_macs_per_crop(spec["arch"], in_ch, num_classes, crop, kwargs),
        }
        if measured and name in measured.get("cnn_seconds_per_crop", {}):
            out_streams[name]["seconds_per_crop"] = float(measured["cnn_seconds_per_crop"][name])
    cost: dict[str, Any] = {
        "format": COST_FORMAT, "unit_macs": MAC_UNIT, "unit_seconds": SECONDS_UNIT,
        "num_classes": int(num_classes), "crop": crop, "num_views": int(extraction["num_views"]),
        "num_frames": int(extraction["num_frames"]), "flow_length": length,
        "flow_method": str(extraction["flow_method"]),
        "size": list(extraction.get("size") or []), "streams": out_streams,
    }
    if measured:
        cost["seconds"] = {k: v for k, v in measured.items() if k != "cnn_seconds_per_crop"}
    if num_video_frames is not None:
        cost["num_video_frames"] = [int(n) for n in num_video_frames]
    return cost


def measure_seconds(
    streams: Mapping[str, Mapping[str, Any]], num_classes: int, extraction: Mapping[str, Any],
    flow_frames: Mapping[str, Sequence[np.ndarray]], decode_video: str | os.PathLike,
) -> dict[str, Any]:
    """Measure every seconds figure a cost dict needs, on this machine, one core.

    :param streams: as :func:`build_cost`.
    :param num_classes: C.
    :param extraction: as :func:`build_cost` (``size`` is the decode/resize size).
    :param flow_frames: label (e.g. ``"160x120"``) -> consecutive real frames at that size; the
        label equal to ``WxH`` of ``extraction["size"]`` is the one the cost model uses.
    :param decode_video: a video file of the store's kind (container, codec, resolution).
    """
    size = tuple(int(s) for s in extraction["size"])
    length = int(extraction["flow_length"])
    flow = {label: measure_flow_seconds(frames) for label, frames in flow_frames.items()}
    cnn = {}
    for name, spec in streams.items():
        in_ch = 3 if name == "rgb" else 2 * length
        cnn[name] = measure_cnn_seconds_per_crop(
            spec["arch"], name, in_ch, num_classes, int(extraction["crop"]), size,
            spec.get("backbone_kwargs"), int(extraction["num_frames"]),
            int(extraction["num_views"]))
    return {"machine": machine_info(), "decode": measure_decode_seconds(decode_video, size),
            "decode_video": Path(decode_video).name,
            "flow_seconds_per_pair": flow, "size_key": f"{size[0]}x{size[1]}",
            "cnn_seconds_per_crop": cnn}


ARCHITECTURE_FILE = "architecture.json"


def extraction_metadata(
    classifier: Any | None, parts_dir: str | os.PathLike, extraction: Mapping[str, Any],
    video_frames: Mapping[str, int], measure_video: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """The cost entries extraction adds to a store's metadata.

    * ``"cost"``: MACs counted from the classifier's architectures: deterministic, so a rebuilt
      store stays byte-identical and the shards of one extraction agree (they merge);
    * ``"video_frames"``: ``{video id: frame count}`` of this store's videos (per shard;
      ``scripts/merge_stores.py`` joins them), for the distinct flow pairs of overlapping windows;
    * ``"cost_seconds"``: measured seconds, only when ``measure_video`` is given (flow on its
      first frames, decoding of the file, the CNNs; timing does not depend on the weights).

    The architectures are kept in ``parts_dir`` so that a resumed run, which loads no
    classifier, still writes the cost.

    :param classifier: the :class:`~frame_select_env.models.classifier.TwoStreamClassifier`, or
        ``None`` when the run loaded none (every video was done before).
    :param parts_dir: the extraction's part folder.
    :param extraction: ``asdict(ExtractConfig)``.
    :param video_frames: video id -> frame count.
    :param measure_video: a video file of the dataset to time on, or ``None`` (no seconds).
    :return: the metadata entries; only ``video_frames`` when no architecture is known (no
        classifier and no saved architecture).
    """
    from frame_select_env.atomic import atomic_write_text

    saved = Path(parts_dir) / ARCHITECTURE_FILE
    if classifier is not None:
        streams = {}
        for name, model in classifier.streams.items():
            backbone = model.backbone
            if getattr(backbone, "arch", None) is None:
                raise ValueError(f"extraction_cost: the {name!r} backbone "
                                 f"({type(backbone).__name__}) records no .arch")
            streams[name] = {"arch": backbone.arch,
                             "backbone_kwargs": dict(getattr(backbone, "build_kwargs", {}) or {})}
        spec = {"streams": streams, "num_classes": int(classifier.num_classes)}
        atomic_write_text(saved, json.dumps(spec, sort_keys=True))
    elif saved.is_file():
        spec = json.loads(saved.read_text())
    else:
        return {"video_frames": dict(video_frames)}
    out: dict[str, Any] = {"video_frames": {str(k): int(v) for k, v in video_frames.items()}}
    if measure_video is not None:
        from frame_select_env.video.decode import count_frames, read_frames

        size = tuple(int(v) for v in extraction["size"])
        n = min(12, count_frames(measure_video))
        frames = read_frames(measure_video, range(n), size=size)
        measured = measure_seconds(spec["streams"], spec["num_classes"], extraction,
                                   {f"{size[0]}x{size[1]}": [frames[i] for i in range(n)]},
                                   measure_video)
        out["cost_seconds"] = {
            **{k: v for k, v in measured.items() if k != "cnn_seconds_per_crop"},
            "cnn_seconds_per_crop": measured["cnn_seconds_per_crop"]}
    out["cost"] = build_cost(spec["streams"], spec["num_classes"], extraction)
    return out


# ----------------------------------------------------------------------------- the built-in store


def builtin_architecture(meta_json: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Stream architectures of the built-in store from ``sparse_actions.json``.

    The store's metadata predates cost accounting and names no architecture; the build records
    each stream's ``arch_kwargs`` and TSN config, whose ``arch`` is SmallCNN (``small``).

    :param meta_json: the parsed ``sparse_actions.json``.
    """
    training = meta_json.get("tsn_training")
    if not training:
        raise ValueError("builtin_architecture: sparse_actions.json has no 'tsn_training'")
    out = {}
    for stream, info in training.items():
        arch = "small"
        cfg = (meta_json.get("tsn_configs") or {}).get(stream)
        path = Path(__file__).resolve().parents[1] / cfg if cfg else None
        if path is not None and path.is_file():
            import yaml

            arch = (yaml.safe_load(path.read_text()) or {}).get("arch", arch)
        out[stream] = {"arch": arch, "backbone_kwargs": dict(info.get("arch_kwargs") or {})}
    return out


def sparse_actions_frame_counts(store: Any) -> np.ndarray | None:
    """Frame count of every row of a SparseActions store, recovered from the generator's seeds.

    The count is the generator's first random draw for the video; it is checked against the
    store's ground-truth relevance (which depends on it through the sampled frame positions),
    and ``None`` is returned, with a warning, when that check fails or the generator changed.

    :param store: a :class:`frame_select_env.store.FeatureStore` of the built-in kind.
    """
    try:
        from frame_select_env.sparse_actions import (
            SparseActionsConfig,
            _rng_for,
            plan_dataset,
        )
    except ImportError as err:
        warnings.warn(f"sparse_actions_frame_counts: generator not importable ({err})",
                      stacklevel=2)
        return None
    meta = store.metadata
    gen = SparseActionsConfig(**meta.get("generator", {}))
    seed = int(meta.get("seed", 0))
    ids = [str(v) for v in store.video_ids]
    splits = dict.fromkeys(v.split("/", 1)[0] for v in ids)
    names = store.class_names
    counts = {s: sum(1 for v in ids if v.startswith(f"{s}/")) // max(1, len(names))
              for s in splits}
    index = {r.video_id: r.index for r in plan_dataset(counts)}
    rel = store.relevance(np.arange(len(ids)))
    out = np.empty(len(ids), np.int64)
    for row, vid in enumerate(ids):
        if vid not in index:
            warnings.warn(f"sparse_actions_frame_counts: {vid!r} is not in the dataset plan",
                          stacklevel=2)
            return None
        rng = _rng_for(seed, index[vid])
        n = int(rng.integers(gen.min_frames, gen.max_frames + 1))
        # The action window is the next two draws; relevance at the sampled frames checks n.
        win = max(2, int(round(n * rng.uniform(*gen.window_frac))))
        start = int(rng.integers(0, n - win + 1))
        idx = sample_indices(n, store.num_frames, 1)
        if rel is not None and not np.array_equal((idx >= start) & (idx < start + win),
                                                  np.asarray(rel[row]).astype(bool)):
            warnings.warn("sparse_actions_frame_counts: recovered frame counts do not reproduce "
                          "the store's relevance; frame counts unknown", stacklevel=2)
            return None
        out[row] = n
    return out


def compose_cost(metadata: Mapping[str, Any], video_ids: Sequence[str]) -> dict[str, Any]:
    """A store's full cost dict from its metadata entries (see :func:`extraction_metadata`).

    :param metadata: the store's metadata (with ``"cost"``).
    :param video_ids: the store's video ids in row order.
    """
    cost = dict(metadata["cost"])
    secs = metadata.get("cost_seconds")
    if secs and "seconds" not in cost:
        cost["seconds"] = {k: v for k, v in secs.items() if k != "cnn_seconds_per_crop"}
        cost["streams"] = {name: {**spec, "seconds_per_crop": float(
            secs["cnn_seconds_per_crop"][name])} if name in secs.get("cnn_seconds_per_crop", {})
            else dict(spec) for name, spec in cost["streams"].items()}
    frames = metadata.get("video_frames")
    if frames and "num_video_frames" not in cost and all(v in frames for v in video_ids):
        cost["num_video_frames"] = [int(frames[v]) for v in video_ids]
    return cost


def store_cost(store: Any) -> dict[str, Any] | None:
    """The cost dict of a store: its metadata's ``"cost"``, else the built-in store's JSON.

    :param store: path or :class:`frame_select_env.store.FeatureStore`.
    :return: the dict, or ``None`` when the store records no cost and is not the built-in one.
    """
    from frame_select_env.store import FeatureStore

    fs = store if isinstance(store, FeatureStore) else FeatureStore(store)
    if "cost" in fs.metadata:
        return compose_cost(fs.metadata, [str(v) for v in fs.video_ids])
    if fs.metadata.get("dataset") == "sparse_actions" and BUILTIN_COST_JSON.is_file():
        cost = json.loads(BUILTIN_COST_JSON.read_text())
        if cost.get("store_classifier") == fs.metadata.get("classifier") and len(
                cost.get("num_video_frames", [])) == len(fs):
            return cost
    return None


def builtin_cost(store: Any, measure: bool = True, ucf_clip: str | os.PathLike | None = None,
                 ) -> dict[str, Any]:
    """Count (and measure) the cost dict of the built-in SparseActions store.

    Flow and decoding are timed on freshly generated SparseActions videos (the store's own
    frames, 160x120 MJPG); with ``ucf_clip`` also flow on a real UCF101 clip at 160x120 and
    340x256, for reference.

    :param store: the built-in store (path or FeatureStore).
    :param measure: also measure seconds (else MACs only).
    :param ucf_clip: optional real video for the reference flow timings.
    """
    from frame_select_env.store import FeatureStore

    fs = store if isinstance(store, FeatureStore) else FeatureStore(store)
    meta_json = json.loads((Path(__file__).resolve().parent / "data" /
                            "sparse_actions.json").read_text())
    streams = builtin_architecture(meta_json)
    extraction = dict(fs.metadata["config"])
    measured = None
    if measure:
        from frame_select_env.sparse_actions import SparseActionsConfig, generate_video, write_avi
        from frame_select_env.video.decode import read_frames

        gen = SparseActionsConfig(**fs.metadata.get("generator", {}))
        video = generate_video(0, 12345, 0, gen)
        frames = np.asarray(video.frames)
        w, h = extraction["size"]
        flow_frames: dict[str, Sequence[np.ndarray]] = {f"{w}x{h}": list(frames[:12])}
        with tempfile.TemporaryDirectory() as tmp:
            avi = Path(tmp) / "sample.avi"
            write_avi(avi, frames, gen.fps)
            if ucf_clip is not None:
                for size in ((160, 120), (340, 256)):
                    clip = read_frames(ucf_clip, range(12), size=size)
                    flow_frames[f"ucf101_{size[0]}x{size[1]}"] = [clip[i] for i in range(12)]
            measured = measure_seconds(streams, fs.num_classes, extraction, flow_frames, avi)
        measured["decode_video"] = "a generated SparseActions video (160x120 MJPG AVI)"
        if ucf_clip is not None:
            measured["reference_clip"] = Path(ucf_clip).name
    cost = build_cost(streams, fs.num_classes, extraction, measured,
                      sparse_actions_frame_counts(fs))
    cost["store_classifier"] = fs.metadata.get("classifier")
    return cost


# ----------------------------------------------------------------------------- per-video cost


@dataclass
class VideoCost:
    """Per-video cost arrays (B,) of the classifier side (the agent's is added by the caller).

    :param macs: CNN MACs over every crop computed.
    :param seconds: decoding + optical flow + CNN seconds; NaN without measurements.
    """

    macs: np.ndarray
    seconds: np.ndarray


class CostModel:
    """Per-video MACs and seconds from what each stream computed.

    :param cost: a cost dict (:func:`build_cost`, :func:`store_cost`).
    :param rows: store rows of the videos that will be costed (for their frame counts);
        ``None`` = every row.
    :param frames: positions in the stored T of the frames the masks cover (a ``num_frames``
        subset); ``None`` = all stored frames.
    :param flow_method: price flow with this method's measured seconds instead of the store's
        own (e.g. ``tvl1``, the paper's, for a store extracted with ``dis``).
    """

    def __init__(self, cost: Mapping[str, Any], rows: Sequence[int] | None = None,
                 frames: Sequence[int] | None = None, flow_method: str | None = None) -> None:
        if cost.get("format") != COST_FORMAT:
            raise ValueError(f"CostModel: not a cost dict (format {cost.get('format')!r}, "
                             f"expected {COST_FORMAT!r})")
        self.cost = dict(cost)
        self.num_stored = int(cost["num_frames"])
        self.length = int(cost["flow_length"])
        self.num_views = int(cost["num_views"])
        self.frames = np.arange(self.num_stored) if frames is None else np.asarray(frames)
        counts = cost.get("num_video_frames")
        if counts is not None:
            counts = np.asarray(counts, np.int64)
            counts = counts if rows is None else counts[np.asarray(rows)]
        self.counts = counts
        secs = cost.get("seconds") or {}
        self.has_seconds = bool(secs) and all(
            "seconds_per_crop" in s for s in cost["streams"].values())
        if self.has_seconds:
            per_pair = secs["flow_seconds_per_pair"][secs["size_key"]]
            method = flow_method or cost["flow_method"]
            if method not in per_pair:
                raise ValueError(f"CostModel: no measured seconds for flow method {method!r} "
                                 f"(have {sorted(per_pair)})")
            self.pair_seconds = float(per_pair[method])
            self.grab_seconds = float(secs["decode"]["grab_seconds_per_frame"])
            self.retrieve_seconds = float(secs["decode"]["retrieve_seconds_per_frame"])

    def macs_per_crop(self, stream: str) -> int:
        """Counted MACs of one crop of ``stream``."""
        if stream not in self.cost["streams"]:
            raise ValueError(f"CostModel: no stream {stream!r} in the cost dict "
                             f"(have {sorted(self.cost['streams'])})")
        return int(self.cost["streams"][stream]["macs_per_crop"])

    def _indices(self, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-video frame counts, RGB frame positions (B, T) and flow window starts (B, T)."""
        t_all = self.num_stored
        if self.counts is None:
            # Unknown length: assume windows that do not overlap (long videos, e.g. UCF101),
            # which is the most a selection can save on flow.
            n = np.full(batch, t_all * (self.length + 2), np.int64)
        else:
            n = self.counts
            if len(n) != batch:
                raise ValueError(f"CostModel: {batch} videos given, the model was built for "
                                 f"{len(n)} rows")
        rgb = np.empty((batch, t_all), np.int64)
        flow = np.empty((batch, t_all), np.int64)
        for value in np.unique(n):  # sample_indices per distinct length, not per video
            sel = n == value
            rgb[sel] = sample_indices(int(value), t_all, 1)
            flow[sel] = sample_indices(int(value), t_all, self.length + 1)
        return n, rgb[:, self.frames], flow[:, self.frames]

    def video_cost(self, computed: Mapping[str, np.ndarray | None], batch: int | None = None
                   ) -> VideoCost:
        """Per-video cost of computing, per stream, the given (frame, crop) pairs.

        :param computed: stream -> (B, T, V) bool of the crops that stream's CNN ran on (its
            flow computed on the frames with any crop), or ``None`` for all T x V.
        :param batch: B when every entry is ``None`` (default: the videos of ``rows``).
        """
        masks = {s: m for s, m in computed.items() if m is not None}
        if masks:
            batch = int(next(iter(masks.values())).shape[0])
        if batch is None and self.counts is not None:
            batch = len(self.counts)
        if batch is None:
            raise ValueError("CostModel.video_cost: give batch when no mask is given")
        t = len(self.frames)
        full = np.ones((batch, t, self.num_views), bool)
        macs = np.zeros(batch, np.float64)
        cnn_seconds = np.zeros(batch, np.float64)
        need_rgb = np.zeros((batch, t), bool)
        need_flow = np.zeros((batch, t), bool)
        for stream, mask in computed.items():
            mask = full if mask is None else np.asarray(mask, bool)
            if mask.ndim == 2:
                mask = np.broadcast_to(mask[:, :, None], (batch, t, self.num_views))
            if mask.shape != (batch, t, self.num_views):
                raise ValueError(f"CostModel.video_cost: mask of {stream!r} has shape "
                                 f"{mask.shape}, expected {(batch, t, self.num_views)}")
            crops = mask.sum((1, 2))
            macs += crops * float(self.macs_per_crop(stream))
            if self.has_seconds:
                cnn_seconds += crops * float(self.cost["streams"][stream]["seconds_per_crop"])
            any_view = mask.any(-1)
            if stream == "rgb":
                need_rgb |= any_view
            else:
                need_flow |= any_view
        seconds = np.full(batch, np.nan)
        if self.has_seconds:
            decoded, passed, pairs = self._decode_and_pairs(need_rgb, need_flow)
            seconds = (cnn_seconds + pairs * self.pair_seconds + decoded * self.retrieve_seconds
                       + passed * self.grab_seconds)
        return VideoCost(macs=macs, seconds=seconds)

    def _decode_and_pairs(self, need_rgb: np.ndarray, need_flow: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct frames retrieved, frames grabbed (the sequential pass) and distinct flow
        pairs, per video."""
        batch = need_rgb.shape[0]
        n, rgb, starts = self._indices(batch)
        width = int(n.max()) + 1
        wanted = np.zeros((batch, width), bool)
        pairs = np.zeros((batch, width), bool)
        b_idx, t_idx = np.nonzero(need_rgb)
        wanted[b_idx, rgb[b_idx, t_idx]] = True
        b_idx, t_idx = np.nonzero(need_flow)
        first = starts[b_idx, t_idx]
        for j in range(self.length + 1):  # a stack of L fields needs L + 1 frames
            wanted[b_idx, first + j] = True
            if j < self.length:
                pairs[b_idx, first + j] = True
        decoded = wanted.sum(-1)
        # The pass grabs every frame up to the last one needed.
        last = np.where(wanted.any(-1), width - 1 - np.argmax(wanted[:, ::-1], axis=-1), -1)
        return decoded, last + 1, pairs.sum(-1)


def cost_summary(cost: Mapping[str, Any]) -> str:
    """Human-readable lines of a cost dict (for logs and the README)."""
    lines = [f"unit: {cost['unit_macs']}"]
    v = cost["num_views"]
    for name, s in cost["streams"].items():
        line = (f"{name}: {s['arch']} {s['backbone_kwargs']} {s['macs_per_crop'] / 1e6:.2f} MMACs "
                f"per {cost['crop']}x{cost['crop']} crop, {s['macs_per_crop'] * v / 1e6:.1f} "
                f"MMACs per frame ({v} crops)")
        if "seconds_per_crop" in s:
            line += f", {s['seconds_per_crop'] * v * 1e3:.2f} ms per frame"
        lines.append(line)
    secs = cost.get("seconds")
    if secs:
        for label, per in secs["flow_seconds_per_pair"].items():
            lines.append(f"flow per frame pair at {label}: " + ", ".join(
                f"{m} {t * 1e3:.1f} ms" for m, t in per.items())
                + f" (a stack of L={cost['flow_length']}: x{cost['flow_length']})")
        d = secs["decode"]
        lines.append(f"decode: grab {d['grab_seconds_per_frame'] * 1e3:.2f} ms, retrieve + "
                     f"resize {d['retrieve_seconds_per_frame'] * 1e3:.2f} ms per frame")
        lines.append(f"machine: {secs['machine'].get('cpu')} ({secs['machine'].get('note')})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m frame_select_env.cost``: measure the built-in store's cost dict."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--out", default=str(BUILTIN_COST_JSON), help="where the JSON goes")
    ap.add_argument("--ucf-clip", default=None, help="a real video for reference flow timings")
    args = ap.parse_args(argv)
    from frame_select_env.atomic import atomic_write_text
    from frame_select_env.builtin import builtin_store_path

    cost = builtin_cost(builtin_store_path(), measure=True, ucf_clip=args.ucf_clip)
    atomic_write_text(args.out, json.dumps(cost, indent=1, sort_keys=True) + "\n")
    print(cost_summary(cost))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
