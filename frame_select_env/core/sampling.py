"""TSN's segment-centre sampling: the one definition of "m evenly spaced frames"."""

from __future__ import annotations

import numpy as np


def segment_centres(num_frames: int, num_segments: int) -> np.ndarray:
    """Index of the centre frame of each of ``num_segments`` equal segments of ``num_frames``.

    This is TSN's test-time sampling, used to pick frames from a video, evenly spaced frames of a
    store and the ``uniform`` policy's frames. With more segments than frames, indices repeat.

    :param num_frames: number of frames (or admissible window starts) to choose from, >= 1.
    :param num_segments: number of segments, >= 1.
    :return: (num_segments,) non-decreasing int64 indices in ``[0, num_frames)``.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if num_segments < 1:
        raise ValueError(f"num_segments must be >= 1, got {num_segments}")
    tick = num_frames / float(num_segments)
    idx = (tick / 2.0 + tick * np.arange(num_segments)).astype(np.int64)
    return np.minimum(idx, num_frames - 1)
