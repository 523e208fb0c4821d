"""Action wrappers that let continuous-action algorithms (SAC, TD3) play ``FrameSelection-v0``.

:class:`TopMScoresWrapper` replaces the ``MultiBinary(T)`` action with ``Box(-1, 1, (T,))``
per-frame scores and keeps the top-m of them, exactly the rule used at evaluation time
(:func:`frame_select_env.core.selection.topm_mask`). The agent learns a ranking of frames;
m may be fixed or drawn per episode so the ranking is trained for every m it will be evaluated at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from frame_select_env.core.selection import topm_mask


class TopMScoresWrapper(gym.ActionWrapper):
    """Continuous per-frame scores -> keep exactly the top-m frames.

    :param env: a ``FrameSelection-v0`` env (``MultiBinary(T)`` actions).
    :param m: frames to keep: an int, or a sequence of ints from which one is drawn (with the
        env's ``np_random``) at every reset.
    """

    def __init__(self, env: gym.Env, m: int | Sequence[int] = 8) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, spaces.MultiBinary) or len(env.action_space.shape) != 1:
            raise TypeError(f"TopMScoresWrapper needs a MultiBinary(T) action space, got "
                            f"{env.action_space}")
        self.num_frames = int(env.action_space.shape[0])
        # np.isscalar's TypeGuard narrows to numpy's scalar union (not to int) and leaves the
        # other branch un-narrowed, so both branches spell out the type they handle.
        if np.isscalar(m):
            choices = [int(cast(int, m))]
        else:
            choices = [int(x) for x in cast(Sequence[int], m)]
        if not choices or any(not 1 <= x <= self.num_frames for x in choices):
            raise ValueError(f"TopMScoresWrapper: m must be in [1, {self.num_frames}], got {m}")
        self.m_choices = choices
        self.m = choices[0]
        self.action_space = spaces.Box(-1.0, 1.0, (self.num_frames,), np.float32)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the env, draw this episode's m (when there is a choice) and report it.

        :param kwargs: passed to the env's ``reset`` (``seed``, ``options``).
        :return: the observation and the info dict, with ``info["m"]`` set.
        """
        obs, info = self.env.reset(**kwargs)
        if len(self.m_choices) > 1:
            self.m = int(self.np_random.choice(self.m_choices))
        info["m"] = self.m
        return obs, info

    def action(self, action: Any) -> np.ndarray:
        """Per-frame scores -> the ``MultiBinary`` action keeping the top-m frames.

        :param action: (T,) scores in the ``Box`` action space.
        :return: (T,) int8 keep mask with exactly m ones.
        """
        scores = np.asarray(action, dtype=np.float32).reshape(self.num_frames)
        return topm_mask(scores, self.m).astype(np.int8)
