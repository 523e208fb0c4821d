"""The cost columns of the evaluation rows: what a policy had to compute to choose its frames.

A policy ``observes`` streams (default: the stream it scores, or its ``observe`` attribute); an
observed stream is computed on all T frames and every crop, any other stream only on the crops
it keeps (select-before-compute). ``random`` and ``uniform`` observe nothing, so they only pay
for their kept frames; ``all`` pays for all. The per-frame and per-crop prices are the store's
cost dict (:mod:`frame_select_env.pipeline.cost`); a learned agent adds its own MACs and measured
time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: The cost columns of a row (plus ``seconds_<flow method>`` when asked for).
COST_METRICS: tuple[str, ...] = ("frames", "gmacs", "seconds")


def observed_streams(policy: Any, stream: str) -> tuple[str, ...]:
    """Streams a policy needs on all T frames before choosing (they are computed in full).

    :param policy: the policy selecting for ``stream`` (``None``: every frame is kept).
    :param stream: the stream it selects for.
    :return: the observed stream names (``()`` for policies that look at nothing).
    """
    if policy is None or getattr(policy, "keeps_all", False):
        return (stream,)
    observes = getattr(policy, "observes", None)
    if observes is not None:  # e.g. () for random and uniform: they look at nothing
        return tuple(observes)
    return (getattr(policy, "observe", None) or stream,)


class RowCosting:
    """Cost columns of the rows: the store's cost model plus the agents' own cost.

    :param cost: ``"auto"`` (the store's cost dict), a cost dict, or ``None`` (NaN columns).
    :param store: the :class:`~frame_select_env.store.FeatureStore` the videos are read from.
    :param rows: (B,) the videos' store rows (the cost model reads per-video frame counts);
        ``None`` where unknown.
    :param batch: B, the videos evaluated.
    :param frames: positions in the stored T of the T frames read (``None``: all).
    :param num_frames: T.
    :param num_views: the crops per frame.
    :param seconds_flow_methods: flow methods priced in extra ``seconds_<method>`` columns.
    :raises ValueError: for a ``cost`` string other than ``"auto"``.
    """

    def __init__(self, cost: Any, store: Any, rows: Any, batch: int, frames: Any,
                 num_frames: int, num_views: int, seconds_flow_methods: Sequence[str]) -> None:
        from frame_select_env.pipeline.cost import CostModel, store_cost

        if isinstance(cost, str):
            if cost != "auto":
                raise ValueError(f"evaluate_policies: cost must be 'auto', a cost dict or None, "
                                 f"got {cost!r}")
            cost = store_cost(store) if store is not None else None
        self.num_frames = int(num_frames)
        self.num_views = int(num_views)
        self.models: dict[str | None, CostModel] = {}
        if cost is not None:
            self.models[None] = CostModel(cost, rows, frames)
            for method in seconds_flow_methods:
                self.models[method] = CostModel(cost, rows, frames, flow_method=method)
        self.extra = list(seconds_flow_methods)
        self.batch = int(batch)
        self._agent_macs: dict[int, float] = {}

    @classmethod
    def for_split(cls, cost: Any, store: Any, data: Any,
                  seconds_flow_methods: Sequence[str]) -> RowCosting:
        """The costing of a loaded split.

        :param data: a :class:`~frame_select_env.evaluation.runner.SplitData` (typed ``Any``
            because the runner imports this module, and the import-linter contracts keep the
            evaluation free of cycles).
        """
        views = int(next(iter(data.obs.values()))["predictions"].shape[2])
        return cls(cost, store, data.rows, len(data.labels), data.frames, data.num_frames, views,
                   seconds_flow_methods)

    def agent_macs(self, policy: Any) -> float:
        """MACs of a learned agent per video (one pass per view); 0 for score rules.

        :param policy: a policy; its ``agent`` attribute, if any, is the network counted, or
            its ``macs_per_view(num_frames)`` (MACs of one view's pass, e.g. the field's
            selectors in :mod:`baselines_zoo.field`).
        :return: MACs per video.
        """
        if id(policy) not in self._agent_macs:
            agent = getattr(policy, "agent", None)
            macs = 0.0
            if callable(getattr(policy, "macs_per_view", None)):
                macs = float(policy.macs_per_view(self.num_frames)) * self.num_views
            elif agent is not None and hasattr(getattr(agent, "config", None), "parts"):
                from frame_select_env.pipeline.cost import agent_macs_per_sequence

                macs = float(agent_macs_per_sequence(agent, self.num_frames)) * self.num_views
            self._agent_macs[id(policy)] = macs
        return self._agent_macs[id(policy)]

    def row_cost(self, masks: Mapping[str, np.ndarray | None], observed: Sequence[str],
                 policies: Sequence[Any], scored: Mapping[tuple, tuple[np.ndarray, float]]
                 ) -> dict[str, float]:
        """``frames``, ``gmacs``, ``seconds`` (and ``seconds_<method>``) of one row.

        :param masks: stream -> (B, T, V) keep mask (``None``: every frame).
        :param observed: streams computed on every frame and crop.
        :param policies: the row's policies (their agents' MACs and time are added once each).
        :param scored: ``(id(policy), stream, m) -> (importance, seconds)`` of every scoring.
        :return: the cost columns (NaN but ``frames`` without a cost dict).
        """
        t = self.num_frames
        kept = [t if mk is None else float(np.asarray(mk).any(-1).sum(-1).mean())
                for mk in masks.values()]
        out = {"frames": float(np.mean(kept))}
        nan = {"gmacs": float("nan"), "seconds": float("nan"),
               **{f"seconds_{m}": float("nan") for m in self.extra}}
        if not self.models:
            return {**out, **nan}
        computed = dict(masks)
        for stream in observed:  # a stream the policy looked at is computed on every crop
            computed[stream] = None
        distinct = {id(p): p for p in policies if p is not None}
        agent_macs = sum(self.agent_macs(p) for p in distinct.values())
        # the agents' measured scoring time, per video, of every (policy, stream, m) they scored
        agent_seconds = sum(sec for (pid, _, _), (_, sec) in scored.items()
                            if pid in distinct and self.agent_macs(distinct[pid]) > 0
                            ) / self.batch
        for method, model in self.models.items():
            vc = model.video_cost(computed, batch=self.batch)
            if method is None:
                out["gmacs"] = float(vc.macs.mean() + agent_macs) / 1e9
                out["seconds"] = float(vc.seconds.mean() + agent_seconds)
            else:
                out[f"seconds_{method}"] = float(vc.seconds.mean() + agent_seconds)
        return out
