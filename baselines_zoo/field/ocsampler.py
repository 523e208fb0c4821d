"""OCSampler-style one-step sampler (after Lin et al., *OCSampler*, CVPR 2022, MCG-NJU/OCSampler).

A per-frame scorer reads the cheap stream's states of all T frames (features and class
probabilities; a 1-D temporal convolution stands in for the TSM skim network, or an MLP) and a
softmax over T gives the sampling distribution pi. Training draws m frames without replacement
from pi and applies REINFORCE with the probability of the drawn *set*:

* m <= :attr:`OCSamplerConfig.exact_max_m` (8): the exact probability of the unordered set, all
  m! orders of sequential without-replacement draws summed (:func:`set_log_prob`, a dynamic
  programme over the 2^m subsets of the chosen set, differentiable);
* above: the log-probability of the order in which the frames were drawn
  (:func:`sequence_log_prob`). REINFORCE with it is still an unbiased gradient estimate (the
  ordered draw is the sampled random variable and the reward depends only on its set), only with
  more variance than the set's; OCSampler's code instead approximates with the frames' temporal
  order.

The reward is label-free by default (its code's ``reward_kind=1``): the frozen classifier's
top-class confidence on the drawn frames minus that on a random TSN-style subset (one random
frame in each of m equal segments, its ``bp_mode='tsn'``). ``reward="true_class"`` uses the
true class's probability instead. The classifier's prediction of a subset is the mean of the
kept frames' probabilities of the ``predict`` stream (fused by default), through the shared
:func:`~frame_select_env.core.selection.aggregate_predictions`. The loss adds the entropy
bonus of its code (``explore_rate``). At test the policy's scores are pi; top-m keeps the m most
probable frames.

The helpers :func:`training_source` and :func:`predict_probs` (the store's training and
validation data for any field method) live here and are shared with
:mod:`baselines_zoo.field.liteeval`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines_zoo.field.checkpoint import load_trained, save_checkpoint
from baselines_zoo.field.options import OnEpoch, StoreArg, TrainingOptions, check_config
from frame_select_env.core.config import Range
from frame_select_env.core.selection import aggregate_predictions, fuse_streams
from frame_select_env.envs.observations import ObservationSource
from frame_select_env.evaluation.runner import SplitData, evaluate_importance, load_split
from frame_select_env.pipeline.tsn.data import train_offsets
from frame_select_env.store import FeatureStore
from frame_select_env.store.builtin import store_or_builtin

METHOD = "ocsampler"
SCORERS = ("conv", "mlp")
REWARDS = ("confidence", "true_class")
INPUTS = ("both", "features")


@dataclass
class OCSamplerConfig(TrainingOptions):
    """Hyperparameters of the OCSampler-style sampler (defaults: the built-in store, ~10 s).

    The optimiser options (``epochs`` 40, ``batch_size``, ``lr``, ``weight_decay``, ``grad_clip``
    40, its code's) are :class:`~baselines_zoo.field.options.TrainingOptions`'.

    :param m: frames drawn per video in training (OCSampler trains one model per budget,
        e.g. "10 to 5"; at test any m takes the top-m of pi).
    :param scorer: ``conv`` (1-D temporal convolution over T, standing in for TSM's temporal
        shift) or ``mlp`` (each frame alone).
    :param inputs: ``both`` (the cheap stream's features and class probabilities) or
        ``features``.
    :param hidden: hidden units of the scorer.
    :param kernel: temporal kernel of the ``conv`` scorer (odd).
    :param reward: ``confidence`` (label-free: top-class probability, its code's default) or
        ``true_class`` (the true class's probability).
    :param entropy_weight: weight of the entropy bonus of pi (its code's ``explore_rate``, 0.1).
    :param samples: subsets drawn per video per update.
    :param exact_max_m: the largest m whose set probability is computed exactly (2^m terms).
    """

    epochs: int = 40
    grad_clip: float = 40.0
    m: int = 8
    scorer: str = "conv"
    inputs: str = "both"
    hidden: int = 64
    kernel: int = 3
    reward: str = "confidence"
    entropy_weight: float = 0.1
    samples: int = 4
    exact_max_m: int = 8

    def __post_init__(self) -> None:
        count = Range(ge=1, integer=True)
        check_config(self, {"m": count, "hidden": count, "samples": count,
                            "kernel": count, "exact_max_m": Range(ge=1, le=12, integer=True),
                            "entropy_weight": Range(ge=0)},
                     rules={"kernel": (self.kernel % 2 == 1, "odd")},
                     choices={"scorer": SCORERS, "reward": REWARDS, "inputs": INPUTS})


# ----------------------------------------------------------------------------- set probability


def sequence_log_prob(logits: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Log-probability of drawing the frames ``order`` in that order, without replacement.

    :param logits: (B, T) unnormalised log-probabilities of pi.
    :param order: (B, k) distinct frame indices, in drawing order.
    :return: (B,) ``sum_i [l_{o_i} - logsumexp(l over frames not yet drawn)]``.
    """
    k = order.shape[1]
    picked = logits.gather(1, order)  # (B, k)
    # remaining mass before draw i: every frame but the i earlier draws
    taken = torch.zeros_like(logits, dtype=torch.bool)
    denoms = []
    for i in range(k):
        denoms.append(logits.masked_fill(taken, float("-inf")).logsumexp(1))
        taken = taken.scatter(1, order[:, i:i + 1], True)
    return (picked - torch.stack(denoms, 1)).sum(1)


def _subset_tables(m: int, device: torch.device
                   ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor],
                              torch.Tensor]:
    """Index tables of the subset DP, by popcount level: members, predecessors, validity."""
    n = 1 << m
    bits = torch.tensor([[(a >> i) & 1 for i in range(m)] for a in range(n)], dtype=torch.bool)
    levels: list[torch.Tensor] = []
    prevs: list[torch.Tensor] = []
    valid: list[torch.Tensor] = []
    for k in range(1, m + 1):
        members = torch.tensor([a for a in range(n) if bin(a).count("1") == k])
        levels.append(members)
        # predecessor of A without element i (when i is in A; else a dummy 0, masked out)
        prev = members[:, None] ^ (1 << torch.arange(m))[None, :]
        ok = bits[members]
        prevs.append(torch.where(ok, prev, torch.zeros_like(prev)))
        valid.append(ok)
    return ([x.to(device) for x in levels], [x.to(device) for x in prevs],
            [x.to(device) for x in valid], bits.to(device))


def set_log_prob(logits: torch.Tensor, subset: torch.Tensor) -> torch.Tensor:
    """Exact log-probability that m draws without replacement from softmax(logits) give ``subset``.

    The probability of the unordered set S is the sum over its m! orders of the sequential
    draws' probabilities. With ``f(A)`` the probability that the first |A| draws are the set A
    (any order), ``f(A) = sum_{a in A} f(A - a) * pi_a / (1 - pi(A - a))``, a dynamic programme
    over the 2^m subsets of S (m * 2^m terms instead of m! * m), computed in log space and
    differentiable in ``logits``.

    :param logits: (B, T) unnormalised log-probabilities.
    :param subset: (B, m) distinct frame indices (any order).
    :return: (B,) log P(S).
    :raises ValueError: for m > 16 (use :func:`sequence_log_prob`).
    """
    b, t = logits.shape
    m = subset.shape[1]
    if m > 16:
        raise ValueError(f"set_log_prob: m = {m} needs 2^m terms; use sequence_log_prob above 16")
    if m == t:  # the whole video: probability 1 (keeps the graph for a uniform call site)
        return logits.sum(1) * 0.0
    dev = logits.device
    levels, prevs, valid, bits = _subset_tables(m, dev)
    n = 1 << m
    chosen = logits.gather(1, subset)  # (B, m)
    rest = torch.ones_like(logits, dtype=torch.bool).scatter(1, subset, False)
    lse_rest = logits.masked_fill(~rest, float("-inf")).logsumexp(1)  # mass outside S
    # log(1 - pi(B)) + log Z for every proper subset B of S: the mass of everything but B
    proper = bits[: n - 1]
    inside = chosen[:, None, :].masked_fill(proper[None], float("-inf")).logsumexp(-1)
    denom = torch.logaddexp(lse_rest[:, None], inside)  # (B, n - 1)
    logf = torch.full((b, n), float("-inf"), dtype=logits.dtype, device=logits.device)
    logf = logf.index_copy(1, torch.zeros(1, dtype=torch.long, device=dev),
                           logits.new_zeros(b, 1))  # f(empty set) = 1
    for members, prev, ok in zip(levels, prevs, valid, strict=True):
        # term for adding element i to prev = A - i: log pi_i - log(1 - pi(prev))
        step = chosen[:, None, :] - denom[:, prev.reshape(-1)].reshape(b, *prev.shape)
        cand = (logf[:, prev.reshape(-1)].reshape(b, *prev.shape) + step)
        cand = cand.masked_fill(~ok[None], float("-inf"))
        logf = logf.index_copy(1, members, cand.logsumexp(-1))
    return logf[:, n - 1]


def brute_force_set_prob(probs: np.ndarray, subset: tuple[int, ...]) -> float:
    """P(set) by enumerating the m! orders of sequential draws (the definition; for tests).

    :param probs: (T,) probabilities summing to 1.
    :param subset: the set's frame indices.
    :return: the probability that m draws without replacement give exactly this set.
    """
    total = 0.0
    for order in itertools.permutations(subset):
        p, left = 1.0, 1.0
        for i in order:
            p *= probs[i] / left
            left -= probs[i]
        total += p
    return total


def draw_log_prob(logits: torch.Tensor, order: torch.Tensor, exact_max_m: int = 8
                  ) -> torch.Tensor:
    """The log-probability REINFORCE uses for a draw: exact set for m <= ``exact_max_m``.

    :param logits: (B, T).
    :param order: (B, m) frames in drawing order.
    :param exact_max_m: the largest m computed exactly; above, the ordered draw's probability.
    :return: (B,) log-probabilities.
    """
    if order.shape[1] <= exact_max_m:
        return set_log_prob(logits, order)
    return sequence_log_prob(logits, order)


def sample_without_replacement(logits: torch.Tensor, m: int, generator: torch.Generator
                               ) -> torch.Tensor:
    """Draw m frames from softmax(logits) without replacement, in drawing order (Gumbel top-k).

    Perturbing the logits with i.i.d. Gumbel noise and sorting is the same distribution as m
    sequential draws, each renormalised over the frames left.

    :param logits: (B, T).
    :param m: frames per draw (<= T).
    :param generator: the torch generator (seeded by the caller).
    :return: (B, m) int64 frame indices.
    """
    u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype).clamp(1e-20, 1.0)
    keys = logits.detach() - torch.log(-torch.log(u))
    return keys.topk(m, dim=1).indices


# ----------------------------------------------------------------------------- data


def predict_probs(data: SplitData, predict: str) -> np.ndarray:
    """Per-frame, per-view probabilities (B, T, V, C) of ``predict`` in a :func:`load_split`.

    :param data: the loaded split (it must hold every stream ``predict`` needs).
    :param predict: a stream or ``fused`` (the streams' probabilities averaged per frame, which
        averaged over frames equals the fusion of the streams' video-level predictions).
    :raises ValueError: a stream ``predict`` needs is not loaded.
    """
    streams = fused_streams(data) if predict == "fused" else [predict]
    missing = [s for s in streams if s not in data.obs]
    if missing:
        raise ValueError(f"predict {predict!r} needs stream(s) {missing}, not loaded "
                         f"(loaded: {sorted(data.obs)})")
    if len(streams) == 1:
        return data.obs[streams[0]]["predictions"]
    return fuse_streams({s: data.obs[s]["predictions"] for s in streams})


def fused_streams(data: SplitData) -> list[str]:
    """The loaded streams the fused prediction averages: the store's paid ones, in load order.

    An observe-only stream (a preview, :attr:`FeatureStore.observe_only`) loaded beside them is
    read by a selector but never fused.

    :param data: a :func:`load_split` result.
    """
    observe_only = set(getattr(data.store, "observe_only", None) or ())
    return [s for s in data.streams if s not in observe_only]


def training_source(store: Any, split: str, observe: str, predict: str,
                    stream: str | None = None) -> ObservationSource:
    """The env's observation source for training a field method on one split.

    :param store: a path, an open store or ``None`` (the built-in store).
    :param split: ``train`` or ``val``.
    :param observe: the cheap stream read on all frames.
    :param predict: the stream whose probabilities score a selection.
    :param stream: the source's stream (default ``observe``; LiteEval reads ``predict``'s
        features through a second source).
    :return: an :class:`ObservationSource` with every view kept (``view="random"``).
    """
    return ObservationSource(store_or_builtin(store), split=split,
                             stream=stream or observe, observe=stream or observe,
                             predict=predict, state="both", view="random")


def _loaded_streams(store: FeatureStore, *names: str) -> list[str]:
    """The store streams that ``names`` (streams or ``fused``) need, in store order.

    An observe-only stream (a preview) is loaded when named, never as part of ``fused``.
    """
    want = set()
    for n in names:
        want.update(store.streams if n == "fused" else [n])
    return [s for s in store.all_streams if s in want]


# ----------------------------------------------------------------------------- model


class OCSamplerNet(nn.Module):
    """Per-frame scorer: standardised cheap states (B, T, ·) -> logits of pi over T (B, T).

    :param feature_dim: D of the observed stream.
    :param num_classes: C.
    :param config: the architecture fields of :class:`OCSamplerConfig`.
    """

    in_mean: torch.Tensor
    in_std: torch.Tensor

    def __init__(self, feature_dim: int, num_classes: int, config: OCSamplerConfig) -> None:
        super().__init__()
        self.feature_dim, self.num_classes = int(feature_dim), int(num_classes)
        self.use_predictions = config.inputs == "both"
        d_in = self.feature_dim + (self.num_classes if self.use_predictions else 0)
        # standardisation statistics of the training split; buffers so they travel with the
        # state dict
        self.register_buffer("in_mean", torch.zeros(d_in))
        self.register_buffer("in_std", torch.ones(d_in))
        self.conv = config.scorer == "conv"
        k = config.kernel if self.conv else 1
        # a kernel-1 convolution is the per-frame MLP; kernel k mixes k neighbouring frames
        self.body = nn.Conv1d(d_in, config.hidden, k, padding=k // 2)
        self.head = nn.Conv1d(config.hidden, 1, 1)

    def inputs(self, features: torch.Tensor, predictions: torch.Tensor | None) -> torch.Tensor:
        """The unstandardised per-frame input (B, T, d_in)."""
        if not self.use_predictions:
            return features
        if predictions is None:
            raise ValueError("OCSamplerNet (inputs='both') needs obs['predictions']")
        return torch.cat([features, predictions], -1)

    def forward(self, features: torch.Tensor, predictions: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Logits of pi (B, T).

        :param features: (B, T, D) cheap-stream features.
        :param predictions: (B, T, C) cheap-stream class probabilities.
        """
        x = (self.inputs(features, predictions) - self.in_mean) / self.in_std
        return self.head(F.relu(self.body(x.transpose(1, 2)))).squeeze(1)


def _obs_tensors(obs: Mapping[str, Any], feature_dim: int, num_classes: int, who: str
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(features, predictions) tensors of a batched observation, checked against the model."""
    if "features" not in obs:
        raise ValueError(f"{who} needs obs['features'] (B, T, {feature_dim}) of its observed "
                         f"stream; got keys {sorted(obs)}")
    f = torch.as_tensor(np.asarray(obs["features"]), dtype=torch.float32)
    if f.ndim != 3 or f.shape[-1] != feature_dim:
        raise ValueError(f"{who} was trained on features (B, T, {feature_dim}), got "
                         f"{tuple(f.shape)}: another stream or store?")
    p = obs.get("predictions")
    pt = None if p is None else torch.as_tensor(np.asarray(p), dtype=torch.float32)
    if pt is not None and (pt.ndim != 3 or pt.shape[-1] != num_classes):
        raise ValueError(f"{who} was trained on predictions (B, T, {num_classes}), got "
                         f"{tuple(pt.shape)}")
    return f, pt


class OCSamplerPolicy:
    """OCSampler-style selection policy: scores are pi, the sampler's softmax over T.

    :param module: the trained :class:`OCSamplerNet`.
    :param config: its :class:`OCSamplerConfig`.
    :param observe: the stream it reads on all T frames.
    :param predict: the stream it was rewarded on (paid for on the kept frames only).
    :param name: table name.
    """

    uses_label = False

    def __init__(self, module: OCSamplerNet, config: OCSamplerConfig, observe: str = "rgb",
                 predict: str = "fused", name: str = METHOD) -> None:
        self.module = module.eval()
        self.config = config
        self.observe, self.predict, self.name = observe, predict, name
        self.observes = (observe,)
        self.train_log: list[dict[str, float]] = []

    @torch.no_grad()
    def scores(self, obs: Mapping[str, Any], info: Mapping[str, Any] | None = None
               ) -> np.ndarray:
        """The sampler's probability pi (B, T) of each frame.

        :param obs: ``{"features": (B, T, D), "predictions": (B, T, C)}`` of ``observe``.
        :param info: unused (the sampler never reads the label).
        """
        f, p = _obs_tensors(obs, self.module.feature_dim, self.module.num_classes, self.name)
        return torch.softmax(self.module(f, p), 1).numpy().astype(np.float32)

    def macs_per_view(self, num_frames: int) -> float:
        """MACs of one pass over one view's T frames (the scorer; counted, not estimated)."""
        from frame_select_env.pipeline.cost import count_macs

        f = torch.zeros(1, num_frames, self.module.feature_dim)
        p = torch.full((1, num_frames, self.module.num_classes), 1.0 / self.module.num_classes)
        return float(count_macs(self.module, f, p))


# ----------------------------------------------------------------------------- training


def _rewards(probs: np.ndarray, labels: np.ndarray, order: np.ndarray, reference: np.ndarray,
             kind: str) -> np.ndarray:
    """Reward of each draw: the classifier's confidence on it minus on the reference subset.

    :param probs: (N, T, C) per-frame probabilities of the ``predict`` stream.
    :param labels: (N,) true classes (read only by ``true_class``).
    :param order: (N, m) drawn frames.
    :param reference: (N, m) the TSN-style subset's frames.
    :param kind: ``confidence`` or ``true_class``.
    """
    def confidence(frames: np.ndarray) -> np.ndarray:
        mask = np.zeros(probs.shape[:2], dtype=bool)
        np.put_along_axis(mask, frames, True, axis=1)
        video = aggregate_predictions(probs, mask)  # mean over the kept frames
        if kind == "true_class":
            return video[np.arange(len(video)), labels]
        return video.max(1)

    return (confidence(order) - confidence(reference)).astype(np.float32)


def tsn_subsets(n: int, num_frames: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """TSN-style random subsets: one random frame in each of m equal segments, per video.

    :param n: videos.
    :param num_frames: T.
    :param m: segments (frames per subset).
    :param rng: the generator.
    :return: (n, m) int64 frame indices.
    """
    return np.stack([train_offsets(num_frames, m, 1, rng) for _ in range(n)])


def validation_accuracy(policy: Any, data: SplitData, m: int, observe: str, predict: str
                        ) -> float:
    """Top-1 (%) of the ``predict`` stream on a split with the policy's top-m frames (frame scheme).

    :param policy: a scores policy.
    :param data: the split (:func:`load_split`).
    :param m: frames kept.
    :param observe: the stream the policy scores from.
    :param predict: the stream whose kept frames predict.
    """
    from frame_select_env.evaluation.runner import policy_importance

    imp = policy_importance(policy, data.obs[observe])
    rows = evaluate_importance(predict_probs(data, predict), imp, data.labels, ms=[m],
                               schemes=["frame"])
    return float(cast(list[dict[str, Any]], rows)[0]["accuracy"])


def train(store: StoreArg, cfg: OCSamplerConfig | None = None, *, observe: str = "rgb",
          predict: str = "fused", seed: int = 0, progress: bool = False,
          on_epoch: OnEpoch | None = None) -> OCSamplerPolicy:
    """Train the OCSampler-style sampler on a store's train split; keep the best epoch on val.

    :param store: a feature store (path or open), or ``None`` for the built-in store.
    :param cfg: hyperparameters (defaults: :class:`OCSamplerConfig`).
    :param observe: the cheap stream read on all frames.
    :param predict: the stream (or ``fused``) whose kept frames the reward scores.
    :param seed: seeds the initialisation, the draws and the views.
    :param progress: print one line per epoch.
    :param on_epoch: called after each epoch with ``(epoch, val top-1 at cfg.m)`` when the store
        has a val split (a hyperparameter search reports it; it may raise to stop training).
    :return: the trained :class:`OCSamplerPolicy` (its ``train_log`` holds the epochs).
    """
    cfg = cfg or OCSamplerConfig()
    src = training_source(store, "train", observe, predict)
    num_frames = len(src.frames)
    if cfg.m > num_frames:
        raise ValueError(f"OCSamplerConfig.m = {cfg.m} exceeds the store's T = {num_frames} "
                         f"frames ({src.store.path})")
    has_val = len(src.store.indices("val")) > 0
    val = load_split(src.store, "val", _loaded_streams(src.store, observe, predict)) \
        if has_val else None
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = OCSamplerNet(src.feature_dim, src.num_classes, cfg)
    with torch.no_grad():  # standardise with the training split's statistics (every view)
        every = src.gather(np.arange(src.num_videos))
        x = net.inputs(torch.as_tensor(every["features"]),
                       torch.as_tensor(every["predictions"])).reshape(-1, net.in_mean.numel())
        net.in_mean.copy_(x.mean(0))
        net.in_std.copy_(x.std(0).clamp(min=1e-3))
    opt = cfg.optimizer(net)
    policy = OCSamplerPolicy(net, cfg, observe, predict)
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    labels_all = src.labels
    for epoch in range(cfg.epochs):
        net.train()
        order_idx = rng.permutation(src.num_videos)
        totals = {"reward": 0.0, "loss": 0.0, "entropy": 0.0}
        for start in range(0, len(order_idx), cfg.batch_size):
            idx = order_idx[start:start + cfg.batch_size]
            batch = src.gather(idx, src.draw_views(rng, len(idx)))  # a random crop per video
            probs = np.repeat(src.reward_probs(batch), cfg.samples, axis=0)
            labels = np.repeat(labels_all[idx], cfg.samples)
            logits = net(torch.as_tensor(batch["features"]),
                         torch.as_tensor(batch["predictions"]))
            logits = logits.repeat_interleave(cfg.samples, 0)
            drawn = sample_without_replacement(logits, cfg.m, gen)
            reference = tsn_subsets(len(drawn), num_frames, cfg.m, rng)
            reward = torch.as_tensor(_rewards(probs, labels, drawn.numpy(), reference,
                                              cfg.reward))
            logp = draw_log_prob(logits, drawn, cfg.exact_max_m)
            log_pi = torch.log_softmax(logits, 1)
            entropy = -(log_pi.exp() * log_pi).sum(1)
            loss = -(reward * logp + cfg.entropy_weight * entropy).mean()
            cfg.step(opt, loss, net)
            w = len(idx) / src.num_videos
            totals["reward"] += w * float(reward.mean())
            totals["loss"] += w * float(loss.detach())
            totals["entropy"] += w * float(entropy.detach().mean())
        net.eval()
        row = {"epoch": epoch + 1, **totals}
        if val is not None:
            row["val_accuracy"] = validation_accuracy(policy, val, cfg.m, observe, predict)
            if best is None or row["val_accuracy"] > best[0]:
                best = (row["val_accuracy"], {k: v.clone() for k, v in net.state_dict().items()})
        policy.train_log.append(row)
        if progress:
            print(f"[ocsampler] epoch {epoch + 1}/{cfg.epochs} reward {totals['reward']:+.4f} "
                  f"entropy {totals['entropy']:.3f} val top-1 "
                  f"{row.get('val_accuracy', float('nan')):.1f}", flush=True)
        if on_epoch is not None and "val_accuracy" in row:
            on_epoch(epoch + 1, row["val_accuracy"])
    if best is not None:  # early stopping: the epoch with the best val accuracy
        net.load_state_dict(best[1])
    net.eval()
    return policy


# ----------------------------------------------------------------------------- checkpoints


def save(policy: OCSamplerPolicy, path: str | os.PathLike) -> Path:
    """Write a trained policy atomically (config as a plain dict, weights, training log).

    :param policy: the :class:`OCSamplerPolicy`.
    :param path: the ``.pt`` file.
    """
    return save_checkpoint(METHOD, policy, {"feature_dim": policy.module.feature_dim,
                                            "num_classes": policy.module.num_classes}, path)


def load(path: str | os.PathLike) -> OCSamplerPolicy:
    """Read a policy :func:`save` wrote (``torch.load(weights_only=True)``).

    :param path: the ``.pt`` file.
    :raises ValueError: the file is not an OCSampler checkpoint, or its weights do not fit.
    """
    ckpt, cfg, net = load_trained(path, METHOD, "OCSampler", OCSamplerConfig, lambda d, c:
                                  OCSamplerNet(d["feature_dim"], d["num_classes"], c))
    policy = OCSamplerPolicy(net, cfg, ckpt["observe"], ckpt["predict"])
    policy.train_log = list(ckpt.get("train_log", []))
    return policy


__all__ = ["OCSamplerConfig", "OCSamplerNet", "OCSamplerPolicy", "brute_force_set_prob",
           "draw_log_prob", "fused_streams", "load", "predict_probs",
           "sample_without_replacement", "save", "sequence_log_prob", "set_log_prob", "train",
           "training_source", "tsn_subsets"]
