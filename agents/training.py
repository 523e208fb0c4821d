"""The epoch loop both REINFORCE trainers share: progress bar, CSV log, TensorBoard, checkpoints.

:class:`EpochTrainer` is a base class; a trainer (:class:`agents.reinforce.ReinforceTrainer`,
:class:`agents.seq_reinforce.SeqReinforceTrainer`) gives it what differs: one epoch of training
(:meth:`EpochTrainer.train_epoch`), its full state (:meth:`~EpochTrainer.state_dict` /
:meth:`~EpochTrainer.load_state_dict`), its log columns and its progress-bar figures. After every
epoch the checkpoint and the CSV log are written atomically, so an interrupted run loses at most
the epoch in progress and ``load_checkpoint`` continues it exactly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from frame_select_env.pipeline.models.weights import load_torch_file
from frame_select_env.pipeline.runtime import set_rng_state, torch_rng_state
from frame_select_env.store.atomic import atomic_torch_save, atomic_write_csv


class EpochTrainer:
    """Epochs, progress, logs and checkpoints of a trainer (a base class).

    Subclasses set, in ``__init__``: ``config`` (with ``epochs``, ``tensorboard`` and
    ``to_dict()``), the ``agent``, its ``optimizer`` and ``scheduler``, the per-video
    ``baselines`` and ``baseline_seen`` arrays, the generators ``rng`` (numpy: the epoch order,
    the views) and ``sampler`` (torch: the actions), ``out_dir`` (``Path`` or ``None``), ``tag``,
    ``progress``, ``epoch = 0``, ``log = []`` and ``_tb = None``; and as class attributes
    :attr:`log_columns`, :attr:`bar_name` and :attr:`checkpoint_what`.
    """

    #: the CSV log's columns, in order (the first is ``epoch``)
    log_columns: tuple[str, ...] = ("epoch",)
    #: the progress bar's description, before the tag
    bar_name = "training"
    #: what a checkpoint is, for the messages of :func:`load_torch_file`
    checkpoint_what = "training checkpoint"

    config: Any
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

    def train_epoch(self) -> dict[str, Any]:
        """One epoch; its log row (the subclass's)."""
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
