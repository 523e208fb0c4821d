#!/usr/bin/env python
r"""Train one stream of the TSN two-stream baseline on raw-frame folders.

Examples::

    # raw-frame folders FRAMES/<Class>/<video>/ (img_/flow_x_/flow_y_ jpgs) first:
    python scripts/extract_features.py --dataset ucf101 --splits data/ucfTrainTestlist \
        --split 1 --root /data/UCF-101 --rawframes-out FRAMES --workers 4
    # then train on the official split
    python scripts/train_baseline.py --config builtin:tsn/ucf101_rgb.yaml --stream rgb \
        --dataset ucf101 --splits data/ucfTrainTestlist --split 1 --frames-root FRAMES \
        --out runs/tsn/ucf101_s1_rgb

    # plain lists ("relative/path label [split]" per line)
    python scripts/train_baseline.py --config builtin:tsn/sparse_actions_rgb.yaml \
        --list train.txt --val-list val.txt --classes classes.txt --frames-root FRAMES --out OUT

Rerunning the same command resumes from OUT/checkpoint.pt. Multi-GPU: launch with
``torchrun --nproc_per_node N scripts/train_baseline.py ...`` (the batch size is global).
Outputs: OUT/checkpoint.pt, OUT/log.csv, OUT/model.pt (frozen per-stream model), OUT/tb/.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from frame_select_env.cli import entry, option, parse
from frame_select_env.cli.overrides import parse_overrides
from frame_select_env.core.constants import STREAMS
from frame_select_env.pipeline.archs import arch_help, arch_names
from frame_select_env.pipeline.datasets import (
    load_dataset,
    read_class_names,
    read_plain_list,
)
from frame_select_env.pipeline.tsn import ConfigError, load_config, train_tsn

VAL_TAGS = ("test", "val", "validation")
DATA = "data: an official split, or plain lists"
#: what --help shows as the default of the options that keep the config's value
CONFIG = "the --config file's"


@dataclass
class Args:
    """The arguments of ``train_baseline.py``; ``None`` options keep the config's value."""

    config: str = option(help="TSN YAML config: a path, or builtin:tsn/NAME (the packaged "
                              "frame_select_env/configs/tsn/*.yaml)")
    out: str = option(help="output folder (checkpoint.pt, log.csv, model.pt)")
    frames_root: str = option(help="root of the raw-frame folders")
    stream: str | None = option(None, "override the config's stream", choices=STREAMS,
                                default_text=CONFIG)
    arch: str | None = option(None, f"backbone: {arch_help()}", choices=arch_names(),
                              default_text=CONFIG)
    epochs: int | None = option(None, "training epochs", default_text=CONFIG, ge=0)
    batch_size: int | None = option(None, "global batch size (videos)", default_text=CONFIG,
                                    ge=1)
    lr: float | None = option(None, "learning rate", default_text=CONFIG, gt=0)
    lr_steps: list[int] | None = option(None, "epochs at which lr is divided by 10", ge=0,
                                        default_text=CONFIG)
    num_segments: int | None = option(None, "K, segments per video", default_text=CONFIG,
                                      ge=1)
    crop_size: int | None = option(None, "crop side", default_text=CONFIG, ge=1)
    seed: int | None = option(None, "seed", default_text=CONFIG, ge=0)
    workers: int | None = option(None, "DataLoader workers per process", default_text=CONFIG,
                                 ge=0)
    pretrained: str | None = option(None, "initial weights (stream checkpoint or public weights)",
                                    default_text=CONFIG)
    set: list[str] = option([], "override any config key; VALUE is YAML "
                                "(e.g. --set 'frame_size=[149, 112]')", metavar="KEY=VALUE")
    device: str = option("auto", "auto, cpu, cuda, cuda:1, ...")
    resume: bool = option(True, "continue from OUT/checkpoint.pt when present")
    progress: bool = option(True, "progress bars")
    tensorboard: bool = option(True, "log to OUT/tb when tensorboard is installed")
    dataset: str | None = option(None, "official split files", choices=("ucf101", "hmdb51"),
                                 group=DATA)
    splits: str | None = option(None, "folder with the official split files", group=DATA)
    split: int = option(1, "split number 1..3", group=DATA, ge=1, le=3)
    list: str | None = option(None, "training list (plain format: 'path label [split]')",
                              group=DATA)
    val_list: str | None = option(None, "validation list (default: entries of --list tagged "
                                        "test)", group=DATA)
    classes: str | None = option(None, "class names file (one per line or classInd.txt style)",
                                 group=DATA)


def parse_args(argv: list[str] | None = None) -> Args:
    """:param argv: command-line arguments (default ``sys.argv[1:]``)."""
    return parse(Args, argv, description=__doc__)


def _overrides(args: Args) -> dict:
    out = {
        "stream": args.stream,
        "arch": args.arch,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "lr_steps": args.lr_steps,
        "num_segments": args.num_segments,
        "crop_size": args.crop_size,
        "seed": args.seed,
        "workers": args.workers,
        "pretrained": args.pretrained,
    }
    try:
        out.update(parse_overrides(args.set))
    except ValueError as err:
        raise SystemExit(str(err)) from None
    return out


def select_data(args: Args) -> tuple[list, list, list[str]]:
    """The training records, validation records and class names the arguments name."""
    if args.dataset and args.list:
        raise SystemExit("give either --dataset/--splits or --list, not both")
    if args.dataset:
        if not args.splits:
            raise SystemExit("--dataset needs --splits (folder with the official split files)")
        records, classes = load_dataset(args.dataset, args.splits, args.split)
        train = [r for r in records if r.split == "train"]
        val = [r for r in records if r.split == "test"]
        return train, val, classes
    if not args.list:
        raise SystemExit("no data: give --dataset ucf101|hmdb51 --splits DIR, or --list FILE")
    records = read_plain_list(args.list)
    if args.val_list:
        train, val = records, read_plain_list(args.val_list)
    else:
        train = [r for r in records if r.split not in VAL_TAGS]
        val = [r for r in records if r.split in VAL_TAGS]
    if args.classes:
        classes = read_class_names(args.classes)
    else:
        labels = [r.label for r in train + val if r.label is not None]
        if not labels:
            raise SystemExit(f"{args.list}: no labelled entries")
        classes = [f"class_{i:03d}" for i in range(max(labels) + 1)]
    return train, val, classes


@entry
def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, **_overrides(args))
    except (ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        train, val, classes = select_data(args)
    except (ValueError, FileNotFoundError) as e:  # bad list files: name the file and line
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"TSN {cfg.stream} stream, arch {cfg.arch}: {len(train)} train / {len(val)} val videos, "
        f"{len(classes)} classes, {cfg.epochs} epochs -> {args.out}",
        flush=True,
    )
    try:
        path = train_tsn(
            cfg, train, val, Path(args.frames_root), Path(args.out), classes,
            device=args.device, resume=args.resume, progress=args.progress,
            tensorboard=args.tensorboard,
        )
    except FileNotFoundError as e:  # missing frame folders / weights: no traceback needed
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        # Under torchrun: a process group left open at exit can abort the interpreter
        # ("terminate called without an active exception") while gloo's threads still run.
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
