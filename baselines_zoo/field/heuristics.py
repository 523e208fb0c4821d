"""Training-free selectors of the field: SCSampler-style and MGSampler-style.

Both observe the cheap stream (``observe``, RGB by default) on every frame and keep m frames, on
which the expensive stream is then computed (select-before-compute):

* :class:`SCSamplerPolicy` (after Korbar, Tran, Torresani, *SCSampler*, ICCV 2019): a cheap
  model's per-clip saliency, top-k clips. Here the saliency is the frozen cheap classifier's
  top-class probability per frame (SCSampler trains its own light-weight saliency network; the
  store already holds a cheap classifier, whose confidence stands in for it).
* :class:`MGSamplerPolicy` (after Zhi et al., *MGSampler: An Explainable Sampling Strategy for
  Video Action Recognition*, ICCV 2021): a per-frame motion score, its cumulative distribution,
  and one frame at each of the m quantiles ``(k + 0.5) / m``, so frames are dense where motion
  is. MGSampler measures motion from pixel differences of neighbouring frames; a feature store
  has no pixels, so the motion is the mean absolute difference of consecutive frames' cheap
  features (:func:`motion_profile`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from baselines_zoo.policies import ConfidencePolicy

Observation = Mapping[str, np.ndarray]


class SCSamplerPolicy(ConfidencePolicy):
    """SCSampler-style: the m frames with the highest top-class probability of the cheap stream.

    :param observe: the cheap stream read on every frame.
    :param name: display name.
    """

    uses_label = False

    def __init__(self, observe: str = "rgb", name: str = "scsampler") -> None:
        super().__init__("max", name=name)
        self.observe = observe
        self.observes = (observe,)


def motion_profile(features: np.ndarray) -> np.ndarray:
    """Per-frame motion: the mean absolute difference of a frame's features from the previous one.

    Frame 0 has no predecessor and takes frame 1's motion, so a step at the start counts once
    on each of the two frames around it, like every other step counts on the frame after it.

    :param features: (B, T, D) per-frame features (T >= 2).
    :return: (B, T) float64 motion, >= 0.
    :raises ValueError: for features that are not (B, T, D) with T >= 2.
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 3 or f.shape[1] < 2:
        raise ValueError(f"motion_profile: features must be (B, T, D) with T >= 2, got {f.shape}")
    diff = np.abs(np.diff(f, axis=1)).mean(-1)  # (B, T-1): step t-1 -> t
    return np.concatenate([diff[:, :1], diff], axis=1)


def quantile_frames(motion: np.ndarray, m: int) -> np.ndarray:
    """MGSampler's frames: where the cumulative motion distribution crosses ``(k + 0.5) / m``.

    Frame ``t`` is chosen for quantile q when it is the first frame whose cumulative share of the
    motion reaches q. Several quantiles can fall on one frame when motion is concentrated;
    MGSampler then samples that frame again, which a keep-mask cannot express, so the later
    quantile moves to the nearest frame not yet chosen (the later one on a tie). A video without
    motion gets the uniform distribution.

    :param motion: (B, T) motion >= 0.
    :param m: frames to keep (capped at T).
    :return: (B, T) bool, exactly ``min(m, T)`` frames per video.
    :raises ValueError: if ``m < 1`` or the motion is not (B, T), finite and >= 0.
    """
    motion = np.asarray(motion, dtype=np.float64)
    if int(m) < 1:
        raise ValueError(f"quantile_frames: m must be >= 1, got {m}")
    if motion.ndim != 2 or not np.isfinite(motion).all() or (motion < 0).any():
        raise ValueError(f"quantile_frames: motion must be finite, >= 0, of shape (B, T), got "
                         f"shape {motion.shape}")
    b, t = motion.shape
    m = min(int(m), t)
    total = motion.sum(1, keepdims=True)
    share = np.where(total > 0, motion / np.where(total > 0, total, 1.0), 1.0 / t)
    cdf = np.cumsum(share, axis=1)
    q = (np.arange(m) + 0.5) / m
    # first t with cdf >= q (a tolerance so exact crossings, e.g. uniform motion, are not lost
    # to rounding in the cumulative sum)
    first = np.array([np.searchsorted(row + 1e-9, q, side="left") for row in cdf])
    first = np.minimum(first, t - 1)
    mask = np.zeros((b, t), dtype=bool)
    frames = np.arange(t)
    for i in range(b):
        for f in first[i]:
            if mask[i, f]:  # a repeated frame: the nearest free one, the later on a tie
                free = np.flatnonzero(~mask[i])
                dist = np.abs(free - f) - 0.5 * (free > f)
                f = free[np.argmin(dist)]
            mask[i, frames[f]] = True
    return mask


class MGSamplerPolicy:
    """MGSampler-style: frames at the quantiles of the cumulative motion of the cheap stream.

    The chosen m frames score above the others (the rest ranked by motion), so the evaluation's
    top-m keeps exactly them; the set depends on m, so the policy has ``for_m`` like ``uniform``.

    :param observe: the cheap stream whose features give the motion.
    :param m: bind the policy to one m (else the call's ``m`` or ``info["m"]``).
    :param name: display name.
    """

    uses_label = False

    def __init__(self, observe: str = "rgb", m: int | None = None,
                 name: str = "mgsampler") -> None:
        self.observe = observe
        self.observes = (observe,)
        self.m = m
        self.name = name

    def for_m(self, m: int) -> MGSamplerPolicy:
        """A copy bound to ``m`` frames."""
        return MGSamplerPolicy(self.observe, m=int(m), name=self.name)

    def scores(self, obs: Observation, info: Mapping[str, Any] | None = None,
               m: int | None = None) -> np.ndarray:
        """Scores whose top-m are the motion quantile frames.

        :param obs: a batch with ``features`` (B, T, D) of the observed stream.
        :param info: may hold ``m`` (used when neither the call nor the policy gives one).
        :param m: frames to keep.
        :return: (B, T) float32 scores: 1 + motion share for the chosen frames, the motion share
            (in [0, 1]) for the others.
        :raises ValueError: without ``features`` or without any m.
        """
        if "features" not in obs:
            raise ValueError(f"policy {self.name!r} needs obs['features'] (per-frame features of "
                             f"the {self.observe!r} stream); got {sorted(obs)}")
        if m is None:
            m = self.m
        if m is None and info is not None and info.get("m") is not None:
            m = int(np.asarray(info["m"]).ravel()[0])
        if m is None:
            raise ValueError(f"policy {self.name!r} needs m (how many quantile frames): call "
                             f"scores(obs, m=...) or use for_m(m)")
        motion = motion_profile(obs["features"])
        total = motion.sum(1, keepdims=True)
        share = motion / np.where(total > 0, total, 1.0)
        return (share + quantile_frames(motion, m)).astype(np.float32)


def make_scsampler(observe: str = "rgb", **kwargs: Any) -> SCSamplerPolicy:
    """The SCSampler-style policy (training-free).

    :param observe: the cheap stream.
    :param kwargs: passed to :class:`SCSamplerPolicy` (``name``).
    """
    return SCSamplerPolicy(observe=observe, **kwargs)


def make_mgsampler(observe: str = "rgb", **kwargs: Any) -> MGSamplerPolicy:
    """The MGSampler-style policy (training-free).

    :param observe: the cheap stream.
    :param kwargs: passed to :class:`MGSamplerPolicy` (``m``, ``name``).
    """
    return MGSamplerPolicy(observe=observe, **kwargs)


__all__ = ["MGSamplerPolicy", "SCSamplerPolicy", "make_mgsampler", "make_scsampler",
           "motion_profile", "quantile_frames"]
