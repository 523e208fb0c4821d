"""The cost dict of a store that records none, counted from the architecture named for it.

A store of imported features (``scripts/import_features.py``) records no cost: nothing says
which CNN made its features. GMACs follow from the architecture and the input size alone, so
``--arch resnet50`` (every stream) or ``--arch rgb=resnet50 --arch flow=bninception`` with
``--crop`` and ``--flow-length`` give a MACs-only cost dict (:func:`architecture_cost`); seconds
stay unknown, since nothing was measured. :func:`table_cost` is what a comparison script reads:
the store's own cost record when it has one, else the one ``--arch`` counts, else none, each
with the note the table and stderr show.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from frame_select_env.core.config import UserError
from frame_select_env.pipeline.archs import arch_names

#: the flow method of a cost dict counted from ``--arch`` (nothing was measured)
UNMEASURED = "unmeasured"


def parse_arch(values: Sequence[str], streams: Sequence[str] | None = None,
               option: str = "--arch") -> dict[str, str]:
    """Read ``--arch`` values: ``NAME`` (every stream) or ``STREAM=NAME`` (one stream).

    :param values: the option's values.
    :param streams: the store's streams (``None``: check the names only, at parse time).
    :param option: the option, for the messages.
    :return: stream -> architecture name (empty when ``values`` is).
    :raises UserError: an unknown architecture or stream, or a stream left without one.
    """
    known = arch_names()
    out: dict[str, str] = {}
    for value in values:
        stream, eq, name = value.rpartition("=")
        if name not in known:
            raise UserError(f"{option} {value!r}: unknown architecture {name!r}; choose from "
                            f"{', '.join(known)} (STREAM=NAME for one stream)")
        if streams is None:
            continue
        if eq and stream not in streams:
            raise UserError(f"{option} {value!r}: the store has no stream {stream!r} (its "
                            f"streams: {', '.join(streams)})")
        out.update({s: name for s in ([stream] if eq else streams)})
    if streams is not None and out and (left := [s for s in streams if s not in out]):
        raise UserError(f"{option} {' '.join(values)}: no architecture for stream(s) "
                        f"{', '.join(left)}; give NAME for every stream or STREAM=NAME for each")
    return out


def architecture_cost(store: Any, archs: Mapping[str, str], crop: int = 224,
                      flow_length: int = 5) -> dict[str, Any]:
    """A MACs-only cost dict of ``store``, its streams' CNNs being ``archs`` at ``crop`` pixels.

    Each stream's backbone is built (no weights: MACs do not depend on them) with the input
    channels of its stream (RGB 3, flow 2L), and must give features of the store's size (SmallCNN
    is built with the store's D); every crop the store holds is one CNN pass.

    :param store: path or :class:`~frame_select_env.store.FeatureStore`.
    :param archs: stream -> architecture name (:func:`parse_arch`).
    :param crop: the network's input side in pixels.
    :param flow_length: L, the flow fields a flow stream stacks.
    :return: a cost dict (:func:`~frame_select_env.pipeline.cost.build_cost`) without seconds.
    :raises UserError: a stream the pipeline does not know, or features of another size than
        the architecture gives.
    """
    from frame_select_env.pipeline.cost.model import build_cost
    from frame_select_env.pipeline.models.backbones import build_backbone
    from frame_select_env.pipeline.streams import stream_spec
    from frame_select_env.store import FeatureStore

    fs = store if isinstance(store, FeatureStore) else FeatureStore(store)
    where = f"feature store {os.fspath(fs.path)!r}"
    spec: dict[str, dict[str, Any]] = {}
    for stream, arch in archs.items():
        try:
            in_channels = stream_spec(stream).in_channels(flow_length)
        except ValueError as err:
            raise UserError(f"--arch for {where}: {err}: its input size is unknown") from None
        dim = fs.feature_dim(stream)
        kwargs = {"feature_dim": dim} if arch == "small" else {}
        backbone: Any = build_backbone(arch, in_channels, **kwargs)
        got = int(backbone.feature_dim)
        if got != dim:
            raise UserError(f"--arch {stream}={arch}: {arch} gives {got}-d features, the "
                            f"{stream!r} features of {where} are {dim}-d: name the CNN that "
                            f"made them")
        spec[stream] = {"arch": arch, "backbone_kwargs": kwargs}
    views = {s: fs.num_views(s) for s in archs}
    first = next(iter(views))
    cost = build_cost(spec, fs.num_classes, {
        "crop": crop, "num_views": views[first], "num_frames": fs.num_frames,
        "flow_length": flow_length, "flow_method": UNMEASURED})
    for stream, count in views.items():
        if count != views[first]:
            cost["streams"][stream]["num_views"] = count
    return cost


def table_cost(store: Any, arch: Sequence[str] = (), crop: int = 224, flow_length: int = 5,
               streams: Sequence[str] | None = None
               ) -> tuple[dict[str, Any] | None, str | None]:
    """The cost dict a comparison prices its rows with, and what the table must say about it.

    :param store: path or :class:`~frame_select_env.store.FeatureStore`.
    :param arch: ``--arch`` values; used only when the store records no cost.
    :param crop: ``--crop``, the input side the GMACs are counted at.
    :param flow_length: ``--flow-length``.
    :param streams: the streams the rows compute (default: the store's fused ones); ``--arch
        NAME`` names the CNN of each.
    :return: ``(cost, note)``: the store's own cost (note ``None``); one counted from ``arch``
        (note: seconds unknown); or ``None`` (note: cost unknown, and why).
    :raises UserError: a bad ``--arch`` (:func:`parse_arch`, :func:`architecture_cost`).
    """
    from frame_select_env.store import FeatureStore
    from frame_select_env.store.cost_record import store_cost

    fs = store if isinstance(store, FeatureStore) else FeatureStore(store)
    name = os.path.basename(os.fspath(fs.path))
    archs = parse_arch(arch, list(streams) if streams is not None else list(fs.streams))
    cost = store_cost(fs)
    if cost is not None:
        return cost, None  # the store's own record (its architecture) wins over --arch
    if not archs:
        return None, (f"cost unknown for {name}: it records no cost (no architecture or "
                      f"timings, e.g. features imported from elsewhere), so the GMACs and "
                      f"seconds columns are NaN; accuracy and frames are measured; pass --arch "
                      f"NAME (or STREAM=NAME per stream) to count GMACs from the architecture")
    cost = architecture_cost(fs, archs, crop, flow_length)
    shown = ", ".join(f"{s}={a}" for s, a in archs.items())
    return cost, (f"seconds unknown for {name}: it records no measured timings, so the seconds "
                  f"columns are NaN; GMACs are counted from --arch {shown} at {crop}x{crop} "
                  f"crops (flow L={flow_length}), not recorded by the store")
