"""LiteEval-style gated coarse/fine recurrence (after Wu et al., *LiteEval*, NeurIPS 2019).

Two LSTMs read a video frame by frame:

* the **coarse** LSTM reads every frame's cheap states (``observe``, RGB: features and class
  probabilities);
* a 2-way **gate** at frame t reads the coarse feature, the coarse LSTM's state and the fine
  LSTM's previous state and decides whether the expensive stream is computed for that frame; in
  training it is a straight-through Gumbel-softmax (exactly 0/1 forward, the softmax's gradient
  backward, :func:`st_gumbel_gate`) with a temperature annealed exponentially over the epochs;
* when it opens, the **fine** LSTM reads that frame's expensive features (``predict``, fused:
  both streams' features); when it stays shut the two LSTMs are synchronised: the coarse state
  is copied into the first dimensions of the fine state, the rest of the fine state is kept.

A linear classifier on the last fine state is LiteEval's own prediction. The loss is its
cross-entropy plus ``skip_weight * (skip ratio - target_skip)^2`` (the share of frames the gate
skipped, over the batch). At test the gate is deterministic: it opens when its open probability
reaches a threshold (0.5 = the argmax). :meth:`LiteEvalPolicy.masks` gives the frames it paid
the expensive stream for; the evaluation scores the frozen two-stream classifier's (fused)
prediction on them, and LiteEval's own classifier's accuracy goes to the training log. The
budget knob, ``for_m(m)``, is a threshold calibrated on the validation split so that the gate
opens m frames per video on average (LiteEval itself trains one model per target; train with
``target_skip = 1 - m / T`` for that).

The gate reads the fine state, which holds the expensive features of the frames opened *before*
t, so the evaluation hands the ``predict`` stream's features to :meth:`LiteEvalPolicy.masks` in
``info["predict_features"]``; the recurrence reads them only where its gate is open (tested).
``gate_reads_fine=False`` gates on the coarse side alone.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines_zoo.field.checkpoint import load_trained, save_checkpoint
from baselines_zoo.field.ocsampler import (
    _loaded_streams,
    _obs_tensors,
    fused_streams,
    predict_probs,
    training_source,
)
from baselines_zoo.field.options import OnEpoch, StoreArg, TrainingOptions, check_config
from frame_select_env.core.config import Range
from frame_select_env.core.metrics import accuracy
from frame_select_env.core.selection import aggregate_predictions
from frame_select_env.evaluation.runner import SplitData, load_split

METHOD = "liteeval"
INPUTS = ("both", "features")
#: the ``info`` key holding the ``predict`` stream's per-frame features (B, T, D_pred)
PREDICT_FEATURES = "predict_features"


@dataclass
class LiteEvalConfig(TrainingOptions):
    """Hyperparameters of the LiteEval-style recurrence (defaults: the built-in store).

    Training takes ~12 s on one thread; these tiny recurrent steps are overhead-bound, so more
    torch threads than free cores only slow them down. The optimiser options (``epochs`` 20,
    ``batch_size``, ``lr``, ``weight_decay``, ``grad_clip``) are
    :class:`~baselines_zoo.field.options.TrainingOptions`'.

    :param coarse_hidden: hidden size of the coarse LSTM.
    :param fine_hidden: hidden size of the fine LSTM (>= ``coarse_hidden``: the coarse state is
        copied into its first dimensions when the gate is shut).
    :param inputs: what the coarse LSTM reads of the cheap stream: ``both`` (features and class
        probabilities) or ``features``.
    :param gate_reads_fine: the gate also reads the fine LSTM's previous state (LiteEval);
        ``False`` gates on the coarse side only.
    :param target_skip: the share of frames the gate should skip (LiteEval's gamma, as a skip
        ratio).
    :param skip_weight: weight of ``(skip ratio - target_skip)^2``.
    :param tau_start: Gumbel-softmax temperature of the first epoch.
    :param tau_end: temperature of the last epoch (annealed exponentially in between).
    """

    coarse_hidden: int = 32
    fine_hidden: int = 64
    inputs: str = "both"
    gate_reads_fine: bool = True
    target_skip: float = 0.6
    skip_weight: float = 4.0
    tau_start: float = 5.0
    tau_end: float = 0.5

    def __post_init__(self) -> None:
        check_config(self, {"coarse_hidden": Range(ge=1, integer=True),
                            "fine_hidden": Range(ge=1, integer=True),
                            "target_skip": Range(ge=0, lt=1), "skip_weight": Range(ge=0),
                            "tau_start": Range(gt=0), "tau_end": Range(gt=0)},
                     rules={"fine_hidden": (self.fine_hidden >= self.coarse_hidden,
                                            f">= coarse_hidden ({self.coarse_hidden})")},
                     choices={"inputs": INPUTS})

    def temperature(self, epoch: int) -> float:
        """The Gumbel temperature of ``epoch`` (0-based): exponential from start to end."""
        if self.epochs <= 1:
            return float(self.tau_end)
        frac = epoch / (self.epochs - 1)
        return float(self.tau_start * (self.tau_end / self.tau_start) ** frac)


def liteeval_loss(logits: torch.Tensor, labels: torch.Tensor, gates: torch.Tensor,
                  cfg: LiteEvalConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LiteEval's loss: cross-entropy + ``skip_weight * (skip ratio - target_skip)^2``.

    :param logits: (B, C) its classifier's output.
    :param labels: (B,) true classes.
    :param gates: (B, T) the gates (1 = the expensive stream was read).
    :param cfg: ``skip_weight`` and ``target_skip``.
    :return: ``(loss, cross-entropy, skip ratio)``; the skip ratio is the share of the batch's
        frames the gate skipped.
    """
    ce = F.cross_entropy(logits, labels)
    skip = 1.0 - gates.mean()
    return ce + cfg.skip_weight * (skip - cfg.target_skip) ** 2, ce, skip


def st_gumbel_gate(logits: torch.Tensor, tau: float, generator: torch.Generator | None = None
                   ) -> torch.Tensor:
    """Straight-through Gumbel-softmax over 2 choices: 1.0 (open) or 0.0 (skip) per row.

    Forward, the one-hot argmax of ``softmax((logits + Gumbel noise) / tau)``, exactly 0 or 1;
    backward, that softmax's gradient (``hard - soft.detach() + soft``).

    :param logits: (B, 2) gate logits, column 1 = open.
    :param tau: temperature (> 0).
    :param generator: torch generator of the noise (seeded by the caller).
    :return: (B,) the open decision, differentiable in ``logits``.
    """
    u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype).clamp(1e-20, 1.0)
    soft = torch.softmax((logits - torch.log(-torch.log(u))) / tau, -1)
    hard = F.one_hot(soft.argmax(-1), 2).to(soft.dtype)
    return (hard - soft.detach() + soft)[:, 1]


class LiteEvalNet(nn.Module):
    """Coarse LSTM, gate, fine LSTM and classifier over (B, T, ·) inputs.

    :param coarse_dim: per-frame input size of the coarse LSTM (cheap features [+ C]).
    :param fine_dim: per-frame expensive features' size.
    :param num_classes: C.
    :param config: the architecture fields of :class:`LiteEvalConfig`.
    """

    coarse_mean: torch.Tensor
    coarse_std: torch.Tensor
    fine_mean: torch.Tensor
    fine_std: torch.Tensor

    def __init__(self, coarse_dim: int, fine_dim: int, num_classes: int,
                 config: LiteEvalConfig) -> None:
        super().__init__()
        self.coarse_dim, self.fine_dim, self.num_classes = coarse_dim, fine_dim, num_classes
        self.reads_fine = bool(config.gate_reads_fine)
        self.hc, self.hf = int(config.coarse_hidden), int(config.fine_hidden)
        # standardisation statistics of the training split (buffers: saved with the weights)
        for part, d in (("coarse", coarse_dim), ("fine", fine_dim)):
            self.register_buffer(f"{part}_mean", torch.zeros(d))
            self.register_buffer(f"{part}_std", torch.ones(d))
        self.coarse = nn.LSTMCell(coarse_dim, self.hc)
        self.fine = nn.LSTMCell(fine_dim, self.hf)
        self.gate = nn.Linear(coarse_dim + self.hc + (self.hf if self.reads_fine else 0), 2)
        self.classifier = nn.Linear(self.hf, num_classes)

    def standardise(self, coarse: torch.Tensor, fine: torch.Tensor | None
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Inputs minus the training mean, over the training std."""
        c = (coarse - self.coarse_mean) / self.coarse_std
        f = None if fine is None else (fine - self.fine_mean) / self.fine_std
        return c, f

    def forward(self, coarse: torch.Tensor, fine: torch.Tensor | None = None,
                tau: float | None = None, generator: torch.Generator | None = None,
                threshold: float | torch.Tensor = 0.5
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the recurrence.

        :param coarse: (B, T, coarse_dim) cheap inputs (unstandardised).
        :param fine: (B, T, fine_dim) expensive features; read at frame t only through the fine
            LSTM's update, whose result is used only where the gate opened. ``None`` (with
            ``gate_reads_fine=False``) computes the gates alone (no classifier output).
        :param tau: Gumbel temperature; ``None`` = deterministic gates (test).
        :param generator: the noise generator (training).
        :param threshold: deterministic gates open when their open probability reaches it (a
            float, or a (B, 1) tensor: one threshold per video).
        :return: ``(class logits (B, C) or an empty tensor, gates (B, T) in {0, 1},
            open probabilities (B, T))``.
        :raises ValueError: ``fine`` missing while the gate reads the fine state.
        """
        if fine is None and self.reads_fine:
            raise ValueError("LiteEvalNet: the gate reads the fine LSTM's state, so the "
                             "expensive features are needed (gate_reads_fine=True)")
        c_in, f_in = self.standardise(coarse, fine)
        b, t = c_in.shape[:2]
        hc = cc = c_in.new_zeros(b, self.hc)
        hf = cf = c_in.new_zeros(b, self.hf)
        gates, probs = [], []
        for step in range(t):
            x = c_in[:, step]
            hc, cc = self.coarse(x, (hc, cc))
            parts = [x, hc, hf] if self.reads_fine else [x, hc]
            logits = self.gate(torch.cat(parts, -1))
            p_open = torch.softmax(logits, -1)[:, 1]
            if tau is None:
                g = (p_open >= torch.as_tensor(threshold).reshape(-1)).to(x.dtype)
            else:
                g = st_gumbel_gate(logits, tau, generator)
            gates.append(g)
            probs.append(p_open)
            if f_in is None:
                continue
            hn, cn = self.fine(f_in[:, step], (hf, cf))
            # shut gate: synchronise (coarse state into the fine state's first dimensions)
            hs = torch.cat([hc, hf[:, self.hc:]], -1)
            cs = torch.cat([cc, cf[:, self.hc:]], -1)
            gg = g[:, None]
            hf = gg * hn + (1 - gg) * hs
            cf = gg * cn + (1 - gg) * cs
        out = self.classifier(hf) if f_in is not None else c_in.new_zeros(0)
        return out, torch.stack(gates, 1), torch.stack(probs, 1)


class LiteEvalPolicy:
    """LiteEval-style adaptive policy: ``masks`` are the frames its gate opened.

    :param module: the trained :class:`LiteEvalNet`.
    :param config: its :class:`LiteEvalConfig`.
    :param observe: the cheap stream its coarse LSTM reads on all T frames.
    :param predict: the expensive stream its fine LSTM reads on the opened frames.
    :param thresholds: ``thresholds[m - 1]``: the gate threshold that opens m frames per video on
        average on the validation split (:meth:`for_m`).
    :param threshold: the gate threshold of this policy (0.5 = the gate's argmax).
    :param name: table name.
    """

    uses_label = False
    needs_predict_features = True

    def __init__(self, module: LiteEvalNet, config: LiteEvalConfig, observe: str = "rgb",
                 predict: str = "fused", thresholds: list[float] | None = None,
                 threshold: float = 0.5, name: str = METHOD) -> None:
        self.module = module.eval()
        self.config = config
        self.observe, self.predict, self.name = observe, predict, name
        self.observes = (observe,)
        self.needs_predict_features = bool(config.gate_reads_fine)
        self.thresholds = list(thresholds or [])
        self.threshold = float(threshold)
        self.train_log: list[dict[str, float]] = []

    def for_m(self, m: int) -> LiteEvalPolicy:
        """A copy whose gate opens about ``m`` frames per video (the calibrated threshold).

        :param m: the budget; without a calibration table (no validation split) the gate's
            argmax (0.5) is kept.
        """
        bound = copy.copy(self)
        if self.thresholds:
            bound.threshold = self.thresholds[min(max(int(m), 1), len(self.thresholds)) - 1]
        return bound

    def _inputs(self, obs: Mapping[str, Any], info: Mapping[str, Any] | None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        f, p = _obs_tensors(obs, self.module.coarse_dim - self._num_pred(), self.module.num_classes,
                            self.name)
        coarse = coarse_input(f, p, self.config.inputs, self.name)
        fine = None
        if info is not None and info.get(PREDICT_FEATURES) is not None:
            fine = torch.as_tensor(np.asarray(info[PREDICT_FEATURES]), dtype=torch.float32)
            if fine.shape[:2] != coarse.shape[:2] or fine.shape[-1] != self.module.fine_dim:
                raise ValueError(f"{self.name}: info[{PREDICT_FEATURES!r}] must be (B, T, "
                                 f"{self.module.fine_dim}) features of {self.predict!r}, got "
                                 f"{tuple(fine.shape)}")
        elif self.module.reads_fine:
            raise ValueError(f"{self.name}: its gate reads the fine LSTM, so masks()/scores() "
                             f"need info[{PREDICT_FEATURES!r}], the {self.predict!r} stream's "
                             f"features (B, T, {self.module.fine_dim})")
        return coarse, fine

    def _num_pred(self) -> int:
        return self.module.num_classes if self.config.inputs == "both" else 0

    @torch.no_grad()
    def run(self, obs: Mapping[str, Any], info: Mapping[str, Any] | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The deterministic recurrence: (gates (B, T) bool, open probabilities, own probs).

        :param obs: ``{"features", "predictions"}`` (B, T, ·) of ``observe``.
        :param info: ``info["predict_features"]`` (B, T, D_pred) of ``predict``.
        :return: the gates (at least one frame per video: the most probable one if none
            opened), the open probabilities, and LiteEval's own class probabilities (B, C)
            (``None`` without the expensive features).
        """
        coarse, fine = self._inputs(obs, info)
        logits, gates, probs = self.module(coarse, fine, threshold=self.threshold)
        mask = gates.numpy() > 0.5
        none = ~mask.any(1)
        if none.any():  # no frame is no prediction: pay for the most likely one
            mask[none, probs.numpy()[none].argmax(1)] = True
        own = torch.softmax(logits, -1).numpy() if fine is not None else None
        return mask, probs.numpy().astype(np.float32), own

    def masks(self, obs: Mapping[str, Any], info: Mapping[str, Any] | None = None,
              m: int | None = None) -> np.ndarray:
        """The frames whose expensive stream LiteEval computes: (B, T) bool.

        :param obs: the cheap stream's observations (B, T, ·).
        :param info: ``predict_features`` (see :meth:`run`).
        :param m: the budget (as :meth:`for_m`); ``None`` keeps this policy's threshold.
        """
        policy = self if m is None else self.for_m(int(np.max(m)))
        return policy.run(obs, info)[0]

    def scores(self, obs: Mapping[str, Any], info: Mapping[str, Any] | None = None
               ) -> np.ndarray:
        """The gate's open probabilities (B, T) along the deterministic recurrence."""
        return self.run(obs, info)[1]

    def macs_per_view(self, num_frames: int) -> float:
        """MACs of one view's pass over T frames (counted by the cost module).

        The coarse LSTM and the gate run on every frame; the fine LSTM is counted on every frame
        too, an upper bound (it runs only where the gate opens; ~1% of the RGB CNN per crop).
        """
        from frame_select_env.pipeline.cost import count_macs

        c = torch.zeros(1, num_frames, self.module.coarse_dim)
        f = torch.zeros(1, num_frames, self.module.fine_dim)
        return float(count_macs(self.module, c, f))


def coarse_input(features: torch.Tensor, predictions: torch.Tensor | None, inputs: str,
                 who: str = METHOD) -> torch.Tensor:
    """The coarse LSTM's per-frame input: cheap features [+ class probabilities]."""
    if inputs == "features":
        return features
    if predictions is None:
        raise ValueError(f"{who} (inputs='both') needs obs['predictions'] of its observed stream")
    return torch.cat([features, predictions], -1)


# ----------------------------------------------------------------------------- data


def _fine_features(data: SplitData, predict: str) -> np.ndarray:
    """The ``predict`` stream's features (B, T, V, D) of a split, streams concatenated."""
    streams = fused_streams(data) if predict == "fused" else [predict]
    return np.concatenate([data.obs[s]["features"] for s in streams], -1)


def split_metrics(policy: LiteEvalPolicy, data: SplitData) -> dict[str, float]:
    """Top-1 (%) of LiteEval's own classifier and of the frozen classifier on its gated frames.

    One decision per video from the views' mean (the frame scheme of the evaluation).

    :param policy: the policy (its threshold as set).
    :param data: a :func:`load_split` holding ``observe`` and ``predict``'s streams.
    :return: ``own_accuracy``, ``tsn_accuracy`` (``predict`` stream on the gated frames, every
        view) and ``frames`` (mean gated frames per video).
    """
    obs = {k: v.mean(2) for k, v in data.obs[policy.observe].items()}
    fine = _fine_features(data, policy.predict).mean(2)
    mask, _, own = policy.run(obs, {PREDICT_FEATURES: fine})
    probs = predict_probs(data, policy.predict)
    tsn = aggregate_predictions(probs, np.broadcast_to(mask[:, :, None], probs.shape[:3]))
    return {"own_accuracy": accuracy(own, data.labels) if own is not None else float("nan"),
            "tsn_accuracy": accuracy(tsn, data.labels), "frames": float(mask.sum(1).mean())}


def calibrate_thresholds(policy: LiteEvalPolicy, data: SplitData, iters: int = 14
                         ) -> list[float]:
    """For m = 1 .. T, the gate threshold opening m frames per video on average (bisection).

    The T bisections run side by side: the split is repeated once per m, each copy with its own
    threshold, so every step is one pass of the recurrence.

    :param policy: the trained policy.
    :param data: the validation split.
    :param iters: bisection steps (the thresholds are found to 2^-iters).
    :return: ``thresholds[m - 1]``.
    """
    obs = {k: v.mean(2) for k, v in data.obs[policy.observe].items()}
    coarse, fine = policy._inputs(obs, {PREDICT_FEATURES: _fine_features(data, policy.predict)
                                        .mean(2)})
    t, b = data.num_frames, len(data.labels)
    coarse = coarse.repeat(t, 1, 1)  # copy k holds m = k + 1
    fine = None if fine is None else fine.repeat(t, 1, 1)
    target = torch.arange(1, t + 1, dtype=torch.float32)
    lo, hi = torch.zeros(t), torch.ones(t)  # opened(lo) >= m > opened(hi), roughly monotone
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        with torch.no_grad():
            _, gates, _ = policy.module(coarse, fine, threshold=mid.repeat_interleave(b)[:, None])
        opened = gates.sum(1).reshape(t, b).mean(1)
        up = opened >= target
        lo, hi = torch.where(up, mid, lo), torch.where(up, hi, mid)
    return [float(x) for x in lo]


# ----------------------------------------------------------------------------- training


def train(store: StoreArg, cfg: LiteEvalConfig | None = None, *, observe: str = "rgb",
          predict: str = "fused", seed: int = 0, progress: bool = False,
          on_epoch: OnEpoch | None = None) -> LiteEvalPolicy:
    """Train LiteEval on a store's train split; keep the best epoch on val; calibrate ``for_m``.

    :param store: a feature store (path or open), or ``None`` for the built-in store.
    :param cfg: hyperparameters (defaults: :class:`LiteEvalConfig`).
    :param observe: the cheap stream the coarse LSTM reads on all frames.
    :param predict: the expensive stream (or ``fused``) the fine LSTM reads on opened frames.
    :param seed: seeds the initialisation, the Gumbel noise and the views.
    :param progress: print one line per epoch.
    :param on_epoch: called after each epoch with ``(epoch, val top-1 of its own classifier)``
        when the store has a val split (its early-stopping value; a search reports it).
    :return: the trained :class:`LiteEvalPolicy`; ``train_log`` holds per epoch the loss, the
        skip ratio and, on val, its own classifier's and the frozen classifier's top-1.
    """
    cfg = cfg or LiteEvalConfig()
    src = training_source(store, "train", observe, predict)
    fine_src = training_source(src.store, "train", observe, predict, stream=predict)
    val = (load_split(src.store, "val", _loaded_streams(src.store, observe, predict))
           if len(src.store.indices("val")) else None)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    every_c = src.gather(np.arange(src.num_videos))
    coarse_all = coarse_input(torch.as_tensor(every_c["features"]),
                              torch.as_tensor(every_c["predictions"]), cfg.inputs)
    fine_all = torch.as_tensor(fine_src.gather(np.arange(src.num_videos))["features"])
    net = LiteEvalNet(coarse_all.shape[-1], fine_all.shape[-1], src.num_classes, cfg)
    with torch.no_grad():  # standardise with the training split's statistics (every view)
        for part, x in (("coarse", coarse_all), ("fine", fine_all)):
            x = x.reshape(-1, x.shape[-1])
            getattr(net, f"{part}_mean").copy_(x.mean(0))
            getattr(net, f"{part}_std").copy_(x.std(0).clamp(min=1e-3))
    opt = cfg.optimizer(net)
    policy = LiteEvalPolicy(net, cfg, observe, predict)
    labels_all = torch.as_tensor(src.labels, dtype=torch.long)
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    for epoch in range(cfg.epochs):
        tau = cfg.temperature(epoch)
        net.train()
        order = rng.permutation(src.num_videos)
        totals = {"loss": 0.0, "loss_ce": 0.0, "skip_ratio": 0.0}
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            views = src.draw_views(rng, len(idx))  # one random crop per video, both streams
            cheap = src.gather(idx, views)
            coarse = coarse_input(torch.as_tensor(cheap["features"]),
                                  torch.as_tensor(cheap["predictions"]), cfg.inputs)
            fine = torch.as_tensor(fine_src.gather(idx, views)["features"])
            logits, gates, _ = net(coarse, fine, tau=tau, generator=gen)
            loss, ce, skip = liteeval_loss(logits, labels_all[idx], gates, cfg)
            cfg.step(opt, loss, net)
            w = len(idx) / src.num_videos
            totals["loss"] += w * float(loss.detach())
            totals["loss_ce"] += w * float(ce.detach())
            totals["skip_ratio"] += w * float(skip.detach())
        net.eval()
        row: dict[str, float] = {"epoch": epoch + 1, "tau": tau, **totals}
        if val is not None:
            row.update({f"val_{k}": v for k, v in split_metrics(policy, val).items()})
            # early stopping on its own classifier (LiteEval's objective); later epochs win
            # ties, since their lower temperature matches the deterministic test-time gate
            if best is None or row["val_own_accuracy"] >= best[0]:
                best = (row["val_own_accuracy"],
                        {k: v.clone() for k, v in net.state_dict().items()})
        policy.train_log.append(row)
        if progress:
            print(f"[liteeval] epoch {epoch + 1}/{cfg.epochs} tau {tau:.2f} loss "
                  f"{totals['loss']:.3f} skip {totals['skip_ratio']:.2f} val own "
                  f"{row.get('val_own_accuracy', float('nan')):.1f} tsn "
                  f"{row.get('val_tsn_accuracy', float('nan')):.1f} frames "
                  f"{row.get('val_frames', float('nan')):.1f}", flush=True)
        if on_epoch is not None and "val_own_accuracy" in row:
            on_epoch(epoch + 1, row["val_own_accuracy"])
    if best is not None:
        net.load_state_dict(best[1])
    net.eval()
    if val is not None:
        policy.thresholds = calibrate_thresholds(policy, val)
        final = split_metrics(policy, val)
        policy.train_log.append({"epoch": 0, **{f"val_{k}": v for k, v in final.items()}})
        if progress:
            print(f"[liteeval] kept epoch: val own top-1 {final['own_accuracy']:.1f}, frozen "
                  f"{predict} on its gated frames {final['tsn_accuracy']:.1f} with "
                  f"{final['frames']:.1f} frames", flush=True)
    return policy


# ----------------------------------------------------------------------------- checkpoints


def save(policy: LiteEvalPolicy, path: str | os.PathLike) -> Path:
    """Write a trained policy atomically (config as a plain dict, weights, thresholds, log).

    :param policy: the :class:`LiteEvalPolicy`.
    :param path: the ``.pt`` file.
    """
    net = policy.module
    return save_checkpoint(METHOD, policy, {"coarse_dim": net.coarse_dim, "fine_dim": net.fine_dim,
                                            "num_classes": net.num_classes}, path,
                           thresholds=[float(t) for t in policy.thresholds])


def load(path: str | os.PathLike) -> LiteEvalPolicy:
    """Read a policy :func:`save` wrote (``torch.load(weights_only=True)``).

    :param path: the ``.pt`` file.
    :raises ValueError: the file is not a LiteEval checkpoint, or its weights do not fit.
    """
    ckpt, cfg, net = load_trained(path, METHOD, "LiteEval", LiteEvalConfig, lambda d, c:
                                  LiteEvalNet(d["coarse_dim"], d["fine_dim"], d["num_classes"], c))
    policy = LiteEvalPolicy(net, cfg, ckpt["observe"], ckpt["predict"],
                            thresholds=list(ckpt.get("thresholds", [])))
    policy.train_log = list(ckpt.get("train_log", []))
    return policy


__all__ = ["PREDICT_FEATURES", "LiteEvalConfig", "LiteEvalNet", "LiteEvalPolicy",
           "calibrate_thresholds", "coarse_input", "liteeval_loss", "load", "save", "split_metrics",
           "st_gumbel_gate", "train"]
