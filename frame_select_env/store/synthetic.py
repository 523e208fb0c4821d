"""A synthetic feature store with sparse relevant frames, for tests, benchmarks and smoke runs.

It needs no video and no classifier: per-frame logits and features are drawn directly, with the
structure the paper argues real videos have (class evidence in a few frames, misleading frames
elsewhere), and the ground-truth ``relevance`` is recorded. The built-in SparseActions dataset
(:mod:`frame_select_env.pipeline.datasets.sparse_actions`) is the real-pixel counterpart.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from frame_select_env.core.constants import SPLITS, STREAMS
from frame_select_env.store import write_store


def make_synthetic_store(
    path: str | os.PathLike,
    num_videos: int = 300,
    num_frames: int = 25,
    num_classes: int = 10,
    num_views: int = 1,
    feature_dim: int = 32,
    streams: Sequence[str] = STREAMS,
    split_fractions: tuple[float, float, float] = (0.6, 0.1, 0.3),
    evidence: float = 3.0,
    distractor: float = 2.2,
    noise: float = 1.0,
    seed: int = 0,
) -> Path:
    """A synthetic store with sparse relevant frames, for tests, benchmarks and smoke runs.

    Each video has one action window (15-35 % of the frames, marked relevant) whose frames carry
    strong evidence (``evidence`` on the true-class logit, a class embedding in the features) and
    one or two longer distractor windows of another class with weaker evidence. Averaging all
    frames is often misled by the distractors; keeping the relevant frames is right.

    :param path: the store to write.
    :param seed: makes the store reproducible.
    :return: the path written.
    """
    rng = np.random.default_rng(seed)
    t, c, v, d = num_frames, num_classes, num_views, feature_dim
    emb = {s: rng.normal(size=(c, d)).astype(np.float32) for s in streams}
    labels = np.arange(num_videos) % c
    rng.shuffle(labels)
    relevance = np.zeros((num_videos, t), dtype=np.uint8)
    feats = {s: np.empty((num_videos, t, v, d), np.float32) for s in streams}
    logits = {s: np.empty((num_videos, t, v, c), np.float32) for s in streams}
    for i, y in enumerate(labels):
        k = int(rng.integers(max(1, round(0.15 * t)), round(0.35 * t) + 1))
        start = int(rng.integers(0, t - k + 1))
        relevance[i, start:start + k] = 1
        strength = np.zeros((t, c), np.float32)
        strength[start:start + k, y] = evidence
        for _ in range(int(rng.integers(1, 3))):
            other = int(rng.choice([j for j in range(c) if j != y]))
            length = int(rng.integers(round(0.25 * t), round(0.45 * t) + 1))
            s0 = int(rng.integers(0, t - length + 1))
            frames = np.arange(s0, s0 + length)
            frames = frames[relevance[i, frames] == 0]
            strength[frames, other] = np.maximum(strength[frames, other], distractor)
        for s in streams:
            jitter = 1.0 + 0.2 * rng.normal(size=(t, v, 1))
            logits[s][i] = strength[:, None, :] * jitter + noise * rng.normal(size=(t, v, c))
            feats[s][i] = (strength @ emb[s] / max(evidence, 1e-6))[:, None, :] * jitter + \
                noise * rng.normal(size=(t, v, d))
    cut = np.cumsum(np.asarray(split_fractions) / np.sum(split_fractions))
    pos = (np.arange(num_videos) + 0.5) / num_videos
    splits = np.array(SPLITS)[np.searchsorted(cut, pos)]
    return write_store(
        path, features=feats, logits=logits, labels=labels,
        video_ids=[f"toy_{i:05d}" for i in range(num_videos)], splits=list(splits),
        class_names=[f"class_{j}" for j in range(c)], relevance=relevance,
        metadata={"source": "frame_select_env.store.synthetic", "seed": seed}, dtype="float32",
    )
