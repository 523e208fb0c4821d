"""Turns store rows into the env's observations; shared by the single and the vector env.

Small stores (the built-in one, or any split under ``max_memory_bytes``) are loaded into RAM once
with the view reduction and the softmax already applied, so an episode's observation is a single
numpy gather. Larger stores (UCF101-sized, several GB) stay on disk and are read per batch of
episodes through h5py; only the rows in use are ever in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from frame_select_env.core.constants import STATES, VIEW_MODES
from frame_select_env.core.sampling import segment_centres
from frame_select_env.core.selection import fuse_streams, softmax
from frame_select_env.store import FeatureStore

DEFAULT_MAX_MEMORY_BYTES = 2 * 1024**3
#: key of :meth:`ObservationSource.gather`'s output holding the ``predict`` stream(s)'
#: probabilities, present only when they differ from the observed ones (select-before-compute)
REWARD_KEY = "reward_predictions"


def check_num_frames(num_frames: Any) -> None:
    """Refuse a ``num_frames`` that is not ``None`` or a positive int (``2.5``, ``True``, ``0``).

    :param num_frames: the ``num_frames`` argument.
    :raises ValueError: naming the argument and the value.
    """
    if num_frames is None:
        return
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)):
        raise ValueError(f"num_frames must be None or an int >= 1, got {num_frames!r} "
                         f"({type(num_frames).__name__})")
    if num_frames < 1:
        raise ValueError(f"num_frames must be None or an int >= 1, got {num_frames}")


def frame_subset(stored: int, wanted: int | None) -> np.ndarray:
    """Indices of ``wanted`` evenly spaced frames out of ``stored`` (all of them for ``None``).

    They are TSN's segment centres (:func:`frame_select_env.core.sampling.segment_centres`), the
    rule that sampled the stored frames from the videos; the ``uniform`` baseline keeps the same
    frames (:func:`baselines_zoo.policies.segment_centres`).

    :param stored: frames per video in the store, >= 1.
    :param wanted: frames to keep, in ``[1, stored]``, or ``None`` for all.
    :return: (wanted,) increasing int64 frame indices.
    :raises ValueError: ``wanted`` is outside ``[1, stored]``.
    """
    if wanted is None or wanted == stored:
        return np.arange(stored)
    if not 1 <= wanted <= stored:
        raise ValueError(f"num_frames must be in [1, {stored}] for this store, got {wanted}")
    return segment_centres(stored, wanted)


@dataclass
class ObservationSource:
    """Observations and labels of one split of a store.

    :param store: a path or an open :class:`FeatureStore`.
    :param split: ``train``, ``val``, ``test`` or ``None`` (every video).
    :param stream: ``rgb``, ``flow`` (or any stream in the store), or ``fused``: features of both
        streams concatenated and their probabilities averaged (the paper's fusion).
    :param num_frames: T seen by the agent (evenly spaced subset of the stored frames).
    :param state: ``both``, ``features`` or ``predictions`` (the paper's Table 2 ablation).
    :param view: ``random`` (a view per episode), ``center``, ``mean`` or an integer view index.
    :param max_memory_bytes: load the split into RAM when it is smaller than this.
    :param observe: the stream(s) the agent sees (``rgb``, ``flow``, ``fused``); ``None`` =
        ``stream``. The observation's features and predictions come from it.
    :param predict: the stream(s) whose kept frames make the prediction the reward scores;
        ``None`` = ``stream``. With ``observe="rgb", predict="fused"`` the agent sees only the
        cheap RGB states of all T frames while the reward (and the evaluation) uses both streams'
        kept frames, so flow is needed on the kept frames only (select-before-compute). The
        paper's setting is ``observe == predict`` (the default).
    """

    store: Any
    split: str | None = "train"
    stream: str = "rgb"
    num_frames: int | None = None
    state: str = "both"
    view: str | int = "random"
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES
    observe: str | None = None
    predict: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.store, FeatureStore):
            self.store = FeatureStore(self.store)
        store = self.store
        if self.state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {self.state!r}")
        # errors name the argument the user gave: `stream` unless observe/predict was set
        names = ("stream" if self.observe is None else "observe",
                 "stream" if self.predict is None else "predict")
        self.observe = self.stream if self.observe is None else self.observe
        self.predict = self.stream if self.predict is None else self.predict
        # `streams` are the observed ones (features, agent-visible predictions); `predict_streams`
        # give the reward's probabilities.
        self.streams = self._resolve_streams(store, self.observe, names[0])
        self.predict_streams = self._resolve_streams(store, self.predict, names[1])
        self.separate_predict = self.predict_streams != self.streams
        used = list(dict.fromkeys(self.streams + self.predict_streams))
        views = {s: store.num_views(s) for s in used}
        # a one-view stream (a preview's single centre crop) serves every view of the others
        multi = {v for v in views.values() if v > 1}
        if len(multi) > 1 and self.view not in ("mean",):
            raise ValueError(
                f"stream 'fused' needs the same number of views in every stream, got "
                f"{views}; use view='mean'"
            )
        self.num_views = max(views.values())
        self.stream_views = views
        if isinstance(self.view, (int, np.integer)) and not isinstance(self.view, bool):
            if not 0 <= int(self.view) < self.num_views:
                raise ValueError(f"view index {self.view} out of range for {self.num_views} views")
        elif self.view not in VIEW_MODES:
            raise ValueError(f"view must be one of {VIEW_MODES} or an int, got {self.view!r}")
        self.rows = store.indices(self.split)
        if len(self.rows) == 0:
            raise ValueError(store.empty_split_message(self.split))
        check_num_frames(self.num_frames)
        self.frames = frame_subset(store.num_frames, self.num_frames)
        self.num_frames = len(self.frames)
        self.labels = store.labels[self.rows]
        self.video_ids = store.video_ids[self.rows]
        self.num_classes = store.num_classes
        self.feature_dim = sum(store.feature_dim(s) for s in self.streams)
        # The centre crop is view 0 by the store's convention unless its metadata says otherwise.
        self.center_view = int(store.metadata.get("center_view", 0))
        split_bytes = sum(store.nbytes(s) for s in used) * len(self.rows) // len(store)
        # float32 in RAM: twice the size of a float16 store.
        self.in_memory = split_bytes * 2 <= self.max_memory_bytes
        if self.in_memory:
            self._cache = self._read(self.rows)

    @staticmethod
    def _resolve_streams(store: FeatureStore, stream: str, what: str = "stream") -> list[str]:
        if stream == "fused":
            if len(store.streams) < 2:
                raise ValueError(
                    f"{what} 'fused' needs two streams, feature store "
                    f"{str(store.path)!r} has {store.streams}"
                )
            return list(store.streams)
        if stream not in store.streams and stream not in store.observe_only:
            raise ValueError(
                f"{what} {stream!r} is not in feature store {str(store.path)!r}; "
                f"choose from {store.all_streams + ['fused']}"
            )
        return [stream]

    @property
    def num_videos(self) -> int:
        """Number of videos in the split."""
        return len(self.rows)

    @property
    def fixed_view(self) -> bool:
        """Whether every episode sees the same view (any view mode but ``random``)."""
        return self.view != "random"

    def _view_per_row(self, n: int, views: np.ndarray | None) -> np.ndarray | None:
        """The single view each row needs, or ``None`` when every view must be read."""
        if self.view == "mean" or (self.view == "random" and views is None):
            return None
        if self.view == "random":
            return views
        fixed = self.center_view if self.view == "center" else int(self.view)
        return np.full(n, fixed)

    def _read(self, rows: np.ndarray, views: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Read store rows as features (B, T[, V], D) and probabilities (B, T[, V], C).

        Only the needed view is read from disk when one view per row is wanted; the view axis
        stays only for ``view="random"`` without ``views`` (the in-memory cache, evaluation).
        """
        row_views = self._view_per_row(len(rows), views)
        # all stored frames: a slice, not a fancy index, which would copy every batch once more
        frames = slice(None) if self.num_frames == self.store.num_frames else self.frames
        feats, probs = [], {}
        for s in dict.fromkeys(self.streams + self.predict_streams):
            one = self.stream_views[s] == 1
            s_views = np.zeros_like(row_views) if one and row_views is not None else row_views
            p = self._views_of(s, softmax(self.store.to_float32(
                self.store.logits(s, rows, s_views)[:, frames])), one, row_views)
            probs[s] = p.mean(axis=2) if self.view == "mean" else p
            if s in self.streams:  # features only of what the agent sees
                f = self._views_of(s, self.store.to_float32(
                    self.store.features(s, rows, s_views)[:, frames]), one, row_views)
                feats.append(f.mean(axis=2) if self.view == "mean" else f)

        def combined(streams: list[str]) -> np.ndarray:
            return fuse_streams({s: probs[s] for s in streams}) if len(streams) > 1 else probs[
                streams[0]]

        out = {
            "features": np.concatenate(feats, axis=-1) if len(feats) > 1 else feats[0],
            "predictions": combined(self.streams),
        }
        if self.separate_predict:
            out[REWARD_KEY] = combined(self.predict_streams)
        return out

    def _views_of(self, stream: str, values: np.ndarray, one: bool,
                  row_views: np.ndarray | None) -> np.ndarray:
        """A one-view stream's values repeated over the other streams' views, where kept."""
        if one and row_views is None and self.num_views > 1:  # (B, T, 1, D) -> (B, T, V, D)
            return np.repeat(values, self.num_views, axis=2)
        return values

    def draw_views(self, rng: np.random.Generator, n: int) -> np.ndarray | None:
        """A view per episode for ``view='random'``; ``None`` otherwise."""
        return rng.integers(0, self.num_views, size=n) if self.view == "random" else None

    def gather(self, idx: np.ndarray, views: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Observations of the split's videos ``idx`` (positions within the split).

        :return: ``{"features": (B, T, D), "predictions": (B, T, C)}`` float32 (both always
            present; the env drops the key its ``state`` hides), plus :data:`REWARD_KEY`
            (B, T, C), the ``predict`` stream(s)' probabilities, when ``predict`` differs from
            ``observe``.
        """
        idx = np.asarray(idx)
        if not self.in_memory:
            return self._read(self.rows[idx], views)
        if views is None:
            return {k: v[idx] for k, v in self._cache.items()}
        if self.num_views == 1:  # a one-view source (a preview) serves every view asked for
            views = np.zeros_like(np.asarray(views))
        # One fancy-index gather of (video, view) pairs straight out of the cached arrays.
        return {k: v[idx, :, views] for k, v in self._cache.items()}

    def episode_macs(self, num_selected: np.ndarray) -> np.ndarray | None:
        """Classifier MACs of episodes that kept ``num_selected`` frames (the crops they use).

        The observed stream(s) run on all T frames; a ``predict``-only stream runs on the kept
        frames only. One crop per frame, or every crop with ``view="mean"`` (a one-view stream,
        a preview, computes its one crop). ``None`` when the store records no cost
        (:func:`frame_select_env.store.cost_record.store_cost`).

        :param num_selected: (B,) kept frames per episode.
        """
        if not hasattr(self, "_macs_terms"):
            from frame_select_env.store.cost_record import store_cost

            cost = store_cost(self.store)
            self._macs_terms = None
            if cost is not None:
                per = {s: float(v["macs_per_crop"]) * self.crops(s)
                       for s, v in cost["streams"].items() if s in self.stream_views}
                only_predict = [s for s in self.predict_streams if s not in self.streams]
                self._macs_terms = (
                    len(self.frames) * sum(per[s] for s in self.streams),  # T frames
                    sum(per[s] for s in only_predict),
                )
        if self._macs_terms is None:
            return None
        observed, per_kept = self._macs_terms
        return observed + per_kept * np.asarray(num_selected, np.float64)

    def crops(self, stream: str) -> int:
        """Crops computed per frame of ``stream``: all its views with ``view="mean"``, else 1."""
        return self.stream_views[stream] if self.view == "mean" else 1

    def reward_probs(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """The probabilities the reward scores in a :meth:`gather` result (``predict``)."""
        return batch.get(REWARD_KEY, batch["predictions"])

    def close(self) -> None:
        """Close the store's HDF5 file (idempotent; a later read reopens it)."""
        self.store.close()

    def summary(self) -> str:
        """One line describing the source: store, split, streams, sizes and memory mode."""
        streams = (f"observe={self.observe} predict={self.predict}" if self.separate_predict
                   else f"stream={self.stream}")
        return (
            f"{os.path.basename(str(self.store.path))}[{self.split}] {streams} "
            f"videos={self.num_videos} T={self.num_frames} D={self.feature_dim} "
            f"C={self.num_classes} views={self.num_views} in_memory={self.in_memory}"
        )
