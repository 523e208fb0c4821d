#!/usr/bin/env python
"""Online mode throughput, measured side by side in one run on the same built-in videos.

0. the decode + flow work alone (``prepare_item`` on every video): in this process, in
   ``--workers`` threads (the online env's default pool) and in ``--workers`` spawn processes
   (``pool="process"``, and the extractor's DataLoader), videos/s and the ratios side by side;
1. ``extract_features`` (the store path: decode workers overlapping the classifier) on N
   SparseActions test videos with the built-in classifier and its settings (160x120, DIS flow,
   L = 5, T = 25, ten-crop 112): videos/s;
2. the online first pass: ``gym.make_vec("FrameSelection-v0", videos=..., cache=...)`` reset on
   every video once, ``--num-envs`` per step (the step's videos decoded by the ``--pool`` workers
   and classified in one batch): videos/s, and its ratio to 1. (target >= 0.9);
3. the cached second pass (a new vector env on the same cache) vs store mode (the vector env on
   the store of 1.): episodes/s of random-action steps, and the ratio (target >= 0.5).

Usage::

    python benchmarks/bench_online.py                     # 40 videos, 2 workers
    python benchmarks/bench_online.py --videos 100 --device cuda
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch

import frame_select_env  # noqa: F401  (registers the env)
from frame_select_env.cli import option, parse
from frame_select_env.envs.one_step.vector_env import FrameSelectionVectorEnv
from frame_select_env.pipeline.datasets.sparse_actions import builtin_videos
from frame_select_env.pipeline.extract import (
    ExtractConfig,
    _worker_init,
    extract_features,
    prepare_item,
)
from frame_select_env.pipeline.online import resolve_classifier, resolve_videos


@dataclass
class Args:
    """The arguments of ``bench_online.py``."""

    videos: int = option(40, "N test videos (spread over classes)")
    workers: int = option(2, "decode + flow workers (threads or processes)")
    pool: str = option("thread", "the online env's pool: thread or process")
    threads: int = option(-1, "torch threads (-1: the cores left after --workers, at least 1)")
    num_envs: int = option(10, "videos per online step")
    episodes_envs: int = option(256, "num_envs for episodes/s")
    steps: int = option(200, "steps for episodes/s")
    device: str = option("auto", "torch device of the classifier")
    work: Path | None = option(None, "work folder (default: a temp dir)")


def main(argv: list[str] | None = None) -> int:
    """Time the extractor, the online first pass and the cached pass; print the results.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    :return: the exit status, 0.
    """
    args = parse(Args, argv, description=__doc__)
    threads = args.threads if args.threads > 0 else max(1, (os.cpu_count() or 1) - args.workers)
    torch.set_num_threads(threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_online_"))
    spec = f"builtin:test:{args.videos}"
    root, _ = builtin_videos("test", work / "videos", workers=args.workers, limit=args.videos)
    clf, clf_id, rec = resolve_classifier("builtin", device=args.device)
    _, records, rel, _ = resolve_videos(spec, clf.class_names, "test", root)
    cfg = ExtractConfig(**{k: rec[k] for k in ("num_frames", "flow_length", "num_views", "size",
                                                "crop", "dtype")}, flow_method=rec["flow_method"])
    n = len(records)
    print(f"{n} videos, {args.workers} workers (online pool: {args.pool}s), torch threads "
          f"{threads}, device {clf.device}, {cfg}")

    # 0. decode + flow alone: in-process vs threads vs processes (pools started before timing)
    from frame_select_env.pipeline.workers import process_pool, thread_pool

    jobs = [(i, str(root / r.path)) for i, r in enumerate(records)]
    t0 = time.perf_counter()
    for i, p in jobs:
        prepare_item(i, p, cfg)
    t_serial = time.perf_counter() - t0
    decode = {}
    for name, pool in (("threads", thread_pool(args.workers)),
                       ("processes", process_pool(args.workers, _worker_init, (0,)))):
        list(pool.map(prepare_item, [0] * args.workers, [jobs[0][1]] * args.workers,
                      [cfg] * args.workers))  # every worker started and warm
        t0 = time.perf_counter()
        list(pool.map(prepare_item, *zip(*jobs, strict=True), [cfg] * n))
        decode[name] = time.perf_counter() - t0
        pool.shutdown()
    print(f"decode+flow in-process   {t_serial:7.1f} s  {n / t_serial:6.2f} videos/s")
    for name, t in decode.items():
        print(f"decode+flow {args.workers} {name:<12} {t:7.1f} s  {n / t:6.2f} videos/s  "
              f"{t_serial / t:.2f}x in-process")
    print(f"threads vs processes     {decode['processes'] / decode['threads']:.2f}x the videos/s")

    # 1. the extractor
    store = work / "extracted.h5"
    shutil.rmtree(f"{store}.parts", ignore_errors=True)
    store.unlink(missing_ok=True)
    t0 = time.perf_counter()
    res = extract_features(records, root, store, clf, clf.class_names, cfg, classifier_id=clf_id,
                           batch_size=rec["batch_size"], workers=args.workers, relevance_fn=rel,
                           progress=False)
    t_extract = time.perf_counter() - t0
    assert res.num_done == n, res.failures
    v_extract = n / t_extract

    # 2. online first pass through the vector env (construction and worker start included)
    cache = work / "online_cache.h5"
    shutil.rmtree(f"{cache}.parts", ignore_errors=True)
    cache.unlink(missing_ok=True)
    kw: dict[str, Any] = dict(
        videos=spec, classifier="builtin", device=args.device, split="test", cache=cache,
        online_options={"video_root": root, "workers": args.workers, "pool": args.pool},
    )
    b = args.num_envs
    t0 = time.perf_counter()
    env = gym.make_vec("FrameSelection-v0", num_envs=b, **kw)
    for s in range(0, n, b):
        idx = np.arange(s, s + b) % n
        env.reset(seed=s, options={"indices": idx})
    env.close()
    t_online = time.perf_counter() - t0
    v_online = n / t_online

    # 3. cached second pass vs store mode, episodes/s
    def episodes_per_s(env) -> float:
        rng = np.random.default_rng(0)
        env.reset(seed=0)
        acts = rng.integers(0, 2, (8, *env.action_space.shape))
        t = time.perf_counter()
        for k in range(args.steps):
            env.step(acts[k % 8])
        return args.steps * env.num_envs / (time.perf_counter() - t)

    t0 = time.perf_counter()
    cached = gym.make_vec("FrameSelection-v0", num_envs=args.episodes_envs, **kw)
    t_open_cached = time.perf_counter() - t0
    cached_source = cast(FrameSelectionVectorEnv, cached.unwrapped).source
    assert cached_source.in_memory and cached_source.store.num_computed == 0
    stored = gym.make_vec("FrameSelection-v0", num_envs=args.episodes_envs, store=store,
                          split="test")
    e_cached, e_store = episodes_per_s(cached), episodes_per_s(stored)
    cached.close()

    print(f"extract_features         {t_extract:7.1f} s  {v_extract:6.2f} videos/s")
    print(f"online first pass        {t_online:7.1f} s  {v_online:6.2f} videos/s  "
          f"ratio {v_online / v_extract:.2f} (target >= 0.9)")
    print(f"cached env opened in     {t_open_cached:7.2f} s")
    print(f"store mode               {e_store:10.0f} episodes/s")
    print(f"online, cached           {e_cached:10.0f} episodes/s  ratio "
          f"{e_cached / e_store:.2f} (target >= 0.5)")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
