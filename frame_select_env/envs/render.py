"""Pictures and text of a frame-selection episode, shared by the single and the vector env.

``render_mode="rgb_array"`` draws, for one video, the true-class probability ``s^r_t[c]`` of every
frame as a bar (green: kept, grey: dropped, blue: no action yet), the all-frames mean ``p0`` and
the kept-frames mean ``p1`` as horizontal lines, and a strip of keep/drop cells under the bars.
It is drawn with OpenCV into a numpy array, so it costs well under a millisecond and needs no
display. ``render_mode="ansi"`` gives the same content as three lines of text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RENDER_MODES = ("ansi", "rgb_array")
#: size of an ``rgb_array`` frame: (height, width, 3) uint8
IMAGE_SHAPE = (240, 480, 3)

_KEPT = (46, 160, 67)  # RGB
_DROPPED = (170, 170, 170)
_UNDECIDED = (66, 114, 196)
_P0 = (220, 120, 20)
_P1 = (20, 130, 40)
_TEXT = (30, 30, 30)


@dataclass
class EpisodeView:
    """What a picture of one episode shows.

    :param video_id: the video's id.
    :param true_class: name of the true class.
    :param true_probs: (T,) probability of the true class per frame.
    :param keep: (T,) bool keep/drop of the last action, or ``None`` before any action.
    :param p0: all-frames true-class probability (Eq. 2).
    :param p1: kept-frames true-class probability (Eq. 3), or ``None`` before any action.
    :param pred_before: name of the all-frames top-1 class.
    :param pred_after: name of the kept-frames top-1 class (``None`` before any action).
    :param reward: the episode's reward (``None`` before any action).
    """

    video_id: str
    true_class: str
    true_probs: np.ndarray
    keep: np.ndarray | None = None
    p0: float = 0.0
    p1: float | None = None
    pred_before: str = ""
    pred_after: str | None = None
    reward: float | None = None


def episode_view(
    probs: np.ndarray,
    label: int,
    video_id: str,
    class_names: list[str],
    last: dict[str, Any] | None,
) -> EpisodeView:
    """Collect what :func:`render_rgb` and :func:`render_ansi` show for one video.

    :param probs: (T, C) per-frame class probabilities the reward uses.
    :param label: the true class.
    :param video_id: the video's id.
    :param class_names: the store's class names.
    :param last: the last step's details (keys ``action``, ``p0``, ``p1``, ``pred_before``,
        ``pred_after``, ``reward``) or ``None`` before any action.
    """
    mean = probs.mean(0)
    view = EpisodeView(
        video_id=str(video_id),
        true_class=class_names[label],
        true_probs=probs[:, label],
        p0=float(mean[label]),
        pred_before=class_names[int(mean.argmax())],
    )
    if last is not None:
        view.keep = np.asarray(last["action"], dtype=bool)
        view.p1 = float(last["p1"])
        view.pred_after = class_names[last["pred_after"]] if last["pred_after"] >= 0 else "(none)"
        view.reward = float(last["reward"])
    return view


def render_ansi(view: EpisodeView) -> str:
    """Three lines: the video and true class, the all-frames and the kept-frames predictions."""
    head = f"video {view.video_id}  true class: {view.true_class}"
    if view.keep is None:
        return head + "  (no action yet)\n"
    t = len(view.true_probs)
    marks = "".join("#" if k else "." for k in view.keep)
    return (
        f"{head}\nall {t} frames -> {view.pred_before} (p_true={view.p0:.3f})\n"
        f"kept [{marks}] {int(view.keep.sum())}/{t} -> {view.pred_after} "
        f"(p_true={view.p1:.3f})  reward {view.reward:+g}\n"
    )


def _text(img: np.ndarray, text: str, org: tuple[int, int], color=_TEXT, scale=0.42) -> None:
    import cv2  # only for rgb_array: store mode's env imports no OpenCV otherwise

    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def render_rgb(view: EpisodeView) -> np.ndarray:
    """An RGB picture (``IMAGE_SHAPE``, uint8) of one episode."""
    import cv2  # imported here: the env in store mode, without rgb_array, needs no OpenCV

    h, w, _ = IMAGE_SHAPE
    img = np.full(IMAGE_SHAPE, 255, dtype=np.uint8)
    t = len(view.true_probs)
    left, right, top, bottom = 36, w - 10, 40, h - 62  # the plot area of the bars
    _text(img, f"{view.video_id}   true: {view.true_class}", (8, 16))
    _text(img, "p(true class) per frame", (8, 32), scale=0.36)

    def y_of(p: float) -> int:
        return int(round(bottom - np.clip(p, 0.0, 1.0) * (bottom - top)))

    cv2.rectangle(img, (left, top), (right, bottom), (200, 200, 200), 1)
    for p in (0.0, 0.5, 1.0):
        _text(img, f"{p:.1f}", (6, y_of(p) + 4), scale=0.33)
    slot = (right - left) / t
    for i, p in enumerate(view.true_probs):
        x0 = int(left + i * slot + 1)
        x1 = max(x0 + 1, int(left + (i + 1) * slot - 1))
        if view.keep is None:
            color = _UNDECIDED
        else:
            color = _KEPT if view.keep[i] else _DROPPED
        cv2.rectangle(img, (x0, y_of(float(p))), (x1, bottom), color, -1)
        cell = _KEPT if view.keep is not None and view.keep[i] else (235, 235, 235)
        cv2.rectangle(img, (x0, bottom + 4), (x1, bottom + 12), cell, -1)
    cv2.line(img, (left, y_of(view.p0)), (right, y_of(view.p0)), _P0, 2)
    if view.p1 is not None:
        cv2.line(img, (left, y_of(view.p1)), (right, y_of(view.p1)), _P1, 2)
    _text(img, f"p0 (all {t}) = {view.p0:.3f} -> {view.pred_before}", (8, h - 30), _P0)
    if view.keep is None:
        _text(img, "no action yet", (8, h - 12))
    else:
        _text(
            img,
            f"p1 (kept {int(view.keep.sum())}/{t}) = {view.p1:.3f} -> {view.pred_after}   "
            f"reward {view.reward:+g}",
            (8, h - 12),
            _P1,
        )
    return img
