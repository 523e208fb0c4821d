#!/usr/bin/env python
"""Train one stream of the TSN two-stream baseline on raw-frame folders.

Examples::

    # official split (raw frames from scripts/extract_rawframes.py under FRAMES/<Class>/<video>/)
    python scripts/train_baseline.py --config configs/tsn/ucf101_rgb.yaml --stream rgb \\
        --dataset ucf101 --splits data/ucfTrainTestlist --split 1 --frames-root FRAMES \\
        --out runs/tsn/ucf101_s1_rgb

    # plain lists ("relative/path label [split]" per line)
    python scripts/train_baseline.py --config configs/tsn/sparse_actions_rgb.yaml \\
        --list train.txt --val-list val.txt --classes classes.txt --frames-root FRAMES --out OUT

Rerunning the same command resumes from OUT/checkpoint.pt. Multi-GPU: launch with
``torchrun --nproc_per_node N scripts/train_baseline.py ...`` (the batch size is global).
Outputs: OUT/checkpoint.pt, OUT/log.csv, OUT/model.pt (frozen per-stream model), OUT/tb/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from frame_select_env.datasets import (
    load_dataset,
    read_class_names,
    read_plain_list,
)
from frame_select_env.overrides import parse_overrides
from frame_select_env.tsn import ConfigError, load_config, train_tsn

VAL_TAGS = ("test", "val", "validation")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """:param argv: command-line arguments (default ``sys.argv[1:]``)."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, help="TSN YAML config (configs/tsn/*.yaml)")
    p.add_argument("--out", required=True, help="output folder (checkpoint.pt, log.csv, model.pt)")
    p.add_argument("--frames-root", required=True, help="root of the raw-frame folders")
    p.add_argument("--stream", choices=("rgb", "flow"), help="override the config's stream")
    p.add_argument("--arch", help="backbone: small, resnet18, resnet50, bninception")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="global batch size (videos)")
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-steps", type=int, nargs="+", help="epochs at which lr is divided by 10")
    p.add_argument("--num-segments", type=int, help="K, segments per video")
    p.add_argument("--crop-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int, help="DataLoader workers per process")
    p.add_argument("--pretrained", help="initial weights (stream checkpoint or public weights)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override any config key; VALUE is YAML (e.g. --set 'frame_size=[149, 112]')",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="continue from OUT/checkpoint.pt when present (default: yes)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=True,
                   help="log to OUT/tb when tensorboard is installed (default: yes)")
    g = p.add_argument_group("data: an official split, or plain lists")
    g.add_argument("--dataset", choices=("ucf101", "hmdb51"))
    g.add_argument("--splits", help="folder with the official split files")
    g.add_argument("--split", type=int, default=1, help="split number 1..3")
    g.add_argument("--list", help="training list (plain format: 'path label [split]')")
    g.add_argument("--val-list", help="validation list (default: entries of --list tagged test)")
    g.add_argument("--classes", help="class names file (one per line or classInd.txt style)")
    return p.parse_args(argv)


def _overrides(args: argparse.Namespace) -> dict:
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


def select_data(args: argparse.Namespace) -> tuple[list, list, list[str]]:
    """
    :return: ``(train records, validation records, class names)`` from the arguments
    """
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
