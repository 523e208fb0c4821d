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

The default configs (the AS recipes, the TSN schedules) ship in the package too
(``frame_select_env/configs/``, found with :mod:`importlib.resources`, so a wheel has them): a
``--config`` value is a path, or ``builtin:NAME`` for one of them (:func:`config_file`).
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from frame_select_env.store.atomic import sha256_file

STORE_ENV_VAR = "FRAME_SELECT_ENV_STORE"
CACHE_ENV_VAR = "FRAME_SELECT_ENV_CACHE"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PACKAGED_STORE = DATA_DIR / "sparse_actions.h5"
PACKAGED_SUMMARY = DATA_DIR / "sparse_actions.json"
PACKAGED_CLASSIFIER = DATA_DIR / "sparse_actions_classifier.pt"
#: how a ``--config`` value names a config that ships in the package (``builtin:as_paper.yaml``)
BUILTIN_CONFIG = "builtin:"


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


def configs_dir() -> Path:
    """The folder of the configs that ship in the package (``frame_select_env/configs/``)."""
    root = resources.files("frame_select_env") / "configs"
    if not isinstance(root, Path) or not root.is_dir():  # e.g. a zip import: no folder to read
        raise FileNotFoundError(f"the packaged configs {str(root)!r} are not a folder on disk; "
                                f"install the package from a wheel or a checkout")
    return root


def builtin_config_names() -> list[str]:
    """Names of the packaged configs, as ``builtin:NAME`` takes them (``tsn/ucf101_rgb.yaml``)."""
    root = configs_dir()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.yaml"))


def builtin_config(name: str) -> Path:
    """Path of the packaged config ``name`` (``as_paper.yaml``, ``tsn/ucf101_rgb.yaml``).

    :raises FileNotFoundError: no such packaged config (the error lists them).
    """
    return config_file(BUILTIN_CONFIG + name, "packaged config")


def config_file(value: str | os.PathLike, flag: str = "--config") -> Path:
    """The YAML file a config option names: a path, or ``builtin:NAME`` (a packaged config).

    A user's path always wins; a packaged config is read only when named so. A path that does
    not exist is an error that lists the packaged configs (those that were ``configs/`` in a
    checkout before they moved into the package), rather than a silent fallback to them.

    :param value: a path, or ``builtin:NAME`` (``.yaml`` may be left out).
    :param flag: how the caller names the option, for the errors.
    :return: the file.
    :raises FileNotFoundError: the path, or the packaged config, does not exist.
    """
    text = os.fspath(value)
    names = builtin_config_names()
    listed = f"{BUILTIN_CONFIG}NAME, NAME one of " + ", ".join(names)
    if text.startswith(BUILTIN_CONFIG):
        name = text[len(BUILTIN_CONFIG):]
        name = name if name.endswith(".yaml") else name + ".yaml"
        if name not in names:
            raise FileNotFoundError(f"{flag} {text!r}: no packaged config {name!r}; give "
                                    f"{listed}")
        return configs_dir() / name
    path = Path(text)
    if not path.is_file():
        moved = Path(*path.parts[1:]).as_posix() if path.parts[:1] == ("configs",) else None
        hint = (f" (configs/ moved into the package: use {BUILTIN_CONFIG}{moved})"
                if moved in names else "")
        raise FileNotFoundError(f"{flag} {text!r} does not exist{hint}; give a YAML file, or "
                                f"one of the packaged configs: {listed}")
    return path
