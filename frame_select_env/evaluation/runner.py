"""The paper's test procedure (Algorithm 2) for any selection policy, on every view of a split.

* :func:`load_split` reads a split's observations once: per stream ``{"features": (B, T, V, D),
  "predictions": (B, T, V, C)}`` plus labels, relevance and ids (:class:`SplitData`).
* :func:`policy_importance` asks a policy for scores once per view, batched over every video:
  (B, T, V).
* :func:`evaluate_importance` turns importance into rows (one per scheme and m) with the shared
  top-m selection, aggregation (the alpha variant of Eq. 10) and metrics.
* :func:`evaluate_policies` does all of it for ``{agent: {stream: policy}}``, adds the
  two-stream fusion and the ``all`` (every frame) rows.

Every row has the columns :data:`~frame_select_env.evaluation.results.ROW_COLUMNS`: ``agent,
scheme, m, stream (rgb | flow | fused), seed, alpha, accuracy, mean_class_accuracy`` (percent)
and, when the store has relevance, ``precision`` (percent of kept frames that show the action),
plus ``uses_label`` (oracles), and the cost columns (:mod:`frame_select_env.evaluation.costing`):
``threshold`` (the adaptive budget's p^a threshold; NaN for top-m rows, whose ``m`` is the
budget; threshold rows have ``m = 0``), ``frames`` (mean kept frames per video and stream),
``gmacs`` (GMACs per video: classifier on every crop it ran on, plus the agent) and ``seconds``
(per video on the machine the cost dict records: decoding, optical flow, CNN, plus the agent's
measured time). NaN where the store records no cost.

Selection, aggregation, fusion and metrics are never re-implemented here: they are the calls
:func:`~frame_select_env.core.selection.select_frames`,
:func:`~frame_select_env.core.selection.aggregate_predictions`,
:func:`~frame_select_env.core.selection.fuse_streams`,
:func:`~frame_select_env.core.metrics.accuracy` and
:func:`~frame_select_env.core.metrics.mean_class_accuracy`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from frame_select_env.core.constants import DEFAULT_MS, SCHEMES, STREAMS
from frame_select_env.core.metrics import accuracy, mean_class_accuracy, precision
from frame_select_env.core.selection import (
    aggregate_predictions,
    fuse_streams,
    select_frames,
    select_frames_threshold,
)
from frame_select_env.envs.observations import ObservationSource
from frame_select_env.evaluation.costing import RowCosting, observed_streams
from frame_select_env.evaluation.results import ROW_COLUMNS
from frame_select_env.store import FeatureStore

if TYPE_CHECKING:
    from frame_select_env.core.policy import SelectionPolicy

#: The agent name of the every-frame rows (``include_all``).
ALL_AGENT = "all"

@dataclass
class SplitData:
    """One split's observations with every view kept.

    :param obs: stream -> ``{"features": (B, T, V, D), "predictions": (B, T, V, C)}`` float32.
    :param labels: (B,) true classes.
    :param video_ids: (B,) ids.
    :param relevance: (B, T) 0/1 ground truth, or ``None``.
    :param num_classes: C.
    :param rows: the videos' store rows (the cost model reads per-video frame counts by row).
    :param frames: positions in the stored T of the T frames read (a ``num_frames`` subset).
    :param store: the :class:`FeatureStore` read.
    """

    obs: dict[str, dict[str, np.ndarray]]
    labels: np.ndarray
    video_ids: np.ndarray
    relevance: np.ndarray | None
    num_classes: int
    streams: list[str] = field(default_factory=list)
    rows: np.ndarray | None = None
    frames: np.ndarray | None = None
    store: Any = None

    @property
    def num_frames(self) -> int:
        """T, the frames read per video."""
        return int(next(iter(self.obs.values()))["predictions"].shape[1])


class ObservingPolicy:
    """A policy that scores from one stream's observations and selects for any stream.

    Wrap a policy as ``{"rgb": p, "flow": p}`` with ``p = ObservingPolicy(policy, "rgb")``: the
    evaluation feeds it the RGB observations for both streams, so both keep the same frames, and
    costs the flow stream on the kept frames only (select-before-compute).

    :param policy: the wrapped :class:`frame_select_env.core.policy.SelectionPolicy` (e.g. an
        ``ASPolicy``).
    :param observe: the stream it reads.
    :param name: display name (default: the wrapped policy's).
    """

    def __init__(self, policy: SelectionPolicy, observe: str, name: str | None = None) -> None:
        self.policy = policy
        self.observe = str(observe)
        self.observes = (self.observe,)
        self.name = name or getattr(policy, "name", "policy")
        self.uses_label = bool(getattr(policy, "uses_label", False))
        # the learned agent inside, so its own MACs are counted
        self.agent = getattr(policy, "agent", None)

    def scores(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None
               ) -> np.ndarray:
        """The wrapped policy's scores (B, T) of ``observe``'s observations."""
        return self.policy.scores(obs, info)


def load_split(
    store: Any, split: str | None = "test", streams: Sequence[str] = STREAMS,
    num_frames: int | None = None,
) -> SplitData:
    """Read a split once (every view, softmax applied) through the env's ObservationSource.

    :param store: path or :class:`FeatureStore`.
    :param split: ``train``, ``val``, ``test`` or ``None``.
    :param streams: streams to read (each must be in the store).
    :param num_frames: T (evenly spaced subset of the stored frames; ``None`` = all).
    :return: the split's observations, labels, ids and relevance.
    :raises ValueError: without streams.
    """
    store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    obs, src = {}, None
    for s in streams:
        src = ObservationSource(store, split=split, stream=s, num_frames=num_frames,
                                state="both", view="random")
        # view="random" with views=None keeps every view: (B, T, V, X).
        obs[s] = src.gather(np.arange(src.num_videos))
    if src is None:
        raise ValueError("load_split: no streams given")
    views = max(v["predictions"].shape[2] for v in obs.values())
    for s, arrays in obs.items():  # a one-view stream (a preview) serves every view
        if views > 1 and arrays["predictions"].shape[2] == 1:
            obs[s] = {k: np.repeat(v, views, axis=2) for k, v in arrays.items()}
    rel = store.relevance(src.rows)
    if rel is not None:
        rel = np.asarray(rel)[:, src.frames]
    return SplitData(obs=obs, labels=src.labels, video_ids=src.video_ids, relevance=rel,
                     num_classes=src.num_classes, streams=list(streams), rows=src.rows,
                     frames=src.frames, store=store)


def policy_importance(
    policy: SelectionPolicy, obs: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """A policy's scores for every view: one ``policy.scores`` call per view, over all videos.

    :param policy: any :class:`frame_select_env.core.policy.SelectionPolicy`.
    :param obs: ``{"features": (B, T, V, D), "predictions": (B, T, V, C)}`` (both keys are passed
        on; a policy reads what it needs).
    :param info: per-video extras handed to the policy (``label``, ``relevance`` (B, T),
        ``video_id``, ...); ``view`` is added per call.
    :return: (B, T, V) float32 importance.
    """
    first = next(iter(obs.values()))
    if first.ndim != 4:
        raise ValueError(f"policy_importance: observations must be (B, T, V, X), got "
                         f"{first.shape}")
    b, t, v = first.shape[:3]
    out = np.empty((b, t, v), dtype=np.float32)
    for view in range(v):
        view_info = dict(info or {})
        view_info["view"] = np.full(b, view)
        scores = np.asarray(policy.scores({k: x[:, :, view] for k, x in obs.items()}, view_info))
        if scores.shape != (b, t):
            raise ValueError(f"policy {getattr(policy, 'name', policy)!r} returned scores of shape "
                             f"{scores.shape}, expected ({b}, {t})")
        out[:, :, view] = scores
    return out


def select_and_aggregate(
    probs: np.ndarray, importance: np.ndarray | None, m: int, scheme: str, alpha: float = 0.0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Algorithm 2 for one m and scheme.

    :param probs: (B, T, V, C) class probabilities.
    :param importance: (B, T, V) scores; ``None`` keeps every frame.
    :param m: frames to keep.
    :param scheme: ``frame`` or ``region``.
    :param alpha: Eq. 10 weight of the non-kept frames.
    :return: ``(video-level probabilities (B, C), keep mask (B, T, V) or None)``.
    """
    if importance is None:
        return aggregate_predictions(probs), None
    mask = np.ascontiguousarray(select_frames(importance, m, scheme))
    return aggregate_predictions(probs, mask, alpha), mask


def _metrics(video_probs: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, float]:
    """The accuracy columns of one row."""
    return {"accuracy": accuracy(video_probs, labels),
            "mean_class_accuracy": mean_class_accuracy(video_probs, labels, num_classes)}


def evaluate_importance(
    probs: np.ndarray,
    importance: np.ndarray | None,
    labels: np.ndarray,
    ms: Iterable[int] = DEFAULT_MS,
    schemes: Iterable[str] = SCHEMES,
    alpha: float = 0.0,
    relevance: np.ndarray | None = None,
    return_predictions: bool = False,
    thresholds: Iterable[float] = (),
) -> list[dict[str, Any]] | tuple[list[dict[str, Any]], dict[tuple[str, Any], Any]]:
    """Rows ``{scheme, m, alpha, accuracy, mean_class_accuracy, precision}`` for one stream.

    :param probs: (B, T, V, C) per-frame, per-view class probabilities.
    :param importance: (B, T, V) scores (``None``: every frame, the ``all`` baseline).
    :param labels: (B,) true classes.
    :param ms: numbers of kept frames.
    :param schemes: ``frame`` and/or ``region``.
    :param alpha: weight of the non-kept frames (Eq. 10; 0 = Algorithm 2).
    :param relevance: (B, T) ground truth for ``precision`` (NaN without).
    :param return_predictions: also return ``{(scheme, m): ((B, C) predictions, mask)}``
        (threshold rows: key ``(scheme, ("threshold", t))``).
    :param thresholds: adaptive budgets: a row per scheme and threshold t keeping the frames
        with importance >= t (at least one;
        :func:`~frame_select_env.core.selection.select_frames_threshold`); ``m`` is 0 in
        those rows. Ignored without importance.
    :return: the rows, and with ``return_predictions`` the predictions too.
    :raises ValueError: for mismatched shapes or an unknown scheme.
    """
    probs = np.asarray(probs, dtype=np.float32)
    labels = np.asarray(labels)
    if probs.ndim != 4:
        raise ValueError(f"evaluate_importance: probs must be (B, T, V, C), got {probs.shape}")
    if importance is not None and importance.shape != probs.shape[:3]:
        raise ValueError(f"evaluate_importance: importance {importance.shape} does not match "
                         f"probs {probs.shape} (expected {probs.shape[:3]})")
    rows: list[dict[str, Any]] = []
    preds: dict[tuple[str, Any], tuple[np.ndarray, np.ndarray | None]] = {}
    cache: tuple[np.ndarray, np.ndarray | None] | None = None
    for scheme in schemes:
        if scheme not in SCHEMES:
            raise ValueError(f"evaluate_importance: scheme must be one of {SCHEMES}, got "
                             f"{scheme!r}")
        for m in ms:
            if importance is None:  # the same prediction for every m and scheme
                cache = cache or select_and_aggregate(probs, None, m, scheme)
                video_probs, mask = cache
            else:
                video_probs, mask = select_and_aggregate(probs, importance, m, scheme, alpha)
            rows.append({"scheme": scheme, "m": int(m), "alpha": float(alpha),
                         **_metrics(video_probs, labels, probs.shape[-1]),
                         "precision": precision(mask, relevance), "threshold": float("nan")})
            preds[(scheme, int(m))] = (video_probs, mask)
        for thr in thresholds if importance is not None else ():
            mask = np.ascontiguousarray(select_frames_threshold(importance, float(thr), scheme))
            video_probs = aggregate_predictions(probs, mask, alpha)
            rows.append({"scheme": scheme, "m": 0, "alpha": float(alpha),
                         **_metrics(video_probs, labels, probs.shape[-1]),
                         "precision": precision(mask, relevance), "threshold": float(thr)})
            preds[(scheme, ("threshold", float(thr)))] = (video_probs, mask)
    return (rows, preds) if return_predictions else rows


def evaluate_policies(
    policies: Mapping[str, Mapping[str, SelectionPolicy]],
    store: Any,
    split: str | None = "test",
    streams: Sequence[str] = STREAMS,
    ms: Iterable[int] = DEFAULT_MS,
    schemes: Iterable[str] = SCHEMES,
    alpha: float = 0.0,
    fusion_weights: Mapping[str, float] | None = None,
    seed: int = 0,
    include_all: bool = True,
    data: SplitData | None = None,
    thresholds: Iterable[float] = (),
    cost: Any = "auto",
    seconds_flow_methods: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Evaluate policies per stream and fused (Algorithm 2 on every view of the split).

    :param policies: agent name -> stream -> policy (an agent may lack a stream; it then has no
        row for that stream nor ``fused``). A policy with ``keeps_all = True`` is evaluated on
        every frame. A policy with a ``for_m(m)`` method (scores that depend on m, e.g. evenly
        spaced frames) is asked once per m. A policy with an ``observe`` attribute (a stream
        name) scores from that stream's observations whatever stream it selects for
        (select-before-compute: ``{"rgb": p, "flow": p}`` with ``p.observe = "rgb"``). An
        adaptive policy with ``masks(obs, info)`` chooses its own frames (:func:`policy_masks`;
        ``for_m(m)`` sets its budget knob) instead of top-m of scores.
    :param store: path or :class:`FeatureStore`.
    :param split: the evaluation split.
    :param streams: streams to evaluate; ``fused`` rows need every one of them.
    :param ms: numbers of kept frames.
    :param schemes: ``frame`` (p^a averaged over views, same frames in every view) and/or
        ``region`` (m frames per view).
    :param alpha: Eq. 10 weight of the non-kept frames.
    :param fusion_weights: stream -> weight for the two-stream fusion (equal by default).
    :param seed: recorded in every row (seed the policies themselves).
    :param include_all: add the ``all`` rows (every frame; same value for every m and scheme).
    :param data: a :func:`load_split` result to reuse (skips reading the store).
    :param thresholds: adaptive budgets (keep frames with p^a >= t) evaluated for every policy
        that scores frames (not ``keeps_all`` nor ``for_m`` ones); rows with ``m = 0``.
    :param cost: ``"auto"`` (the store's cost dict,
    :func:`frame_select_env.pipeline.cost.store_cost`),
        a cost dict, or ``None`` (cost columns NaN).
    :param seconds_flow_methods: also report ``seconds_<method>`` per row: the seconds had the
        flow been computed with that method (e.g. ``tvl1``, the paper's) instead of the store's.
    :return: rows (see the module docstring).
    """
    ms, schemes, thresholds = [int(m) for m in ms], list(schemes), [float(t) for t in thresholds]
    data = data or load_split(store, split, streams)
    missing = [s for s in streams if s not in data.obs]
    if missing:
        raise ValueError(f"evaluate_policies: the loaded split has no stream(s) {missing}")
    costing = RowCosting.for_split(cost, store if data.store is None else data.store, data,
                                   seconds_flow_methods)
    info: dict[str, Any] = {"label": data.labels, "video_id": data.video_ids}
    if data.relevance is not None:
        info["relevance"] = data.relevance
    agents: dict[str, Mapping[str, SelectionPolicy | None]] = {}
    if include_all:
        agents[ALL_AGENT] = {s: None for s in streams}
    agents.update(policies)

    rows: list[dict[str, Any]] = []
    for agent, per_stream in agents.items():
        # (scheme, m) -> stream -> ((B, C) prediction, mask)
        results: dict[tuple[str, Any], dict[str, tuple[np.ndarray, np.ndarray | None]]] = {}
        uses_label = any(bool(getattr(p, "uses_label", False)) for p in per_stream.values())
        # one scoring per (policy, observed stream, m): a policy shared by both streams that
        # observes one of them is asked once
        scored: dict[tuple[int, str, int | None], tuple[np.ndarray, float]] = {}

        observed_by: dict[str, tuple[str, ...]] = {}
        for stream in streams:
            if stream not in per_stream:
                continue
            policy = per_stream[stream]
            probs = data.obs[stream]["predictions"]
            observe = _observe_stream(policy, stream, data)
            observed_by[stream] = observed_streams(policy, stream)
            if policy is None or getattr(policy, "keeps_all", False):
                stream_rows, preds = _evaluate_one(probs, None, data, ms, schemes, alpha)
            elif callable(getattr(policy, "masks", None)):  # adaptive: it picks its own frames
                stream_rows, preds = _evaluate_masks(scored, policy, observe, probs, data, ms,
                                                     schemes, alpha, info)
            elif callable(getattr(policy, "for_m", None)):
                stream_rows, preds = [], {}
                for m in ms:
                    imp = _score(scored, policy, observe, m, data, info)
                    r, p = _evaluate_one(probs, imp, data, [m], schemes, alpha)
                    stream_rows += r
                    preds.update(p)
            else:
                imp = _score(scored, policy, observe, None, data, info)
                stream_rows, preds = _evaluate_one(probs, imp, data, ms, schemes, alpha,
                                                   thresholds)
            for row in stream_rows:
                mask = preds[_pred_key(row)][1]
                row.update(costing.row_cost({stream: mask}, observed_by[stream],
                                            [per_stream[stream]], scored))
                rows.append({"agent": agent, "stream": stream, "seed": int(seed),
                             "uses_label": uses_label, **row})
            for key, value in preds.items():
                results.setdefault(key, {})[stream] = value
        if len(streams) > 1 and all(s in per_stream for s in streams):
            observed = tuple(dict.fromkeys(o for s in streams for o in observed_by[s]))
            for (scheme, budget), per in results.items():
                if any(s not in per for s in streams):
                    continue  # a budget only one stream's policy has (a threshold)
                fused = fuse_streams({s: per[s][0] for s in streams}, fusion_weights)
                masks = [per[s][1] for s in streams]
                kept = [mk for mk in masks if mk is not None]
                if data.relevance is None:
                    prec = float("nan")
                elif len(kept) < len(masks):  # a stream kept every frame (no mask)
                    prec = precision(None, data.relevance)
                else:  # pooled over the streams' kept frames
                    prec = precision(np.concatenate(kept, axis=2), data.relevance)
                threshold = budget[1] if isinstance(budget, tuple) else float("nan")
                rows.append({"agent": agent, "stream": "fused", "seed": int(seed),
                             "uses_label": uses_label, "scheme": scheme,
                             "m": 0 if isinstance(budget, tuple) else budget,
                             "alpha": float(alpha),
                             **_metrics(fused, data.labels, data.num_classes),
                             "precision": prec, "threshold": threshold,
                             **costing.row_cost({s: per[s][1] for s in streams}, observed,
                                                [per_stream[s] for s in streams], scored)})
    extra = [f"seconds_{m}" for m in seconds_flow_methods]
    return [{k: row.get(k) for k in (*ROW_COLUMNS, *extra)} for row in rows]


def policy_masks(policy: Any, obs: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None,
                 scheme: str = "frame", view_info: Mapping[str, np.ndarray] | None = None
                 ) -> np.ndarray:
    """The frames an adaptive policy pays for, for every view: (B, T, V) bool.

    ``frame``: one decision per video from the views' mean observation (the cheap stream's
    crops averaged, as TSN averages them), the same frames in every view; ``region``: one
    decision per view from that view's observation.

    :param policy: a policy with ``masks(obs, info) -> (B, T)`` (e.g. LiteEval, FrameExit).
    :param obs: ``{"features": (B, T, V, D), "predictions": (B, T, V, C)}``.
    :param info: per-video extras handed to the policy (``view`` is added per call).
    :param scheme: ``frame`` or ``region``.
    :param view_info: more (B, T, V, X) extras, reduced over the views like ``obs`` and added to
        ``info`` (e.g. ``predict_features`` for a policy that reads the expensive stream on the
        frames it has already paid for).
    :return: (B, T, V) bool.
    :raises ValueError: for a mask of another shape, a video with no frame, or an unknown scheme.
    """
    first = next(iter(obs.values()))
    if first.ndim != 4:
        raise ValueError(f"policy_masks: observations must be (B, T, V, X), got {first.shape}")
    b, t, v = first.shape[:3]
    name = getattr(policy, "name", policy)

    extra = dict(view_info or {})

    def one(view: int | None) -> np.ndarray:
        def pick(x: np.ndarray) -> np.ndarray:
            return x.mean(axis=2) if view is None else x[:, :, view]

        view_obs = {k: pick(x) for k, x in obs.items()}
        more = {k: pick(np.asarray(x)) for k, x in extra.items()}
        mask = np.asarray(policy.masks(view_obs, {**(info or {}), **more,
                                                  "view": np.full(b, 0 if view is None else view)}))
        if mask.shape != (b, t):
            raise ValueError(f"policy {name!r} returned masks of shape {mask.shape}, expected "
                             f"({b}, {t})")
        mask = mask.astype(bool)
        if not mask.any(-1).all():  # no frame would be no prediction: a bug in the policy
            raise ValueError(f"policy {name!r} kept no frame for "
                             f"{int((~mask.any(-1)).sum())} video(s); it must keep at least one")
        return mask

    if scheme == "frame":
        mask = one(None)
        return np.ascontiguousarray(np.broadcast_to(mask[:, :, None], (b, t, v)))
    if scheme == "region":
        return np.stack([one(i) for i in range(v)], 2)
    raise ValueError(f"policy_masks: scheme must be one of {SCHEMES}, got {scheme!r}")


def _evaluate_masks(scored: dict, policy: Any, observe: str, probs: np.ndarray, data: SplitData,
                    ms: Iterable[int], schemes: Iterable[str], alpha: float,
                    info: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict]:
    """Rows of an adaptive policy: its own masks instead of top-m, one row per m and scheme.

    ``m`` is its budget knob (``for_m(m)``, where the policy has it; otherwise the same frames
    for every m); the ``frames`` column then tells how many it really used. A policy with
    ``needs_predict_features = True`` also gets ``info["predict_features"]``: its ``predict``
    stream's per-frame features (``fused``: the streams' features concatenated in store order).
    """
    view_info: dict[str, np.ndarray] = {}
    if getattr(policy, "needs_predict_features", False):
        predict = getattr(policy, "predict", "fused")
        order = list(getattr(data.store, "streams", None) or STREAMS)
        wanted = [s for s in order if s in STREAMS] if predict == "fused" else [predict]
        missing = [s for s in wanted if s not in data.obs]
        if missing:
            raise ValueError(f"evaluate_policies: policy {getattr(policy, 'name', policy)!r} "
                             f"predicts with {predict!r} and needs stream(s) {missing}, which "
                             f"the loaded split lacks")
        view_info["predict_features"] = np.concatenate(
            [data.obs[s]["features"] for s in wanted], axis=-1)
    rows: list[dict[str, Any]] = []
    preds: dict[tuple[str, Any], tuple[np.ndarray, np.ndarray | None]] = {}
    for m in ms:
        for scheme in schemes:
            key = (id(policy), observe, ("masks", int(m), scheme))
            if key not in scored:  # once per policy, m and scheme, timed like the scores
                bound = policy.for_m(m) if callable(getattr(policy, "for_m", None)) else policy
                start = time.perf_counter()
                mask = policy_masks(bound, data.obs[observe],
                                    {**info, "m": np.full(len(data.labels), m)}, scheme,
                                    view_info)
                scored[key] = (mask, time.perf_counter() - start)
            mask = scored[key][0]
            video_probs = aggregate_predictions(probs, mask, alpha)
            rows.append({"scheme": scheme, "m": int(m), "alpha": float(alpha),
                         **_metrics(video_probs, data.labels, probs.shape[-1]),
                         "precision": precision(mask, data.relevance), "threshold": float("nan")})
            preds[(scheme, int(m))] = (video_probs, mask)
    return rows, preds


def _score(scored: dict, policy: Any, observe: str, m: int | None, data: SplitData,
           info: Mapping[str, Any]) -> np.ndarray:
    """A policy's importance from ``observe``'s observations, computed once and timed."""
    key = (id(policy), observe, m)
    if key not in scored:
        extra = {} if m is None else {"m": np.full(len(data.labels), m)}
        start = time.perf_counter()
        imp = policy_importance(policy if m is None else policy.for_m(m), data.obs[observe],
                                {**info, **extra})
        scored[key] = (imp, time.perf_counter() - start)
    return scored[key][0]


def _pred_key(row: Mapping[str, Any]) -> tuple[str, Any]:
    """The :func:`evaluate_importance` predictions key of one of its rows."""
    thr = row.get("threshold")
    if thr is None or not np.isfinite(thr):
        return (row["scheme"], int(row["m"]))
    return (row["scheme"], ("threshold", float(thr)))


def _observe_stream(policy: Any, stream: str, data: SplitData) -> str:
    """The stream whose observations a policy scores from (its ``observe``, else ``stream``)."""
    observe = getattr(policy, "observe", None) or stream
    if observe not in data.obs:
        raise ValueError(f"evaluate_policies: policy {getattr(policy, 'name', policy)!r} observes "
                         f"stream {observe!r}, which the loaded split lacks (has "
                         f"{sorted(data.obs)}); load it with load_split(streams=...)")
    return observe


def _evaluate_one(probs: np.ndarray, importance: np.ndarray | None, data: SplitData,
                  ms: Iterable[int], schemes: Iterable[str], alpha: float,
                  thresholds: Iterable[float] = ()) -> tuple[list[dict[str, Any]], dict]:
    """:func:`evaluate_importance` of one stream of ``data``, with its predictions."""
    out = evaluate_importance(probs, importance, data.labels, ms, schemes, alpha,
                              data.relevance, return_predictions=True, thresholds=thresholds)
    return cast(tuple[list[dict[str, Any]], dict], out)
