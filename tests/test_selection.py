"""Top-m selection, Eq. 10 aggregation, fusion and metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from frame_select_env.core.selection import (
    aggregate_predictions,
    fuse_streams,
    select_frames,
    softmax,
    topm_mask,
)
from frame_select_env.evaluation import accuracy, mean_class_accuracy


def test_topm_mask_picks_highest_and_breaks_ties_to_earlier() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.2]])
    assert topm_mask(scores, 2).tolist() == [[False, True, False, True, False]]
    assert topm_mask(scores, 1).tolist() == [[False, True, False, False, False]]
    assert topm_mask(scores, 10).all()  # m > T keeps everything
    with pytest.raises(ValueError, match="m must be >= 1"):
        topm_mask(scores, 0)


def test_frame_vs_region_schemes() -> None:
    # Two views disagree: view 0 likes frame 0, view 1 likes frame 2; the mean likes frame 1.
    imp = np.array([[[0.9, 0.0], [0.6, 0.6], [0.0, 0.9]]])  # (B=1, T=3, V=2)
    frame = select_frames(imp, 1, "frame")
    region = select_frames(imp, 1, "region")
    assert frame[0, :, 0].tolist() == [False, True, False] == frame[0, :, 1].tolist()
    assert region[0, :, 0].tolist() == [True, False, False]
    assert region[0, :, 1].tolist() == [False, False, True]
    with pytest.raises(ValueError, match="scheme"):
        select_frames(imp, 1, "pixel")


def test_aggregate_with_alpha_matches_eq10() -> None:
    probs = np.array([[[[1.0, 0.0]], [[0.0, 1.0]], [[0.5, 0.5]]]])  # (1, 3, 1, 2)
    mask = np.array([[[True], [False], [False]]])
    np.testing.assert_allclose(aggregate_predictions(probs, mask), [[1.0, 0.0]])
    # alpha = 0.5: (1*[1,0] + .5*[0,1] + .5*[.5,.5]) / 2
    np.testing.assert_allclose(aggregate_predictions(probs, mask, alpha=0.5), [[0.625, 0.375]])
    np.testing.assert_allclose(aggregate_predictions(probs), [[0.5, 0.5]])


def test_fusion_and_metrics() -> None:
    rgb, flow = np.array([[0.8, 0.2], [0.4, 0.6]]), np.array([[0.2, 0.8], [0.0, 1.0]])
    np.testing.assert_allclose(fuse_streams({"rgb": rgb, "flow": flow}), [[0.5, 0.5], [0.2, 0.8]])
    np.testing.assert_allclose(
        fuse_streams({"rgb": rgb, "flow": flow}, {"rgb": 3, "flow": 1}), [[0.65, 0.35], [0.3, 0.7]]
    )
    with pytest.raises(ValueError, match="unknown streams"):
        fuse_streams({"rgb": rgb}, {"rgb": 1, "depth": 1})
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([0, 0, 1, 1])
    assert accuracy(probs, labels) == 75.0
    assert mean_class_accuracy(probs, labels) == 75.0
    assert mean_class_accuracy(probs[:3], np.array([0, 1, 1])) == pytest.approx(75.0)
    np.testing.assert_allclose(softmax(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]], rtol=1e-6)
