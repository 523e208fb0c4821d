"""Writing a feature store: by video or at once, validated, then moved into place atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from frame_select_env.core.constants import SPLITS
from frame_select_env.store.atomic import (
    ensure_free_space,
    is_no_space,
    no_space_error,
    release_reserved,
    remove_stale_temporaries,
    reserve_space,
)
from frame_select_env.store.checks import validate_store
from frame_select_env.store.schema import (
    _HDF5_FULL,
    _STR,
    LAYOUTS,
    OBSERVE_ONLY_ATTR,
    SCHEMA_VERSION,
)


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
    reserves :meth:`estimated_bytes` for the temporary (:func:`~frame_select_env.store.atomic.
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


def append_observe_stream(
    path: str | os.PathLike,
    name: str,
    features: np.ndarray,
    logits: np.ndarray,
    *,
    metadata: Mapping[str, Any] | None = None,
    compression: str | None = "gzip",
) -> Path:
    """Add an observe-only stream (a preview) to a finished store, leaving the rest as it is.

    The store is copied, the group ``/streams/<name>`` and the ``observe_only_streams``
    attribute are written into the copy (the existing datasets are not touched, so every
    figure of the other streams stays), the copy is validated and moved into place.

    :param path: the store.
    :param name: the new stream; not one of the store's streams.
    :param features: (N, T, V, D) in the store's row order.
    :param logits: (N, T, V, C).
    :param metadata: keys merged into the store's metadata (e.g. the stream's extraction).
    :param compression: h5py compression of the new datasets.
    :return: ``path``.
    :raises ValueError: the name is taken, or the arrays do not fit the store.
    """
    import shutil

    path = Path(path)
    validate_store(path, check_values=False)
    with h5py.File(path, "r") as f:
        streams = json.loads(f.attrs["streams"])
        shape = (f["videos/id"].shape[0], int(f.attrs["num_frames"]))
        num_classes = f["classes"].shape[0]
        dtype = f[f"streams/{streams[0]}/features"].dtype
    if name in streams or name == "fused":
        raise ValueError(f"append_observe_stream: {str(path)!r} has a stream {name!r} already "
                         f"(fused streams {streams}); pick another name")
    if features.ndim != 4 or features.shape[:2] != shape or logits.shape != (
            *features.shape[:3], num_classes):
        raise ValueError(f"append_observe_stream: features (N, T, V, D) and logits (N, T, V, C) "
                         f"must be {shape} x V x ... with C={num_classes} for {str(path)!r}, "
                         f"got {features.shape} and {logits.shape}")
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.append{path.suffix}")
    try:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "a") as f:
            others = [s for s in json.loads(f.attrs.get(OBSERVE_ONLY_ATTR, "[]")) if s != name]
            if f"streams/{name}" in f:
                del f[f"streams/{name}"]
            t, v = features.shape[1:3]
            for key, arr in (("features", features), ("logits", logits)):
                f.create_dataset(f"streams/{name}/{key}", data=arr.astype(dtype),
                                 chunks=(1, t, v, arr.shape[3]), compression=compression,
                                 track_times=False)
            f.attrs[OBSERVE_ONLY_ATTR] = json.dumps([*others, name])
            if metadata:
                merged = {**json.loads(f.attrs.get("metadata", "{}")), **metadata}
                f.attrs["metadata"] = json.dumps(merged, sort_keys=True, default=str)
        validate_store(tmp, display_path=path)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
