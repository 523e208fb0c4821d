#!/usr/bin/env python
"""Join feature stores (e.g. the shards of ``extract_features.py --shard i/n``) into one store.

The stores must agree on class names, T, streams, views V and feature sizes D, dtype, relevance
presence and extraction config (ignoring the shard fields). Rows are concatenated in the order of
the inputs (``--sort-ids`` sorts by video id instead). The output is written atomically.

    python scripts/merge_stores.py runs/ucf.h5.shard0 runs/ucf.h5.shard1 --out runs/ucf.h5
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.cli import entry, option, parse
from frame_select_env.store import FeatureStore, StoreWriter

# metadata keys that legitimately differ between shards (video_frames: each shard's own
# videos; cost_seconds: timings measured where each shard ran, see frame_select_env.pipeline.cost)
_PER_SHARD = {"shard", "num_failed", "video_frames", "cost_seconds"}


def _schema(s: FeatureStore) -> dict:
    f = s._h5
    return {
        "class_names": list(s.class_names),
        "num_frames": s.num_frames,
        "streams": {k: (s.num_views(k), s.feature_dim(k)) for k in s.streams},
        "dtype": str(f[f"streams/{s.streams[0]}/features"].dtype),
        "relevance": s.has_relevance,
    }


def merge_stores(
    inputs: Sequence[str | Path], out: str | Path, sort_ids: bool = False, block: int = 256,
    order: Sequence[str] | None = None,
) -> Path:
    """Merge stores into ``out``.

    :param inputs: store files
    :param out: merged store path
    :param sort_ids: order rows by video id instead of input order
    :param block: rows copied per read
    :param order: video ids in the wanted row order (e.g. the list the shards were cut from, so
        that the merge of round-robin shards is the single-process store); every input id must be
        in it; overrides ``sort_ids``
    :return: the output path
    :raises ValueError: when the inputs disagree on their schema or share a video id, or one
        holds NaN/inf (:class:`~frame_select_env.store.StoreError` naming it)
    :raises OSError: ``ENOSPC`` naming ``out`` when the merged store does not fit on the disk
    """
    if not inputs:
        raise ValueError("merge_stores: no input stores")
    stores = [FeatureStore(p) for p in inputs]
    for s in stores:  # a NaN/inf is reported against its input, not a row of the merged file
        s.check_values()
    ref, ref_meta = _schema(stores[0]), stores[0].metadata
    for s in stores[1:]:
        sch = _schema(s)
        for key, val in ref.items():
            if sch[key] != val:
                raise ValueError(f"{s.path}: {key} differs from {stores[0].path} "
                                 f"({sch[key]!r} vs {val!r})")
        a = {k: v for k, v in s.metadata.items() if k not in _PER_SHARD}
        b = {k: v for k, v in ref_meta.items() if k not in _PER_SHARD}
        if a != b:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise ValueError(f"{s.path}: metadata differs from {stores[0].path} in {diff}")
    rows = [(si, int(r)) for si, s in enumerate(stores) for r in range(len(s))]
    ids = [str(stores[si].video_ids[r]) for si, r in rows]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ValueError(f"merge_stores: video ids occur in more than one input: {dup}")
    if order is not None:
        pos = {v: k for k, v in enumerate(order)}
        unknown = [i for i in ids if i not in pos]
        if unknown:
            raise ValueError(f"merge_stores: video ids missing from the given order: {unknown[:5]}")
        perm = sorted(range(len(rows)), key=lambda k: pos[ids[k]])
        rows = [rows[k] for k in perm]
    elif sort_ids:
        by_id = np.argsort(np.asarray(ids), kind="stable")
        rows = [rows[i] for i in by_id]
    meta = {k: v for k, v in ref_meta.items() if k not in _PER_SHARD}
    meta["merged_from"] = [str(p) for p in inputs]
    meta["num_failed"] = int(sum(int(s.metadata.get("num_failed", 0)) for s in stores))
    frames = {k: v for s in stores for k, v in s.metadata.get("video_frames", {}).items()}
    if frames:
        meta["video_frames"] = frames
    if "cost_seconds" in ref_meta:  # one machine's timings: the first input's
        meta["cost_seconds"] = ref_meta["cost_seconds"]
    with StoreWriter(
        out, num_videos=len(rows), num_frames=ref["num_frames"], streams=ref["streams"],
        class_names=ref["class_names"], dtype=ref["dtype"], with_relevance=ref["relevance"],
        metadata=meta,
    ) as w:
        # copy runs of consecutive rows of one input as blocks (the common, unsorted case)
        start = 0
        while start < len(rows):
            si, r0 = rows[start]
            stop = start + 1
            while (stop < len(rows) and stop - start < block and rows[stop][0] == si
                   and rows[stop][1] == r0 + (stop - start)):
                stop += 1
            s, sl = stores[si], slice(r0, r0 + stop - start)
            arrays: dict[str, Any] = {  # write_block stores the id / split lists as strings
                "videos/id": list(s.video_ids[sl]), "videos/label": s.labels[sl],
                "videos/split": list(s.splits[sl]),
            }
            for k in s.streams:
                arrays[f"streams/{k}/features"] = s._h5[f"streams/{k}/features"][sl]
                arrays[f"streams/{k}/logits"] = s._h5[f"streams/{k}/logits"][sl]
            if ref["relevance"]:
                arrays["relevance"] = s._h5["relevance"][sl]
            w.write_block(start, arrays)
            start = stop
    for s in stores:
        s.close()
    return Path(out)


@dataclass
class Args:
    """The arguments of ``merge_stores.py``."""

    inputs: list[Path] = option(help="stores to merge", positional=True)
    out: Path = option(help="merged store")
    sort_ids: bool = option(False, "order rows by video id")


@entry
def main(argv: list[str] | None = None) -> int:
    """Merge the stores the command line names; the exit status."""
    args = parse(Args, argv, description=__doc__)
    try:
        path = merge_stores(args.inputs, args.out, args.sort_ids)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n = len(FeatureStore(path))
    print(f"merged {len(args.inputs)} stores, {n} videos -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
