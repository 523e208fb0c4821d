#!/usr/bin/env python
"""Speed of FrameSelection-v0: the native vector env vs SyncVectorEnv vs the copy bound.

Prints, measured side by side in one run on the same store:

* episodes/s of the native vector env (``gym.make_vec``) at N envs,
* episodes/s of ``SyncVectorEnv`` over N single envs (SAME_STEP autoreset, its best case),
* episodes/s of the copy bound: a plain numpy gather of the same observation bytes,
* the ratios native/sync (target >= 20) and native/copy-bound (target >= 0.5),
* peak memory (ru_maxrss),
* with ``--large``: a generated UCF101-sized store (13,320 videos x 25 frames x 10 views x 1024
  features, float16, ~7 GB; written once into ``--large-dir`` and reused) read lazily from
  disk: episodes/s of the native vector env at N envs (``view="random"``) beside the raw rate,
  a plain h5py loop reading the same amount (one view of N random videos, features and logits,
  ``ds[row, :, view]``), the ratio env / raw (target >= 0.5) and the peak memory.

Usage: ``python benchmarks/bench_env.py [--store PATH] [--num-envs 256] [--large
[--large-dir DIR] [--large-videos 13320] [--large-layout view]]``
"""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import h5py
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import frame_select_env  # noqa: F401
from frame_select_env.cli import option, parse
from frame_select_env.envs.one_step.vector_env import FrameSelectionVectorEnv
from frame_select_env.store import LAYOUTS, StoreWriter
from frame_select_env.store.builtin import resolve_store

#: the UCF101-sized store: videos, frames, views, feature size, classes (the issue's size)
UCF101_SIZE = (13_320, 25, 10, 1024, 101)


@dataclass
class Args:
    """The arguments of ``bench_env.py``."""

    store: str | None = option(None, "store path (default: the built-in one)")
    num_envs: int = option(256, "N, the envs of each vector env")
    steps: int = option(200, "timed vector steps (SyncVectorEnv: a twentieth, at least 5)")
    view: str = option("random", "the env's view: random, center, mean or a view index")
    large: bool = option(False, "also benchmark lazy reads of a generated UCF101-sized store")
    large_dir: str = option(str(Path(tempfile.gettempdir()) / "frame_select_env_bench"),
                            "where the generated store is written once and reused", metavar="DIR")
    large_videos: int = option(UCF101_SIZE[0], "videos of the generated store, each 25 x 10 x "
                               "1024 float16 (the default, UCF101's count, makes ~7 GB; fewer "
                               "for a quick run)")
    large_layout: str = option("view", "chunk layout of the generated store: view (1, T, 1, D), "
                               "or video (1, T, V, D), the layout of older stores",
                               choices=LAYOUTS)
    large_steps: int = option(40, "timed vector steps on the generated store")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_steps(envs: Any, steps: int, rng: np.random.Generator) -> float:
    """Episodes per second of ``steps`` vector steps with random actions (excluding reset).

    :param envs: a vector env.
    :param steps: the vector steps to time.
    :param rng: draws the actions.
    """
    envs.reset(seed=0)
    actions = rng.integers(0, 2, (steps, *envs.action_space.shape)).astype(np.int8)
    start = time.perf_counter()
    for k in range(steps):
        envs.step(actions[k])
    return steps * envs.num_envs / (time.perf_counter() - start)


def copy_bound(envs: Any, steps: int) -> float:
    """Episodes/s of gathering the same observation arrays with plain numpy, nothing else.

    :param envs: the native vector env whose in-memory observation arrays are gathered.
    :param steps: the gathers to time, one of ``num_envs`` videos each.
    """
    cache = envs.unwrapped.source._cache
    rng = np.random.default_rng(0)
    n = envs.num_envs
    num_videos = envs.unwrapped.source.num_videos
    views = envs.unwrapped.source.num_views
    random_view = envs.unwrapped.source.view == "random"
    start = time.perf_counter()
    for _ in range(steps):
        idx = rng.integers(0, num_videos, n)
        if random_view:
            v = rng.integers(0, views, n)
            _ = {k: a[idx, :, v] for k, a in cache.items()}
        else:
            _ = {k: a[idx] for k, a in cache.items()}
    return steps * n / (time.perf_counter() - start)


def make_large_store(path: Path, num_videos: int = UCF101_SIZE[0], layout: str = "view",
                     seed: int = 0) -> Path:
    """A UCF101-sized store written block by block (never whole in RAM), atomically.

    :param path: the store file; one already there is reused (an interrupted write leaves none:
        :class:`~frame_select_env.store.StoreWriter` renames it into place when complete).
    :param num_videos: N (the other sizes are :data:`UCF101_SIZE`'s).
    :param layout: the chunk layout (:class:`~frame_select_env.store.StoreWriter`).
    :param seed: seed of the random features, logits and labels.
    :return: ``path``.
    """
    _, t, v, d, c = UCF101_SIZE
    n = num_videos
    if path.is_file():
        return path
    rng = np.random.default_rng(seed)
    block = 64
    print(f"writing {path} ({n} videos, layout {layout!r}) once; later runs reuse it")
    with StoreWriter(
        path, n, t, {"rgb": (v, d)}, [f"class_{i}" for i in range(c)], dtype="float16",
        layout=layout,
    ) as w:
        for start in range(0, n, block):
            stop = min(n, start + block)
            b = stop - start
            # ids and splits as lists of str, which the writer encodes
            block_arrays: dict[str, Any] = {
                "streams/rgb/features": rng.standard_normal((b, t, v, d), dtype=np.float32),
                "streams/rgb/logits": rng.standard_normal((b, t, v, c), dtype=np.float32),
                "videos/id": [f"v{i:05d}" for i in range(start, stop)],
                "videos/label": rng.integers(0, c, b),
                "videos/split": ["train"] * b,
            }
            w.write_block(start, block_arrays)
    return path


def raw_read_rate(path: Path, n: int, steps: int, rng: np.random.Generator) -> float:
    """Episodes/s of a plain h5py loop reading what the env reads: one view of ``n`` videos.

    Each step draws ``n`` random rows and views and reads ``ds[row, :, view]`` of the features
    and the logits, one row at a time, from a file opened with h5py's default settings.

    :param path: the store.
    :param n: rows per step (the env's N).
    :param steps: the steps to time.
    :param rng: draws the rows and views.
    """
    with h5py.File(path, "r") as f:
        feats, logits = f["streams/rgb/features"], f["streams/rgb/logits"]
        rows = rng.integers(0, feats.shape[0], (steps, n))
        views = rng.integers(0, feats.shape[2], (steps, n))
        start = time.perf_counter()
        for k in range(steps):
            for row, view in zip(rows[k].tolist(), views[k].tolist(), strict=True):
                feats[row, :, view]
                logits[row, :, view]
        return steps * n / (time.perf_counter() - start)


def bench_large(args: Args, rng: np.random.Generator) -> None:
    """Lazy reads of the generated UCF101-sized store: the vector env beside the raw h5py rate.

    :param args: the parsed arguments (``large_*``, ``num_envs``).
    :param rng: draws the actions, rows and views.
    """
    n = args.num_envs
    name = f"ucf101_sized_{args.large_videos}_{args.large_layout}.h5"
    path = make_large_store(Path(args.large_dir) / name, args.large_videos, args.large_layout)
    size_gb = path.stat().st_size / 1024**3
    rss_before = peak_rss_mb()
    # lazy whatever the size (a store this large is lazy anyway; a small quick-run one would not)
    big = gym.make_vec("FrameSelection-v0", num_envs=n, store=path, view="random",
                       max_memory_bytes=0)
    assert not cast(FrameSelectionVectorEnv, big.unwrapped).source.in_memory
    chunks = h5py.File(path, "r")["streams/rgb/features"].chunks
    time_steps(big, 2, rng)  # warm-up: the one NaN/inf scan of the file, the page cache
    # the env and the raw loop alternate, so that both see the same machine load
    env_eps, raw_eps = [], []
    for _ in range(2):
        env_eps.append(time_steps(big, args.large_steps // 2, rng))
        raw_eps.append(raw_read_rate(path, n, args.large_steps // 2, rng))
    env_rate, raw_rate = float(np.mean(env_eps)), float(np.mean(raw_eps))
    big.close()
    print(f"UCF101-sized store: {path} ({size_gb:.1f} GB, {args.large_videos} videos, "
          f"chunks {chunks}), lazy reads, view=random")
    print(f"N={n}  native vector env (lazy) : {env_rate:12,.0f} episodes/s")
    print(f"N={n}  raw h5py loop            : {raw_rate:12,.0f} episodes/s")
    print(f"ratio env / raw h5py        : {env_rate / raw_rate:8.2f}    (target >= 0.5)")
    print(f"peak memory (RSS)           : {peak_rss_mb():8.0f} MB (was {rss_before:.0f} MB "
          f"before the large store)")


def main(argv: list[str] | None = None) -> int:
    """Time the native vector env, SyncVectorEnv and the copy bound; print the comparison.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    :return: the exit status, 0.
    """
    args = parse(Args, argv, description=__doc__)
    rng = np.random.default_rng(0)
    n = args.num_envs
    try:
        store = resolve_store(args.store, "--store")
    except FileNotFoundError as err:
        raise SystemExit(f"bench_env.py: error: {err}") from None
    kw: dict[str, Any] = {"store": store, "view": args.view}

    native = gym.make_vec("FrameSelection-v0", num_envs=n, **kw)
    print(f"store: {cast(FrameSelectionVectorEnv, native.unwrapped).source.summary()}")
    sync = SyncVectorEnv(
        [lambda: gym.make("FrameSelection-v0", **kw) for _ in range(n)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    native_eps = time_steps(native, args.steps, rng)
    sync_eps = time_steps(sync, max(5, args.steps // 20), rng)
    bound_eps = copy_bound(native, args.steps)
    print(f"N={n}  native vector env : {native_eps:12,.0f} episodes/s")
    print(f"N={n}  SyncVectorEnv     : {sync_eps:12,.0f} episodes/s")
    print(f"N={n}  numpy copy bound  : {bound_eps:12,.0f} episodes/s")
    print(f"ratio native / sync       : {native_eps / sync_eps:8.1f}x   (target >= 20)")
    print(f"ratio native / copy bound : {native_eps / bound_eps:8.2f}    (target >= 0.5)")
    print(f"peak memory (RSS)         : {peak_rss_mb():8.0f} MB")

    if args.large:
        bench_large(args, rng)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
