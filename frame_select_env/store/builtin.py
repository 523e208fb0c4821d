"""Where the built-in SparseActions feature store, its classifier and its videos live.

The finished store ships inside the package (``frame_select_env/data/sparse_actions.h5``, a few
MB) and is rebuilt from scratch by ``python scripts/build_sparse_actions.py``. Set the environment
variable ``FRAME_SELECT_ENV_STORE`` to a store path to make that the default store instead.

The frozen two-stream classifier that made the store ships next to it
(``sparse_actions_classifier.pt``, its sha256 in ``sparse_actions.json``): ``classifier="builtin"``.
The videos do not ship; :func:`frame_select_env.pipeline.datasets.sparse_actions.builtin_videos`
regenerates a split of them on demand (deterministically, resumably) under :func:`cache_dir`:
``$FRAME_SELECT_ENV_CACHE`` or ``$XDG_CACHE_HOME/frame_select_env`` (default
``~/.cache/frame_select_env``). This module is part of the env's core: it only says where things
are, so the env in store mode imports nothing of the video pipeline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from frame_select_env.store.atomic import sha256_file

STORE_ENV_VAR = "FRAME_SELECT_ENV_STORE"
CACHE_ENV_VAR = "FRAME_SELECT_ENV_CACHE"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
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
