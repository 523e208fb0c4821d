"""The paper's test procedure (Algorithm 2) for any selection policy, on every view of a split.

Stable API (also used by ``scripts/compare_agents.py``):

* :func:`load_split` reads a split's observations once: per stream ``{"features": (B, T, V, D),
  "predictions": (B, T, V, C)}`` plus labels, relevance and ids.
* :func:`policy_importance` asks a policy for scores once per view, batched over every video:
  (B, T, V).
* :func:`evaluate_importance` turns importance into rows (one per scheme and m) with the shared
  top-m selection, aggregation (the alpha variant of Eq. 10) and metrics of
  :mod:`frame_select_env.selection`.
* :func:`evaluate_policies` does all of it for ``{agent: {stream: policy}}``, adds the
  two-stream fusion and the ``all`` (every frame) rows.

Every row is a dict with ``agent, scheme, m, stream (rgb | flow | fused), seed, alpha,
accuracy, mean_class_accuracy`` (percent) and, when the store has relevance, ``precision``
(percent of kept frames that show the action), plus ``uses_label`` (oracles).

Selection, aggregation, fusion and metrics are never re-implemented here: they are the calls
:func:`~frame_select_env.selection.select_frames`,
:func:`~frame_select_env.selection.aggregate_predictions`,
:func:`~frame_select_env.selection.fuse_streams`, :func:`~frame_select_env.selection.accuracy`
and :func:`~frame_select_env.selection.mean_class_accuracy`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.policy import SelectionPolicy
from frame_select_env.observations import ObservationSource
from frame_select_env.selection import (
    SCHEMES,
    accuracy,
    aggregate_predictions,
    fuse_streams,
    mean_class_accuracy,
    select_frames,
)
from frame_select_env.store import FeatureStore

DEFAULT_MS = (4, 8, 12, 16, 20, 25)
ALL_AGENT = "all"
ROW_COLUMNS = ("agent", "scheme", "m", "stream", "seed", "alpha", "accuracy",
               "mean_class_accuracy", "precision", "uses_label")


@dataclass
class SplitData:
    """One split's observations with every view kept.

    :param obs: stream -> ``{"features": (B, T, V, D), "predictions": (B, T, V, C)}`` float32.
    :param labels: (B,) true classes.
    :param video_ids: (B,) ids.
    :param relevance: (B, T) 0/1 ground truth, or ``None``.
    :param num_classes: C.
    """

    obs: dict[str, dict[str, np.ndarray]]
    labels: np.ndarray
    video_ids: np.ndarray
    relevance: np.ndarray | None
    num_classes: int
    streams: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return int(next(iter(self.obs.values()))["predictions"].shape[1])


def load_split(
    store: Any, split: str | None = "test", streams: Sequence[str] = ("rgb", "flow"),
    num_frames: int | None = None,
) -> SplitData:
    """Read a split once (every view, softmax applied) through the env's ObservationSource.

    :param store: path or :class:`FeatureStore`.
    :param split: ``train``, ``val``, ``test`` or ``None``.
    :param streams: streams to read (each must be in the store).
    :param num_frames: T (evenly spaced subset of the stored frames; ``None`` = all).
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
    rel = store.relevance(src.rows)
    if rel is not None:
        rel = np.asarray(rel)[:, src.frames]
    return SplitData(obs=obs, labels=src.labels, video_ids=src.video_ids, relevance=rel,
                     num_classes=src.num_classes, streams=list(streams))


def policy_importance(
    policy: SelectionPolicy, obs: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """A policy's scores for every view: one ``policy.scores`` call per view, over all videos.

    :param policy: any :class:`agents.policy.SelectionPolicy`.
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


def precision(mask: np.ndarray | None, relevance: np.ndarray | None) -> float:
    """Percent of kept (frame, view) pairs that are relevant (NaN without relevance).

    :param mask: (B, T, V) keep mask, ``None`` = every frame.
    :param relevance: (B, T) 0/1.
    """
    if relevance is None:
        return float("nan")
    rel = np.asarray(relevance).astype(bool)[:, :, None]
    if mask is None:
        return float(100.0 * rel.mean())
    kept = mask.sum()
    return float(100.0 * (mask & rel).sum() / kept) if kept else float("nan")


def select_and_aggregate(
    probs: np.ndarray, importance: np.ndarray | None, m: int, scheme: str, alpha: float = 0.0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Algorithm 2 for one m and scheme.

    :param probs: (B, T, V, C) class probabilities.
    :param importance: (B, T, V) scores; ``None`` keeps every frame.
    :return: ``(video-level probabilities (B, C), keep mask (B, T, V) or None)``.
    """
    if importance is None:
        return aggregate_predictions(probs), None
    mask = np.ascontiguousarray(select_frames(importance, m, scheme))
    return aggregate_predictions(probs, mask, alpha), mask


def _metrics(video_probs: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, float]:
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
) -> list[dict[str, Any]] | tuple[list[dict[str, Any]], dict[tuple[str, int], Any]]:
    """Rows ``{scheme, m, alpha, accuracy, mean_class_accuracy, precision}`` for one stream.

    :param probs: (B, T, V, C) per-frame, per-view class probabilities.
    :param importance: (B, T, V) scores (``None``: every frame, the ``all`` baseline).
    :param labels: (B,) true classes.
    :param ms: numbers of kept frames.
    :param schemes: ``frame`` and/or ``region``.
    :param alpha: weight of the non-kept frames (Eq. 10; 0 = Algorithm 2).
    :param relevance: (B, T) ground truth for ``precision`` (NaN without).
    :param return_predictions: also return ``{(scheme, m): ((B, C) predictions, mask)}``.
    """
    probs = np.asarray(probs, dtype=np.float32)
    labels = np.asarray(labels)
    if probs.ndim != 4:
        raise ValueError(f"evaluate_importance: probs must be (B, T, V, C), got {probs.shape}")
    if importance is not None and importance.shape != probs.shape[:3]:
        raise ValueError(f"evaluate_importance: importance {importance.shape} does not match "
                         f"probs {probs.shape} (expected {probs.shape[:3]})")
    rows, preds = [], {}
    cache: tuple[np.ndarray, None] | None = None
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
                         "precision": precision(mask, relevance)})
            preds[(scheme, int(m))] = (video_probs, mask)
    return (rows, preds) if return_predictions else rows


def evaluate_policies(
    policies: Mapping[str, Mapping[str, SelectionPolicy]],
    store: Any,
    split: str | None = "test",
    streams: Sequence[str] = ("rgb", "flow"),
    ms: Iterable[int] = DEFAULT_MS,
    schemes: Iterable[str] = SCHEMES,
    alpha: float = 0.0,
    fusion_weights: Mapping[str, float] | None = None,
    seed: int = 0,
    include_all: bool = True,
    data: SplitData | None = None,
) -> list[dict[str, Any]]:
    """Evaluate policies per stream and fused (Algorithm 2 on every view of the split).

    :param policies: agent name -> stream -> policy (an agent may lack a stream; it then has no
        row for that stream nor ``fused``). A policy with ``keeps_all = True`` is evaluated on
        every frame. A policy with a ``for_m(m)`` method (scores that depend on m, e.g. evenly
        spaced frames) is asked once per m.
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
    :return: rows (see the module docstring).
    """
    ms, schemes = [int(m) for m in ms], list(schemes)
    data = data or load_split(store, split, streams)
    missing = [s for s in streams if s not in data.obs]
    if missing:
        raise ValueError(f"evaluate_policies: the loaded split has no stream(s) {missing}")
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
        results: dict[tuple[str, int], dict[str, tuple[np.ndarray, np.ndarray | None]]] = {}
        uses_label = any(bool(getattr(p, "uses_label", False)) for p in per_stream.values())
        for stream in streams:
            if stream not in per_stream:
                continue
            policy, obs = per_stream[stream], data.obs[stream]
            probs = obs["predictions"]
            if policy is None or getattr(policy, "keeps_all", False):
                stream_rows, preds = _evaluate_one(probs, None, data, ms, schemes, alpha)
            elif callable(getattr(policy, "for_m", None)):
                stream_rows, preds = [], {}
                for m in ms:
                    imp = policy_importance(policy.for_m(m), obs, {**info, "m": np.full(
                        len(data.labels), m)})
                    r, p = _evaluate_one(probs, imp, data, [m], schemes, alpha)
                    stream_rows += r
                    preds.update(p)
            else:
                imp = policy_importance(policy, obs, info)
                stream_rows, preds = _evaluate_one(probs, imp, data, ms, schemes, alpha)
            for row in stream_rows:
                rows.append({"agent": agent, "stream": stream, "seed": int(seed),
                             "uses_label": uses_label, **row})
            for key, value in preds.items():
                results.setdefault(key, {})[stream] = value
        if len(streams) > 1 and all(s in per_stream for s in streams):
            for (scheme, m), per in results.items():
                fused = fuse_streams({s: per[s][0] for s in streams}, fusion_weights)
                masks = [per[s][1] for s in streams]
                if data.relevance is None:
                    prec = float("nan")
                elif any(mk is None for mk in masks):
                    prec = precision(None, data.relevance)
                else:  # pooled over the streams' kept frames
                    prec = precision(np.concatenate(masks, axis=2), data.relevance)
                rows.append({"agent": agent, "stream": "fused", "seed": int(seed),
                             "uses_label": uses_label, "scheme": scheme, "m": m,
                             "alpha": float(alpha),
                             **_metrics(fused, data.labels, data.num_classes),
                             "precision": prec})
    return [{k: row.get(k) for k in ROW_COLUMNS} for row in rows]


def _evaluate_one(probs, importance, data, ms, schemes, alpha):
    return evaluate_importance(probs, importance, data.labels, ms, schemes, alpha,
                               data.relevance, return_predictions=True)


def summarize(rows: Sequence[Mapping[str, Any]], keys: Sequence[str] = ("agent", "scheme", "m",
                                                                         "stream")) -> list[dict]:
    """Mean and std over seeds of accuracy, mean class accuracy and precision per ``keys``."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    out = []
    for key, group in groups.items():
        entry = dict(zip(keys, key, strict=False))
        entry["num_seeds"] = len({r.get("seed") for r in group})
        for metric in ("accuracy", "mean_class_accuracy", "precision"):
            vals = np.array([np.nan if r.get(metric) is None else r[metric] for r in group], float)
            finite = vals[np.isfinite(vals)]
            entry[metric] = float(finite.mean()) if len(finite) else float("nan")
            entry[f"{metric}_std"] = float(finite.std()) if len(finite) else float("nan")
        out.append(entry)
    return out
