"""REINFORCE training of the attention-aware sampling agent (the paper's Algorithm 1).

For every training video the agent computes keep probabilities ``p^a_t``; ``N`` episodes sample
actions ``a_t ~ Bernoulli(p^a_t)`` and the environment (``FrameSelection-v0``, vector form) scores
each with the paper's reward (Eq. 2-4). The loss of a video is

* Eq. 8: ``-(R - b) * sum_t log pi(a_t | s_t)``, averaged over its N episodes, where ``b`` is the
  video's moving-average baseline (updated after the step with the mean of the N rewards);
* Eq. 9: ``beta * |mean_t p^a_t - m / T|`` (keep about m of the T frames).

The paper's recipe: Adam (lr 1e-5, weight decay 1e-5), 45 epochs, learning rate divided by 10 at
epochs 20 and 40, beta = 0.1, Omega = 10, m = 12. What the paper leaves open is an option of
:class:`ReinforceConfig` (defaults documented there and in the packaged
``frame_select_env/configs/as_paper.yaml``). One update uses ``batch_size`` videos at once
(one forward pass of the BiLSTM over ``batch_size * N`` sequences and one env step);
``batch_size=1`` is the paper's per-video loop.

Everything random (the epoch order, the views the env draws, the Bernoulli samples, dropout)
comes from generators seeded by ``config.seed`` and saved in every checkpoint, so an interrupted
and resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from agents.as_agent import ASAgent, ASAgentConfig
from agents.training import BASELINE_INITS as BASELINE_INITS
from agents.training import BASELINE_MODES as BASELINE_MODES
from agents.training import EpochTrainer, TrainingOptions, stats_videos
from frame_select_env.core.config import Range, UserError, load_yaml
from frame_select_env.envs.one_step.vector_env import FrameSelectionVectorEnv
from frame_select_env.pipeline.runtime import resolve_device
from frame_select_env.store import FeatureStore
from frame_select_env.store.atomic import sha256_file

LOGPROB_REDUCTIONS = ("sum", "mean")
LOG_COLUMNS = (
    "epoch", "reward", "accuracy", "accuracy_before", "mean_p", "num_selected", "loss",
    "loss_pg", "loss_sampling", "baseline", "lr", "seconds", "videos_per_s",
)


_COUNT, _POSITIVE, _NONNEGATIVE = Range(ge=1, integer=True), Range(gt=0), Range(ge=0)
#: the numbers :class:`ReinforceConfig` (and the sequential trainer's config) accept
CONFIG_RANGES = {
    "epochs": Range(ge=0, integer=True), "lr": _POSITIVE, "weight_decay": _NONNEGATIVE,
    "lr_milestones": Range(ge=0, integer=True), "lr_gamma": _POSITIVE, "beta": _NONNEGATIVE,
    "omega": _NONNEGATIVE, "m": _COUNT, "num_episodes": _COUNT, "batch_size": _COUNT,
    "baseline_momentum": Range(ge=0, lt=1), "grad_clip": _NONNEGATIVE, "proj_dim": _COUNT,
    "hidden_size": _COUNT, "num_layers": _COUNT, "dropout": Range(ge=0, lt=1),
    "num_frames": _COUNT,
}


@dataclass
class ReinforceConfig(TrainingOptions):
    """Everything that defines a training run (saved with checkpoints and agents).

    The paper's values: ``epochs=45, lr=1e-5, weight_decay=1e-5, lr_milestones=(20, 40),
    lr_gamma=0.1, beta=0.1, omega=10, m=12``. The rest is not specified by the paper.

    :param epochs: passes over the training split.
    :param lr: Adam learning rate.
    :param weight_decay: Adam weight decay.
    :param lr_milestones: epochs after which the learning rate is multiplied by ``lr_gamma``.
    :param lr_gamma: the decay factor (0.1: "divided by 10").
    :param beta: weight of the sampling loss (Eq. 9).
    :param omega: the flip bonus/penalty of the reward (Eq. 4).
    :param m: target number of kept frames (Eq. 9 pushes the mean of p^a towards m / T).
    :param num_episodes: N, episodes sampled per video per update.
    :param batch_size: videos per update (1 = the paper's per-video loop).
    :param baseline_momentum: ``b <- momentum * b + (1 - momentum) * mean(R)`` per video.
    :param baseline_mode: ``moving_average`` (the paper: the per-video moving average ``b``) or
        ``episode_mean`` (the mean reward of the video's other N - 1 episodes of this update, a
        leave-one-out baseline that follows the current policy).
    :param baseline_init: ``zero`` (start every baseline at 0) or ``first`` (at the mean reward of
        the video's first N episodes, so the first visit is not an uncentred update).
    :param logprob_reduce: ``sum`` (Eq. 8) or ``mean`` of log pi(a_t|s_t) over frames.
    :param grad_clip: max gradient norm (0 = off).
    :param proj_dim: agent input projection size per state part.
    :param hidden_size: BiLSTM hidden size per direction.
    :param num_layers: BiLSTM layers.
    :param dropout: agent dropout.
    :param log_predictions: the agent reads log-probabilities instead of probabilities.
    :param state: ``both`` (the paper), ``features`` or ``predictions`` (Table 2).
    :param view: which crop the env shows in training: ``random``, ``center``, ``mean``.
    :param shared_view: with ``view=random``, the N episodes of a video share one random view (the
        paper's N samples of one state; the BiLSTM runs once per video); ``False`` draws a view
        per episode and runs the BiLSTM on every episode (N times the compute).
    :param num_frames: T (``None`` = every stored frame).
    :param observe: the stream(s) the agent sees (``None`` = the trainer's ``stream``, the
        paper); e.g. ``observe="rgb", predict="fused"`` trains select-before-compute: the agent
        reads only the cheap RGB states and is rewarded on the fused prediction of its kept
        frames (:class:`frame_select_env.envs.observations.ObservationSource`).
    :param predict: the stream(s) the reward's prediction uses (``None`` = ``stream``).
    :param seed: the one seed of the run.
    :param device: ``cpu``, ``cuda``, ``cuda:1``, ...
    :param tensorboard: also write TensorBoard events when tensorboard is installed.
    :param extra: free-form notes kept with the run.

    The options both trainers have, with these defaults, are
    :class:`agents.training.TrainingOptions`; this class adds the rest.
    """

    beta: float = 0.1
    m: int = 12
    logprob_reduce: str = "sum"
    dropout: float = 0.0
    shared_view: bool = True
    observe: str | None = None
    predict: str | None = None

    def option_ranges(self) -> Mapping[str, Range]:
        """:data:`CONFIG_RANGES`."""
        return CONFIG_RANGES

    def option_checks(self) -> list[tuple[bool, str]]:
        """The baseline options' checks and ``logprob_reduce``'s."""
        return [*super().option_checks(),
                (self.logprob_reduce in LOGPROB_REDUCTIONS,
                 f"logprob_reduce must be one of {LOGPROB_REDUCTIONS}")]

    def agent_config(self, feature_dim: int, num_classes: int) -> ASAgentConfig:
        """The :class:`ASAgentConfig` of the agent these options train.

        :param feature_dim: D of the store's features.
        :param num_classes: C of the store's predictions.
        :return: the agent's architecture config.
        """
        return ASAgentConfig(
            feature_dim=feature_dim, num_classes=num_classes, state=self.state,
            proj_dim=self.proj_dim, hidden_size=self.hidden_size, num_layers=self.num_layers,
            dropout=self.dropout, log_predictions=self.log_predictions,
        )


#: content digests of store files, by file version (path, device, inode, size, mtime)
_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}


def store_digest(path: str | os.PathLike) -> str:
    """The sha256 of a store file's bytes, computed once per file version in a process.

    Every byte of the file counts (features, logits, labels, metadata): a store with one value
    changed has another digest, a copy or a moved file the same. A file is hashed again when
    its size or modification time changes.

    :param path: the store file.
    :return: the 64-character hex digest (:func:`frame_select_env.store.atomic.sha256_file`).
    """
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(path)
    return _DIGESTS[key]


def store_fingerprint(store: FeatureStore) -> dict[str, Any]:
    """What identifies a feature store's contents, to tell whether a resume uses the same one.

    The path is recorded for the messages only: a store moved with its checkout (or copied) is
    the same store; one with other videos, labels, splits, sizes or any other value is not.

    :param store: an open store.
    :return: primitives only (YAML- and ``weights_only``-safe): ``path``, ``videos``,
        ``num_frames``, ``num_classes``, ``feature_dims`` per stream, ``digest`` (sha256 of
        the video ids, labels and splits, shortened) and ``sha256`` (of the file's bytes,
        :func:`store_digest`: every value).
    """
    digest = hashlib.sha256()
    for part in (store.video_ids, store.labels, store.splits):
        digest.update("\0".join(map(str, part)).encode())
        digest.update(b"\1")
    return {"path": str(Path(store.path).resolve()), "videos": len(store),
            "num_frames": int(store.num_frames), "num_classes": int(store.num_classes),
            "feature_dims": {s: store.feature_dim(s) for s in store.streams},
            "digest": digest.hexdigest()[:16], "sha256": store_digest(store.path)}


def fingerprint_of(store: Any) -> dict[str, Any] | None:
    """:func:`store_fingerprint` of a :class:`FeatureStore`; ``None`` for any other source."""
    return store_fingerprint(store) if isinstance(store, FeatureStore) else None


def same_store(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two :func:`store_fingerprint` results describe the same contents (any path).

    A fingerprint recorded before ``sha256`` existed is compared on the keys it has.
    """
    keys = set(a) | set(b)
    if "sha256" not in a or "sha256" not in b:
        keys.discard("sha256")
    return all(a.get(k) == b.get(k) for k in keys - {"path"})


def describe_store(fp: Mapping[str, Any]) -> str:
    """A :func:`store_fingerprint` for a message: the path, the videos, the sizes, the digest."""
    sha = f", sha256 {str(fp['sha256'])[:12]}" if fp.get("sha256") else ""
    return (f"{fp.get('path')!r} ({fp.get('videos')} videos, T={fp.get('num_frames')}, "
            f"C={fp.get('num_classes')}, D={fp.get('feature_dims')}{sha})")


def check_run_store(config_path: Path, store: FeatureStore) -> None:
    """Refuse ``--resume`` into a run directory whose ``config.yaml`` names another store.

    Compared by :func:`store_fingerprint` (a moved copy is the same store); run directories
    written before the fingerprint existed are compared by resolved path. Nothing is checked
    when the file does not exist.

    :param config_path: the run's ``config.yaml``.
    :param store: the store the resumed run would train on.
    :raises UserError: another store; the message names both.
    """
    if not config_path.is_file():
        return
    fp = store_fingerprint(store)
    old = load_yaml(config_path, "run config")
    old_fp, old_store = old.get("store_fingerprint"), old.get("store")
    other = (not same_store(old_fp, fp) if isinstance(old_fp, dict) else
             old_store is not None and Path(old_store).resolve() != Path(store.path).resolve())
    if other:
        was = describe_store(old_fp) if isinstance(old_fp, dict) else repr(old_store)
        raise UserError(f"--resume: {str(config_path)!r} records the run's feature store "
                        f"{was}, not --store {describe_store(fp)}; resume with that store or "
                        f"use a new --out")


def check_resume(state: Mapping[str, Any], config: Any, stream: str,
                 store: Mapping[str, Any] | None, where: str = "checkpoint",
                 checkpoint_format: str = "as_reinforce/1") -> None:
    """Refuse to continue a training checkpoint as a run it is not.

    A resumed run must be the same run: the same store (by contents, see
    :func:`store_fingerprint`), stream and options. Only ``epochs`` may grow (train on to a
    later target); a checkpoint already past ``config.epochs`` is refused rather than recorded
    as an agent of fewer epochs than it has.

    :param state: a :meth:`ReinforceTrainer.state_dict`.
    :param config: the options of the run that would continue it (a dataclass with
        ``to_dict()`` and ``epochs``: :class:`ReinforceConfig` or the sequential trainer's).
    :param stream: the stream it would train.
    :param store: the :func:`store_fingerprint` of the store it would train on (``None``: not
        checked).
    :param where: where the checkpoint came from (a file), for the errors.
    :param checkpoint_format: the ``format`` a checkpoint of this trainer has
        (``seq_reinforce/1`` for :mod:`agents.seq_reinforce`).
    :raises UserError: not a checkpoint of this trainer, or another store, stream, config or a
        later epoch; the message names both sides.
    """
    if not isinstance(state, Mapping) or state.get("format") != checkpoint_format:
        raise UserError(f"{where}: not a REINFORCE training checkpoint (format "
                        f"{checkpoint_format!r})")
    again = "resume with the same options or use a new output directory"
    saved_store = state.get("store")
    if saved_store and store and not same_store(saved_store, store):
        raise UserError(f"{where}: was trained on the feature store {describe_store(saved_store)}"
                        f", not on {describe_store(store)}; {again}")
    if state.get("stream", stream) != stream:
        raise UserError(f"{where}: was trained on stream {state['stream']!r}, not {stream!r}; "
                        f"{again}")
    saved = {k: v for k, v in state["config"].items() if k not in ("epochs", "device",
                                                                    "tensorboard")}
    now = {k: v for k, v in config.to_dict().items() if k in saved}
    if saved != now:
        diff = sorted(k for k in saved if saved[k] != now.get(k))
        raise UserError(f"{where}: was trained with a different config (differs in {diff}); "
                        f"{again}")
    epoch = int(state["epoch"])
    if epoch > config.epochs:
        raise UserError(f"{where}: has already trained {epoch} epochs, more than epochs="
                        f"{config.epochs}; resume with epochs >= {epoch} (the run records the "
                        f"epochs its agents have) or use a new output directory")


def reinforce_losses(
    logits: torch.Tensor,
    actions: torch.Tensor,
    advantage: torch.Tensor,
    weight: torch.Tensor | None = None,
    beta: float = 0.1,
    target: float = 12 / 25,
    reduce: str = "sum",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 8 (policy gradient) and Eq. 9 (sampling) losses for a batch of episodes.

    :param logits: (E, T) pre-sigmoid agent outputs of the E episodes (``p^a = sigmoid``).
    :param actions: (E, T) sampled 0/1 actions.
    :param advantage: (E,) ``R - b`` of each episode.
    :param weight: (E,) 1 for real episodes, 0 for padding (default all 1); both losses average
        over the real episodes (so over the N episodes of a video, then over the videos).
    :param beta: weight of the sampling loss.
    :param target: ``m / T``.
    :param reduce: ``sum`` (Eq. 8) or ``mean`` of ``log pi(a_t|s_t)`` over the frames.
    :return: ``(-(R - b) * log pi(a|s), beta * |mean_t p^a_t - m/T|)``, each averaged.
    """
    if weight is None:
        weight = torch.ones_like(advantage)
    # log pi(a|s) of a Bernoulli with p = sigmoid(logit), stable for saturated p.
    log_pi = -F.binary_cross_entropy_with_logits(logits, actions, reduction="none")
    log_pi = log_pi.sum(-1) if reduce == "sum" else log_pi.mean(-1)
    denom = weight.sum().clamp(min=1.0)
    loss_pg = -(advantage * log_pi * weight).sum() / denom
    mean_p = torch.sigmoid(logits).mean(-1)
    loss_sampling = beta * ((mean_p - target).abs() * weight).sum() / denom
    return loss_pg, loss_sampling


class ReinforceTrainer(EpochTrainer):
    """Trains one :class:`ASAgent` on one stream of a feature store.

    Epochs, progress bar, logs and checkpoints: :class:`agents.training.EpochTrainer`.

    :param store: path of a feature store (or a :class:`frame_select_env.store.FeatureStore`).
    :param stream: ``rgb``, ``flow`` (a stream of the store) or ``fused``.
    :param config: the run's :class:`ReinforceConfig`.
    :param out_dir: where the checkpoint (``checkpoint_<tag>.pt``), the CSV log
        (``train_log_<tag>.csv``) and TensorBoard events go; ``None`` keeps nothing on disk.
    :param tag: file-name tag (default: the stream).
    :param progress: show a tqdm bar over epochs.
    :param split: the training split.
    """

    log_columns = LOG_COLUMNS
    bar_name = "REINFORCE"
    checkpoint_what = "REINFORCE training checkpoint"

    def __init__(
        self,
        store: Any,
        stream: str = "rgb",
        config: ReinforceConfig | None = None,
        out_dir: str | os.PathLike | None = None,
        tag: str | None = None,
        progress: bool = False,
        split: str = "train",
    ) -> None:
        self.config = cfg = config or ReinforceConfig()
        self.stream = stream
        self.device = resolve_device(cfg.device, who="ReinforceTrainer: device")
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.tag = tag or stream
        self.progress = progress
        # Every episode of a batch is one sub-env: batch_size videos x N episodes each.
        self.env = FrameSelectionVectorEnv(
            num_envs=cfg.batch_size * cfg.num_episodes, store=store, split=split, stream=stream,
            num_frames=cfg.num_frames, omega=cfg.omega, state=cfg.state, view=cfg.view,
            # every batch is chosen by reset(indices=...); an autoreset would gather a batch of
            # random videos after each step only to throw it away
            autoreset_mode="disabled", observe=cfg.observe, predict=cfg.predict,
        )
        src = self.env.source
        if src.num_frames is None:  # ObservationSource sets it to the number of kept frames
            raise RuntimeError(f"ReinforceTrainer: {src.summary()} did not resolve num_frames")
        self.num_videos, self.num_frames = src.num_videos, src.num_frames
        if cfg.m > self.num_frames:
            raise ValueError(f"ReinforceConfig: m={cfg.m} exceeds the number of frames "
                             f"T={self.num_frames} of {src.summary()}")

        torch.manual_seed(cfg.seed)
        self.agent = ASAgent(cfg.agent_config(src.feature_dim, src.num_classes))
        # Input standardisation from (up to 512 videos of) the training split, every view.
        self.agent.set_input_stats(src.gather(stats_videos(self.num_videos)))
        self.init_training(self.num_videos)
        self.env.reset(seed=cfg.seed)
        #: the store's :func:`store_fingerprint`, saved in checkpoints so a resume can tell
        self.store_fingerprint = fingerprint_of(getattr(src, "store", None))

    # ----------------------------------------------------------------------------- training

    def losses(
        self, logits: torch.Tensor, actions: torch.Tensor, advantage: torch.Tensor,
        weight: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`reinforce_losses` with this run's beta, m, T and log-prob reduction."""
        cfg = self.config
        return reinforce_losses(logits, actions, advantage, weight, beta=cfg.beta,
                                target=cfg.m / self.num_frames, reduce=cfg.logprob_reduce)

    def train_step(self, videos: np.ndarray) -> dict[str, float]:
        """One update on up to ``batch_size`` videos (positions in the training split)."""
        cfg = self.config
        b, n = cfg.batch_size, cfg.num_episodes
        real = len(videos)
        # Pad a short last batch with copies of its first video; padded episodes get weight 0.
        padded = np.concatenate([videos, np.full(b - real, videos[0], dtype=videos.dtype)])
        episodes = np.repeat(padded, n)  # video i's N episodes are rows i*N .. i*N+N-1
        options: dict[str, Any] = {"indices": episodes}
        src = self.env.source
        shared = cfg.shared_view or src.fixed_view
        if shared and not src.fixed_view:
            options["views"] = np.repeat(self.rng.integers(0, src.num_views, size=b), n)
        obs, _ = self.env.reset(options=options)
        self.agent.train()
        if shared:  # one forward pass per real video; its N episodes sample from the same p^a
            logits = self.agent.logits({k: v[:real * n:n] for k, v in obs.items()})
            if real < b:  # padding episodes: constant logits, weight 0 in the loss
                logits = torch.cat([logits, logits.new_zeros(b - real, logits.shape[1])])
            logits = logits.repeat_interleave(n, dim=0)
        else:
            logits = self.agent.logits(obs)
        probs = torch.sigmoid(logits.detach())
        actions = torch.bernoulli(probs, generator=self.sampler)
        _, reward, _, _, info = self.env.step(actions.to(torch.int8).cpu().numpy())
        reward = reward.reshape(b, n)[:real].astype(np.float64)
        mean_reward = reward.mean(1)
        base = self.baselines[videos].copy()
        if cfg.baseline_init == "first":
            base = np.where(self.baseline_seen[videos], base, mean_reward)
        advantage = np.zeros((b, n))
        if cfg.baseline_mode == "episode_mean":  # leave-one-out mean of the other episodes
            advantage[:real] = reward - (reward.sum(1, keepdims=True) - reward) / (n - 1)
        else:
            advantage[:real] = reward - base[:, None]
        weight = np.zeros((b, n))
        weight[:real] = 1.0
        loss_pg, loss_sampling = self.losses(
            logits, actions,
            torch.as_tensor(advantage.reshape(-1), dtype=torch.float32, device=self.device),
            torch.as_tensor(weight.reshape(-1), dtype=torch.float32, device=self.device),
        )
        loss = loss_pg + loss_sampling
        self.update(loss)
        # Algorithm 1: the baseline moves towards the mean reward of this video's episodes.
        mom = cfg.baseline_momentum
        self.baselines[videos] = mom * base + (1.0 - mom) * mean_reward
        self.baseline_seen[videos] = True
        keep = slice(0, real * n)
        return {
            "reward": float(reward.sum()), "correct": float(info["correct_after"][keep].sum()),
            "correct_before": float(info["correct_before"][keep].sum()),
            "mean_p": float(probs[keep].mean(-1).sum()),
            "num_selected": float(info["num_selected"][keep].sum()),
            "loss": loss.item() * real, "loss_pg": loss_pg.item() * real,
            "loss_sampling": loss_sampling.item() * real, "episodes": real * n, "videos": real,
        }

    def epoch_figures(self, totals: Mapping[str, float]) -> dict[str, Any]:
        """Per episode: reward, accuracies, mean ``p^a``, frames kept; per video: the losses."""
        ep, vids = totals["episodes"], totals["videos"]
        return {
            "reward": totals["reward"] / ep, "accuracy": 100 * totals["correct"] / ep,
            "accuracy_before": 100 * totals["correct_before"] / ep, "mean_p": totals["mean_p"] / ep,
            "num_selected": totals["num_selected"] / ep, "loss": totals["loss"] / vids,
            "loss_pg": totals["loss_pg"] / vids, "loss_sampling": totals["loss_sampling"] / vids,
            "baseline": float(self.baselines.mean()),
        }

    def bar_postfix(self, row: Mapping[str, Any]) -> dict[str, str]:
        """The progress bar's figures: reward, accuracy and mean ``p^a`` of the epoch."""
        return {"reward": f"{row['reward']:.2f}", "acc": f"{row['accuracy']:.1f}",
                "p": f"{row['mean_p']:.2f}"}

    # ----------------------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (tensors and primitives only)."""
        state = {"format": "as_reinforce/1", "stream": self.stream,
                 "store": self.store_fingerprint, **self.training_state()}
        state["rng"]["env"] = self.env.np_random.bit_generator.state  # the views the env draws
        return state

    def load_state_dict(self, state: Mapping[str, Any], where: str = "checkpoint") -> None:
        """Resume from a :meth:`state_dict`: weights, optimizer, baselines, RNG states and log.

        :param state: a training checkpoint (``format`` ``as_reinforce/1``).
        :param where: where it came from (a file), for the errors.
        :raises ValueError: not a REINFORCE checkpoint, or of another run (:func:`check_resume`).
        """
        check_resume(state, self.config, self.stream, self.store_fingerprint, where)
        self.restore_training_state(state)
        self.env.np_random.bit_generator.state = state["rng"]["env"]


def train_agent(
    store: Any,
    stream: str = "rgb",
    config: ReinforceConfig | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = False,
) -> tuple[ASAgent, list[dict[str, Any]]]:
    """Train an agent (resuming from ``out_dir``'s checkpoint when ``resume``).

    :return: ``(the trained agent in eval mode, on the CPU; the per-epoch log)``.
    """
    trainer = ReinforceTrainer(store, stream, config, out_dir=out_dir, progress=progress)
    if resume:
        trainer.load_checkpoint()
    log = trainer.train()
    return trainer.agent.cpu().eval(), log
