"""Raw-frame folders for TSN training (equivalent of mmaction2's ``build_rawframes``).

Each video becomes a folder ``img_00001.jpg ...`` plus ``flow_x_00001.jpg`` / ``flow_y_00001.jpg``
(field between frames i and i + 1, quantised as in :func:`flow.quantize_flow`). A folder is
written into a temporary sibling and renamed into place when complete, so an interrupted run never
leaves a half-written folder that a rerun would mistake for a finished one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from frame_select_env.pipeline.video.decode import (
    DEFAULT_SIZE,
    FLOW_X_TMPL,
    FLOW_Y_TMPL,
    IMG_TMPL,
    VideoReadError,
    _check_file,
    _open,
    _resize_rgb,
)
from frame_select_env.pipeline.video.flow import compute_flow, quantize_flow

JPEG_QUALITY = 95


def _imwrite(path: Path, img: np.ndarray) -> None:
    if not cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"cannot write {path}")


def extract_rawframes(
    video_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    flow_method: str = "dis",
    size: tuple[int, int] | None = DEFAULT_SIZE,
    overwrite: bool = False,
) -> int:
    """Write all frames and flow fields of one video into ``out_dir`` atomically.

    :param video_path: video file
    :param out_dir: destination folder (created; its parent too)
    :param flow_method: ``dis``, ``tvl1`` or ``farneback``
    :param size: (W, H) resize; None keeps the native size
    :param overwrite: redo a folder that already exists
    :return: number of frames written (0 when the folder existed and was skipped)
    :raises VideoReadError: missing, zero bytes, cannot open, no decodable frames, < 2 frames
    """
    video_path, out_dir = Path(video_path), Path(out_dir)
    if out_dir.is_dir() and not overwrite:
        return 0
    _check_file(video_path)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        cap = _open(video_path)
        n = 0
        prev = None
        try:
            while True:
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                rgb = _resize_rgb(bgr, size)
                n += 1
                _imwrite(tmp / IMG_TMPL.format(n), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                if prev is not None:
                    f = compute_flow(prev, rgb, flow_method)
                    _imwrite(tmp / FLOW_X_TMPL.format(n - 1), quantize_flow(f[..., 0]))
                    _imwrite(tmp / FLOW_Y_TMPL.format(n - 1), quantize_flow(f[..., 1]))
                prev = rgb
        finally:
            cap.release()
        if n == 0:
            raise VideoReadError(video_path, "corrupt: no decodable frames")
        if n < 2:
            raise VideoReadError(video_path, f"too few frames for flow: {n}")
        if overwrite and out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
        return n
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def rawframe_dir(out_root: str | os.PathLike, rel_path: str) -> Path:
    """Folder of one video: ``out_root / rel_path`` without its extension."""
    return Path(out_root) / Path(rel_path).with_suffix("")


def _one(args: tuple[str, str, str, tuple[int, int] | None]) -> tuple[str, str | None]:
    src, dst, method, size = args
    try:
        extract_rawframes(src, dst, method, size)
        return src, None
    except VideoReadError as e:
        return src, e.reason
    except Exception as e:  # report any per-video failure instead of aborting the batch
        return src, f"{type(e).__name__}: {e}"


def build_rawframes(
    records: Sequence,
    root: str | os.PathLike,
    out_root: str | os.PathLike,
    flow_method: str = "dis",
    size: tuple[int, int] | None = DEFAULT_SIZE,
    workers: int = 1,
    progress: bool = True,
) -> list[tuple[str, str]]:
    """Raw-frame folders for many videos; finished folders are skipped (resumable).

    :param records: objects with a ``path`` attribute relative to ``root`` (e.g.
        :class:`frame_select_env.pipeline.datasets.lists.VideoRecord`) or plain relative path
        strings
    :param root: video root folder
    :param out_root: output root; video ``a/b.avi`` goes to ``out_root/a/b/``
    :param flow_method: ``dis``, ``tvl1`` or ``farneback``
    :param size: (W, H) resize
    :param workers: worker processes (1 = in this process)
    :param progress: show a tqdm bar
    :return: failures as (video path, reason)
    """
    from tqdm import tqdm

    jobs = []
    for r in records:
        rel = r if isinstance(r, str) else r.path
        jobs.append((str(Path(root) / rel), str(rawframe_dir(out_root, rel)), flow_method, size))
    failures: list[tuple[str, str]] = []
    bar = tqdm(total=len(jobs), desc="rawframes", disable=not progress)
    results: Iterator[tuple[str, str | None]]
    if workers <= 1:
        results = map(_one, jobs)
        pool = None
    else:
        from frame_select_env.pipeline.workers import process_pool

        # spawn workers that die with this process (frame_select_env.pipeline.workers)
        pool = process_pool(workers, what="build_rawframes")
        results = pool.map(_one, jobs, chunksize=1)
    try:
        for src, reason in results:
            if reason is not None:
                failures.append((src, reason))
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    return failures
