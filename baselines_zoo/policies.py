"""Simple frame-selection baselines following :class:`frame_select_env.core.policy.SelectionPolicy`.

Every policy maps a batch of observations ``{"features": (B, T, D), "predictions": (B, T, C)}``
to importance scores (B, T); the shared top-m rule
(:func:`frame_select_env.core.selection.topm_mask`) turns scores into a selection, so all
baselines are judged exactly like the learned agents.

=====================  =========================================================  ==========
name                   keeps                                                      uses label
=====================  =========================================================  ==========
``random``             m frames drawn at random (seeded, its own generator)       no
``uniform``            m evenly spaced frames (TSN segment centres)               no
``all``                every frame, whatever m is (the plain TSN prediction)      no
``confidence``         the m frames with the highest max-probability              no
``entropy``            the m frames with the lowest prediction entropy            no
``oracle``             the m frames with the highest true-class probability       **yes**
``relevance-oracle``   the m frames the store marks as showing the action         **yes**
=====================  =========================================================  ==========

Oracles read ground truth (``info["label"]`` / ``info["relevance"]``); they are upper bounds,
have ``uses_label = True``, and every table and plot marks them as such.

Two policies depend on m in a way a plain score vector cannot express for every m at once:

* ``uniform``: exactly evenly spaced sets are not nested (the 4 segment centres of 25 frames are
  not a subset of the 8 centres), so :meth:`UniformPolicy.scores` takes an optional ``m`` (and
  also reads ``info["m"]``); :meth:`UniformPolicy.for_m` returns a copy bound to one m. Without
  any m it returns a nested van der Corput order whose top-m is spread out for every m.
* ``all``: keeps every frame for every m; evaluate it at ``m = T``
  (``keeps_all = True`` tells the comparison script to do so).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from frame_select_env.envs.observations import frame_subset

Observation = Mapping[str, np.ndarray]


def _predictions(obs: Observation, who: str) -> np.ndarray:
    """The (B, T, C) per-frame probabilities of a batch, with a clear error when absent."""
    if "predictions" not in obs:
        raise ValueError(f"policy {who!r} needs obs['predictions'] (per-frame class "
                         f"probabilities); the observation has only {sorted(obs)}. Use "
                         f"state='both' or state='predictions'.")
    probs = np.asarray(obs["predictions"], dtype=np.float32)
    if probs.ndim != 3:
        raise ValueError(f"policy {who!r}: obs['predictions'] must be (B, T, C), got {probs.shape}")
    return probs


def _batch_shape(obs: Observation, who: str) -> tuple[int, int]:
    """(B, T) of a batch of observations (any key works: all are (B, T, ...))."""
    if not obs:
        raise ValueError(f"policy {who!r}: empty observation")
    first = np.asarray(next(iter(obs.values())))
    if first.ndim != 3:
        raise ValueError(f"policy {who!r}: observations must be batched (B, T, X), got "
                         f"{first.shape}")
    return int(first.shape[0]), int(first.shape[1])


def _info_array(info: Mapping[str, Any] | None, key: str, who: str, what: str) -> np.ndarray:
    if info is None or key not in info or info[key] is None:
        raise ValueError(f"policy {who!r} needs info[{key!r}] ({what}); the evaluation did not "
                         f"provide it")
    return np.asarray(info[key])


def segment_centres(num_frames: int, m: int) -> np.ndarray:
    """Frame indices of ``m`` evenly spaced frames out of ``num_frames`` (TSN segment centres).

    The env's own subset rule (:func:`frame_select_env.envs.observations.frame_subset`) with ``m``
    clipped.

    :param num_frames: T.
    :param m: frames to keep; clipped to [1, T].
    :return: (m,) increasing int64 frame indices.
    """
    return frame_subset(num_frames, int(min(max(int(m), 1), num_frames)))


def nested_spread_order(num_frames: int) -> np.ndarray:
    """An order of the T frames whose every prefix is spread evenly over the video.

    Frames are visited in van der Corput order (0.5, 0.25, 0.75, 0.125, ...) of their relative
    position, so the first m of them cover the video roughly uniformly for every m.

    :param num_frames: T.
    """
    order: list[int] = []
    seen: set[int] = set()
    k = 0
    while len(order) < num_frames:
        k += 1
        # Bit-reversal of k in base 2 gives the van der Corput point in (0, 1).
        x, denom, n = 0.0, 1.0, k
        while n:
            denom *= 2.0
            x += (n & 1) / denom
            n >>= 1
        frame = min(int(x * num_frames), num_frames - 1)
        if frame not in seen:
            seen.add(frame)
            order.append(frame)
    return np.asarray(order, dtype=np.int64)


class BaselinePolicy:
    """Base class: a name, ``uses_label`` and a ``scores`` method.

    :param name: name shown in tables and plots (``None``: the class's :attr:`default_name`).
    """

    uses_label: bool = False
    keeps_all: bool = False
    #: the name when none is given (each built-in baseline's own)
    default_name: str = ""

    def __init__(self, name: str | None = None) -> None:
        self.name = self.default_name if name is None else name

    def scores(self, obs: Observation, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Per-frame importance scores of a batch; the top-m of them are kept.

        :param obs: ``{"features": (B, T, D), "predictions": (B, T, C)}`` (some keys may be absent).
        :param info: per-video extras (``label``, ``relevance``, ``m``, ...).
        :return: (B, T) scores.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class OwnGenerator:
    """A random policy's own ``np.random.Generator`` (a mixin of the random baselines).

    A seed reproduces a whole evaluation and no global random state is touched; ``reset(seed)``
    restarts the generator, as the evaluation does for each of its seeds.
    """

    seed: int | None
    rng: np.random.Generator

    def start_generator(self, seed: int | None) -> None:
        """Start the generator from ``seed`` (``None``: fresh entropy); the constructors' step.

        :param seed: the seed, kept as :attr:`seed`.
        """
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Restart the generator (with ``seed``, or the constructor's seed).

        :param seed: the new seed; ``None`` keeps the current one.
        """
        self.start_generator(self.seed if seed is None else seed)


class RandomPolicy(OwnGenerator, BaselinePolicy):
    """Keeps m frames drawn uniformly at random, from its own generator (:class:`OwnGenerator`).

    :param seed: seed of the generator.
    :param name: display name.
    """

    observes: tuple[str, ...] = ()  # looks at no frame: only the kept frames are ever computed

    def __init__(self, seed: int | None = 0, name: str = "random") -> None:
        super().__init__(name)
        self.start_generator(seed)

    def scores(self, obs: Observation, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """I.i.d. uniform scores from the policy's own generator.

        :param obs: a batch of observations; only its (B, T) shape is read.
        :param info: unused.
        :return: (B, T) float32 scores in [0, 1).
        """
        b, t = _batch_shape(obs, self.name)
        # i.i.d. uniform scores: their top-m is a uniformly random m-subset.
        return self.rng.random((b, t), dtype=np.float64).astype(np.float32)


class UniformPolicy(BaselinePolicy):
    """Keeps m evenly spaced frames (the TSN segment centres of m segments).

    :param m: bind the policy to one m; ``None`` reads ``m`` from the call (or ``info["m"]``), and
        with no m at all returns a nested order whose top-m is spread out for every m.
    :param name: display name.
    """

    observes: tuple[str, ...] = ()  # looks at no frame: only the kept frames are ever computed

    def __init__(self, m: int | None = None, name: str = "uniform") -> None:
        super().__init__(name)
        self.m = m

    def for_m(self, m: int) -> UniformPolicy:
        """A copy whose scores select exactly the ``m`` segment centres."""
        return UniformPolicy(m=m, name=self.name)

    def frame_scores(self, num_frames: int, m: int | None = None) -> np.ndarray:
        """The (T,) score vector shared by every video.

        :param num_frames: T.
        :param m: frames to keep, or ``None`` for the nested spread order.
        """
        if m is None:
            order = nested_spread_order(num_frames)
            scores: np.ndarray = np.empty(num_frames, dtype=np.float32)
            scores[order] = np.arange(num_frames, 0, -1, dtype=np.float32)
            return scores
        # The centres score above every other frame; the rest keep the nested order (in [0, 1)) so
        # the result is still a sensible ranking.
        scores = self.frame_scores(num_frames) / (num_frames + 1)
        scores[segment_centres(num_frames, m)] += 1.0
        return scores

    def scores(
        self, obs: Observation, info: Mapping[str, Any] | None = None, m: int | None = None
    ) -> np.ndarray:
        """The segment centres of m frames score highest; without any m, the nested order.

        :param obs: a batch of observations; only its (B, T) shape is read.
        :param info: may hold ``m`` (used when neither the call nor the policy gives one).
        :param m: frames to keep; overrides the policy's own ``m``.
        :return: (B, T) float32 scores, the same row for every video.
        """
        b, t = _batch_shape(obs, self.name)
        if m is None:
            m = self.m
        if m is None and info is not None and info.get("m") is not None:
            m = int(np.asarray(info["m"]).ravel()[0])
        return np.broadcast_to(self.frame_scores(t, m), (b, t)).copy()


class AllPolicy(BaselinePolicy):
    """Keeps every frame: the classifier's plain all-frames prediction.

    Top-m of its (constant) scores would be the first m frames, so evaluate it at ``m = T``;
    ``keeps_all = True`` tells the comparison script to do that and report the result for every m.

    :param name: display name.
    """

    keeps_all = True
    default_name = "all"

    def scores(self, obs: Observation, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """The same score for every frame (evaluate at ``m = T``).

        :param obs: a batch of observations; only its (B, T) shape is read.
        :param info: unused.
        :return: (B, T) float32 ones.
        """
        b, t = _batch_shape(obs, self.name)
        return np.ones((b, t), dtype=np.float32)


class ConfidencePolicy(BaselinePolicy):
    """Keeps the frames the classifier is most sure about (no label needed).

    :param measure: ``"max"``: the largest class probability; ``"entropy"``: minus the entropy of
        the frame's class distribution (low entropy = confident).
    :param name: display name (defaults to ``confidence`` / ``entropy``).
    """

    MEASURES = ("max", "entropy")

    def __init__(self, measure: str = "max", name: str | None = None) -> None:
        if measure not in self.MEASURES:
            raise ValueError(f"ConfidencePolicy: measure must be one of {self.MEASURES}, got "
                             f"{measure!r}")
        super().__init__(name or ("confidence" if measure == "max" else "entropy"))
        self.measure = measure

    def scores(self, obs: Observation, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Each frame's confidence: its largest class probability, or minus its entropy.

        :param obs: a batch of observations with ``predictions`` (B, T, C).
        :param info: unused.
        :return: (B, T) scores.
        :raises ValueError: ``obs`` has no (B, T, C) ``predictions``.
        """
        probs = _predictions(obs, self.name)
        if self.measure == "max":
            return probs.max(-1)
        p = np.clip(probs, 1e-12, 1.0)
        return (p * np.log(p)).sum(-1)  # = -entropy


class OraclePolicy(BaselinePolicy):
    """Keeps the frames with the highest probability of the TRUE class: an upper bound.

    Reads ``info["label"]`` (B,), so it is not a deployable policy (``uses_label = True``).

    :param name: display name.
    """

    uses_label = True
    default_name = "oracle"

    def scores(self, obs: Observation, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Each frame's probability of the video's true class.

        :param obs: a batch of observations with ``predictions`` (B, T, C).
        :param info: must hold ``label`` (B,).
        :return: (B, T) scores.
        :raises ValueError: no predictions, no labels, or a label count that does not match B.
        """
        probs = _predictions(obs, self.name)
        labels = _info_array(info, "label", self.name, "the true class of each video").astype(
            np.int64).reshape(-1)
        if labels.shape != (probs.shape[0],):
            raise ValueError(f"policy {self.name!r}: info['label'] has {labels.shape[0]} entries "
                             f"for {probs.shape[0]} videos")
        return np.take_along_axis(probs, labels[:, None, None], axis=-1)[..., 0]


class RelevanceOraclePolicy(BaselinePolicy):
    """Keeps the frames the store marks as showing the action (ground-truth relevance).

    Reads ``info["relevance"]`` (B, T); only for stores that record relevance (e.g. the built-in
    SparseActions store). Ties (among relevant or among irrelevant frames) go to the nested evenly
    spread order, so the choice inside each group carries no information. ``uses_label = True``:
    an upper bound, not a deployable policy.

    :param name: display name.
    """

    uses_label = True
    default_name = "relevance-oracle"

    def scores(self, obs: Observation, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Each frame's ground-truth relevance, ties broken by the nested spread order.

        :param obs: a batch of observations; only its (B, T) shape is read.
        :param info: must hold ``relevance`` (B, T).
        :return: (B, T) float32 scores: relevance plus a tie-break in (0, 1).
        :raises ValueError: ``info`` has no ``relevance``.
        """
        b, t = _batch_shape(obs, self.name)
        rel = _info_array(info, "relevance", self.name,
                          "per-frame ground-truth relevance; the store must record it")
        rel = rel.astype(np.float32).reshape(b, t)
        tie = UniformPolicy().frame_scores(t) / (t + 1)  # in (0, 1): never outranks relevance
        return rel + tie[None]


BUILTIN_POLICIES: dict[str, Callable[..., BaselinePolicy]] = {
    "random": RandomPolicy,
    "uniform": UniformPolicy,
    "all": AllPolicy,
    "confidence": ConfidencePolicy,
    "entropy": lambda name="entropy": ConfidencePolicy("entropy", name=name),
    "oracle": OraclePolicy,
    "relevance-oracle": RelevanceOraclePolicy,
}


def make_policy(name: str, seed: int = 0) -> BaselinePolicy:
    """Build a built-in baseline by name.

    :param name: one of :data:`BUILTIN_POLICIES`.
    :param seed: seed of the ``random`` policy (ignored by the deterministic ones).
    """
    if name not in BUILTIN_POLICIES:
        raise ValueError(f"unknown baseline policy {name!r}; choose from "
                         f"{sorted(BUILTIN_POLICIES)}")
    if name == "random":
        return RandomPolicy(seed=seed)
    return BUILTIN_POLICIES[name]()


__all__ = [
    "AllPolicy", "BUILTIN_POLICIES", "BaselinePolicy", "ConfidencePolicy", "OraclePolicy",
    "OwnGenerator", "RandomPolicy", "RelevanceOraclePolicy", "UniformPolicy", "make_policy",
    "nested_spread_order", "segment_centres",
]
