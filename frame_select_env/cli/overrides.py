"""``--set KEY=VALUE`` command-line overrides, shared by the scripts and benchmarks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


def parse_value(text: str) -> Any:
    """A YAML scalar or list, except that ``3e-3`` is a float.

    PyYAML follows YAML 1.1, which reads a float only with a dot (``3.0e-3``) and leaves ``3e-3``
    a string; on a command line that is never what is meant.
    """
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_overrides(items: Iterable[str], flag: str = "--set") -> dict[str, Any]:
    """``["lr=3e-3", "lr_milestones=[20, 40]"]`` -> ``{"lr": 0.003, "lr_milestones": [20, 40]}``.

    :param items: ``KEY=VALUE`` strings; a later key wins.
    :param flag: the flag's name, for the error message.
    :raises ValueError: an item without ``=`` or with an empty key.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out
