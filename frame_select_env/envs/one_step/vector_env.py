"""The native vector version of ``FrameSelection-v0``: N videos per step with array operations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode

from frame_select_env.core.reward import selection_reward
from frame_select_env.envs.checks import check_reset_rows
from frame_select_env.envs.one_step.env import check_actions, env_source
from frame_select_env.envs.render import episode_view, render_ansi, render_rgb
from frame_select_env.envs.vector import OptionsVectorEnv, vector_signature


class FinalObs(Sequence):
    """``info["final_obs"]`` of a ``SAME_STEP`` step: the N observations the actions were taken on.

    It behaves like Gymnasium's object array of per-env observations (``final_obs[i]`` is a
    dict of that env's arrays; iteration, ``len`` and item assignment work) but builds each dict
    only when it is read: making all N dicts on every step cost as much as the step itself.
    ``final_obs.batch`` is the batched ``{key: (N, ...)}`` dict, for callers that want arrays.

    :param batch: the batched observations.
    """

    def __init__(self, batch: dict[str, np.ndarray]) -> None:
        self.batch = batch
        self._set: dict[int, Any] = {}  # entries replaced by wrappers (final_obs[i] = ...)

    def __len__(self) -> int:
        return len(next(iter(self.batch.values())))

    def __getitem__(self, i: Any) -> Any:
        if not isinstance(i, (int, np.integer)):
            return [self[j] for j in range(len(self))[i]]
        i = int(i) + (len(self) if i < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(f"final_obs index {i} out of range for {len(self)} envs")
        if i in self._set:
            return self._set[i]
        return {k: v[i] for k, v in self.batch.items()}

    def __setitem__(self, i: int, value: Any) -> None:
        self._set[int(i)] = value

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.empty(len(self), dtype=object)
        for i in range(len(self)):
            out[i] = self[i]
        return out


@vector_signature
class FrameSelectionVectorEnv(OptionsVectorEnv):
    """``num_envs`` one-step frame-selection episodes computed together.

    Same arguments, spaces and reward as
    :class:`frame_select_env.envs.one_step.env.FrameSelectionEnv`; made by
    ``gym.make_vec("FrameSelection-v0", num_envs=N)``. One ``step`` scores N videos with one call
    of the shared reward function and one batched gather of the next N observations.

    All three Gymnasium autoreset modes are supported (``autoreset_mode=``, an
    :class:`AutoresetMode` or its name); ``metadata["autoreset_mode"]`` says which one is in use,
    so Gymnasium's vector wrappers handle it. Every episode ends after one step, so:

    * ``SAME_STEP`` (default, the fastest correct one): ``step`` returns the *next* videos'
      observations straight away. As in Gymnasium, the top-level ``info`` describes the new
      episodes (``video_id``, ``label``, ``index``, ``view``), ``info["final_info"]`` the ended
      ones (arrays of length N: the same keys plus ``p0``, ``p1``, ``correct_before``,
      ``correct_after``, ``num_selected``, ``reward``) and ``info["final_obs"]`` holds the N
      observations the actions were taken on, indexable per env like Gymnasium's object array
      (:class:`FinalObs`; ``.batch`` gives the batched arrays). ``_final_obs``/``_final_info``
      are the all-true masks Gymnasium adds.
    * ``NEXT_STEP`` (Gymnasium's default convention, what ``NormalizeObservation`` and other
      stateful vector wrappers require): ``step`` returns the observations acted on and the ended
      episodes' ``info``; the following ``step`` resets every sub-env, ignores its actions and
      returns reward 0, ``terminated=False`` and the new observations. Half the steps are resets.
    * ``DISABLED``: for callers that choose every batch themselves with
      ``reset(options={"indices": ...})``, like the REINFORCE trainer. ``step`` returns the
      observations acted on and the ended episodes' ``info`` and gathers no next batch; the next
      ``step`` needs a ``reset`` first.

    ``reset`` options: ``{"indices": N split positions}`` to evaluate given videos
    deterministically, and with ``view="random"`` ``{"views": N view indices}`` to fix the crops
    (e.g. the same view for the N episodes of one video, as REINFORCE's N samples of one state).

    ``render_mode="rgb_array"`` or ``"ansi"``: ``render()`` returns a tuple of N pictures (or
    texts) of the last step's episodes (their actions, p0 and p1), or of the current videos
    before any step, as Gymnasium's vector envs return one frame per sub-env.
    """

    def _open(self) -> None:
        """The source, T and spaces of the single env (:func:`env_source`); the batch state."""
        # Online mode (videos=...): one step's N videos are classified in one batch.
        (self.source, self.num_frames, self.single_observation_space,
         self.single_action_space) = env_source(self.options)
        self.omega = self.options.omega
        self._keys = list(self.single_observation_space.spaces)
        self._idx = np.zeros(self.num_envs, dtype=np.int64)
        self._views: np.ndarray | None = None
        self._batch: dict[str, np.ndarray] | None = None
        # NEXT_STEP: the episodes ended on the last step; the next step resets them.
        self._needs_reset = False
        # What render() shows: the last step's episodes (probabilities, labels, ids, details).
        self._shown: dict[str, Any] | None = None

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
        """Start one episode per sub-env on drawn (or given) videos.

        :param seed: seeds the one generator of all sub-envs (of a list, its first entry).
        :param options: ``{"indices": (N,), "views": (N,)}`` to pick the videos and, with
            ``view="random"``, their views.
        :return: the batched observations and info (``video_id``, ``label``, ``index``,
            ``view``, one entry per sub-env).
        :raises ValueError: an unknown option, or indices or views of the wrong shape or range.
        """
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
        idx = check_reset_rows(idx, "indices", self.num_envs, self.source.num_videos)
        if views is not None:
            if self.source.view != "random":
                raise ValueError(f"reset: options['views'] needs view='random', not "
                                 f"{self.source.view!r}")
            views = check_reset_rows(views, "views", self.num_envs, self.source.num_views)
        obs = self._load(idx, views)
        self._needs_reset = False
        self._shown = None
        return obs, self._episode_info()

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
        """Score every sub-env's selection and end all episodes, autoresetting by the mode.

        :param actions: 0/1 keep flags, shape ``(num_envs, num_frames)``.
        :return: observations, rewards, terminated, truncated and info, batched per sub-env,
            as Gymnasium's ``autoreset_mode`` (next-step, same-step or disabled) lays them out.
        :raises RuntimeError: called before :meth:`reset` (or, with autoreset disabled, after
            a step without a reset).
        """
        mode = self.metadata["autoreset_mode"]
        if mode == AutoresetMode.NEXT_STEP and self._needs_reset:
            # Gymnasium's NEXT_STEP: this step only resets the ended episodes (all of them).
            self._needs_reset = False
            obs = self._load(self._draw())
            zeros = np.zeros(self.num_envs, dtype=bool)
            return obs, np.zeros(self.num_envs, np.float32), zeros, zeros.copy(), \
                self._episode_info()
        if self._batch is None:
            raise RuntimeError("FrameSelectionVectorEnv.step called before reset (with "
                               "autoreset disabled, call reset after every step)")
        keep = check_actions(actions, (self.num_envs, self.num_frames))
        labels = self.source.labels[self._idx]
        probs = self.source.reward_probs(self._batch)  # the `predict` stream(s)
        reward, d = selection_reward(probs, keep, labels, self.omega)
        ended = self._episode_info()
        ended.update(
            p0=d.p0,
            p1=d.p1,
            correct_before=d.correct_before,
            correct_after=d.correct_after,
            num_selected=d.num_selected.astype(np.int64),
            reward=reward,
        )
        macs = self.source.episode_macs(d.num_selected)
        if macs is not None:  # classifier MACs per episode, where the store records cost
            ended["macs"] = macs
        acted_on = {k: self._batch[k] for k in self._keys}
        if self.render_mode is not None:
            self._shown = {"probs": probs, "labels": labels, "ids": ended["video_id"],
                           "keep": keep, "details": d, "reward": reward}
        terminated = np.ones(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        if mode == AutoresetMode.SAME_STEP:
            obs = self._load(self._draw())  # the next videos, right away
            all_true = np.ones(self.num_envs, dtype=bool)
            info = self._episode_info()
            info.update(
                final_obs=self._per_env(acted_on),
                _final_obs=all_true,
                final_info=ended,
                _final_info=all_true.copy(),
            )
            return obs, reward, terminated, truncated, info
        if mode == AutoresetMode.NEXT_STEP:
            self._needs_reset = True
        else:
            self._batch = None  # DISABLED: every episode has ended, the next step needs a reset
        return acted_on, reward, terminated, truncated, ended

    def _per_env(self, batch: dict[str, np.ndarray]) -> FinalObs:
        """Gymnasium's ``final_obs``: N per-env observation dicts (views), made on access."""
        return FinalObs(batch)

    def close_extras(self, **kwargs: Any) -> None:
        """Shut what the env started (``VectorEnv.close`` calls this once).

        The store's HDF5 file; online, also the decode workers, after folding the cache's
        pending parts. Safe to call again.
        """
        source = getattr(self, "source", None)  # None when __init__ failed before making it
        if source is not None:
            source.close()

    def render(self) -> tuple[Any, ...] | None:
        """One picture (``rgb_array``) or text (``ansi``) per sub-env; see the class docstring."""
        if self.render_mode is None:
            return None
        names = self.source.store.class_names
        draw = render_rgb if self.render_mode == "rgb_array" else render_ansi
        if self._shown is None:  # nothing acted on yet: the current videos
            if self._batch is None:  # not reset yet
                return None
            probs, labels = self._batch["predictions"], self.source.labels[self._idx]
            ids = self.source.video_ids[self._idx]
            return tuple(
                draw(episode_view(probs[i], int(labels[i]), ids[i], names, None))
                for i in range(self.num_envs)
            )
        s, d = self._shown, self._shown["details"]
        frames = []
        for i in range(self.num_envs):
            last = {"action": s["keep"][i], "p1": d.p1[i], "pred_after": int(d.pred_after[i]),
                    "reward": s["reward"][i]}
            frames.append(draw(episode_view(s["probs"][i], int(s["labels"][i]), s["ids"][i],
                                            names, last)))
        return tuple(frames)

