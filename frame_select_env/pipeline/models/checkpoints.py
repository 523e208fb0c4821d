"""Checkpoint files of the stream models: one stream (``stream/1``) and the two-stream bundle.

Both are plain dicts that ``torch.load(..., weights_only=True)`` reads, written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from frame_select_env.pipeline.models.stream_model import StreamModel, build_stream_model
from frame_select_env.pipeline.models.weights import load_torch_file
from frame_select_env.store.atomic import atomic_torch_save, sha256_file

CHECKPOINT_FORMAT = "frame_select_env.stream/1"


def _plain(obj: Any, where: str) -> Any:
    # torch.load(weights_only=True) only accepts plain containers/scalars (and tensors)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(
        f"stream checkpoint: {where} has a {type(obj).__name__}; only plain types "
        "(str, int, float, bool, None, list, dict, paths) can be stored"
    )


def stream_checkpoint_dict(
    model: StreamModel,
    class_names: Sequence[str],
    config: Mapping[str, Any] | None = None,
    arch: str | None = None,
    backbone_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the plain (``weights_only``-loadable) per-stream checkpoint dict.

    :param model: the stream model
    :param class_names: the C class names, in label order
    :param config: training configuration to record (plain types only)
    :param arch: backbone architecture; default ``model.backbone.arch``
    :param backbone_kwargs: backbone options; default ``model.backbone.build_kwargs``
    :return: the checkpoint dict (tensors moved to CPU)
    """
    arch = arch if arch is not None else getattr(model.backbone, "arch", None)
    if arch is None:
        raise ValueError("stream_checkpoint_dict: arch unknown; pass arch= explicitly")
    if backbone_kwargs is None:
        backbone_kwargs = getattr(model.backbone, "build_kwargs", {})
    class_names = [str(c) for c in class_names]
    if len(class_names) != model.num_classes:
        raise ValueError(
            f"stream_checkpoint_dict: {len(class_names)} class names for a model with "
            f"{model.num_classes} classes"
        )
    return {
        "format": CHECKPOINT_FORMAT,
        "arch": str(arch),
        "in_channels": model.in_channels,
        "num_classes": model.num_classes,
        "feature_dim": model.feature_dim,
        "dropout": model.dropout_p,
        "backbone_kwargs": _plain(dict(backbone_kwargs), "backbone_kwargs"),
        "input_norm": model.input_norm,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "class_names": class_names,
        "config": _plain(dict(config or {}), "config"),
    }


def save_stream_checkpoint(
    path: str | os.PathLike[str],
    model: StreamModel,
    class_names: Sequence[str],
    config: Mapping[str, Any] | None = None,
    arch: str | None = None,
    backbone_kwargs: Mapping[str, Any] | None = None,
) -> Path:
    """Save a per-stream checkpoint atomically (tmp file in the same dir, then ``os.replace``).

    :param path: destination file
    :param model: see :func:`stream_checkpoint_dict` for the other parameters
    :return: the path written
    """
    path = Path(path)
    atomic_torch_save(
        stream_checkpoint_dict(model, class_names, config, arch, backbone_kwargs), path
    )
    return path


def read_stream_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate a per-stream checkpoint (plain or wrapped as ``{"model": ..., ...}``).

    :param path: checkpoint file
    :return: the per-stream checkpoint dict
    """
    path = Path(path)
    obj = load_torch_file(path, "stream checkpoint")
    if isinstance(obj, dict) and "format" not in obj and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        fmt = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(
            f"{path} is not a {CHECKPOINT_FORMAT!r} stream checkpoint (format: {fmt!r}); "
            "for public state dicts use frame_select_env.pipeline.models.weights.load_pretrained"
        )
    missing = [
        k
        for k in ("arch", "in_channels", "num_classes", "dropout", "state_dict", "class_names")
        if k not in obj
    ]
    if missing:
        raise ValueError(f"stream checkpoint {path} lacks keys {missing}")
    return obj


@overload
def load_stream_model(
    path: str | os.PathLike[str], return_checkpoint: Literal[False] = False
) -> StreamModel: ...


@overload
def load_stream_model(
    path: str | os.PathLike[str], return_checkpoint: Literal[True]
) -> tuple[StreamModel, dict[str, Any]]: ...


@overload
def load_stream_model(
    path: str | os.PathLike[str], return_checkpoint: bool = False
) -> StreamModel | tuple[StreamModel, dict[str, Any]]: ...


def load_stream_model(
    path: str | os.PathLike[str], return_checkpoint: bool = False
) -> StreamModel | tuple[StreamModel, dict[str, Any]]:
    """Rebuild a :class:`StreamModel` from a per-stream checkpoint (strict state-dict load).

    :param path: checkpoint file
    :param return_checkpoint: also return the checkpoint dict (class names, config, ...)
    :return: the model (in eval mode), or ``(model, checkpoint)``
    """
    ckpt = read_stream_checkpoint(path)
    model = stream_model_from_checkpoint(ckpt, path)
    return (model, ckpt) if return_checkpoint else model


def stream_model_from_checkpoint(ckpt: Mapping[str, Any], where: Any = "checkpoint") -> StreamModel:
    """Rebuild a :class:`StreamModel` from a per-stream checkpoint dict (strict state-dict load).

    :param ckpt: the dict of :func:`stream_checkpoint_dict`
    :param where: what to name in error messages (the file, ``file[rgb]``, ...)
    :return: the model in eval mode
    """
    model = build_stream_model(
        ckpt["arch"],
        int(ckpt["in_channels"]),
        int(ckpt["num_classes"]),
        float(ckpt["dropout"]),
        ckpt.get("backbone_kwargs") or {},
        ckpt.get("input_norm", "imagenet"),
    )
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as exc:
        raise ValueError(f"stream checkpoint {where}: state dict does not match: {exc}") from exc
    if len(ckpt["class_names"]) != model.num_classes:
        raise ValueError(
            f"stream checkpoint {where}: {len(ckpt['class_names'])} class names but "
            f"num_classes={model.num_classes}"
        )
    return model.eval()


TWO_STREAM_FORMAT = "frame_select_env.two_stream/1"


def save_two_stream_checkpoint(
    path: str | os.PathLike[str],
    stream_paths: Mapping[str, str | os.PathLike[str]],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Bundle per-stream checkpoints into one ``weights_only``-loadable two-stream file (atomic).

    Only what inference needs is kept (architecture, weights, class names, input
    normalisation, the training summary); optimizer state and the like are dropped. The sha256
    of every source file is recorded, so a store's ``classifier`` id (built from those hashes)
    can be traced back to this file.

    :param path: the file to write
    :param stream_paths: ``{"rgb": path, "flow": path}`` per-stream checkpoints
    :param extra: plain-typed extra information (e.g. the extraction settings)
    :return: the path written
    """
    streams, hashes = {}, {}
    for name, src in sorted(stream_paths.items()):
        ckpt = dict(read_stream_checkpoint(src))
        cfg = ckpt.get("config") or {}
        keep = ("epochs_trained", "best_val", "best_epoch", "final_val", "seed", "arch_kwargs")
        ckpt["config"] = {k: cfg[k] for k in keep if k in cfg}
        streams[name] = ckpt
        hashes[name] = sha256_file(src)
    names = {n: list(c["class_names"]) for n, c in streams.items()}
    if len({tuple(v) for v in names.values()}) != 1:
        raise ValueError(f"save_two_stream_checkpoint: streams disagree on class names: {names}")
    obj = {
        "format": TWO_STREAM_FORMAT,
        "streams": streams,
        "class_names": next(iter(names.values())),
        "stream_sha256": hashes,
        "extra": _plain(dict(extra or {}), "extra"),
    }
    atomic_torch_save(obj, path)
    return Path(path)


def read_two_stream_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check a two-stream file written by :func:`save_two_stream_checkpoint`.

    :param path: the file
    :return: its dict (``streams``, ``class_names``, ``stream_sha256``, ``extra``)
    """
    path = Path(path)
    obj = load_torch_file(path, "two-stream checkpoint")
    if not isinstance(obj, dict) or obj.get("format") != TWO_STREAM_FORMAT:
        fmt = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{path} is not a {TWO_STREAM_FORMAT!r} checkpoint (format: {fmt!r})")
    if not isinstance(obj.get("streams"), dict) or not obj["streams"]:
        raise ValueError(f"two-stream checkpoint {path} has no streams")
    return obj
