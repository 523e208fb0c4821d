"""Where torch runs and how its random state is saved: devices and RNG state, defined once."""

from __future__ import annotations

import random
from typing import Any, cast

import numpy as np
import torch

from frame_select_env.core.config import UserError


class DeviceUnavailableError(UserError, RuntimeError):
    """A CUDA device was asked for on a machine without one.

    It is a ``ValueError`` and a ``RuntimeError``, so callers of either kind catch it.
    """


def resolve_device(device: str | torch.device | None = "auto", who: str = "device") -> torch.device:
    """The torch device meant by ``device``.

    :param device: ``"auto"`` or ``None`` (CUDA when available, else the CPU), or any torch device
        spec (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
    :param who: the argument's name, for the error.
    :raises DeviceUnavailableError: a CUDA device is asked for but CUDA is not available.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"{who} {str(device)!r} requested but CUDA is not "
                                     "available; use 'cpu' or 'auto'")
    return dev


def torch_rng_state() -> dict[str, Any]:
    """Torch's CPU and CUDA generator states (``weights_only``-safe tensors and lists)."""
    return {"torch": torch.random.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def global_rng_state() -> dict[str, Any]:
    """Every global generator a run may draw from: torch (CPU, CUDA), numpy's and Python's.

    Stored as tensors and plain Python values, so a checkpoint holding it loads with
    ``torch.load(..., weights_only=True)``.
    """
    # numpy's stubs give the default call legacy=False's dict; it returns the legacy tuple
    np_state = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state())
    py_state = random.getstate()
    return {
        **torch_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`torch_rng_state` or :func:`global_rng_state` saved.

    CUDA states are restored only on a machine with the same number of CUDA devices.
    """
    torch.random.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    if "numpy" in state:
        n = state["numpy"]
        np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"],
                             n["has_gauss"], n["cached_gaussian"]))
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
