"""TSN's segment centres: the one rule behind video sampling, store subsets and `uniform`."""

from __future__ import annotations

import numpy as np
import pytest

from baselines_zoo.policies import segment_centres as uniform_frames
from frame_select_env.core.sampling import segment_centres
from frame_select_env.envs.observations import frame_subset
from frame_select_env.pipeline.video.decode import sample_indices


def test_matches_the_exact_centres_for_t25() -> None:
    # the stores' T = 25: for every m, the centre floor((k + 1/2) T / m) of each segment
    for m in range(1, 26):
        exact = np.floor((np.arange(m) + 0.5) * 25 / m).astype(np.int64)
        np.testing.assert_array_equal(segment_centres(25, m), exact)
        np.testing.assert_array_equal(frame_subset(25, m), exact)
        np.testing.assert_array_equal(uniform_frames(25, m), exact)


def test_video_sampling_uses_it() -> None:
    # 70 frames, flow windows of 6 frames: 65 admissible starts, 25 segments
    np.testing.assert_array_equal(sample_indices(70, 25, 6), segment_centres(65, 25))
    assert sample_indices(70, 25, 6).max() + 6 <= 70
    # TSN's float rounding is kept: the stored SparseActions frames were sampled with it
    assert segment_centres(58, 25).tolist() != np.floor(
        (np.arange(25) + 0.5) * 58 / 25).astype(np.int64).tolist()


def test_more_segments_than_frames_repeat() -> None:
    idx = segment_centres(3, 7)
    assert idx.tolist() == sorted(idx.tolist()) and set(idx.tolist()) == {0, 1, 2}


@pytest.mark.parametrize("n, m", [(0, 3), (3, 0)])
def test_bad_sizes(n: int, m: int) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        segment_centres(n, m)
