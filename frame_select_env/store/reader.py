"""Reading a feature store lazily (picklable, one open handle per process)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from frame_select_env.core.constants import SPLITS
from frame_select_env.store.checks import finite_half_to_float32, scan_finite, validate_store
from frame_select_env.store.schema import OBSERVE_ONLY_ATTR

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
        # streams an agent may observe that are not in the fusion (a preview); see the schema
        self.observe_only: list[str] = json.loads(f.attrs.get(OBSERVE_ONLY_ATTR, "[]"))
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

    @property
    def origin(self) -> str:
        """Where the videos come from, as messages name it (here: the store file)."""
        return f"feature store {str(self.path)!r}"

    def empty_split_message(self, split: str | None) -> str:
        """The error of a split with no videos: where they come from, the splits there are.

        One wording for a store and for videos in online mode (their :attr:`origin` differs).

        :param split: the split asked for (``None``: every split).
        """
        names, counts = np.unique(np.asarray(self.splits, dtype=str), return_counts=True)
        has = ", ".join(f"{n}: {c}" for n, c in zip(names, counts, strict=True))
        fix = (f"pass split={str(names[int(np.argmax(counts))])!r} (the env's split=, a "
               f"script's --split), or give videos of split {split!r}" if len(names) else
               "give it videos")
        return (f"{self.origin} has no videos in split {split!r} (it has "
                f"{has or 'no videos at all'}); {fix}")

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

    @property
    def all_streams(self) -> list[str]:
        """The fused streams, then the observe-only ones."""
        return self.streams + self.observe_only

    def _dataset(self, stream: str, key: str) -> h5py.Dataset:
        if stream not in self.streams and stream not in self.observe_only:
            raise KeyError(
                f"stream {stream!r} is not in feature store {str(self.path)!r} "
                f"(it has {self.all_streams})"
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
