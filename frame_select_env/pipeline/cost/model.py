"""The cost dict of a store, and the per-video cost of what each stream computed from it.

The *cost dict* (:func:`build_cost`) is what extraction stores in the store's metadata under
``"cost"`` (:func:`extraction_metadata`); :func:`frame_select_env.store.cost_record.store_cost`
reads it
back (or, for the built-in store, whose metadata predates it, the shipped
``data/sparse_actions_cost.json``).
:class:`CostModel` turns "which (frame, crop) pairs of which stream were computed" into
per-video MACs and seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.pipeline.cost.macs import classifier_architecture, stream_macs_per_crop
from frame_select_env.pipeline.cost.timing import measure_seconds
from frame_select_env.pipeline.streams import stream_spec
from frame_select_env.pipeline.video.decode import sample_indices

COST_FORMAT = "frame_select_cost/1"
MAC_UNIT = "MACs (multiply-accumulates of matmuls and convolutions; 1 MAC = 2 FLOPs)"
SECONDS_UNIT = "wall-clock seconds on one CPU core of the recorded machine"
ARCHITECTURE_FILE = "architecture.json"


# ----------------------------------------------------------------------------- the cost dict


def build_cost(
    streams: Mapping[str, Mapping[str, Any]],
    num_classes: int,
    extraction: Mapping[str, Any],
    measured: Mapping[str, Any] | None = None,
    num_video_frames: Sequence[int] | np.ndarray | None = None,
) -> dict[str, Any]:
    """The cost dict of a store: MACs counted from the architectures, plus measured seconds.

    :param streams: stream -> ``{"arch": ..., "backbone_kwargs": {...}}`` (each stream's
        in_channels is its spec's, e.g. flow's 2L from ``extraction["flow_length"]``).
    :param num_classes: C.
    :param extraction: the extraction config (``crop``, ``num_views``, ``num_frames``,
        ``flow_length``, ``flow_method``, ``size``), e.g. ``asdict(ExtractConfig)``.
    :param measured: measured seconds (see :func:`measure_seconds`); ``None`` leaves seconds out.
    :param num_video_frames: frame count of every store row (lets flow and decoding count the
        distinct frame pairs and frames of overlapping windows); ``None`` = unknown.
    :return: the cost dict (``format`` :data:`COST_FORMAT`).
    :raises ValueError: ``extraction`` lacks a key, or a stream has no ``arch``.
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
        in_ch = stream_spec(name).in_channels(length)
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

    :param classifier: the
    :class:`~frame_select_env.pipeline.models.classifier.TwoStreamClassifier`, or
        ``None`` when the run loaded none (every video was done before).
    :param parts_dir: the extraction's part folder.
    :param extraction: ``asdict(ExtractConfig)``.
    :param video_frames: video id -> frame count.
    :param measure_video: a video file of the dataset to time on, or ``None`` (no seconds).
    :return: the metadata entries; only ``video_frames`` when no architecture is known (no
        classifier and no saved architecture).
    """
    from frame_select_env.store.atomic import atomic_write_text

    saved = Path(parts_dir) / ARCHITECTURE_FILE
    spec: dict[str, Any]
    if classifier is not None:
        spec = {"streams": classifier_architecture(classifier),
                "num_classes": int(classifier.num_classes)}
        atomic_write_text(saved, json.dumps(spec, sort_keys=True))
    elif saved.is_file():
        spec = json.loads(saved.read_text())
    else:
        return {"video_frames": dict(video_frames)}
    out: dict[str, Any] = {"video_frames": {str(k): int(v) for k, v in video_frames.items()}}
    if measure_video is not None:
        from frame_select_env.pipeline.video.decode import count_frames, read_frames

        width, height = (int(v) for v in extraction["size"])
        size = (width, height)
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

    def __init__(self, cost: Mapping[str, Any], rows: Sequence[int] | np.ndarray | None = None,
                 frames: Sequence[int] | np.ndarray | None = None,
                 flow_method: str | None = None) -> None:
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
        """Counted MACs of one crop of ``stream``.

        :param stream: a stream of the cost dict.
        :return: MACs.
        :raises ValueError: the cost dict has no such stream.
        """
        if stream not in self.cost["streams"]:
            raise ValueError(f"CostModel: no stream {stream!r} in the cost dict "
                             f"(have {sorted(self.cost['streams'])})")
        return int(self.cost["streams"][stream]["macs_per_crop"])

    def stream_views(self, stream: str) -> int:
        """Crops per frame of ``stream``: its own ``num_views`` (a preview's 1), else the dict's.

        :param stream: a stream of the cost dict.
        """
        self.macs_per_crop(stream)  # names the stream when it is not in the dict
        return int(self.cost["streams"][stream].get("num_views", self.num_views))

    def _counts(self, batch: int) -> np.ndarray:
        """Per-video frame counts (B,)."""
        if self.counts is None:
            # Unknown length: assume windows that do not overlap (long videos, e.g. UCF101),
            # which is the most a selection can save on flow.
            return np.full(batch, self.num_stored * (self.length + 2), np.int64)
        if len(self.counts) != batch:
            raise ValueError(f"CostModel: {batch} videos given, the model was built for "
                             f"{len(self.counts)} rows")
        return self.counts

    def _starts(self, n: np.ndarray, window: int) -> np.ndarray:
        """First frames (B, T) of the windows of ``window`` frames, at the masks' frames."""
        out = np.empty((len(n), self.num_stored), np.int64)
        for value in np.unique(n):  # sample_indices per distinct length, not per video
            out[n == value] = sample_indices(int(value), self.num_stored, window)
        return out[:, self.frames]

    def video_cost(self, computed: Mapping[str, np.ndarray | None], batch: int | None = None
                   ) -> VideoCost:
        """Per-video cost of computing, per stream, the given (frame, crop) pairs.

        :param computed: stream -> (B, T, V) bool of the crops that stream's CNN ran on (its
            flow computed on the frames with any crop), or ``None`` for all T x V.
        :param batch: B when every entry is ``None`` (default: the videos of ``rows``).
        :return: per-video MACs and seconds.
        :raises ValueError: no batch size can be told, or a mask has the wrong shape.
        """
        masks = {s: m for s, m in computed.items() if m is not None}
        if masks:
            batch = int(next(iter(masks.values())).shape[0])
        if batch is None and self.counts is not None:
            batch = len(self.counts)
        if batch is None:
            raise ValueError("CostModel.video_cost: give batch when no mask is given")
        t = len(self.frames)
        macs = np.zeros(batch, np.float64)
        cnn_seconds = np.zeros(batch, np.float64)
        needed: dict[str, np.ndarray] = {}  # stream -> (B, T) frames with any crop computed
        for stream, mask in computed.items():
            views = self.stream_views(stream)
            done: np.ndarray = (np.ones((batch, t, views), bool) if mask is None
                                else np.asarray(mask, bool))
            if done.ndim == 2:
                done = np.broadcast_to(done[:, :, None], (batch, t, views))
            if views == 1 and done.shape == (batch, t, self.num_views):
                done = np.asarray(done.any(-1, keepdims=True))  # a one-crop stream (a preview)
            if done.shape != (batch, t, views):
                raise ValueError(f"CostModel.video_cost: mask of {stream!r} has shape "
                                 f"{done.shape}, expected {(batch, t, views)}")
            crops = done.sum((1, 2))
            macs += crops * float(self.macs_per_crop(stream))
            if self.has_seconds:
                cnn_seconds += crops * float(self.cost["streams"][stream]["seconds_per_crop"])
            needed[stream] = needed.get(stream, np.zeros((batch, t), bool)) | done.any(-1)
        seconds = np.full(batch, np.nan)
        if self.has_seconds:
            decoded, passed, pairs = self._decode_and_pairs(needed, batch)
            seconds = (cnn_seconds + pairs * self.pair_seconds + decoded * self.retrieve_seconds
                       + passed * self.grab_seconds)
        return VideoCost(macs=macs, seconds=seconds)

    def _decode_and_pairs(self, needed: Mapping[str, np.ndarray], batch: int
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per video: distinct frames retrieved, frames grabbed, distinct flow pairs.

        Each stream decodes its windows (:class:`~frame_select_env.pipeline.streams.StreamSpec`:
        RGB one
        frame, flow L + 1) at the frames it computed, and a flow-pair stream computes flow on
        their consecutive pairs; frames and pairs shared by streams or overlapping windows count
        once. The sequential decoding pass grabs every frame up to the last one needed.

        :param needed: stream -> (B, T) bool of the frames with any crop computed
        :param batch: B
        """
        n = self._counts(batch)
        width = int(n.max()) + 1
        wanted = np.zeros((batch, width), bool)
        pairs = np.zeros((batch, width), bool)
        for stream, need in needed.items():
            spec = stream_spec(stream)
            window = spec.window(self.length)
            b_idx, t_idx = np.nonzero(need)
            first = self._starts(n, window)[b_idx, t_idx]
            for j in range(window):
                wanted[b_idx, first + j] = True
                if spec.flow_pairs and j < window - 1:  # a window of w frames has w - 1 pairs
                    pairs[b_idx, first + j] = True
        decoded = wanted.sum(-1)
        # The pass grabs every frame up to the last one needed.
        last = np.where(wanted.any(-1), width - 1 - np.argmax(wanted[:, ::-1], axis=-1), -1)
        return decoded, last + 1, pairs.sum(-1)


def cost_summary(cost: Mapping[str, Any]) -> str:
    """Human-readable lines of a cost dict (for logs and the README).

    :param cost: a cost dict.
    :return: the lines, joined by newlines.
    """
    lines = [f"unit: {cost['unit_macs']}"]
    for name, s in cost["streams"].items():
        v, crop = s.get("num_views", cost["num_views"]), s.get("crop", cost["crop"])
        line = (f"{name}: {s['arch']} {s['backbone_kwargs']} {s['macs_per_crop'] / 1e6:.2f} MMACs "
                f"per {crop}x{crop} crop, {s['macs_per_crop'] * v / 1e6:.1f} "
                f"MMACs per frame ({v} crop{'s' if v > 1 else ''})")
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
