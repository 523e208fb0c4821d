"""Checking a feature store: its schema, its shapes and that its values are finite."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from frame_select_env.core.constants import SPLITS
from frame_select_env.store.schema import (
    _SCAN_BYTES,
    OBSERVE_ONLY_ATTR,
    SCHEMA_VERSION,
    _fail,
)


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
            observe_only = json.loads(f.attrs.get(OBSERVE_ONLY_ATTR, "[]"))
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
        if set(observe_only) & set(streams):
            raise _fail(shown, f"observe-only streams {observe_only} overlap streams {streams}")
        for s in streams + observe_only:
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
            "observe_only_streams": observe_only,
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
