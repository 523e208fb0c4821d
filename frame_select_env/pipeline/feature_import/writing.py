"""Imported videos into a store: classifier heads for streams without logits, range checks."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.core.config import UserError
from frame_select_env.pipeline.datasets.lists import (
    read_class_names,
)
from frame_select_env.pipeline.feature_import.folder import read_folder, read_records
from frame_select_env.pipeline.feature_import.npz import ImportedVideos, combine, read_npz
from frame_select_env.pipeline.models.head import (
    HeadFit,
    apply_head,
    fit_head,
    load_heads,
    save_heads,
)
from frame_select_env.store import write_store
from frame_select_env.store.atomic import atomic_path, sha256_file

#: what ``metadata["probabilities"][stream]`` says about a stream's logits
GIVEN, FITTED_HEAD, USER_HEAD = "given", "fitted_head", "user_head"



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
    _check_labels(videos)
    widths = {lg.shape[3] for lg in videos.logits.values()}
    missing = [s for s in videos.features if s not in videos.logits]
    if names is None and not widths and head_file is not None and missing:
        # no class names and no logits: the given head says how many classes there are
        w, _ = next(iter(load_heads(head_file, missing, {
            s: videos.features[s].shape[3] for s in missing}).values()))
        widths = {w.shape[0]}
    if names is None and not widths:  # C from the labels alone
        _check_no_gaps(videos)
    num_classes = (len(names) if names is not None else widths.pop() if widths
                   else int(videos.labels.max()) + 1)
    if names is None:
        names = [f"class_{i}" for i in range(num_classes)]
    if len(names) != num_classes or (widths and widths != {num_classes}):
        raise ValueError(f"import_features: {len(names)} class names for logits of "
                         f"{sorted(widths)} classes")
    if videos.labels.size and int(videos.labels.max()) >= num_classes:
        row = int(np.argmax(videos.labels >= num_classes))
        raise UserError(f"import_features: {videos.source!r}: video {videos.video_ids[row]!r} "
                        f"(row {row}) has label {int(videos.labels[row])}, beyond the "
                        f"{num_classes} classes; labels are 0..{num_classes - 1}")
    origin, heads = add_logits(videos, num_classes, head_file, seed, log)
    _check_range(videos, dtype)
    meta: dict[str, Any] = {"source": "import_features", "inputs": list(inputs),
                            "probabilities": origin}
    if videos.source_frames:
        meta["sampling"] = "TSN segment centres of each video's frames"
        meta["source_frames"] = {s: dict(zip(videos.video_ids, n, strict=True))
                                 for s, n in videos.source_frames.items()}
    head_target = Path(f"{out}.head.pt")
    # the heads file is moved beside the store only once the store is written: a failed write
    # (a full disk) leaves neither a half store nor an orphan heads file, and an older import's
    # heads file as it was
    with atomic_path(head_target) if heads else contextlib.nullcontext() as head_tmp:
        if head_tmp is not None:
            save_heads(head_tmp, heads)
            meta["head"] = {"file": head_target.name, "sha256": sha256_file(head_tmp),
                            "seed": seed,
                            "consensus": "mean of per-frame logits, softmax cross-entropy",
                            # no val videos: None, since NaN is not JSON
                            **{s: {"train_accuracy": h.train_accuracy,
                                   "val_accuracy": None if np.isnan(h.val_accuracy)
                                   else h.val_accuracy, "rounds": h.rounds}
                               for s, h in heads.items()}}
        return write_store(out, features=videos.features,
                           logits={s: videos.logits[s] for s in videos.features},
                           labels=videos.labels, video_ids=videos.video_ids,
                           splits=videos.splits, class_names=names, relevance=videos.relevance,
                           metadata=meta, dtype=dtype)


def _check_labels(videos: ImportedVideos) -> None:
    """Refuse negative labels, naming the source, the row and the video."""
    if videos.labels.size and int(videos.labels.min()) < 0:
        row = int(np.argmax(videos.labels < 0))
        raise UserError(f"import_features: {videos.source!r}: video {videos.video_ids[row]!r} "
                        f"(row {row}) has label {int(videos.labels[row])}; labels are class "
                        f"indices 0..C-1")


def _check_no_gaps(videos: ImportedVideos) -> None:
    """Refuse labels that skip classes when nothing names the classes (a typo, e.g. 99 for 9).

    Without class names or logits the number of classes is the largest label + 1, so a label
    of 99 among 0..2 would silently make 100 classes.
    """
    if not videos.labels.size:
        return
    num_classes = int(videos.labels.max()) + 1
    absent = sorted(set(range(num_classes)) - {int(x) for x in videos.labels})
    if absent:
        row = int(np.argmax(videos.labels == num_classes - 1))
        shown = f"{absent[:5]}{' ...' if len(absent) > 5 else ''}"
        raise UserError(f"import_features: {videos.source!r}: the largest label "
                        f"{num_classes - 1} (video {videos.video_ids[row]!r}, row {row}) makes "
                        f"{num_classes} classes, but {len(absent)} of them have no video "
                        f"({shown}); fix the labels, or pass --classes FILE naming the classes "
                        f"(one per line)")


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
