"""The HDF5 feature store: what the frozen two-stream classifier says about every sampled frame.

Schema (version 1)::

    /                         attrs: schema_version=1, num_frames=T, streams=JSON list,
                                     metadata=JSON (extractor and classifier config, ...)
    /classes                  (C,)        utf-8 class names
    /videos/id                (N,)        utf-8 video ids (unique)
    /videos/label             (N,)        int64 in [0, C)
    /videos/split             (N,)        utf-8 in {"train", "val", "test"}
    /videos/written           (N,)        bool, every row True in a finished store
    /streams/<s>/features     (N, T, V, D) float16 or float32, chunked one view of one video
                                          per chunk (1, T, 1, D); stores written before are
                                          chunked one video per chunk (1, T, V, D)
    /streams/<s>/logits       (N, T, V, C) same dtype and chunking
    /relevance                (N, T)      uint8, optional: 1 where a sampled frame shows the action
                                          (ground truth, for analysis only; never given to agents)

``<s>`` is a stream name (``rgb``, ``flow``, ...); V is the number of views (crops) and may
differ per stream; D may differ per stream; C is shared.

Writers (:class:`StoreWriter`, :func:`write_store`) build the file under a temporary name in the
same directory and rename it into place only after validation, so an interrupted write never
leaves a half-written store at the final path. :class:`FeatureStore` opens the file lazily (an
open h5py handle cannot be pickled, and vector envs live in other processes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from frame_select_env.atomic import (
    ensure_free_space,
    is_no_space,
    no_space_error,
    release_reserved,
    remove_stale_temporaries,
    reserve_space,
)
from frame_select_env.constants import SPLITS

SCHEMA_VERSION = 1
#: chunk layouts of the big arrays (:class:`StoreWriter`'s ``layout``)
LAYOUTS = ("view", "video")
_STR = h5py.string_dtype("utf-8")
# The value scan reads blocks of whole chunks of about this size, so that huge stores never sit
# in RAM.
_SCAN_BYTES = 32 << 20
# What a full disk HDF5 reported is called (its own message is a page of driver detail).
_HDF5_FULL = "the disk filled while HDF5 wrote the store; it was estimated to fit"


class StoreError(ValueError):
    """A feature store is missing, malformed or inconsistent. The message names the file."""


def _fail(path: str | os.PathLike, msg: str) -> StoreError:
    return StoreError(f"feature store {os.fspath(path)!r}: {msg}")


class StoreWriter:
    """Write a store video by video, then validate it and move it into place atomically.

    :param path: final path of the store.
    :param num_videos: N.
    :param num_frames: T.
    :param streams: stream name -> (V, D): number of views and feature size.
    :param class_names: the C class names.
    :param dtype: ``"float16"`` (half the size) or ``"float32"``.
    :param with_relevance: reserve the optional ``/relevance`` dataset.
    :param metadata: JSON-serialisable dict (extractor and classifier config, ...).
    :param compression: h5py compression for the big arrays (``None`` for the fastest reads).
    :param layout: the chunks of the big arrays: ``"view"`` (default) one view of one video,
        (1, T, 1, D), so a one-view read (the envs' ``view="random"``) reads and decodes just
        that view; ``"video"`` one whole video, (1, T, V, D), the layout of stores written
        before, kept to compare the two. Readers need not know which: both are schema 1.

    Use it as a context manager; leaving the block with an exception discards the temporary file
    and leaves any existing store at ``path`` untouched.

    Full disks: HDF5 crashes the process (segfault) when the disk fills while it writes, so
    entering the block first removes this target's temporaries left by killed runs, then
    reserves :meth:`estimated_bytes` for the temporary (:func:`~frame_select_env.atomic.
    reserve_space`); without the room it raises ``OSError`` (``ENOSPC``) naming ``path`` before
    HDF5 writes anything. A full-disk error HDF5 still reports (a file system without
    ``fallocate``, or a store larger than estimated) becomes the same ``OSError``, and the
    temporary is removed.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        num_videos: int,
        num_frames: int,
        streams: Mapping[str, tuple[int, int]],
        class_names: Sequence[str],
        dtype: str = "float16",
        with_relevance: bool = False,
        metadata: Mapping[str, Any] | None = None,
        compression: str | None = None,
        layout: str = "view",
    ) -> None:
        if dtype not in ("float16", "float32"):
            raise ValueError(f"StoreWriter: dtype must be 'float16' or 'float32', got {dtype!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"StoreWriter: layout must be one of {LAYOUTS}, got {layout!r}")
        if num_videos < 1 or num_frames < 1:
            raise ValueError(
                f"StoreWriter: need num_videos >= 1 and num_frames >= 1, got "
                f"{num_videos}, {num_frames}"
            )
        if not streams:
            raise ValueError("StoreWriter: at least one stream is required")
        self.path = Path(path)
        self.tmp_path = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.num_videos, self.num_frames = int(num_videos), int(num_frames)
        self.streams = {k: (int(v), int(d)) for k, (v, d) in streams.items()}
        self.class_names = list(class_names)
        self.dtype, self.with_relevance = dtype, with_relevance
        self.metadata = dict(metadata or {})
        self.compression = compression
        self.layout = layout
        self._file: h5py.File | None = None
        self._reserved = False

    def estimated_bytes(self) -> int:
        """An upper bound of the finished file's size (uncompressed), what a write reserves.

        The arrays' bytes plus HDF5's bookkeeping, measured on h5py 3.16 / HDF5 2.0 between 1 and
        20,000 videos: 280-570 bytes per video (chunk index, the id and split strings in the
        global heap, ids up to 200 characters) and 20-32 KiB for the superblock, groups and
        attributes; the estimate allows about twice that, and twice the larger chunk index of
        the ``"view"`` layout.
        """
        n, t, c = self.num_videos, self.num_frames, len(self.class_names)
        item = np.dtype(self.dtype).itemsize
        arrays = sum(n * t * v * (d + c) * item for v, d in self.streams.values())
        per_video = 640 + 192 * len(self.streams) + (2 * t if self.with_relevance else 0)
        if self.layout == "view":
            # a chunk per view: ~60 bytes more chunk index per extra chunk, measured on a
            # UCF101-sized store (13,320 videos x 10 views: 18.6 MB of bookkeeping, 3.0 MB with
            # a chunk per video); allowed twice
            per_video += 128 * sum(v - 1 for v, _ in self.streams.values()) * 2
        text = len(json.dumps(self.metadata, default=str)) + sum(len(x) + 32 for x in
                                                                 self.class_names)
        return arrays + n * per_video + 2 * text + (96 << 10)

    def _discard(self) -> None:
        """Close and delete the temporary, whatever state HDF5 is in."""
        f, self._file = self._file, None
        if f is not None:
            try:
                f.close()
            except Exception:  # noqa: BLE001 - the write already failed; removing it is all
                pass
        self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> StoreWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path)
        need = self.estimated_bytes()
        # before HDF5 creates anything: on a full disk even its first flush would crash
        ensure_free_space(self.path.parent, need, self.path)
        try:
            self._file = h5py.File(self.tmp_path, "w")
            self._reserved = reserve_space(self.tmp_path, need, self.path)
            self._create(self._file)
        except Exception as err:
            self._discard()
            if self._full_disk(err) is err:
                raise
            raise self._full_disk(err) from err
        return self

    def _full_disk(self, err: BaseException) -> BaseException:
        """``err``, or for a full disk the ``OSError`` (ENOSPC) naming the store."""
        if not is_no_space(err) or (isinstance(err, OSError)
                                    and err.filename == os.fspath(self.path)):
            return err
        return no_space_error(self.path, _HDF5_FULL)

    def _create(self, f: h5py.File) -> None:
        """Lay out the attributes and datasets of an empty store."""
        n, t, c = self.num_videos, self.num_frames, len(self.class_names)
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["num_frames"] = t
        f.attrs["streams"] = json.dumps(list(self.streams))
        f.attrs["metadata"] = json.dumps(self.metadata, sort_keys=True, default=str)
        f.create_dataset("classes", data=np.array(self.class_names, dtype=object), dtype=_STR)
        f.create_dataset("videos/id", shape=(n,), dtype=_STR)
        f.create_dataset("videos/label", shape=(n,), dtype=np.int64, fillvalue=-1)
        f.create_dataset("videos/split", shape=(n,), dtype=_STR)
        f.create_dataset("videos/written", shape=(n,), dtype=bool, fillvalue=False)
        for name, (v, d) in self.streams.items():
            for key, width in (("features", d), ("logits", c)):
                f.create_dataset(
                    f"streams/{name}/{key}",
                    shape=(n, t, v, width),
                    dtype=self.dtype,
                    chunks=(1, t, 1 if self.layout == "view" else v, width),
                    compression=self.compression,
                )
        if self.with_relevance:
            f.create_dataset("relevance", shape=(n, t), dtype=np.uint8, chunks=(min(n, 1024), t))

    def write(
        self,
        index: int,
        *,
        video_id: str,
        label: int,
        split: str,
        features: Mapping[str, np.ndarray],
        logits: Mapping[str, np.ndarray],
        relevance: np.ndarray | None = None,
    ) -> None:
        """Write one video's rows.

        :param index: row in [0, N).
        :param video_id: unique id (e.g. the relative path).
        :param label: class index.
        :param split: ``train``, ``val`` or ``test``.
        :param features: stream -> (T, V, D).
        :param logits: stream -> (T, V, C).
        :param relevance: optional (T,) 0/1.
        """
        f = self._file
        if f is None:
            raise RuntimeError("StoreWriter.write called outside the 'with' block")
        if split not in SPLITS:
            raise ValueError(f"video {video_id!r}: split must be one of {SPLITS}, got {split!r}")
        for name in self.streams:
            if name not in features or name not in logits:
                raise ValueError(f"video {video_id!r}: missing stream {name!r}")
            f[f"streams/{name}/features"][index] = features[name]
            f[f"streams/{name}/logits"][index] = logits[name]
        f["videos/id"][index] = video_id
        f["videos/label"][index] = int(label)
        f["videos/split"][index] = split
        if relevance is not None:
            if not self.with_relevance:
                raise ValueError("StoreWriter: relevance given but with_relevance=False")
            f["relevance"][index] = np.asarray(relevance, dtype=np.uint8)
        f["videos/written"][index] = True

    def write_block(self, start: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Write many rows at once (fast path for in-memory data).

        :param start: first row.
        :param arrays: dataset path (e.g. ``"streams/rgb/features"``, ``"videos/id"``) -> rows.
        """
        f = self._file
        assert f is not None, "write_block called outside the 'with' block"
        stop = None
        for key, value in arrays.items():
            value = (
                np.asarray(value, dtype=object) if key in ("videos/id", "videos/split") else value
            )
            stop = start + len(value)
            f[key][start:stop] = value
        if stop is not None:
            f["videos/written"][start:stop] = True

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._file is not None
        if exc is not None:
            self._discard()
            if self._full_disk(exc) is not exc:
                raise self._full_disk(exc) from exc
            return
        try:
            self._file.close()  # HDF5 flushes here: where a full disk shows up
            self._file = None
            if self._reserved:
                release_reserved(self.tmp_path)
            validate_store(self.tmp_path, display_path=self.path)
        except Exception as err:
            self._discard()
            if self._full_disk(err) is err:
                raise
            raise self._full_disk(err) from err
        os.replace(self.tmp_path, self.path)


def write_store(
    path: str | os.PathLike,
    *,
    features: Mapping[str, np.ndarray],
    logits: Mapping[str, np.ndarray],
    labels: Sequence[int] | np.ndarray,
    video_ids: Sequence[str],
    splits: Sequence[str],
    class_names: Sequence[str],
    relevance: np.ndarray | None = None,
    metadata: Mapping[str, Any] | None = None,
    dtype: str = "float16",
    compression: str | None = None,
    layout: str = "view",
) -> Path:
    """Write a whole store from in-memory arrays (atomically).

    :param features: stream -> (N, T, V, D).
    :param logits: stream -> (N, T, V, C).
    :param labels: (N,) class indices.
    :param video_ids: (N,) unique ids.
    :param splits: (N,) in {train, val, test}.
    :param class_names: (C,).
    :param relevance: optional (N, T).
    :param metadata: JSON-serialisable extra information.
    :param dtype: storage float type.
    :param compression: e.g. ``"gzip"`` for a small shipped file.
    :param layout: the chunk layout (:class:`StoreWriter`).
    :return: the path written.
    """
    streams = {}
    for name, feats in features.items():
        if feats.ndim != 4:
            raise ValueError(
                f"write_store: features[{name!r}] must be (N, T, V, D), got {feats.shape}"
            )
        streams[name] = (feats.shape[2], feats.shape[3])
    first = next(iter(features.values()))
    with StoreWriter(
        path,
        num_videos=first.shape[0],
        num_frames=first.shape[1],
        streams=streams,
        class_names=class_names,
        dtype=dtype,
        with_relevance=relevance is not None,
        metadata=metadata,
        compression=compression,
        layout=layout,
    ) as writer:
        arrays: dict[str, Any] = {
            "videos/id": list(video_ids),
            "videos/label": np.asarray(labels, dtype=np.int64),
            "videos/split": list(splits),
        }
        for name in streams:
            if name not in logits:
                raise ValueError(f"write_store: logits missing for stream {name!r}")
            arrays[f"streams/{name}/features"] = features[name]
            arrays[f"streams/{name}/logits"] = logits[name]
        if relevance is not None:
            arrays["relevance"] = np.asarray(relevance, dtype=np.uint8)
        bad = [f"{k} has {len(v)} rows" for k, v in arrays.items() if len(v) != first.shape[0]]
        if bad:
            raise ValueError(
                f"write_store: expected {first.shape[0]} rows everywhere, but " + ", ".join(bad)
            )
        writer.write_block(0, arrays)
    return Path(path)


def scan_finite(ds: h5py.Dataset, shown: str | os.PathLike,
                video_ids: Sequence[str] | np.ndarray | None = None) -> None:
    """Raise :class:`StoreError` at the first video row of ``ds`` holding a NaN or an inf.

    Reads blocks of whole chunks (about 32 MiB) with one ``np.isfinite`` each, so the speed is
    HDF5's read speed: measured ~1.4 GB/s on a 1 GB uncompressed float32 store (page cache
    warm), ~0.1-0.2 s for the 15 MB of the gzip-compressed built-in store (decompression).

    :param ds: a per-video float dataset, (N, ...).
    :param shown: the store's name in the message.
    :param video_ids: the ids of the rows (read from the file when not given).
    :raises StoreError: ``dataset '/streams/rgb/features' has NaN/inf at row 17 (video 'v_x')``.
    """
    n = ds.shape[0]
    row_bytes = max(1, int(np.prod(ds.shape[1:])) * ds.dtype.itemsize)
    step = ds.chunks[0] if ds.chunks else 1
    block = max(step, _SCAN_BYTES // row_bytes // step * step)
    for start in range(0, n, block):
        values = ds[start : start + block]
        finite = np.isfinite(values)
        if not finite.all():
            row = start + int(np.argmin(finite.reshape(len(values), -1).all(axis=1)))
            vid = (video_ids[row] if video_ids is not None
                   else ds.file["videos/id"].asstr()[row])
            raise _fail(shown, f"dataset {ds.name!r} has NaN/inf at row {row} (video {vid!r})")


def validate_store(
    path: str | os.PathLike,
    check_values: bool = True,
    display_path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Check a store against the schema; raise :class:`StoreError` naming the problem.

    Checks the schema version, that every dataset exists with consistent shapes, that every row
    was written, that ids are unique, labels lie in range, splits are known, and (with
    ``check_values``) that no feature or logit is NaN or infinite (:func:`scan_finite`).

    :param path: the store.
    :param check_values: scan the arrays for NaN/inf (reads the whole file, block by block).
    :param display_path: the name to use in messages (the final path while writing a temp file).
    :return: a summary dict (num_videos, num_frames, num_classes, streams, splits counts).
    """
    shown = display_path if display_path is not None else path
    if not Path(path).is_file():
        raise _fail(shown, "file not found")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise _fail(shown, f"not a readable HDF5 file ({err})") from err
    with f:
        version = f.attrs.get("schema_version")
        if version is None:
            raise _fail(shown, "no 'schema_version' attribute; not a frame_select_env store")
        if int(version) != SCHEMA_VERSION:
            raise _fail(
                shown, f"schema version {int(version)} is not supported (expected {SCHEMA_VERSION})"
            )
        for key in ("classes", "videos/id", "videos/label", "videos/split", "videos/written"):
            if key not in f:
                raise _fail(shown, f"missing dataset '/{key}'")
        try:
            streams = json.loads(f.attrs["streams"])
            num_frames = int(f.attrs["num_frames"])
        except (KeyError, ValueError) as err:
            raise _fail(shown, f"bad root attributes ({err})") from err
        n = f["videos/id"].shape[0]
        c = f["classes"].shape[0]
        for key in ("videos/label", "videos/split", "videos/written"):
            if f[key].shape != (n,):
                raise _fail(shown, f"'/{key}' has shape {f[key].shape}, expected ({n},)")
        written = f["videos/written"][:]
        if not written.all():
            missing = np.flatnonzero(~written)
            raise _fail(
                shown,
                f"{len(missing)} of {n} videos were never written (rows {missing[:5].tolist()}...)",
            )
        if not streams:
            raise _fail(shown, "no streams")
        for s in streams:
            for key in ("features", "logits"):
                if f"streams/{s}/{key}" not in f:
                    raise _fail(shown, f"missing dataset '/streams/{s}/{key}'")
            feats, logits = f[f"streams/{s}/features"], f[f"streams/{s}/logits"]
            if feats.ndim != 4 or feats.shape[:2] != (n, num_frames):
                raise _fail(
                    shown,
                    f"'/streams/{s}/features' has shape {feats.shape}, expected "
                    f"({n}, {num_frames}, V, D)",
                )
            if logits.shape != (n, num_frames, feats.shape[2], c):
                raise _fail(
                    shown,
                    f"'/streams/{s}/logits' has shape {logits.shape}, expected "
                    f"{(n, num_frames, feats.shape[2], c)}",
                )
            if check_values:
                for ds in (feats, logits):
                    scan_finite(ds, shown)
        labels = f["videos/label"][:]
        if n and (labels.min() < 0 or labels.max() >= c):
            bad = int(np.flatnonzero((labels < 0) | (labels >= c))[0])
            raise _fail(
                shown, f"label {int(labels[bad])} of video row {bad} is out of range [0, {c})"
            )
        ids = f["videos/id"].asstr()[:]
        if len(set(ids)) != n:
            raise _fail(shown, "video ids are not unique")
        splits = f["videos/split"].asstr()[:]
        unknown = set(splits) - set(SPLITS)
        if unknown:
            raise _fail(shown, f"unknown split names {sorted(unknown)} (expected {SPLITS})")
        if "relevance" in f and f["relevance"].shape != (n, num_frames):
            raise _fail(
                shown,
                f"'/relevance' has shape {f['relevance'].shape}, expected ({n}, {num_frames})",
            )
        return {
            "num_videos": n,
            "num_frames": num_frames,
            "num_classes": c,
            "streams": streams,
            "splits": {s: int(np.sum(splits == s)) for s in SPLITS},
        }


def finite_half_to_float32(values: np.ndarray) -> np.ndarray:
    """Widen float16 values to float32 exactly, 3-4x faster than ``astype`` for finite ones.

    numpy has no vectorised half-to-float cast on CPUs without AVX-512 (measured: 11 ms for
    the 6.5 M features of a 256-episode batch, more than HDF5 takes to read them); this is four
    integer/float array passes. A half's bits shifted left by 13 are the float32 bits of the
    value times 2^-112 (the exponent bias differs by 112, subnormals included), so one multiply
    rescales; the sign comes along from the sign-extended int16. Checked against ``astype`` on
    every finite half. Infinities and NaN come out wrong (finite): pass only values known finite.

    :param values: a float16 array (other dtypes are returned as ``astype(float32)``).
    :return: a new float32 array of the same shape.
    """
    if values.dtype != np.float16:
        return values.astype(np.float32)
    bits = values.view(np.int16).astype(np.int32)  # sign-extended: the sign fills bits 16-31
    bits <<= 13
    bits &= np.int32(-0x70000001)  # 0x8FFFFFFF: keep the sign in bit 31, clear bits 28-30
    out = bits.view(np.float32)
    out *= np.float32(2.0**112)
    return out


# ((device, inode, size, mtime_ns), dataset name) pairs this process found free of NaN and inf.
_SCANNED_CLEAN: set[tuple[tuple[int, ...], str]] = set()


class FeatureStore:
    """Lazy, picklable reader of a store.

    The HDF5 file is opened on first access in each process. Small per-video metadata is read
    eagerly; the big arrays are read on demand (:meth:`features`, :meth:`logits`) or loaded
    whole with :meth:`load`.

    Values: the first read of a stream's features or logits scans that whole dataset for NaN
    and inf (:func:`scan_finite`) and raises :class:`StoreError` naming the dataset, the row and
    the video, so no NaN reaches an agent or a reward. A clean scan is remembered in this
    process by the file's identity (device, inode, size, mtime), and travels with a
    pickled store to vector-env workers, so each file is scanned once; a file changed since
    (a rewrite, an edit in place) is scanned again. Nothing is trusted from inside the file:
    an attribute saying "checked" would survive tampering.

    :param path: the store file.
    :param validate: run :func:`validate_store` (without the value scan) on open, and scan the
        values on first read; ``False`` skips both.
    """

    def __init__(self, path: str | os.PathLike, validate: bool = True) -> None:
        self.path = Path(path)
        if validate:
            validate_store(self.path, check_values=False)
        self._file: h5py.File | None = None
        self._pid = -1
        self._scan_values = validate
        # (file identity, dataset) pairs scanned clean; pickled along to worker processes
        self._clean: set[tuple[tuple[int, ...], str]] = set()
        f = self._h5
        self.num_frames: int = int(f.attrs["num_frames"])
        self.streams: list[str] = json.loads(f.attrs["streams"])
        self.metadata: dict[str, Any] = json.loads(f.attrs.get("metadata", "{}"))
        self.class_names: list[str] = list(f["classes"].asstr()[:])
        self.video_ids: np.ndarray = f["videos/id"].asstr()[:]
        self.labels: np.ndarray = f["videos/label"][:]
        self.splits: np.ndarray = f["videos/split"].asstr()[:]
        self.has_relevance: bool = "relevance" in f

    @property
    def _h5(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            # Generous chunk cache: per-video chunks are read again and again by the env.
            self._file = h5py.File(self.path, "r", rdcc_nbytes=64 * 1024**2, rdcc_nslots=100003)
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_file"], state["_pid"] = None, -1
        return state

    def __len__(self) -> int:
        return len(self.video_ids)

    @property
    def num_classes(self) -> int:
        """Number of classes C."""
        return len(self.class_names)

    def num_views(self, stream: str) -> int:
        """Number of views (crops) V stored per frame of a stream."""
        return int(self._dataset(stream, "features").shape[2])

    def feature_dim(self, stream: str) -> int:
        """Feature dimension D of a stream."""
        return int(self._dataset(stream, "features").shape[3])

    def nbytes(self, stream: str) -> int:
        """Bytes of the stream's features + logits as stored (uncompressed)."""
        return sum(
            int(np.prod(d.shape)) * d.dtype.itemsize
            for d in (self._dataset(stream, "features"), self._dataset(stream, "logits"))
        )

    def indices(self, split: str | None = None) -> np.ndarray:
        """Row indices of a split (all rows for ``None``)."""
        if split is None:
            return np.arange(len(self))
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        return np.flatnonzero(self.splits == split)

    def index_of(self, video_id: str) -> int:
        """Row of a video id; a clear error when it is not in the store."""
        hits = np.flatnonzero(self.video_ids == video_id)
        if len(hits) == 0:
            raise KeyError(f"video id {video_id!r} is not in feature store {str(self.path)!r}")
        return int(hits[0])

    def _dataset(self, stream: str, key: str) -> h5py.Dataset:
        if stream not in self.streams:
            raise KeyError(
                f"stream {stream!r} is not in feature store {str(self.path)!r} "
                f"(it has {self.streams})"
            )
        return self._h5[f"streams/{stream}/{key}"]

    @staticmethod
    def _read_rows(ds: h5py.Dataset, idx: Any, views: Any = None) -> np.ndarray:
        """Rows ``idx`` of a per-video dataset, optionally one view per row.

        h5py's fancy indexing is 10-30x slower than plain reads, and ``read_direct`` into a row
        of a batch array costs ~2 ms a call (h5py selects in the whole destination), so: rows
        are visited in increasing order (neighbouring chunks are neighbours in the file and in
        HDF5's chunk index), runs of consecutive rows are read as one slice, single rows with
        a plain ``ds[row, :, view]``, and the results put back in the order asked for.
        """
        if isinstance(idx, (int, np.integer)):
            return ds[int(idx)] if views is None else ds[int(idx), :, int(views)]
        idx = np.asarray(idx, dtype=np.int64)
        if views is None and len(idx) > 1 and np.all(np.diff(idx) == 1):
            return ds[int(idx[0]) : int(idx[-1]) + 1]
        shape = ds.shape[1:] if views is None else (ds.shape[1], *ds.shape[3:])
        out = np.empty((len(idx), *shape), dtype=ds.dtype)
        order = np.argsort(idx, kind="stable")
        rows = idx[order].tolist()
        if views is not None:
            picked = np.asarray(views, dtype=np.int64)[order].tolist()
            for k, row, view in zip(order.tolist(), rows, picked, strict=True):
                out[k] = ds[row, :, view]
            return out
        # split the sorted rows where they stop being consecutive (a repeat starts a new run)
        cuts = [0, *(np.flatnonzero(np.diff(idx[order]) != 1) + 1).tolist(), len(rows)]
        for a, b in zip(cuts[:-1], cuts[1:], strict=False):
            out[order[a:b]] = ds[rows[a] : rows[b - 1] + 1]
        return out

    def _checked(self, stream: str, key: str) -> h5py.Dataset:
        """The dataset, its values scanned for NaN/inf first if this file was not yet."""
        ds = self._dataset(stream, key)
        if self._scan_values:
            # one stat per read (about a microsecond) notices a file rewritten or edited since
            st = os.stat(self.path)
            done = ((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns), ds.name)
            if done not in self._clean:
                if done not in _SCANNED_CLEAN:
                    scan_finite(ds, self.path, self.video_ids)
                    _SCANNED_CLEAN.add(done)
                self._clean.add(done)
        return ds

    def to_float32(self, values: np.ndarray) -> np.ndarray:
        """Values read from this store as a new float32 array (exact).

        With ``validate`` (the default) every value read was scanned finite first, so float16
        takes the fast exact widening (:func:`finite_half_to_float32`); otherwise ``astype``.

        :param values: an array returned by :meth:`features` or :meth:`logits` (or a slice).
        """
        # a subclass computing its values (the online store) sets up no scan: plain astype
        if getattr(self, "_scan_values", False):
            return finite_half_to_float32(values)
        return values.astype(np.float32)

    def check_values(self, streams: Sequence[str] | None = None) -> None:
        """Scan the features and logits of ``streams`` (default: all) for NaN/inf now.

        :param streams: stream names.
        :raises StoreError: naming the dataset, the first bad row and its video.
        """
        for s in self.streams if streams is None else streams:
            for key in ("features", "logits"):
                self._checked(s, key)

    def features(self, stream: str, idx: Any, views: Any = None) -> np.ndarray:
        """Features (T, V, D) of one video, or (B, T, V, D) of the rows ``idx``.

        :param views: optional view per row; then the view axis is dropped: (B, T, D).
        """
        return self._read_rows(self._checked(stream, "features"), idx, views)

    def logits(self, stream: str, idx: Any, views: Any = None) -> np.ndarray:
        """Logits (T, V, C) of one video, or (B, T, V, C) of the rows ``idx`` (see ``features``)."""
        return self._read_rows(self._checked(stream, "logits"), idx, views)

    def relevance(self, idx: Any) -> np.ndarray | None:
        """Per-frame relevance (T,) or (B, T), or ``None`` when the store has none."""
        if not self.has_relevance:
            return None
        return self._read_rows(self._h5["relevance"], idx)

    def load(self, stream: str, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Load a stream's features and logits for a split into memory (float32).

        :return: features (N, T, V, D) and logits (N, T, V, C).
        """
        idx = self.indices(split)
        feats = self.features(stream, idx).astype(np.float32)
        logits = self.logits(stream, idx).astype(np.float32)
        return feats, logits

    def close(self) -> None:
        """Close the HDF5 file of this process (the next access reopens it)."""
        if self._file is not None:
            self._file.close()
            self._file = None
