"""Video input: sampled frames from a video file (OpenCV) or a raw-frame folder.

Two sources are supported:

* a video file (``.avi``, ``.mp4``, anything the OpenCV FFmpeg backend opens), and
* a raw-frame folder as dense-flow tools write it: ``img_00001.jpg ...`` (1-based),
  ``flow_x_00001.jpg`` / ``flow_y_00001.jpg`` (field between frame ``i`` and ``i + 1``).

Frame counts are never taken from ``CAP_PROP_FRAME_COUNT``: for many real files that property is
garbage (e.g. ``-1.9e14`` for the re-encoded UCF101 clips) or an over-estimate (AVI indices).
Instead a cheap ``grab()`` pass (demux + decode, no colour conversion) counts the decodable
frames, and a second sequential pass converts only the frames that are needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from frame_select_env.core.sampling import segment_centres

#: default resize (width, height), the TSN convention
DEFAULT_SIZE: tuple[int, int] = (340, 256)
#: file-name templates of a raw-frame folder (1-based index)
IMG_TMPL = "img_{:05d}.jpg"
FLOW_X_TMPL = "flow_x_{:05d}.jpg"
FLOW_Y_TMPL = "flow_y_{:05d}.jpg"


class VideoReadError(Exception):
    """A video (file or raw-frame folder) that cannot be used.

    :param path: the video file or folder
    :param reason: short human-readable reason (missing file, zero bytes, cannot open, ...)
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # keep the two-argument signature picklable (worker processes)
        return (self.__class__, (self.path, self.reason))


def sample_indices(num_frames: int, num_segments: int, new_length: int = 1) -> np.ndarray:
    """TSN test-time sampling: the centre of each of ``num_segments`` equal segments.

    The segments divide the admissible window starts
    (:func:`frame_select_env.core.sampling.segment_centres`), so the window ``[i, i + new_length)``
    of
    every returned start index ``i`` fits in the video. When there are fewer admissible starts
    than segments, indices repeat (as in TSN).

    :param num_frames: number of frames of the video (or fields, for a flow-only source)
    :param num_segments: number of segments T
    :param new_length: frames per window (1 for RGB, L + 1 frames for L flow fields)
    :return: (T,) int64 0-based start indices, non-decreasing
    """
    if num_segments < 1:
        raise ValueError(f"num_segments must be >= 1, got {num_segments}")
    if new_length < 1:
        raise ValueError(f"new_length must be >= 1, got {new_length}")
    starts = num_frames - new_length + 1
    if starts < 1:
        raise ValueError(
            f"a window of {new_length} frames does not fit in {num_frames} frames"
        )
    return segment_centres(starts, num_segments)


def _resize_rgb(bgr: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """BGR frame -> RGB uint8, resized to ``size`` = (W, H) when given."""
    if size is not None and (bgr.shape[1], bgr.shape[0]) != tuple(size):
        bgr = cv2.resize(bgr, tuple(int(s) for s in size), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoReadError(path, "missing file")
    if path.is_file() and path.stat().st_size == 0:
        raise VideoReadError(path, "zero bytes")


def _open(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoReadError(path, "cannot open (unreadable container or codec)")
    return cap


def is_rawframe_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` is a raw-frame folder: a folder holding ``img_00001.jpg``.

    A folder of video files (or of class folders) is not one, so callers can scan it instead.
    """
    return (Path(path) / "img_00001.jpg").is_file()


def count_rawframes(folder: str | os.PathLike, prefix: str = "img_") -> int:
    """Number of consecutive ``<prefix>00001.jpg, ...`` files in a raw-frame folder.

    :param folder: raw-frame folder
    :param prefix: ``img_`` for RGB, ``flow_x_`` for flow fields
    :return: count of files 1..n that exist without a gap
    """
    folder = Path(folder)
    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    n = sum(1 for name in names if name.startswith(prefix) and name.endswith(".jpg"))
    # guard against gaps: the count is only valid when files 1..n are all there
    while n > 0 and f"{prefix}{n:05d}.jpg" not in names:
        n -= 1
    return n


def check_rawframes(folder: str | os.PathLike) -> str | None:
    """Why a raw-frame folder cannot be used, or ``None``: every JPEG it counts must decode.

    :func:`count_frames` only counts the files of a folder, so a corrupt ``img_00007.jpg``
    would otherwise surface only when that frame is read (at every reset of an online env
    with ``skip_bad``). Each ``img_``, ``flow_x_`` and ``flow_y_`` file that counts is decoded
    at 1/8 scale (``IMREAD_REDUCED_GRAYSCALE_8``): the whole entropy-coded stream is still read,
    so a broken file fails as it does at full size, at a fraction of the cost.

    :param folder: raw-frame folder.
    :return: ``"cannot read frame file img_00007.jpg"`` (the first bad file), or ``None``.
    """
    folder = Path(folder)
    n_img, n_flow = count_rawframes(folder), count_rawframes(folder, "flow_x_")
    names = [IMG_TMPL.format(i) for i in range(1, n_img + 1)]
    for i in range(1, n_flow + 1):
        names += [FLOW_X_TMPL.format(i), FLOW_Y_TMPL.format(i)]
    for name in names:
        if cv2.imread(str(folder / name), cv2.IMREAD_REDUCED_GRAYSCALE_8) is None:
            what = "flow" if name.startswith("flow_") else "frame"
            return f"cannot read {what} file {name}"
    return None


def count_frames(path: str | os.PathLike) -> int:
    """Robust frame count of a video file (grab pass) or raw-frame folder (file count).

    :param path: video file or raw-frame folder
    :return: number of decodable frames
    :raises VideoReadError: missing, zero bytes, cannot open
    """
    path = Path(path)
    _check_file(path)
    if path.is_dir():
        return count_rawframes(path)
    cap = _open(path)
    try:
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()


def read_frames(
    path: str | os.PathLike,
    indices: Iterable[int],
    size: tuple[int, int] | None = DEFAULT_SIZE,
    num_frames: int | None = None,
) -> dict[int, np.ndarray]:
    """Decode the frames at ``indices`` (0-based) in one sequential pass.

    Frames before the last needed index are grabbed (decoded) but only the needed ones are
    colour-converted and resized.

    :param path: video file or raw-frame folder
    :param indices: 0-based frame indices (any order, repeats allowed)
    :param size: (W, H) resize; None keeps the native size
    :param num_frames: known frame count (only used to produce a clear error message)
    :return: {index: (H, W, 3) uint8 RGB}
    :raises VideoReadError: when a needed frame cannot be decoded
    """
    path = Path(path)
    wanted = sorted(set(int(i) for i in indices))
    if not wanted:
        return {}
    if wanted[0] < 0:
        raise ValueError(f"{path}: negative frame index {wanted[0]}")
    _check_file(path)
    out: dict[int, np.ndarray] = {}
    if path.is_dir():
        for i in wanted:
            f = path / IMG_TMPL.format(i + 1)
            bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if bgr is None:
                raise VideoReadError(path, f"cannot read frame file {f.name}")
            out[i] = _resize_rgb(bgr, size)
        return out
    cap = _open(path)
    try:
        want = set(wanted)
        last = wanted[-1]
        for i in range(last + 1):
            if not cap.grab():
                total = num_frames if num_frames is not None else i
                raise VideoReadError(
                    path, f"decoding stopped at frame {i}, needed frame {last} (count {total})"
                )
            if i in want:
                ok, bgr = cap.retrieve()
                if not ok or bgr is None:
                    raise VideoReadError(path, f"cannot retrieve frame {i}")
                out[i] = _resize_rgb(bgr, size)
    finally:
        cap.release()
    return out


def window_indices(starts: Sequence[int] | np.ndarray, new_length: int) -> np.ndarray:
    """(T, new_length) frame indices of the windows starting at ``starts``."""
    return np.asarray(starts, dtype=np.int64)[:, None] + np.arange(new_length)[None, :]


def load_segments(
    path: str | os.PathLike,
    num_segments: int = 25,
    new_length: int = 1,
    size: tuple[int, int] | None = DEFAULT_SIZE,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray, int]:
    """Frames of the TSN test-time windows of a video file or raw-frame folder.

    :param path: video file (.avi, .mp4, ...) or raw-frame folder (img_00001.jpg ...)
    :param num_segments: T, number of sampled windows
    :param new_length: frames per window (1 for RGB; L + 1 to compute L flow fields)
    :param size: (W, H) resize; None keeps the native size
    :param return_indices: also return the (T,) start indices and the frame count
    :return: (T, new_length, H, W, 3) uint8 RGB; with ``return_indices`` a tuple
        ``(frames, starts, num_frames)``
    :raises VideoReadError: missing file, zero bytes, cannot open, corrupt (no decodable
        frames), or fewer frames than one window needs
    """
    path = Path(path)
    n = count_frames(path)
    if n == 0:
        raise VideoReadError(path, "corrupt: no decodable frames")
    if n < new_length:
        raise VideoReadError(path, f"too few frames: {n} < {new_length} needed")
    starts = sample_indices(n, num_segments, new_length)
    win = window_indices(starts, new_length)
    frames = read_frames(path, win.ravel(), size=size, num_frames=n)
    stacked = np.stack([frames[int(i)] for i in win.ravel()])
    out = stacked.reshape(num_segments, new_length, *stacked.shape[1:])
    if return_indices:
        return out, starts, n
    return out


def load_flow_segments(
    folder: str | os.PathLike,
    num_segments: int = 25,
    new_length: int = 5,
    size: tuple[int, int] | None = DEFAULT_SIZE,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray, int]:
    """Precomputed flow stacks from a raw-frame folder's ``flow_x_``/``flow_y_`` JPEGs.

    JPEG values are read back as ``(v - 127.5) / 127.5`` (see :func:`flow.dequantize_flow`),
    the same scale as :func:`flow.flow_stack`.

    :param folder: raw-frame folder
    :param num_segments: T
    :param new_length: L, flow fields per stack
    :param size: (W, H) resize; None keeps the native size
    :param return_indices: also return the (T,) start field indices and the field count
    :return: (T, 2L, H, W) float32 in [-1, 1], channels x1, y1, x2, y2, ...
    :raises VideoReadError: missing folder, no flow files, too few fields, unreadable JPEG
    """
    from frame_select_env.pipeline.video.flow import dequantize_flow

    folder = Path(folder)
    if not folder.is_dir():
        raise VideoReadError(folder, "missing raw-frame folder")
    n = count_rawframes(folder, prefix="flow_x_")
    if n == 0:
        raise VideoReadError(folder, "no flow_x_*.jpg files")
    if n < new_length:
        raise VideoReadError(folder, f"too few flow fields: {n} < {new_length} needed")
    starts = sample_indices(n, num_segments, new_length)
    cache: dict[tuple[str, int], np.ndarray] = {}

    def read(tmpl: str, i: int) -> np.ndarray:
        key = (tmpl, i)
        if key not in cache:
            f = folder / tmpl.format(i + 1)
            img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise VideoReadError(folder, f"cannot read flow file {f.name}")
            if size is not None and (img.shape[1], img.shape[0]) != tuple(size):
                img = cv2.resize(img, tuple(int(s) for s in size), interpolation=cv2.INTER_LINEAR)
            cache[key] = dequantize_flow(img)
        return cache[key]

    stacks = []
    for s in starts:
        chans = []
        for j in range(new_length):
            chans.append(read(FLOW_X_TMPL, int(s) + j))
            chans.append(read(FLOW_Y_TMPL, int(s) + j))
        stacks.append(np.stack(chans))
    out = np.stack(stacks).astype(np.float32, copy=False)
    if return_indices:
        return out, starts, n
    return out
