"""Eq. 2-4 checked against an independent per-episode re-computation."""

from __future__ import annotations

import numpy as np
import pytest

from frame_select_env.core.reward import FLOAT32_EPS, selection_reward


def reference_reward(probs: np.ndarray, keep: np.ndarray, label: int, omega: float) -> float:
    """Eq. 2-4 written out for one video, the slow obvious way."""
    p0 = probs.mean(axis=0)
    kept = [probs[t] for t in range(len(keep)) if keep[t]]
    p1 = np.mean(kept, axis=0) if kept else np.zeros_like(p0)
    before_right = int(np.argmax(p0)) == label
    after_right = bool(kept) and int(np.argmax(p1)) == label
    if after_right and not before_right:
        return omega
    if before_right and not after_right:
        return -omega
    # In float64, so it is independent of the float32 sums; the documented rounding tolerance.
    a, b = float(p0.astype(np.float64)[label]), float(np.float64(p1[label]))
    diff = b - a
    if abs(diff) <= len(keep) * FLOAT32_EPS * max(a, b):
        return 0.0
    return float(np.sign(diff))


def random_batch(rng: np.random.Generator, b: int = 500, t: int = 25, c: int = 7):
    probs = rng.dirichlet(np.full(c, 0.3), size=(b, t)).astype(np.float32)
    keep = rng.random((b, t)) < rng.random((b, 1))  # from empty to full selections
    labels = rng.integers(0, c, b)
    return probs, keep, labels


def test_matches_reference_on_random_actions() -> None:
    rng = np.random.default_rng(0)
    probs, keep, labels = random_batch(rng, b=3000)
    reward, details = selection_reward(probs, keep, labels, omega=10.0)
    expected = [reference_reward(probs[i], keep[i], labels[i], 10.0) for i in range(len(labels))]
    np.testing.assert_array_equal(reward, np.array(expected, dtype=np.float32))
    # Every branch of Eq. 4 occurred, so the comparison above covered them all.
    assert {-10.0, -1.0, 0.0, 1.0, 10.0} <= set(np.unique(reward).tolist())
    assert details.num_selected.tolist() == keep.sum(1).tolist()


def test_edge_cases() -> None:
    probs = np.array([[[0.6, 0.4], [0.2, 0.8], [0.3, 0.7]]], dtype=np.float32)  # p0 = [.367, .633]
    # Keeping only frame 0 turns a wrong prediction (true class 0) into a right one.
    r, d = selection_reward(probs, np.array([[1, 0, 0]]), np.array([0]))
    assert r[0] == 10.0 and d.correct_after[0] and not d.correct_before[0]
    # Keeping every frame changes nothing: sgn(0) = 0.
    r, _ = selection_reward(probs, np.ones((1, 3)), np.array([1]))
    assert r[0] == 0.0
    # An empty selection makes no prediction: right -> wrong is -omega.
    r, d = selection_reward(probs, np.zeros((1, 3)), np.array([1]), omega=5.0)
    assert r[0] == -5.0 and d.p1[0] == 0.0 and d.pred_after[0] == -1
    # A single video without the batch axis.
    r, d = selection_reward(probs[0], np.array([0, 1, 1]), 1)
    assert r.shape == () and float(r) == 1.0


def test_shape_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="expected probs"):
        selection_reward(np.ones((2, 5, 3)), np.ones((2, 4)), np.zeros(2, dtype=int))


def test_identical_frames_give_r0_zero_for_any_selection() -> None:
    # Every frame gives the same prediction, so no selection changes p: r0 must be 0 for every
    # non-empty selection, whatever rounding the sums of T float32 values make.
    rng = np.random.default_rng(3)
    b, t, c = 2000, 25, 51
    frame = rng.dirichlet(np.full(c, 0.5), size=b).astype(np.float32)
    probs = np.repeat(frame[:, None], t, axis=1)
    keep = rng.random((b, t)) < rng.uniform(0.05, 1.0, (b, 1))
    keep[keep.sum(1) == 0, 0] = True
    labels = rng.integers(0, c, b)
    reward, d = selection_reward(probs, keep, labels)
    assert (reward == 0.0).all()
    # The sums do round differently: without the tolerance some r0 would be +-1.
    raw = np.asarray(d.p1) - np.asarray(d.p0)
    assert (raw != 0).any()


def test_differences_above_float32_resolution_still_count() -> None:
    # One frame slightly better for the true class: a difference of 1e-4 is far above rounding.
    probs = np.full((1, 25, 2), 0.5, dtype=np.float32)
    probs[0, 3] = [0.5001, 0.4999]
    keep = np.zeros((1, 25), dtype=bool)
    keep[0, 3] = True
    reward, _ = selection_reward(probs, keep, np.array([0]))
    assert reward[0] == 1.0
    reward, _ = selection_reward(probs, keep, np.array([1]))
    assert reward[0] == -1.0
