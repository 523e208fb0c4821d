"""Imported videos (before they become a store): ``.npz`` files, and several sources joined."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from frame_select_env.core.constants import SPLITS, STREAMS


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
