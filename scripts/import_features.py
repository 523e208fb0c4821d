#!/usr/bin/env python
"""Turn features you already have into a store that ``FrameSelection-v0`` reads.

Usage::

    python scripts/import_features.py IN.npz OUT.h5 [--stream rgb] [--dtype float16]

``IN.npz`` holds ``features`` (N,T,D) or (N,T,V,D), ``logits`` (N,T,C) or (N,T,V,C), ``labels``
(N,), ``split`` (N,) in {train, val, test}, and optionally ``video_ids``, ``class_names``,
``relevance`` (N,T) and ``stream``. The same is available in Python as
``frame_select_env.import_features``.
"""

from __future__ import annotations

import argparse
import sys

from frame_select_env.store import FeatureStore, StoreError, import_features


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("npz", help="input .npz file")
    parser.add_argument("out", help="output .h5 store")
    parser.add_argument("--stream", default=None, help="stream name (default: from file, or rgb)")
    parser.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    args = parser.parse_args(argv)
    try:
        path = import_features(args.npz, args.out, stream=args.stream, dtype=args.dtype)
    except (ValueError, FileNotFoundError, StoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    store = FeatureStore(path)
    counts = {s: len(store.indices(s)) for s in ("train", "val", "test")}
    print(
        f"wrote {path}: {len(store)} videos {counts}, T={store.num_frames}, "
        f"streams={store.streams}, classes={store.num_classes}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
