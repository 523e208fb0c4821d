#!/usr/bin/env python
"""Turn features you already have into a store that ``FrameSelection-v0`` reads.

Usage::

    python scripts/import_features.py IN.npz OUT.h5 [--stream rgb] [--dtype float16]
    python scripts/import_features.py --stream rgb A.npz --stream flow B.npz OUT.h5
    python scripts/import_features.py --folder ROOT --list videos.txt --num-frames 25 OUT.h5

``IN.npz`` holds ``features`` (N,T,D) or (N,T,V,D), ``labels`` (N,), ``split`` (N,) in {train,
val, test}, and optionally ``logits`` (N,T,C) or (N,T,V,C), ``video_ids``, ``class_names``,
``relevance`` (N,T) and ``stream``; one file may hold several streams as ``rgb_features``,
``flow_features``, ... (and ``rgb_logits``, ...). ``--folder ROOT`` reads
``ROOT/<stream>/<video_id>.npy`` arrays of (frames, D) or (frames, V, D), sampled to
``--num-frames`` at TSN segment centres, with labels and splits from ``--list`` (a plain list
``path label split`` or a CSV with ``video_id,label,split``) or ``--dataset ucf101|hmdb51
--splits-dir DIR``. Streams without logits get a linear classifier head fitted on the train
split (or ``--logits-from HEAD.pt``); the head is saved as ``OUT.h5.head.pt``. See
:mod:`frame_select_env.pipeline.feature_import`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from frame_select_env.cli import entry, option, parse
from frame_select_env.core.config import UserError
from frame_select_env.core.constants import SPLITS
from frame_select_env.pipeline.feature_import import import_store
from frame_select_env.store import FeatureStore


@dataclass
class Args:
    """The arguments of ``import_features.py``."""

    paths: list[str] = option(help="IN.npz OUT.h5, or OUT.h5 alone with --stream NAME FILE "
                                   "pairs or --folder", positional=True)
    stream: list[str] = option([], "a stream name for IN.npz, or NAME FILE pairs (repeat "
                                   "--stream per stream)", nargs="*")
    folder: str | None = option(None, "a folder ROOT/<stream>/<video_id>.npy instead of .npz")
    list_file: str | None = option(None, "the folder's videos: plain list (path label split) "
                                         "or CSV (video_id,label,split)", flag="list")
    dataset: str | None = option(None, "the folder's videos from an official split instead",
                                 choices=("ucf101", "hmdb51"))
    splits_dir: str | None = option(None, "the official split files (with --dataset)")
    split: int = option(1, "the official split number (with --dataset)", ge=1, le=3)
    num_frames: int = option(25, "T: frames sampled per video of a folder", ge=1)
    streams: list[str] = option([], "the folder's streams (default: all its sub-folders)",
                                nargs="*")
    classes: str | None = option(None, "class names, one per line (or classInd.txt)")
    logits_from: str | None = option(None, "a classifier head (torch state dict: weight, bias; "
                                           "or stream -> one) for streams without logits "
                                           "(default: fit one on the train split)")
    seed: int = option(0, "seed of the fitted head", ge=0)
    dtype: str = option("float16", "stored dtype", choices=("float16", "float32"))
    allow_failures: bool = option(False, "exit 0 when some videos of --folder could not be read "
                                         "(default: 1, as extract_features.py; the store holds "
                                         "the others either way)")

    def __post_init__(self) -> None:
        """Check the combination of inputs and pair up ``--stream NAME FILE``."""
        if not self.paths and len(self.stream) >= 3 and len(self.stream) % 2:
            # the last --stream took OUT.h5 too (a list flag reads up to the next flag)
            self.paths = [self.stream.pop()]
        if self.folder is not None:
            if len(self.paths) != 1 or self.stream:
                raise ValueError("--folder takes one positional argument, OUT.h5, and no "
                                 "--stream (use --streams to choose folders)")
        elif len(self.stream) == 1 and len(self.paths) == 2:
            pass  # IN.npz OUT.h5 --stream NAME
        elif not self.stream and len(self.paths) == 2:
            pass  # IN.npz OUT.h5
        elif self.stream and len(self.paths) == 1 and len(self.stream) % 2 == 0:
            pass  # --stream NAME FILE ... OUT.h5
        else:
            raise ValueError(f"expected IN.npz OUT.h5 [--stream NAME], --stream NAME FILE ... "
                             f"OUT.h5, or --folder ROOT OUT.h5; got paths {self.paths} and "
                             f"--stream {self.stream}")

    def inputs(self) -> list[tuple[str | None, str]]:
        """(stream name or None, .npz file) of every input file."""
        if self.folder is not None:
            return []
        if len(self.paths) == 2:
            return [(self.stream[0] if self.stream else None, self.paths[0])]
        return list(zip(self.stream[0::2], self.stream[1::2], strict=True))


@entry
def main(argv: list[str] | None = None) -> int:
    """Import the features into a store; the exit status."""
    args = parse(Args, argv, description=__doc__)
    try:
        path = import_store(
            args.paths[-1], npz=args.inputs(), folder=args.folder, list_file=args.list_file,
            dataset=args.dataset, splits_dir=args.splits_dir, split=args.split,
            num_frames=args.num_frames, streams=args.streams or None, classes=args.classes,
            head_file=args.logits_from, seed=args.seed, dtype=args.dtype)
    except ValueError as err:  # the importer's checks name the file, the row and the value
        raise UserError(str(err)) from None
    store = FeatureStore(path)
    counts = {s: len(store.indices(s)) for s in SPLITS}
    print(
        f"wrote {path}: {len(store)} videos {counts}, T={store.num_frames}, "
        f"streams={store.streams}, classes={store.num_classes}, "
        f"probabilities={store.metadata.get('probabilities')}"
    )
    failures = Path(f"{path}.failures.txt")
    if args.folder is not None and failures.is_file():
        count = len(failures.read_text().splitlines())
        if not args.allow_failures:
            print(f"error: {count} videos of --folder could not be read (listed with the reason "
                  f"in {failures}); the store holds the others: fix them and rerun (the read "
                  f"videos are kept), or pass --allow-failures to accept the store as it is",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
