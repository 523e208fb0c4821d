"""Reading options: YAML files (``yaml.safe_load``) and dicts into validated dataclasses."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def load_yaml(path: str | os.PathLike, what: str = "config") -> dict[str, Any]:
    """A YAML file holding a mapping (an empty file is ``{}``), read with ``yaml.safe_load``.

    :param path: the file.
    :param what: what the file is, for the errors (``config``, ``--config``, ``hyperparameters``).
    :raises FileNotFoundError: the file does not exist.
    :raises ValueError: it is not valid YAML, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as err:
        raise ValueError(f"{what} {str(path)!r} is not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{what} {str(path)!r}: expected a mapping of options, got "
                         f"{type(data).__name__}")
    return data


def unknown_keys(cls: type, data: Mapping[str, Any]) -> list[str]:
    """The keys of ``data`` that are not fields of the dataclass ``cls``, sorted."""
    known = {f.name for f in dataclasses.fields(cls)}
    return sorted(set(data) - known)


def from_dict(cls: type[T], data: Mapping[str, Any], where: str | None = None,
              error: type[Exception] = ValueError, what: str | None = None) -> T:
    """Build the dataclass ``cls`` from a mapping; an unknown key is an error naming it.

    :param cls: a dataclass whose ``__post_init__`` validates the values.
    :param data: field values (e.g. a YAML mapping).
    :param where: where the values came from (a file, ``config``), for the error; default the
        class name.
    :param error: the exception class to raise.
    :param what: what the keys are, for the error (default ``"<class name> keys"``).
    :raises error: ``data`` is not a mapping or has unknown keys.
    """
    where = where or cls.__name__
    if not isinstance(data, Mapping):
        raise error(f"{where}: expected a mapping of {cls.__name__} fields, got "
                    f"{type(data).__name__}")
    unknown = unknown_keys(cls, data)
    if unknown:
        known = sorted(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        raise error(f"{where}: unknown {what or cls.__name__ + ' keys'} {unknown} "
                    f"(known: {known})")
    return cls(**dict(data))
