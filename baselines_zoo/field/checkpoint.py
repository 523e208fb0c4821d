"""Checkpoints of the field's learned selectors: one format, read without running code.

A checkpoint is a plain dict saved with :func:`frame_select_env.store.atomic.atomic_torch_save`: the
method's name, its config as a dict, the streams it observes and predicts with, the network's
sizes, its ``state_dict`` and whatever else the method keeps (thresholds, a training log). It
is read back with ``torch.load(weights_only=True)``, and every refusal names the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from frame_select_env.core.config import from_dict

Net = TypeVar("Net", bound=nn.Module)


def save_checkpoint(method: str, policy: Any, dims: Mapping[str, int], path: str | os.PathLike,
                    **extra: Any) -> Path:
    """Write a selector's checkpoint atomically.

    :param method: the method's name (``ocsampler``, ``liteeval``, ``frameexit``).
    :param policy: the policy: its ``config`` (a dataclass), ``observe``, ``predict``,
        ``module`` (the network) and, when it has one, its ``train_log`` (rows) are saved.
    :param dims: the network's constructor sizes.
    :param path: the ``.pt`` file.
    :param extra: more plain values to keep.
    :return: the path written.
    """
    from frame_select_env.store.atomic import atomic_torch_save

    if hasattr(policy, "train_log"):
        extra = {"train_log": [dict(r) for r in policy.train_log], **extra}
    return atomic_torch_save({
        "method": method, "config": asdict(policy.config), "observe": policy.observe,
        "predict": policy.predict, "dims": {k: int(v) for k, v in dims.items()},
        "state_dict": policy.module.state_dict(), **extra}, path)


def load_checkpoint(path: str | os.PathLike, method: str, title: str) -> dict[str, Any]:
    """Read a checkpoint :func:`save_checkpoint` wrote, checking it is ``method``'s.

    :param path: the ``.pt`` file.
    :param method: the method it must hold.
    :param title: the method's display name, for messages (``"FrameExit"``).
    :return: the checkpoint dict.
    :raises ValueError: an unreadable file or another method's checkpoint (naming the file).
    """
    from frame_select_env.pipeline.models.weights import load_torch_file

    ckpt = load_torch_file(path, f"{title} checkpoint")
    got = ckpt.get("method") if isinstance(ckpt, dict) else type(ckpt).__name__
    if got != method:
        article = "an" if title[:1] in "AEIOU" else "a"
        raise ValueError(f"{path}: not {article} {title} checkpoint (method {got!r})")
    return ckpt


def load_weights(net: Net, ckpt: Mapping[str, Any], path: str | os.PathLike,
                 title: str) -> Net:
    """Put a checkpoint's weights into a freshly built network.

    :raises ValueError: weights that do not fit the network (naming the file).
    """
    try:
        net.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, KeyError) as exc:
        raise ValueError(f"{path}: weights do not fit the {title} network: {exc}") from exc
    return net


def load_trained(path: str | os.PathLike, method: str, title: str, config_type: type,
                 build: Callable[[Mapping[str, int], Any], Net]
                 ) -> tuple[dict[str, Any], Any, Net]:
    """Read a selector's checkpoint: the dict, its config and its network with the weights.

    :param path: the ``.pt`` file :func:`save_checkpoint` wrote.
    :param method: the method it must hold.
    :param title: the method's display name, for messages.
    :param config_type: the method's config dataclass (the saved dict is checked against it).
    :param build: ``(dims, config) -> network`` (freshly initialised).
    :return: ``(checkpoint, config, network)``.
    :raises ValueError: another method's checkpoint, a bad config or weights that do not fit.
    """
    ckpt = load_checkpoint(path, method, title)
    cfg: Any = from_dict(config_type, ckpt["config"], where=f"{path} config")
    return ckpt, cfg, load_weights(build(ckpt["dims"], cfg), ckpt, path, title)
