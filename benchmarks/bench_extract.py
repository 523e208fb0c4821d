#!/usr/bin/env python
"""Feature-extraction throughput on the nine real UCF101 clips (CPU, DIS flow, centre view).

Prints, measured side by side in one run:

* decode + flow alone (``prepare_video`` in this process, one video after another),
* classifier forward alone on the same prepared tensors (``classify_video``),
* end to end (``extract_features`` with decode workers overlapping the classifier),
* the ratio end-to-end throughput / throughput of the slower part (target >= 0.7),
* the time of a second, fully resumed run as a fraction of the first (target < 10 %),
* TV-L1 vs DIS seconds per video (TV-L1 is measured with fewer segments and extrapolated by the
  number of distinct frame pairs, because it takes minutes per video at T = 25 on a CPU).

The classifier is randomly initialised (there is no trained checkpoint in the repository): speed
does not depend on the weights.

    python benchmarks/bench_extract.py --arch resnet18 --workers 1
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from frame_select_env.cli import option, parse
from frame_select_env.pipeline.archs import arch_help, arch_names
from frame_select_env.pipeline.datasets.lists import VideoRecord
from frame_select_env.pipeline.extract import (
    ExtractConfig,
    classify_video,
    extract_features,
    prepare_video,
)
from frame_select_env.pipeline.models.classifier import TwoStreamClassifier
from frame_select_env.pipeline.video.decode import count_frames, sample_indices, window_indices

CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "ucf101_clips"


@dataclass
class Args:
    """The arguments of ``bench_extract.py``."""

    clips: Path = option(CLIPS, "folder of the .mp4 clips")
    arch: str = option("resnet18", f"backbone: {arch_help()}", choices=arch_names())
    num_frames: int = option(25, "T, frames sampled per video")
    workers: int = option(1, "decode+flow worker processes end to end")
    threads: int = option(-1, "torch threads (-1: the cores left after --workers, so that the "
                              "parts measured alone use what they get end to end; 0: torch's "
                              "default)")
    batch_size: int = option(256, "crops per forward pass")
    tvl1_segments: int = option(2, "segments for the TV-L1 vs DIS timing (extrapolated to "
                                   "--num-frames)")
    skip_tvl1: bool = option(False, "skip the TV-L1 vs DIS timing")


def _pairs(n: int, t: int, length: int) -> int:
    """Distinct flow frame pairs that T stacks of L fields need (overlaps computed once).

    :param n: frames in the video.
    :param t: stacks sampled (T).
    :param length: flow fields per stack (L).
    """
    starts = sample_indices(n, t, length + 1)
    return len(set(window_indices(starts, length).ravel().tolist()))


def main(argv: list[str] | None = None) -> int:
    """Time decode+flow, the classifier, end-to-end and resumed extraction; print the results.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    :return: the exit status, 0.
    """
    args = parse(Args, argv, description=__doc__)
    clips = sorted(args.clips.glob("*.mp4"))
    if not clips:
        raise SystemExit(f"no clips in {args.clips}")
    if args.threads < 0:
        # The classifier alone with every core, then sharing them with the decode workers end to
        # end, would measure core contention rather than how well decoding overlaps compute.
        args.threads = max(1, (os.cpu_count() or 1) - args.workers)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = ExtractConfig(num_frames=args.num_frames, flow_method="dis", num_views=1)
    classes = [f"c{i}" for i in range(101)]
    clf = TwoStreamClassifier.random_init(args.arch, 101, cfg.flow_length, seed=0, device="cpu",
                                          class_names=classes)
    n = len(clips)
    print(f"{n} clips, T={cfg.num_frames}, L={cfg.flow_length}, {cfg.size[0]}x{cfg.size[1]} "
          f"crop {cfg.crop}, V=1, DIS, arch={args.arch}, torch threads={torch.get_num_threads()}, "
          f"workers={args.workers}")
    classify_video(clf, prepare_video(clips[0], cfg), cfg, args.batch_size)  # warm-up

    t0 = time.perf_counter()
    prepared = [prepare_video(c, cfg) for c in clips]
    t_prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    for item in prepared:
        classify_video(clf, item, cfg, args.batch_size)
    t_clf = time.perf_counter() - t0
    del prepared

    tmp = Path(tempfile.mkdtemp(prefix="bench_extract_"))
    try:
        recs = [VideoRecord(c.name, 0, "test") for c in clips]
        t0 = time.perf_counter()
        res = extract_features(recs, args.clips, tmp / "f.h5", clf, classes, cfg,
                               classifier_id="bench", batch_size=args.batch_size,
                               workers=args.workers, progress=False)
        t_e2e = time.perf_counter() - t0
        assert res.num_done == n and not res.failures, res.failures
        t0 = time.perf_counter()
        res2 = extract_features(recs, args.clips, tmp / "f.h5", clf, classes, cfg,
                                classifier_id="bench", workers=args.workers, progress=False)
        t_resume = time.perf_counter() - t0
        assert res2.num_skipped == n
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    slower = max(t_prep, t_clf)
    print(f"decode+flow alone    : {n / t_prep:6.2f} videos/s ({t_prep / n:.3f} s/video)")
    print(f"classifier alone     : {n / t_clf:6.2f} videos/s ({t_clf / n:.3f} s/video)")
    print(f"end to end           : {n / t_e2e:6.2f} videos/s ({t_e2e / n:.3f} s/video)")
    print(f"serial sum (no overlap): {n / (t_prep + t_clf):6.2f} videos/s")
    print(f"ratio e2e / slower   : {slower / t_e2e:6.2f}  (end-to-end throughput / throughput of "
          f"the slower part = {'classifier' if t_clf >= t_prep else 'decode+flow'}; "
          f"target >= 0.7; includes worker start-up and store assembly)")
    print(f"resumed run          : {t_resume:.3f} s = {100 * t_resume / t_e2e:.1f}% of the first "
          f"run (target < 10%)")

    if not args.skip_tvl1:
        clip = min(clips, key=lambda c: c.stat().st_size)
        nf = count_frames(clip)
        small = ExtractConfig(num_frames=args.tvl1_segments, num_views=1)
        times = {}
        for method in ("dis", "tvl1"):
            small.flow_method = method
            t0 = time.perf_counter()
            prepare_video(clip, small)
            times[method] = time.perf_counter() - t0
        k_small = _pairs(nf, small.num_frames, small.flow_length)
        k_full = _pairs(nf, cfg.num_frames, cfg.flow_length)
        # decode is common to both; scale only the flow part by the number of frame pairs
        per_pair = {m: max(times[m] - times["dis"], 0.0) / k_small for m in times}
        est_tvl1 = t_prep / n + per_pair["tvl1"] * k_full
        print(f"flow on {clip.name} ({nf} frames), T={small.num_frames} ({k_small} pairs): "
              f"DIS {times['dis']:.2f} s, TV-L1 {times['tvl1']:.2f} s per video (measured); "
              f"T={cfg.num_frames} ({k_full} pairs): DIS {t_prep / n:.2f} s (measured above, "
              f"all clips), TV-L1 ~{est_tvl1:.0f} s per video (extrapolated)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, 1-min load average {load:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
