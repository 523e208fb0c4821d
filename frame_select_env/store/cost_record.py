"""A store's recorded cost: what :mod:`frame_select_env.pipeline.cost` wrote into its metadata.

Reading it needs no part of the pipeline (no torch, no OpenCV): the env's ``step`` reports the
episode's classifier MACs from it in store mode, so it sits beside the store in the core. What
is read is checked (:func:`check_cost_record`): a cost record changed by hand or written by
another tool (a NaN, a negative count, a string) is refused naming the file, the field and the
value, instead of NaN columns or a bare ``could not convert string to float``.
:mod:`frame_select_env.pipeline.cost` builds the dict
(:func:`frame_select_env.pipeline.cost.build_cost`) and
turns it into per-video cost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from frame_select_env.core.config import Range
from frame_select_env.store.builtin import DATA_DIR
from frame_select_env.store.schema import StoreError

BUILTIN_COST_JSON = DATA_DIR / "sparse_actions_cost.json"


def compose_cost(metadata: Mapping[str, Any], video_ids: Sequence[str]) -> dict[str, Any]:
    """A store's full cost dict from its metadata entries (see :func:`extraction_metadata`).

    :param metadata: the store's metadata (with ``"cost"``).
    :param video_ids: the store's video ids in row order.
    :return: the cost dict, with seconds and per-row frame counts where the metadata has them.
    """
    cost = dict(metadata["cost"])
    secs = metadata.get("cost_seconds")
    if secs and "seconds" not in cost:
        cost["seconds"] = {k: v for k, v in secs.items() if k != "cnn_seconds_per_crop"}
        cost["streams"] = {name: {**spec, "seconds_per_crop": float(
            secs["cnn_seconds_per_crop"][name])} if name in secs.get("cnn_seconds_per_crop", {})
            else dict(spec) for name, spec in cost["streams"].items()}
    frames = metadata.get("video_frames")
    if frames and "num_video_frames" not in cost and all(v in frames for v in video_ids):
        cost["num_video_frames"] = [int(frames[v]) for v in video_ids]
    return cost


def store_cost(store: Any) -> dict[str, Any] | None:
    """The cost dict of a store: its metadata's ``"cost"``, else the built-in store's JSON.

    A built-in store whose metadata cost has no seconds (the rebuilt one: MACs only) gets the
    shipped JSON's measured seconds, so ``seconds`` columns are never NaN for it.

    :param store: path or :class:`frame_select_env.store.FeatureStore`.
    :return: the dict, or ``None`` when the store records no cost and is not the built-in one.
    """
    from frame_select_env.store import FeatureStore

    fs = store if isinstance(store, FeatureStore) else FeatureStore(store)
    shipped = _builtin_cost_json(fs)
    if "cost" in fs.metadata:
        where = f"feature store {os.fspath(fs.path)!r}"
        check_cost_record(fs.metadata["cost"], where)
        for key, check in (("cost_seconds", _check_seconds), ("video_frames", _check_frames)):
            if fs.metadata.get(key) is not None:
                check(fs.metadata[key], where, key)
        cost = compose_cost(fs.metadata, [str(v) for v in fs.video_ids])
        if "seconds" not in cost and shipped is not None:
            # The rebuilt built-in store records MACs only (deterministic metadata keeps the
            # rebuild byte-identical); its measured seconds are the shipped JSON's.
            cost = _with_seconds(cost, shipped)
        return cost
    return shipped


def _builtin_cost_json(fs: Any) -> dict[str, Any] | None:
    """The shipped ``sparse_actions_cost.json`` when it describes ``fs`` (else ``None``).

    It describes a store of the built-in dataset made by the same classifier, with one frame
    count per row.
    """
    if fs.metadata.get("dataset") != "sparse_actions" or not BUILTIN_COST_JSON.is_file():
        return None
    cost = json.loads(BUILTIN_COST_JSON.read_text())
    check_cost_record(cost, f"cost file {str(BUILTIN_COST_JSON)!r}", prefix="")
    if cost.get("store_classifier") != fs.metadata.get("classifier") or len(
            cost.get("num_video_frames", [])) != len(fs):
        return None
    return cost


def _with_seconds(cost: Mapping[str, Any], measured: Mapping[str, Any]) -> dict[str, Any]:
    """``cost`` with the seconds of ``measured``, a cost dict of the same streams and crops.

    Seconds are taken only when ``measured`` counts the same MACs for every stream and the same
    extraction (crop, views, frames, flow), so they price the very computation ``cost`` counts.
    """
    keys = ("crop", "num_views", "num_frames", "flow_length", "flow_method")
    streams, other = cost["streams"], measured.get("streams", {})
    same = all(cost.get(k) == measured.get(k) for k in keys) and set(streams) == set(other) \
        and all(streams[s]["macs_per_crop"] == other[s].get("macs_per_crop") for s in streams)
    if not same or "seconds" not in measured \
            or not all("seconds_per_crop" in other[s] for s in streams):
        return dict(cost)
    out = {**cost, "seconds": measured["seconds"]}
    out["streams"] = {s: {**spec, "seconds_per_crop": other[s]["seconds_per_crop"]}
                      for s, spec in streams.items()}
    if "num_video_frames" not in out and "num_video_frames" in measured:
        out["num_video_frames"] = list(measured["num_video_frames"])
    return out


_COUNT = Range(ge=1, integer=True)  # frames, views, crop side, classes, channels
_AMOUNT = Range(ge=0)  # MACs and seconds: finite, never negative
#: the cost dict's top-level counts (optional in a record, checked when present)
_COUNTS = ("num_classes", "crop", "num_views", "num_frames", "flow_length")


def _bad(where: str, field: str, value: Any, rng: Range) -> StoreError:
    return StoreError(f"{where}: cost field {field!r} is {value!r}, expected {rng.describe()}; "
                      f"the cost record was changed or written by another tool: extract or "
                      f"import the store again (or rewrite its metadata 'cost')")


def _check(where: str, field: str, value: Any, rng: Range) -> None:
    if not rng.accepts(value):
        raise _bad(where, field, value, rng)


def _mapping(where: str, field: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StoreError(f"{where}: cost field {field!r} is {value!r}, expected a mapping; "
                         f"extract or import the store again")
    return value


def check_cost_record(cost: Any, where: str, prefix: str = "cost") -> None:
    """Refuse a cost record whose numbers cannot be costs (NaN, negative, not a number).

    Checked: the counts (``num_frames``, ``num_views``, ``crop``, ``flow_length``,
    ``num_classes``, each stream's ``in_channels`` and ``num_views``: integers >= 1), each
    stream's ``macs_per_crop`` and ``seconds_per_crop`` and every measured second (finite,
    >= 0), and ``num_video_frames`` (integers >= 1).

    :param cost: the record (a store's metadata ``"cost"``, or the shipped JSON).
    :param where: the file, for the message (``"feature store 'x.h5'"``).
    :param prefix: how the record's fields are named in the message (``cost.streams.rgb...``).
    :raises StoreError: naming ``where``, the field and the value.
    """
    name = (lambda key: f"{prefix}.{key}") if prefix else (lambda key: key)
    record = _mapping(where, prefix or "cost", cost)
    for key in _COUNTS:
        if key in record:
            _check(where, name(key), record[key], _COUNT)
    streams = _mapping(where, name("streams"), record.get("streams"))
    for stream, spec in streams.items():
        spec = _mapping(where, name(f"streams.{stream}"), spec)
        field = name(f"streams.{stream}")
        _check(where, f"{field}.macs_per_crop", spec.get("macs_per_crop"), _AMOUNT)
        for key, rng in (("seconds_per_crop", _AMOUNT), ("in_channels", _COUNT),
                         ("num_views", _COUNT), ("crop", _COUNT)):
            if key in spec:
                _check(where, f"{field}.{key}", spec[key], rng)
    if record.get("seconds") is not None:
        _check_seconds(record["seconds"], where, name("seconds"))
    for i, n in enumerate(record.get("num_video_frames") or ()):
        _check(where, f"{name('num_video_frames')}[{i}]", n, _COUNT)


def _check_seconds(seconds: Any, where: str, field: str) -> None:
    """The measured seconds (``seconds`` of a cost dict, a store's ``cost_seconds``)."""
    secs = _mapping(where, field, seconds)
    per_pair = _mapping(where, f"{field}.flow_seconds_per_pair",
                        secs.get("flow_seconds_per_pair", {}))
    for size, methods in per_pair.items():
        for method, value in _mapping(where, f"{field}.flow_seconds_per_pair.{size}",
                                      methods).items():
            _check(where, f"{field}.flow_seconds_per_pair.{size}.{method}", value, _AMOUNT)
    for key, value in _mapping(where, f"{field}.decode", secs.get("decode", {})).items():
        if key.endswith("seconds_per_frame"):
            _check(where, f"{field}.decode.{key}", value, _AMOUNT)
    for stream, value in _mapping(where, f"{field}.cnn_seconds_per_crop",
                                  secs.get("cnn_seconds_per_crop", {})).items():
        _check(where, f"{field}.cnn_seconds_per_crop.{stream}", value, _AMOUNT)


def _check_frames(frames: Any, where: str, field: str) -> None:
    """A store's ``video_frames``: video id -> frame count."""
    for video, n in _mapping(where, field, frames).items():
        _check(where, f"{field}.{video}", n, _COUNT)
