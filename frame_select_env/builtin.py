"""Where the built-in SparseActions feature store, its classifier and its videos live.

The finished store ships inside the package (``frame_select_env/data/sparse_actions.h5``, a few
MB) and is rebuilt from scratch by ``python scripts/build_sparse_actions.py``. Set the environment
variable ``FRAME_SELECT_ENV_STORE`` to a store path to make that the default store instead.

The frozen two-stream classifier that made the store ships next to it
(``sparse_actions_classifier.pt``, its sha256 in ``sparse_actions.json``): ``classifier="builtin"``.
The videos do not ship; :func:`builtin_videos` regenerates a split of them on demand
(deterministically, resumably) under ``$FRAME_SELECT_ENV_CACHE`` or
``$XDG_CACHE_HOME/frame_select_env`` (default ``~/.cache/frame_select_env``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.atomic import sha256_file
from frame_select_env.constants import SPLITS

STORE_ENV_VAR = "FRAME_SELECT_ENV_STORE"
CACHE_ENV_VAR = "FRAME_SELECT_ENV_CACHE"
DATA_DIR = Path(__file__).resolve().parent / "data"
PACKAGED_STORE = DATA_DIR / "sparse_actions.h5"
PACKAGED_SUMMARY = DATA_DIR / "sparse_actions.json"
PACKAGED_CLASSIFIER = DATA_DIR / "sparse_actions_classifier.pt"


def builtin_store_path() -> Path:
    """Path of the default feature store (``$FRAME_SELECT_ENV_STORE`` or the packaged one)."""
    override = os.environ.get(STORE_ENV_VAR)
    path = Path(override) if override else PACKAGED_STORE
    if not path.is_file():
        where = (
            f"${STORE_ENV_VAR}={override!r}" if override else f"the packaged store {str(path)!r}"
        )
        raise FileNotFoundError(
            f"built-in feature store not found: {where} does not exist. Rebuild it with "
            f"`python scripts/build_sparse_actions.py`, or pass store=PATH."
        )
    return path


def store_or_builtin(store: Any) -> Any:
    """What ``store=None`` means: the built-in store's path; any other ``store`` as it is.

    For callers whose store class checks a path itself (:class:`frame_select_env.store.FeatureStore`
    names a missing or broken file in its own error) or that accept an open store object.

    :param store: a store path, an open store, or ``None``.
    :return: ``store``, or :func:`builtin_store_path` for ``None``.
    :raises FileNotFoundError: ``store`` is ``None`` and the built-in store is missing.
    """
    return builtin_store_path() if store is None else store


def resolve_store(store: str | os.PathLike | None, flag: str = "store") -> Path:
    """The store a caller means: ``None`` is the built-in one (:func:`store_or_builtin`).

    :param store: a store path, or ``None``.
    :param flag: how the caller names the argument (``store``, ``--store``), for the error.
    :raises FileNotFoundError: the path is not a file.
    """
    path = Path(store_or_builtin(store))
    if not path.is_file():
        raise FileNotFoundError(f"{flag} {str(path)!r} does not exist (a feature store, .h5)")
    return path


def builtin_summary() -> dict[str, Any]:
    """The packaged ``sparse_actions.json`` (build settings, hashes, measurements)."""
    if not PACKAGED_SUMMARY.is_file():
        raise FileNotFoundError(f"built-in dataset summary {str(PACKAGED_SUMMARY)!r} is missing")
    return json.loads(PACKAGED_SUMMARY.read_text())


def builtin_classifier_path(verify: bool = True) -> Path:
    """Path of the packaged SparseActions two-stream classifier.

    :param verify: check its sha256 against ``sparse_actions.json`` (a stale or damaged file
        would silently give other states than the store's)
    """
    path = PACKAGED_CLASSIFIER
    if not path.is_file():
        raise FileNotFoundError(
            f"built-in classifier {str(path)!r} is missing; rebuild it with "
            f"`python scripts/build_sparse_actions.py` (it is written next to the store)"
        )
    if verify:
        want = builtin_summary().get("classifier", {}).get("sha256")
        got = sha256_file(path)
        if want != got:
            raise ValueError(
                f"built-in classifier {str(path)!r} has sha256 {got[:16]}..., but "
                f"{PACKAGED_SUMMARY.name} records {str(want)[:16]}...: the file does not belong "
                f"to the shipped store"
            )
    return path


def cache_dir() -> Path:
    """Root of the package's on-disk caches (regenerated videos, ...)."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "frame_select_env"


def builtin_videos(split: str | None = "test", root: str | os.PathLike | None = None,
                   workers: int = 2, progress: bool = False,
                   limit: int | None = None) -> tuple[Path, list[Any]]:
    """Regenerate the SparseActions videos of a split (only those not on disk yet).

    The generator is a pure function of (seed, video index), so the videos are the ones the
    shipped store was extracted from (bit-for-bit with the OpenCV version of the build; see
    ``sparse_actions.json``'s ``machine``).

    :param split: ``train``, ``val``, ``test`` or ``None`` (every split)
    :param root: where the videos go (default ``cache_dir()/sparse_actions_videos/seed<k>``)
    :param workers: generator processes
    :param progress: progress bar
    :param limit: only this many videos, evenly spread over the split (all classes), for quick
        checks
    :return: the video root and the planned records (``sparse_actions.VideoRecord``) of the
        split; videos are ``root/<video_id>.avi`` with a ground-truth ``.json`` each
    """
    from frame_select_env.datasets.sparse_actions import (
        SparseActionsConfig,
        generate_videos,
        plan_dataset,
    )

    summary = builtin_summary()
    seed = int(summary["seed"])
    if split is not None and split not in summary["counts_per_class"]:
        raise ValueError(f"builtin videos: unknown split {split!r}; choose from "
                         f"{sorted(summary['counts_per_class'])} or None")
    cfg = SparseActionsConfig.from_dict(summary["generator"])
    # The build plans train, val, test in this order (the json sorts its keys): a video's
    # index, and with it its content, depends on that order.
    counts = summary["counts_per_class"]
    plan = plan_dataset({s: counts[s] for s in SPLITS if s in counts})
    records = [r for r in plan if split is None or r.split == split]
    if limit is not None and 0 < limit < len(records):
        # every k-th video: the split is ordered by class, so this covers all classes
        records = [records[int(i)] for i in np.linspace(0, len(records) - 1, limit).round()]
    root = Path(root) if root is not None else cache_dir() / "sparse_actions_videos" / f"seed{seed}"
    generate_videos(records, root, seed, cfg, workers, progress)
    return root, records
