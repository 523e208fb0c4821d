"""What both REINFORCE trainers share: their common options and the epoch loop.

:class:`TrainingOptions` holds the options every trainer has (the optimiser and its schedule,
the episodes and baselines, the BiLSTM's size, the seed); each trainer's config
(:class:`agents.reinforce.ReinforceConfig`, :class:`agents.seq_reinforce.SeqReinforceConfig`)
adds its own and may change the defaults.

:class:`EpochTrainer` is a base class; a trainer (:class:`agents.reinforce.ReinforceTrainer`,
:class:`agents.seq_reinforce.SeqReinforceTrainer`) gives it what differs: one update
(:meth:`EpochTrainer.train_step`) and the epoch's figures from its totals
(:meth:`EpochTrainer.epoch_figures`), its full state (:meth:`~EpochTrainer.state_dict` /
:meth:`~EpochTrainer.load_state_dict`), its log columns and its progress-bar figures. After every
epoch the checkpoint and the CSV log are written atomically, so an interrupted run loses at most
the epoch in progress and ``load_checkpoint`` continues it exactly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from frame_select_env.core.config import Range, UserError, check_ranges, from_dict
from frame_select_env.core.reward import DEFAULT_OMEGA
from frame_select_env.pipeline.models.weights import load_torch_file
from frame_select_env.pipeline.runtime import set_rng_state, torch_rng_state
from frame_select_env.store.atomic import atomic_torch_save, atomic_write_csv

BASELINE_INITS = ("zero", "first")
BASELINE_MODES = ("moving_average", "episode_mean")

_Options = TypeVar("_Options", bound="TrainingOptions")


@dataclass
class TrainingOptions:
    """The options every REINFORCE trainer has; the defaults are the paper's (Algorithm 1).

    A base class: each trainer's config documents every field it has, these included, and
    gives :meth:`option_ranges` (and, for checks beyond the ranges, :meth:`option_checks`).
    Its ``__post_init__`` refuses a bad value with a :class:`UserError` naming the class.
    """

    # the optimiser and its schedule
    epochs: int = 45
    lr: float = 1e-5
    weight_decay: float = 1e-5
    lr_milestones: tuple[int, ...] = (20, 40)
    lr_gamma: float = 0.1
    grad_clip: float = 5.0
    # the episodes of an update and their baselines
    num_episodes: int = 8
    batch_size: int = 32
    baseline_mode: str = "moving_average"
    baseline_momentum: float = 0.9
    baseline_init: str = "zero"
    # the agent's size and inputs
    proj_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    log_predictions: bool = False
    # the env's task
    omega: float = DEFAULT_OMEGA
    state: str = "both"
    view: str = "random"
    num_frames: int | None = None
    # the run
    seed: int = 0
    device: str = "cpu"
    tensorboard: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_ranges(self, self.option_ranges())
        self.normalize()
        for ok, msg in self.option_checks():
            if not ok:
                raise UserError(f"{type(self).__name__}: {msg}")

    def option_ranges(self) -> Mapping[str, Range]:
        """The numbers the options accept, by field (the subclass's)."""
        raise NotImplementedError

    def normalize(self) -> None:
        """Put checked values in their canonical form (``lr_milestones`` a tuple of ints)."""
        self.lr_milestones = tuple(int(x) for x in self.lr_milestones)

    def option_checks(self) -> list[tuple[bool, str]]:
        """``(ok, message)`` of the checks beyond the ranges, in order; the first failure raises.

        :return: the baseline options' checks (a subclass adds its own).
        """
        return [
            (self.baseline_mode in BASELINE_MODES,
             f"baseline_mode must be one of {BASELINE_MODES}"),
            (self.baseline_mode == "moving_average" or self.num_episodes >= 2,
             "baseline_mode='episode_mean' needs num_episodes >= 2"),
            (self.baseline_init in BASELINE_INITS,
             f"baseline_init must be one of {BASELINE_INITS}"),
        ]

    @classmethod
    def from_dict(cls: type[_Options], data: Mapping[str, Any],
                  where: str = "config") -> _Options:
        """Build from a (YAML) dict; unknown keys are an error naming ``where``.

        :param data: field values.
        :param where: where they came from (a file, ``config``), for the error.
        :return: the validated config.
        :raises ValueError: an unknown key or a bad value.
        """
        return from_dict(cls, data, where=where, what="training options")

    def to_dict(self) -> dict[str, Any]:
        """Primitives only (YAML- and ``weights_only``-safe): tuples become lists."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def stats_videos(num_videos: int) -> np.ndarray:
    """The videos the agent's input standardisation is computed from: up to 512, spread evenly.

    :param num_videos: the training split's size.
    :return: increasing, distinct positions in the split.
    """
    return np.unique(np.linspace(0, num_videos - 1, min(num_videos, 512)).astype(int))


class EpochTrainer:
    """Epochs, progress, logs and checkpoints of a trainer (a base class).

    Subclasses set, in ``__init__``: ``config`` (a :class:`TrainingOptions`), ``device``,
    ``out_dir`` (``Path`` or ``None``), ``tag``, ``progress``, ``num_videos`` and the ``agent``,
    then call :meth:`init_training` (the optimiser, schedule, baselines and generators); and as
    class attributes :attr:`log_columns`, :attr:`bar_name` and :attr:`checkpoint_what`.
    """

    #: the CSV log's columns, in order (the first is ``epoch``)
    log_columns: tuple[str, ...] = ("epoch",)
    #: the progress bar's description, before the tag
    bar_name = "training"
    #: what a checkpoint is, for the messages of :func:`load_torch_file`
    checkpoint_what = "training checkpoint"

    config: Any
    device: torch.device
    num_videos: int
    agent: Any
    optimizer: Any
    scheduler: Any
    baselines: np.ndarray
    baseline_seen: np.ndarray
    rng: np.random.Generator
    sampler: torch.Generator
    out_dir: Path | None
    tag: str
    progress: bool
    epoch: int
    log: list[dict[str, Any]]
    _tb: Any

    # --------------------------------------------------------------------- what differs

    def train_step(self, videos: np.ndarray) -> dict[str, float]:
        """One update on ``videos`` (positions in the training split); its sums (the subclass's).

        The sums are added up over the epoch for :meth:`epoch_figures`; ``videos`` (the number
        of videos) is one of them.
        """
        raise NotImplementedError

    def epoch_figures(self, totals: Mapping[str, float]) -> dict[str, Any]:
        """The log row's figures from an epoch's summed :meth:`train_step` results."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (the subclass's)."""
        raise NotImplementedError

    def load_state_dict(self, state: Mapping[str, Any], where: str = "checkpoint") -> None:
        """Continue from :meth:`state_dict` (the subclass's)."""
        raise NotImplementedError

    def bar_postfix(self, row: Mapping[str, Any]) -> dict[str, str]:
        """The figures the progress bar shows after an epoch (default: none)."""
        return {}

    # --------------------------------------------------------------------- training

    def init_training(self, baseline_shape: int | tuple[int, ...]) -> None:
        """Make what training changes, once ``config``, ``device`` and ``agent`` are set.

        Moves the agent to the device; creates Adam (``lr``, ``weight_decay``) with its step
        schedule (``lr_milestones``, ``lr_gamma``), the baselines (zeros of ``baseline_shape``,
        none seen yet) and the generators ``rng`` (numpy: the epoch order, the views) and
        ``sampler`` (torch, on the device: the actions), both seeded with ``config.seed``; and
        starts at epoch 0 with an empty log.

        :param baseline_shape: per video (the one-step trainer) or per video and step.
        """
        cfg = self.config
        self.agent.to(self.device)
        self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=cfg.lr,
                                          weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(cfg.lr_milestones), gamma=cfg.lr_gamma)
        self.baselines = np.zeros(baseline_shape, dtype=np.float64)
        self.baseline_seen = np.zeros(baseline_shape, dtype=bool)
        self.rng = np.random.default_rng(cfg.seed)
        self.sampler = torch.Generator(device=self.device)
        self.sampler.manual_seed(cfg.seed)
        self.epoch = 0
        self.log = []
        self._tb = None

    def update(self, loss: torch.Tensor) -> None:
        """One optimiser step on ``loss``, the gradient norm clipped to ``config.grad_clip``."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.agent.parameters(), self.config.grad_clip)
        self.optimizer.step()

    def train_epoch(self) -> dict[str, Any]:
        """One pass over the training split in a random order; returns the epoch's log row.

        The videos go to :meth:`train_step` ``batch_size`` at a time; the learning rate steps
        once per epoch (the paper's schedule). The row: ``epoch``, the trainer's
        :meth:`epoch_figures`, ``lr`` (of the epoch), ``seconds`` and ``videos_per_s``.
        """
        size = self.config.batch_size
        start = time.perf_counter()
        order = self.rng.permutation(self.num_videos)
        lr = self.optimizer.param_groups[0]["lr"]
        totals: dict[str, float] = {}
        for s in range(0, self.num_videos, size):
            for k, v in self.train_step(order[s:s + size]).items():
                totals[k] = totals.get(k, 0.0) + v
        self.scheduler.step()
        self.epoch += 1
        seconds = time.perf_counter() - start
        row = {"epoch": self.epoch, **self.epoch_figures(totals), "lr": lr, "seconds": seconds,
               "videos_per_s": totals["videos"] / max(seconds, 1e-9)}
        self.log.append(row)
        return row

    # --------------------------------------------------------------------- training state

    def training_state(self) -> dict[str, Any]:
        """The state every trainer's checkpoint holds (tensors and primitives only).

        The epoch, the config, the agent's weights and architecture, the optimizer and
        scheduler, the per-video baselines, the RNG states (``order``, ``sampler`` and torch's)
        and the log; a trainer's :meth:`state_dict` adds its own keys (format, store, stream).
        """
        return {
            "epoch": self.epoch,
            "config": self.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in self.agent.state_dict().items()},
            "agent_config": asdict(self.agent.config),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "baselines": torch.from_numpy(self.baselines.copy()),
            "baseline_seen": torch.from_numpy(self.baseline_seen.copy()),
            "rng": {"order": self.rng.bit_generator.state, "sampler": self.sampler.get_state(),
                    **torch_rng_state()},  # "torch", "cuda"
            "log": [dict(r) for r in self.log],
        }

    def restore_training_state(self, state: Mapping[str, Any]) -> None:
        """Put back what :meth:`training_state` saved (after the trainer checked the state)."""
        self.agent.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.baselines = state["baselines"].numpy().copy()
        self.baseline_seen = state["baseline_seen"].numpy().copy()
        rng = state["rng"]
        self.rng.bit_generator.state = rng["order"]
        self.sampler.set_state(rng["sampler"])
        set_rng_state(rng)  # torch's CPU and CUDA generators
        self.epoch = int(state["epoch"])
        self.log = [dict(r) for r in state["log"]]

    # --------------------------------------------------------------------- shared

    @property
    def checkpoint_path(self) -> Path | None:
        """``checkpoint_<tag>.pt`` in the output directory (``None`` without one)."""
        return None if self.out_dir is None else self.out_dir / f"checkpoint_{self.tag}.pt"

    @property
    def log_path(self) -> Path | None:
        """``train_log_<tag>.csv`` in the output directory (``None`` without one)."""
        return None if self.out_dir is None else self.out_dir / f"train_log_{self.tag}.csv"

    def train(self, until_epoch: int | None = None) -> list[dict[str, Any]]:
        """Train from the current epoch up to ``until_epoch`` (default ``config.epochs``).

        Saves a checkpoint and the CSV log after every epoch when ``out_dir`` is set.

        :return: the log rows of every epoch so far.
        """
        until = self.config.epochs if until_epoch is None else min(until_epoch, self.config.epochs)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.config.epochs, initial=self.epoch,
                       desc=f"{self.bar_name} {self.tag}", unit="epoch", leave=False)
        try:
            while self.epoch < until:
                row = self.train_epoch()
                self._write_epoch(row)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(**self.bar_postfix(row))
        finally:
            if bar is not None:
                bar.close()
            if self._tb is not None:
                self._tb.close()
                self._tb = None
        return self.log

    def write_log(self, path: str | os.PathLike) -> None:
        """Write the per-epoch log as CSV (atomically)."""
        atomic_write_csv(path, self.log, self.log_columns, ".6g", extra_keys="ignore")

    def _write_epoch(self, row: Mapping[str, Any]) -> None:
        log_path = self.log_path
        if self.out_dir is None or log_path is None:  # log_path is None exactly when out_dir is
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.save_checkpoint()
        self.write_log(log_path)
        if self.config.tensorboard:
            if self._tb is None:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                except ImportError:  # tensorboard is optional
                    self.config.tensorboard = False
                    return
                self._tb = SummaryWriter(str(self.out_dir / "tensorboard" / self.tag))
            for key in self.log_columns[1:]:
                self._tb.add_scalar(f"train/{key}", row[key], row["epoch"])

    def save_checkpoint(self, path: str | os.PathLike | None = None) -> Path:
        """Write the training state atomically (default: ``out_dir/checkpoint_<tag>.pt``)."""
        path = Path(path) if path is not None else self.checkpoint_path
        if path is None:
            raise ValueError("save_checkpoint: no path and no out_dir")
        return atomic_torch_save(self.state_dict(), path)

    def load_checkpoint(self, path: str | os.PathLike | None = None) -> bool:
        """Continue from a checkpoint; returns False when there is none."""
        path = Path(path) if path is not None else self.checkpoint_path
        if path is None or not path.is_file():
            return False
        state = load_torch_file(path, self.checkpoint_what)
        self.load_state_dict(state, where=f"checkpoint {str(path)!r}")
        return True
