"""A feature folder ``ROOT/<stream>/<video_id>.npy``: sampled to T frames, resumable by parts."""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.core.constants import SPLITS, STREAMS
from frame_select_env.core.sampling import segment_centres
from frame_select_env.pipeline.datasets.lists import (
    ListFormatError,
    VideoRecord,
    check_unique_ids,
    load_dataset,
    read_plain_list,
)
from frame_select_env.pipeline.feature_import.npz import ImportedVideos
from frame_select_env.store.atomic import atomic_path, write_failures


def read_video_table(path: str | os.PathLike) -> list[VideoRecord]:
    """Video ids, labels and splits from a plain list or a ``.csv``.

    A plain list is :func:`~frame_select_env.pipeline.datasets.lists.read_plain_list`'s ``path label
    split`` lines (the path's extension is dropped to give the id). A CSV has a header with
    ``video_id`` (or ``path``), ``label`` and ``split`` columns.

    :raises ListFormatError: naming the file and line of a bad row.
    """
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return read_plain_list(path)
    if not path.is_file():
        raise FileNotFoundError(f"list file not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
        columns = rows[0].keys() if rows else []
    key = "video_id" if "video_id" in columns else "path"
    if key not in columns or "label" not in columns or "split" not in columns:
        raise ListFormatError(path, 1, f"a CSV needs the columns video_id (or path), label and "
                                       f"split; it has {list(columns)}")
    out = []
    for no, row in enumerate(rows, 2):
        try:
            label = int(row["label"])
        except (TypeError, ValueError):
            raise ListFormatError(path, no, f"label {row['label']!r} is not an integer") from None
        out.append(VideoRecord(row[key].strip(), label, row["split"].strip()))
    check_unique_ids(out, path, list(range(2, len(out) + 2)))
    return out


def _part_key(video_id: str, files: Sequence[Path], num_frames: int) -> str:
    """What a part was made from: the id, T and each file's size and time (stale parts differ)."""
    h = hashlib.sha1(f"{video_id}|{num_frames}".encode())
    for p in files:
        st = p.stat()
        h.update(f"|{p.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def _sampled(path: Path, num_frames: int) -> tuple[np.ndarray, int]:
    """The (T, V, D) float32 frames of one ``.npy`` at TSN segment centres, and its frame count.

    :raises ValueError: the reason, for the failures list.
    """
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - numpy raises several types for bad files
        raise ValueError(f"not a readable .npy ({type(err).__name__}: {err})") from None
    if arr.ndim not in (2, 3) or arr.shape[0] < 1 or arr.dtype.kind not in "fiu":
        raise ValueError(f"expected numbers of shape (frames, D) or (frames, V, D), got "
                         f"{arr.shape} {arr.dtype}")
    frames = np.asarray(arr[segment_centres(arr.shape[0], num_frames)], np.float32)
    if not np.isfinite(frames).all():
        raise ValueError("holds NaN or inf")
    return (frames[:, None, :] if frames.ndim == 2 else frames), int(arr.shape[0])


class _Unreadable(ValueError):
    """One video file that cannot be used, and why (a line of the failures file)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def _read_video(names: Sequence[str], files: Sequence[Path], num_frames: int) -> dict[str, Any]:
    """A video's part: each stream's sampled (T, V, D) frames and its frame count."""
    arrays: dict[str, Any] = {}
    for s, p in zip(names, files, strict=True):
        try:
            arrays[s], count = _sampled(p, num_frames)
        except ValueError as err:
            raise _Unreadable(p, str(err)) from None
        arrays[f"{s}_frames"] = np.int64(count)
    return arrays


def _stream_dirs(root: Path, streams: Sequence[str] | None) -> list[str]:
    if streams:
        missing = [s for s in streams if not (root / s).is_dir()]
        if missing:
            raise FileNotFoundError(f"import_features: feature folder {str(root)!r} has no "
                                    f"stream folder {missing[0]!r}")
        return list(streams)
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise FileNotFoundError(f"import_features: feature folder {str(root)!r} has no stream "
                                f"folders (expected ROOT/<stream>/<video_id>.npy)")
    return [s for s in STREAMS if s in found] + [s for s in found if s not in STREAMS]


@dataclass
class FolderRead:
    """What :func:`read_folder` read: the videos, what failed, how many parts were reused."""

    videos: ImportedVideos
    failures: list[tuple[str, str]]
    reused: int


def read_folder(root: str | os.PathLike, records: Sequence[VideoRecord], num_frames: int,
                out: str | os.PathLike, streams: Sequence[str] | None = None,
                source: str | None = None) -> FolderRead:
    """Read ``ROOT/<stream>/<video_id>.npy`` for every record, sampled to T frames.

    Each video's frames are taken at TSN's segment centres
    (:func:`~frame_select_env.core.sampling.segment_centres` of its own frame count, as the
    extractor
    samples videos), so videos of any length give T frames; the frame count is kept in
    ``source_frames``. A video whose file is missing, unreadable, of the wrong shape or holding
    NaN/inf is left out and listed with the reason in ``<out>.failures.txt`` (``path<TAB>reason``
    per line, as extraction writes it). Every video read is saved as a part
    ``<out>.parts/<row>_<key>.npz`` (atomically), which a rerun reuses, so an interrupted import
    resumes.

    :param root: the feature folder.
    :param records: the videos (ids from their paths), with labels and splits.
    :param num_frames: T.
    :param out: the store to be written (names the parts folder and the failures file).
    :param streams: the stream folders (default: every folder under ``root``).
    :param source: the list file, for messages.
    :raises ValueError: a record without a label or with an unknown split (naming the list).
    """
    root = Path(root)
    where = source or str(root)
    if not root.is_dir():
        raise FileNotFoundError(f"import_features: feature folder {str(root)!r} not found")
    if num_frames < 1:
        raise ValueError(f"import_features: --num-frames must be >= 1, got {num_frames}")
    names = _stream_dirs(root, streams)
    for rec in records:
        if rec.label is None:
            raise ValueError(f"import_features: {where!r}: video {rec.video_id!r} has no label")
        if rec.split not in SPLITS:
            raise ValueError(f"import_features: {where!r}: video {rec.video_id!r} has split "
                             f"{rec.split!r}; splits are {SPLITS}")
    parts_dir = Path(f"{out}.parts")
    parts_dir.mkdir(parents=True, exist_ok=True)
    failures: list[tuple[str, str]] = []
    kept: list[tuple[VideoRecord, dict[str, np.ndarray]]] = []
    shapes: dict[str, tuple[int, ...]] = {}
    reused = 0
    for row, rec in enumerate(records):
        files = [root / s / f"{rec.video_id}.npy" for s in names]
        absent = [p for p in files if not p.is_file()]
        if absent:
            failures.append((str(absent[0]), "file not found"))
            continue
        part = parts_dir / f"{row:07d}_{_part_key(rec.video_id, files, num_frames)}.npz"
        arrays: dict[str, Any] = {}
        if part.is_file():
            try:
                with np.load(part, allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
                reused += 1
            except Exception:  # noqa: BLE001 - a damaged part is simply read again
                arrays = {}
        if not arrays:
            try:
                arrays = _read_video(names, files, num_frames)
            except _Unreadable as err:
                failures.append((str(err.path), err.reason))
                continue
            with atomic_path(part) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        # one (V, D) per stream: the first video read sets it
        wrong = [s for s in names if shapes.setdefault(s, arrays[s].shape[1:]) !=
                 arrays[s].shape[1:]]
        if wrong:
            s = wrong[0]
            failures.append((str(root / s / f"{rec.video_id}.npy"),
                             f"(frames, V, D) with (V, D) = {arrays[s].shape[1:]}, other videos "
                             f"of stream {s!r} have {shapes[s]}"))
            continue
        kept.append((rec, arrays))
    fail_path = write_failures(out, failures)
    if not kept:
        raise ValueError(f"import_features: no video of {where!r} could be read from "
                         f"{str(root)!r} (reasons in {str(fail_path)!r})")
    videos = ImportedVideos(
        source=str(root),
        video_ids=[r.video_id for r, _ in kept],
        labels=np.array([r.label for r, _ in kept], np.int64),
        splits=[str(r.split) for r, _ in kept],
        features={s: np.stack([a[s] for _, a in kept]) for s in names},
        source_frames={s: [int(a[f"{s}_frames"]) for _, a in kept] for s in names},
    )
    return FolderRead(videos, failures, reused)


def read_records(list_file: str | os.PathLike | None = None, dataset: str | None = None,
                 splits_dir: str | os.PathLike | None = None, split: int = 1
                 ) -> tuple[list[VideoRecord], list[str] | None]:
    """The videos of a folder import: a plain list / CSV, or an official UCF101 / HMDB51 split.

    :return: the records and, for an official split, its class names.
    """
    if dataset is not None:
        if splits_dir is None:
            raise ValueError("import_features: --dataset needs --splits-dir")
        return load_dataset(dataset, splits_dir, split)
    if list_file is None:
        raise ValueError("import_features: a feature folder needs --list (or --dataset)")
    return read_video_table(list_file), None
