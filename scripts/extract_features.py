#!/usr/bin/env python
"""Extract per-frame two-stream features (or raw-frame folders) for a list of videos.

Examples::

    # the packaged SparseActions classifier with its extraction settings (160x120, ten-crop 112)
    python scripts/extract_features.py --list videos.txt --root clips --out clips.h5 \
        --classifier builtin

    # official split, trained checkpoints, ten-crop, 4 decode workers
    python scripts/extract_features.py --dataset ucf101 --splits data/ucfTrainTestlist --split 1 \
        --root /data/UCF-101 --out runs/ucf101_s1.h5 --rgb-checkpoint rgb.pt \
        --flow-checkpoint flow.pt --views 10 --workers 4

    # plain list ("relative/path label [split]"), pipeline test with an untrained network
    python scripts/extract_features.py --list videos.txt --classes classes.txt --root clips \
        --out /tmp/test.h5 --arch small --random-init --num-frames 5 --size 128 96 --crop 96

    # raw-frame folders for TSN training instead of features
    python scripts/extract_features.py --dataset hmdb51 --splits hmdb51_splits --split 1 \
        --root /data/hmdb51 --rawframes-out /data/hmdb51_frames --workers 4

Exit code 0 when every video was processed, 1 when some failed (listed in <out>.failures.txt).
A rerun with the same arguments resumes: finished videos are skipped.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    src = p.add_argument_group("videos")
    src.add_argument("--list", type=Path, help="plain list: 'relative/path [label] [split]'")
    src.add_argument("--classes", type=Path, help="class names for --list (one per line)")
    src.add_argument("--dataset", choices=["ucf101", "hmdb51"], help="official split files")
    src.add_argument("--splits", type=Path, help="folder with the official split files")
    src.add_argument("--split", type=int, default=1, help="split number 1..3 (default 1)")
    src.add_argument("--subset", choices=["train", "test"], help="only this part of the split")
    src.add_argument("--root", type=Path, required=True, help="video root folder")
    src.add_argument("--default-split", default="test", choices=["train", "val", "test"],
                     help="split of list entries without one (default test)")
    src.add_argument("--shard", help="'i/n': process every n-th video starting at i")
    o = p.add_argument_group("output")
    o.add_argument("--out", type=Path, help="feature store (.h5) to write")
    o.add_argument("--rawframes-out", type=Path,
                   help="write raw-frame folders (img_/flow_x_/flow_y_ jpgs) here instead")
    o.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    s = p.add_argument_group("sampling")
    # None = the default below, or the setting recorded with --classifier (builtin: the store's)
    s.add_argument("--num-frames", type=int, default=None, help="T (default 25)")
    s.add_argument("--flow-length", type=int, default=None, help="L flow fields per stack (5)")
    s.add_argument("--flow", default=None, choices=["dis", "tvl1", "farneback"],
                   help="flow method (default dis)")
    s.add_argument("--views", type=int, default=None, choices=[1, 10], help="V (default 1)")
    s.add_argument("--size", type=int, nargs=2, default=None, metavar=("W", "H"),
                   help="frame size (default 340 256)")
    s.add_argument("--crop", type=int, default=None, help="crop side (default 224)")
    m = p.add_argument_group("classifier")
    m.add_argument("--classifier",
                   help="'builtin' (the packaged SparseActions classifier, with its extraction "
                        "settings as defaults) or a two-stream checkpoint file")
    m.add_argument("--checkpoint", type=Path,
                   help="checkpoint dict {'rgb': path, 'flow': path} as YAML, or use the two below")
    m.add_argument("--rgb-checkpoint", type=Path)
    m.add_argument("--flow-checkpoint", type=Path)
    m.add_argument("--arch", default="small", help="architecture for --random-init")
    m.add_argument("--random-init", action="store_true",
                   help="untrained network: ONLY for testing the pipeline")
    m.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    m.add_argument("--batch-size", type=int, default=None,
                   help="crops per forward pass (default 256)")
    r = p.add_argument_group("run")
    r.add_argument("--workers", type=int, default=2, help="decode+flow worker processes")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--no-progress", action="store_true")
    return p


def load_records(args: argparse.Namespace):
    from frame_select_env.datasets.lists import load_dataset, read_class_names, read_plain_list

    if (args.list is None) == (args.dataset is None):
        raise SystemExit("error: give exactly one of --list or --dataset")
    if args.dataset is not None:
        if args.splits is None:
            raise SystemExit("error: --dataset needs --splits DIR")
        return load_dataset(args.dataset, args.splits, args.split, args.subset)
    records = read_plain_list(args.list)
    if args.subset is not None:
        records = [x for x in records if (x.split or args.default_split) == args.subset]
    if args.classes is not None:
        classes = read_class_names(args.classes)
    else:
        labels = [x.label for x in records if x.label is not None]
        classes = [f"class_{i:03d}" for i in range(max(labels) + 1)] if labels else []
    return records, classes


def _checkpoint_paths(args: argparse.Namespace) -> dict[str, Path]:
    if args.checkpoint is not None:
        import yaml

        with open(args.checkpoint, encoding="utf-8") as fh:
            spec = yaml.safe_load(fh)
        if not isinstance(spec, dict) or not {"rgb", "flow"} <= set(spec):
            raise SystemExit(f"error: {args.checkpoint} must map 'rgb' and 'flow' to files")
        base = args.checkpoint.parent
        return {k: base / str(spec[k]) for k in ("rgb", "flow")}
    if args.rgb_checkpoint is None or args.flow_checkpoint is None:
        raise SystemExit(
            "error: give --rgb-checkpoint and --flow-checkpoint (or --checkpoint), "
            "or --random-init for a pipeline test"
        )
    return {"rgb": args.rgb_checkpoint, "flow": args.flow_checkpoint}


DEFAULTS = {"num_frames": 25, "flow_length": 5, "flow": "dis", "views": 1, "size": [340, 256],
            "crop": 224, "batch_size": 256}
#: argument -> key of the extraction settings recorded with a classifier
RECORDED = {"num_frames": "num_frames", "flow_length": "flow_length", "flow": "flow_method",
            "views": "num_views", "size": "size", "crop": "crop", "batch_size": "batch_size"}


def set_defaults(args: argparse.Namespace, recorded: dict) -> None:
    """Fill the sampling arguments not given: recorded with the classifier, else DEFAULTS."""
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, recorded.get(RECORDED[name], default))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    random.seed(args.seed)
    np.random.seed(args.seed)
    records, class_names = load_records(args)
    from frame_select_env.extract import parse_shard

    shard = parse_shard(args.shard)

    if args.rawframes_out is not None:
        from frame_select_env.video.rawframes import build_rawframes

        set_defaults(args, {})
        chosen = [r for i, r in enumerate(records) if i % shard[1] == shard[0]]
        failures = build_rawframes(chosen, args.root, args.rawframes_out, args.flow,
                                   tuple(args.size), args.workers, not args.no_progress)
        for path, why in failures:
            print(f"FAILED {path}\t{why}", file=sys.stderr)
        print(f"rawframes: {len(chosen) - len(failures)} ok, {len(failures)} failed")
        return 1 if failures else 0

    if args.out is None:
        raise SystemExit("error: --out is required (or --rawframes-out)")
    import torch

    from frame_select_env.extract import ExtractConfig, extract_features, random_classifier_warning
    from frame_select_env.models.classifier import TwoStreamClassifier

    torch.manual_seed(args.seed)
    if args.rgb_checkpoint is not None and str(args.rgb_checkpoint) == "builtin":
        args.classifier = "builtin"
    recorded: dict = {}
    if args.classifier is not None:
        from frame_select_env.online import resolve_classifier

        # the online env's loader: the same classifier id, so stores and online caches agree
        clf, clf_id, recorded = resolve_classifier(args.classifier, device=args.device)
        if args.classes is None and args.list is not None:
            class_names = list(clf.class_names)
    set_defaults(args, recorded)
    cfg = ExtractConfig(num_frames=args.num_frames, flow_length=args.flow_length,
                        flow_method=args.flow, num_views=args.views, size=tuple(args.size),
                        crop=args.crop, dtype=args.dtype)
    if args.classifier is not None:

        def factory():
            return clf
    elif args.random_init:
        random_classifier_warning()
        clf_id = f"random-init:{args.arch}:seed{args.seed}:C{len(class_names)}"

        def factory():
            return TwoStreamClassifier.random_init(
                arch=args.arch, num_classes=len(class_names), flow_length=args.flow_length,
                seed=args.seed, device=args.device, class_names=class_names)
    else:
        paths = _checkpoint_paths(args)
        stats = {k: (str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns)
                 for k, p in paths.items() if p.is_file()}
        clf_id = f"checkpoints:{stats}"

        def factory():
            return TwoStreamClassifier.from_checkpoints(paths, device=args.device)

    result = extract_features(
        records, args.root, args.out, factory, class_names, cfg, classifier_id=clf_id,
        batch_size=args.batch_size, workers=args.workers, shard=shard,
        default_split=args.default_split,
        metadata={"list": str(args.list or args.dataset), "split": args.split,
                  "random_init": bool(args.random_init)},
        progress=not args.no_progress,
    )
    n_all = result.num_done + len(result.failures)
    print(f"done: {result.num_done}/{n_all} videos stored "
          f"({result.num_skipped} resumed), {len(result.failures)} failed, "
          f"{result.seconds:.1f}s -> {result.store_path}")
    if result.failures:
        print(f"failures ({len(result.failures)}), also in {args.out}.failures.txt:")
        for path, why in result.failures:
            print(f"  {path}\t{why}")
    return 1 if result.failures or result.store_path is None else 0


if __name__ == "__main__":
    sys.exit(main())
