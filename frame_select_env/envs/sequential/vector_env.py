"""The native vector version of ``FrameSelectionSeq-v0``: N sequential episodes per step."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode

from frame_select_env.envs.checks import check_reset_rows
from frame_select_env.envs.render import render_ansi, render_rgb
from frame_select_env.envs.sequential.core import SeqCore, SeqOptions
from frame_select_env.envs.sequential.env import paid_view
from frame_select_env.envs.vector import OptionsVectorEnv, vector_signature


@vector_signature
class FrameSelectionSeqVectorEnv(OptionsVectorEnv):
    """``num_envs`` episodes of :class:`~.sequential.env.FrameSelectionSeqEnv` at once.

    Same arguments, spaces, reward and info (as arrays of N rows; ``paid_order`` is (N, T),
    -1 after the paid frames) as the single env. Each sub-env has its own generator, seeded
    ``seed + i`` by ``reset(seed=seed)`` (or from a list of seeds), and draws its videos as a
    single env does, so sub-env i equals a single env reset with seed ``seed + i`` step for step.

    Episodes end at different steps; ``autoreset_mode`` (``SAME_STEP`` default, ``NEXT_STEP``,
    ``DISABLED``) says how ended sub-envs restart, as in Gymnasium: ``SAME_STEP`` returns the new
    episode's observation with the ended one in ``info["final_obs"]`` (an object array, ``None``
    where nothing ended) and ``info["final_info"]`` (masks ``_final_obs``/``_final_info``);
    ``NEXT_STEP`` resets them on the next step (reward 0, their actions ignored); ``DISABLED``
    needs ``reset(options={"reset_mask": mask})`` before they step again.
    """

    options_cls = SeqOptions
    options: SeqOptions

    def _open(self) -> None:
        """The env's :class:`SeqCore`, T and spaces; no episodes yet."""
        self.core = SeqCore(self.options)
        self.num_frames = self.core.num_frames
        self.single_observation_space, self.single_action_space = self.core.spaces()
        self._rngs: list[np.random.Generator] | None = None
        self._state: Any = None
        self._ended = np.zeros(self.num_envs, bool)  # NEXT_STEP / DISABLED: awaiting reset
        self._rewards: np.ndarray | None = None

    def _given(self, idx: Any, views: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Checked ``indices``/``views`` reset options (both needed with ``view="random"``)."""
        random_view = self.core.cheap.view == "random"
        if idx is None:
            raise ValueError("reset: options['views'] needs options['indices'] too")
        if views is not None and not random_view:
            raise ValueError(f"reset: options['views'] needs view='random', not "
                             f"{self.core.cheap.view!r}")
        if views is None and random_view:
            raise ValueError("reset: with view='random', options['indices'] needs "
                             "options['views'] too")
        idx = check_reset_rows(idx, "indices", self.num_envs, self.core.num_videos)
        if views is not None:
            views = check_reset_rows(views, "views", self.num_envs, self.core.num_views)
        return idx, views

    def _draw(self, rows: np.ndarray,
              given: tuple[np.ndarray, np.ndarray | None] | None = None) -> Any:
        """New episodes for ``rows``: drawn by each sub-env's generator, or the given videos."""
        if given is not None:
            idx, views = given
            return self.core.start(idx[rows], None if views is None else views[rows])
        assert self._rngs is not None
        drawn = [self.core.draw(self._rngs[i]) for i in rows]
        idx = np.array([d[0] for d in drawn], np.int64)
        views = None if drawn[0][1] is None else np.array([d[1] for d in drawn], np.int64)
        return self.core.start(idx, views)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start new episodes in every sub-env, or in those of ``options["reset_mask"]``.

        :param seed: an int (sub-env i gets ``seed + i``) or one seed per sub-env.
        :param options: ``{"reset_mask": (N,) bool}`` to reset only some sub-envs;
            ``{"indices": (N,) split positions, "views": (N,)}`` to pick the videos (and, with
            ``view="random"``, the views) instead of drawing them, as in ``FrameSelection-v0``'s
            vector env (with a mask, only the masked rows' entries are used);
            ``{"max_frames": int or (N,) ints}`` gives the reset episodes their own budgets
            (autoresets go back to the env's ``max_frames``).
        :raises ValueError: a seed list of the wrong length, an unknown option, or indices or
            views of the wrong shape or range.
        """
        if seed is not None:
            seeds = seed if isinstance(seed, list) else [int(seed) + i
                                                         for i in range(self.num_envs)]
            if len(seeds) != self.num_envs:
                raise ValueError(f"reset: {len(seeds)} seeds for {self.num_envs} sub-envs")
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
            super().reset(seed=seeds[0])
        elif self._rngs is None:
            self._rngs = [seeding.np_random(None)[0] for _ in range(self.num_envs)]
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        idx, views = options.pop("indices", None), options.pop("views", None)
        budgets = options.pop("max_frames", None)
        if options:
            raise ValueError(f"reset: unknown options {sorted(options)}; use 'reset_mask', "
                             f"'indices', 'views', 'max_frames'")
        if budgets is not None:
            budgets = self.core.check_max_frames(budgets, self.num_envs,
                                                 "reset: options['max_frames']")
        given = None
        if idx is not None or views is not None:
            given = self._given(idx, views)
        if mask is None or self._state is None:
            rows = np.arange(self.num_envs)
            self._state = self._draw(rows, given)
        else:
            mask = np.asarray(mask, bool)
            if mask.shape != (self.num_envs,):
                raise ValueError(f"reset: options['reset_mask'] must have shape "
                                 f"({self.num_envs},), got {mask.shape}")
            rows = np.flatnonzero(mask)
            if len(rows):
                self.core.replace_rows(self._state, rows, self._draw(rows, given))
        if budgets is not None:
            self._state.max_frames[rows] = budgets[rows]
        self._ended[rows] = False
        self._rewards = None
        return self.core.observe(self._state), self.core.info(self._state)

    def action_masks(self) -> np.ndarray:
        """(N, T + 1) bool: each sub-env's unpaid frames, and stop."""
        if self._state is None:
            raise RuntimeError("FrameSelectionSeqVectorEnv.action_masks called before reset")
        return self.core.action_masks(self._state)

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One action per sub-env (T = stop); ended sub-envs restart by the autoreset mode.

        :raises RuntimeError: before :meth:`reset`; with autoreset disabled, stepping an ended
            sub-env before resetting it.
        """
        if self._state is None:
            raise RuntimeError("FrameSelectionSeqVectorEnv.step called before reset")
        mode = self.metadata["autoreset_mode"]
        act = self.core.check_actions(actions, self.num_envs)
        waiting = self._ended.copy()
        if waiting.any() and mode == AutoresetMode.DISABLED:
            raise RuntimeError(f"FrameSelectionSeqVectorEnv.step: sub-envs "
                               f"{np.flatnonzero(waiting).tolist()} ended; with autoreset "
                               f"disabled, reset(options={{'reset_mask': ...}}) them first")
        # A stop changes no state: the NEXT_STEP rows being reset take it, then restart.
        act = np.where(waiting, self.num_frames, act)
        reward, terminated, truncated, details = self.core.step(self._state, act)
        info: dict[str, Any] = self.core.info(self._state)
        info["cost"] = details["cost"]
        ended = terminated | truncated
        if waiting.any():  # NEXT_STEP: these rows start their new episode now
            rows = np.flatnonzero(waiting)
            self.core.replace_rows(self._state, rows, self._draw(rows))
            reward[rows], terminated[rows], truncated[rows], ended[rows] = 0.0, False, False, False
            fresh = self.core.info(self._state)
            for k in info:
                if k in fresh:
                    info[k][rows] = fresh[k][rows]
            info["cost"][rows] = 0.0
        self._rewards = reward
        obs = self.core.observe(self._state)
        if mode == AutoresetMode.SAME_STEP and ended.any():
            rows = np.flatnonzero(ended)
            final_obs = np.empty(self.num_envs, dtype=object)
            for i in rows:
                final_obs[i] = {k: v[i] for k, v in obs.items()}
            self.core.replace_rows(self._state, rows, self._draw(rows))
            final_info = info
            obs = self.core.observe(self._state)
            info = {**self.core.info(self._state), "final_obs": final_obs, "_final_obs": ended,
                    "final_info": final_info, "_final_info": ended.copy()}
        else:
            self._ended = ended
        return obs, reward, terminated, truncated, info

    def render(self) -> tuple[Any, ...] | None:
        """One picture (or text) per sub-env: its paid frames, in order in the title."""
        if self.render_mode is None or self._state is None:
            return None
        draw = render_rgb if self.render_mode == "rgb_array" else render_ansi
        return tuple(draw(paid_view(self.core, self._state, i, None if self._rewards is None
                                    else float(self._rewards[i])))
                     for i in range(self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        """Close the store files (idempotent)."""
        core = getattr(self, "core", None)
        if core is not None:
            core.close()

