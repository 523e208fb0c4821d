"""Top-m and threshold frame selection, video-level aggregation and two-stream fusion.

These are the single implementations of the paper's inference (Algorithm 2, Eq. 10) shared by the
environment, the agents, the baselines zoo and every evaluation script:

* :func:`topm_mask` keeps the ``m`` highest-scoring frames (ties go to the earlier frame);
* :func:`select_frames` applies it frame-based (importance averaged over the views, the same
  frames kept in every view) or region-based (each view selects its own frames);
* :func:`threshold_mask` / :func:`select_frames_threshold` are the adaptive budget: keep every
  frame whose score (the agent's p^a) reaches a threshold, so the number kept varies per video;
* :func:`aggregate_predictions` averages the kept frames' class probabilities (non-kept frames get
  weight ``alpha``, Eq. 10), then averages over views;
* :func:`fuse_streams` averages the streams' video-level predictions (optionally weighted);
* :func:`softmax` turns stored logits into the probabilities all of the above read.

Every function takes and returns numpy arrays (the env converts actions to numpy before they
get here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from frame_select_env.core.constants import SCHEMES


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in float32.

    :param logits: any shape.
    :param axis: the class axis.
    :return: float32 probabilities of the same shape.
    """
    x = np.asarray(logits, dtype=np.float32)
    x = x - x.max(axis=axis, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=axis, keepdims=True)
    return x


def _at_least_one(value: Any, what: str) -> int:
    """``value`` as an int, refused below 1 (``"<what> must be >= 1, got <value>"``)."""
    if int(value) < 1:
        raise ValueError(f"{what} must be >= 1, got {value}")
    return int(value)


def topm_mask(scores: Any, m: int) -> np.ndarray:
    """Boolean mask of the ``m`` highest scores along the last axis.

    Ties are broken towards the earlier frame, so the result is deterministic. ``m`` larger than
    the number of frames keeps every frame.

    :param scores: (..., T) importance scores.
    :param m: number of frames to keep (>= 1).
    :return: boolean mask of the scores' shape.
    :raises ValueError: if ``m < 1``.
    """
    keep = _at_least_one(m, "topm_mask: m")
    scores = np.asarray(scores)
    order = np.argsort(-scores, axis=-1, kind="stable")[..., :min(keep, scores.shape[-1])]
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask


def threshold_mask(scores: Any, threshold: float, min_keep: int = 1) -> np.ndarray:
    """Boolean mask of the scores ``>= threshold`` along the last axis (the adaptive budget).

    A video where fewer than ``min_keep`` frames pass keeps its top-``min_keep`` frames instead
    (ties to the earlier frame, as :func:`topm_mask`), so every video still gets a prediction.

    :param scores: (..., T) scores (e.g. the agent's keep probabilities p^a).
    :param threshold: keep frames scoring at least this.
    :param min_keep: fewest frames kept per video (>= 1).
    :return: boolean mask of the scores' shape.
    :raises ValueError: if ``min_keep < 1``.
    """
    fewest = _at_least_one(min_keep, "threshold_mask: min_keep")
    scores = np.asarray(scores)
    passed = scores >= threshold
    fallback = topm_mask(scores, fewest)
    short = passed.sum(-1, keepdims=True) < fewest
    return np.where(short, fallback, passed)


def _by_scheme(importance: Any, scheme: str, mask_fn: Callable[[np.ndarray], np.ndarray],
               who: str) -> np.ndarray:
    """Apply a last-axis mask rule to (B, T, V) importance, frame- or region-based."""
    importance = np.asarray(importance)
    if importance.ndim != 3:
        raise ValueError(f"{who}: expected importance (B, T, V), got {tuple(importance.shape)}")
    if scheme == "frame":
        mask = mask_fn(importance.mean(-1))[..., None]
        return np.broadcast_to(mask, importance.shape)
    if scheme == "region":  # select along T independently for each view
        return mask_fn(np.swapaxes(importance, 1, 2)).swapaxes(1, 2)
    raise ValueError(f"{who}: scheme must be one of {SCHEMES}, got {scheme!r}")


def select_frames(importance: Any, m: int, scheme: str = "frame") -> np.ndarray:
    """Keep the top-``m`` frames of every video, per Algorithm 2.

    :param importance: (B, T, V) per-frame, per-view importance (e.g. the agent's p^a).
    :param m: frames to keep.
    :param scheme: ``"frame"``: average the importance over the V views and keep the same m frames
        in every view; ``"region"``: each view keeps its own top-m frames.
    :return: boolean mask (B, T, V).
    :raises ValueError: for importance that is not 3-D or an unknown scheme.
    """
    return _by_scheme(importance, scheme, lambda s: topm_mask(s, m), "select_frames")


def select_frames_threshold(
    importance: Any, threshold: float, scheme: str = "frame", min_keep: int = 1
) -> np.ndarray:
    """Keep the frames whose importance reaches ``threshold`` (see :func:`threshold_mask`).

    :param importance: (B, T, V) per-frame, per-view importance (the agent's p^a).
    :param threshold: keep frames with importance ``>= threshold``; ``frame`` compares the
        importance averaged over the views, ``region`` each view's own.
    :param scheme: ``frame`` or ``region``, as :func:`select_frames`.
    :param min_keep: fewest frames kept per video (and view, region-based).
    :return: boolean mask (B, T, V).
    :raises ValueError: for importance that is not 3-D or an unknown scheme.
    """
    return _by_scheme(importance, scheme, lambda s: threshold_mask(s, threshold, min_keep),
                      "select_frames_threshold")


def aggregate_predictions(probs: Any, mask: Any | None = None, alpha: float = 0.0) -> np.ndarray:
    """Video-level prediction from per-frame, per-view probabilities (Eq. 10).

    Each view's prediction is the weighted mean over frames with weight 1 for kept frames and
    ``alpha`` for the others; the video prediction is the mean over views. ``alpha=0`` is the
    paper's Algorithm 2; a view that keeps nothing (with ``alpha=0``) contributes zeros.

    :param probs: (B, T, V, C) class probabilities (or (B, T, C), treated as V=1).
    :param mask: (B, T, V) (or (B, T)) keep mask; ``None`` keeps every frame.
    :param alpha: weight of the non-kept frames, in [0, 1].
    :return: (B, C) video-level probabilities.
    :raises ValueError: for probabilities that are not (B, T, V, C) or a mask of another shape.
    """
    probs = np.asarray(probs)
    if mask is not None:
        mask = np.asarray(mask)
    if probs.ndim == 3:
        probs = probs[:, :, None, :]
        if mask is not None:
            mask = mask[:, :, None]
    if probs.ndim != 4:
        raise ValueError(
            f"aggregate_predictions: expected probs (B, T, V, C), got {tuple(probs.shape)}"
        )
    if mask is None:
        return probs.mean(axis=(1, 2))
    if tuple(mask.shape) != tuple(probs.shape[:3]):
        raise ValueError(
            f"aggregate_predictions: mask shape {tuple(mask.shape)} does not match probs "
            f"{tuple(probs.shape)} (expected {tuple(probs.shape[:3])})"
        )
    weight = mask.astype(np.float32) + np.float32(alpha) * (~mask.astype(bool))
    per_view = np.einsum("btvc,btv->bvc", probs.astype(np.float32, copy=False), weight)
    per_view /= np.maximum(weight.sum(1), 1e-12)[..., None]
    return per_view.mean(1)


def fuse_streams(
    predictions: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None
) -> np.ndarray:
    """Two-stream fusion: the (weighted) average of the streams' video-level predictions.

    :param predictions: stream name -> (B, C) video-level probabilities.
    :param weights: optional stream name -> weight (normalised to sum to 1); equal by default,
        as in the paper.
    :return: (B, C) float32 fused probabilities.
    :raises ValueError: without predictions, for weights of unknown streams or weights that do
        not sum to a positive number.
    """
    if not predictions:
        raise ValueError("fuse_streams: no stream predictions given")
    names = list(predictions)
    w = np.array([1.0 if weights is None else float(weights.get(n, 0.0)) for n in names])
    if weights is not None and (missing := set(weights) - set(names)):
        raise ValueError(f"fuse_streams: weights given for unknown streams {sorted(missing)}")
    if w.sum() <= 0:
        raise ValueError(f"fuse_streams: weights must sum to a positive number: {weights}")
    w = (w / w.sum()).astype(np.float32)
    fused = [wi * np.asarray(predictions[n], np.float32) for wi, n in zip(w, names, strict=True)]
    return sum(fused)
