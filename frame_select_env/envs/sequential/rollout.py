"""Run ``FrameSelectionSeq-v0`` episodes of given videos to their end, all at once.

The evaluation (every video of a split once) and the sequential trainers (N episodes per video)
both need whole episodes of chosen videos, not the vector env's random draws and autoresets. They
run them here, on the env's own batched step
(:class:`~frame_select_env.envs.sequential.core.SeqCore`, which
``FrameSelectionSeqEnv`` and its vector version share), so their numbers are the env's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from frame_select_env.envs.sequential.core import SeqCore, SeqState


@dataclass
class SeqRollout:
    """B finished episodes.

    :param actions: (S, B) the action each episode took at step s, -1 once it had ended.
    :param rewards: (S, B) float32 rewards (0 once ended).
    :param active: (S, B) bool, True where the episode was still running at step s.
    :param state: the final :class:`~frame_select_env.envs.sequential.core.SeqState` (paid frames,
    order,
        steps, MACs, seconds, prediction, labels).
    :param info: ``core.info`` of the final state (``correct``, ``num_paid``, ``macs``, ...).
    """

    actions: np.ndarray
    rewards: np.ndarray
    active: np.ndarray
    state: SeqState
    info: dict[str, np.ndarray]

    @property
    def returns(self) -> np.ndarray:
        """(B,) the undiscounted return of each episode."""
        return self.rewards.sum(0)

    @property
    def decisions(self) -> np.ndarray:
        """(B,) actions taken per episode, the final stop included."""
        return self.active.sum(0)


def _act_fn(policy: Any) -> Callable[[dict[str, np.ndarray], np.ndarray], Any]:
    act = getattr(policy, "act", None)
    if callable(act):
        return act  # type: ignore[no-any-return]
    if callable(policy):
        return policy  # type: ignore[no-any-return]
    raise TypeError(f"a sequential policy needs act(obs, action_masks); got {policy!r}")


def rollout(core: SeqCore, policy: Any, indices: Any, views: Any = None,
            max_frames: Any = None) -> SeqRollout:
    """One episode per entry of ``indices``, batched, each until it stops or is truncated.

    :param core: the env's core (``env.unwrapped.core`` or ``vector_env.core``).
    :param policy: a :class:`~frame_select_env.core.policy.SequentialPolicy` (or a function
        ``f(obs, action_masks)``); it is called with the still-running episodes only.
    :param indices: (B,) split positions of the videos (repeats give several episodes).
    :param views: (B,) views with ``view="random"``; ``None`` otherwise (a random-view core then
        shows the view each episode's index selects: use ``view="mean"`` or ``"center"`` to
        evaluate).
    :param max_frames: each episode's budget of pay actions (an int or (B,) ints); ``None`` =
        the env's ``max_frames``.
    :return: the finished episodes.
    :raises ValueError: an index out of range, or a policy action the env refuses (named).
    """
    idx = np.asarray(indices, np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= core.num_videos):
        raise ValueError(f"rollout: indices out of range [0, {core.num_videos}): got "
                         f"[{idx.min()}, {idx.max()}]")
    if views is None and core.cheap.view == "random":
        raise ValueError("rollout: a view='random' core needs views=; pass one per index")
    act = _act_fn(policy)
    state = core.start(idx, None if views is None else np.asarray(views, np.int64), max_frames)
    b, t = len(idx), core.num_frames
    running = np.ones(b, bool)
    actions, rewards, active = [], [], []
    # An episode ends after its max_frames pay actions (repeats count) at the latest, so
    # max_frames + 1 steps (the last a stop) bound any policy.
    for _ in range(int(state.max_frames.max(initial=0)) + 1):
        if not running.any():
            break
        rows = np.flatnonzero(running)
        obs = {k: v[rows] for k, v in core.observe(state).items()}
        masks = core.action_masks(state)[rows]
        chosen = core.check_actions(act(obs, masks), len(rows))
        step_actions = np.full(b, t, np.int64)  # ended episodes "stop" again: no change, 0 cost
        step_actions[rows] = chosen
        reward, terminated, truncated, _ = core.step(state, step_actions)
        actions.append(np.where(running, step_actions, -1))
        rewards.append(np.where(running, reward, 0.0).astype(np.float32))
        active.append(running.copy())
        running = running & ~(terminated | truncated)
    shape = (0, b)
    return SeqRollout(
        actions=np.stack(actions) if actions else np.zeros(shape, np.int64),
        rewards=np.stack(rewards) if rewards else np.zeros(shape, np.float32),
        active=np.stack(active) if active else np.zeros(shape, bool),
        state=state, info=core.info(state))
