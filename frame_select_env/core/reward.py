"""The paper's selection reward (Eq. 2-4), the one implementation used everywhere.

Given per-frame class probabilities ``s^r_t`` of a video and a keep/drop action per frame:

* ``p0`` is the mean of ``s^r_t`` over all ``T`` frames (Eq. 2);
* ``p1`` is the mean over the kept frames (Eq. 3); an empty selection makes no prediction, so
  ``p1`` is the zero vector and it counts as wrong;
* ``r0 = sgn(p1_c - p0_c)`` for the true class ``c``, with ``sgn(0) = 0``. A difference no larger
  than float32's resolution for a mean of ``T`` values, ``T * eps32 * max(p0_c, p1_c)``
  (``eps32 = 2**-23``), counts as 0: it is rounding, not a change. Without this a video whose
  frames all give the same prediction would get ``r0 = +-1`` at random from the order of the
  sums, although no selection can change its prediction;
* the reward (Eq. 4) is ``+omega`` when the top-1 prediction turns from wrong to right,
  ``-omega`` when it turns from right to wrong, and ``r0`` otherwise.

The function works on numpy arrays: the environment (single and vector), and through it the
REINFORCE trainer and the evaluation, share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_OMEGA = 10.0
#: float32 machine epsilon (2**-23): the resolution of one float32 value relative to its size
FLOAT32_EPS = float(np.finfo(np.float32).eps)


@dataclass
class RewardDetails:
    """Per-video quantities behind a reward (numpy arrays of shape (B,)).

    :param p0: true-class probability of the all-frames prediction.
    :param p1: true-class probability of the kept-frames prediction (0 for an empty selection).
    :param correct_before: whether the all-frames top-1 prediction is the true class.
    :param correct_after: whether the kept-frames top-1 prediction is the true class.
    :param num_selected: number of kept frames.
    :param pred_before: top-1 class of the all-frames prediction.
    :param pred_after: top-1 class of the kept-frames prediction (-1 for an empty selection).
    """

    p0: Any
    p1: Any
    correct_before: Any
    correct_after: Any
    num_selected: Any
    pred_before: Any
    pred_after: Any


def selection_reward(
    probs: Any, actions: Any, labels: Any, omega: float = DEFAULT_OMEGA
) -> tuple[Any, RewardDetails]:
    """Eq. 2-4 for a batch of videos.

    :param probs: per-frame class probabilities, shape (B, T, C) (or (T, C) for one video).
    :param actions: keep (1) / drop (0) per frame, shape (B, T) (or (T,)); bool, int or float.
    :param labels: true class per video, shape (B,) (or a scalar).
    :param omega: the bonus/penalty for flipping the top-1 prediction (the paper uses 10).
    :return: ``(reward, details)``; reward is a float32 numpy array of shape (B,) (a 0-d array
        for one video).
    :raises ValueError: ``probs`` and ``actions`` do not have matching (B, T, C) and (B, T)
        shapes.
    """
    xp_probs = np.asarray(probs, dtype=np.float32)
    keep = np.asarray(actions).astype(np.float32)
    lab = np.asarray(labels).astype(np.int64)
    if xp_probs.ndim == 2:  # a single video
        reward, details = selection_reward(xp_probs[None], keep[None], lab.reshape(1), omega)
        return reward[0], RewardDetails(*(v[0] for v in vars(details).values()))
    if xp_probs.ndim != 3 or tuple(keep.shape) != tuple(xp_probs.shape[:2]):
        raise ValueError(
            f"selection_reward: expected probs (B, T, C) and actions (B, T), got probs "
            f"{tuple(xp_probs.shape)} and actions {tuple(keep.shape)}"
        )
    num_frames = xp_probs.shape[1]
    num_selected = keep.sum(-1)  # (B,)
    # Both frame sums in one batched matmul: (B, 2, T) @ (B, T, C) -> (B, 2, C). This is the
    # env's hot path, and matmul is ~10x faster than two reductions over the middle axis.
    weights = np.ones((keep.shape[0], 2, keep.shape[1]), dtype=np.float32)
    weights[:, 1] = keep
    sums = weights @ xp_probs
    p0_all = sums[:, 0] / num_frames  # (B, C), Eq. 2
    kept_sum = sums[:, 1]  # (B, C)
    # Empty selection: divide by 1 so p1 stays the zero vector (no prediction).
    denom = np.maximum(num_selected, 1.0)
    p1_all = kept_sum / denom[:, None]  # Eq. 3

    reward, p0, p1, pred_before, pred_after = prediction_change_reward(
        p0_all, p1_all, lab, omega, num_frames, num_selected > 0)
    correct_before = pred_before == lab
    correct_after = pred_after == lab
    details = RewardDetails(
        p0=p0,
        p1=p1,
        correct_before=correct_before,
        correct_after=correct_after,
        num_selected=num_selected,
        pred_before=pred_before,
        pred_after=pred_after,
    )
    return reward, details


def prediction_change_reward(
    before: np.ndarray, after: np.ndarray, labels: np.ndarray, omega: float, num_frames: int,
    has_after: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 4's rule between two video-level predictions: the flip bonus, else the sign.

    :func:`selection_reward` applies it to the all-frames and the kept-frames mean; the
    sequential env (:mod:`frame_select_env.envs.sequential.core`) to the predictions before and
    after a step.

    :param before: (B, C) probabilities before (``p0`` of Eq. 2).
    :param after: (B, C) probabilities after (``p1`` of Eq. 3).
    :param labels: (B,) int64 true classes.
    :param omega: the flip bonus/penalty.
    :param num_frames: T, the number of frames averaged (it sets the rounding tolerance).
    :param has_after: (B,) bool, ``False`` where ``after`` is no prediction (counted wrong);
        ``None``: all are predictions.
    :return: ``(reward float32, p0, p1, pred_before, pred_after)``, each (B,); ``pred_after``
        is -1 where there is no prediction.
    """
    rows = np.arange(before.shape[0])
    p0 = before[rows, labels]
    p1 = after[rows, labels]
    diff = p1 - p0
    # A mean of T float32 values is exact to about T ulps: smaller differences are rounding.
    tol = num_frames * FLOAT32_EPS * np.maximum(p0, p1)
    r0 = np.where(np.abs(diff) <= tol, np.float32(0.0), np.sign(diff))
    pred_before = before.argmax(-1)
    pred_after = after.argmax(-1)
    if has_after is not None:
        pred_after = np.where(has_after, pred_after, -1)
    correct_before = pred_before == labels
    correct_after = pred_after == labels
    turned_right = correct_after & ~correct_before
    turned_wrong = correct_before & ~correct_after
    reward = np.where(turned_right, omega, np.where(turned_wrong, -omega, r0))  # Eq. 4
    return reward.astype(np.float32), p0, p1, pred_before, pred_after
