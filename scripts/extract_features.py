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

    # under torchrun: each process extracts shard RANK/WORLD_SIZE, rank 0 merges them into --out
    torchrun --standalone --nproc-per-node 4 scripts/extract_features.py --dataset ucf101 \
        --splits data/ucfTrainTestlist --split 1 --root /data/UCF-101 --out runs/ucf101_s1.h5 \
        --rgb-checkpoint rgb.pt --flow-checkpoint flow.pt --views 10 --flow tvl1 --workers 3

Exit code 0 when every video was processed, 1 when some failed (listed in <out>.failures.txt)
or, under torchrun, when a rank failed (named with its error; nothing is merged then).
A rerun with the same arguments resumes: finished videos are skipped.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.cli import entry, option, parse
from frame_select_env.core.constants import SPLITS, STREAMS
from frame_select_env.pipeline.video.flow import FLOW_METHODS


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
    split: int = option(1, "split number 1..3", group="videos", ge=1, le=3)
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
    num_frames: int | None = option(None, "T (default 25)", group="sampling", ge=1)
    flow_length: int | None = option(None, "L flow fields per stack (default 5)",
                                     group="sampling", ge=1)
    flow: str | None = option(None, "flow method (default dis)", choices=FLOW_METHODS,
                              group="sampling")
    views: int | None = option(None, "V (default 1)", choices=(1, 10), group="sampling")
    size: tuple[int, int] | None = option(None, "frame size (default 340 256)",
                                          metavar=("W", "H"), group="sampling", ge=1)
    crop: int | None = option(None, "crop side (default 224)", group="sampling", ge=1)
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
    device: str = option("auto", "auto, cpu, cuda, cuda:1, ... (under torchrun auto and cuda "
                                 "mean cuda:LOCAL_RANK)", group="classifier")
    batch_size: int | None = option(None, "crops per forward pass (default 256)",
                                    group="classifier", ge=1)
    workers: int = option(2, "decode+flow worker processes (per rank under torchrun)",
                          group="run", ge=0)
    seed: int = option(0, "seed of Python, numpy and torch", group="run", ge=0)
    progress: bool = option(True, "progress bars", group="run")


def load_records(args: Args):
    """The videos and class names the arguments name (a plain list or an official split)."""
    from frame_select_env.pipeline.datasets.lists import (
        load_dataset,
        read_class_names,
        read_plain_list,
    )

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
        from frame_select_env.core.config import load_yaml

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


@dataclass
class Outcome:
    """What one extraction (a whole list, or one shard of it) did.

    :param code: the exit status: 0 when every video was stored, else 1
    :param store: the store written, or None (no video stored; raw frames)
    :param done: videos stored (raw frames: videos written)
    :param skipped: of those, the ones resumed from an earlier run
    :param failures: (video path, reason) of every video that failed
    :param seconds: wall-clock time
    :param video_ids: the ids of the whole list in list order (the merged store's row order)
    """

    code: int
    store: Path | None
    done: int
    skipped: int
    failures: list[tuple[str, str]]
    seconds: float
    video_ids: list[str]


def _report(done: int, skipped: int, failures: list[tuple[str, str]], seconds: float,
            store: Path | None, failures_file: Path, tag: str = "") -> None:
    print(f"{tag}done: {done}/{done + len(failures)} videos stored ({skipped} resumed), "
          f"{len(failures)} failed, {seconds:.1f}s -> {store}")
    if failures:
        print(f"{tag}failures ({len(failures)}), also in {failures_file}:")
        for path, why in failures:
            print(f"{tag}  {path}\t{why}")


def extract(args: Args, shard: tuple[int, int], out: Path | None,
            parts_dir: Path | None = None, tag: str = "") -> Outcome:
    """Extract shard ``(i, n)`` of the listed videos into ``out`` (or raw frames), resumably.

    :param args: the parsed arguments (``args.out`` unused: ``out`` is the store to write).
    :param shard: ``(i, n)``: the videos ``i, i + n, ...`` of the list.
    :param out: the store to write (None: only with ``--rawframes-out``).
    :param parts_dir: the part folder (default ``<out>.parts``).
    :param tag: prefix of every printed line (the rank under torchrun).
    :return: the :class:`Outcome`.
    """
    t0 = time.perf_counter()
    random.seed(args.seed)
    np.random.seed(args.seed)
    records, class_names = load_records(args)
    video_ids = [r.video_id for r in records]

    if args.rawframes_out is not None:
        from frame_select_env.pipeline.video.rawframes import build_rawframes

        settings = sampling_settings(args, {})
        chosen = [r for i, r in enumerate(records) if i % shard[1] == shard[0]]
        failures = build_rawframes(chosen, args.root, args.rawframes_out, settings["flow"],
                                   settings["size"], args.workers, args.progress)
        for path, why in failures:
            print(f"{tag}FAILED {path}\t{why}", file=sys.stderr)
        print(f"{tag}rawframes: {len(chosen) - len(failures)} ok, {len(failures)} failed")
        return Outcome(1 if failures else 0, None, len(chosen) - len(failures), 0,
                       list(failures), time.perf_counter() - t0, video_ids)

    if out is None:
        raise SystemExit("error: --out is required (or --rawframes-out)")
    import torch

    from frame_select_env.pipeline.extract import (
        ExtractConfig,
        extract_features,
        random_classifier_warning,
    )
    from frame_select_env.pipeline.models.classifier import TwoStreamClassifier

    torch.manual_seed(args.seed)
    if args.rgb_checkpoint is not None and str(args.rgb_checkpoint) == "builtin":
        args.classifier = "builtin"
    recorded: dict = {}
    if args.classifier is not None:
        from frame_select_env.pipeline.online import resolve_classifier

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
        records, args.root, out, factory, class_names, cfg, classifier_id=clf_id,
        batch_size=settings["batch_size"], workers=args.workers, shard=shard,
        parts_dir=parts_dir, default_split=args.default_split,
        metadata={"list": str(args.list or args.dataset), "split": args.split,
                  "random_init": bool(args.random_init)},
        progress=args.progress, log=lambda line: print(f"{tag}{line}", file=sys.stderr,
                                                        flush=True),
    )
    _report(result.num_done, result.num_skipped, result.failures, result.seconds,
            result.store_path, Path(f"{out}.failures.txt"), tag)
    code = 1 if result.failures or result.store_path is None else 0
    return Outcome(code, result.store_path, result.num_done, result.num_skipped,
                   list(result.failures), result.seconds, video_ids)


# ------------------------------------------------------------------ torchrun
#: how long a rank that finished waits at the status exchange for the slowest rank: gloo's
#: default (30 minutes) is far shorter than a shard of TV-L1 flow can take
STATUS_TIMEOUT = timedelta(days=7)


def rank_store(out: Path, rank: int, world: int) -> Path:
    """The store rank ``rank`` of ``world`` writes its shard to (rank 0 merges them into ``out``).

    :param out: the ``--out`` store.
    :param rank: the process's ``RANK``.
    :param world: ``WORLD_SIZE``.
    """
    return Path(f"{out}.shard{rank}of{world}.h5")


def _rank_threads(workers: int) -> int:
    """Give this rank its share of the node's cores, less its decode workers (at least 1)."""
    import cv2
    import torch

    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    # torchrun's default OMP_NUM_THREADS=1 leaves cores idle on a CPU node; all cores per rank
    # would oversubscribe them LOCAL_WORLD_SIZE times over
    n = max(1, cores // local_world - workers)
    torch.set_num_threads(n)
    cv2.setNumThreads(n)
    return n


def _rank_device(device: str, local_rank: int) -> str:
    """``auto``/``cuda``: ``cuda:LOCAL_RANK`` where CUDA is available, else the CPU."""
    import torch

    from frame_select_env.pipeline.tsn.trainer import resolve_train_device

    dev = resolve_train_device(device)
    if dev.type == "cuda":
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"--device {device!r}: LOCAL_RANK {local_rank} would use {dev}, but this node has "
                f"{count} CUDA device(s); start at most {count} processes per node")
        torch.cuda.set_device(dev)
    return str(dev)


def _merge_function() -> Callable[..., Path]:
    # merge_stores.py is this script's sibling: a module of the package frame_select_scripts for
    # the console command, a top-level module for `python scripts/extract_features.py`
    from importlib import import_module

    module = import_module(".merge_stores", __package__) if __package__ else import_module(
        "merge_stores")
    return module.merge_stores


def run_torchrun(args: Args, world: int, rank: int, local_rank: int) -> int:
    """One rank under ``torchrun``: extract shard RANK/WORLD_SIZE, report, rank 0 merges.

    Every rank writes its shard to :func:`rank_store`, with its parts in the shared
    ``<out>.parts`` (named by list index: a rerun, with any number of ranks, skips every finished
    video). The ranks then exchange their outcome (an ``all_gather`` over gloo, which works
    without GPUs); a rank that raised is named by rank, host and error, nothing is merged and
    every finished part and shard is kept. Otherwise rank 0 merges the shards into ``--out`` in
    list order (the single-process store) and removes them.

    :param args: the parsed arguments.
    :param world: ``WORLD_SIZE``.
    :param rank: ``RANK``.
    :param local_rank: ``LOCAL_RANK`` (the GPU of this rank).
    :return: rank 0: the run's exit status (0: every video stored; 1: a video or a rank failed);
        the other ranks 0 once they reported (torchrun stops every process when one exits
        non-zero, which could cut rank 0's merge short).
    """
    import socket
    import traceback

    import torch.distributed as dist

    if args.shard is not None:  # the same on every rank: no need to exchange it
        raise SystemExit("error: --shard splits the list by hand, torchrun splits it by rank "
                         "(shard RANK/WORLD_SIZE): give one or the other")
    tag = f"[rank {rank}/{world}] "
    report: dict[str, Any] = {"rank": rank, "host": socket.gethostname(), "error": None}
    dist.init_process_group("gloo", timeout=STATUS_TIMEOUT)
    try:
        # everything a rank does is inside this try: a rank that raised and skipped the exchange
        # would leave the others waiting at it for STATUS_TIMEOUT
        try:
            threads = _rank_threads(args.workers)
            args.device = _rank_device(args.device, local_rank)
            args.progress = args.progress and rank == 0  # one progress bar, not WORLD_SIZE
            out = None if args.out is None else rank_store(args.out, rank, world)
            parts = None if args.out is None else Path(f"{args.out}.parts")
            print(f"{tag}{report['host']}: shard {rank}/{world} on {args.device}, "
                  f"{threads} threads", flush=True)
            report.update(asdict(extract(args, (rank, world), out, parts, tag)))
        except (Exception, SystemExit) as e:
            if not isinstance(e, SystemExit):
                print(f"{tag}this rank failed:", file=sys.stderr, flush=True)
                traceback.print_exc()
            report["error"] = (str(e.code) if isinstance(e, SystemExit)
                               else f"{type(e).__name__}: {e}")
        reports: list[Any] = [None] * world
        dist.all_gather_object(reports, report)
    finally:
        # an open process group at exit can abort the interpreter (scripts/train_baseline.py)
        dist.destroy_process_group()
    return finish_torchrun(args, reports) if rank == 0 else 0


def finish_torchrun(args: Args, reports: list[dict[str, Any]]) -> int:
    """Rank 0 after the exchange: name the ranks that failed, else merge the shards.

    :param args: the parsed arguments.
    :param reports: per rank, ``rank``, ``host``, ``error`` and the fields of :class:`Outcome`.
    :return: the run's exit status.
    """
    from frame_select_env.store.atomic import atomic_write_text

    world = len(reports)
    failed = [r for r in reports if r["error"] is not None]
    for r in failed:
        print(f"rank {r['rank']}/{world} ({r['host']}) FAILED: {r['error']}", file=sys.stderr)
    if failed:
        kept = f"{args.out}.parts" if args.out is not None else args.rawframes_out
        print(f"error: {len(failed)} of {world} ranks failed, nothing was merged; what every rank "
              f"finished is kept in {kept}, and a rerun of the same command resumes from it",
              file=sys.stderr)
        return 1
    failures = sorted(tuple(f) for r in reports for f in r["failures"])
    done, skipped = sum(r["done"] for r in reports), sum(r["skipped"] for r in reports)
    if args.out is None:  # raw frames: each rank wrote its own folders, nothing to merge
        print(f"rawframes, {world} ranks: {done} ok, {len(failures)} failed")
        return 1 if failures else 0
    fail_path = Path(f"{args.out}.failures.txt")
    if failures:
        atomic_write_text(fail_path, "".join(f"{p}\t{why}\n" for p, why in failures))
    else:
        fail_path.unlink(missing_ok=True)
    stores = [r["store"] for r in reports if r["store"] is not None]
    if not stores:
        print(f"error: no video was stored by any of the {world} ranks", file=sys.stderr)
        return 1
    merge_stores = _merge_function()
    try:
        merge_stores(stores, args.out, order=reports[0]["video_ids"])
    except (ValueError, OSError) as e:
        print(f"error: merging the shards {[str(s) for s in stores]} into {args.out}: {e} "
              f"(the shards are kept)", file=sys.stderr)
        return 1
    for k in range(world):  # the shards are in the merged store now; the parts stay for resume
        shard = rank_store(args.out, k, world)
        shard.unlink(missing_ok=True)
        Path(f"{shard}.failures.txt").unlink(missing_ok=True)
    seconds = max(r["seconds"] for r in reports)
    _report(done, skipped, failures, seconds, args.out, fail_path)
    print(f"merged the shards of {world} ranks into {args.out}")
    return 1 if failures else 0


@entry
def main(argv: list[str] | None = None) -> int:
    """Extract as the command line says; 0 when every video was stored, else 1.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) each process extracts shard RANK/WORLD_SIZE and
    rank 0 merges them (:func:`run_torchrun`).
    """
    args = parse(Args, argv, description=__doc__)
    from frame_select_env.pipeline.extract import parse_shard
    from frame_select_env.pipeline.tsn.trainer import dist_info

    world, rank, local_rank = dist_info()
    if world > 1:
        return run_torchrun(args, world, rank, local_rank)

    return extract(args, parse_shard(args.shard), args.out).code


if __name__ == "__main__":
    sys.exit(main())
