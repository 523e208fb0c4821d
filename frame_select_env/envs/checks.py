"""Argument checks both envs share (reset options, ``num_envs``, the autoreset mode).

They live here, not in either env, so the one-step and the sequential env import nothing of
each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode


def check_index(value: Any, what: str) -> int:
    """An integer reset option (``index``, ``view``) as an int; bools and floats are refused.

    ``int(1.5)`` would silently pick video 1 and ``True`` is an int to Python, so both are
    refused instead of truncated.

    :param value: the option's value.
    :param what: how the error names it, e.g. ``"options['index']"``.
    :raises ValueError: not an integer.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"reset: {what} must be an int, got {value!r} "
                         f"({type(value).__name__})")
    return int(value)


def check_reset_rows(values: Any, name: str, num_envs: int, bound: int) -> np.ndarray:
    """``reset(options={name: values})`` as (num_envs,) int64 in ``[0, bound)``, else ValueError.

    Shared by both vector envs' ``indices`` and ``views`` options.
    """
    arr = np.asarray(values)
    # np.asarray(..., int64) would truncate 1.5 to 1 and take True as 1: refuse them
    if arr.dtype.kind not in "iu" and arr.size:
        raise ValueError(f"reset: options[{name!r}] must be integers, got dtype "
                         f"{arr.dtype} ({np.ravel(arr)[:3].tolist()}...)")
    arr = arr.astype(np.int64)
    if arr.shape != (num_envs,):
        raise ValueError(f"reset: options[{name!r}] must have shape ({num_envs},), got {arr.shape}")
    if arr.min() < 0 or arr.max() >= bound:
        raise ValueError(f"reset: options[{name!r}] out of range [0, {bound})")
    return arr


def check_num_envs(num_envs: Any) -> int:
    """The vector envs' ``num_envs`` as an int, refused unless it is an int >= 1 (not a bool)."""
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
        raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
    return int(num_envs)


def parse_autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    """An :class:`AutoresetMode` from itself or a name (``"SameStep"``, ``"same_step"``, ...)."""
    key = str(getattr(mode, "value", mode)).lower().replace("_", "").replace("-", "")
    for m in AutoresetMode:
        if m.value.lower() == key:
            return m
    raise ValueError(
        f"autoreset_mode must be one of {[m.value for m in AutoresetMode]}, got {mode!r}"
    )
