"""Per-frame two-stream feature extraction into a feature store (resumable, sharded).

Pipeline per video (in DataLoader worker processes, so that decoding and optical flow overlap the
classifier running in the main process):

1. count frames robustly and sample T frames with the TSN test protocol: RGB at
   ``sample_indices(n, T, 1)``, flow stacks at ``sample_indices(n, T, L + 1)`` (L fields need L + 1
   frames); both are decoded in one sequential pass;
2. resize to ``size``, compute L flow fields per stack (each frame pair once), TSN-scaled;
3. in the main process: V views (centre or ten-crop, built one view at a time to bound memory)
   -> ``TwoStreamClassifier.extract`` -> features (T, V, D) and logits (T, V, C) per stream;
4. save a part file ``<out>.parts/<index>_<key>.npz`` atomically; a rerun skips finished parts.

Finally all parts are assembled into one store with :class:`frame_select_env.store.StoreWriter`
(validated, atomically renamed), so killing the process at any moment leaves either no store or a
valid one. Raw-frame folders are accepted as inputs too: RGB from ``img_*.jpg`` and flow from the
precomputed ``flow_x_/flow_y_*.jpg`` when present (else computed from the RGB frames).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.core.constants import SPLITS, STREAMS
from frame_select_env.pipeline.datasets.lists import VideoRecord
from frame_select_env.pipeline.streams import ordered_streams, stream_spec
from frame_select_env.pipeline.video.decode import (
    DEFAULT_SIZE,
    VideoReadError,
    count_frames,
    read_frames,
    sample_indices,
    window_indices,
)
from frame_select_env.pipeline.video.flow import FLOW_METHODS
from frame_select_env.pipeline.video.views import view_at
from frame_select_env.store.atomic import atomic_path, write_failures

#: relevance callback: (record, sampled RGB frame indices (T,), frame count) -> (T,) 0/1
RelevanceFn = Callable[[VideoRecord, np.ndarray, int], np.ndarray]


@dataclass
class ExtractConfig:
    """What is sampled and how (everything that changes the stored numbers).

    :param num_frames: T, sampled frames per video
    :param flow_length: L, flow fields per stack (the flow network takes 2L channels)
    :param flow_method: ``dis`` (default), ``tvl1`` or ``farneback``
    :param num_views: V, 1 (centre crop) or 10 (TSN ten-crop)
    :param size: (W, H) frames are resized to before cropping
    :param crop: square crop side
    :param dtype: store dtype, ``float16`` or ``float32``
    """

    num_frames: int = 25
    flow_length: int = 5
    flow_method: str = "dis"
    num_views: int = 1
    size: tuple[int, int] = DEFAULT_SIZE
    crop: int = 224
    dtype: str = "float16"

    def __post_init__(self) -> None:
        self.size = (int(self.size[0]), int(self.size[1]))
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.flow_length < 1:
            raise ValueError(f"flow_length must be >= 1, got {self.flow_length}")
        if self.flow_method not in FLOW_METHODS:
            raise ValueError(f"flow method must be one of {FLOW_METHODS}, got {self.flow_method!r}")
        if self.num_views not in (1, 10):
            raise ValueError(f"num_views must be 1 or 10, got {self.num_views}")
        if self.crop > min(self.size):
            raise ValueError(f"crop {self.crop} does not fit in frames of size {self.size}")


@dataclass
class ExtractResult:
    """Outcome of :func:`extract_features`.

    :param store_path: the store written, or None when no video succeeded
    :param num_done: videos in the store
    :param num_skipped: videos whose part file existed already (resumed)
    :param failures: (video path, reason) of every video that could not be used
    :param seconds: wall-clock time
    """

    store_path: Path | None
    num_done: int
    num_skipped: int
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


# ------------------------------------------------------------------ worker side
def video_location(root: Path, rel_path: str) -> Path:
    """Where a listed video is: ``root/rel_path``, or its raw-frame folder.

    Official lists name ``Class/v_x.avi``; raw-frame folders (``build_rawframes``) drop the
    suffix (``Class/v_x/``), so ``--root FRAMES`` works with the same list files.
    """
    path = root / rel_path
    if not path.exists() and path.suffix and path.with_suffix("").is_dir():
        return path.with_suffix("")
    return path


def prepare_video(
    path: str | os.PathLike, cfg: ExtractConfig, streams: Sequence[str] = STREAMS
) -> dict[str, Any]:
    """Decode (+ flow) for one video (runs in a worker process).

    Every stream's windows (:class:`~frame_select_env.pipeline.streams.StreamSpec`: RGB 1 frame,
    flow
    L + 1) are sampled with the TSN test protocol and decoded in one sequential pass; each
    stream then builds its input from its windows.

    :param path: video file or raw-frame folder
    :param cfg: extraction config
    :param streams: the streams to prepare (registered names)
    :return: per stream ``<stream>`` its inputs (``rgb`` (T, H, W, 3) uint8, ``flow``
        (T, 2L, H, W) float32 in [-1, 1]) and ``<stream>_idx`` (T,) 0-based first frames of
        its windows; ``num_frames``
    :raises VideoReadError: for any unusable video
    """
    path = Path(path)
    t, length = cfg.num_frames, cfg.flow_length
    specs = [stream_spec(s) for s in streams]
    n = count_frames(path)  # raises for missing / zero bytes / cannot open
    if n == 0:
        raise VideoReadError(path, "corrupt: no decodable frames")
    need = max(spec.window(length) for spec in specs)
    if n < need:
        raise VideoReadError(path, f"too few frames: {n} < {need} needed for L={length}")
    out: dict[str, Any] = {}
    todo: list[tuple[Any, np.ndarray]] = []  # (spec, window starts) built from decoded frames
    for spec in specs:
        given = spec.precomputed(path, cfg) if spec.precomputed is not None else None
        if given is not None:  # e.g. the flow_x_/flow_y_ JPEGs of a raw-frame folder
            out[spec.name], out[f"{spec.name}_idx"] = given
        else:
            todo.append((spec, sample_indices(n, t, spec.window(length))))
    wins = [window_indices(starts, spec.window(length)) for spec, starts in todo]
    frames = read_frames(path, np.concatenate([w.ravel() for w in wins]), cfg.size, n) \
        if wins else {}
    for (spec, starts), win in zip(todo, wins, strict=True):
        windows = np.stack([frames[int(i)] for i in win.ravel()])
        windows = windows.reshape(t, win.shape[1], *windows.shape[1:])
        out[spec.name] = spec.build(windows, starts, cfg)
        out[f"{spec.name}_idx"] = np.asarray(starts)
    out["num_frames"] = n
    return out


class _VideoDataset:
    """Map-style dataset for ``torch.utils.data.DataLoader``; failures are returned, not raised."""

    def __init__(self, jobs: list[tuple[int, str]], cfg: ExtractConfig,
                 streams: Sequence[str] = STREAMS) -> None:
        self.jobs, self.cfg, self.streams = jobs, cfg, tuple(streams)

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        index, path = self.jobs[i]
        return prepare_item(index, path, self.cfg, self.streams)


def prepare_item(
    index: int, path: str, cfg: ExtractConfig, streams: Sequence[str] = STREAMS
) -> dict[str, Any]:
    """:func:`prepare_video` for a worker process: failures are returned, not raised.

    Used by the extractor's DataLoader and by the online env's worker pool alike.

    :param index: the caller's id of the video (returned as ``index``)
    :param path: video file or raw-frame folder
    :param cfg: extraction config
    :param streams: the streams to prepare
    :return: the :func:`prepare_video` dict (stream inputs as torch tensors) with ``index``,
        ``path`` and ``error`` (None, or the reason the video cannot be used)
    """
    import torch

    try:
        out = prepare_video(path, cfg, streams)
    except VideoReadError as e:
        return {"index": index, "path": path, "error": e.reason}
    except Exception as e:  # an unexpected decoder error must not kill the whole run
        return {"index": index, "path": path, "error": f"{type(e).__name__}: {e}"}
    # tensors travel through shared memory instead of being pickled through a pipe
    for name in streams:
        out[name] = torch.from_numpy(np.ascontiguousarray(out[name]))
    out.update(index=index, path=path, error=None)
    return out


def _identity(x: Any) -> Any:
    return x


def _worker_init(_: int) -> None:
    # one thread per worker: the workers are the parallelism; oversubscription only slows down
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


# ------------------------------------------------------------------ main side
def classify_videos(
    clf: Any, items: Sequence[dict[str, Any]], cfg: ExtractConfig, batch_size: int = 256
) -> list[dict[str, np.ndarray]]:
    """Views + classifier for prepared videos, batched over the videos.

    The one implementation of a video's states: the extractor calls it per video, the online
    env with the N videos of a step (their crops share forward passes).

    :param clf: a :class:`frame_select_env.pipeline.models.classifier.TwoStreamClassifier`
    :param items: outputs of :func:`prepare_video` (all with ``cfg.num_frames`` frames)
    :param cfg: extraction config
    :param batch_size: crops per forward pass
    :return: per video ``<stream>_features`` (T, V, D) and ``<stream>_logits`` (T, V, C) float32
    """
    if not items:
        return []
    out: list[dict[str, np.ndarray]] = [{} for _ in items]
    t = cfg.num_frames
    # views are built a few at a time so that ten-crop flow never sits in memory whole
    chunk = max(1, batch_size // (t * len(items)))
    for stream in ordered_streams(clf.streams):
        xs = [np.asarray(item[stream]) for item in items]
        spec = stream_spec(stream)
        layout, is_flow = spec.layout, spec.flip_negates_x
        feats, logits = [], []
        for v0 in range(0, cfg.num_views, chunk):
            vs = range(v0, min(cfg.num_views, v0 + chunk))
            # (N * T, views, ...): the frames of all videos, one forward pass per batch_size crops
            views = np.concatenate(
                [np.stack([view_at(x, v, cfg.crop, layout, is_flow) for v in vs], axis=1)
                 for x in xs]
            )
            f, lg = clf.extract(stream, views, batch_size=batch_size)
            feats.append(f.reshape(len(items), t, *f.shape[1:]))
            logits.append(lg.reshape(len(items), t, *lg.shape[1:]))
        f_all, lg_all = np.concatenate(feats, axis=2), np.concatenate(logits, axis=2)
        for k in range(len(items)):
            out[k][f"{stream}_features"] = f_all[k]
            out[k][f"{stream}_logits"] = lg_all[k]
    return out


def classify_video(
    clf: Any, item: dict[str, Any], cfg: ExtractConfig, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Views + classifier for one prepared video (:func:`classify_videos` of one).

    :param clf: a :class:`frame_select_env.pipeline.models.classifier.TwoStreamClassifier`
    :param item: output of :func:`prepare_video`
    :param cfg: extraction config
    :param batch_size: crops per forward pass
    :return: ``<stream>_features`` (T, V, D) and ``<stream>_logits`` (T, V, C) float32
    """
    return classify_videos(clf, [item], cfg, batch_size)[0]


def video_part(
    record: VideoRecord,
    item: dict[str, Any],
    states: dict[str, np.ndarray],
    cfg: ExtractConfig,
    relevance_fn: RelevanceFn | None = None,
) -> dict[str, np.ndarray]:
    """Everything stored about one video: its states, sampled indices and optional relevance.

    :param record: the video's list entry
    :param item: its :func:`prepare_video` output
    :param states: its :func:`classify_videos` output
    :param cfg: extraction config
    :param relevance_fn: see :func:`extract_features`
    :return: the arrays of a part file
    """
    arrays: dict[str, Any] = dict(states)
    # every stream's window starts (rgb_idx, flow_idx, ...), in registry order
    for s in ordered_streams(k[: -len("_idx")] for k in item if k.endswith("_idx")):
        arrays[f"{s}_idx"] = np.asarray(item[f"{s}_idx"], np.int64)
    arrays["num_frames"] = np.int64(item["num_frames"])
    if relevance_fn is not None:
        rel = np.asarray(relevance_fn(record, arrays["rgb_idx"], int(item["num_frames"])))
        if rel.shape != (cfg.num_frames,):
            raise ValueError(
                f"relevance_fn returned shape {rel.shape} for {record.path!r}, "
                f"expected ({cfg.num_frames},)"
            )
        arrays["relevance"] = rel.astype(np.uint8)
    return arrays


def part_key(record: VideoRecord, cfg: ExtractConfig, classifier_id: str) -> str:
    """Hash of everything that determines a video's stored numbers (stale parts never match)."""
    blob = json.dumps([record.path, asdict(cfg), classifier_id], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _part_path(parts_dir: Path, index: int, key: str) -> Path:
    return parts_dir / f"{index:07d}_{key}.npz"


def _save_part(path: Path, arrays: dict[str, Any]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _load_part(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # a damaged part is redone, not trusted
        return None


def parse_shard(spec: str | None) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 0 <= i < n; None -> (0, 1)."""
    if spec is None:
        return 0, 1
    try:
        i, n = (int(s) for s in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like 'i/n' (e.g. 0/4), got {spec!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {spec!r}: need 0 <= i < n")
    return i, n


def extract_features(
    records: Sequence[VideoRecord],
    root: str | os.PathLike,
    out: str | os.PathLike,
    classifier: Any | Callable[[], Any],
    class_names: Sequence[str],
    cfg: ExtractConfig | None = None,
    *,
    classifier_id: str = "",
    batch_size: int = 256,
    workers: int = 0,
    shard: tuple[int, int] = (0, 1),
    parts_dir: str | os.PathLike | None = None,
    default_split: str = "test",
    relevance_fn: RelevanceFn | None = None,
    metadata: dict[str, Any] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    measure_cost: bool = False,
) -> ExtractResult:
    """Extract per-frame two-stream features of many videos into one store (resumable).

    :param records: videos (path relative to ``root``, 0-based label, split)
    :param root: video root folder
    :param out: store path; parts go to ``<out>.parts/``, failures to ``<out>.failures.txt``
    :param classifier: a ``TwoStreamClassifier`` or a zero-argument factory returning one
        (called only if some video still needs work, so a fully resumed run loads no model)
    :param class_names: the C class names (must match the classifier's)
    :param cfg: sampling / flow / views config
    :param classifier_id: identifies the classifier weights (checkpoint paths, ...); part in
        the resume key so that parts of another classifier are never reused
    :param batch_size: crops per forward pass
    :param workers: DataLoader worker processes for decode + flow (0 = in the main process)
    :param shard: (i, n): process records ``i, i + n, ...`` only
    :param parts_dir: the part folder (default ``<out>.parts``); parts are named by list index,
        so the shards of one list can share one folder (the ranks of ``torchrun`` do), and a
        rerun with another number of shards still finds every finished video
    :param default_split: split of records without one (``train``, ``val`` or ``test``)
    :param relevance_fn: optional ``fn(record, rgb_frame_indices (T,), num_frames) -> (T,)``
        0/1 array; when given, the store gets a ``/relevance`` dataset
    :param metadata: extra JSON metadata for the store
    :param progress: tqdm progress bar
    :param log: where per-video failure lines go (default: stderr)
    :param measure_cost: also time decoding, flow and the CNNs on this machine for the store's
        cost dict (metadata ``"cost"``, :func:`frame_select_env.pipeline.cost.extraction_metadata`);
        MACs and frame counts are always stored, seconds only with this (they vary between runs)
    :return: :class:`ExtractResult`
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    cfg = cfg or ExtractConfig()
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    out = Path(out)
    root = Path(root)
    si, sn = shard
    chosen = [(i, r) for i, r in enumerate(records) if i % sn == si]
    for i, r in chosen:
        if r.label is None:
            raise ValueError(f"video {r.path!r} (list entry {i}) has no label; a store needs one")
        if not 0 <= r.label < len(class_names):
            raise ValueError(f"video {r.path!r}: label {r.label} outside [0, {len(class_names)})")
        if (r.split or default_split) not in SPLITS:
            raise ValueError(f"video {r.path!r}: split {r.split!r} is not one of {SPLITS}")
    parts_dir = Path(parts_dir) if parts_dir is not None else Path(f"{out}.parts")
    parts_dir.mkdir(parents=True, exist_ok=True)
    # parts made with / without relevance are not interchangeable
    rel_tag = "|relevance" if relevance_fn is not None else ""
    keys = {i: part_key(r, cfg, classifier_id + rel_tag) for i, r in chosen}
    todo = [(i, r) for i, r in chosen if not _part_path(parts_dir, i, keys[i]).is_file()]
    skipped = len(chosen) - len(todo)
    failures: list[tuple[str, str]] = []
    by_index = dict(chosen)

    if todo:
        clf = classifier() if callable(classifier) and not hasattr(classifier, "extract") else (
            classifier
        )
        if list(clf.class_names) != list(class_names):
            raise ValueError(
                f"classifier has {len(clf.class_names)} classes {list(clf.class_names)[:3]}..., "
                f"the list has {len(class_names)} {list(class_names)[:3]}...: they must match"
            )
        if clf.flow_length is not None and clf.flow_length != cfg.flow_length:
            raise ValueError(
                f"classifier flow stream takes L={clf.flow_length}, config has L={cfg.flow_length}"
            )
        from torch.utils.data import DataLoader

        from frame_select_env.pipeline.workers import DieWithParent

        ds = _VideoDataset([(i, str(video_location(root, r.path))) for i, r in todo], cfg,
                           ordered_streams(clf.streams))
        # _VideoDataset is map-style by duck typing (torch stays a lazy import); the stubs want
        # a torch Dataset
        loader: DataLoader[Any] = DataLoader(
            ds,  # type: ignore[arg-type]
            batch_size=None, shuffle=False, num_workers=workers, collate_fn=_identity,
            # the workers die with this process, even when it is killed while they start
            worker_init_fn=DieWithParent(_worker_init) if workers > 0 else None,
            prefetch_factor=2 if workers > 0 else None,
            # spawn, not fork: a fork after OpenCV's / torch's thread pools were used in this
            # process deadlocks the child (seen with cv2 5.0 + torch 2.13)
            multiprocessing_context="spawn" if workers > 0 else None,
            pin_memory=False, persistent_workers=False,
        )
        bar = tqdm(total=len(chosen), initial=skipped, desc=f"extract {out.name}", unit="video",
                   disable=not progress)
        try:
            for item in loader:
                i = item["index"]
                rec = by_index[i]
                if item["error"] is not None:
                    failures.append((item["path"], item["error"]))
                    log(f"FAILED {item['path']}: {item['error']}")
                else:
                    states = classify_video(clf, item, cfg, batch_size)
                    arrays = video_part(rec, item, states, cfg, relevance_fn)
                    _save_part(_part_path(parts_dir, i, keys[i]), arrays)
                bar.update(1)
        finally:
            bar.close()

    # ---------------------------------------------------------------- assemble
    done: list[tuple[int, dict[str, np.ndarray]]] = []
    for i, _ in chosen:
        p = _part_path(parts_dir, i, keys[i])
        if p.is_file():
            part = _load_part(p)
            if part is None:
                failures.append((str(root / by_index[i].path), f"damaged part file {p}"))
                p.unlink(missing_ok=True)  # redone by the next run
            else:
                done.append((i, part))
    failures.sort()
    write_failures(out, failures)
    if not done:
        return ExtractResult(None, 0, skipped, failures, time.perf_counter() - t0)

    meta = {
        **store_metadata(cfg, classifier_id),
        "shard": [si, sn],
        "num_failed": len(failures),
        **(metadata or {}),
    }
    # counted MACs (+ measured seconds) per frame: frame_select_env.pipeline.cost
    if "cost" not in meta:
        from frame_select_env.pipeline.cost import extraction_metadata

        # a fully resumed run loaded no classifier: the architecture saved in the parts is used
        model = clf if todo else (classifier if hasattr(classifier, "extract") else None)
        meta.update(extraction_metadata(
            model, parts_dir, asdict(cfg),
            {by_index[i].video_id: int(part["num_frames"]) for i, part in done},
            video_location(root, by_index[done[0][0]].path) if measure_cost else None))
    entries = [
        (by_index[i].video_id, int(by_index[i].label),  # type: ignore[arg-type]
         by_index[i].split or default_split, part)
        for i, part in done
    ]
    write_parts_store(out, entries, cfg, class_names, meta, relevance_fn is not None)
    return ExtractResult(out, len(done), skipped, failures, time.perf_counter() - t0)


def store_metadata(cfg: ExtractConfig, classifier_id: str) -> dict[str, Any]:
    """The metadata every extracted store carries (what made its numbers)."""
    return {
        "extractor": "frame_select_env.pipeline.extract",
        "config": asdict(cfg),
        "classifier": classifier_id,
        "sampling": "TSN test: rgb at sample_indices(n, T, 1), flow at sample_indices(n, T, L+1)",
        "view_order": "centre, tl, tr, bl, br, then their horizontal flips",
    }


def write_parts_store(
    out: str | os.PathLike,
    entries: Sequence[tuple[str, int, str, Mapping[str, Any]]],
    cfg: ExtractConfig,
    class_names: Sequence[str],
    metadata: dict[str, Any],
    with_relevance: bool,
) -> Path:
    """Write per-video parts as one store (validated, atomically renamed into place).

    :param out: the store path
    :param entries: (video id, label, split, part arrays by name) per row, in row order
    :param cfg: extraction config (T, dtype)
    :param class_names: the C class names
    :param metadata: the store's metadata
    :param with_relevance: every part holds ``relevance`` and the store gets ``/relevance``
    :return: ``out``
    :raises OSError: ``ENOSPC`` naming ``out`` when the store does not fit on its disk (checked
        before HDF5 writes, see :class:`~frame_select_env.store.StoreWriter`); no temporary is
        left and the parts are untouched, so a rerun with room assembles them
    """
    from frame_select_env.store import StoreWriter

    first = entries[0][3]
    names = ordered_streams(k[: -len("_features")] for k in first if k.endswith("_features"))
    streams = {s: (int(first[f"{s}_features"].shape[1]), int(first[f"{s}_features"].shape[2]))
               for s in names}
    with StoreWriter(
        out, num_videos=len(entries), num_frames=cfg.num_frames, streams=streams,
        class_names=list(class_names), dtype=cfg.dtype, with_relevance=with_relevance,
        metadata=metadata,
    ) as w:
        for row, (video_id, label, split, part) in enumerate(entries):
            w.write(
                row, video_id=video_id, label=int(label), split=split,
                features={s: part[f"{s}_features"] for s in names},
                logits={s: part[f"{s}_logits"] for s in names},
                relevance=part.get("relevance") if with_relevance else None,
            )
    return Path(out)


def random_classifier_warning() -> None:
    """Loud warning for ``--random-init`` (features of an untrained network mean nothing)."""
    msg = ("RANDOM-INIT CLASSIFIER: the stored features and logits come from an untrained "
           "network and are only good for testing the pipeline")
    warnings.warn(msg, stacklevel=2)
    print("!" * 80 + f"\n!! {msg}\n" + "!" * 80, file=sys.stderr, flush=True)
