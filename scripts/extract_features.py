#!/usr/bin/env python
r"""Extract per-frame two-stream features (or raw-frame folders) for a list of videos.

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

import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from frame_select_env.cli import option, parse  # noqa: E402
from frame_select_env.constants import SPLITS, STREAMS  # noqa: E402
from frame_select_env.video.flow import FLOW_METHODS  # noqa: E402


@dataclass
class Args:
    """The arguments of ``extract_features.py``.

    ``None`` sampling options take the defaults below, or the settings recorded with
    ``--classifier`` (builtin: the built-in store's).
    """

    root: Path = option(help="video root folder", group="videos")
    list: Path | None = option(None, "plain list: 'relative/path [label] [split]'",
                               group="videos")
    classes: Path | None = option(None, "class names for --list (one per line)", group="videos")
    dataset: str | None = option(None, "official split files", choices=("ucf101", "hmdb51"),
                                 group="videos")
    splits: Path | None = option(None, "folder with the official split files", group="videos")
    split: int = option(1, "split number 1..3", group="videos")
    subset: str | None = option(None, "only this part of the split", choices=("train", "test"),
                                group="videos")
    default_split: str = option("test", "split of list entries without one", choices=SPLITS,
                                group="videos")
    shard: str | None = option(None, "'i/n': process every n-th video starting at i",
                               group="videos")
    out: Path | None = option(None, "feature store (.h5) to write", group="output")
    rawframes_out: Path | None = option(
        None, "write raw-frame folders (img_/flow_x_/flow_y_ jpgs) here instead", group="output")
    dtype: str = option("float16", "stored dtype", choices=("float16", "float32"),
                        group="output")
    num_frames: int | None = option(None, "T (default 25)", group="sampling")
    flow_length: int | None = option(None, "L flow fields per stack (default 5)",
                                     group="sampling")
    flow: str | None = option(None, "flow method (default dis)", choices=FLOW_METHODS,
                              group="sampling")
    views: int | None = option(None, "V (default 1)", choices=(1, 10), group="sampling")
    size: tuple[int, int] | None = option(None, "frame size (default 340 256)",
                                          metavar=("W", "H"), group="sampling")
    crop: int | None = option(None, "crop side (default 224)", group="sampling")
    classifier: str | None = option(
        None, "'builtin' (the packaged SparseActions classifier, with its extraction settings as "
              "defaults) or a two-stream checkpoint file", group="classifier")
    checkpoint: Path | None = option(
        None, "checkpoint dict {'rgb': path, 'flow': path} as YAML, or use the two below",
        group="classifier")
    rgb_checkpoint: Path | None = option(None, "RGB stream checkpoint", group="classifier")
    flow_checkpoint: Path | None = option(None, "flow stream checkpoint", group="classifier")
    arch: str = option("small", "architecture for --random-init", group="classifier")
    random_init: bool = option(False, "untrained network: ONLY for testing the pipeline",
                               group="classifier")
    device: str = option("auto", "auto, cpu, cuda, cuda:1, ...", group="classifier")
    batch_size: int | None = option(None, "crops per forward pass (default 256)",
                                    group="classifier")
    workers: int = option(2, "decode+flow worker processes", group="run")
    seed: int = option(0, "seed of Python, numpy and torch", group="run")
    progress: bool = option(True, "progress bars", group="run")


def load_records(args: Args):
    """The videos and class names the arguments name (a plain list or an official split)."""
    from frame_select_env.datasets.lists import load_dataset, read_class_names, read_plain_list

    if (args.list is None) == (args.dataset is None):
        raise SystemExit("error: give exactly one of --list or --dataset")
    if args.dataset is not None:
        if args.splits is None:
            raise SystemExit("error: --dataset needs --splits DIR")
        return load_dataset(args.dataset, args.splits, args.split, args.subset)
    if args.list is None:  # excluded by the check above
        raise SystemExit("error: give exactly one of --list or --dataset")
    records = read_plain_list(args.list)
    if args.subset is not None:
        records = [x for x in records if (x.split or args.default_split) == args.subset]
    if args.classes is not None:
        classes = read_class_names(args.classes)
    else:
        labels = [x.label for x in records if x.label is not None]
        classes = [f"class_{i:03d}" for i in range(max(labels) + 1)] if labels else []
    return records, classes


def _checkpoint_paths(args: Args) -> dict[str, Path]:
    if args.checkpoint is not None:
        from frame_select_env.config import load_yaml

        spec = load_yaml(args.checkpoint, "--checkpoint")
        if not {"rgb", "flow"} <= set(spec):
            raise SystemExit(f"error: {args.checkpoint} must map 'rgb' and 'flow' to files")
        base = args.checkpoint.parent
        return {k: base / str(spec[k]) for k in STREAMS}
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


def sampling_settings(args: Args, recorded: dict[str, Any]) -> dict[str, Any]:
    """The sampling settings: as given, else recorded with the classifier, else DEFAULTS.

    :param args: the parsed arguments.
    :param recorded: the extraction settings recorded with the classifier (``{}`` for none).
    :return: a value for every key of :data:`DEFAULTS` (``size`` as a ``(W, H)`` tuple).
    """
    out = {}
    for name, default in DEFAULTS.items():
        given = getattr(args, name)
        out[name] = given if given is not None else recorded.get(RECORDED[name], default)
    out["size"] = tuple(out["size"])
    return out


def main(argv: list[str] | None = None) -> int:
    """Extract as the command line says; 0 when every video was stored, else 1."""
    args = parse(Args, argv, description=__doc__)
    random.seed(args.seed)
    np.random.seed(args.seed)
    records, class_names = load_records(args)
    from frame_select_env.extract import parse_shard

    shard = parse_shard(args.shard)

    if args.rawframes_out is not None:
        from frame_select_env.video.rawframes import build_rawframes

        settings = sampling_settings(args, {})
        chosen = [r for i, r in enumerate(records) if i % shard[1] == shard[0]]
        failures = build_rawframes(chosen, args.root, args.rawframes_out, settings["flow"],
                                   settings["size"], args.workers, args.progress)
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
    settings = sampling_settings(args, recorded)
    cfg = ExtractConfig(num_frames=settings["num_frames"], flow_length=settings["flow_length"],
                        flow_method=settings["flow"], num_views=settings["views"],
                        size=settings["size"], crop=settings["crop"], dtype=args.dtype)
    if args.classifier is not None:

        def factory():
            return clf
    elif args.random_init:
        random_classifier_warning()
        clf_id = f"random-init:{args.arch}:seed{args.seed}:C{len(class_names)}"

        def factory():
            return TwoStreamClassifier.random_init(
                arch=args.arch, num_classes=len(class_names), flow_length=settings["flow_length"],
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
        batch_size=settings["batch_size"], workers=args.workers, shard=shard,
        default_split=args.default_split,
        metadata={"list": str(args.list or args.dataset), "split": args.split,
                  "random_init": bool(args.random_init)},
        progress=args.progress,
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
