"""The online store: a lazy feature store whose rows are computed from videos when first read.

Decoding and flow run in ``workers`` threads by default (``online_options={"pool": "thread"}``):
OpenCV releases the GIL while it decodes, resizes and computes flow, so threads decode in
parallel, and a thread pool works as typed in a script without an ``if __name__ ==
"__main__":`` guard, in a notebook and inside a daemonic Stable-Baselines3 ``SubprocVecEnv``
worker, where spawned processes cannot start (``benchmarks/bench_online.py`` measures threads,
processes and in-process decoding side by side). ``pool="process"`` uses spawn worker processes
instead (they die with this process, :mod:`frame_select_env.pipeline.workers`); a pool whose worker
died
is rebuilt and the videos in flight are retried once, then the error names them.

Caching (``cache=PATH``): each finished video is written at once as an atomic part file
``PATH.parts/<key>.npz``; parts are folded into ``PATH``, a store in the usual schema, every
``flush_every`` videos, when every video is done, on ``close()`` and at exit (under a file lock,
validated, atomically replaced). A killed run thus loses at most the videos in flight; the next
run folds the parts it finds. A video in the cache is read, never recomputed. Without ``cache``,
an LRU of ``lru_bytes`` bounds the memory.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.core.constants import STREAMS
from frame_select_env.pipeline.datasets.lists import VideoRecord
from frame_select_env.pipeline.extract import (
    ExtractConfig,
    RelevanceFn,
    _load_part,
    _save_part,
    classify_videos,
    part_key,
    prepare_item,
    store_metadata,
    video_location,
    video_part,
    write_parts_store,
)
from frame_select_env.pipeline.online.parts import _locked, _StoreRow
from frame_select_env.pipeline.online.videos import _probe
from frame_select_env.pipeline.streams import ordered_streams
from frame_select_env.pipeline.video.decode import VideoReadError
from frame_select_env.store import FeatureStore, StoreError

DEFAULT_LRU_BYTES = 1 << 30
DEFAULT_FLUSH_EVERY = 64
#: keys ``online_options`` accepts (everything else is an error, so a typo is not ignored)
OPTION_KEYS = ("frames", "flow_length", "size", "crop", "dtype", "batch_size", "workers",
               "pool", "lru_bytes", "flush_every", "video_root", "amp_dtype", "progress")
#: what runs the decode + flow work of ``workers > 0``
POOL_KINDS = ("thread", "process")


def _cost_metadata(clf: Any, cfg: ExtractConfig) -> dict[str, Any]:
    """The counted-MACs ``cost`` entry extraction writes (:mod:`frame_select_env.pipeline.cost`).

    So online info has store mode's ``macs`` too; empty for a classifier whose backbones
    record no architecture.
    """
    from frame_select_env.pipeline.cost import build_cost, classifier_architecture

    try:
        streams = classifier_architecture(clf)
    except ValueError:
        return {}  # a backbone that records no architecture has no counted cost
    return {"cost": build_cost(streams, int(clf.num_classes), asdict(cfg))}


class OnlineStore(FeatureStore):
    """A feature store whose rows are computed from videos when first read.

    :param records: the videos (paths relative to ``root``, labels, splits)
    :param root: video root folder
    :param classifier: the frozen ``TwoStreamClassifier``
    :param cfg: extraction settings
    :param classifier_id: names the classifier's weights (in the cache's metadata and keys)
    :param cache: store path for the cache, or None (memory only)
    :param skip_bad: screen the videos first (open + frame count) and leave out those that
        fail, reporting them in ``skipped`` (and ``<cache>.failures.txt``); otherwise a bad
        video raises :class:`~frame_select_env.pipeline.video.decode.VideoReadError` naming the file
        when it is first needed
    :param workers: decode + flow workers (0: in the calling thread)
    :param pool: ``thread`` (default: works in any script, notebook or daemonic process) or
        ``process`` (spawn worker processes; need a main-module guard)
    :param batch_size: crops per forward pass
    :param lru_bytes: memory bound of the in-memory states
    :param flush_every: fold the parts into the cache store after this many new videos
    :param relevance_fn: optional per-frame relevance (SparseActions ground truth)
    :param metadata: extra metadata for the cache store
    :param progress: progress bar when many videos are computed at once
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        root: str | os.PathLike,
        classifier: Any,
        cfg: ExtractConfig,
        classifier_id: str,
        *,
        cache: str | os.PathLike | None = None,
        skip_bad: bool = False,
        workers: int = 2,
        pool: str = "thread",
        batch_size: int = 256,
        lru_bytes: int = DEFAULT_LRU_BYTES,
        flush_every: int = DEFAULT_FLUSH_EVERY,
        relevance_fn: RelevanceFn | None = None,
        metadata: Mapping[str, Any] | None = None,
        progress: bool = False,
    ) -> None:
        if set(STREAMS) - set(classifier.streams):
            raise ValueError(f"online states need both streams {STREAMS}; the classifier has "
                             f"{sorted(classifier.streams)}")
        # every stream of the classifier is computed and cached (registry order, as extraction)
        self.streams = ordered_streams(classifier.streams)
        # online mode computes the classifier's streams only (no observe-only preview)
        self.observe_only: list[str] = []
        if classifier.flow_length != cfg.flow_length:
            raise ValueError(f"classifier flow stream takes L={classifier.flow_length}, the "
                             f"settings have L={cfg.flow_length}")
        self.root = Path(root)
        self.clf, self.cfg, self.classifier_id = classifier, cfg, classifier_id
        self.cache = Path(cache) if cache is not None else None
        if pool not in POOL_KINDS:
            raise ValueError(f"online_options: pool must be one of {POOL_KINDS}, got {pool!r}")
        self.workers, self.pool, self.batch_size = int(workers), pool, int(batch_size)
        self.lru_bytes, self.flush_every = int(lru_bytes), max(1, int(flush_every))
        self.relevance_fn, self.progress = relevance_fn, progress
        rel_tag = "|relevance" if relevance_fn is not None else ""
        self._ident = hashlib.sha1(json.dumps([asdict(cfg), classifier_id + rel_tag],
                                              sort_keys=True, default=str).encode()).hexdigest()
        self.metadata = {**store_metadata(cfg, classifier_id), **_cost_metadata(classifier, cfg),
                         "online": "frame_select_env.pipeline.online", **dict(metadata or {})}
        self.path = self.cache if self.cache is not None else Path(f"<online {self.root}>")
        self._file, self._pid = None, -1
        self._cached_store: FeatureStore | None = None
        self._cached_rows: dict[str, int] = {}
        self._executor: Any = None
        self._lru: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self._lru_used = 0
        self._last: dict[int, dict[str, np.ndarray]] = {}
        self._new_parts: list[Path] = []
        self.failures: list[tuple[str, str]] = []
        self.skipped: list[tuple[str, str]] = []
        self.num_computed = 0
        # cache rows follow the order of the videos given (then any others), whatever order
        # they finished in, so a complete cache has the rows of extract_features' store
        self._order = {r.video_id: i for i, r in enumerate(records)}
        if self.cache is not None:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            self._fold_parts()  # what a killed run left behind
            self._open_cache()
        records = list(records)
        if skip_bad:
            records = self._screen(records)
        else:
            for r in records:
                if r.video_id not in self._cached_rows and not (self.root / r.path).exists() \
                        and not video_location(self.root, r.path).exists():
                    raise VideoReadError(self.root / r.path, "missing file")
        if not records:
            raise ValueError(f"online store {str(self.path)!r}: no usable videos")
        self.records = records
        self.num_frames = cfg.num_frames
        self.class_names = list(classifier.class_names)
        self.video_ids = np.array([r.video_id for r in records])
        # every record has a label (resolve_videos raises for one it cannot find)
        self.labels = np.array([int(r.label) for r in records],  # type: ignore[arg-type]
                               dtype=np.int64)
        self.splits = np.array([r.split for r in records])
        self.has_relevance = relevance_fn is not None
        ref = weakref.ref(self)

        def close_at_exit() -> None:
            store = ref()
            if store is not None:
                store.close()

        atexit.register(close_at_exit)

    def _screen(self, records: list[VideoRecord]) -> list[VideoRecord]:
        """``skip_bad``: leave out videos that cannot be opened or are too short (reported)."""
        todo = [r for r in records if r.video_id not in self._cached_rows]
        paths = [str(video_location(self.root, r.path)) for r in todo]
        need = [self.cfg.flow_length + 1] * len(paths)
        if self.workers > 0 and len(paths) > 1:
            reasons = list(self._pool().map(_probe, paths, need, chunksize=8))
        else:
            reasons = [_probe(p, n) for p, n in zip(paths, need, strict=True)]
        bad = {r.video_id: (p, why) for r, p, why in zip(todo, paths, reasons, strict=True) if why}
        self.skipped = sorted(bad.values())
        if self.skipped:
            warnings.warn(
                f"skip_bad: left out {len(self.skipped)} of {len(records)} videos, e.g. "
                + "; ".join(f"{p}: {why}" for p, why in self.skipped[:3]), stacklevel=3)
            if self.cache is not None:
                from frame_select_env.store.atomic import atomic_write_text

                atomic_write_text(Path(f"{self.cache}.failures.txt"),
                                  "".join(f"{p}\t{why}\n" for p, why in self.skipped))
        return [r for r in records if r.video_id not in bad]

    # ---------------------------------------------------------------- FeatureStore interface
    def num_views(self, stream: str) -> int:
        """V of ``stream``: the extraction's views."""
        self._check_stream(stream)
        return self.cfg.num_views

    def feature_dim(self, stream: str) -> int:
        """D of ``stream``: the classifier's feature size."""
        self._check_stream(stream)
        return int(self.clf.feature_dim(stream))

    @property
    def origin(self) -> str:
        """Where the videos come from: the ``videos=`` the user gave, and the cache."""
        cached = f", cached in {str(self.cache)!r}" if self.cache is not None else ""
        return f"videos={str(self.metadata.get('videos', self.root))!r} (online mode{cached})"

    def nbytes(self, stream: str) -> int:
        """Bytes of ``stream``'s features and logits of every video, in the store dtype."""
        itemsize = np.dtype(self.cfg.dtype).itemsize
        per_video = self.num_frames * self.cfg.num_views * (
            self.feature_dim(stream) + self.num_classes)
        return per_video * itemsize * len(self)

    def _check_stream(self, stream: str) -> None:
        if stream not in self.streams:
            raise KeyError(f"stream {stream!r} is not in online store {str(self.path)!r} "
                           f"(it has {self.streams})")

    def _dataset(self, stream: str, key: str) -> Any:  # pragma: no cover - no HDF5 behind it
        raise NotImplementedError("an OnlineStore has no HDF5 datasets; use features()/logits()")

    def features(self, stream: str, idx: Any, views: Any = None) -> np.ndarray:
        """Features of rows ``idx`` (computed if needed), as :meth:`FeatureStore.features`."""
        return self._rows(f"{stream}_features", stream, idx, views)

    def logits(self, stream: str, idx: Any, views: Any = None) -> np.ndarray:
        """Logits of rows ``idx`` (computed if needed), as :meth:`FeatureStore.logits`."""
        return self._rows(f"{stream}_logits", stream, idx, views)

    def relevance(self, idx: Any) -> np.ndarray | None:
        """Relevance of rows ``idx`` (computed if needed), or None without a relevance fn."""
        if not self.has_relevance:
            return None
        scalar = isinstance(idx, (int, np.integer))
        got = self.ensure(np.atleast_1d(idx))
        out = np.stack([got[int(r)]["relevance"] for r in np.atleast_1d(idx)])
        return out[0] if scalar else out

    def _rows(self, key: str, stream: str, idx: Any, views: Any) -> np.ndarray:
        self._check_stream(stream)
        scalar = isinstance(idx, (int, np.integer))
        rows = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        got = self.ensure(rows)
        if views is None:
            out = np.stack([got[int(r)][key] for r in rows])
        else:
            vs = np.atleast_1d(np.asarray(views, dtype=np.int64))
            out = np.stack([got[int(r)][key][:, int(v)] for r, v in zip(rows, vs, strict=True)])
        return out[0] if scalar else out

    def close(self) -> None:
        """Fold pending parts into the cache, stop the workers, close the cache file.

        Idempotent; a later read starts the workers and reopens the file again.
        """
        self._stop_pool()
        if self._new_parts:
            self.flush()
        if self._cached_store is not None:
            self._cached_store.close()

    def worker_pids(self) -> list[int]:
        """The pids of the live worker processes (none with threads or before the first job)."""
        procs = getattr(self._executor, "_processes", None) or {}
        return sorted(int(p) for p in procs)

    def _stop_pool(self) -> None:
        if self._executor is not None:
            # wait: the workers are gone (threads joined, processes reaped) when this returns
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_executor=None, _lru=OrderedDict(), _lru_used=0, _last={})
        return state

    # ---------------------------------------------------------------- availability
    def is_ready(self, rows: Sequence[int | np.integer] | np.ndarray) -> bool:
        """Whether every row has states in memory or in the cache (reading them is cheap)."""
        return all(int(r) in self._lru or int(r) in self._last
                   or self.video_ids[int(r)] in self._cached_rows for r in rows)

    def ensure(self, rows: Any) -> dict[int, dict[str, np.ndarray]]:
        """States of ``rows``: from memory, the cache, or computed now in one batch.

        :param rows: row indices
        :return: row -> part arrays (``<stream>_features`` (T, V, D), ``<stream>_logits``
            (T, V, C) in the store dtype, ``relevance`` ...)
        """
        wanted = list(dict.fromkeys(int(r) for r in np.atleast_1d(rows)))
        out: dict[int, dict[str, np.ndarray]] = {}
        todo = []
        for r in wanted:
            if not 0 <= r < len(self):
                raise IndexError(f"online store {str(self.path)!r}: row {r} outside "
                                 f"[0, {len(self)})")
            arrays = self._lru.get(r) or self._last.get(r)
            if arrays is None:
                arrays = self._read_cached(r)
                if arrays is not None:
                    self._put(r, arrays)
            elif r in self._lru:
                self._lru.move_to_end(r)
            if arrays is None:
                todo.append(r)
            else:
                out[r] = arrays
        if todo:
            out.update(self._compute(todo))
        # the last batch stays reachable even when the LRU is smaller than one batch
        self._last = out
        return out

    def _put(self, row: int, arrays: dict[str, np.ndarray]) -> None:
        size = sum(a.nbytes for a in arrays.values())
        self._lru[row] = arrays
        self._lru_used += size
        while self._lru_used > self.lru_bytes and len(self._lru) > 1:
            _, old = self._lru.popitem(last=False)
            self._lru_used -= sum(a.nbytes for a in old.values())

    # ---------------------------------------------------------------- computing
    def _pool(self) -> Any:
        if self._executor is None:
            from frame_select_env.pipeline import workers

            if self.pool == "thread":
                # no _worker_init here: it would set this process's torch / OpenCV threads
                self._executor = workers.thread_pool(self.workers, "fse-online-decode")
            else:
                from frame_select_env.pipeline.extract import _worker_init

                self._executor = workers.process_pool(
                    self.workers, _worker_init, (0,),
                    what=f"online store {str(self.path)!r} (pool='process')")
        return self._executor

    def _submit(self, jobs: dict[int, str]) -> dict[Any, int]:
        """Submit ``jobs`` (row -> path); a pool found broken before they ran is rebuilt."""
        from concurrent.futures import BrokenExecutor

        try:
            return {self._pool().submit(prepare_item, i, p, self.cfg, self.streams): i
                    for i, p in jobs.items()}
        except BrokenExecutor:  # a worker died while idle: nothing of these was in flight
            self._stop_pool()
            return {self._pool().submit(prepare_item, i, p, self.cfg, self.streams): i
                    for i, p in jobs.items()}

    def _prepared(self, jobs: list[tuple[int, str]]) -> Iterator[list[dict[str, Any]]]:
        """Prepared videos in groups, as the workers finish them (decoding overlaps compute).

        A pool that breaks (a worker process died) is rebuilt and the videos in flight are
        submitted once more; a second break raises an error naming them.
        """
        if self.workers <= 0 or len(jobs) == 0:
            yield [prepare_item(i, p, self.cfg, self.streams) for i, p in jobs]
            return
        from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, wait

        todo = dict(jobs)
        pending: dict[Any, int] = {}
        retried = False
        try:
            while todo:
                pending = self._submit(dict(todo))
                broken: BaseException | None = None
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    group = []
                    for f in done:
                        i = pending.pop(f)
                        if isinstance(f.exception(), BrokenExecutor):
                            broken = f.exception()
                        else:
                            group.append(f.result())
                            del todo[i]
                    if group:
                        yield sorted(group, key=lambda it: it["index"])
                    if broken is not None:
                        break
                if broken is None:
                    continue
                # the pool is unusable: every future still pending fails the same way
                for f in pending:
                    f.cancel()
                pending = {}
                self._stop_pool()
                from frame_select_env.pipeline.workers import main_guard_problem

                guard = main_guard_problem(started_here=False)
                if retried or guard:  # a worker dying on the main script dies again: no retry
                    raise RuntimeError(
                        f"online store {str(self.path)!r}: a decode worker process died "
                        f"{'twice ' if retried else ''}while preparing "
                        f"{', '.join(todo[i] for i in sorted(todo))} "
                        f"({type(broken).__name__}: {broken})"
                        + (f"; {guard}, or use pool='thread' (the default)" if guard else "")
                    ) from broken
                retried = True
        finally:
            for f in pending:
                f.cancel()

    def _compute(self, rows: list[int]) -> dict[int, dict[str, np.ndarray]]:
        from tqdm import tqdm

        out: dict[int, dict[str, np.ndarray]] = {}
        jobs = [(r, str(video_location(self.root, self.records[r].path))) for r in rows]
        bar = tqdm(total=len(jobs), desc="online states", unit="video",
                   disable=not (self.progress and len(jobs) > 1))
        error: VideoReadError | None = None
        try:
            for group in self._prepared(jobs):
                good = [it for it in group if it["error"] is None]
                for it in group:
                    if it["error"] is not None:
                        self.failures.append((it["path"], it["error"]))
                        error = error or VideoReadError(it["path"], it["error"])
                states = classify_videos(self.clf, good, self.cfg, self.batch_size)
                for it, st in zip(good, states, strict=True):
                    r = int(it["index"])
                    arrays = video_part(self.records[r], it, st, self.cfg, self.relevance_fn)
                    for k in list(arrays):
                        if k.endswith(("_features", "_logits")):
                            # the store's rounding, so cached and fresh states are one value
                            arrays[k] = arrays[k].astype(self.cfg.dtype)
                    if self.cache is not None:
                        self._save(r, arrays)
                    self._put(r, arrays)
                    out[r] = arrays
                    self.num_computed += 1
                bar.update(len(group))
                if error is not None:
                    break  # the videos decoded so far are kept; the rest is cancelled
        finally:
            bar.close()
        if error is not None:
            raise error
        if self.cache is not None and (len(self._new_parts) >= self.flush_every
                                       or self.is_ready(range(len(self)))):
            self.flush()
        return out

    # ---------------------------------------------------------------- the cache
    @property
    def parts_dir(self) -> Path:
        """The folder of the cache's part files."""
        return Path(f"{self.cache}.parts")

    def _save(self, row: int, arrays: dict[str, np.ndarray]) -> None:
        rec = self.records[row]
        if rec.label is None:  # resolve_videos gives every video a label
            raise ValueError(f"online store: video {rec.video_id!r} has no label")
        key = part_key(rec, self.cfg, self._ident)
        path = self.parts_dir / f"{key}.npz"
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        _save_part(path, {**arrays, "video_id": np.array(rec.video_id),
                          "label": np.int64(rec.label), "split": np.array(rec.split),
                          "ident": np.array(self._ident)})
        self._new_parts.append(path)
        self._cached_rows.pop(rec.video_id, None)  # this session's value lives in the part

    def _read_cached(self, row: int) -> dict[str, np.ndarray] | None:
        vid = self.video_ids[row]
        store_row = self._cached_rows.get(vid)
        if store_row is None or self._cached_store is None:
            return None
        st = self._cached_store
        arrays = {f"{s}_{k}": getattr(st, k)(s, store_row) for s in self.streams
                  for k in ("features", "logits")}
        if self.has_relevance:
            rel = st.relevance(store_row)
            if rel is None:
                return None  # a cache without relevance: recompute to get it
            arrays["relevance"] = rel
        return arrays

    def _open_cache(self) -> None:
        if self._cached_store is not None:
            self._cached_store.close()
        self._cached_store, self._cached_rows = None, {}
        if self.cache is None or not self.cache.is_file():
            return
        st = FeatureStore(self.cache)
        self._check_cache(st)
        self._cached_store = st
        self._cached_rows = {str(v): i for i, v in enumerate(st.video_ids)}

    def _check_cache(self, st: FeatureStore) -> None:
        meta = st.metadata
        want = json.loads(json.dumps(asdict(self.cfg)))
        if meta.get("config") != want or meta.get("classifier") != self.classifier_id:
            raise StoreError(
                f"cache {str(self.cache)!r} holds states of another classifier or extraction "
                f"setting (classifier {meta.get('classifier')!r}, config {meta.get('config')}; "
                f"now {self.classifier_id!r}, {want}); pass another cache path or delete it"
            )
        # ids with '..' were how a list's videos outside its folder were named before the ids
        # became relative to their common folder: reusing such a cache would double every video
        old_ids = [str(v) for v in st.video_ids if ".." in str(v).split("/")]
        if old_ids:
            raise StoreError(
                f"cache {str(self.cache)!r} holds videos by their old ids ({old_ids[0]!r}: a "
                f"path with '..'), from before a list's ids were made relative to its videos' "
                f"common folder; delete it (its states are recomputed) or pass another cache path"
            )

    def _fold_parts(self) -> int:
        """Fold every part of this classifier/setting into the cache store (locked, atomic)."""
        assert self.cache is not None
        if not self.parts_dir.is_dir():
            return 0
        with _locked(self.cache):
            parts = []
            for p in sorted(self.parts_dir.glob("*.npz")):
                if p.name.startswith("."):  # another writer's temporary (atomic_path), not a part
                    continue
                part = _load_part(p)
                if part is None:  # torn by a kill before the rename can't happen; damage can
                    p.unlink(missing_ok=True)
                    continue
                if str(part.get("ident", "")) == self._ident:
                    parts.append((p, part))
            if not parts:
                return 0
            entries: OrderedDict[str, tuple[int, str, Mapping[str, Any]]] = OrderedDict()
            old = FeatureStore(self.cache) if self.cache.is_file() else None
            if old is not None:
                self._check_cache(old)
                for i, vid in enumerate(old.video_ids):
                    entries[str(vid)] = (int(old.labels[i]), str(old.splits[i]), _StoreRow(old, i))
            for _, part in parts:
                vid = str(part["video_id"])
                entries.pop(vid, None)  # a redone video replaces its old row: never doubled
                entries[vid] = (int(part["label"]), str(part["split"]), part)
            with_rel = all("relevance" in e[2] for e in entries.values())
            rows = [(vid, lab, split, arrays) for vid, (lab, split, arrays) in entries.items()]
            rank = {vid: k for k, vid in enumerate(entries)}
            rows.sort(key=lambda e: (self._order.get(e[0], len(self._order)), rank[e[0]]))
            meta = {**self.metadata, "num_videos_cached": len(rows)}
            try:
                # a full disk raises OSError (ENOSPC) naming the cache; the parts stay for a
                # later fold
                write_parts_store(self.cache, rows, self.cfg, self.class_names_for_cache(), meta,
                                  with_rel)
            finally:
                if old is not None:
                    old.close()
            for p, _ in parts:
                p.unlink(missing_ok=True)
            return len(parts)

    def class_names_for_cache(self) -> list[str]:
        """The class names the cache store records: the classifier's."""
        return list(self.clf.class_names)

    def flush(self) -> None:
        """Fold this session's parts into the cache store now."""
        if self.cache is None:
            return
        self._fold_parts()
        self._new_parts = []
        self._open_cache()
