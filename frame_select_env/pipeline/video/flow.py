"""Dense optical flow (TV-L1, DIS, Farneback) and TSN-style flow stacks.

Scaling convention (shared with TSN / dense-flow tools, see docs): a flow value ``f`` in pixels is
clipped to ``[-BOUND, BOUND]`` (``BOUND = 20``) and divided by ``BOUND`` -> ``[-1, 1]``. Stored as a
JPEG it is ``round(f / BOUND * 127.5 + 127.5)`` clipped to ``[0, 255]`` and read back as
``(v - 127.5) / 127.5``.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

#: TSN flow clipping bound, in pixels
BOUND: float = 20.0
FLOW_METHODS = ("dis", "tvl1", "farneback")

# One estimator per (thread, method): creating TV-L1 / DIS objects is not free, and one object
# must never be used by two threads at once (OpenCV crashes: the online env decodes in threads);
# each DataLoader worker process builds its own too.
_LOCAL = threading.local()


def _estimator(method: str):
    estimators: dict[str, object] = _LOCAL.__dict__.setdefault("estimators", {})
    if method not in estimators:
        if method == "dis":
            # MEDIUM: ~4 ms per 340x256 pair on one core, much closer to TV-L1 than FAST
            # cv2's stubs lack the DIS factory, which every OpenCV build since 4.0 has
            estimators[method] = cv2.DISOpticalFlow_create(  # type: ignore[attr-defined]
                cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
            )
        elif method == "tvl1":
            if not hasattr(cv2, "optflow"):
                raise RuntimeError(
                    "TV-L1 needs cv2.optflow (opencv-contrib-python-headless); "
                    "this OpenCV build has no contrib modules"
                )
            # cv2's stubs lack the contrib factories of cv2.optflow (checked above)
            estimators[method] = cv2.optflow.DualTVL1OpticalFlow_create()  # type: ignore[attr-defined]
        elif method == "farneback":
            estimators[method] = None  # functional API
        else:
            raise ValueError(f"unknown flow method {method!r}; choose one of {FLOW_METHODS}")
    return estimators[method]


def to_gray(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB uint8 (or already (H, W) gray) -> (H, W) uint8 gray."""
    if img.ndim == 2:
        return np.ascontiguousarray(img, dtype=np.uint8)
    if img.ndim == 3 and img.shape[2] == 3:
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {img.shape}")


def compute_flow(prev: np.ndarray, nxt: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense flow from ``prev`` to ``nxt`` in pixels.

    :param prev: (H, W, 3) RGB uint8 or (H, W) gray
    :param nxt: same shape as ``prev``
    :param method: ``dis`` (default, fast), ``tvl1`` (TSN's choice, slow) or ``farneback``
    :return: (H, W, 2) float32, [..., 0] = x (rightwards), [..., 1] = y (downwards)
    """
    if prev.shape != nxt.shape:
        raise ValueError(f"frame shapes differ: {prev.shape} vs {nxt.shape}")
    a, b = to_gray(prev), to_gray(nxt)
    est = _estimator(method)
    if method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    else:
        flow = est.calc(a, b, None)
    return np.asarray(flow, dtype=np.float32)


def scale_flow(flow: np.ndarray, bound: float = BOUND) -> np.ndarray:
    """Pixels -> [-1, 1]: ``clip(flow, -bound, bound) / bound`` as float32."""
    return (np.clip(flow, -bound, bound) / bound).astype(np.float32, copy=False)


def quantize_flow(flow: np.ndarray, bound: float = BOUND) -> np.ndarray:
    """Pixels -> uint8 JPEG value ``round(f / bound * 127.5 + 127.5)`` clipped to [0, 255]."""
    v = np.round(np.asarray(flow, dtype=np.float32) / bound * 127.5 + 127.5)
    return np.clip(v, 0, 255).astype(np.uint8)


def dequantize_flow(v: np.ndarray) -> np.ndarray:
    """uint8 JPEG value -> [-1, 1] float32: ``(v - 127.5) / 127.5``."""
    return ((np.asarray(v, dtype=np.float32) - 127.5) / 127.5).astype(np.float32, copy=False)


def flow_stack(
    frames: np.ndarray,
    method: str = "dis",
    bound: float = BOUND,
    cache: dict[int, np.ndarray] | None = None,
    frame_ids: list[int] | None = None,
) -> np.ndarray:
    """Stack of L fields from L + 1 consecutive frames, TSN-scaled.

    :param frames: (L + 1, H, W, 3) RGB uint8 (or (L + 1, H, W) gray)
    :param method: flow method, see :func:`compute_flow`
    :param bound: clipping bound in pixels
    :param cache: optional {first frame id: raw (H, W, 2) flow} shared between overlapping
        windows of the same video, so that each frame pair is computed once
    :param frame_ids: the video frame index of each of ``frames`` (needed with ``cache``)
    :return: (2L, H, W) float32 in [-1, 1], channels x1, y1, x2, y2, ...
    """
    frames = np.asarray(frames)
    if frames.shape[0] < 2:
        raise ValueError(f"need at least 2 frames for a flow stack, got {frames.shape[0]}")
    if cache is not None and (frame_ids is None or len(frame_ids) != len(frames)):
        raise ValueError("flow_stack: cache needs frame_ids of the same length as frames")
    chans = []
    for j in range(frames.shape[0] - 1):
        if cache is None or frame_ids is None:  # (frame_ids is given with a cache, see above)
            f = compute_flow(frames[j], frames[j + 1], method)
        else:
            key = int(frame_ids[j])
            if key in cache:
                f = cache[key]
            else:
                f = compute_flow(frames[j], frames[j + 1], method)
                cache[key] = f
        chans.append(f[..., 0])
        chans.append(f[..., 1])
    return scale_flow(np.stack(chans), bound)


def video_flow_stacks(
    windows: np.ndarray, starts: np.ndarray, method: str = "dis", bound: float = BOUND
) -> np.ndarray:
    """Flow stacks for all sampled windows of one video, computing each frame pair once.

    :param windows: (T, L + 1, H, W, 3) uint8 frames from :func:`decode.load_segments`
    :param starts: (T,) start frame index of each window
    :param method: flow method
    :param bound: clipping bound in pixels
    :return: (T, 2L, H, W) float32 in [-1, 1]
    """
    cache: dict[int, np.ndarray] = {}
    length = windows.shape[1]
    return np.stack(
        [
            flow_stack(w, method, bound, cache, list(range(int(s), int(s) + length)))
            for w, s in zip(windows, starts, strict=True)
        ]
    )
