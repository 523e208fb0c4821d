"""Shared fixtures: small feature stores written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frame_select_env.store import write_store

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


def make_store(
    path: Path,
    num_videos: int = 120,
    num_frames: int = 25,
    num_views: int = 3,
    feature_dim: int = 16,
    num_classes: int = 6,
    streams: tuple[str, ...] = ("rgb", "flow"),
    seed: int = 0,
) -> Path:
    """A store whose logits favour the true class on a few 'relevant' frames only."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, num_videos)
    relevance = np.zeros((num_videos, num_frames), dtype=np.uint8)
    for i in range(num_videos):
        start = rng.integers(0, num_frames - 5)
        relevance[i, start : start + 5] = 1
    features, logits = {}, {}
    for k, s in enumerate(streams):
        lg = rng.normal(0, 1, (num_videos, num_frames, num_views, num_classes)).astype(np.float32)
        rows, frames = np.nonzero(relevance)
        lg[rows, frames, :, labels[rows]] += 3.0
        feats = rng.normal(0, 1, (num_videos, num_frames, num_views, feature_dim + 4 * k))
        feats[..., 0] += 2.0 * relevance[..., None]  # the cue a learner can find
        features[s], logits[s] = feats.astype(np.float32), lg
    splits = np.array(["train", "val", "test"])[rng.integers(0, 3, num_videos)]
    write_store(
        path,
        features=features,
        logits=logits,
        labels=labels,
        video_ids=[f"class{labels[i]}/video_{i:04d}" for i in range(num_videos)],
        splits=list(splits),
        class_names=[f"class{c}" for c in range(num_classes)],
        relevance=relevance,
        metadata={"source": "tests.conftest.make_store"},
        dtype="float32",
    )
    return path


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("stores") / "small.h5")
