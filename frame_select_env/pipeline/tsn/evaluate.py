"""TSN baseline accuracy from a feature store: every sampled frame and view, per stream and fused.

This is the "TSN" row of the paper's tables (all T frames, averaged softmax scores), computed
from the logits that ``scripts/extract_features.py`` stored, so that it uses exactly the frames
and views the attention-aware sampler chooses from.

Run as ``python -m frame_select_env.pipeline.tsn.evaluate --store STORE [--split test]``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from frame_select_env.cli import option, parse
from frame_select_env.core.constants import SPLITS
from frame_select_env.core.metrics import accuracy, mean_class_accuracy
from frame_select_env.core.selection import aggregate_predictions, fuse_streams, softmax
from frame_select_env.store import FeatureStore
from frame_select_env.store.atomic import atomic_write_text


def video_probs(
    store: FeatureStore, stream: str, idx: np.ndarray, chunk: int = 256
) -> np.ndarray:
    """Video-level probabilities of a stream: the softmax of its logits, averaged.

    :param store: the feature store
    :param stream: ``rgb`` or ``flow``
    :param idx: video indices
    :param chunk: videos read at a time
    :return: (N, C) video-level probabilities (softmax averaged over frames and views)
    """
    out = []
    for s in range(0, len(idx), chunk):
        logits = np.asarray(store.logits(stream, idx[s : s + chunk]), dtype=np.float32)
        out.append(aggregate_predictions(softmax(logits, axis=-1)))
    return np.concatenate(out) if out else np.zeros((0, store.num_classes), np.float32)


def evaluate_store(
    path: str | os.PathLike,
    split: str | None = "test",
    weights: Mapping[str, float] | None = None,
) -> dict[str, float | int]:
    """TSN accuracy per stream and two-stream fused.

    :param path: feature store (HDF5)
    :param split: videos to evaluate (``None`` = all)
    :param weights: fusion weights per stream (default equal; TSN used rgb 1, flow 1.5)
    :return: ``{"videos", "<stream>_acc", "<stream>_mca", "fused_acc", "fused_mca"}``
    """
    store = FeatureStore(path)
    try:
        idx = store.indices(split)
        if len(idx) == 0:
            raise ValueError(f"{path}: no videos in split {split!r}")
        labels = np.asarray(store.labels)[idx]
        res: dict[str, float | int] = {"videos": int(len(idx))}
        probs = {}
        for stream in store.streams:
            probs[stream] = video_probs(store, stream, idx)
            res[f"{stream}_acc"] = float(accuracy(probs[stream], labels))
            res[f"{stream}_mca"] = float(mean_class_accuracy(probs[stream], labels))
        if len(probs) > 1:
            w = None if weights is None else {k: v for k, v in weights.items() if k in probs}
            fused = fuse_streams(probs, w)
            res["fused_acc"] = float(accuracy(fused, labels))
            res["fused_mca"] = float(mean_class_accuracy(fused, labels))
        return res
    finally:
        store.close()


def _parse_weights(items: list[str] | None) -> dict[str, float] | None:
    if not items:
        return None
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--weights {item!r}: expected STREAM=WEIGHT, e.g. flow=1.5")
        out[name] = float(value)
    return out


@dataclass
class Args:
    """The arguments of ``python -m frame_select_env.pipeline.tsn.evaluate``."""

    store: str = option(help="feature store written by extract_features")
    split: str = option("test", "split to evaluate ('all' for every video)",
                        choices=(*SPLITS, "all"))
    weights: list[str] | None = option(None, "fusion weights", metavar="STREAM=W")
    json: str | None = option(None, "also write the result here")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse(Args, argv, description=__doc__)
    res = evaluate_store(
        args.store, None if args.split == "all" else args.split, _parse_weights(args.weights)
    )
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()))
    if args.json:
        atomic_write_text(args.json, json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
