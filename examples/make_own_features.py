"""Write features-only inputs in the three layouts ``import_features.py`` reads (README example).

The features are :func:`frame_select_env.store.synthetic.make_synthetic_store`'s: class evidence in
a
few frames of each video, distractors of other classes elsewhere. The logits are dropped, as in
the feature releases people hold, so the import fits a classifier head. Written under OUT::

    rgb.npz, flow.npz            one stream each: features (N,T,D), labels, split, video_ids
    two_stream.npz               rgb_features and flow_features in one file
    folder/rgb/<video_id>.npy    (frames, D) per video, 25 to 100 frames (not T)
    folder/flow/<video_id>.npy
    folder/videos.txt            plain list: video_id label split
    classes.txt                  one class name per line

Usage: ``python examples/make_own_features.py OUT [--videos 300] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.store import FeatureStore
from frame_select_env.store.synthetic import make_synthetic_store

STREAMS = ("rgb", "flow")


def write_layouts(out: Path, videos: int = 300, seed: int = 0) -> Path:
    """Write the three layouts under ``out`` and return it."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = FeatureStore(make_synthetic_store(Path(tmp) / "s.h5", num_videos=videos,
                                                  seed=seed))
        rows = np.arange(len(store))
        feats = {s: store.features(s, rows)[:, :, 0] for s in STREAMS}  # (N, T, D), one view
        common: dict[str, Any] = {
            "labels": store.labels, "split": np.asarray(store.splits, dtype=str),
            "video_ids": np.asarray(store.video_ids, dtype=str),
        }
        class_names = store.class_names
        store.close()
    for s in STREAMS:
        np.savez(out / f"{s}.npz", features=feats[s], stream=s, **common)
    two_stream: dict[str, Any] = {f"{s}_features": feats[s] for s in STREAMS}
    np.savez(out / "two_stream.npz", **two_stream, **common)
    (out / "classes.txt").write_text("".join(f"{c}\n" for c in class_names))
    # the folder layout: each video at its own length, its frames stretched over 25-100 frames
    rng = np.random.default_rng(seed)
    lines = []
    t = feats["rgb"].shape[1]
    for i, vid in enumerate(common["video_ids"]):
        length = int(rng.integers(t, 4 * t + 1))
        src = np.arange(length) * t // length  # frame j shows stored frame j * T / length
        for s in STREAMS:
            (out / "folder" / s).mkdir(parents=True, exist_ok=True)
            np.save(out / "folder" / s / f"{vid}.npy", feats[s][i, src].astype(np.float32))
        lines.append(f"{vid} {int(common['labels'][i])} {common['split'][i]}\n")
    (out / "folder" / "videos.txt").write_text("".join(lines))
    return out


def main() -> None:
    """Parse the command line and write the layouts."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--videos", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"wrote {write_layouts(args.out, args.videos, args.seed)}")


if __name__ == "__main__":
    main()
