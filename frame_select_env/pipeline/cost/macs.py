"""Counted multiply-accumulates (MACs) of the classifier's streams and of an agent.

``torch.utils.flop_counter.FlopCounterMode`` counts FLOPs of the matrix products and
convolutions a forward pass runs, with one multiply-add = 2 FLOPs; :func:`count_macs` divides by
2 (and counts ``nn.LSTM`` through equivalent ``nn.LSTMCell`` steps, which the counter sees).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def count_macs(module: Any, *inputs: Any) -> int:
    """MACs of one forward pass of ``module(*inputs)``, counted by ``FlopCounterMode``.

    ``FlopCounterMode`` does not see inside the fused ``aten::lstm`` kernel (it reports 0 for an
    ``nn.LSTM``), so every ``nn.LSTM`` is counted by running the same computation as
    ``nn.LSTMCell`` steps (which it does count) for the sequence length the forward pass used.

    :param module: a ``torch.nn.Module`` (put in eval mode by the caller if it matters).
    :param inputs: the forward pass's arguments (any batch size; MACs scale with it).
    :return: MACs (FLOPs / 2).
    """
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    seen: list[tuple[nn.LSTM, int, int]] = []

    def hook(mod: nn.LSTM, args: tuple, _out: Any) -> None:
        x = args[0]
        batch_first = mod.batch_first
        seq = int(x.shape[1] if batch_first else x.shape[0]) if x.ndim == 3 else int(x.shape[0])
        batch = int(x.shape[0] if batch_first else x.shape[1]) if x.ndim == 3 else 1
        seen.append((mod, seq, batch))

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.LSTM)]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    flops = int(counter.get_total_flops())
    for lstm, seq, batch in seen:
        flops += 2 * _lstm_macs_by_cells(lstm, seq, batch)
    return flops // 2


def _lstm_macs_by_cells(lstm: Any, seq_len: int, batch: int) -> int:
    """MACs of an ``nn.LSTM`` over ``seq_len`` steps, counted on equivalent ``LSTMCell`` steps."""
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    if getattr(lstm, "proj_size", 0):
        raise ValueError("count_macs: nn.LSTM with proj_size is not supported")
    directions = 2 if lstm.bidirectional else 1
    total = 0
    for layer in range(lstm.num_layers):
        in_size = lstm.input_size if layer == 0 else lstm.hidden_size * directions
        cell = nn.LSTMCell(in_size, lstm.hidden_size, bias=lstm.bias)
        x = torch.zeros(batch, in_size)
        h = (torch.zeros(batch, lstm.hidden_size), torch.zeros(batch, lstm.hidden_size))
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            for _ in range(seq_len):
                h = cell(x, h)
        total += directions * int(counter.get_total_flops()) // 2
    return total


def stream_macs_per_crop(
    arch: str,
    in_channels: int,
    num_classes: int,
    crop: int,
    backbone_kwargs: Mapping[str, Any] | None = None,
) -> int:
    """MACs of one stream (backbone F + classifier CL) on one ``crop`` x ``crop`` input.

    MACs do not depend on the weights, so the network is built from its architecture only.

    :param arch: backbone name (:data:`frame_select_env.pipeline.models.backbones.ARCHS`).
    :param in_channels: 3 for RGB, 2L for a flow stack.
    :param num_classes: C of the classifier.
    :param crop: input side in pixels.
    :param backbone_kwargs: architecture options (e.g. SmallCNN's ``feature_dim``, ``width``).
    :return: MACs per crop.
    :raises ValueError: a size below 1.
    """
    import torch

    from frame_select_env.pipeline.models.classifier import build_stream_model

    if crop < 1 or in_channels < 1 or num_classes < 1:
        raise ValueError(f"stream_macs_per_crop: crop, in_channels and num_classes must be >= 1, "
                         f"got {crop}, {in_channels}, {num_classes}")
    model = build_stream_model(arch, in_channels, num_classes, 0.0, backbone_kwargs).eval()
    return count_macs(model, torch.zeros(1, in_channels, crop, crop))


def agent_macs_per_sequence(agent: Any, num_frames: int) -> int:
    """MACs of one forward pass of an :class:`agents.as_agent.ASAgent` over T frames (one view).

    :param agent: the agent (its config gives the input sizes).
    :param num_frames: T.
    :return: MACs of the T frames (the agent is left in the mode it was in).
    """
    import torch

    cfg = agent.config
    obs = {"features": torch.zeros(1, num_frames, cfg.feature_dim),
           "predictions": torch.full((1, num_frames, cfg.num_classes), 1.0 / cfg.num_classes)}
    was_training = agent.training
    agent.eval()
    try:
        return count_macs(_AgentLogits(agent), {k: obs[k] for k in cfg.parts})
    finally:
        agent.train(was_training)


class _AgentLogits:
    """``module(obs)`` view of an agent for :func:`count_macs` (which calls ``module(*inputs)``)."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent

    def modules(self) -> Any:
        """The agent's modules (where :func:`count_macs` looks for ``nn.LSTM``)."""
        return self.agent.modules()

    def __call__(self, obs: Mapping[str, Any]) -> Any:
        return self.agent.logits(obs)


def classifier_architecture(classifier: Any) -> dict[str, dict[str, Any]]:
    """The architecture of each stream of a classifier, which is all its MACs depend on.

    :param classifier: a :class:`~frame_select_env.pipeline.models.classifier.TwoStreamClassifier`.
    :return: stream -> ``{"arch": ..., "backbone_kwargs": {...}}`` (the ``streams`` of
        :func:`~frame_select_env.pipeline.cost.build_cost`).
    :raises ValueError: a backbone records no ``.arch``.
    """
    streams = {}
    for name, model in classifier.streams.items():
        backbone = model.backbone
        if getattr(backbone, "arch", None) is None:
            raise ValueError(f"extraction_cost: the {name!r} backbone "
                             f"({type(backbone).__name__}) records no .arch")
        streams[name] = {"arch": backbone.arch,
                         "backbone_kwargs": dict(getattr(backbone, "build_kwargs", {}) or {})}
    return streams
