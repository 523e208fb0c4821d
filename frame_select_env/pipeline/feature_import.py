"""Bring your own features: ``.npz`` files, per-video ``.npy`` folders, several streams, no logits.

Three input layouts become one store (:func:`import_store`):

* one ``.npz`` per stream (``features``, ``logits`` optional, ``labels``, ``split``, ...), given
  as ``--stream NAME FILE`` pairs, or one ``.npz`` holding ``<stream>_features`` (and
  ``<stream>_logits``) for several streams (:func:`read_npz`);
* a folder ``ROOT/<stream>/<video_id>.npy`` of (frames, D) or (frames, V, D) arrays per video,
  with labels and splits from a list file (plain list, CSV, or the UCF101 / HMDB51 split files):
  each video is sampled to T frames at TSN's segment centres and its frame count is recorded;
  unreadable files are listed in ``<out>.failures.txt`` and every read video is kept as a part
  in ``<out>.parts/``, so a rerun resumes (:func:`read_folder`);
* any of these without logits: the streams' classifier heads are fitted on the train split
  (:func:`frame_select_env.pipeline.models.head.fit_head`) or read from a file.

Streams read from different files must agree in video ids, labels, splits and T; the first
disagreement is named.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
    read_class_names,
    read_plain_list,
)
from frame_select_env.pipeline.models.head import (
    HeadFit,
    apply_head,
    fit_head,
    load_heads,
    save_heads,
)
from frame_select_env.store import write_store
from frame_select_env.store.atomic import atomic_path, atomic_write_text, sha256_file

#: what ``metadata["probabilities"][stream]`` says about a stream's logits
GIVEN, FITTED_HEAD, USER_HEAD = "given", "fitted_head", "user_head"


@dataclass
class ImportedVideos:
    """Videos read from one source, before they are written as a store.

    :param source: the file or folder, for messages.
    :param video_ids: (N,) ids.
    :param labels: (N,) int64.
    :param splits: (N,) in {train, val, test}.
    :param features: stream -> (N, T, V, D).
    :param logits: stream -> (N, T, V, C); a stream without logits is absent.
    :param class_names: the C names, when the source has them.
    :param relevance: optional (N, T).
    :param source_frames: stream -> frames of each video before sampling (folder layout).
    """

    source: str
    video_ids: list[str]
    labels: np.ndarray
    splits: list[str]
    features: dict[str, np.ndarray]
    logits: dict[str, np.ndarray] = field(default_factory=dict)
    class_names: list[str] | None = None
    relevance: np.ndarray | None = None
    source_frames: dict[str, list[int]] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        """T."""
        return int(next(iter(self.features.values())).shape[1])


def _with_views(arr: np.ndarray, ndim: int) -> np.ndarray:
    """(N, T, X) -> (N, T, 1, X): a single view."""
    return arr[:, :, None, :] if arr.ndim == ndim - 1 else arr


def read_npz(npz_path: str | os.PathLike, stream: str | None = None,
             require_logits: bool = False) -> ImportedVideos:
    """Read a ``.npz`` of one stream (``features``) or several (``<stream>_features``).

    :param npz_path: the file: ``features`` (N,T,D) or (N,T,V,D) and optional ``logits``
        (N,T,C) or (N,T,V,C), or ``rgb_features``, ``flow_features``, ... with optional
        ``rgb_logits``, ...; ``labels`` (N,) int; ``split`` (N,) str in {train, val, test};
        optionally ``video_ids``, ``class_names``, ``relevance`` (N,T) and ``stream``.
    :param stream: the stream name of a single-stream file (overrides ``stream`` in the file).
    :param require_logits: refuse a file without logits (the single-stream API).
    :raises FileNotFoundError: the file is absent.
    :raises ValueError: naming the file and the array that is missing or wrong.
    """
    npz_path = Path(npz_path)
    where = f"import_features: {str(npz_path)!r}"
    if not npz_path.is_file():
        raise FileNotFoundError(f"import_features: input file {str(npz_path)!r} not found")
    try:
        data = np.load(npz_path, allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - numpy raises several types for bad files
        raise ValueError(f"{where} is not a readable .npz ({err})") from err

    def read(key: str) -> np.ndarray:
        try:
            return data[key]
        except ValueError as err:  # an object array: it would need pickle, never loaded
            raise ValueError(
                f"{where}: array {key!r} is a Python-object array, which is not loaded (it "
                f"would need pickle); save it with a plain dtype, e.g. np.asarray(values, "
                f"dtype=str) ({err})"
            ) from None

    required = "features, logits, labels, split" if require_logits else "features, labels, split"

    def need(key: str) -> np.ndarray:
        if key not in data:
            raise ValueError(f"{where} has no array {key!r} (it has {sorted(data.files)}; "
                             f"required: {required})")
        return read(key)

    found = sorted(k[: -len("_features")] for k in data.files if k.endswith("_features"))
    prefixed = [s for s in STREAMS if s in found] + [s for s in found if s not in STREAMS]
    if "features" in data.files or not prefixed:
        name = stream or (str(read("stream")) if "stream" in data else "rgb")
        keys = {name: ("features", "logits")}
    else:
        if stream is not None:
            raise ValueError(f"{where} holds the streams {prefixed}; a stream name applies to a "
                             f"file with a single 'features' array")
        keys = {s: (f"{s}_features", f"{s}_logits") for s in prefixed}
    features, logits = {}, {}
    for name, (fk, lk) in keys.items():
        feats = _with_views(need(fk), 4)
        if feats.ndim != 4:
            raise ValueError(f"{where}: {fk} must be (N,T,D) or (N,T,V,D), got {feats.shape}")
        features[name] = feats
        if lk in data.files or require_logits:
            lg = _with_views(need(lk), 4)
            if lg.ndim != 4 or lg.shape[:3] != feats.shape[:3]:
                raise ValueError(f"{where}: {lk} {lg.shape} do not match {fk} {feats.shape} in "
                                 f"(N, T, V); logits are (N,T,C) or (N,T,V,C)")
            logits[name] = lg
    first = next(iter(features.values()))
    n, t = first.shape[:2]
    for name, feats in features.items():
        if feats.shape[:2] != (n, t):
            raise ValueError(f"{where}: stream {name!r} features are {feats.shape}, the other "
                             f"streams' (N, T) is {(n, t)}")
    labels, split = _import_labels(npz_path, need("labels")), need("split").astype(str)
    if labels.shape != (n,) or split.shape != (n,):
        raise ValueError(f"{where}: labels and split must be ({n},), got {labels.shape} and "
                         f"{split.shape}")
    bad = sorted(set(split.tolist()) - set(SPLITS))
    if bad:
        raise ValueError(f"{where}: array 'split' holds {bad}; splits are {SPLITS}")
    widths = {lg.shape[3] for lg in logits.values()}
    if len(widths) > 1:
        raise ValueError(f"{where}: the streams' logits have different class counts {widths}")
    class_names = [str(x) for x in read("class_names")] if "class_names" in data else None
    if class_names is not None and widths and len(class_names) != widths.pop():
        raise ValueError(f"{where}: {len(class_names)} class names for "
                         f"{next(iter(logits.values())).shape[3]} logit columns")
    video_ids = ([str(x) for x in read("video_ids")] if "video_ids" in data
                 else [f"video_{i:06d}" for i in range(n)])
    if len(video_ids) != n:
        raise ValueError(f"{where}: video_ids has {len(video_ids)} entries for {n} videos")
    relevance = read("relevance") if "relevance" in data else None
    if relevance is not None and relevance.shape != (n, t):
        raise ValueError(f"{where}: relevance must be ({n}, {t}), got {relevance.shape}")
    return ImportedVideos(str(npz_path), video_ids, labels, split.tolist(), features, logits,
                          class_names, relevance)


def combine(parts: Sequence[ImportedVideos]) -> ImportedVideos:
    """Join the streams of several sources of the same videos.

    :param parts: one :class:`ImportedVideos` per source, each with its own streams.
    :raises ValueError: naming both sources and the first video where ids, labels or splits
        differ, a different T, or a stream given twice.
    """
    base = parts[0]
    out = ImportedVideos(base.source, list(base.video_ids), base.labels, list(base.splits),
                         dict(base.features), dict(base.logits), base.class_names,
                         base.relevance, dict(base.source_frames))
    for part in parts[1:]:
        ctx = f"import_features: {part.source!r} and {base.source!r}"
        twice = sorted(set(part.features) & set(out.features))
        if twice:
            raise ValueError(f"{ctx} both hold stream {twice[0]!r}")
        if len(part.video_ids) != len(base.video_ids):
            raise ValueError(f"{ctx} hold {len(part.video_ids)} and {len(base.video_ids)} "
                             f"videos")
        if part.num_frames != base.num_frames:
            raise ValueError(f"{ctx} have T={part.num_frames} and T={base.num_frames} frames "
                             f"per video")
        for what, mine, theirs in (("id", part.video_ids, base.video_ids),
                                   ("label", part.labels.tolist(), base.labels.tolist()),
                                   ("split", part.splits, base.splits)):
            for row, (a, b) in enumerate(zip(mine, theirs, strict=True)):
                if a != b:
                    raise ValueError(f"{ctx} disagree at video row {row} "
                                     f"({base.video_ids[row]!r}): {what} {a!r} vs {b!r}")
        if part.class_names is not None:
            if out.class_names is not None and part.class_names != out.class_names:
                raise ValueError(f"{ctx} have different class names")
            out.class_names = part.class_names
        if out.relevance is None:
            out.relevance = part.relevance
        out.features.update(part.features)
        out.logits.update(part.logits)
        out.source_frames.update(part.source_frames)
    return out


# ------------------------------------------------------------------ folder layout
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
    fail_path = Path(f"{out}.failures.txt")
    if failures:
        atomic_write_text(fail_path, "".join(f"{p}\t{why}\n" for p, why in failures))
    else:
        fail_path.unlink(missing_ok=True)
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


# ------------------------------------------------------------------ heads and writing
def _early_stopping_rows(videos: ImportedVideos, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows to fit on and rows to stop on: train and val, or a seeded tenth of train."""
    splits = np.asarray(videos.splits)
    train, val = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "val")
    if len(val) or len(train) < 10:
        return train, val
    # no val split: hold out a seeded tenth of train, only for stopping the fit
    held = np.random.default_rng(seed).permutation(train)[: max(1, len(train) // 10)]
    return np.setdiff1d(train, held), np.sort(held)


def add_logits(videos: ImportedVideos, num_classes: int, head_file: str | os.PathLike | None,
               seed: int = 0, log: Callable[[str], Any] = print
               ) -> tuple[dict[str, str], dict[str, HeadFit]]:
    """Give every stream without logits the logits of a classifier head (fitted or given).

    :param videos: changed in place: ``logits`` gains the missing streams.
    :param num_classes: C.
    :param head_file: a file of heads (:func:`~frame_select_env.pipeline.models.head.load_heads`);
    fitted
        on the train split when ``None``.
    :param seed: the fit's seed.
    :param log: where the accuracy lines go.
    :return: stream -> where its probabilities come from, and the heads used.
    """
    missing = [s for s in videos.features if s not in videos.logits]
    origin = {s: GIVEN for s in videos.features}
    heads: dict[str, HeadFit] = {}
    if not missing:
        return origin, heads
    labels = videos.labels
    fit_rows, stop_rows = _early_stopping_rows(videos, seed)
    if head_file is not None:
        given = load_heads(head_file, missing, {s: videos.features[s].shape[3] for s in missing})
    for s in missing:
        feats = videos.features[s]
        if head_file is not None:
            w, b = given[s]
            if w.shape[0] != num_classes:
                raise ValueError(f"classifier head {os.fspath(head_file)!r}: stream {s!r} has "
                                 f"{w.shape[0]} classes, the videos' labels need {num_classes}")
            from frame_select_env.pipeline.models.head import pooled

            acc = {}
            for name, rows in (("train", fit_rows), ("val", stop_rows)):
                pred = (pooled(feats[rows]) @ w.T + b).argmax(1)
                acc[name] = float(np.mean(pred == labels[rows])) if len(rows) else float("nan")
            heads[s] = HeadFit(w, b, acc["train"], acc["val"], 0)
            origin[s] = USER_HEAD
        else:
            if not len(fit_rows):
                raise ValueError(f"import_features: {videos.source!r} has no logits for stream "
                                 f"{s!r} and no train videos to fit a classifier head on; give "
                                 f"a head with --logits-from")
            heads[s] = fit_head(feats[fit_rows], labels[fit_rows], feats[stop_rows],
                                labels[stop_rows], num_classes, seed=seed)
            origin[s] = FITTED_HEAD
        h = heads[s]
        log(f"classifier head {s} ({origin[s]}): train accuracy {h.train_accuracy:.4f} "
            f"({len(fit_rows)} videos), val accuracy {h.val_accuracy:.4f} "
            f"({len(stop_rows)} videos)")
        videos.logits[s] = apply_head(h.weight, h.bias, feats)
    return origin, heads


def _check_range(videos: ImportedVideos, dtype: str) -> None:
    """Refuse NaN/inf, and values beyond the storage type (they would be stored as inf)."""
    limit = float(np.finfo(np.dtype(dtype)).max)
    for key, arrays in (("features", videos.features), ("logits", videos.logits)):
        for s, arr in arrays.items():
            if not np.isfinite(arr).all():
                raise ValueError(f"import_features: {videos.source!r}: stream {s!r} {key} "
                                 f"contain NaN or inf")
            big = float(np.abs(arr).max()) if arr.size else 0.0
            if big > limit:
                raise ValueError(
                    f"import_features: {videos.source!r}: {key} reach {big:.6g}, beyond the "
                    f"range of {dtype} (largest {limit:.6g}); store them as float32 "
                    f"(--dtype float32, or dtype='float32') or rescale them")


def write_imported(videos: ImportedVideos, out: str | os.PathLike, dtype: str = "float16",
                   head_file: str | os.PathLike | None = None, seed: int = 0,
                   class_names: Sequence[str] | None = None, inputs: Sequence[str] = (),
                   log: Callable[[str], Any] = print) -> Path:
    """Write imported videos as a store; streams without logits get a classifier head first.

    The store's metadata records ``probabilities`` (stream -> ``given``, ``fitted_head`` or
    ``user_head``), and for heads ``head`` (the heads file beside the store,
    ``<out>.head.pt``, its sha256, and per stream the train/val accuracy), and for folder
    imports ``source_frames`` (stream -> video id -> frames before sampling).

    :param videos: the videos (see :func:`read_npz`, :func:`read_folder`, :func:`combine`).
    :param out: the store.
    :param dtype: storage float type.
    :param head_file: heads to use instead of fitting (``--logits-from``).
    :param seed: the head fit's seed.
    :param class_names: overrides the sources' class names.
    :param inputs: the input names, recorded in the metadata.
    :param log: where progress lines go.
    :return: the store written.
    """
    names = list(class_names) if class_names is not None else videos.class_names
    widths = {lg.shape[3] for lg in videos.logits.values()}
    missing = [s for s in videos.features if s not in videos.logits]
    if names is None and not widths and head_file is not None and missing:
        # no class names and no logits: the given head says how many classes there are
        w, _ = next(iter(load_heads(head_file, missing, {
            s: videos.features[s].shape[3] for s in missing}).values()))
        widths = {w.shape[0]}
    num_classes = (len(names) if names is not None else widths.pop() if widths
                   else int(videos.labels.max()) + 1)
    if names is None:
        names = [f"class_{i}" for i in range(num_classes)]
    if len(names) != num_classes or (widths and widths != {num_classes}):
        raise ValueError(f"import_features: {len(names)} class names for logits of "
                         f"{sorted(widths)} classes")
    if videos.labels.size and int(videos.labels.max()) >= num_classes:
        row = int(np.argmax(videos.labels >= num_classes))
        raise ValueError(f"import_features: video {videos.video_ids[row]!r} has label "
                         f"{int(videos.labels[row])}, beyond the {num_classes} classes")
    origin, heads = add_logits(videos, num_classes, head_file, seed, log)
    _check_range(videos, dtype)
    meta: dict[str, Any] = {"source": "import_features", "inputs": list(inputs),
                            "probabilities": origin}
    if heads:
        head_path = save_heads(Path(f"{out}.head.pt"), heads)
        meta["head"] = {"file": head_path.name, "sha256": sha256_file(head_path), "seed": seed,
                        "consensus": "mean of per-frame logits, softmax cross-entropy",
                        # no val videos: None, since NaN is not JSON
                        **{s: {"train_accuracy": h.train_accuracy,
                               "val_accuracy": None if np.isnan(h.val_accuracy)
                               else h.val_accuracy, "rounds": h.rounds}
                           for s, h in heads.items()}}
    if videos.source_frames:
        meta["sampling"] = "TSN segment centres of each video's frames"
        meta["source_frames"] = {s: dict(zip(videos.video_ids, n, strict=True))
                                 for s, n in videos.source_frames.items()}
    return write_store(out, features=videos.features,
                       logits={s: videos.logits[s] for s in videos.features},
                       labels=videos.labels, video_ids=videos.video_ids, splits=videos.splits,
                       class_names=names, relevance=videos.relevance, metadata=meta,
                       dtype=dtype)


def import_store(out: str | os.PathLike, *, npz: Sequence[tuple[str | None, str]] = (),
                 folder: str | os.PathLike | None = None, list_file: str | None = None,
                 dataset: str | None = None, splits_dir: str | None = None, split: int = 1,
                 num_frames: int = 25, streams: Sequence[str] | None = None,
                 classes: str | None = None, head_file: str | None = None, seed: int = 0,
                 dtype: str = "float16", log: Callable[[str], Any] = print) -> Path:
    """Import ``.npz`` files or a feature folder into one store (what ``import_features.py`` does).

    :param out: the store to write.
    :param npz: (stream name or ``None``, file) pairs; ``None`` keeps the file's own names.
    :param folder: a ``ROOT/<stream>/<video_id>.npy`` folder instead of ``npz``.
    :param list_file: the folder's videos: plain list or CSV (:func:`read_video_table`).
    :param dataset: ``ucf101`` or ``hmdb51`` instead of ``list_file`` (with ``splits_dir``).
    :param splits_dir: the official split files.
    :param split: the official split number.
    :param num_frames: T of a folder import.
    :param streams: the folder's streams (default: all its sub-folders).
    :param classes: a class-name file (one per line, or ``classInd.txt``).
    :param head_file: ``--logits-from``: heads for the streams without logits.
    :param seed: the head fit's seed.
    :param dtype: storage float type.
    :param log: where progress lines go.
    :return: the store written.
    """
    if (folder is None) == (not npz):
        raise ValueError("import_features: give .npz inputs or a feature folder (--folder), "
                         "not both and not neither")
    names = read_class_names(classes) if classes is not None else None
    if folder is not None:
        records, official = read_records(list_file, dataset, splits_dir, split)
        got = read_folder(folder, records, num_frames, out, streams,
                          source=list_file or splits_dir)
        if got.failures:
            log(f"{len(got.failures)} of {len(records)} videos could not be read; they are "
                f"listed with the reason in {out}.failures.txt")
        if got.reused:
            log(f"resumed: {got.reused} videos read from {out}.parts/")
        path = write_imported(got.videos, out, dtype, head_file, seed, names or official,
                              [str(folder)], log)
        shutil.rmtree(f"{out}.parts", ignore_errors=True)  # the store holds them now
        return path
    videos = combine([read_npz(p, s) for s, p in npz])
    return write_imported(videos, out, dtype, head_file, seed, names,
                          [Path(p).name for _, p in npz], log)


def _import_labels(npz_path: Path, labels: np.ndarray) -> np.ndarray:
    """The ``labels`` of an imported ``.npz`` as int64 class indices (:func:`import_features`).

    Integers, and floats that are whole numbers (``1.0``), are accepted; ``astype(int64)`` alone
    would store ``1.7`` as ``1`` and fail on strings with a message naming neither file nor key.

    :raises ValueError: naming the file and the key: strings, bools or fractional values.
    """
    where = f"import_features: {str(npz_path)!r}: array 'labels'"
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64)
    if labels.dtype.kind == "f":
        whole = np.isfinite(labels) & (labels == np.round(labels))
        if not whole.all():
            bad = labels[~whole].ravel()[:5].tolist()
            raise ValueError(f"{where} must hold integer class indices, got non-integer values "
                             f"{bad} (of dtype {labels.dtype})")
        return labels.astype(np.int64)
    shown = labels.ravel()[:3].tolist()
    raise ValueError(f"{where} must hold integer class indices, got dtype {labels.dtype} "
                     f"(e.g. {shown}); map class names to indices 0..C-1 and pass the names as "
                     f"'class_names'")


def import_features(
    npz_path: str | os.PathLike,
    out_path: str | os.PathLike,
    stream: str | None = None,
    dtype: str = "float16",
) -> Path:
    """Convert your own features (a ``.npz``) into a store the env reads.

    The ``.npz`` holds ``features`` (N,T,D) or (N,T,V,D); ``logits`` (N,T,C) or (N,T,V,C);
    ``labels`` (N,) int; ``split`` (N,) str in {train, val, test}; optionally ``video_ids`` (N,),
    ``class_names`` (C,), ``relevance`` (N,T) and ``stream`` (a name; default ``rgb``). Several
    streams, feature folders and features without logits are
    :func:`import_store`'s.

    :param npz_path: input file.
    :param out_path: the store to write.
    :param stream: stream name, overriding the one in the file.
    :param dtype: storage float type.
    :return: the path written.
    """
    videos = read_npz(npz_path, stream, require_logits=True)
    return write_imported(videos, out_path, dtype, inputs=[Path(npz_path).name])
