"""FrameExit-style early exit: a fixed frame order, per-step heads and exit gates.

After Ghodrati, Bejnordi, Habibian, *FrameExit: Conditional Early Exiting for Efficient Video
Recognition*, CVPR 2021.
Frames are visited in a fixed coarse-to-fine order (:func:`exit_order`). After step t the cheap
stream's per-frame inputs (features and class probabilities) of the t frames seen so far are
max-pooled, a per-step linear head predicts the class and a per-step exit gate (linear +
sigmoid) decides whether to stop. At test the policy stops at the first step whose gate opens
(``>= gate_threshold``; the last step always stops), and only the frames seen are computed: the
cheap stream and the expensive one alike (``observes = ()``), so its cost is the frames it saw;
observing a preview (an observe-only stream), the preview is costed on all T frames (an upper
bound by the preview on the frames it did not see).
The video's prediction is the frozen classifier's ``predict`` stream on those frames (the
evaluation's, as for every selector); :meth:`FrameExitPolicy.head_predictions` gives its own.

Training (train split): cross-entropy of every step's head, plus a binary cross-entropy of every
step's gate against the target "the step-t head is already correct" (heads detached), or with
``gate_target="predict"`` "the frozen ``predict`` stream on the frames seen so far is already
correct". The paper's gate training is not released; this target is ours.

The budget knob is the gate threshold, as in the paper: :meth:`FrameExitPolicy.for_m` picks the
threshold calibrated on the validation split (:func:`calibrate_thresholds`) so that the policy
sees m frames per video *on average*; a video may see more or fewer, so there is no cap. Without
a calibration table (a store with no val split) ``for_m(m)`` falls back to capping the frames
seen at m at ``gate_threshold`` (the gates may stop earlier).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines_zoo.field.checkpoint import load_trained, save_checkpoint
from baselines_zoo.field.options import check_config
from frame_select_env.core.config import Range
from frame_select_env.core.constants import STREAMS

#: The official code's order for T = 10 frames (coarse to fine: middle, ends, quarters, ...).
OFFICIAL_ORDER_10 = (5, 0, 9, 2, 7, 4, 6, 3, 8, 1)
METHOD = "frameexit"
GATE_TARGETS = ("head", "predict")


def exit_order(num_frames: int) -> np.ndarray:
    """The fixed frame order: the official one for T = 10, farthest-point order otherwise.

    Farthest-point order starts at the middle frame ``T // 2`` and then always takes the frame
    farthest from every frame already taken (ties to the earlier frame). For T = 10 it starts
    5, 0, 9, 2, 7 like the official order and then differs only in how it breaks the remaining
    ties (1, 3, 4, 6, 8 instead of 4, 6, 3, 8, 1), so T = 10 keeps the official order exactly.
    For T = 25: 12, 0, 24, 6, 18, 3, 9, 15, 21, 1, 4, 7, 10, 13, 16, 19, 22, 2, 5, 8, 11, 14,
    17, 20, 23.

    :param num_frames: T >= 1.
    :return: (T,) int64 permutation of ``0..T-1``.
    :raises ValueError: for T < 1.
    """
    t = int(num_frames)
    if t < 1:
        raise ValueError(f"exit_order: num_frames must be >= 1, got {num_frames}")
    if t == len(OFFICIAL_ORDER_10):
        return np.asarray(OFFICIAL_ORDER_10, dtype=np.int64)
    order = [t // 2]
    dist = np.abs(np.arange(t) - order[0]).astype(np.int64)
    while len(order) < t:
        nxt = int(np.argmax(dist))  # argmax takes the first maximum: the earlier frame
        order.append(nxt)
        dist = np.minimum(dist, np.abs(np.arange(t) - nxt))
    return np.asarray(order, dtype=np.int64)


@dataclass
class FrameExitConfig:
    """FrameExit's hyperparameters.

    :param epochs: full-batch Adam steps over the train split (every view is a sample).
    :param lr: Adam learning rate.
    :param weight_decay: Adam weight decay.
    :param gate_weight: weight of the gates' loss against the heads'.
    :param gate_threshold: a gate opens at probability >= this (the test-time exit rule).
    :param gate_target: ``head`` (the step-t head is correct) or ``predict`` (the frozen predict
        stream on the frames seen is correct).
    """

    epochs: int = 300
    lr: float = 1e-2
    weight_decay: float = 1e-4
    gate_weight: float = 1.0
    gate_threshold: float = 0.5
    gate_target: str = "head"

    def __post_init__(self) -> None:
        check_config(self, {"epochs": Range(ge=1, integer=True), "lr": Range(gt=0),
                            "weight_decay": Range(ge=0), "gate_weight": Range(ge=0),
                            "gate_threshold": Range(gt=0, le=1)},
                     choices={"gate_target": GATE_TARGETS})


class FrameExitNet(nn.Module):
    """Per-step heads and exit gates over the max-pooled inputs of the frames seen so far.

    :param input_dim: per-frame input size (cheap features + class probabilities).
    :param num_classes: C.
    :param num_frames: T (one head and one gate per step).
    """

    order: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, input_dim: int, num_classes: int, num_frames: int) -> None:
        super().__init__()
        self.input_dim, self.num_classes, self.num_frames = input_dim, num_classes, num_frames
        self.register_buffer("order", torch.as_tensor(exit_order(num_frames)))
        # input standardisation of the train split (the features' scale is the backbone's)
        self.register_buffer("mean", torch.zeros(input_dim))
        self.register_buffer("std", torch.ones(input_dim))
        # one linear head and one linear gate per step, stored stacked so a forward pass is one
        # einsum instead of 2T small matmuls; initialised like nn.Linear
        bound = 1.0 / float(np.sqrt(input_dim))

        def param(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))

        self.head_weight = param(num_frames, input_dim, num_classes)
        self.head_bias = param(num_frames, num_classes)
        self.gate_weight = param(num_frames, input_dim)
        self.gate_bias = param(num_frames)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every step's logits and gate probabilities.

        :param x: (B, T, input_dim) per-frame inputs in frame order.
        :return: ``(logits (B, T, C), gate probabilities (B, T))``, step t = the first t + 1
            frames of :func:`exit_order`.
        """
        order = self.order
        assert isinstance(order, torch.Tensor)
        x = (x - self.mean) / self.std
        pooled = torch.cummax(x[:, order], dim=1).values  # max over the frames seen so far
        logits = torch.einsum("btd,tdc->btc", pooled, self.head_weight) + self.head_bias
        gates = torch.einsum("btd,td->bt", pooled, self.gate_weight) + self.gate_bias
        return logits, torch.sigmoid(gates)


def _inputs(obs: Mapping[str, np.ndarray], who: str) -> np.ndarray:
    """(B, T, D + C) per-frame inputs: the cheap stream's features and class probabilities."""
    missing = [k for k in ("features", "predictions") if k not in obs]
    if missing:
        raise ValueError(f"policy {who!r} needs obs {missing} of its observed stream (state "
                         f"'both'); got {sorted(obs)}")
    return np.concatenate([np.asarray(obs["features"], np.float32),
                           np.asarray(obs["predictions"], np.float32)], axis=-1)


def exit_masks(gates: np.ndarray, order: np.ndarray, threshold: float,
               max_frames: int | None = None) -> np.ndarray:
    """The frames seen when stopping at the first open gate.

    :param gates: (B, T) gate probabilities per step.
    :param order: (T,) the frame visited at each step.
    :param threshold: a gate is open at ``>= threshold``; the last step (or step ``max_frames``)
        always stops.
    :param max_frames: cap on the frames seen (``None``: T).
    :return: (B, T) bool over frames (not steps): the first k frames of ``order``.
    """
    gates = np.asarray(gates)
    b, t = gates.shape
    last = t if max_frames is None else max(1, min(int(max_frames), t))
    open_ = gates[:, :last] >= threshold
    open_[:, last - 1] = True
    seen = np.argmax(open_, axis=1) + 1  # steps taken: the first open gate, inclusive
    by_step = np.arange(t)[None, :] < seen[:, None]
    mask = np.zeros((b, t), dtype=bool)
    mask[:, np.asarray(order)] = by_step
    return mask


class FrameExitPolicy:
    """A trained FrameExit net as an adaptive selection policy (``masks``).

    :param module: the trained :class:`FrameExitNet`.
    :param config: its :class:`FrameExitConfig`.
    :param observe: the cheap stream it reads (only on the frames it sees).
    :param predict: the stream the evaluation predicts with on those frames.
    :param max_frames: cap on the frames seen (``for_m`` without a calibration table).
    :param name: display name.
    :param thresholds: ``thresholds[m - 1]``: the gate threshold that sees m frames per video on
        average on the validation split (:func:`calibrate_thresholds`, :meth:`for_m`).
    :param threshold: this policy's gate threshold (``None``: ``config.gate_threshold``).
    """

    uses_label = False

    def __init__(self, module: FrameExitNet, config: FrameExitConfig, observe: str = "rgb",
                 predict: str = "fused", max_frames: int | None = None,
                 name: str = "frameexit", thresholds: list[float] | None = None,
                 threshold: float | None = None) -> None:
        self.module = module.eval()
        self.config, self.observe, self.predict = config, observe, predict
        # it reads a paid stream only on the frames it sees (paid anyway): nothing on all T
        # frames. An observe-only stream (a preview) is costed on all T frames, an upper bound:
        # the evaluation's cost has no mask for a stream it does not predict with.
        self.observes: tuple[str, ...] = () if observe in STREAMS else (observe,)
        self.max_frames, self.name = max_frames, name
        self.thresholds = [float(x) for x in thresholds or []]
        self.threshold = float(config.gate_threshold if threshold is None else threshold)

    def for_m(self, m: int) -> FrameExitPolicy:
        """A copy that sees about ``m`` frames per video on average (the calibrated threshold).

        :param m: the budget; without a calibration table the frames seen are capped at ``m``
            instead (its gates may stop it earlier).
        """
        m = max(1, int(m))
        if self.thresholds:  # the paper's knob: no cap, the threshold sets the mean
            return FrameExitPolicy(self.module, self.config, self.observe, self.predict,
                                   name=self.name, thresholds=self.thresholds,
                                   threshold=self.thresholds[min(m, len(self.thresholds)) - 1])
        return FrameExitPolicy(self.module, self.config, self.observe, self.predict,
                               max_frames=m, name=self.name, threshold=self.threshold)

    def _forward(self, obs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        x = _inputs(obs, self.name)
        if x.shape[1:] != (self.module.num_frames, self.module.input_dim):
            raise ValueError(f"policy {self.name!r} was trained on (T, D + C) = "
                             f"({self.module.num_frames}, {self.module.input_dim}) per-frame "
                             f"inputs, got {x.shape[1:]}: another store, stream or num_frames?")
        with torch.no_grad():
            logits, gates = self.module(torch.from_numpy(x))
        return logits.numpy(), gates.numpy()

    def masks(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None,
              m: int | None = None) -> np.ndarray:
        """The frames seen up to the first open gate (at most ``max_frames``).

        :param obs: ``features`` (B, T, D) and ``predictions`` (B, T, C) of the observed stream.
        :param info: unused (no label is read).
        :param m: the budget, as :meth:`for_m` (``None``: this policy's threshold and cap).
        :return: (B, T) bool.
        """
        if m is not None:
            return self.for_m(int(np.max(m))).masks(obs, info)
        _, gates = self._forward(obs)
        order = self.module.order
        assert isinstance(order, torch.Tensor)
        return exit_masks(gates, order.numpy(), self.threshold, self.max_frames)

    def scores(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None
               ) -> np.ndarray:
        """The exit order as scores (earlier step = higher): top-m is the first m frames seen.

        :param obs: a batch of observations (only its shape is read).
        :param info: unused.
        :return: (B, T) float32.
        """
        b, t = np.asarray(obs["predictions"]).shape[:2]
        order = exit_order(t)
        row = np.empty(t, np.float32)
        row[order] = np.arange(t, 0, -1, dtype=np.float32)
        return np.broadcast_to(row, (b, t)).copy()

    def head_predictions(self, obs: Mapping[str, np.ndarray], m: int | None = None
                         ) -> np.ndarray:
        """FrameExit's own prediction: the class probabilities of the head at its exit step.

        :param obs: as :meth:`masks`.
        :param m: cap on the frames seen.
        :return: (B, C) probabilities.
        """
        logits, gates = self._forward(obs)
        seen = exit_masks(gates, np.arange(gates.shape[1]), self.threshold,
                          m if m is not None else self.max_frames).sum(1)
        chosen = logits[np.arange(len(seen)), seen - 1]
        return torch.softmax(torch.from_numpy(chosen), -1).numpy()

    def macs_per_view(self, num_frames: int) -> float:
        """MACs of one view's pass, counted for every step (an upper bound: it may stop early).

        :param num_frames: T.
        :return: ``T x (D_in x C + D_in)`` (one head and one gate per step).
        """
        d, c = self.module.input_dim, self.module.num_classes
        return float(num_frames * (d * c + d))


def calibrate_thresholds(policy: FrameExitPolicy, obs: Mapping[str, np.ndarray],
                         iters: int = 20) -> list[float]:
    """For m = 1 .. T, the gate threshold that sees m frames per video on average (bisection).

    The frames seen grow with the threshold (a higher one opens fewer gates), so each m is a
    bisection over [0, 1]; of its two ends the one whose mean is nearer m is kept. The gates are
    computed once, so this is cheap.

    :param policy: the trained policy.
    :param obs: the validation split's observed stream, one decision per video (B, T, ·).
    :param iters: bisection steps.
    :return: ``thresholds[m - 1]``.
    """
    _, gates = policy._forward(obs)
    order = policy.module.order
    assert isinstance(order, torch.Tensor)
    order_np = order.numpy()

    def frames(th: float) -> float:
        return float(exit_masks(gates, order_np, th).sum(1).mean())

    out = []
    for m in range(1, gates.shape[1] + 1):
        lo, hi = 0.0, 1.0  # frames(lo) < m <= frames(hi), where reachable
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if frames(mid) >= m else (mid, hi)
        out.append(lo if abs(frames(lo) - m) < abs(frames(hi) - m) else hi)
    return out


def _predict_probs(obs: Mapping[str, Mapping[str, np.ndarray]], predict: str) -> np.ndarray:
    """Per-frame (B, T, V, C) probabilities of the predict stream (``fused``: their mean)."""
    from frame_select_env.core.selection import fuse_streams

    if predict == "fused":
        return fuse_streams({s: obs[s]["predictions"] for s in obs})
    return obs[predict]["predictions"]


def train(store: str | Path | None, cfg: FrameExitConfig | None = None, *, observe: str = "rgb",
          predict: str = "fused", seed: int = 0, progress: bool = False) -> FrameExitPolicy:
    """Train FrameExit's heads and gates on the train split (every view a sample).

    :param store: a feature store path, or ``None`` for the built-in one.
    :param cfg: hyperparameters (defaults without).
    :param observe: the cheap stream read.
    :param predict: the stream the evaluation predicts with (``gate_target="predict"`` reads it).
    :param seed: torch seed of the initialisation.
    :param progress: print the loss now and then.
    :return: the trained policy.
    :raises ValueError: for a stream the store lacks.
    """
    from frame_select_env.core.selection import aggregate_predictions
    from frame_select_env.evaluation.runner import load_split
    from frame_select_env.store import FeatureStore
    from frame_select_env.store.builtin import resolve_store

    cfg = cfg or FrameExitConfig()
    path = resolve_store(store, "store")
    need = [observe] if cfg.gate_target == "head" else list(
        dict.fromkeys([observe, *(STREAMS if predict == "fused" else [predict])]))
    data = load_split(path, "train", need)
    b, t, v = data.obs[observe]["predictions"].shape[:3]
    x = np.concatenate([data.obs[observe]["features"], data.obs[observe]["predictions"]], -1)
    x = np.moveaxis(x, 2, 1).reshape(b * v, t, -1)  # every view is a sample
    y = np.repeat(data.labels, v)
    torch.manual_seed(seed)
    net = FrameExitNet(x.shape[-1], data.num_classes, t)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.as_tensor(y, dtype=torch.long)
    net.mean.copy_(xt.mean((0, 1)))
    net.std.copy_(xt.std((0, 1)).clamp_min(1e-6))
    order = exit_order(t)
    fixed_target = None
    if cfg.gate_target == "predict":  # the frozen predict stream on the first k frames seen
        probs = np.moveaxis(_predict_probs({s: data.obs[s] for s in need
                                            if s in STREAMS and (predict == "fused" or
                                                                 s == predict)}, predict),
                            2, 1).reshape(b * v, t, -1)
        steps = []
        for k in range(1, t + 1):
            mask = np.zeros((b * v, t), bool)
            mask[:, order[:k]] = True
            steps.append(aggregate_predictions(probs, mask).argmax(-1) == y)
        fixed_target = torch.as_tensor(np.stack(steps, 1), dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    net.train()
    for epoch in range(cfg.epochs):
        logits, gates = net(xt)
        head_loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                yt.repeat_interleave(t))
        target = fixed_target if fixed_target is not None else (
            logits.detach().argmax(-1) == yt[:, None]).float()
        gate_loss = nn.functional.binary_cross_entropy(gates, target)
        loss = head_loss + cfg.gate_weight * gate_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress and (epoch % 50 == 0 or epoch == cfg.epochs - 1):
            print(f"frameexit epoch {epoch}: head {head_loss.item():.3f} gate "
                  f"{gate_loss.item():.3f}")
    policy = FrameExitPolicy(net.eval(), cfg, observe, predict)
    val = load_split(path, "val", [observe]) if len(FeatureStore(path).indices("val")) else None
    if val is not None:  # the budget knob: thresholds for m = 1 .. T (frame scheme: views' mean)
        policy.thresholds = calibrate_thresholds(
            policy, {k: x.mean(2) for k, x in val.obs[observe].items()})
    return policy


def save(policy: FrameExitPolicy, path: str | Path) -> Path:
    """Write a trained policy atomically (config and dimensions as plain values).

    :param policy: the policy.
    :param path: the ``.pt`` file.
    :return: the path written.
    """
    net = policy.module
    return save_checkpoint(METHOD, policy, {"input_dim": net.input_dim,
                                            "num_classes": net.num_classes,
                                            "num_frames": net.num_frames}, path,
                           thresholds=[float(x) for x in policy.thresholds])


def load(path: str | Path) -> FrameExitPolicy:
    """Read a policy :func:`save` wrote (``torch.load(weights_only=True)``).

    :param path: the ``.pt`` file.
    :return: the policy (eval mode, CPU).
    :raises ValueError: the file is not a FrameExit checkpoint (the message names it).
    """
    ckpt, cfg, net = load_trained(path, METHOD, "FrameExit", FrameExitConfig,
                                  lambda d, c: FrameExitNet(**d))
    return FrameExitPolicy(net, cfg, ckpt["observe"], ckpt["predict"],
                           thresholds=list(ckpt.get("thresholds", [])))


__all__ = ["FrameExitConfig", "FrameExitNet", "FrameExitPolicy", "calibrate_thresholds",
           "exit_masks", "exit_order",
           "load", "save", "train"]
