"""SCSampler-style and MGSampler-style selectors (baselines_zoo/field/heuristics.py), by hand."""

from __future__ import annotations

import numpy as np
import pytest

from baselines_zoo.field import METHODS, load_method
from baselines_zoo.field.heuristics import (
    MGSamplerPolicy,
    SCSamplerPolicy,
    motion_profile,
    quantile_frames,
)
from frame_select_env.core.selection import topm_mask


def _features_with_steps(steps: list[float]) -> np.ndarray:
    """(1, T, 2) features whose consecutive differences have the given mean absolute values."""
    f = np.concatenate([[0.0], np.cumsum(steps)])
    return np.stack([f, -f], -1)[None].astype(np.float32)  # |diff| is the same in both dims


def test_motion_profile_is_the_consecutive_feature_difference() -> None:
    motion = motion_profile(_features_with_steps([1.0, 0.0, 3.0, 2.0]))
    # frame 0 borrows frame 1's difference; frame t has |f_t - f_{t-1}|
    np.testing.assert_allclose(motion, [[1.0, 1.0, 0.0, 3.0, 2.0]])
    with pytest.raises(ValueError, match=r"\(B, T, D\) with T >= 2"):
        motion_profile(np.zeros((1, 1, 3)))


def test_quantile_frames_on_a_known_motion_profile() -> None:
    # T = 10, motion 1 everywhere but 6 on frames 4 and 5: total 20, cdf (in 1/20):
    # 1 2 3 4 10 16 17 18 19 20
    motion = np.array([[1, 1, 1, 1, 6, 6, 1, 1, 1, 1]], float)
    # m = 4: quantiles 0.125 0.375 0.625 0.875 -> 2.5, 7.5, 12.5, 17.5 (in 1/20)
    # first frame reaching them: 2 (3/20), 4 (10/20), 5 (16/20), 7 (18/20)
    np.testing.assert_array_equal(np.flatnonzero(quantile_frames(motion, 4)[0]), [2, 4, 5, 7])
    # m = 2: 5/20 -> frame 4 (10/20); 15/20 -> frame 5 (16/20)
    np.testing.assert_array_equal(np.flatnonzero(quantile_frames(motion, 2)[0]), [4, 5])
    # no motion: the uniform cdf (t+1)/T; m = 5 on T = 10: q*10 = 1, 3, 5, 7, 9 -> frames 0,2,4,6,8
    np.testing.assert_array_equal(np.flatnonzero(quantile_frames(np.zeros((1, 10)), 5)[0]),
                                  [0, 2, 4, 6, 8])


def test_quantile_frames_moves_repeated_frames_to_the_nearest_free_one() -> None:
    # all motion on frame 3: every quantile lands there; MGSampler would repeat frame 3,
    # a mask takes its nearest free neighbours instead (later first on a tie): 3, 4, 2
    motion = np.zeros((1, 8))
    motion[0, 3] = 5.0
    mask = quantile_frames(motion, 3)
    np.testing.assert_array_equal(np.flatnonzero(mask[0]), [2, 3, 4])
    assert quantile_frames(motion, 20).sum() == 8  # m > T keeps every frame


def test_mgsampler_scores_select_the_quantile_frames_for_every_m() -> None:
    feats = _features_with_steps([1, 1, 1, 6, 6, 1, 1, 1, 1])  # motion as above, T = 10
    pol = load_method("mgsampler")
    assert isinstance(pol, MGSamplerPolicy) and pol.observes == ("rgb",) and not pol.uses_label
    for m in (2, 4):
        want = quantile_frames(motion_profile(feats), m)
        got = topm_mask(pol.for_m(m).scores({"features": feats}), m)
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="needs m"):
        pol.scores({"features": feats})


def test_scsampler_is_the_cheap_streams_top_class_probability() -> None:
    probs = np.array([[[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]], np.float32)
    pol = load_method("scsampler")
    assert isinstance(pol, SCSamplerPolicy) and pol.observe == "rgb"
    np.testing.assert_allclose(pol.scores({"predictions": probs}), [[0.5, 0.9, 0.8]])
    assert METHODS["scsampler"].builtin and METHODS["mgsampler"].builtin
    with pytest.raises(ValueError, match="training-free"):
        load_method("scsampler", "some.pt")
