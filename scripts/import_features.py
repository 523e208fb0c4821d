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

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from frame_select_env.cli import option, parse  # noqa: E402
from frame_select_env.constants import SPLITS  # noqa: E402
from frame_select_env.store import FeatureStore, StoreError, import_features  # noqa: E402


@dataclass
class Args:
    """The arguments of ``import_features.py``."""

    npz: str = option(help="input .npz file", positional=True)
    out: str = option(help="output .h5 store", positional=True)
    stream: str | None = option(None, "stream name (default: from the file, or rgb)")
    dtype: str = option("float16", "stored dtype", choices=("float16", "float32"))


def main(argv: list[str] | None = None) -> int:
    """Import the .npz file into a store; the exit status."""
    args = parse(Args, argv, description=__doc__)
    try:
        path = import_features(args.npz, args.out, stream=args.stream, dtype=args.dtype)
    except (ValueError, FileNotFoundError, StoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    store = FeatureStore(path)
    counts = {s: len(store.indices(s)) for s in SPLITS}
    print(
        f"wrote {path}: {len(store)} videos {counts}, T={store.num_frames}, "
        f"streams={store.streams}, classes={store.num_classes}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
