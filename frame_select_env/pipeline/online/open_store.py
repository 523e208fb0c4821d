"""The online store of the env's arguments, and every video's states computed into a store."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.pipeline.extract import ExtractConfig
from frame_select_env.pipeline.online.classifier import resolve_classifier
from frame_select_env.pipeline.online.store import (
    DEFAULT_FLUSH_EVERY,
    DEFAULT_LRU_BYTES,
    OPTION_KEYS,
    OnlineStore,
)
from frame_select_env.pipeline.online.videos import resolve_videos


def open_online_store(
    videos: Any,
    classifier: Any = "builtin",
    *,
    device: str = "auto",
    flow: str | None = None,
    views: int | None = None,
    cache: str | os.PathLike | None = None,
    skip_bad: bool = False,
    default_split: str = "test",
    options: Mapping[str, Any] | None = None,
) -> tuple[OnlineStore, str | None]:
    """Build the :class:`OnlineStore` of the env's online arguments.

    :param videos: see :func:`resolve_videos`
    :param classifier: see :func:`resolve_classifier`
    :param device: ``auto`` (CUDA when present), ``cpu``, ``cuda``, ...
    :param flow: flow method (``dis``, ``tvl1``, ``farneback``); default: the classifier's
        recorded setting, else ``dis``
    :param views: V = 1 (centre crop) or 10 (ten-crop); default: recorded, else 1
    :param cache: cache store path (None: memory only)
    :param skip_bad: see :class:`OnlineStore`
    :param default_split: split of videos that carry none
    :param options: ``frames`` (T), ``flow_length``, ``size``, ``crop``, ``dtype``,
        ``batch_size``, ``workers``, ``pool``, ``lru_bytes``, ``flush_every``, ``video_root``,
        ``amp_dtype``, ``progress``
    :return: the store and the split the ``videos`` spec fixes (``builtin:<split>``) or None
    """
    opt = dict(options or {})
    if unknown := sorted(set(opt) - set(OPTION_KEYS)):
        raise ValueError(f"online_options: unknown keys {unknown}; known: {list(OPTION_KEYS)}")
    clf, clf_id, rec = resolve_classifier(classifier, device, opt.get("amp_dtype", "float16"))
    cfg = ExtractConfig(
        num_frames=int(opt.get("frames", rec.get("num_frames", 25))),
        flow_length=int(opt.get("flow_length", rec.get("flow_length", clf.flow_length or 5))),
        flow_method=flow or rec.get("flow_method", "dis"),
        num_views=int(views or rec.get("num_views", 1)),
        size=tuple(opt.get("size", rec.get("size", (340, 256)))),
        crop=int(opt.get("crop", rec.get("crop", 224))),
        dtype=str(opt.get("dtype", rec.get("dtype", "float16"))),
    )
    workers, pool = int(opt.get("workers", 2)), str(opt.get("pool", "thread"))
    # builtin videos are generated in this process unless processes were asked for: the
    # generator holds the GIL, so threads would not help (bench_online.py), and processes
    # cannot start from an unguarded script or a daemonic worker
    root, records, relevance_fn, fixed_split = resolve_videos(
        videos, clf.class_names, default_split, opt.get("video_root"),
        max(1, workers) if pool == "process" else 1)
    store = OnlineStore(
        records, root, clf, cfg, clf_id, cache=cache, skip_bad=skip_bad, workers=workers,
        pool=pool,
        batch_size=int(opt.get("batch_size", rec.get("batch_size", 256))),
        lru_bytes=int(opt.get("lru_bytes", DEFAULT_LRU_BYTES)),
        flush_every=int(opt.get("flush_every", DEFAULT_FLUSH_EVERY)),
        relevance_fn=relevance_fn, progress=bool(opt.get("progress", False)),
        metadata={"videos": videos if isinstance(videos, str) else str(root)},
    )
    return store, fixed_split


def materialize(
    videos: Any,
    classifier: Any = "builtin",
    cache: str | os.PathLike | None = None,
    *,
    splits: Sequence[str] | None = None,
    chunk: int = 32,
    **kwargs: Any,
) -> Path:
    """Compute (or read from the cache) every video's states and return the cache store.

    For the scripts: ``train_reinforce.py --videos ...`` trains on the states of the videos
    through the same online path, then reads them as a store.

    :param videos: see :func:`resolve_videos`
    :param classifier: see :func:`resolve_classifier`
    :param cache: the store to fill (default: ``cache_dir()/online/<hash>.h5``)
    :param splits: only the videos of these splits (default: all)
    :param chunk: videos per batch
    :param kwargs: the other :func:`open_online_store` arguments
    :return: the cache store path
    """
    if cache is None:
        from frame_select_env.store.builtin import cache_dir

        key = hashlib.sha1(json.dumps([str(videos), str(classifier), sorted(
            (k, str(v)) for k, v in kwargs.items())]).encode()).hexdigest()[:16]
        cache = cache_dir() / "online" / f"{key}.h5"
    opts = dict(kwargs.pop("options", None) or {})
    opts.setdefault("progress", True)
    store, _ = open_online_store(videos, classifier, cache=cache, options=opts, **kwargs)
    try:
        rows = np.arange(len(store)) if splits is None else np.flatnonzero(
            np.isin(store.splits, list(splits)))
        if len(rows) == 0:
            raise ValueError(f"videos={videos!r}: none in splits {splits}")
        todo = [int(r) for r in rows if not store.is_ready([r])]
        for s in range(0, len(todo), chunk):
            store.ensure(todo[s : s + chunk])
            store._lru.clear()  # the cache holds them; memory stays flat
            store._lru_used = 0
        store.flush()
    finally:
        store.close()
    if skipped := store.skipped:
        warnings.warn(f"{len(skipped)} videos skipped, e.g. {skipped[:3]}", stacklevel=2)
    return Path(cache)
