"""The step logic of ``FrameSelectionSeq-v0``, shared by its single and its vector env.

A sequential, budgeted episode over one video: the cheap stream (``observe``, default ``rgb``)
is paid for on all T frames at reset; each step pays the expensive stream (``pay``, default the
store's other stream) for one frame, or stops. Everything here works on batches of B episodes
(:class:`SeqState`), so the single env is the vector env's B = 1 and both give the same numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from gymnasium import spaces

from frame_select_env.core.reward import prediction_change_reward
from frame_select_env.core.selection import fuse_streams
from frame_select_env.envs.observations import ObservationSource
from frame_select_env.envs.sources import EnvOptions, _opt, make_source, source_kwargs

COST_UNITS = ("macs", "seconds")
#: the pay step's reward rules (``reward=``); ``eq4``, the paper's rule per step, is the default
REWARDS = ("eq4", "delta", "terminal")


def _number(value: Any, name: str, minimum: float, allow_none: bool = False) -> Any:
    """``value`` as a finite float >= ``minimum`` (or ``None`` where allowed); else ValueError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(float(value)) or float(value) < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return float(value)


@dataclass
class SeqOptions(EnvOptions):
    """The options of ``FrameSelectionSeq-v0``: those of ``FrameSelection-v0`` and the budget.

    ``observe`` names the cheap stream (default ``stream``, i.e. ``rgb``); ``predict`` does not
    apply (the prediction is always the fusion of both streams over the paid frames).
    """

    pay: str | None = _opt(None, "the expensive stream paid frame by frame; ``None`` = the "
                           "store's one stream other than the cheap one (``flow``).")
    cost_weight: float = _opt(0.0, "reward per step minus ``cost_weight`` x the paid frame's "
                              "cost (GMACs, or seconds with ``cost_unit=\"seconds\"``).")
    cost_unit: str = _opt("macs", "``macs`` (the reward's cost in GMACs) or ``seconds``.")
    max_frames: int | None = _opt(None, "the most pay actions per episode (repeats count); "
                                  "``None`` = T.")
    budget_gmacs: float | None = _opt(
        None, "the most GMACs per video, the cheap pass included; ``None`` = no limit.")
    reward: str = _opt("eq4", "``eq4`` (Eq. 4's rule between the predictions before and after "
                       "each pay step), ``delta`` (the change of the true-class probability, "
                       "summing to final minus initial) or ``terminal`` (Eq. 4 between the "
                       "cheap-only and the final prediction, paid at the end); each minus the "
                       "cost term.")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.predict is not None:
            raise ValueError("FrameSelectionSeq-v0: predict does not apply (the prediction "
                             f"fuses both streams over the paid frames), got {self.predict!r}")
        self.cost_weight = _number(self.cost_weight, "cost_weight", 0.0)
        if self.cost_unit not in COST_UNITS:
            raise ValueError(f"cost_unit must be one of {COST_UNITS}, got {self.cost_unit!r}")
        if self.max_frames is not None and (isinstance(self.max_frames, bool) or not isinstance(
                self.max_frames, (int, np.integer)) or self.max_frames < 1):
            raise ValueError(f"max_frames must be an int >= 1 or None, got {self.max_frames!r}")
        self.budget_gmacs = _number(self.budget_gmacs, "budget_gmacs", 0.0, allow_none=True)
        if self.reward not in REWARDS:
            raise ValueError(f"FrameSelectionSeq-v0: reward must be one of {REWARDS}, got "
                             f"{self.reward!r}")


@dataclass
class SeqState:
    """B episodes in progress (arrays of B rows; the vector env's sub-envs, or one).

    :param idx: (B,) split positions of the videos.
    :param views: (B,) views, or ``None`` when the view is fixed.
    :param labels: (B,) true classes.
    :param cheap: the cheap stream's ``{"features", "predictions"}`` (B, T, ...).
    :param expensive: the expensive stream's, likewise (shown only where paid).
    :param paid: (B, T) bool, frames paid for.
    :param order: (B, T) paid frame indices in the order paid, -1 after the last.
    :param steps: (B,) pay actions taken (repeats included).
    :param max_frames: (B,) each episode's budget of pay actions (the env's ``max_frames``
        unless a reset gave the episode its own).
    :param macs: (B,) MACs spent (the cheap pass included).
    :param seconds: (B,) seconds spent, likewise (NaN without measured seconds).
    :param prediction: (B, C) the current prediction.
    """

    idx: np.ndarray
    views: np.ndarray | None
    labels: np.ndarray
    cheap: dict[str, np.ndarray]
    expensive: dict[str, np.ndarray]
    paid: np.ndarray
    order: np.ndarray
    steps: np.ndarray
    max_frames: np.ndarray
    macs: np.ndarray
    seconds: np.ndarray
    prediction: np.ndarray


class SeqCore:
    """Both streams' sources, the per-frame costs, and the batched reset/step/observation.

    :param options: the env's checked options.
    :raises ValueError: an unknown or missing expensive stream, views that differ between the
        streams, a cost weight or budget on a store that records no cost, or a budget below
        the cheap pass plus one frame.
    """

    def __init__(self, options: SeqOptions) -> None:
        self.options = options
        cheap_name = options.observe or options.stream
        base = dataclasses.replace(options, stream=cheap_name, observe=None)
        self.cheap: ObservationSource = make_source(base)
        store = self.cheap.store
        if options.pay is not None:
            pay = options.pay
        else:
            others = [s for s in store.streams if s not in self.cheap.streams]
            if len(others) > 1 and cheap_name in store.observe_only:
                pay = "fused"  # observing a preview: paying a frame = all its fused streams
            elif len(others) != 1:
                raise ValueError(f"FrameSelectionSeq-v0: pay=None needs exactly one stream "
                                 f"besides {cheap_name!r} in {str(store.path)!r}, which has "
                                 f"{store.streams}; pass pay=")
            else:
                pay = others[0]
        if set(self.cheap._resolve_streams(store, pay, "pay")) & set(self.cheap.streams):
            raise ValueError(f"pay {pay!r} overlaps the cheap stream {cheap_name!r}")
        # The expensive stream reads the cheap source's own store: in online mode that store
        # computes every stream of a video at once, so each video is decoded and classified once.
        kw = source_kwargs(dataclasses.replace(base, stream=pay))
        kw.update(split=self.cheap.split, num_frames=self.cheap.num_frames,
                  max_memory_bytes=self.cheap.max_memory_bytes)
        self.expensive: ObservationSource = type(self.cheap)(store, **kw)
        self.cheap_name, self.pay_name = cheap_name, pay
        # an observe-only cheap stream (a preview) is not part of the prediction once paid
        self.cheap_in_prediction = cheap_name not in store.observe_only
        if options.view != "mean" and self.cheap.num_views != self.expensive.num_views \
                and self.cheap.num_views > 1:  # a one-view preview serves every view
            raise ValueError(f"streams {cheap_name!r} and {pay!r} have {self.cheap.num_views} "
                             f"and {self.expensive.num_views} views; use view='mean'")
        self.num_frames = int(cast(int, self.cheap.num_frames))
        self.num_classes = self.cheap.num_classes
        self.num_videos = self.cheap.num_videos
        self.omega = options.omega
        self.cost_weight = options.cost_weight
        self.reward = options.reward
        self.max_frames = options.max_frames or self.num_frames
        self._set_costs(options)

    def _set_costs(self, options: SeqOptions) -> None:
        """Per-frame MACs and seconds of each stream from the store's cost dict."""
        from frame_select_env.store.cost_record import store_cost

        cost = store_cost(self.cheap.store)
        nan = float("nan")
        self.cheap_macs = self.pay_macs = self.cheap_seconds = self.pay_seconds = nan
        if cost is not None:
            self.cheap_macs, self.cheap_seconds = self._frame_cost(cost, self.cheap)
            self.pay_macs, self.pay_seconds = self._frame_cost(cost, self.expensive)
        unit = self.pay_macs / 1e9 if options.cost_unit == "macs" else self.pay_seconds
        if np.isnan(unit) and (options.cost_weight > 0 or options.budget_gmacs is not None):
            raise ValueError(f"cost_weight/budget_gmacs need the {options.cost_unit} the store "
                             f"records, and {str(self.cheap.store.path)!r} records none")
        self.step_cost = 0.0 if np.isnan(unit) else float(unit)  # in the reward's unit
        self.start_macs = self.num_frames * self.cheap_macs
        self.budget_macs = None if options.budget_gmacs is None else options.budget_gmacs * 1e9
        if self.budget_macs is not None and self.budget_macs < self.start_macs + self.pay_macs:
            raise ValueError(
                f"budget_gmacs={options.budget_gmacs} is below the cheap pass plus one frame "
                f"({(self.start_macs + self.pay_macs) / 1e9:.6g} GMACs)")

    @staticmethod
    def _frame_cost(cost: dict[str, Any], src: ObservationSource) -> tuple[float, float]:
        """MACs and seconds of one frame of ``src``'s stream(s), the crops it computes.

        Seconds are the CNN's per crop plus, for a flow stream (``in_channels`` = 2 x the flow
        length), its flow pairs and decoded frames; frames shared by overlapping windows are
        counted once per paid frame (an upper bound, unlike the evaluation's exact count).
        """
        macs = seconds = 0.0
        secs = cost.get("seconds") or {}
        length = int(cost.get("flow_length", 0))
        for s in src.streams:
            spec = cost["streams"][s]
            crops = src.crops(s)  # every crop with view="mean"; a preview has one
            macs += crops * float(spec["macs_per_crop"])
            if "seconds_per_crop" not in spec or not secs:
                seconds = float("nan")
                continue
            seconds += crops * float(spec["seconds_per_crop"])
            retrieve = float(secs["decode"]["retrieve_seconds_per_frame"])
            if int(spec.get("in_channels", 3)) == 2 * length and length:
                pair = float(secs["flow_seconds_per_pair"][secs["size_key"]][cost["flow_method"]])
                seconds += length * pair + (length + 1) * retrieve
            else:
                seconds += retrieve
        return macs, seconds

    @property
    def num_views(self) -> int:
        """Views an episode may be drawn at: the paid streams' (a one-view preview serves all)."""
        return max(self.cheap.num_views, self.expensive.num_views)

    # ------------------------------------------------------------------------------- spaces

    def spaces(self) -> tuple[spaces.Dict, spaces.Discrete]:
        """One episode's observation and action space."""
        t, c = self.num_frames, self.num_classes
        state = self.options.state
        obs: dict[str, spaces.Space] = {}
        for name, src in (("cheap", self.cheap), ("expensive", self.expensive)):
            if state in ("both", "features"):
                obs[f"{name}_features"] = spaces.Box(-np.inf, np.inf, (t, src.feature_dim),
                                                     np.float32)
            if state in ("both", "predictions"):
                obs[f"{name}_predictions"] = spaces.Box(0.0, 1.0, (t, c), np.float32)
        obs["paid"] = spaces.Box(0.0, 1.0, (t,), np.float32)
        obs["prediction"] = spaces.Box(0.0, 1.0, (c,), np.float32)
        obs["budget"] = spaces.Box(0.0, 1.0, (1,), np.float32)
        return spaces.Dict(obs), spaces.Discrete(t + 1)

    # ------------------------------------------------------------------------- the episodes

    def draw(self, rng: np.random.Generator) -> tuple[int, int | None]:
        """A video (and, with ``view="random"``, a view) drawn as one sub-env draws it."""
        idx = int(rng.integers(self.num_videos))
        view = int(rng.integers(0, self.num_views)) if self.cheap.view == "random" else None
        return idx, view

    def check_max_frames(self, max_frames: Any, batch: int, what: str = "max_frames"
                         ) -> np.ndarray:
        """Per-episode budgets as (B,) int64 >= 1 (one int is every episode's); else ValueError.

        :param max_frames: an int or B ints.
        :param batch: B.
        :param what: the argument's name, for the error.
        """
        arr = np.asarray(max_frames)
        if arr.dtype.kind not in "iu" or arr.size not in (1, batch) or (arr.size and arr.min() < 1):
            raise ValueError(f"{what} must be an int >= 1 or {batch} of them (most pay actions "
                             f"per episode), got {max_frames!r}")
        return np.broadcast_to(arr.reshape(-1).astype(np.int64), (batch,)).copy()

    def start(self, idx: np.ndarray, views: np.ndarray | None,
              max_frames: Any = None) -> SeqState:
        """B new episodes: the cheap stream paid on all T frames, nothing else yet.

        :param idx: (B,) split positions.
        :param views: (B,) views (``view="random"``) or ``None``.
        :param max_frames: each episode's budget of pay actions (an int or (B,) ints);
            ``None`` = the env's ``max_frames``. One agent can so be trained and evaluated at
            several budgets, with ``budget`` in its observation.
        """
        idx = np.asarray(idx, np.int64)
        b, t = len(idx), self.num_frames
        budgets = (np.full(b, self.max_frames, np.int64) if max_frames is None
                   else self.check_max_frames(max_frames, b))
        cheap = self.cheap.gather(idx, views)
        expensive = self.expensive.gather(idx, views)
        state = SeqState(
            idx=idx, views=None if views is None else np.asarray(views, np.int64),
            labels=self.cheap.labels[idx].astype(np.int64),
            cheap={k: cheap[k] for k in ("features", "predictions")},
            expensive={k: expensive[k] for k in ("features", "predictions")},
            paid=np.zeros((b, t), bool), order=np.full((b, t), -1, np.int64),
            steps=np.zeros(b, np.int64), max_frames=budgets,
            macs=np.full(b, self.start_macs, np.float64),
            seconds=np.full(b, t * self.cheap_seconds, np.float64),
            prediction=np.zeros((b, self.num_classes), np.float32))
        state.prediction = self.predict(state)
        return state

    @staticmethod
    def replace_rows(state: SeqState, rows: np.ndarray, new: SeqState) -> None:
        """Put the episodes of ``new`` into ``state``'s ``rows`` (autoreset of some sub-envs)."""
        for f in dataclasses.fields(SeqState):
            old, value = getattr(state, f.name), getattr(new, f.name)
            if isinstance(old, dict):
                for k in old:
                    old[k][rows] = value[k]
            elif old is not None:
                old[rows] = value

    def predict(self, state: SeqState) -> np.ndarray:
        """The current prediction: both streams fused over the paid frames, else the cheap one.

        Observing a preview (an observe-only stream), the paid stream is ``fused`` (rgb and
        flow), and the prediction is its fusion over the paid frames alone; before any frame is
        paid it is the preview's average over all T frames.

        :return: (B, C) float32.
        """
        cheap_p, exp_p = state.cheap["predictions"], state.expensive["predictions"]
        n = state.paid.sum(-1)
        w = state.paid.astype(np.float32) / np.maximum(n, 1)[:, None]
        paid_p = {"pay": np.einsum("bt,btc->bc", w, exp_p)}
        if self.cheap_in_prediction:
            paid_p = {"cheap": np.einsum("bt,btc->bc", w, cheap_p), **paid_p}
        fused = fuse_streams(paid_p)
        return np.where((n > 0)[:, None], fused, self.cheap_only(state)).astype(np.float32)

    @staticmethod
    def cheap_only(state: SeqState) -> np.ndarray:
        """(B, C) the prediction before any frame is paid: the cheap stream over all T frames."""
        return state.cheap["predictions"].mean(1).astype(np.float32)

    def budget_left(self, state: SeqState) -> np.ndarray:
        """(B,) fraction of the budget left: the tighter of pay actions and GMACs."""
        left = 1.0 - state.steps / state.max_frames
        if self.budget_macs is not None:
            span = self.budget_macs - self.start_macs
            left = np.minimum(left, (self.budget_macs - state.macs) / span)
        return np.clip(left, 0.0, 1.0).astype(np.float32)

    def observe(self, state: SeqState) -> dict[str, np.ndarray]:
        """The batched observations (B, ...) of the observation space's keys (copies)."""
        state_kind = self.options.state
        mask = state.paid[:, :, None].astype(np.float32)
        out: dict[str, np.ndarray] = {}
        for name, arrays, m in (("cheap", state.cheap, None), ("expensive", state.expensive, mask)):
            for key in ("features", "predictions"):
                if state_kind in ("both", key):
                    v = arrays[key]
                    out[f"{name}_{key}"] = (v.copy() if m is None else v * m).astype(np.float32)
        out["paid"] = state.paid.astype(np.float32)
        out["prediction"] = state.prediction.copy()
        out["budget"] = self.budget_left(state)[:, None]
        return out

    def action_masks(self, state: SeqState) -> np.ndarray:
        """(B, T + 1) bool: the unpaid frames and stop (MaskablePPO's ``action_masks``)."""
        return np.concatenate([~state.paid, np.ones((len(state.idx), 1), bool)], axis=1)

    def check_actions(self, actions: Any, batch: int) -> np.ndarray:
        """Actions as (B,) int64 in ``[0, T]``; a ValueError that says what is wrong otherwise.

        :param actions: one int per episode (numpy ints, 0-d arrays and torch tensors too).
        :param batch: B.
        """
        if hasattr(actions, "detach"):  # a torch tensor, on any device
            actions = actions.detach().cpu().numpy()
        arr = np.asarray(actions)
        if arr.size != batch or arr.dtype.kind not in "iuf" or (
                arr.dtype.kind == "f" and not np.all(arr == np.round(arr))):
            raise ValueError(f"FrameSelectionSeq action must be {batch} integer(s) in "
                             f"[0, {self.num_frames}] (a frame to pay for, {self.num_frames} "
                             f"= stop), got {actions!r}")
        arr = arr.reshape(batch).astype(np.int64)
        if arr.min() < 0 or arr.max() > self.num_frames:
            raise ValueError(f"FrameSelectionSeq action out of range [0, {self.num_frames}] "
                             f"({self.num_frames} = stop): got {arr.tolist()}")
        return arr

    def step(self, state: SeqState, actions: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Apply one action per episode (in place) and score it.

        The reward is the option ``reward``'s (:data:`REWARDS`) minus ``cost_weight`` x the
        step's cost: ``eq4`` Eq. 4's rule between the predictions before and after a pay step
        (0 on stop); ``delta`` the true-class probability after minus before; ``terminal`` 0
        until the episode ends (stop, or a truncating pay step), then Eq. 4's rule between the
        cheap-only and the final prediction.

        :param state: the episodes (none of them ended).
        :param actions: (B,) checked actions; T = stop.
        :return: ``(reward float32, terminated, truncated, details)`` per episode; details has
            ``cost`` (the step's cost in the reward's unit) and ``pred_before``.
        """
        t = self.num_frames
        stop = actions == t
        pay = ~stop
        rows = np.flatnonzero(pay)
        frames = actions[rows]
        new = ~state.paid[rows, frames]
        n_paid = state.paid.sum(-1)
        # A frame not yet paid goes next in the order; a repeat is charged but changes nothing.
        state.order[rows[new], n_paid[rows[new]]] = frames[new]
        state.paid[rows, frames] = True
        state.steps[rows] += 1
        state.macs[rows] += self.pay_macs
        state.seconds[rows] += self.pay_seconds
        before = state.prediction
        after = self.predict(state)
        change, p_before, p_after, pred_before, _ = prediction_change_reward(
            before, after, state.labels, self.omega, t)
        cost = np.where(pay, self.step_cost, 0.0)
        state.prediction = after
        over_budget = state.steps >= state.max_frames
        if self.budget_macs is not None:
            # truncate when the next frame no longer fits, so the budget is never overspent
            over_budget |= state.macs + self.pay_macs > self.budget_macs
        truncated = pay & (over_budget | state.paid.all(-1))
        if self.reward == "delta":  # telescopes: an episode sums to final minus initial
            gain = np.where(pay, p_after - p_before, 0.0)
        elif self.reward == "terminal":
            final = prediction_change_reward(self.cheap_only(state), after, state.labels,
                                             self.omega, t)[0]
            gain = np.where(stop | truncated, final, 0.0)
        else:
            gain = np.where(pay, change, 0.0)
        reward = (gain - self.cost_weight * cost).astype(np.float32)
        return reward, stop.copy(), truncated, {"cost": cost, "pred_before": pred_before}

    def info(self, state: SeqState) -> dict[str, np.ndarray]:
        """Batched info of the episodes (arrays of B rows).

        ``paid_order`` is (B, T) with -1 after the paid frames; the single env turns its row
        into ``paid_frames``, a list.
        """
        src = self.cheap
        pred = state.prediction.argmax(-1)
        cheap_pred = state.cheap["predictions"].mean(1).argmax(-1)
        return {
            "video_id": src.video_ids[state.idx],
            "label": state.labels.copy(),
            "index": state.idx.copy(),
            "view": state.views.copy() if state.views is not None
            else np.full(len(state.idx), -1),
            "paid_order": state.order.copy(),
            "num_paid": state.paid.sum(-1),
            "steps": state.steps.copy(),
            "max_frames": state.max_frames.copy(),
            "macs": state.macs.copy(),
            "seconds": state.seconds.copy(),
            "prediction": pred,
            "correct": pred == state.labels,
            "cheap_prediction": cheap_pred,
            "cheap_correct": cheap_pred == state.labels,
        }

    def close(self) -> None:
        """Close both sources (idempotent)."""
        self.cheap.close()
        self.expensive.close()
