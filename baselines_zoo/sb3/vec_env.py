"""SB3 ``VecEnv`` adapters over the native vector envs of both environments.

``DummyVecEnv`` steps N single envs one by one in Python; ``gym.make_vec`` builds the envs'
native vector versions, which step all N episodes with array operations. The adapters here give
SB3 the native speed with SB3's conventions, and the very transitions ``make_vec_env`` over
single envs gives (:func:`baselines_zoo.sb3.train.make_env` builds both):

* **auto-reset**: an ended sub-env restarts in the same step; its last observation is in
  ``infos[i]["terminal_observation"]``, ``infos[i]["TimeLimit.truncated"]`` says whether the end
  was a time limit, and ``infos[i]["episode"]`` has the episode's return, length and time as
  SB3's ``Monitor`` reports them (``env_is_wrapped(Monitor)`` is true);
* **seeding**: ``seed(s)`` (or ``make_native_vec_env(seed=s)``) seeds sub-env i with ``s + i`` at
  the next ``reset``, and every sub-env draws its videos (views, and top-m's ``m``) from its own
  generator as a single env does: the adapter equals ``DummyVecEnv`` over single envs seeded the
  same way, step for step;
* **the training wrappers, on the batched arrays**: ``FrameSelectionSeq-v0`` reports a budget
  end as an end (what :class:`~baselines_zoo.sb3.sequential.BudgetEndIsTerminal` does to a single
  env); for SAC and TD3 ``FrameSelection-v0`` takes per-frame scores and keeps the top-m
  (:class:`~baselines_zoo.sb3.wrappers.TopMScoresWrapper`'s rule and action space);
* **masks**: ``env_method("action_masks")`` gives each sub-env's row of the seq env's batched
  masks, as sb3-contrib's ``get_action_masks`` asks for them (``MaskablePPO``);
* ``get_attr`` / ``set_attr`` reach the native env's attributes (the same for every sub-env),
  ``render`` tiles the native env's per-sub-env pictures, and ``VecNormalize`` (or any SB3
  ``VecEnvWrapper``) goes on top.

Infos carry the native env's per-episode keys, one row per sub-env (numpy scalars and rows
rather than the single env's Python values).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

import frame_select_env
from baselines_zoo.sb3.sequential import SEQ_ENV_ID, BudgetEndIsTerminal
from baselines_zoo.sb3.wrappers import TopMScoresWrapper
from frame_select_env.core.selection import topm_mask

ENV_ID = frame_select_env.ENV_ID
#: one native step: observations, rewards, dones, time-limit ends, each sub-env's step info,
#: the final observations (indexable by sub-env; ``None`` when nothing ended) and the restarted
#: sub-envs' reset infos
_StepOut = tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]],
                 Any, list[dict[str, Any]]]


def _rows(batch: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """N per-sub-env dicts of a batched ``{key: (N, ...)}`` dict (views of its rows)."""
    items = list(batch.items())
    return [{k: v[i] for k, v in items} for i in range(n)]


class NativeVecEnv(VecEnv):
    """What both adapters share: Monitor's episode stats, seeds, attributes, render, close.

    :param venv: the native vector env (``gym.make_vec``).
    :param observation_space: one sub-env's observation space.
    :param action_space: one sub-env's action space, as SB3 sees it.
    :param wrappers: the single-env wrappers whose effect the adapter applies (besides Monitor),
        for :meth:`env_is_wrapped`.
    """

    def __init__(self, venv: Any, observation_space: spaces.Space, action_space: spaces.Space,
                 wrappers: Sequence[type] = ()) -> None:
        self.venv = venv  # before VecEnv.__init__, which reads render_mode through get_attr
        self._wrappers = (Monitor, *wrappers)
        super().__init__(int(venv.num_envs), observation_space, action_space)
        n = self.num_envs
        self._actions: np.ndarray | None = None
        self._returns = np.zeros(n, np.float64)  # Monitor sums Python floats: float64
        self._lengths = np.zeros(n, np.int64)
        self._t_start = time.time()

    # ---------------------------------------------------------------------- SB3's VecEnv API

    @property
    def envs(self) -> list[Any]:
        """``[native vector env]``: code written for ``DummyVecEnv.envs[0].unwrapped``.

        Its ``core`` (``FrameSelectionSeq-v0``) or ``source`` (``FrameSelection-v0``) is what
        every sub-env shares; :meth:`get_attr` is the ``VecEnv`` way to reach it.
        """
        return [self.venv]

    def _reset_seeds_list(self) -> list[int] | None:
        """The seeds :meth:`seed` set for this reset (``None`` when none was set)."""
        seeds = self._seeds
        if all(s is None for s in seeds):
            return None
        if any(s is None for s in seeds):
            raise ValueError(f"{type(self).__name__}.reset: seeds for some sub-envs only "
                             f"({seeds}); seed all of them (seed(s) seeds s + i)")
        return [int(cast(int, s)) for s in seeds]

    def reset(self) -> VecEnvObs:
        """Start an episode in every sub-env (seeded by :meth:`seed` once, like DummyVecEnv)."""
        obs, infos = self._reset(self._reset_seeds_list(), self._options)
        self.reset_infos = infos
        self._reset_seeds()
        self._reset_options()
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Keep the actions for :meth:`step_wait` (the native env steps synchronously)."""
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        """Step every sub-env; ended ones restart (``terminal_observation`` in their info)."""
        if self._actions is None:
            raise RuntimeError(f"{type(self).__name__}.step_wait called without step_async")
        actions, self._actions = self._actions, None
        obs, rewards, dones, time_limit, infos, final_obs, reset_infos = self._step(actions)
        self._returns += rewards
        self._lengths += 1
        now = round(time.time() - self._t_start, 6)
        for i in map(int, np.flatnonzero(dones)):
            info = infos[i]
            info["terminal_observation"] = final_obs[i]
            info["episode"] = {"r": round(float(self._returns[i]), 6),
                               "l": int(self._lengths[i]), "t": now}
            self.reset_infos[i] = reset_infos[i]
        for i, info in enumerate(infos):
            info["TimeLimit.truncated"] = bool(time_limit[i])
        self._returns[dones] = 0.0
        self._lengths[dones] = 0
        return obs, rewards, dones, infos

    def close(self) -> None:
        """Close the native env (its store files)."""
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One picture per sub-env (``render_mode="rgb_array"``), from the native env."""
        if self.render_mode != "rgb_array":
            return [None] * self.num_envs
        return list(self.venv.render())

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        return [int(i) for i in self._get_indices(indices)]

    def _per_env_attr(self, name: str) -> Callable[[int], Any] | None:
        """A per-sub-env attribute of the adapter's own (``None``: the native env's)."""
        if name == "observation_space":
            return lambda i: self.observation_space
        if name == "action_space":
            return lambda i: self.action_space
        return None

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute for each sub-env: the adapter's per-sub-env ones, else the native env's.

        ``observation_space`` / ``action_space`` are one sub-env's (as SB3 expects of a
        sub-env); any other name is read from the native vector env, the same for every sub-env.

        :raises AttributeError: neither has it.
        """
        rows = self._indices(indices)
        own = self._per_env_attr(attr_name)
        if own is not None:
            return [own(i) for i in rows]
        value = getattr(self.venv, attr_name)
        return [value for _ in rows]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the native env, which all sub-envs share.

        :raises ValueError: ``indices`` name some sub-envs only (their attributes are one).
        """
        if sorted(self._indices(indices)) != list(range(self.num_envs)):
            raise ValueError(f"{type(self).__name__}.set_attr({attr_name!r}): the sub-envs share "
                             f"one native env; set it for all of them (indices=None)")
        setattr(self.venv, attr_name, value)

    def _per_env_method(self, name: str) -> Callable[..., list[Any]] | None:
        """``(rows, *args, **kwargs) -> one result per row`` of a per-sub-env method, or None."""
        if name == "render":
            return self._render_rows
        if name == "get_wrapper_attr":
            return lambda rows, attr: self.get_attr(attr, rows)
        return None

    def _render_rows(self, rows: list[int]) -> list[Any]:
        frames = self.venv.render() or [None] * self.num_envs
        return [frames[i] for i in rows]

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        """Call a per-sub-env method: ``action_masks`` (seq env), ``render``, ``get_wrapper_attr``.

        :raises AttributeError: another name (the native env batches its methods; reach it as
            ``.venv``).
        """
        method = self._per_env_method(method_name)
        if method is None:
            raise AttributeError(f"{type(self).__name__}.env_method: {method_name!r} is no "
                                 f"per-sub-env method of the adapter (it has action_masks for "
                                 f"{SEQ_ENV_ID}, render, get_wrapper_attr); the native vector "
                                 f"env is .venv")
        return method(self._indices(indices), *method_args, **method_kwargs)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper],
                       indices: VecEnvIndices = None) -> list[bool]:
        """Whether the adapter applies ``wrapper_class``'s effect: Monitor, and its own wrappers."""
        hit = any(issubclass(w, wrapper_class) for w in self._wrappers)
        return [hit for _ in self._indices(indices)]

    # ------------------------------------------------------------------- each env's own part

    def _reset(self, seeds: list[int] | None, options: list[dict[str, Any]]
               ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
        """Reset the native env; the observations and each sub-env's reset info."""
        raise NotImplementedError

    def _step(self, actions: np.ndarray) -> _StepOut:
        """One native step, as :data:`_StepOut` lays it out."""
        raise NotImplementedError


class SeqNativeVecEnv(NativeVecEnv):
    """``FrameSelectionSeq-v0``'s native vector env as an SB3 ``VecEnv``.

    :param venv: ``gym.make_vec("FrameSelectionSeq-v0", num_envs=N)`` (``SAME_STEP``, the
        default autoreset mode; each sub-env has its own generator, so it equals the single env
        seeded the same way).
    :param budget_end_is_terminal: report a budget end (the env's truncation) as an end,
        ``TimeLimit.truncated`` false, as :class:`BudgetEndIsTerminal` does for single envs.
    :raises ValueError: a native env of another autoreset mode.
    """

    def __init__(self, venv: Any, budget_end_is_terminal: bool = True) -> None:
        if venv.metadata.get("autoreset_mode") != gym.vector.AutoresetMode.SAME_STEP:
            raise ValueError(f"SeqNativeVecEnv needs the native env's SAME_STEP autoreset mode, "
                             f"got {venv.metadata.get('autoreset_mode')}")
        self.budget_end_is_terminal = bool(budget_end_is_terminal)
        super().__init__(venv, venv.single_observation_space, venv.single_action_space,
                         (BudgetEndIsTerminal,) if budget_end_is_terminal else ())

    def _reset(self, seeds: list[int] | None, options: list[dict[str, Any]]
               ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
        budgets = None
        if any(options):
            unknown = sorted({k for o in options for k in o} - {"max_frames"})
            if unknown:
                raise ValueError(f"SeqNativeVecEnv.reset: options {unknown} are not supported "
                                 f"(only max_frames; reach the native env as .venv)")
            default = self.venv.core.max_frames
            budgets = np.array([o.get("max_frames", default) for o in options])
        obs, info = self.venv.reset(seed=seeds, options=None if budgets is None
                                    else {"max_frames": budgets})
        return obs, _rows(info, self.num_envs)

    def _per_env_method(self, name: str) -> Callable[..., list[Any]] | None:
        if name == "action_masks":
            return lambda rows: list(self.venv.action_masks()[rows])
        return super()._per_env_method(name)

    def _step(self, actions: np.ndarray) -> _StepOut:
        obs, reward, terminated, truncated, info = self.venv.step(actions)
        dones = terminated | truncated
        time_limit = (np.zeros_like(dones) if self.budget_end_is_terminal
                      else truncated & ~terminated)
        n = self.num_envs
        if "final_info" in info:  # something ended: the step's info is the ended episodes'
            step_info, final_obs = info["final_info"], info["final_obs"]
            restarted = {k: v for k, v in info.items() if not k.startswith(("final", "_final"))}
            reset_infos = _rows(restarted, n)
        else:
            step_info, final_obs, reset_infos = info, None, []
        return (obs, reward.astype(np.float32), dones, time_limit, _rows(step_info, n),
                final_obs, reset_infos)


class OneStepNativeVecEnv(NativeVecEnv):
    """``FrameSelection-v0``'s native vector env as an SB3 ``VecEnv`` (every episode one step).

    Each sub-env draws its video (and view, and top-m's ``m``) from its own generator, in the
    single env's order, and the native env gathers and scores the N chosen videos at once.

    :param venv: ``gym.make_vec("FrameSelection-v0", num_envs=N, autoreset_mode="disabled")``.
    :param top_m: ``None``: ``MultiBinary(T)`` actions as the env takes them; an int or a
        sequence of ints: ``Box(-1, 1, (T,))`` per-frame scores of which the top-m are kept, m
        drawn per episode from a sequence (:class:`TopMScoresWrapper`'s rule, for SAC / TD3).
    :raises ValueError: a native env of another autoreset mode, or a bad ``top_m``.
    """

    def __init__(self, venv: Any, top_m: int | Sequence[int] | None = None) -> None:
        if venv.metadata.get("autoreset_mode") != gym.vector.AutoresetMode.DISABLED:
            raise ValueError(f"OneStepNativeVecEnv needs the native env's DISABLED autoreset "
                             f"mode (it picks every batch), got "
                             f"{venv.metadata.get('autoreset_mode')}")
        self.source = venv.source
        n, t = int(venv.num_envs), int(venv.num_frames)
        action_space: spaces.Space = venv.single_action_space
        self.m_choices: list[int] | None = None
        if top_m is not None:
            # the wrapper checks m and gives the scores' action space: build it on one sub-env
            probe = TopMScoresWrapper(_SpacesOnly(venv.single_observation_space,
                                                  venv.single_action_space), top_m)
            self.m_choices, action_space = probe.m_choices, probe.action_space
        self.m = np.full(n, self.m_choices[0] if self.m_choices else t, np.int64)
        self._rngs: list[np.random.Generator] = []
        super().__init__(venv, venv.single_observation_space, action_space,
                         (TopMScoresWrapper,) if top_m is not None else ())

    def _draw(self) -> dict[str, np.ndarray]:
        """Each sub-env's next video, view and m, drawn as the single env (and wrapper) draw."""
        idx = np.empty(self.num_envs, np.int64)
        views = np.empty(self.num_envs, np.int64)
        random_view = self.source.view == "random"
        num_videos, num_views = self.source.num_videos, self.source.num_views
        choices = self.m_choices or []
        draw_m = len(choices) > 1
        # Scalar draws give the values of the single env's calls (source.draw_views(rng, 1),
        # the wrapper's rng.choice(choices)) from the same bits at a quarter of their cost; the
        # tests check the adapter against DummyVecEnv step for step.
        for i, rng in enumerate(self._rngs):
            idx[i] = rng.integers(num_videos)
            if random_view:
                views[i] = rng.integers(num_views)
            if draw_m:
                self.m[i] = choices[int(rng.integers(len(choices)))]
        options = {"indices": idx}
        if random_view:
            options["views"] = views
        return options

    def _start(self) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
        obs, info = self.venv.reset(options=self._draw())
        if self.m_choices is not None:
            info = {**info, "m": self.m.copy()}
        return obs, _rows(info, self.num_envs)

    def _reset(self, seeds: list[int] | None, options: list[dict[str, Any]]
               ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
        if any(options):
            raise ValueError("OneStepNativeVecEnv.reset: reset options are not supported "
                             "(reach the native env as .venv)")
        if seeds is not None:
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        elif not self._rngs:
            self._rngs = [seeding.np_random(None)[0] for _ in range(self.num_envs)]
        return self._start()

    def _per_env_attr(self, name: str) -> Callable[[int], Any] | None:
        if name == "m" and self.m_choices is not None:
            return lambda i: int(self.m[i])
        if name == "np_random":
            return lambda i: self._rngs[i]
        return super()._per_env_attr(name)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set ``m`` per sub-env (top-m, until its next draw), else as :class:`NativeVecEnv`."""
        if attr_name == "m" and self.m_choices is not None:
            self.m[self._indices(indices)] = int(value)
            return
        super().set_attr(attr_name, value, indices)

    def _keep(self, actions: np.ndarray) -> np.ndarray:
        """The keep masks: the actions, or the top-m of the scores (rows grouped by their m)."""
        if self.m_choices is None:
            return actions
        scores = np.asarray(actions, np.float32).reshape(self.num_envs, -1)
        keep = np.zeros(scores.shape, bool)
        for m in np.unique(self.m):
            rows = self.m == m
            keep[rows] = topm_mask(scores[rows], int(m))
        return keep

    def _step(self, actions: np.ndarray) -> _StepOut:
        acted_on, reward, terminated, truncated, ended = self.venv.step(self._keep(actions))
        n = self.num_envs
        final_obs = _rows(acted_on, n)
        step_infos = _rows(ended, n)
        obs, reset_infos = self._start()
        return (obs, reward.astype(np.float32), terminated | truncated, truncated & ~terminated,
                step_infos, final_obs, reset_infos)


class _SpacesOnly(gym.Env):
    """An env of given spaces, for building a wrapper only to read its checks and spaces."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        self.observation_space, self.action_space = observation_space, action_space


def make_native_vec_env(env_id: str, n_envs: int, seed: int | None = None,
                        env_kwargs: dict[str, Any] | None = None,
                        top_m: int | Sequence[int] | None = None,
                        budget_end_is_terminal: bool = True) -> NativeVecEnv:
    """The adapter over ``gym.make_vec(env_id, num_envs=n_envs, **env_kwargs)``, seeded.

    As ``make_vec_env`` does, ``render_mode`` defaults to ``"rgb_array"`` and ``seed`` is given
    to :meth:`~NativeVecEnv.seed` (sub-env i gets ``seed + i`` at the first reset).

    :param env_id: ``FrameSelection-v0`` or ``FrameSelectionSeq-v0``.
    :param n_envs: N.
    :param seed: the first sub-env's seed; ``None``: drawn at random.
    :param env_kwargs: the env's options.
    :param top_m: ``FrameSelection-v0`` only: per-frame scores -> top-m (SAC, TD3).
    :param budget_end_is_terminal: ``FrameSelectionSeq-v0`` only: see :class:`SeqNativeVecEnv`.
    :raises ValueError: an unknown env id, or ``top_m`` for the seq env.
    """
    kwargs = {"render_mode": "rgb_array", **(env_kwargs or {})}
    adapter: NativeVecEnv
    if env_id == SEQ_ENV_ID:
        if top_m is not None:
            raise ValueError(f"top_m applies to {ENV_ID}'s MultiBinary actions, not {SEQ_ENV_ID}")
        venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point",
                            **kwargs)
        adapter = SeqNativeVecEnv(venv, budget_end_is_terminal)
    elif env_id == ENV_ID:
        venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point",
                            autoreset_mode="disabled", **kwargs)
        adapter = OneStepNativeVecEnv(venv, top_m)
    else:
        raise ValueError(f"no native vector env adapter for {env_id!r}; choose {ENV_ID} or "
                         f"{SEQ_ENV_ID}")
    adapter.seed(seed)
    return adapter
