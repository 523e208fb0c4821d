"""The cost dict of the built-in SparseActions store, whose metadata predates cost accounting.

Its stream architectures come from the build's ``sparse_actions.json``, its videos' frame counts
from the generator's seeds, and its seconds from timing freshly generated videos.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.core.config import load_yaml
from frame_select_env.pipeline.cost.model import build_cost
from frame_select_env.pipeline.cost.timing import measure_seconds
from frame_select_env.pipeline.video.decode import sample_indices
from frame_select_env.store.builtin import BUILTIN_CONFIG, builtin_summary, config_file

#: how the shipped ``sparse_actions.json`` names its TSN configs: by their checkout path from
#: before the configs moved into the package (``configs/tsn/X`` is now ``builtin:tsn/X``)
CHECKOUT_CONFIGS = "configs/"


def recorded_tsn_config(cfg: str) -> Path | None:
    """The file a build summary's TSN config names, or ``None`` when it is gone.

    :param cfg: the summary's entry: ``builtin:NAME``, a path, or the shipped ``configs/...``.
    """
    if cfg.startswith(CHECKOUT_CONFIGS):
        cfg = BUILTIN_CONFIG + cfg[len(CHECKOUT_CONFIGS):]
    try:
        return config_file(cfg, "TSN config")
    except FileNotFoundError:
        return None


def builtin_architecture(meta_json: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Stream architectures of the built-in store from ``sparse_actions.json``.

    The store's metadata predates cost accounting and names no architecture; the build records
    each stream's ``arch_kwargs`` and TSN config, whose ``arch`` is SmallCNN (``small``).

    :param meta_json: the parsed ``sparse_actions.json``.
    :return: stream -> ``{"arch": ..., "backbone_kwargs": {...}}``.
    :raises ValueError: the summary records no TSN training.
    """
    training = meta_json.get("tsn_training")
    if not training:
        raise ValueError("builtin_architecture: sparse_actions.json has no 'tsn_training'")
    out = {}
    for stream, info in training.items():
        arch = "small"
        cfg = (meta_json.get("tsn_configs") or {}).get(stream)
        path = recorded_tsn_config(cfg) if cfg else None
        if path is not None:
            arch = load_yaml(path, "TSN config").get("arch", arch)
        out[stream] = {"arch": arch, "backbone_kwargs": dict(info.get("arch_kwargs") or {})}
    return out


def sparse_actions_frame_counts(store: Any) -> np.ndarray | None:
    """Frame count of every row of a SparseActions store, recovered from the generator's seeds.

    The count is the generator's first random draw for the video; it is checked against the
    store's ground-truth relevance (which depends on it through the sampled frame positions),
    and ``None`` is returned, with a warning, when that check fails or the generator changed.

    :param store: a :class:`frame_select_env.store.FeatureStore` of the built-in kind.
    :return: ``(B,)`` frame counts, or ``None`` when they cannot be recovered.
    """
    from frame_select_env.pipeline.datasets.sparse_actions import (
        SparseActionsConfig,
        plan_dataset,
        video_length_and_window,
    )

    meta = store.metadata
    gen = SparseActionsConfig.from_dict(meta.get("generator", {}))
    seed = int(meta.get("seed", 0))
    ids = [str(v) for v in store.video_ids]
    splits = dict.fromkeys(v.split("/", 1)[0] for v in ids)
    names = store.class_names
    counts = {s: sum(1 for v in ids if v.startswith(f"{s}/")) // max(1, len(names))
              for s in splits}
    index = {r.video_id: r.index for r in plan_dataset(counts)}
    rel = store.relevance(np.arange(len(ids)))
    out = np.empty(len(ids), np.int64)
    for row, vid in enumerate(ids):
        if vid not in index:
            warnings.warn(f"sparse_actions_frame_counts: {vid!r} is not in the dataset plan",
                          stacklevel=2)
            return None
        # The action window is the next two draws; relevance at the sampled frames checks n.
        n, (start, stop) = video_length_and_window(seed, index[vid], gen)
        idx = sample_indices(n, store.num_frames, 1)
        if rel is not None and not np.array_equal((idx >= start) & (idx < stop),
                                                  np.asarray(rel[row]).astype(bool)):
            warnings.warn("sparse_actions_frame_counts: recovered frame counts do not reproduce "
                          "the store's relevance; frame counts unknown", stacklevel=2)
            return None
        out[row] = n
    return out


def builtin_cost(store: Any, measure: bool = True, ucf_clip: str | os.PathLike | None = None,
                 ) -> dict[str, Any]:
    """Count (and measure) the cost dict of the built-in SparseActions store.

    Flow and decoding are timed on freshly generated SparseActions videos (the store's own
    frames, 160x120 MJPG); with ``ucf_clip`` also flow on a real UCF101 clip at 160x120 and
    340x256, for reference.

    :param store: the built-in store (path or FeatureStore).
    :param measure: also measure seconds (else MACs only).
    :param ucf_clip: optional real video for the reference flow timings.
    :return: the cost dict, with the store's classifier id (``store_classifier``).
    """
    from frame_select_env.store import FeatureStore

    fs = store if isinstance(store, FeatureStore) else FeatureStore(store)
    streams = builtin_architecture(builtin_summary())
    extraction = dict(fs.metadata["config"])
    measured = None
    if measure:
        from frame_select_env.pipeline.datasets.sparse_actions import (
            SparseActionsConfig,
            generate_video,
            write_avi,
        )
        from frame_select_env.pipeline.video.decode import read_frames

        gen = SparseActionsConfig.from_dict(fs.metadata.get("generator", {}))
        video = generate_video(0, 12345, 0, gen)
        frames = np.asarray(video.frames)
        w, h = extraction["size"]
        flow_frames: dict[str, Sequence[np.ndarray]] = {f"{w}x{h}": list(frames[:12])}
        with tempfile.TemporaryDirectory() as tmp:
            avi = Path(tmp) / "sample.avi"
            write_avi(avi, frames, gen.fps)
            if ucf_clip is not None:
                for size in ((160, 120), (340, 256)):
                    clip = read_frames(ucf_clip, range(12), size=size)
                    flow_frames[f"ucf101_{size[0]}x{size[1]}"] = [clip[i] for i in range(12)]
            measured = measure_seconds(streams, fs.num_classes, extraction, flow_frames, avi)
        measured["decode_video"] = "a generated SparseActions video (160x120 MJPG AVI)"
        if ucf_clip is not None:
            measured["reference_clip"] = Path(ucf_clip).name
    cost = build_cost(streams, fs.num_classes, extraction, measured,
                      sparse_actions_frame_counts(fs))
    cost["store_classifier"] = fs.metadata.get("classifier")
    return cost
