"""Sequential agents (``FrameSelectionSeq-v0``) evaluated into the one-step evaluation's rows.

:func:`evaluate_sequential` runs every video of a split once with each
:class:`~frame_select_env.core.policy.SequentialPolicy`, on the env's own batched step
(:func:`frame_select_env.envs.sequential.rollout.rollout`), and returns rows of the schema
:data:`~frame_select_env.evaluation.results.ROW_COLUMNS` (plus ``seconds_<flow method>``), so
``write_csv(kind="cost")``, :func:`~frame_select_env.evaluation.tables.cost_table` and
:func:`~frame_select_env.evaluation.plots.plot_accuracy_vs_cost` take them beside the one-step
rows:

* the env is built with ``view="mean"`` (the crops' probabilities averaged, the frame-based
  scheme of the one-step rows); its prediction fuses both streams over the paid frames, so
  ``scheme="frame"`` and ``stream="fused"``; ``m`` is the episode's budget (``max_frames``),
  ``threshold`` NaN, ``alpha`` 0;
* ``accuracy``, ``mean_class_accuracy`` and ``precision`` (percent of the paid frames that show
  the action) come from :mod:`~frame_select_env.core.metrics`;
* the cost columns come from the same :class:`~frame_select_env.evaluation.costing.RowCosting`
  as the one-step rows: the cheap stream is observed (computed on all T frames and every crop),
  the expensive stream only on the paid frames' crops; ``frames`` is the mean number of paid
  frames. A policy with ``macs_per_decision(T)`` (a learned agent) adds those MACs per decision
  taken and its measured ``act`` time per video; rule-based policies, like the one-step rules,
  add nothing. With the store's own cost dict the env's ``info["macs"]`` must equal the cost
  model's MACs, else a RuntimeError: the two accountings cannot drift apart silently.

Policies whose ``act`` takes ``info`` (oracles) get the per-video extras ``label``,
``video_id``, ``index`` and, where the store has it, ``relevance`` (B, T); since the rollout
shows a policy only its still-running episodes, such policies are rolled out one video at a
time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from frame_select_env.core.metrics import accuracy, mean_class_accuracy, precision
from frame_select_env.core.policy import _accepts_kwarg
from frame_select_env.envs.sequential.core import SeqCore
from frame_select_env.envs.sequential.rollout import rollout
from frame_select_env.evaluation.costing import RowCosting
from frame_select_env.evaluation.results import ROW_COLUMNS

#: The view mode of the sequential evaluation: the crops averaged, as the frame-based scheme.
SEQ_VIEW = "mean"
#: Env options the evaluation sets itself (a policy's ``env_kwargs`` may not change them).
_FIXED_OPTIONS = ("store", "split", "view")


@dataclass
class SeqEpisodes:
    """One policy's episodes: every video of a split once, in split order.

    :param prediction: (B, C) the final prediction (both streams fused over the paid frames).
    :param labels: (B,) true classes.
    :param paid: (B, T) bool, the frames whose expensive stream was paid for.
    :param decisions: (B,) actions taken (pay actions and the final stop, if any).
    :param env_macs: (B,) the env's own ``info["macs"]`` (cheap pass included).
    :param act_seconds: wall-clock seconds spent in the policy's ``act``, all videos.
    :param agent_macs: (B,) the policy's own MACs, decisions x ``macs_per_decision(T)`` (0 for
        policies without it).
    """

    prediction: np.ndarray
    labels: np.ndarray
    paid: np.ndarray
    decisions: np.ndarray
    env_macs: np.ndarray
    act_seconds: float
    agent_macs: np.ndarray


def has_own_cost(policy: Any) -> bool:
    """Whether a policy declares its own compute (``macs_per_decision``), as learned agents do.

    :param policy: a sequential policy.
    :return: ``True`` when its MACs and measured ``act`` time are added to the rows.
    """
    return callable(getattr(policy, "macs_per_decision", None))


def split_info(core: SeqCore) -> dict[str, np.ndarray]:
    """Per-video extras of the core's split, for policies whose ``act`` takes ``info``.

    :param core: the env's core.
    :return: ``label``, ``video_id``, ``index`` (B,) and, where the store records it,
        ``relevance`` (B, T) at the core's T frames.
    """
    src = core.cheap
    info: dict[str, np.ndarray] = {"label": np.asarray(src.labels),
                                   "video_id": np.asarray(src.video_ids),
                                   "index": np.arange(src.num_videos)}
    rel = src.store.relevance(src.rows)
    if rel is not None:  # the same frame subset as the observations (num_frames)
        info["relevance"] = np.asarray(rel)[:, src.frames]
    return info


class _TimedAct:
    """A policy's ``act`` as a rollout function: timed, and given ``info`` when bound to it.

    :param policy: the sequential policy.
    :param info: the per-video extras of the episodes it acts for, or ``None``.
    """

    def __init__(self, policy: Any, info: Mapping[str, np.ndarray] | None = None) -> None:
        self.policy, self.info, self.seconds = policy, info, 0.0

    def __call__(self, obs: Mapping[str, np.ndarray], masks: np.ndarray) -> Any:
        start = time.perf_counter()
        out = (self.policy.act(obs, masks) if self.info is None
               else self.policy.act(obs, masks, info=self.info))
        self.seconds += time.perf_counter() - start
        return out


def run_episodes(core: SeqCore, policy: Any, info: Mapping[str, np.ndarray] | None = None,
                 batch_size: int = 1024) -> SeqEpisodes:
    """Roll out every video of the core's split once with ``policy``.

    :param core: the env's core (``env.unwrapped.core``), with a fixed view (``"mean"``).
    :param policy: a :class:`~frame_select_env.core.policy.SequentialPolicy`.
    :param info: per-video extras (:func:`split_info`); passed to a policy whose ``act`` takes
        ``info``, one video at a time (the rollout shows it only the running episodes).
    :param batch_size: videos rolled out at once (bounds memory on big splits).
    :return: the episodes.
    :raises TypeError: ``policy`` has no ``act``.
    """
    if not callable(getattr(policy, "act", None)):
        raise TypeError(f"a sequential policy needs act(obs, action_masks); got {policy!r}")
    n, t = core.num_videos, core.num_frames
    extras = info if info is not None and _accepts_kwarg(policy.act, "info") else None
    chunk = max(1, int(batch_size)) if extras is None else 1
    timed: list[_TimedAct] = []
    parts: list[tuple[np.ndarray, ...]] = []
    for start in range(0, n, chunk):
        idx = np.arange(start, min(start + chunk, n))
        act = _TimedAct(policy, None if extras is None
                        else {k: np.asarray(v)[idx] for k, v in extras.items()})
        done = rollout(core, act, idx)
        timed.append(act)
        parts.append((done.state.prediction, done.state.labels, done.state.paid,
                      done.decisions, done.info["macs"]))
    prediction, labels, paid, decisions, env_macs = (np.concatenate(p) for p in zip(*parts,
                                                                                     strict=True))
    per_decision = float(policy.macs_per_decision(t)) if has_own_cost(policy) else 0.0
    return SeqEpisodes(prediction=prediction, labels=labels, paid=paid.astype(bool),
                       decisions=decisions.astype(np.int64), env_macs=env_macs.astype(np.float64),
                       act_seconds=float(sum(a.seconds for a in timed)),
                       agent_macs=decisions.astype(np.float64) * per_decision)


def sequential_costing(core: SeqCore, cost: Any = "auto",
                       seconds_flow_methods: Sequence[str] = ()) -> RowCosting:
    """The one-step rows' :class:`RowCosting` for the core's split and frames.

    :param core: the env's core.
    :param cost: ``"auto"`` (the store's cost dict), a cost dict, or ``None`` (NaN columns).
    :param seconds_flow_methods: flow methods priced in extra ``seconds_<method>`` columns.
    :return: the costing.
    """
    src = core.cheap
    # the paid streams' crops (a one-view preview observed leaves them at every crop)
    return RowCosting(cost, src.store, src.rows, src.num_videos, src.frames, core.num_frames,
                      core.expensive.num_views, seconds_flow_methods)


def _paid_masks(core: SeqCore, paid: np.ndarray) -> dict[str, np.ndarray]:
    """Expensive stream -> (B, T, V) crops computed: every crop of the paid frames."""
    b, t = paid.shape
    mask = np.broadcast_to(paid[:, :, None], (b, t, core.expensive.num_views))
    return {s: mask for s in core.expensive.streams}


def cost_model_macs(core: SeqCore, costing: RowCosting, paid: np.ndarray) -> np.ndarray | None:
    """Per-video classifier MACs of the cost model: the cheap stream everywhere, paid frames.

    :param core: the env's core.
    :param costing: :func:`sequential_costing` of the core.
    :param paid: (B, T) bool paid frames.
    :return: (B,) MACs, or ``None`` without a cost dict.
    """
    model = costing.models.get(None)
    if model is None:
        return None
    computed: dict[str, np.ndarray | None] = {s: None for s in core.cheap.streams}
    computed.update(_paid_masks(core, paid))
    return np.asarray(model.video_cost(computed).macs, np.float64)


def sequential_row(agent: str, policy: Any, core: SeqCore, episodes: SeqEpisodes,
                   costing: RowCosting, seed: int = 0,
                   relevance: np.ndarray | None = None,
                   seconds_flow_methods: Sequence[str] = ()) -> dict[str, Any]:
    """The evaluation row of one policy's episodes (see the module docstring).

    :param agent: the row's agent name.
    :param policy: the policy (``uses_label``, ``macs_per_decision``).
    :param core: the env's core the episodes ran on.
    :param episodes: :func:`run_episodes` of ``policy`` on ``core``.
    :param costing: :func:`sequential_costing` of ``core``.
    :param seed: recorded in the row.
    :param relevance: (B, T) ground truth for ``precision`` (NaN without).
    :param seconds_flow_methods: the ``seconds_<method>`` columns wanted.
    :return: the row: :data:`ROW_COLUMNS` then ``seconds_<method>``.
    """
    paid = episodes.paid
    row: dict[str, Any] = {
        "agent": agent, "scheme": "frame", "m": int(core.max_frames), "stream": "fused",
        "seed": int(seed), "alpha": 0.0,
        "accuracy": accuracy(episodes.prediction, episodes.labels),
        "mean_class_accuracy": mean_class_accuracy(episodes.prediction, episodes.labels,
                                                   core.num_classes),
        "precision": precision(paid[:, :, None], relevance),
        "uses_label": bool(getattr(policy, "uses_label", False)),
        "threshold": float("nan"),
    }
    # the classifier side: the one-step rows' costing (observed = every frame and crop)
    row.update(costing.row_cost(_paid_masks(core, paid), tuple(core.cheap.streams), [], {}))
    if has_own_cost(policy):
        row["gmacs"] += float(episodes.agent_macs.mean()) / 1e9
        per_video = episodes.act_seconds / len(paid)
        for key in ("seconds", *(f"seconds_{m}" for m in seconds_flow_methods)):
            row[key] += per_video
    return {k: row.get(k) for k in (*ROW_COLUMNS, *(f"seconds_{m}" for m in
                                                   seconds_flow_methods))}


def _policy_list(value: Any) -> list[Any]:
    """A policy or a sequence of them (one per budget) as a list."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _env_options(base: Mapping[str, Any], policy: Any) -> dict[str, Any]:
    """The env options of a policy: the evaluation's, then the policy's own ``env_kwargs``."""
    own = dict(getattr(policy, "env_kwargs", None) or {})
    merged = {**base, **own}
    fixed = [k for k in _FIXED_OPTIONS if k in merged]
    if fixed:
        raise ValueError(f"evaluate_sequential: env option(s) {fixed} are set by the evaluation "
                         f"(store=, split= and view={SEQ_VIEW!r}); policy "
                         f"{getattr(policy, 'name', policy)!r} / env_kwargs may not set them")
    return merged


def evaluate_sequential(
    policies: Mapping[str, Any],
    store: Any,
    split: str | None = "test",
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    seed: int = 0,
    cost: Any = "auto",
    seconds_flow_methods: Sequence[str] = (),
    batch_size: int = 1024,
) -> list[dict[str, Any]]:
    """Evaluate sequential policies on every video of a split; rows as the one-step evaluation's.

    :param policies: agent name -> a :class:`~frame_select_env.core.policy.SequentialPolicy`, or a
        list of them (e.g. one per budget). A policy's ``env_kwargs`` (e.g.
        ``{"max_frames": 8}``) are added to ``env_kwargs``; policies with the same options share
        one env. A policy with ``reset(seed)`` is reset with ``seed`` first.
    :param store: path or :class:`~frame_select_env.store.FeatureStore` (``None``: the built-in
        store).
    :param split: the evaluation split.
    :param env_kwargs: ``FrameSelectionSeq-v0`` options of every env (not ``store``, ``split``
        or ``view``: the evaluation uses ``view="mean"``).
    :param seed: recorded in every row, and the policies' reset seed.
    :param cost: ``"auto"`` (the store's cost dict, which the env uses too), a cost dict, or
        ``None`` (cost columns NaN but ``frames``).
    :param seconds_flow_methods: also report ``seconds_<method>`` per row (e.g. ``tvl1``).
    :param batch_size: videos rolled out at once.
    :return: one row per policy (see the module docstring).
    :raises ValueError: an env option the evaluation sets, or a policy the env refuses.
    :raises RuntimeError: the env's MACs differ from the cost model's (with ``cost="auto"``).
    """
    import gymnasium as gym

    import frame_select_env  # noqa: F401  (registers FrameSelectionSeq-v0)

    base = dict(env_kwargs or {})
    envs: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    try:
        for agent, value in policies.items():
            for policy in _policy_list(value):
                options = _env_options(base, policy)
                key = repr(sorted(options.items()))
                if key not in envs:
                    env = gym.make("FrameSelectionSeq-v0", store=store, split=split,
                                   view=SEQ_VIEW, **options)
                    core = cast(SeqCore, env.unwrapped.core)  # type: ignore[attr-defined]
                    envs[key] = (env, core, split_info(core),
                                 sequential_costing(core, cost, seconds_flow_methods))
                _, core, info, costing = envs[key]
                if callable(getattr(policy, "reset", None)):
                    policy.reset(seed)
                episodes = run_episodes(core, policy, info, batch_size)
                if isinstance(cost, str):  # the store's cost dict: the env's own accounting
                    _check_env_macs(core, costing, episodes, agent)
                rows.append(sequential_row(agent, policy, core, episodes, costing, seed,
                                           info.get("relevance"), seconds_flow_methods))
    finally:
        for env, *_ in envs.values():
            env.close()
    return rows


def _check_env_macs(core: SeqCore, costing: RowCosting, episodes: SeqEpisodes,
                    agent: str) -> None:
    """The env's ``info["macs"]`` against the cost model's MACs of the same paid frames."""
    model = cost_model_macs(core, costing, episodes.paid)
    if model is None or np.isnan(episodes.env_macs).all():
        return
    if not np.allclose(episodes.env_macs, model, rtol=1e-9, atol=0.0):
        worst = int(np.argmax(np.abs(episodes.env_macs - model)))
        raise RuntimeError(f"evaluate_sequential ({agent}): the env's MACs "
                           f"{episodes.env_macs[worst]:.6g} differ from the cost model's "
                           f"{model[worst]:.6g} for video {worst}: FrameSelectionSeq-v0's "
                           f"accounting and frame_select_env.pipeline.cost have drifted apart")


__all__ = ["SEQ_VIEW", "SeqEpisodes", "cost_model_macs", "evaluate_sequential", "has_own_cost",
           "run_episodes", "sequential_costing", "sequential_row", "split_info"]
