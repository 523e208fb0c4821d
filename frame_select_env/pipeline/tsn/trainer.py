"""The TSN training loop (the only one in the project): one stream, K segments, average consensus.

Used by ``scripts/train_baseline.py`` and by the built-in dataset build. Outputs in ``out_dir``:

* ``checkpoint.pt`` -- full training state after every epoch (model, optimizer, scheduler,
  AMP scaler, epoch, best validation accuracy, config, history, RNG states), written atomically;
  calling :func:`train_tsn` again with the same ``out_dir`` resumes from it.
* ``log.csv`` -- one row per epoch: ``epoch, loss, train_acc, val_acc, lr, seconds``.
* ``model.pt`` -- the final per-stream model in the ``frame_select_env.stream/1`` format
  (:func:`frame_select_env.pipeline.models.load_stream_model`).
* ``tb/`` -- TensorBoard scalars, when ``tensorboard`` is installed.

Under ``torchrun`` (``WORLD_SIZE > 1``) the model is wrapped in DistributedDataParallel, the
training set is split by a ``DistributedSampler``, the global batch is divided over the processes,
and only rank 0 writes files.
"""

from __future__ import annotations

import bisect
import csv
import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from frame_select_env.pipeline.models import load_torch_file, save_stream_checkpoint
from frame_select_env.pipeline.runtime import global_rng_state, resolve_device, set_rng_state
from frame_select_env.pipeline.tsn.config import TSNConfig
from frame_select_env.pipeline.tsn.data import (
    EpochSampler,
    ShardSampler,
    TSNDataset,
    collate,
    worker_init,
)
from frame_select_env.pipeline.tsn.model import _preprocessor, build_model, param_groups
from frame_select_env.pipeline.workers import DieWithParent
from frame_select_env.store.atomic import atomic_torch_save, atomic_write_csv

TRAIN_FORMAT = "frame_select_env.tsn_train/1"
LOG_FIELDS = ("epoch", "loss", "train_acc", "val_acc", "lr", "seconds")
#: config keys that may change between a run and its resume (the rest must match)
RESUMABLE_CHANGES = frozenset(
    {"epochs", "workers", "eval_every", "lr_steps", "pretrained", "amp", "dataset"}
)


# ----------------------------------------------------------------------------- distributed


def dist_info() -> tuple[int, int, int]:
    """``(world_size, rank, local_rank)`` from the torchrun environment (1, 0, 0 without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


def _init_distributed(device: torch.device) -> None:
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def _all_sum(values: Sequence[float], device: torch.device, world: int) -> list[float]:
    if world == 1:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def resolve_train_device(device: str | torch.device | None = "auto") -> torch.device:
    """The training device: :func:`~frame_select_env.pipeline.runtime.resolve_device` + CUDA index.

    :param device: ``"auto"``/``None`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
    :return: the device; a bare ``cuda`` gets an index: ``cuda:LOCAL_RANK`` under torchrun, the
        current CUDA device otherwise.
    :raises frame_select_env.pipeline.runtime.DeviceUnavailableError: CUDA is asked for but
        not available (a ``RuntimeError`` and a ``ValueError``).
    """
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        world, _, local = dist_info()
        dev = torch.device("cuda", local if world > 1 else torch.cuda.current_device())
    return dev


# ----------------------------------------------------------------------------- state I/O


def write_log(path: Path, history: Sequence[dict[str, Any]]) -> None:
    """Rewrite ``log.csv`` atomically from the history rows."""
    atomic_write_csv(path, history, LOG_FIELDS, extra_keys="ignore")


def read_log(path: str | os.PathLike) -> list[dict[str, float]]:
    """Read a training log.

    :param path: a ``log.csv`` written by :func:`train_tsn`
    :return: rows with float values (``epoch`` as int; empty ``val_acc`` as NaN)
    """
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.append(
                {k: (int(v) if k == "epoch" else float(v) if v != "" else math.nan)
                 for k, v in row.items()}
            )
    return rows


def load_training_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check a training checkpoint.

    :param path: ``checkpoint.pt`` written by :func:`train_tsn`
    :return: its dict (loaded with ``weights_only=True``)
    """
    path = Path(path)
    ckpt = load_torch_file(path, "training checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("format") != TRAIN_FORMAT:
        raise ValueError(f"{path} is not a TSN training checkpoint ({TRAIN_FORMAT})")
    return ckpt


def _check_resume_config(saved: dict[str, Any], cfg: TSNConfig, path: Path) -> None:
    now = cfg.to_dict()
    diffs = [
        f"{k}: {saved.get(k)!r} -> {now.get(k)!r}"
        for k in sorted(set(saved) | set(now))
        if k not in RESUMABLE_CHANGES and saved.get(k) != now.get(k)
    ]
    if diffs:
        raise ValueError(
            f"cannot resume from {path}: the config differs in {', '.join(diffs)}; "
            "use another output folder or resume=False (--no-resume) to start over"
        )


# ----------------------------------------------------------------------------- loops


def _forward_consensus(
    model: nn.Module, x: torch.Tensor, batch: int, segments: int
) -> torch.Tensor:
    _, logits = model(x)
    # TSN average consensus over the K segment scores, before the softmax
    return logits.view(batch, segments, -1).mean(dim=1)


def evaluate(
    model: nn.Module,
    loader: Iterable[Any],
    preprocess: Callable,
    device: torch.device,
    segments: int,
    use_amp: bool,
    world: int = 1,
) -> tuple[float, int]:
    """Video-level accuracy of the consensus prediction.

    :return: ``(accuracy, number of videos)`` summed over all processes
    """
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            y = y.to(device, non_blocking=True)
            inp = preprocess(x)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                logits = _forward_consensus(model, inp, len(y), segments)
            correct += int((logits.argmax(1) == y).sum())
            total += len(y)
    correct_all, total_all = _all_sum([correct, total], device, world)
    return (correct_all / total_all if total_all else math.nan), int(total_all)


def _train_epoch(
    model: nn.Module,
    loader: Iterable[Any],
    preprocess: Callable,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    cfg: TSNConfig,
    device: torch.device,
    use_amp: bool,
    world: int,
    bar_desc: str | None,
) -> tuple[float, float]:
    model.train()  # partial BN keeps its frozen layers in eval mode (forward pre-hook)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    # running sums stay on the device: no host sync per step (the bar syncs every 10 steps)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    it = loader
    bar = None
    if bar_desc is not None:
        from tqdm import tqdm

        bar = tqdm(loader, desc=bar_desc, leave=False, dynamic_ncols=True)
        it = bar
    for step, (x, y) in enumerate(it):
        y = y.to(device, non_blocking=True)
        inp = preprocess(x)
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            logits = _forward_consensus(model, inp, len(y), cfg.num_segments)
            loss = nn.functional.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.clip_gradient is not None:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(params, cfg.clip_gradient)
        scaler.step(optimizer)
        scaler.update()
        n = len(y)
        loss_sum += loss.detach().double() * n
        correct += (logits.detach().argmax(1) == y).sum()
        seen += n
        if bar is not None and step % 10 == 0:
            bar.set_postfix(loss=f"{float(loss_sum) / seen:.3f}",
                            acc=f"{int(correct) / seen:.3f}")
    if bar is not None:
        bar.close()
    loss_all, correct_all, seen_all = _all_sum([float(loss_sum), int(correct), seen], device,
                                               world)
    if seen_all == 0:
        raise RuntimeError("training epoch saw no batches (empty training list?)")
    return loss_all / seen_all, correct_all / seen_all


def _loader(
    dataset: TSNDataset, sampler, batch: int, cfg: TSNConfig, device: torch.device,
    drop_last: bool,
) -> DataLoader:
    gen = torch.Generator()
    gen.manual_seed(cfg.seed)  # the loader's own seed draws must not touch the global RNG
    return DataLoader(
        dataset,
        batch_size=batch,
        sampler=sampler,
        num_workers=cfg.workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        drop_last=drop_last,
        persistent_workers=cfg.workers > 0,
        # the workers die with this process, even when it is killed while they start
        worker_init_fn=DieWithParent(worker_init),
        generator=gen,
        # fork() after OpenCV or torch started their thread pools can deadlock a worker (seen
        # with cv2 5.0 and torch 2.13); spawned workers start clean.
        multiprocessing_context="spawn" if cfg.workers > 0 else None,
    )


# ----------------------------------------------------------------------------- entry point


def train_tsn(
    cfg: TSNConfig,
    train_records: Sequence,
    val_records: Sequence | None,
    frames_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    class_names: Sequence[str],
    *,
    device: str | torch.device | None = "auto",
    resume: bool = True,
    progress: bool = True,
    tensorboard: bool = True,
    pretrained: str | None = None,
) -> Path:
    """Train one TSN stream on raw-frame folders and write ``out_dir/model.pt``.

    Rerunning with the same ``out_dir`` resumes from ``out_dir/checkpoint.pt`` (e.g. after an
    interruption, or with a larger ``cfg.epochs``); on CPU with one seed the result is the same
    as an uninterrupted run.

    :param cfg: the configuration (stream, arch, schedule, augmentation, ...)
    :param train_records: training videos (``.path`` relative to ``frames_root``, ``.label``)
    :param val_records: validation videos, evaluated every ``cfg.eval_every`` epochs (segment
        centres, centre crop); empty or ``None`` to skip
    :param frames_root: root of the raw-frame folders (``img_*.jpg``, ``flow_[xy]_*.jpg``)
    :param out_dir: output folder (created)
    :param class_names: the C class names in label order
    :param device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
    :param resume: continue from ``out_dir/checkpoint.pt`` when it exists
    :param progress: tqdm bars (rank 0)
    :param tensorboard: also log to ``out_dir/tb`` when tensorboard is installed
    :param pretrained: initial weights (overrides ``cfg.pretrained``)
    :return: path of the final per-stream checkpoint ``out_dir/model.pt``
    """
    if pretrained is not None:
        cfg = cfg.replace(pretrained=str(pretrained))
    class_names = [str(c) for c in class_names]
    num_classes = len(class_names)
    if num_classes < 2:
        raise ValueError(f"train_tsn: need at least 2 classes, got {num_classes}")
    train_records = list(train_records)
    val_records = list(val_records or [])
    for name, recs in (("train", train_records), ("val", val_records)):
        bad = [r.path for r in recs if r.label is None or not 0 <= int(r.label) < num_classes]
        if bad:
            raise ValueError(
                f"train_tsn: {len(bad)} {name} records have labels outside 0..{num_classes - 1}"
                f" (or none), e.g. {bad[:3]}"
            )
    if not train_records:
        raise ValueError("train_tsn: no training records")
    # datasets first: missing frame folders fail before anything is built or written
    train_set = TSNDataset(train_records, frames_root, cfg, train=True)
    val_set = TSNDataset(val_records, frames_root, cfg, train=False) if val_records else None

    world, rank, _ = dist_info()
    dev = resolve_train_device(device)
    if world > 1:
        _init_distributed(dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        torch.backends.cudnn.benchmark = True
    is_main = rank == 0
    out = Path(out_dir)
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path, model_path = out / "checkpoint.pt", out / "log.csv", out / "model.pt"
    use_amp = cfg.amp and dev.type == "cuda"
    if cfg.batch_size % world:
        raise ValueError(
            f"train_tsn: batch_size {cfg.batch_size} is not divisible by WORLD_SIZE={world}"
        )
    batch = cfg.batch_size // world

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    model = build_model(cfg, num_classes).to(dev)
    optimizer = torch.optim.SGD(param_groups(model, cfg), lr=cfg.lr, momentum=cfg.momentum)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, cfg.lr_steps, cfg.lr_gamma)
    scaler = torch.amp.GradScaler(dev.type, enabled=use_amp)

    start_epoch, best_val, best_epoch = 0, -1.0, -1
    history: list[dict[str, Any]] = []
    if resume and ckpt_path.is_file():
        ckpt = load_training_checkpoint(ckpt_path)
        _check_resume_config(ckpt["config"], cfg, ckpt_path)
        if list(ckpt["class_names"]) != class_names:
            raise ValueError(f"cannot resume from {ckpt_path}: the class names differ")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        sched_state = dict(ckpt["scheduler"])
        scheduler.load_state_dict(sched_state)
        start_epoch = int(ckpt["epoch"])
        # a resume may change the milestones (e.g. a longer schedule): set the lr they imply
        scheduler.milestones = Counter(cfg.lr_steps)
        decay = cfg.lr_gamma ** bisect.bisect_right(cfg.lr_steps, start_epoch)
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * decay
        if "scaler" in ckpt and use_amp:
            scaler.load_state_dict(ckpt["scaler"])
        best_val, best_epoch = float(ckpt["best_val"]), int(ckpt["best_epoch"])
        history = list(ckpt["history"])
        set_rng_state(ckpt["rng"])
        if is_main and progress:
            print(f"resuming from {ckpt_path} at epoch {start_epoch}/{cfg.epochs}")

    train_sampler = EpochSampler(
        DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
    )
    drop_last = len(train_sampler) >= batch  # TSN drops the last partial batch (tiny sets keep it)
    train_loader = _loader(train_set, train_sampler, batch, cfg, dev, drop_last)
    val_loader = None
    if val_set is not None:
        val_loader = _loader(val_set, ShardSampler(len(val_set), rank, world), batch, cfg, dev,
                             drop_last=False)
    preprocess = _preprocessor(model, cfg.stream, dev)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )

    writer = None
    if is_main and tensorboard and start_epoch < cfg.epochs:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tb"))
        except ImportError:
            writer = None

    try:
        for epoch in range(start_epoch, cfg.epochs):
            t0 = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"] / _lr_mult(optimizer.param_groups[0], cfg)
            train_sampler.set_epoch(epoch)
            desc = f"{cfg.stream} epoch {epoch + 1}/{cfg.epochs}" if is_main and progress else None
            loss, train_acc = _train_epoch(
                net, train_loader, preprocess, optimizer, scaler, cfg, dev, use_amp, world, desc
            )
            scheduler.step()
            val_acc = math.nan
            last = epoch + 1 == cfg.epochs
            if val_loader is not None and ((epoch + 1) % cfg.eval_every == 0 or last):
                val_acc, _ = evaluate(
                    net, val_loader, preprocess, dev, cfg.eval_segments, use_amp, world
                )
                if val_acc > best_val:
                    best_val, best_epoch = val_acc, epoch + 1
            row = {
                "epoch": epoch + 1,
                "loss": round(loss, 6),
                "train_acc": round(train_acc, 6),
                "val_acc": "" if math.isnan(val_acc) else round(val_acc, 6),
                "lr": lr,
                "seconds": round(time.perf_counter() - t0, 3),
            }
            history.append(row)
            if is_main:
                atomic_torch_save(
                    {
                        "format": TRAIN_FORMAT,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": {
                            k: (dict(v) if k == "milestones" else v)
                            for k, v in scheduler.state_dict().items()
                        },
                        "scaler": scaler.state_dict(),
                        "epoch": epoch + 1,
                        "best_val": best_val,
                        "best_epoch": best_epoch,
                        "config": cfg.to_dict(),
                        "class_names": class_names,
                        "history": history,
                        "rng": global_rng_state(),
                    },
                    ckpt_path,
                )
                write_log(log_path, history)
                if writer is not None:
                    for k in ("loss", "train_acc", "lr", "seconds"):
                        writer.add_scalar(f"{cfg.stream}/{k}", float(row[k]), epoch + 1)
                    if not math.isnan(val_acc):
                        writer.add_scalar(f"{cfg.stream}/val_acc", val_acc, epoch + 1)
                    writer.flush()
                if progress:
                    va = "-" if math.isnan(val_acc) else f"{val_acc:.4f}"
                    print(
                        f"[{cfg.stream}] epoch {epoch + 1}/{cfg.epochs} loss {loss:.4f} "
                        f"train_acc {train_acc:.4f} val_acc {va} lr {lr:.2e} "
                        f"({row['seconds']:.1f}s)",
                        flush=True,
                    )
    finally:
        if writer is not None:
            writer.close()

    if is_main:
        meta = cfg.to_dict()
        meta.update(
            epochs_trained=int(history[-1]["epoch"]) if history else 0,
            best_val=best_val,
            best_epoch=best_epoch,
            final_val=_last_val(history),
        )
        save_stream_checkpoint(model_path, model, class_names, config=meta)
    if world > 1:
        dist.barrier()
    return model_path


def _lr_mult(group: dict[str, Any], cfg: TSNConfig) -> float:
    # the base lr of a group relative to cfg.lr (TSN groups scale it): recover the schedule lr
    initial = group.get("initial_lr", cfg.lr)
    return initial / cfg.lr if cfg.lr else 1.0


def _last_val(history: Sequence[dict[str, Any]]) -> float:
    for row in reversed(history):
        v = row.get("val_acc", "")
        if v != "":
            return float(v)
    return math.nan
