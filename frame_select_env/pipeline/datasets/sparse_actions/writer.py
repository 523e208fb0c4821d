"""Writing the SparseActions videos: MJPG ``.avi`` files, ground-truth sidecars, annotations.

Each generated video ``<video_id>.avi`` has a sidecar ``<video_id>.json`` with its ground truth
(``index``, ``label``, ``num_frames``, ``window``, ``distractors``); :func:`truth_relevance`
turns it into the relevance of the sampled frames.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from frame_select_env.core.constants import SPLITS
from frame_select_env.pipeline.datasets.sparse_actions.generator import (
    SparseActionsConfig,
    VideoRecord,
    generate_video,
    plan_dataset,
)
from frame_select_env.store.atomic import atomic_path, atomic_write_text
from frame_select_env.store.builtin import builtin_summary, cache_dir


def write_avi(path: str | os.PathLike, frames: np.ndarray, fps: float = 25.0) -> None:
    """Write uint8 RGB frames as an MJPG .avi (atomically: a temporary file, then a rename).

    :param path: output file (``.avi``)
    :param frames: ``(n, H, W, 3)`` uint8 RGB
    :param fps: frame rate
    """
    path = Path(path)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"write_avi({path}): expected (n, H, W, 3) uint8, got "
                         f"{frames.shape} {frames.dtype}")
    h, w = frames.shape[1:3]
    with atomic_path(path) as tmp:  # keeps the .avi suffix, from which OpenCV picks the container
        # cv2's stubs list only VideoWriter.fourcc; the module-level alias exists at runtime
        fourcc = cv2.VideoWriter_fourcc(*"MJPG")  # type: ignore[attr-defined]
        writer = cv2.VideoWriter(str(tmp), fourcc, fps, (w, h))
        if not writer.isOpened():
            raise RuntimeError(f"write_avi({path}): cv2.VideoWriter could not open an MJPG "
                               "writer")
        try:
            for f in frames:
                writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()


def sampled_relevance(relevance: np.ndarray, frame_indices: np.ndarray) -> np.ndarray:
    """Relevance of sampled frames.

    :param relevance: per-frame relevance ``(n,)`` of a video
    :param frame_indices: 0-based indices of the sampled frames ``(T,)``
    :return: ``(T,)`` bool
    """
    relevance = np.asarray(relevance, bool)
    idx = np.asarray(frame_indices, np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= len(relevance)):
        raise ValueError(
            f"sampled_relevance: frame indices {idx.min()}..{idx.max()} outside a video of "
            f"{len(relevance)} frames"
        )
    return relevance[idx]


def truth_relevance(truth: Mapping[str, Any], frame_indices: np.ndarray, num_frames: int,
                    where: str | os.PathLike) -> np.ndarray:
    """Relevance of a generated video's sampled frames, from its ground truth (the sidecar).

    :param truth: the video's ground truth (``num_frames``, ``window``), e.g. its parsed sidecar
    :param frame_indices: 0-based indices of the sampled frames ``(T,)``
    :param num_frames: the frame count the video decoded to
    :param where: the video, for the error
    :return: ``(T,)`` uint8, 1 inside the action window
    :raises ValueError: the decoded frame count is not the generator's
    """
    if truth["num_frames"] != num_frames:
        raise ValueError(f"{where}: decoded {num_frames} frames, the generator wrote "
                         f"{truth['num_frames']}")
    rel = np.zeros(num_frames, bool)
    rel[truth["window"][0] : truth["window"][1]] = True
    return sampled_relevance(rel, frame_indices).astype(np.uint8)


def _generate_one(job: tuple[int, int, int, str, str]) -> None:
    """Generate one video and its ground-truth sidecar ``.json`` (runs in a worker process)."""
    seed, index, label, avi, cfg_json = job
    cfg = SparseActionsConfig.from_dict(json.loads(cfg_json))
    v = generate_video(label, seed, index, cfg)
    avi_path = Path(avi)
    write_avi(avi_path, v.frames, cfg.fps)
    # the sidecar last: a video counts as done only when both files exist
    atomic_write_text(
        avi_path.with_suffix(".json"),
        json.dumps({"index": index, "label": label, "num_frames": int(len(v.frames)),
                    "window": list(v.window), "distractors": v.distractors},
                   indent=1, sort_keys=True) + "\n",
    )


def _one_opencv_thread() -> None:
    # a worker process's initializer: the workers are the parallelism (in-process generation
    # leaves the caller's OpenCV threads alone)
    cv2.setNumThreads(1)


def generate_videos(
    records: Sequence[VideoRecord],
    videos_dir: str | os.PathLike,
    seed: int = 0,
    cfg: SparseActionsConfig | None = None,
    workers: int = 2,
    progress: bool = False,
) -> int:
    """Write ``videos_dir/<video_id>.avi`` (MJPG) plus a ground-truth ``.json`` per record.

    Resumable: a video whose two files exist is not generated again (each is written
    atomically). Used by the build script and by the online env's ``videos="builtin:<split>"``.

    :param records: videos of :func:`plan_dataset`
    :param videos_dir: output folder
    :param seed: dataset seed (with the record index it determines the video)
    :param cfg: generator parameters (default :class:`SparseActionsConfig`)
    :param workers: worker processes (<= 1: in this process)
    :param progress: tqdm progress bar
    :return: number of videos generated now
    """
    from tqdm import tqdm

    videos_dir = Path(videos_dir)
    cfg_json = json.dumps((cfg or SparseActionsConfig()).to_dict())
    jobs = []
    for r in records:
        avi = videos_dir / f"{r.video_id}.avi"
        if not (avi.is_file() and avi.with_suffix(".json").is_file()):
            jobs.append((seed, r.index, r.label, str(avi), cfg_json))
    bar = tqdm(total=len(records), initial=len(records) - len(jobs), desc="generate",
               unit="video", disable=not progress)
    if workers <= 1 or len(jobs) <= 1:
        for j in jobs:
            _generate_one(j)
            bar.update(1)
    else:
        from frame_select_env.pipeline.workers import process_pool

        # spawn workers that die with this process (frame_select_env.pipeline.workers)
        with process_pool(workers, _one_opencv_thread, what="generate_videos") as ex:
            for _ in ex.map(_generate_one, jobs, chunksize=4):
                bar.update(1)
    bar.close()
    return len(jobs)


def save_annotations(path: str | os.PathLike, items: list[dict]) -> None:
    """Write the per-video ground truth (window, distractors, ...) as JSON, atomically.

    :param path: the JSON file
    :param items: one dict per video
    """
    atomic_write_text(path, json.dumps(items, indent=1))


def builtin_videos(split: str | None = "test", root: str | os.PathLike | None = None,
                   workers: int = 2, progress: bool = False,
                   limit: int | None = None) -> tuple[Path, list[Any]]:
    """Regenerate the SparseActions videos of a split (only those not on disk yet).

    The generator is a pure function of (seed, video index), so the videos are the ones the
    shipped store was extracted from (bit-for-bit with the OpenCV version of the build; see
    ``sparse_actions.json``'s ``machine``).

    :param split: ``train``, ``val``, ``test`` or ``None`` (every split)
    :param root: where the videos go (default ``cache_dir()/sparse_actions_videos/seed<k>``)
    :param workers: generator processes
    :param progress: progress bar
    :param limit: only this many videos, evenly spread over the split (all classes), for quick
        checks
    :return: the video root and the planned records (``sparse_actions.VideoRecord``) of the
        split; videos are ``root/<video_id>.avi`` with a ground-truth ``.json`` each
    """
    summary = builtin_summary()
    seed = int(summary["seed"])
    if split is not None and split not in summary["counts_per_class"]:
        raise ValueError(f"builtin videos: unknown split {split!r}; choose from "
                         f"{sorted(summary['counts_per_class'])} or None")
    cfg = SparseActionsConfig.from_dict(summary["generator"])
    # The build plans train, val, test in this order (the json sorts its keys): a video's
    # index, and with it its content, depends on that order.
    counts = summary["counts_per_class"]
    plan = plan_dataset({s: counts[s] for s in SPLITS if s in counts})
    records = [r for r in plan if split is None or r.split == split]
    if limit is not None and 0 < limit < len(records):
        # every k-th video: the split is ordered by class, so this covers all classes
        records = [records[int(i)] for i in np.linspace(0, len(records) - 1, limit).round()]
    root = Path(root) if root is not None else cache_dir() / "sparse_actions_videos" / f"seed{seed}"
    generate_videos(records, root, seed, cfg, workers, progress)
    return root, records
