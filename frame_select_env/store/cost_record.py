"""A store's recorded cost: what :mod:`frame_select_env.pipeline.cost` wrote into its metadata.

Reading it needs no part of the pipeline (no torch, no OpenCV): the env's ``step`` reports the
episode's classifier MACs from it in store mode, so it sits beside the store in the core.
:mod:`frame_select_env.pipeline.cost` builds the dict
(:func:`frame_select_env.pipeline.cost.build_cost`) and
turns it into per-video cost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from frame_select_env.store.builtin import DATA_DIR

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
