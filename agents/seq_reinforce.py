"""REINFORCE for the sequential AS agent on ``FrameSelectionSeq-v0`` (Algorithm 1, carried over).

The paper's recipe, from one decision per video to one per step: for every training video, N
episodes run on the env's own batched step
(:func:`frame_select_env.envs.sequential.rollout.rollout`), each
action drawn from the agent's softmax over the unpaid frames and stop. The env scores every step
(Eq. 4's rule between the predictions before and after it, minus the frame's cost), and the loss
of an episode is

``-sum_s (G_s - b_s) log pi(a_s | o_s) - entropy_coef * H(pi(. | o_s))``

with ``G_s`` the return from step s on (undiscounted: episodes are at most T + 1 steps) and
``b_s`` the per-video baseline: the paper's moving average of the video's returns, kept per step
(``moving_average``), or the mean of the video's other N - 1 episodes (``episode_mean``). Adam
with weight decay and a step schedule, as for the one-step agent (:mod:`agents.reinforce`).

Everything random (the epoch order, the views, the sampled actions) comes from generators seeded
by ``config.seed`` and saved in every checkpoint, so a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.reinforce import CONFIG_RANGES, check_resume, fingerprint_of
from agents.seq_agent import SeqAgentConfig, SeqASAgent, SeqASPolicy, save_seq_agent
from agents.training import EpochTrainer, TrainingOptions, stats_videos
from frame_select_env.core.config import Range
from frame_select_env.core.policy import without_stop
from frame_select_env.envs.sequential.env import FrameSelectionSeqEnv
from frame_select_env.envs.sequential.rollout import rollout
from frame_select_env.pipeline.runtime import resolve_device

CHECKPOINT_FORMAT = "seq_reinforce/1"
LOG_COLUMNS = (
    "epoch", "return", "accuracy", "accuracy_cheap", "frames", "decisions", "entropy", "loss",
    "lr", "seconds", "videos_per_s",
)
#: The :class:`SeqReinforceConfig` fields that are ``FrameSelectionSeq-v0`` options.
ENV_FIELDS = ("observe", "pay", "max_frames", "cost_weight", "cost_unit", "budget_gmacs",
              "omega", "state", "num_frames")

#: the numbers :class:`SeqReinforceConfig` accepts (the one-step trainer's, and its own)
SEQ_CONFIG_RANGES = {
    **{k: v for k, v in CONFIG_RANGES.items() if k not in ("m", "beta", "dropout")},
    "entropy_coef": Range(ge=0), "max_frames": Range(ge=1, integer=True),
    "cost_weight": Range(ge=0), "budget_gmacs": Range(gt=0),
    "train_budgets": Range(ge=1, integer=True),
}


@dataclass
class SeqReinforceConfig(TrainingOptions):
    """Everything that defines a training run of the sequential agent.

    Env options (``FrameSelectionSeq-v0``'s, recorded with the agent so the evaluation rebuilds
    its env): ``observe``, ``pay``, ``max_frames``, ``cost_weight``, ``cost_unit``,
    ``budget_gmacs``, ``omega``, ``state``, ``num_frames``; ``view`` is the training view.

    :param epochs: passes over the training split.
    :param lr: Adam learning rate.
    :param weight_decay: Adam weight decay.
    :param lr_milestones: epochs after which the learning rate is multiplied by ``lr_gamma``.
    :param lr_gamma: the decay factor.
    :param num_episodes: N, episodes per video per update.
    :param batch_size: videos per update.
    :param baseline_mode: ``moving_average`` (per video and step, the paper's) or
        ``episode_mean`` (leave-one-out mean over the video's N episodes, per step).
    :param baseline_momentum: of the moving average.
    :param baseline_init: ``zero`` or ``first`` (start at the first visit's mean).
    :param entropy_coef: weight of the entropy bonus (keeps exploring the frames).
    :param grad_clip: max gradient norm (0 = off).
    :param proj_dim: per-part projection size.
    :param hidden_size: BiLSTM hidden size per direction.
    :param num_layers: BiLSTM layers.
    :param log_predictions: the agent reads log-probabilities.
    :param view: training view: ``random`` (a crop per video and update, the N episodes share
        it), ``center`` or ``mean``.
    :param stop: the agent may stop before its budget in training; ``False`` hides stop while
        a frame can be paid, so every episode pays its whole budget (as the evaluation's
        ``stop=False`` policy does).
    :param train_budgets: budgets (most flow frames paid) to train one agent for: each video's
        N episodes get one drawn from this list, and the agent reads the budget left in its
        observation; ``None`` trains for ``max_frames`` only. The agent is then evaluated at
        each of them.
    :param seed: the one seed of the run.
    :param device: ``cpu``, ``cuda``, ...
    :param tensorboard: also write TensorBoard events when tensorboard is installed.
    :param extra: free-form notes kept with the run.

    The options both trainers have are :class:`agents.training.TrainingOptions`; this class
    changes some of their defaults and adds the rest.
    """

    epochs: int = 30
    lr: float = 1e-3
    lr_milestones: tuple[int, ...] = (20, 27)
    baseline_init: str = "first"
    proj_dim: int = 64
    hidden_size: int = 64
    log_predictions: bool = True
    entropy_coef: float = 0.01
    observe: str = "rgb"
    pay: str | None = None
    max_frames: int | None = 8
    cost_weight: float = 0.0
    cost_unit: str = "macs"
    budget_gmacs: float | None = None
    train_budgets: tuple[int, ...] | None = None
    stop: bool = True

    def option_ranges(self) -> Mapping[str, Range]:
        """:data:`SEQ_CONFIG_RANGES`."""
        return SEQ_CONFIG_RANGES

    def normalize(self) -> None:
        """``lr_milestones`` and ``train_budgets`` as tuples of ints (the budgets sorted, once)."""
        super().normalize()
        if self.train_budgets is not None:
            self.train_budgets = tuple(sorted({int(b) for b in self.train_budgets}))

    def option_checks(self) -> list[tuple[bool, str]]:
        """``train_budgets`` not empty, then the baseline options' checks."""
        return [(self.train_budgets is None or (len(self.train_budgets) > 0
                                                 and min(self.train_budgets) >= 1),
                 "train_budgets must be None or ints >= 1"), *super().option_checks()]

    @property
    def budgets(self) -> tuple[int | None, ...]:
        """The budgets the agent is trained (and evaluated) at."""
        return self.train_budgets if self.train_budgets else (self.max_frames,)

    def env_kwargs(self) -> dict[str, Any]:
        """The task's ``FrameSelectionSeq-v0`` options, recorded with the trained agent.

        ``store``, ``split`` and ``view`` are not among them: the evaluation chooses those.
        """
        return {k: getattr(self, k) for k in ENV_FIELDS}


def episode_returns(rewards: np.ndarray) -> np.ndarray:
    """``G_s = sum_{s' >= s} r_s'`` per episode (S, E): the return from each step on."""
    return np.flip(np.cumsum(np.flip(rewards, 0), 0), 0).astype(np.float64)


class _Sampler:
    """The agent as the rollout's policy in training: samples actions, keeps log pi and H."""

    def __init__(self, agent: SeqASAgent, generator: torch.Generator, stop: bool = True) -> None:
        self.agent = agent
        self.generator = generator
        self.stop = stop
        self.log_probs: list[torch.Tensor] = []
        self.entropies: list[torch.Tensor] = []

    def act(self, obs: Mapping[str, np.ndarray], action_masks: np.ndarray) -> np.ndarray:
        if not self.stop:
            action_masks = without_stop(action_masks)
        logits = self.agent.logits(obs, action_masks)
        log_p = torch.log_softmax(logits, dim=-1)
        p = log_p.exp()
        actions = torch.multinomial(p.detach(), 1, generator=self.generator)
        self.log_probs.append(log_p.gather(1, actions).squeeze(1))
        self.entropies.append(-(p * log_p).sum(-1))
        return actions.squeeze(1).cpu().numpy()


class SeqReinforceTrainer(EpochTrainer):
    """Trains one :class:`SeqASAgent` on the training split of a store.

    Epochs, progress bar, logs and checkpoints: :class:`agents.training.EpochTrainer`.

    :param store: path of a feature store (``None``: the built-in one).
    :param config: the run's :class:`SeqReinforceConfig`.
    :param out_dir: where ``checkpoint_<tag>.pt``, ``train_log_<tag>.csv`` and TensorBoard
        events go; ``None`` keeps nothing on disk.
    :param tag: file-name tag.
    :param progress: a tqdm bar over epochs.
    :param split: the training split.
    """

    log_columns = LOG_COLUMNS
    bar_name = "seq REINFORCE"
    checkpoint_what = "sequential REINFORCE training checkpoint"

    def __init__(self, store: Any = None, config: SeqReinforceConfig | None = None,
                 out_dir: str | os.PathLike | None = None, tag: str = "seq",
                 progress: bool = False, split: str = "train") -> None:
        self.config = cfg = config or SeqReinforceConfig()
        self.device = resolve_device(cfg.device, who="SeqReinforceTrainer: device")
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.tag = tag
        self.progress = progress
        self.env = FrameSelectionSeqEnv(store, split=split, view=cfg.view, **cfg.env_kwargs())
        self.core = core = self.env.core
        self.num_videos, self.num_frames = core.num_videos, core.num_frames

        torch.manual_seed(cfg.seed)
        kinds = ("features", "predictions") if cfg.state == "both" else (cfg.state,)
        self.agent = SeqASAgent(SeqAgentConfig(
            cheap_dim=core.cheap.feature_dim, expensive_dim=core.expensive.feature_dim,
            num_classes=core.num_classes, state=cfg.state, proj_dim=cfg.proj_dim,
            hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
            log_predictions=cfg.log_predictions))
        # Standardisation from (up to 512 videos of) the training split, every view.
        stats_idx = stats_videos(self.num_videos)
        stats = {}
        for name, src in (("cheap", core.cheap), ("expensive", core.expensive)):
            got = src.gather(stats_idx)
            stats.update({f"{name}_{k}": got[k] for k in kinds})
        self.agent.set_input_stats(stats)
        # the baselines are per video and step: an episode takes at most T + 1 decisions
        self.init_training((self.num_videos, self.num_frames + 1))
        self.store_fingerprint = fingerprint_of(core.cheap.store)

    def policy(self, name: str = "seq_as", budget: int | None = None) -> SeqASPolicy:
        """The trained agent as a :class:`SeqASPolicy` (on the CPU) with its env options.

        :param name: table name.
        :param budget: the budget (``max_frames``) it is evaluated at; ``None`` = the config's.
        """
        env_kwargs = self.config.env_kwargs()
        if budget is not None:
            env_kwargs["max_frames"] = int(budget)
        return SeqASPolicy(self.agent.cpu().eval(), name=name, env_kwargs=env_kwargs)

    def policies(self, name: str = "seq_as") -> list[SeqASPolicy]:
        """The trained agent at each budget it was trained for (one policy per budget)."""
        return [self.policy(name, b) for b in self.config.budgets]

    # ----------------------------------------------------------------------------- training

    def _advantages(self, videos: np.ndarray, returns: np.ndarray,
                    active: np.ndarray) -> np.ndarray:
        """``G_s - b_s`` (S, E) and the baseline update (E = videos x N, video-major)."""
        cfg = self.config
        s_len, n = returns.shape[0], cfg.num_episodes
        g = returns.reshape(s_len, len(videos), n)
        act = active.reshape(s_len, len(videos), n)
        if cfg.baseline_mode == "episode_mean":  # the other N - 1 episodes of the video
            base = (g.sum(2, keepdims=True) - g) / (n - 1)
            return (g - base).reshape(s_len, -1)
        counts = act.sum(2)
        mean_g = np.where(counts > 0, (g * act).sum(2) / np.maximum(counts, 1), 0.0)  # (S, V)
        steps = np.arange(s_len)
        base = self.baselines[videos][:, :s_len].T.copy()  # (S, V)
        seen = self.baseline_seen[videos][:, :s_len].T
        if cfg.baseline_init == "first":
            base = np.where(seen, base, mean_g)
        adv = g - base[:, :, None]
        # Algorithm 1's update, per step index reached by some episode of the video
        mom = cfg.baseline_momentum
        reached = counts > 0
        new = np.where(reached, mom * base + (1 - mom) * mean_g, base)
        for j, v in enumerate(videos):
            self.baselines[v, steps[reached[:, j]]] = new[reached[:, j], j]
            self.baseline_seen[v, steps[reached[:, j]]] = True
        return adv.reshape(s_len, -1)

    def train_step(self, videos: np.ndarray) -> dict[str, float]:
        """One update on ``videos`` (positions in the training split), N episodes each."""
        cfg = self.config
        n = cfg.num_episodes
        episodes = np.repeat(videos, n)  # video i's N episodes are rows i*N .. i*N+N-1
        views = budgets = None
        if self.core.cheap.view == "random":  # the N episodes of a video share its view
            views = np.repeat(self.rng.integers(0, self.core.cheap.num_views, len(videos)), n)
        if cfg.train_budgets:  # ... and its budget
            budgets = np.repeat(self.rng.choice(np.array(cfg.train_budgets), len(videos)), n)
        self.agent.train()
        sampler = _Sampler(self.agent, self.sampler, cfg.stop)
        out = rollout(self.core, sampler, episodes, views, budgets)
        returns = episode_returns(out.rewards)
        adv = self._advantages(videos, returns, out.active)
        loss_pg = torch.zeros((), device=self.device)
        entropy = torch.zeros((), device=self.device)
        for s, (log_p, ent) in enumerate(zip(sampler.log_probs, sampler.entropies, strict=True)):
            rows = np.flatnonzero(out.active[s])
            a = torch.as_tensor(adv[s, rows], dtype=torch.float32, device=self.device)
            loss_pg = loss_pg - (a * log_p).sum()
            entropy = entropy + ent.sum()
        num = len(episodes)
        decisions = float(out.active.sum())
        loss = loss_pg / num - cfg.entropy_coef * entropy / max(decisions, 1.0)
        self.update(loss)
        info = out.info
        return {"return": float(out.returns.sum()), "correct": float(info["correct"].sum()),
                "correct_cheap": float(info["cheap_correct"].sum()),
                "frames": float(info["num_paid"].sum()), "decisions": decisions,
                "entropy": float(entropy.item()), "loss": loss.item() * len(videos),
                "episodes": num, "videos": len(videos)}

    def epoch_figures(self, totals: Mapping[str, float]) -> dict[str, Any]:
        """Per episode: return, accuracies, flow frames, decisions; entropy per decision."""
        ep = totals["episodes"]
        return {"return": totals["return"] / ep, "accuracy": 100 * totals["correct"] / ep,
                "accuracy_cheap": 100 * totals["correct_cheap"] / ep,
                "frames": totals["frames"] / ep, "decisions": totals["decisions"] / ep,
                "entropy": totals["entropy"] / max(totals["decisions"], 1.0),
                "loss": totals["loss"] / totals["videos"]}

    def bar_postfix(self, row: Mapping[str, Any]) -> dict[str, str]:
        """The progress bar's figures: return, accuracy and flow frames paid of the epoch."""
        return {"ret": f"{row['return']:.2f}", "acc": f"{row['accuracy']:.1f}",
                "frames": f"{row['frames']:.1f}"}

    # ----------------------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (tensors and primitives only)."""
        return {"format": CHECKPOINT_FORMAT, "stream": self._streams(),
                "store": self.store_fingerprint, **self.training_state()}

    def load_state_dict(self, state: Mapping[str, Any], where: str = "checkpoint") -> None:
        """Resume from a :meth:`state_dict` (refused when it is another run's)."""
        check_resume(state, self.config, self._streams(), self.store_fingerprint, where,
                     checkpoint_format=CHECKPOINT_FORMAT)
        self.restore_training_state(state)

    def _streams(self) -> str:
        """``cheap->expensive``: what a checkpoint records as its stream(s)."""
        return f"{self.core.cheap_name}->{self.core.pay_name}"

    def save_agent(self, path: str | os.PathLike) -> Path:
        """Save the trained agent with its env options (read by ``load_seq_policy``)."""
        return save_seq_agent(path, self.agent, self.config.env_kwargs(), self.config.to_dict())

    def close(self) -> None:
        """Close the env's store files."""
        self.env.close()
