"""The evaluation's metrics, in percent: accuracy, mean class accuracy, precision of a selection."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def accuracy(video_probs: np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Top-1 accuracy in percent.

    :param video_probs: (B, C) video-level predictions.
    :param labels: (B,) true classes.
    :return: the accuracy (NaN without videos).
    """
    labels = np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    return float(100.0 * np.mean(np.asarray(video_probs).argmax(-1) == labels))


def mean_class_accuracy(
    video_probs: np.ndarray, labels: Sequence[int] | np.ndarray, num_classes: int | None = None
) -> float:
    """Mean over classes of the per-class top-1 accuracy in percent (classes without videos skip).

    :param video_probs: (B, C) video-level predictions.
    :param labels: (B,) true classes.
    :param num_classes: defaults to C.
    :return: the mean class accuracy (NaN without videos).
    """
    labels = np.asarray(labels)
    pred = np.asarray(video_probs).argmax(-1)
    num_classes = num_classes or np.asarray(video_probs).shape[-1]
    per_class = [np.mean(pred[labels == c] == c) for c in range(num_classes) if np.any(labels == c)]
    return float(100.0 * np.mean(per_class)) if per_class else float("nan")


def precision(mask: np.ndarray | None, relevance: np.ndarray | None) -> float:
    """Percent of kept (frame, view) pairs that are relevant (NaN without relevance).

    :param mask: (B, T, V) keep mask, ``None`` = every frame.
    :param relevance: (B, T) 0/1.
    :return: the precision (NaN without relevance or when nothing is kept).
    """
    if relevance is None:
        return float("nan")
    rel = np.asarray(relevance).astype(bool)[:, :, None]
    if mask is None:
        return float(100.0 * rel.mean())
    kept = mask.sum()
    return float(100.0 * (mask & rel).sum() / kept) if kept else float("nan")
