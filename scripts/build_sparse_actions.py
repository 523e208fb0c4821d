#!/usr/bin/env python
"""Build the built-in SparseActions feature store from scratch (resumable, deterministic).

Stages (each skips the work already done in ``--workdir``, so an interrupted build resumes):

1. ``generate``  : procedural videos -> ``videos/<split>/<class>_<k>.avi`` (MJPG) plus a sidecar
                   ``.json`` with the ground truth (action window, distractors);
2. ``rawframes`` : train/val videos -> raw-frame folders (``img_``, DIS ``flow_x_/flow_y_`` JPEGs);
3. ``trim``      : the action window of each train/val video as its own raw-frame folder (hard
                   links): the trimmed clips the baseline CNNs are trained on;
4. ``train``     : RGB and flow SmallCNN streams with the TSN trainer
                   (``builtin:tsn/sparse_actions_{rgb,flow}.yaml``);
5. ``extract``   : the untrimmed videos -> per-frame features/logits (T=25, ten-crop) with
                   ``frame_select_env.pipeline.extract`` and the sampled frames' relevance;
6. ``finalize``  : measurements (all-frames, oracle, random-m, relevance probe) on the store,
                   the compressed shipped store (``--out``) and its summary ``.json``;
7. ``preview``   : the preview stream: a SmallCNN on frames downscaled to 80x60 (one 56 px centre
                   crop; ``builtin:tsn/sparse_actions_preview.yaml``) trained on the RGB clips,
                   extracted from the same videos and appended to the store as an observe-only
                   stream (``observe="preview"``), its checkpoint ``<out>_preview.pt`` and its
                   cost (MACs counted, seconds measured) in the store and the cost record. The
                   rgb and flow data are not touched, so it can run on a finished store alone
                   (``--stages generate rawframes trim preview``).

Example::

    python scripts/build_sparse_actions.py                # the shipped store, seed 0
    python scripts/build_sparse_actions.py --seed 1 --out /tmp/sa1.h5 --workdir /tmp/sa1
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frame_select_env.cli import entry, option, parse
from frame_select_env.core.constants import SPLITS
from frame_select_env.store.atomic import atomic_write_text, sha256_file
from frame_select_env.store.builtin import BUILTIN_CONFIG, PACKAGED_STORE

STAGES = ("generate", "rawframes", "trim", "train", "extract", "finalize", "preview")
#: the preview stream's extraction: the frames halved, one centre crop
PREVIEW_SIZE = (80, 60)
PREVIEW_CROP = 56
PREVIEW_STREAM = "preview"
#: extraction settings of the built-in store (frames are generated at this size already)
FRAME_SIZE = (160, 120)
CROP = 112
#: crops per forward pass in extraction (T x V: one video's ten crops in one pass)
EXTRACT_BATCH = 250


DESCRIPTION = (
    "10 classes, each a sprite with its own shape/colour/texture and its own motion pattern "
    "(mirror-distinct, since flips are used). 160x120 MJPG videos of 60-80 frames; the action "
    "fills one random window of 15-35% of the frames; the rest is clutter (textured panning "
    "background, noise, flicker, grey moving blobs) and weaker distractors of other classes "
    "(semi-transparent, smaller, slower; some appearance-only or motion-only). Baseline CNNs "
    "(SmallCNN: RGB width 16, D=16; flow width 32, D=24) are trained with the TSN trainer on "
    "clips of the train split cut around the action window (loose temporal annotations: "
    "window +- margin x its length) and frozen; the store holds every split's untrimmed videos "
    "(T=25 segment centres, ten-crop 112 of 160x120, DIS flow L=5) with per-frame relevance."
)


@dataclass
class Args:
    """The arguments of ``build_sparse_actions.py``."""

    seed: int = option(0, "dataset + training seed", ge=0)
    workdir: Path = option(Path.home() / ".cache" / "frame_select_env" / "sparse_actions_build",
                           "intermediate files (videos, frames, checkpoints); reused by a rerun")
    out: Path = option(PACKAGED_STORE,
                       "final store; the summary goes next to it with a .json suffix")
    counts: list[int] = option([20, 5, 25], "videos per class for train, val, test", ge=1)
    views: int = option(10, "stored views V", choices=(1, 10))
    num_frames: int = option(25, "T", ge=1)
    rgb_config: str = option(f"{BUILTIN_CONFIG}tsn/sparse_actions_rgb.yaml",
                             "TSN config of the RGB stream (a path or builtin:NAME)")
    flow_config: str = option(f"{BUILTIN_CONFIG}tsn/sparse_actions_flow.yaml",
                              "TSN config of the flow stream (a path or builtin:NAME)")
    preview_config: str = option(f"{BUILTIN_CONFIG}tsn/sparse_actions_preview.yaml",
                                 "TSN config of the preview stream, trained on the RGB clips "
                                 "(a path or builtin:NAME)")
    rgb_margin: float = option(1.5, "RGB training clips: action window + this x its length on "
                                    "each side", ge=0)
    flow_margin: float = option(1.0, "flow training clips: action window + this x its length "
                                     "on each side", ge=0)
    workers: int = option(2, "worker processes", ge=0)
    threads: int = option(2, "torch threads", ge=1)
    stages: list[str] = option(list(STAGES), "the stages to run", choices=STAGES)
    progress: bool = option(True, "progress bars")


# ----------------------------------------------------------------------------- helpers


def _atomic_json(path: Path, obj: object) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def parse_counts(counts: list[int]) -> dict[str, int]:
    """``[20, 5, 25]`` -> ``{"train": 20, "val": 5, "test": 25}``."""
    if len(counts) != 3 or counts[0] < 1 or counts[2] < 1 or counts[1] < 0:
        raise SystemExit(f"--counts must be 3 integers (train, val, test) with train, test >= 1,"
                         f" got {counts}")
    return dict(zip(SPLITS, counts, strict=True))


# ----------------------------------------------------------------------------- stages


def stage_generate(args, plan, gen_cfg, videos: Path) -> None:
    """Stage 1: render every planned video to ``videos`` (resumable)."""
    from frame_select_env.pipeline.datasets.sparse_actions import generate_videos

    generate_videos(plan, videos, args.seed, gen_cfg, args.workers, args.progress)


def load_truth(videos: Path, plan) -> dict[str, dict]:
    """Ground truth of every planned video (from the sidecars), keyed by video id."""
    truth = {}
    for r in plan:
        p = videos / f"{r.video_id}.json"
        if not p.is_file():
            raise FileNotFoundError(f"{p}: ground-truth sidecar missing; run the generate stage")
        truth[r.video_id] = json.loads(p.read_text())
    return truth


def stage_rawframes(args, train_val, videos: Path, full: Path) -> None:
    """Stage 2: raw frames and DIS flow of the train/val videos, for TSN training."""
    from frame_select_env.pipeline.video.rawframes import build_rawframes

    fails = build_rawframes(
        [f"{r.video_id}.avi" for r in train_val], videos, full, flow_method="dis",
        size=FRAME_SIZE, workers=args.workers, progress=args.progress,
    )
    if fails:
        raise RuntimeError(f"raw frames failed for {len(fails)} videos, e.g. {fails[:3]}")


def trimmed_root(wd: Path, margin: float) -> Path:
    """Folder of the training clips cut with ``margin`` (fraction of the window on each side)."""
    return wd / f"frames_trimmed_m{int(round(margin * 100)):03d}"


def clip_span(window: list[int], num_frames: int, margin: float) -> tuple[int, int]:
    """The action window widened by ``margin`` x its length on each side (clipped to the video).

    A margin gives the clip some clutter frames carrying the clip's label, as loose temporal
    annotations do; without any, a network never sees action-free frames and maps them all to
    one class.
    """
    s, e = window
    pad = int(round(margin * (e - s)))
    return max(0, s - pad), min(num_frames, e + pad)


def stage_trim(args, train_val, truth, full: Path, trimmed: Path, margin: float) -> None:
    """Hard-link the clip frames (and the flow fields inside the clip) into new folders."""
    import shutil

    from tqdm import tqdm

    from frame_select_env.pipeline.video.decode import FLOW_X_TMPL, FLOW_Y_TMPL, IMG_TMPL

    for r in tqdm(train_val, desc="trim", unit="clip", disable=not args.progress):
        dst = trimmed / r.video_id
        if dst.is_dir():
            continue
        src = full / r.video_id
        s, e = clip_span(truth[r.video_id]["window"], truth[r.video_id]["num_frames"], margin)
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for k, i in enumerate(range(s, e)):  # frame i (0-based) -> clip frame k
            os.link(src / IMG_TMPL.format(i + 1), tmp / IMG_TMPL.format(k + 1))
            if i + 1 < e:  # field between frames i and i + 1 stays inside the window
                os.link(src / FLOW_X_TMPL.format(i + 1), tmp / FLOW_X_TMPL.format(k + 1))
                os.link(src / FLOW_Y_TMPL.format(i + 1), tmp / FLOW_Y_TMPL.format(k + 1))
        os.replace(tmp, dst)


def margins(args) -> dict[str, float]:
    """Training-clip margin of each stream."""
    return {"rgb": args.rgb_margin, "flow": args.flow_margin}


def recorded_config(value: str) -> str:
    """How the summary records a TSN config: ``builtin:NAME`` as given, a path made absolute."""
    return value if value.startswith(BUILTIN_CONFIG) else str(Path(value).resolve())


def stream_configs(args) -> dict:
    """The two TSN configs (seed from ``--seed``) and their training folders.

    A folder is named after a hash of its config, so a changed config trains afresh instead of
    resuming (or reusing) a checkpoint of another config.
    """
    from frame_select_env.pipeline.tsn import load_config

    out = {}
    for stream, cfg_path in (("rgb", args.rgb_config), ("flow", args.flow_config)):
        cfg = load_config(cfg_path, seed=args.seed)
        if cfg.stream != stream:
            raise SystemExit(f"{cfg_path}: stream is {cfg.stream!r}, expected {stream!r}")
        blob = json.dumps([cfg.to_dict(), margins(args)[stream]], sort_keys=True)
        key = hashlib.sha256(blob.encode()).hexdigest()
        out[stream] = (cfg, f"{stream}_{key[:10]}")
    return out


def stage_train(args, train_val, wd: Path, ckpt_dir: Path) -> dict[str, Path]:
    """Stage 4: train the two TSN streams on the trimmed clips; their checkpoints."""
    from frame_select_env.pipeline.datasets.lists import VideoRecord
    from frame_select_env.pipeline.datasets.sparse_actions import CLASS_NAMES
    from frame_select_env.pipeline.tsn import train_tsn

    tr = [VideoRecord(r.video_id, r.label, "train") for r in train_val if r.split == "train"]
    va = [VideoRecord(r.video_id, r.label, "val") for r in train_val if r.split == "val"]
    out = {}
    for stream, (cfg, name) in stream_configs(args).items():
        out[stream] = train_tsn(
            cfg, tr, va, trimmed_root(wd, margins(args)[stream]), ckpt_dir / name, CLASS_NAMES,
            device="cpu", progress=args.progress, tensorboard=False,
        )
    return out


def stage_extract(args, plan, truth, videos: Path, ckpts: dict[str, Path], raw_store: Path):
    """Stage 5: extract every video's states with the frozen two-stream classifier."""
    from frame_select_env.pipeline.datasets.lists import VideoRecord
    from frame_select_env.pipeline.datasets.sparse_actions import CLASS_NAMES, truth_relevance
    from frame_select_env.pipeline.extract import ExtractConfig, extract_features
    from frame_select_env.pipeline.models import TwoStreamClassifier

    records = [VideoRecord(f"{r.video_id}.avi", r.label, r.split) for r in plan]

    def relevance(rec, rgb_idx, n):
        return truth_relevance(truth[rec.video_id], rgb_idx, n, where=rec.path)

    ecfg = ExtractConfig(num_frames=args.num_frames, flow_length=5, flow_method="dis",
                         num_views=args.views, size=FRAME_SIZE, crop=CROP, dtype="float16")
    ident = "|".join(f"{s}:{sha256_file(p)[:16]}" for s, p in sorted(ckpts.items()))
    res = extract_features(
        records, videos, raw_store,
        lambda: TwoStreamClassifier.from_checkpoints(
            {s: str(p) for s, p in ckpts.items()}, device="cpu", amp_dtype=None),
        CLASS_NAMES, ecfg, classifier_id=ident, batch_size=EXTRACT_BATCH, workers=args.workers,
        relevance_fn=relevance, progress=args.progress,
    )
    if res.failures:
        raise RuntimeError(f"extraction failed for {len(res.failures)} videos: {res.failures[:3]}")
    return ecfg


def tsn_summary(ckpts: dict[str, Path]) -> dict:
    """Validation accuracy (trimmed val clips, segment centres) of the trained streams."""
    from frame_select_env.pipeline.models import read_stream_checkpoint

    out = {}
    for s, p in ckpts.items():
        if p.is_file():
            cfg = read_stream_checkpoint(p).get("config", {})
            out[s] = {k: cfg.get(k) for k in ("epochs_trained", "best_val", "best_epoch",
                                               "final_val", "feature_dim", "arch_kwargs")}
            out[s]["checkpoint_sha256"] = sha256_file(p)
    return out


def stage_finalize(args, gen_cfg, ecfg, raw_store: Path, timings: dict) -> dict:
    """Stage 6: write the final store and measure it; the measurements."""
    from frame_select_env.pipeline.datasets.sparse_actions import measure_store
    from frame_select_env.store import FeatureStore, write_store

    st = FeatureStore(raw_store)
    idx = np.arange(len(st))
    feats = {s: st.features(s, idx) for s in st.streams}
    logits = {s: st.logits(s, idx) for s in st.streams}
    meta = dict(st.metadata)
    meta.update(
        dataset="sparse_actions",
        seed=args.seed,
        generator=gen_cfg.to_dict(),
        relevance="1 where the sampled RGB frame (sample_indices(n, T, 1)) lies in the action "
                  "window",
    )
    write_store(
        # list(): write_store takes sequences of strings (it makes the same lists itself)
        args.out, features=feats, logits=logits, labels=st.labels, video_ids=list(st.video_ids),
        splits=list(st.splits), class_names=st.class_names, relevance=st.relevance(idx),
        metadata=meta, dtype="float16", compression="gzip",
        # the shipped store's chunks (one per video): a rebuild gives its bytes (sha256) again;
        # it is small and read in memory, so the one-view chunks of large stores gain nothing
        layout="video",
    )
    t0 = time.perf_counter()
    metrics = measure_store(args.out, seed=args.seed)
    timings["measure_s"] = round(time.perf_counter() - t0, 1)
    return metrics


def classifier_path(out: Path) -> Path:
    """Where the two-stream classifier of the store ``out`` goes (next to it)."""
    return out.with_name(f"{out.stem}_classifier.pt")


def write_classifier(args, ckpts: dict[str, Path]) -> Path:
    """The frozen two-stream classifier that made the store, shipped next to it.

    ``classifier="builtin"`` (online env, ``extract_features.py``) loads it with the extraction
    settings recorded here, so new videos get states comparable to the store's.
    """
    from frame_select_env.pipeline.models import save_two_stream_checkpoint

    extraction = {"num_frames": args.num_frames, "flow_length": 5, "flow_method": "dis",
                  "num_views": args.views, "size": list(FRAME_SIZE), "crop": CROP,
                  "dtype": "float16", "batch_size": EXTRACT_BATCH}
    return save_two_stream_checkpoint(classifier_path(args.out), ckpts,
                                      {"dataset": "sparse_actions", "seed": args.seed,
                                       "extraction": extraction})


# ----------------------------------------------------------------------------- preview


def preview_path(out: Path) -> Path:
    """Where the preview stream's checkpoint of the store ``out`` goes (next to it)."""
    return out.with_name(f"{out.stem}_{PREVIEW_STREAM}.pt")


def preview_config(args):
    """The preview's TSN config (seed from ``--seed``) and its training folder's name."""
    from frame_select_env.pipeline.tsn import load_config

    cfg = load_config(args.preview_config, seed=args.seed)
    if cfg.stream != PREVIEW_STREAM:
        raise SystemExit(f"{args.preview_config}: stream is {cfg.stream!r}, expected "
                         f"{PREVIEW_STREAM!r}")
    blob = json.dumps([cfg.to_dict(), args.rgb_margin], sort_keys=True)
    return cfg, f"{PREVIEW_STREAM}_{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def preview_extract_config(args):
    """The preview's extraction: the store's T, the frames halved, one centre crop."""
    from frame_select_env.pipeline.extract import ExtractConfig

    return ExtractConfig(num_frames=args.num_frames, flow_length=5, flow_method="dis",
                         num_views=1, size=PREVIEW_SIZE, crop=PREVIEW_CROP, dtype="float16")


def config_dict(ecfg) -> dict:
    """An ExtractConfig as the plain dict the cost and the metadata record."""
    from dataclasses import asdict

    out = asdict(ecfg)
    out["size"] = list(out["size"])
    return out


def stage_preview(args, plan, train_val, wd: Path, videos: Path, timings: dict) -> dict:
    """Stage 7: train, extract and append the preview stream; its summary entry.

    :return: the summary's ``preview`` entry (config, training, extraction, accuracy, cost).
    """
    import shutil

    from frame_select_env.pipeline.cost import build_cost
    from frame_select_env.pipeline.cost.timing import measure_cnn_seconds_per_crop
    from frame_select_env.pipeline.datasets.lists import VideoRecord
    from frame_select_env.pipeline.datasets.sparse_actions import CLASS_NAMES
    from frame_select_env.pipeline.extract import extract_features
    from frame_select_env.pipeline.models import TwoStreamClassifier
    from frame_select_env.pipeline.tsn import train_tsn
    from frame_select_env.store import FeatureStore, append_observe_stream

    if not args.out.is_file():
        raise SystemExit(f"preview: {args.out} missing; run the finalize stage first")
    st = FeatureStore(args.out)
    if PREVIEW_STREAM in st.observe_only:
        raise SystemExit(f"preview: {args.out} has the preview already; run the finalize stage "
                         "first (it writes the store without it)")
    cfg, name = preview_config(args)
    tr = [VideoRecord(r.video_id, r.label, "train") for r in train_val if r.split == "train"]
    va = [VideoRecord(r.video_id, r.label, "val") for r in train_val if r.split == "val"]
    t0 = time.perf_counter()
    ckpt = train_tsn(cfg, tr, va, trimmed_root(wd, args.rgb_margin), wd / "tsn" / name,
                     CLASS_NAMES, device="cpu", progress=args.progress, tensorboard=False)
    timings["preview_train_s"] = round(time.perf_counter() - t0, 1)
    ecfg = preview_extract_config(args)
    raw = wd / f"preview_v1_t{args.num_frames}_{name}.h5"
    records = [VideoRecord(f"{r.video_id}.avi", r.label, r.split) for r in plan]
    t0 = time.perf_counter()
    res = extract_features(
        records, videos, raw,
        lambda: TwoStreamClassifier.from_checkpoints({PREVIEW_STREAM: str(ckpt)}, device="cpu",
                                                     amp_dtype=None),
        CLASS_NAMES, ecfg, classifier_id=f"{PREVIEW_STREAM}:{sha256_file(ckpt)[:16]}",
        batch_size=EXTRACT_BATCH, workers=args.workers, progress=args.progress,
    )
    if res.failures:
        raise RuntimeError(f"preview extraction failed for {len(res.failures)} videos: "
                           f"{res.failures[:3]}")
    timings["preview_extract_s"] = round(time.perf_counter() - t0, 1)
    pv = FeatureStore(raw)
    rows = np.array([pv.index_of(str(v)) for v in st.video_ids])  # the store's row order
    arch = {"arch": cfg.arch, "backbone_kwargs": dict(cfg.arch_kwargs)}
    counted = build_cost({PREVIEW_STREAM: arch}, len(CLASS_NAMES), config_dict(ecfg))
    preview_cost = {**counted["streams"][PREVIEW_STREAM], "num_views": 1, "crop": PREVIEW_CROP,
                    "size": list(PREVIEW_SIZE)}
    meta_cost = dict(st.metadata["cost"])
    meta_cost["streams"] = {**meta_cost["streams"], PREVIEW_STREAM: preview_cost}
    extraction = {k: v for k, v in config_dict(ecfg).items()
                  if k not in ("flow_length", "flow_method")}
    shipped = preview_path(args.out)
    shutil.copyfile(ckpt, shipped)
    append_observe_stream(args.out, PREVIEW_STREAM, pv.features(PREVIEW_STREAM, rows),
                          pv.logits(PREVIEW_STREAM, rows), metadata={
                              "cost": meta_cost,
                              "preview": {"extraction": extraction, "config": args.preview_config,
                                          "checkpoint_sha256": sha256_file(shipped)}})
    seconds = measure_cnn_seconds_per_crop(
        cfg.arch, PREVIEW_STREAM, 3, len(CLASS_NAMES), PREVIEW_CROP, PREVIEW_SIZE,
        dict(cfg.arch_kwargs), num_frames=args.num_frames, num_views=1)
    return {"config": args.preview_config,
            "tsn_training": tsn_summary({PREVIEW_STREAM: ckpt})[PREVIEW_STREAM],
            "extraction": extraction, "accuracy": preview_accuracy(args.out),
            "checkpoint": {"file": shipped.name, "sha256": sha256_file(shipped),
                           "bytes": shipped.stat().st_size},
            "cost": {**preview_cost, "seconds_per_crop": seconds}}


def preview_accuracy(store: Path) -> dict[str, float]:
    """Test accuracy (%) of the preview alone: all T frames averaged, and per frame.

    :param store: the store with the preview.
    :return: ``all_frames``, and with relevance ``frame_acc_relevant`` / ``_irrelevant``.
    """
    from frame_select_env.core.selection import softmax
    from frame_select_env.store import FeatureStore

    st = FeatureStore(store)
    idx = st.indices("test")
    p = softmax(st.to_float32(st.logits(PREVIEW_STREAM, idx))).mean(2)  # (B, T, C)
    labels = st.labels[idx]
    out = {"all_frames": round(100.0 * float((p.mean(1).argmax(-1) == labels).mean()), 2)}
    rel = st.relevance(idx)
    if rel is not None:
        hit = p.argmax(-1) == labels[:, None]
        out["frame_acc_relevant"] = round(100.0 * float(hit[rel > 0].mean()), 2)
        out["frame_acc_irrelevant"] = round(100.0 * float(hit[rel == 0].mean()), 2)
    return out


def record_preview(args, entry: dict, timings: dict) -> None:
    """Add the preview to the summary ``.json`` and the shipped cost record.

    Appended: the store's hashes are updated, every other entry is kept.
    """
    summary_path = args.out.with_suffix(".json")
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    sha = sha256_file(args.out)
    summary.update(preview=entry, store_bytes=args.out.stat().st_size, store_sha256=sha)
    if "classifier" in summary:  # the two-stream classifier made the rgb/flow part, unchanged
        summary["classifier"]["store_sha256"] = sha
    summary["timings_s"] = {**summary.get("timings_s", {}), **timings}
    _atomic_json(summary_path, summary)
    cost_path = args.out.with_name(f"{args.out.stem}_cost.json")
    if cost_path.is_file():
        cost = json.loads(cost_path.read_text())
        cost["streams"] = {**cost["streams"], PREVIEW_STREAM: entry["cost"]}
        _atomic_json(cost_path, cost)


# ----------------------------------------------------------------------------- main


@entry
def main(argv: list[str] | None = None) -> int:
    """Build the built-in dataset stage by stage; the exit status."""
    args = parse(Args, argv, description=__doc__)
    stages = list(args.stages)
    import cv2
    import torch

    # One seed, a fixed thread count and deterministic kernels make a CPU rebuild reproducible.
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    cv2.setNumThreads(1)

    from frame_select_env.pipeline.datasets.sparse_actions import (
        CLASS_NAMES,
        SparseActionsConfig,
        plan_dataset,
    )

    counts = parse_counts(args.counts)
    gen_cfg = SparseActionsConfig()
    plan = plan_dataset(counts)
    wd = args.workdir / f"seed{args.seed}"
    videos, full = wd / "videos", wd / "frames_full"
    ckpt_dir = wd / "tsn"
    train_val = [r for r in plan if r.split in ("train", "val")]
    timings: dict[str, float] = {}

    def timed(name, fn, *a):
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        out = fn(*a)
        timings[f"{name}_s"] = round(time.perf_counter() - t0, 1)
        return out

    if "generate" in stages:
        timed("generate", stage_generate, args, plan, gen_cfg, videos)
    truth = load_truth(videos, plan)
    if "rawframes" in stages:
        timed("rawframes", stage_rawframes, args, train_val, videos, full)
    if "trim" in stages:
        for margin in sorted(set(margins(args).values())):
            timed(f"trim_m{margin:g}", stage_trim, args, train_val, truth, full,
                  trimmed_root(wd, margin), margin)
    names = {s: name for s, (_, name) in stream_configs(args).items()}
    ckpts = {s: ckpt_dir / name / "model.pt" for s, name in names.items()}
    # The unshipped store of one classifier (its parts let an interrupted extraction resume).
    raw_store = wd / f"features_v{args.views}_t{args.num_frames}_{names['rgb']}_{names['flow']}.h5"
    if "train" in stages:
        ckpts = timed("train", stage_train, args, train_val, wd, ckpt_dir)
    ecfg = None
    if "extract" in stages:
        missing = [str(p) for p in ckpts.values() if not p.is_file()]
        if missing:
            raise SystemExit(f"extract: checkpoints missing {missing}; run the train stage")
        ecfg = timed("extract", stage_extract, args, plan, truth, videos, ckpts, raw_store)
    if "finalize" in stages:
        if not raw_store.is_file():
            raise SystemExit(f"finalize: {raw_store} missing; run the extract stage")
        metrics = timed("finalize", stage_finalize, args, gen_cfg, ecfg, raw_store, timings)
        clf_path = write_classifier(args, ckpts)
        summary_path = args.out.with_suffix(".json")
        old = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        summary = {
            "dataset": "sparse_actions",
            "description": DESCRIPTION,
            "seed": args.seed,
            "counts_per_class": counts,
            "num_videos": len(plan),
            "generator": gen_cfg.to_dict(),
            "extraction": {"num_frames": args.num_frames, "flow_length": 5, "flow_method": "dis",
                           "num_views": args.views, "size": list(FRAME_SIZE), "crop": CROP,
                           "dtype": "float16"},
            "tsn_configs": {
                "rgb": recorded_config(args.rgb_config),
                "flow": recorded_config(args.flow_config),
            },
            "classes": list(CLASS_NAMES),
            "tsn_training": tsn_summary(ckpts),
            "train_clip_margin": margins(args),
            "metrics": metrics,
            "timings_s": {**old.get("timings_s", {}), **timings},
            "store_bytes": args.out.stat().st_size,
            "store_sha256": sha256_file(args.out),
            # the classifier that made this store (classifier="builtin" checks its sha256)
            "classifier": {"file": clf_path.name, "sha256": sha256_file(clf_path),
                           "bytes": clf_path.stat().st_size,
                           "stream_sha256": {s: sha256_file(p) for s, p in ckpts.items()},
                           "store_sha256": sha256_file(args.out),
                           "matches_shipped_store": True},
            "bit_for_bit_rebuild_verified": old.get("bit_for_bit_rebuild_verified", False),
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "torch": torch.__version__, "opencv": cv2.__version__,
                        "torch_threads": args.threads},
        }
        if args.out.with_suffix(".json") == summary_path:
            _atomic_json(summary_path, summary)
        print(json.dumps(metrics, indent=1))
        print(f"store {args.out} ({summary['store_bytes'] / 1e6:.2f} MB), summary {summary_path}")
    if "preview" in stages:
        ptimes: dict[str, float] = {}
        entry = timed("preview", stage_preview, args, plan, train_val, wd, videos, ptimes)
        record_preview(args, entry, ptimes)
        print(json.dumps(entry["accuracy"]), f"store {args.out} "
              f"({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
