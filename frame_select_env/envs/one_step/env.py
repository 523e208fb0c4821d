"""``FrameSelection-v0``: choosing which frames of a video a frozen classifier should look at."""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from frame_select_env.core.reward import selection_reward
from frame_select_env.envs.checks import check_index
from frame_select_env.envs.observations import ObservationSource
from frame_select_env.envs.render import RENDER_MODES, episode_view, render_ansi, render_rgb
from frame_select_env.envs.sources import EnvOptions, make_source, options_doc, options_signature


def make_spaces(num_frames: int, feature_dim: int, num_classes: int, state: str) -> spaces.Dict:
    """The observation space shared by the single and the vector env."""
    obs: dict[str, spaces.Space] = {}
    if state in ("both", "features"):
        obs["features"] = spaces.Box(-np.inf, np.inf, (num_frames, feature_dim), np.float32)
    if state in ("both", "predictions"):
        obs["predictions"] = spaces.Box(0.0, 1.0, (num_frames, num_classes), np.float32)
    return spaces.Dict(obs)


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor, checked without importing torch.

    Numpy-only users never pay for the import.

    :param x: anything.
    :return: ``True`` for a ``torch.Tensor``.
    """
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def check_actions(action: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Validate keep/drop actions and return them as a bool array.

    Accepted: numpy arrays, lists and torch tensors (any device, with or without
    ``requires_grad``: a policy's output can be passed straight in) whose values are all 0 or 1,
    of integer, bool or float dtype (SB3 hands out float arrays).

    :param action: the action(s).
    :param shape: the expected shape, (T,) or (N, T).
    :raises ValueError: on a wrong shape, a non-numeric dtype or a value other than 0/1.
    """
    if is_torch(action):
        # detach: a tensor that requires grad refuses .numpy(); cpu: it may live on a GPU.
        action = action.detach().cpu().numpy()
    try:
        arr = np.asarray(action)
    except (TypeError, ValueError) as err:  # ragged lists and other non-arrays
        raise ValueError(
            f"FrameSelection action must be an array of 0/1 values of shape {shape}, "
            f"got {type(action).__name__}: {err}"
        ) from None
    if arr.shape != shape:
        raise ValueError(
            f"FrameSelection action must have shape {shape} (1 = keep the frame), "
            f"got shape {arr.shape}"
        )
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"FrameSelection action must be numeric 0/1 values, got dtype {arr.dtype}")
    if arr.dtype == bool:
        return arr
    valid = (arr == 0) | (arr == 1)
    if not valid.all():
        bad = arr[~valid].ravel()[:5]
        raise ValueError(f"FrameSelection action values must be 0 or 1 (1 = keep), got {bad}")
    return arr.astype(bool)


def env_source(
    options: EnvOptions,
) -> tuple[ObservationSource, int, spaces.Dict, spaces.MultiBinary]:
    """What the single and the vector env build from their options.

    The source is made by the registry of :mod:`frame_select_env.envs.sources` (store mode, or
    online
    mode when ``videos`` is given), so this module imports no part of the online pipeline.

    :param options: the env's checked options.
    :return: ``(observation source, T, one env's observation space, one env's action space)``.
    :raises ValueError: the source's own argument checks.
    """
    src = make_source(options)
    num_frames = int(cast(int, src.num_frames))  # make_source resolved it
    obs_space = make_spaces(num_frames, src.feature_dim, src.num_classes, options.state)
    return src, num_frames, obs_space, spaces.MultiBinary(num_frames)


class FrameSelectionEnv(gym.Env):
    """Attention-aware frame selection (Dong, Zhang, Tan, AAAI 2019) as a one-step MDP.

    ## Description

    A frozen two-stream classifier (TSN) has scored T uniformly sampled frames of a video: for each
    frame t it gave a feature ``s^f_t`` and class probabilities ``s^r_t``. The agent sees all of
    them at once and decides, for every frame, whether the video-level prediction should use it.
    Keeping the informative frames and dropping misleading ones can turn a wrong prediction into a
    right one. The features and probabilities are read from an HDF5 feature store
    (:mod:`frame_select_env.store`); by default the built-in SparseActions dataset.

    ## Action Space

    ``MultiBinary(T)``: 1 keeps the frame, 0 drops it. Integer, bool or float arrays, lists and
    torch tensors (any device, ``requires_grad`` or not) of 0/1 are accepted (SB3 gives floats);
    anything else raises ``ValueError``.

    ## Observation Space

    ``Dict`` with

    | key           | space                      | meaning                                   |
    |---------------|----------------------------|-------------------------------------------|
    | `features`    | `Box(-inf, inf, (T, D))`   | per-frame features ``s^f_t``              |
    | `predictions` | `Box(0, 1, (T, C))`        | per-frame class probabilities ``s^r_t``   |

    ``state="features"`` or ``"predictions"`` keeps only that key (the paper's Table 2). With
    ``stream="fused"`` features of both streams are concatenated and probabilities averaged.

    ## Rewards

    Eq. 2-4 of the paper (:func:`frame_select_env.core.reward.selection_reward`): with p0 the mean
    of
    the probabilities over all frames, p1 the mean over the kept frames and c the true class,
    ``r0 = sgn(p1_c - p0_c)``; the reward is ``+omega`` if the top-1 prediction turns from wrong to
    right, ``-omega`` if it turns from right to wrong, and ``r0`` otherwise. Keeping nothing makes
    no prediction (p1 = 0, counted wrong).

    ## Starting State

    A video of the split, drawn uniformly with ``self.np_random``, or the one named by
    ``reset(options={"video_id": ...})`` / ``options={"index": i}``. With ``view="random"`` a view
    (crop) is drawn too.

    ## Episode End

    Every episode is one step: ``step`` returns ``terminated=True, truncated=False``. A further
    ``step`` raises ``RuntimeError`` until ``reset`` starts the next episode.

    ## Info

    ``reset``: ``video_id``, ``label``, ``index``, ``view``. ``step`` adds ``p0`` and ``p1`` (the
    true-class probabilities), ``correct_before``, ``correct_after`` and ``num_selected``.

    ## Arguments

    ```python
    import gymnasium as gym
    import frame_select_env  # registers the env
    env = gym.make("FrameSelection-v0", store=None, split="train", stream="rgb",
                   num_frames=None, omega=10.0, state="both", view="random")
    ```

    Every option, with its default (from :class:`~frame_select_env.envs.sources.EnvOptions`):

    {arguments}

    ``gym.make_vec("FrameSelection-v0", num_envs=N)`` returns the batched
    :class:`frame_select_env.envs.one_step.vector_env.FrameSelectionVectorEnv` (same arguments, plus
    ``autoreset_mode``: ``SAME_STEP`` by default, or ``DISABLED``).

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 1}

    def __init__(self, store: str | os.PathLike | None = None, **options: Any) -> None:
        # The options are declared once, in EnvOptions (defaults, checks, docs); the signature
        # help() shows is generated from it below.
        opts = EnvOptions.from_kwargs(type(self).__name__, {"store": store, **options})
        self.options = opts
        self.source, self.num_frames, self.observation_space, self.action_space = env_source(opts)
        self.omega = opts.omega
        self.state = opts.state
        self.render_mode = opts.render_mode
        self.class_names = self.source.store.class_names
        self._index = 0
        self._view: int | None = None
        self._obs: dict[str, np.ndarray] | None = None
        self._probs: np.ndarray | None = None
        self._last: dict[str, Any] | None = None
        self._reward = 0.0
        # One step per episode: after it, step refuses until reset (as OrderEnforcing would).
        self._ended = False

    def _pick_index(self, options: dict[str, Any] | None) -> int:
        src = self.source
        if not options:
            return int(self.np_random.integers(src.num_videos))
        if "video_id" in options:
            hits = np.flatnonzero(src.video_ids == options["video_id"])
            if len(hits) == 0:
                raise ValueError(
                    f"reset: video_id {options['video_id']!r} is not in split "
                    f"{src.split!r} of {str(src.store.path)!r}"
                )
            return int(hits[0])
        if "index" in options:
            index = check_index(options["index"], "options['index']")
            if not 0 <= index < src.num_videos:
                raise ValueError(f"reset: index {index} out of range [0, {src.num_videos})")
            return index
        raise ValueError(f"reset: unknown options {sorted(options)}; use 'video_id' or 'index'")

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode on one video of the split (drawn, or named by ``options``).

        :param seed: seeds the env's generator (which video and view are drawn).
        :param options: ``{"video_id": id}`` or ``{"index": i}`` to pick the video, and with
            ``view="random"`` ``{"view": k}`` to pick the view.
        :return: the observation and the episode's info (``video_id``, ``label``, ``index``,
            ``view``).
        :raises ValueError: an unknown option, or a video id or index not in the split.
        """
        super().reset(seed=seed)
        self._index = self._pick_index(options)
        views = self.source.draw_views(self.np_random, 1)
        if options and "view" in options and self.source.view == "random":
            view = check_index(options["view"], "options['view']")
            if not 0 <= view < self.source.num_views:
                raise ValueError(f"reset: options['view'] {view} out of range "
                                 f"[0, {self.source.num_views})")
            views = np.array([view])
        self._view = None if views is None else int(views[0])
        batch = self.source.gather(np.array([self._index]), views)
        self._probs = self.source.reward_probs(batch)[0]  # the `predict` stream(s)
        # gym.Env types observation_space as a Space; env_source made it a Dict
        obs_space = cast(spaces.Dict, self.observation_space)
        self._obs = {k: batch[k][0] for k in obs_space.spaces}
        self._last = None
        self._ended = False
        return self._obs, self._info()

    def _info(self) -> dict[str, Any]:
        src = self.source
        info = {
            "video_id": str(src.video_ids[self._index]),
            "label": int(src.labels[self._index]),
            "index": self._index,
            "view": self._view,
        }
        if self._last:
            info.update(self._last)
        return info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Keep the selected frames and end the episode with the selection's reward.

        :param action: a 0/1 keep flag per frame, shape ``(num_frames,)``.
        :return: the observation acted on (a copy), the reward, ``terminated=True``,
            ``truncated=False`` and the info with the selection's details (``p0``, ``p1``,
            ``num_selected``, ``action``, ...).
        :raises RuntimeError: called before :meth:`reset`, or again after the episode ended
            (every episode is one step; call :meth:`reset` first).
        """
        if self._obs is None:
            raise RuntimeError("FrameSelectionEnv.step called before reset")
        if self._ended:
            raise RuntimeError("FrameSelectionEnv.step called after the episode ended "
                               "(terminated=True): call reset() before step()")
        keep = check_actions(action, (self.num_frames,))
        reward, d = selection_reward(self._probs, keep, self.source.labels[self._index], self.omega)
        self._last = {
            "p0": float(d.p0),
            "p1": float(d.p1),
            "correct_before": bool(d.correct_before),
            "correct_after": bool(d.correct_after),
            "num_selected": int(d.num_selected),
            "pred_before": int(d.pred_before),
            "pred_after": int(d.pred_after),
            "action": keep.astype(np.int8),
        }
        macs = self.source.episode_macs(np.array([d.num_selected]))
        if macs is not None:  # classifier MACs of the episode, where the store records cost
            self._last["macs"] = float(macs[0])
        self._reward = float(reward)
        self._ended = True
        # The terminal observation is the one acted on; a copy, as callers may keep both.
        obs = {k: v.copy() for k, v in self._obs.items()}
        return obs, float(reward), True, False, self._info()

    def close(self) -> None:
        """Shut what the env started: its store's HDF5 file; online, also the decode workers.

        Online mode folds the cache's pending parts first. Idempotent.
        """
        source = getattr(self, "source", None)  # None when __init__ failed before making it
        if source is not None:
            source.close()
        super().close()

    def render(self) -> str | np.ndarray | None:
        """The current episode as text (``ansi``) or an RGB picture (``rgb_array``).

        Before ``step`` it shows the video's per-frame probabilities; after it, the last action.
        """
        if self.render_mode is None or self._obs is None or self._probs is None:
            return None  # (reset sets _obs and _probs together)
        label = int(self.source.labels[self._index])
        last = None if self._last is None else {**self._last, "reward": self._reward}
        view = episode_view(
            self._probs, label, self.source.video_ids[self._index], self.class_names, last
        )
        return render_ansi(view) if self.render_mode == "ansi" else render_rgb(view)


FrameSelectionEnv.__init__.__signature__ = options_signature(  # type: ignore[attr-defined]
    inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    inspect.Parameter("store", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
)
# help(FrameSelectionEnv) lists every option from its one declaration.
FrameSelectionEnv.__doc__ = (FrameSelectionEnv.__doc__ or "").replace(
    "    {arguments}", options_doc())
