"""The native vector version of ``FrameSelection-v0``: N videos per step with array operations."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from frame_select_env.env import check_actions, make_spaces, resolve_store
from frame_select_env.observations import ObservationSource
from frame_select_env.reward import DEFAULT_OMEGA, selection_reward


class FrameSelectionVectorEnv(VectorEnv):
    """``num_envs`` one-step frame-selection episodes computed together.

    Same arguments, spaces and reward as :class:`frame_select_env.env.FrameSelectionEnv`; made by
    ``gym.make_vec("FrameSelection-v0", num_envs=N)``. One ``step`` scores N videos with one call
    of the shared reward function and one batched gather of the next N observations.

    Autoreset is ``SAME_STEP``: every episode ends after one step, so ``step`` returns the *next*
    videos' observations straight away (a ``NEXT_STEP`` autoreset would spend every other ``step``
    call on a reset and ignore its actions). The ended episodes are described by ``info`` (arrays
    of length N: ``video_id``, ``label``, ``index``, ``view``, ``p0``, ``p1``, ``correct_before``,
    ``correct_after``, ``num_selected``) and by ``info["final_obs"]``, the observations the actions
    were taken on. ``reset`` options: ``{"indices": N split positions}`` to evaluate given videos
    deterministically, and with ``view="random"`` ``{"views": N view indices}`` to fix the crops
    (e.g. the same view for the N episodes of one video, as REINFORCE's N samples of one state).

    ``autoreset_mode=AutoresetMode.DISABLED`` (or ``"disabled"``) is for callers that choose every
    batch themselves with ``reset(options={"indices": ...})``, like the REINFORCE trainer: ``step``
    then returns the observations the actions were taken on and gathers no next batch, and the
    next ``step`` needs a ``reset`` first.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        store: str | os.PathLike | None = None,
        split: str | None = "train",
        stream: str = "rgb",
        num_frames: int | None = None,
        omega: float = DEFAULT_OMEGA,
        state: str = "both",
        view: str | int = "random",
        render_mode: str | None = None,
        max_memory_bytes: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
    ) -> None:
        key = str(getattr(autoreset_mode, "value", autoreset_mode)).lower().replace("_", "")
        mode = next((m for m in AutoresetMode if m.value.lower() == key), None)
        if mode not in (AutoresetMode.SAME_STEP, AutoresetMode.DISABLED):
            raise ValueError(f"autoreset_mode must be 'SameStep' or 'Disabled', got "
                             f"{autoreset_mode!r}")
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if render_mode is not None:
            raise ValueError("FrameSelectionVectorEnv does not render; use the single env")
        kw = {} if max_memory_bytes is None else {"max_memory_bytes": max_memory_bytes}
        self.source = ObservationSource(
            resolve_store(store), split, stream, num_frames, state, view, **kw
        )
        src = self.source
        self.num_envs = int(num_envs)
        self.omega = float(omega)
        self.num_frames = src.num_frames
        self.single_observation_space = make_spaces(
            src.num_frames, src.feature_dim, src.num_classes, state
        )
        self.single_action_space = spaces.MultiBinary(src.num_frames)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._keys = list(self.single_observation_space.spaces)
        self._idx = np.zeros(self.num_envs, dtype=np.int64)
        self._views: np.ndarray | None = None
        self._batch: dict[str, np.ndarray] | None = None

    def _load(self, idx: np.ndarray, views: np.ndarray | None = None) -> dict[str, np.ndarray]:
        self._idx = idx
        if views is None:
            views = self.source.draw_views(self.np_random, self.num_envs)
        self._views = views
        self._batch = self.source.gather(idx, self._views)
        return {k: self._batch[k] for k in self._keys}

    def _draw(self) -> np.ndarray:
        return self.np_random.integers(0, self.source.num_videos, size=self.num_envs)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if isinstance(seed, list):
            seed = seed[0]  # one generator drives every sub-episode
        super().reset(seed=seed)
        options = dict(options or {})
        idx = options.pop("indices", None)
        views = options.pop("views", None)
        if options:
            raise ValueError(f"reset: unknown options {sorted(options)}; use 'indices', 'views'")
        if idx is None:
            idx = self._draw()
        idx = self._check_rows(idx, "indices", self.source.num_videos)
        if views is not None:
            if self.source.view != "random":
                raise ValueError(f"reset: options['views'] needs view='random', not "
                                 f"{self.source.view!r}")
            views = self._check_rows(views, "views", self.source.num_views)
        obs = self._load(idx, views)
        return obs, self._episode_info()

    def _check_rows(self, values: Any, name: str, bound: int) -> np.ndarray:
        arr = np.asarray(values, dtype=np.int64)
        if arr.shape != (self.num_envs,):
            raise ValueError(
                f"reset: options[{name!r}] must have shape ({self.num_envs},), got {arr.shape}"
            )
        if arr.min() < 0 or arr.max() >= bound:
            raise ValueError(f"reset: options[{name!r}] out of range [0, {bound})")
        return arr

    def _episode_info(self) -> dict[str, Any]:
        src = self.source
        views = self._views if self._views is not None else np.full(self.num_envs, -1)
        return {
            "video_id": src.video_ids[self._idx],
            "label": src.labels[self._idx],
            "index": self._idx.copy(),
            "view": views,
        }

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._batch is None:
            raise RuntimeError("FrameSelectionVectorEnv.step called before reset (with "
                               "autoreset disabled, call reset after every step)")
        keep = check_actions(actions, (self.num_envs, self.num_frames))
        labels = self.source.labels[self._idx]
        reward, d = selection_reward(self._batch["predictions"], keep, labels, self.omega)
        info = self._episode_info()
        info.update(
            p0=d.p0,
            p1=d.p1,
            correct_before=d.correct_before,
            correct_after=d.correct_after,
            num_selected=d.num_selected.astype(np.int64),
            final_obs={k: self._batch[k] for k in self._keys},
        )
        if self.metadata["autoreset_mode"] == AutoresetMode.DISABLED:
            obs = info["final_obs"]
            self._batch = None  # every episode has ended: the next step needs a reset
        else:
            obs = self._load(self._draw())  # SAME_STEP autoreset: the next videos, right away
        terminated = np.ones(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        return obs, reward, terminated, truncated, info
