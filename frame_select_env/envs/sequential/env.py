"""``FrameSelectionSeq-v0``: pay for the expensive stream frame by frame, see it, stop."""

from __future__ import annotations

import inspect
import os
from typing import Any, cast

import gymnasium as gym
import numpy as np

from frame_select_env.envs.checks import check_index
from frame_select_env.envs.render import RENDER_MODES, episode_view, render_ansi, render_rgb
from frame_select_env.envs.sequential.core import SeqCore, SeqOptions
from frame_select_env.envs.sources import options_doc, options_signature


def paid_view(core: SeqCore, state: Any, row: int, reward: float | None) -> Any:
    """The picture's content for one episode: cheap per-frame probabilities, paid frames in order.

    p0 in the picture is the cheap-only prediction, p1 the current one.
    """
    order = [int(i) for i in state.order[row] if i >= 0]
    title = f"{core.cheap.video_ids[state.idx[row]]} paid: {' '.join(map(str, order)) or '-'}"
    label = int(state.labels[row])
    last = None
    if reward is not None:
        last = {"action": state.paid[row], "p1": float(state.prediction[row, label]),
                "pred_after": int(state.prediction[row].argmax()), "reward": reward}
    return episode_view(state.cheap["predictions"][row], label, title,
                        core.cheap.store.class_names, last)


class FrameSelectionSeqEnv(gym.Env):
    """Sequential, budgeted frame selection: the cheap stream everywhere, the expensive on demand.

    ## Description

    At reset the cheap stream (``observe``, default ``rgb``) is paid for on all T frames. Each
    step pays the expensive stream (``pay``, default ``flow``) for one frame, whose features and
    probabilities then appear in the observation, or stops. The prediction is both streams
    fused (probabilities averaged) over the paid frames; before any is paid, the cheap stream's
    mean over all T frames.

    ## Action Space

    ``Discrete(T + 1)``: ``i < T`` pays for frame i, ``T`` stops. Paying again for a paid frame
    is a charged no-op; :meth:`action_masks` hides paid frames (sb3-contrib's MaskablePPO).

    ## Observation Space

    ``Dict``: ``cheap_features`` (T, Dc), ``cheap_predictions`` (T, C), ``expensive_features``
    (T, De) and ``expensive_predictions`` (T, C), zero where unpaid (``state`` keeps features or
    predictions only, as in v0), ``paid`` (T,) 0/1, ``prediction`` (C,) the current prediction,
    ``budget`` (1,) the fraction of the budget left.

    ## Rewards

    Every pay step costs ``cost_weight`` x the frame's cost (GMACs, or seconds with
    ``cost_unit="seconds"``); a stop costs nothing. ``reward`` says what is paid besides:

    * ``"eq4"`` (the default, the paper's rule per step): on a pay step, Eq. 4's rule between the
      prediction before and after it
      (:func:`frame_select_env.core.reward.prediction_change_reward`: ``+omega`` wrong to right,
      ``-omega`` right to wrong, else the sign of the true-class probability's change); 0 on
      stop. The sign term makes every frame that lowers the true class cost a full point.
    * ``"delta"``: the change of the true-class probability of the prediction, after minus
      before; an episode sums to the final minus the cheap-only true-class probability.
      ``omega`` does not apply.
    * ``"terminal"``: 0 until the episode ends (stop, or the pay step that truncates it), then
      Eq. 4's rule between the cheap-only prediction and the final one, once.

    The agents of this package are trained on the default, ``eq4``: the sequential AS agent
    (its config has no reward option) and the shipped SB3 YAMLs (``ppo.yml``,
    ``maskable_ppo.yml``, ``recurrent_ppo.yml`` set none). The tuned YAMLs say theirs: the
    searches chose ``terminal`` for PPO and MaskablePPO (``ppo_tuned.yml``,
    ``maskable_ppo_tuned.yml``) and ``eq4`` for RecurrentPPO (``recurrent_ppo_tuned.yml``).

    ## Episode End

    Terminated on stop. Truncated after a pay step when ``max_frames`` pay actions are used
    (the env's, or the episode's own from ``reset(options={"max_frames": b})``),
    when the next frame would exceed ``budget_gmacs``, or when every frame is paid.

    ## Info

    ``video_id``, ``label``, ``index``, ``view``, ``paid_frames`` (in order), ``num_paid``,
    ``steps``, ``macs`` and ``seconds`` spent (cheap pass included), ``prediction``,
    ``correct``, ``cheap_prediction``, ``cheap_correct``; ``step`` adds ``cost``.

    ## Arguments

    {arguments}

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 1}

    def __init__(self, store: str | os.PathLike | None = None, **options: Any) -> None:
        opts = cast(SeqOptions, SeqOptions.from_kwargs(type(self).__name__,
                                                   {"store": store, **options}))
        self.options = opts
        self.core = SeqCore(opts)
        self.num_frames = self.core.num_frames
        self.observation_space, self.action_space = self.core.spaces()
        self.render_mode = opts.render_mode
        self._state: Any = None
        self._ended = False
        self._reward: float | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode on a drawn video, or ``options={"index": i}`` (and ``"view"``).

        :param seed: seeds the env's generator.
        :param options: ``{"index": i, "view": k, "max_frames": b}`` (each optional):
            ``max_frames`` gives this episode its own budget of pay actions (one agent, several
            budgets; ``budget`` in the observation is its fraction left).
        :raises ValueError: an unknown option or one out of range.
        """
        super().reset(seed=seed)
        idx, view = self.core.draw(self.np_random)
        options = dict(options or {})
        if "index" in options:
            idx = check_index(options.pop("index"), "options['index']")
            if not 0 <= idx < self.core.num_videos:
                raise ValueError(f"reset: index {idx} out of range [0, {self.core.num_videos})")
        if "view" in options:
            v = check_index(options.pop("view"), "options['view']")
            if view is None or not 0 <= v < self.core.num_views:
                raise ValueError(f"reset: options['view'] {v} needs view='random' and a view "
                                 f"in [0, {self.core.num_views})")
            view = v
        budget = None
        if "max_frames" in options:
            budget = self.core.check_max_frames(options.pop("max_frames"), 1,
                                                "reset: options['max_frames']")
        if options:
            raise ValueError(f"reset: unknown options {sorted(options)}; use 'index', 'view', "
                             f"'max_frames'")
        self._state = self.core.start(np.array([idx]), None if view is None else np.array([view]),
                                      budget)
        self._ended = False
        self._reward = None
        return self._obs(), self._info()

    def _obs(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.core.observe(self._state).items()}

    def _info(self) -> dict[str, Any]:
        info = {k: v[0] for k, v in self.core.info(self._state).items()}
        order = info.pop("paid_order")
        info["paid_frames"] = [int(i) for i in order if i >= 0]
        for k in ("label", "index", "view", "num_paid", "steps", "max_frames", "prediction",
                  "cheap_prediction"):
            info[k] = int(info[k])
        for k in ("macs", "seconds"):
            info[k] = float(info[k])
        info["video_id"] = str(info["video_id"])
        info["correct"], info["cheap_correct"] = bool(info["correct"]), bool(info["cheap_correct"])
        return info

    def action_masks(self) -> np.ndarray:
        """(T + 1,) bool: the frames not paid yet, and stop."""
        if self._state is None:
            raise RuntimeError("FrameSelectionSeqEnv.action_masks called before reset")
        return self.core.action_masks(self._state)[0]

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Pay for frame ``action`` or stop (``action == T``).

        :raises RuntimeError: before :meth:`reset` or after the episode ended.
        :raises ValueError: an action that is not one int in ``[0, T]``.
        """
        if self._state is None:
            raise RuntimeError("FrameSelectionSeqEnv.step called before reset")
        if self._ended:
            raise RuntimeError("FrameSelectionSeqEnv.step called after the episode ended: "
                               "call reset() first")
        act = self.core.check_actions(action, 1)
        reward, terminated, truncated, details = self.core.step(self._state, act)
        self._ended = bool(terminated[0] or truncated[0])
        self._reward = float(reward[0])
        info = self._info()
        info["cost"] = float(details["cost"][0])
        return self._obs(), float(reward[0]), bool(terminated[0]), bool(truncated[0]), info

    def render(self) -> str | np.ndarray | None:
        """The episode: cheap per-frame probabilities, paid frames (in order in the title)."""
        if self.render_mode is None or self._state is None:
            return None
        view = paid_view(self.core, self._state, 0, self._reward)
        return render_ansi(view) if self.render_mode == "ansi" else render_rgb(view)

    def close(self) -> None:
        """Close the store files (idempotent)."""
        core = getattr(self, "core", None)
        if core is not None:
            core.close()
        super().close()


FrameSelectionSeqEnv.__init__.__signature__ = options_signature(  # type: ignore[attr-defined]
    inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    inspect.Parameter("store", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
    options_cls=SeqOptions,
)
FrameSelectionSeqEnv.__doc__ = (FrameSelectionSeqEnv.__doc__ or "").replace(
    "    {arguments}", options_doc(options_cls=SeqOptions))
