"""The videos of online mode: the ``videos`` argument as records, their labels and splits.

A ``videos`` spec is the builtin SparseActions videos, a folder (scanned), a plain list file or a
sequence of paths / ``(path, label[, split])`` tuples / records; :func:`resolve_videos` turns any
of them into :class:`~frame_select_env.pipeline.datasets.lists.VideoRecord` relative to one root.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.core.constants import SPLITS
from frame_select_env.pipeline.datasets.lists import VideoRecord, check_unique_ids
from frame_select_env.pipeline.extract import RelevanceFn
from frame_select_env.pipeline.video.decode import VideoReadError, is_rawframe_dir

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v")


def _label_of(value: Any, class_names: Sequence[str], where: str) -> int:
    """The class index of a label given as an index or a class name (checked)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if not 0 <= int(value) < len(class_names):
            raise ValueError(f"{where}: label {value} outside [0, {len(class_names)})")
        return int(value)
    if isinstance(value, str) and value in class_names:
        return list(class_names).index(value)
    raise ValueError(f"{where}: label {value!r} is not a class of the classifier "
                     f"({list(class_names)[:5]}...)")


def _infer(rel: Path, class_names: Sequence[str]) -> tuple[int | None, str | None]:
    """Label and split from a video's relative path.

    The label from a folder named after a class (UCF101's ``Class/v_x.avi``) or a file named
    ``<class>_<k>`` (SparseActions), the split from a folder named ``train``/``val``/``test``.
    """
    label = split = None
    for part in reversed(rel.parts[:-1]):
        if label is None and part in class_names:
            label = list(class_names).index(part)
        if split is None and part in SPLITS:
            split = part
    if label is None:
        stem = rel.name.split(".")[0] if not rel.suffix else rel.stem
        hits = [i for i, c in enumerate(class_names) if stem.startswith(f"{c}_")]
        if hits:
            label = max(hits, key=lambda i: len(class_names[i]))
    return label, split


def _scan(folder: Path) -> list[Path]:
    """Video files and raw-frame folders under ``folder`` (sorted, recursive)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        if here != folder and is_rawframe_dir(here):
            found.append(here)
            dirnames[:] = []
            continue
        found += [here / f for f in filenames if Path(f).suffix.lower() in VIDEO_SUFFIXES]
        dirnames.sort()
    return sorted(found)


def _sidecar_relevance(root: Path) -> RelevanceFn:
    """Per-frame relevance of SparseActions videos from their ground-truth sidecars."""
    from frame_select_env.pipeline.datasets.sparse_actions import truth_relevance

    def relevance(rec: VideoRecord, rgb_idx: np.ndarray, n: int) -> np.ndarray:
        side = (root / rec.path).with_suffix(".json")
        return truth_relevance(json.loads(side.read_text()), rgb_idx, n, root / rec.path)

    return relevance


def resolve_videos(
    videos: Any,
    class_names: Sequence[str],
    default_split: str,
    video_root: str | os.PathLike | None = None,
    workers: int = 2,
) -> tuple[Path, list[VideoRecord], RelevanceFn | None, str | None]:
    """Turn the ``videos`` argument into records relative to one root.

    :param videos: ``"builtin:<split>"`` (or ``"builtin"`` for every split;
        ``"builtin:<split>:<n>"`` for n of them, spread over the classes): the SparseActions
        videos, regenerated on demand; a folder (scanned recursively; label from a class-named
        folder or a ``<class>_<k>`` file name, split from a ``train``/``val``/``test`` folder); a
        plain list file (``.txt``: ``path [label] [split]``, paths relative to ``video_root`` or
        the list's folder); or a sequence of paths, ``(path, label[, split])`` tuples (label an
        index or a class name) or :class:`~frame_select_env.pipeline.datasets.lists.VideoRecord`
    :param class_names: the classifier's classes
    :param default_split: split of videos that carry none
    :param video_root: root of relative paths (lists, records); the builtin videos' folder
    :param workers: processes that regenerate builtin videos
    :return: (root, records, relevance function or None, the split fixed by the spec or None)
    """
    root: Path | None  # None: found below, the common folder of the listed videos
    if isinstance(videos, str) and (videos == "builtin" or videos.startswith("builtin:")):
        from frame_select_env.pipeline.datasets.sparse_actions import builtin_videos

        split, _, limit = videos.partition(":")[2].partition(":")
        if limit and not limit.isdigit():
            raise ValueError(f"videos={videos!r}: expected 'builtin:<split>[:<count>]'")
        root, planned = builtin_videos(split or None, video_root, workers=workers,
                                       limit=int(limit) if limit else None)
        recs = [VideoRecord(f"{r.video_id}.avi", r.label, r.split) for r in planned]
        return root, recs, _sidecar_relevance(root), split or None
    if isinstance(videos, (str, os.PathLike)):
        path = Path(videos)
        if path.is_dir() and not is_rawframe_dir(path):
            files = _scan(path)
            if not files:
                raise ValueError(f"videos={str(path)!r}: no video files "
                                 f"({', '.join(VIDEO_SUFFIXES)}) or raw-frame folders under it")
            videos, root = files, path
        elif path.suffix == ".txt" and path.is_file():
            from frame_select_env.pipeline.datasets.lists import read_plain_list

            recs = read_plain_list(path)
            for r in recs:
                if r.label is None:
                    raise ValueError(f"videos={str(path)!r}: {r.path!r} has no label")
            root, files = list_root(path, [r.path for r in recs], video_root)
            videos = [(f, r.label, r.split) for f, r in zip(files, recs, strict=True)]
            return root, _records(videos, root, class_names, default_split), None, None
        elif path.exists():
            videos, root = [path], None
        else:
            raise FileNotFoundError(f"videos={str(path)!r}: no such file or folder")
    else:
        root = Path(video_root) if video_root is not None else None
    if not isinstance(videos, Sequence) or isinstance(videos, (str, bytes)) or not videos:
        raise ValueError(f"videos must be a non-empty list, a folder, a list file or "
                         f"'builtin:<split>', got {videos!r}")
    if root is None:
        absolute = [Path(v.path if isinstance(v, VideoRecord) else
                         v[0] if isinstance(v, tuple) else v).resolve() for v in videos]
        root = Path(os.path.commonpath([p.parent for p in absolute]))
    return root, _records(videos, root, class_names, default_split), None, None


def list_root(list_file: Path, paths: Sequence[str], video_root: str | os.PathLike | None
              ) -> tuple[Path, list[Path]]:
    """The root a list's ids are relative to, and its videos as absolute paths.

    A relative path is read against ``video_root`` (or the list's folder), never the working
    folder, so the ids are the same wherever the caller runs. The root is ``video_root`` when
    given, else the list's folder when every video is below it, else the common folder of the
    videos: an id never has a ``..`` part (``v_Basketball_g01_c02``, not
    ``../../data/ucf101_clips/v_Basketball_g01_c02``).

    :param list_file: the plain list.
    :param paths: its paths, as written.
    :param video_root: the user's ``root=``, or ``None``.
    :return: (root, absolute resolved paths, in the list's order).
    :raises ValueError: a video is not below ``video_root``.
    """
    base = Path(video_root) if video_root is not None else list_file.parent
    files = [(base / p).resolve() for p in paths]  # an absolute p stays itself
    root = base.resolve()
    outside = [str(f) for f in files if not f.is_relative_to(root)]
    if outside and video_root is not None:
        raise ValueError(f"videos={str(list_file)!r}: {outside[0]!r} is not below "
                         f"video_root={str(video_root)!r}; give a root above every listed video")
    if outside:
        root = Path(os.path.commonpath([f.parent for f in files]))
    return root, files


def _records(items: Sequence[Any], root: Path, class_names: Sequence[str],
             default_split: str) -> list[VideoRecord]:
    """Records of paths, ``(path, label[, split])`` tuples or records, relative to ``root``."""
    out = []
    for item in items:
        if isinstance(item, VideoRecord):
            path, label, split = item.path, item.label, item.split
        elif isinstance(item, tuple):
            if not 2 <= len(item) <= 3:
                raise ValueError(f"videos: expected (path, label[, split]), got {item!r}")
            path, label, split = item[0], item[1], item[2] if len(item) == 3 else None
        else:
            path, label, split = item, None, None
        p = Path(path)
        rel = Path(os.path.relpath(p.resolve(), root.resolve())) if p.is_absolute() or (
            not (root / p).exists() and p.exists()) else p
        where = str(root / rel)
        if label is None or split is None:
            guess_label, guess_split = _infer(rel, class_names)
            label = guess_label if label is None else label
            split = guess_split if split is None else split
        if label is None:
            raise ValueError(f"{where}: cannot tell its class; put it in a folder named after "
                             f"a class, or pass (path, label) pairs")
        split = split or default_split
        if split not in SPLITS:
            raise ValueError(f"{where}: split {split!r} is not one of {SPLITS}")
        out.append(VideoRecord(rel.as_posix(), _label_of(label, class_names, where), split))
    check_unique_ids(out, f"videos (paths relative to {root})")  # names both paths
    return out


def _probe(path: str, need: int) -> str | None:
    """Why a video is unusable (missing, unreadable, too short), or None (worker process)."""
    from frame_select_env.pipeline.video.decode import check_rawframes, count_frames

    try:
        n = count_frames(path)
        if n == 0:
            return "corrupt: no decodable frames"
        if n < need:
            return f"too few frames: {n} < {need} needed"
        # a folder's count decodes nothing (a video file's grab pass does): decode its JPEGs
        # now, or a corrupt one would raise at every reset that draws this video
        return check_rawframes(path) if os.path.isdir(path) else None
    except VideoReadError as e:
        return e.reason
    except Exception as e:  # an unexpected decoder error is a bad video too
        return f"{type(e).__name__}: {e}"
