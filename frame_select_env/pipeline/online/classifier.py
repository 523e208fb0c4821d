"""The frozen classifier of online mode, from any of its specs, with an id naming its weights."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from frame_select_env.core.config import load_yaml
from frame_select_env.core.constants import STREAMS
from frame_select_env.pipeline.streams import STREAM_SPECS, ordered_streams
from frame_select_env.store.atomic import sha256_file


def _stream_id(hashes: Mapping[str, str]) -> str:
    """The id of per-stream weights from their sha256 digests."""
    # the build script's form ("flow:<16 hex>|rgb:<16 hex>"), so a store's id names its files
    return "|".join(f"{s}:{h[:16]}" for s, h in sorted(hashes.items()))


def resolve_classifier(
    spec: Any, device: str = "auto", amp_dtype: str | None = "float16"
) -> tuple[Any, str, dict[str, Any]]:
    """Load the frozen classifier named by ``spec``.

    :param spec: ``"builtin"`` (the packaged SparseActions classifier), a two-stream file
        (``save_two_stream_checkpoint``), a YAML file or mapping ``{"rgb": path, "flow": path}``
        of per-stream checkpoints, or a ready ``TwoStreamClassifier``
    :param device: ``auto``, ``cpu``, ``cuda``, ...
    :param amp_dtype: autocast dtype on CUDA (``None`` = off)
    :return: (classifier, id naming its weights, extraction defaults recorded with it)
    :raises FileNotFoundError: a named file does not exist
    :raises ValueError: a YAML spec does not map ``rgb`` and ``flow`` to files
    :raises TypeError: ``spec`` is none of the above
    """
    from frame_select_env.pipeline.models.classifier import (
        TWO_STREAM_FORMAT,
        TwoStreamClassifier,
        read_two_stream_checkpoint,
    )

    if isinstance(spec, TwoStreamClassifier):
        h = hashlib.sha256()
        for name in sorted(spec.streams):
            for k, v in sorted(spec.streams[name].state_dict().items()):
                h.update(f"{name}.{k}".encode())
                h.update(v.detach().cpu().contiguous().numpy().tobytes())
        return spec, f"instance:{h.hexdigest()[:16]}", {}
    if isinstance(spec, str) and spec == "builtin":
        from frame_select_env.store.builtin import builtin_classifier_path

        spec = builtin_classifier_path()
    if isinstance(spec, (str, os.PathLike)) and Path(spec).suffix in (".yaml", ".yml"):
        path = Path(spec)
        data = load_yaml(path, "classifier")
        if not {"rgb", "flow"} <= set(data):
            raise ValueError(f"classifier={str(path)!r} must map 'rgb' and 'flow' to files")
        # rgb and flow, plus any other registered stream the file names
        spec = {k: path.parent / str(data[k]) for k in ordered_streams(data)
                if k in STREAMS or k in STREAM_SPECS}
    if isinstance(spec, Mapping):
        paths = {str(k): Path(v) for k, v in spec.items()}
        for k, p in paths.items():
            if not p.is_file():
                raise FileNotFoundError(f"classifier[{k!r}]={str(p)!r}: file not found")
        clf = TwoStreamClassifier.from_checkpoints(paths, device=device, amp_dtype=amp_dtype)
        return clf, _stream_id({k: sha256_file(p) for k, p in paths.items()}), {}
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        obj = read_two_stream_checkpoint(path)  # names the file on any problem
        assert obj["format"] == TWO_STREAM_FORMAT
        clf = TwoStreamClassifier.from_file(path, device=device, amp_dtype=amp_dtype)
        ident = _stream_id(obj["stream_sha256"]) if obj.get("stream_sha256") else (
            f"two_stream:{sha256_file(path)[:16]}"
        )
        return clf, ident, dict((obj.get("extra") or {}).get("extraction") or {})
    raise TypeError(
        f"classifier must be 'builtin', a checkpoint path, a {{'rgb': path, 'flow': path}} "
        f"mapping or a TwoStreamClassifier, got {type(spec).__name__}"
    )
