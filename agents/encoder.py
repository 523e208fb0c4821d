"""The per-frame BiLSTM encoder shared by the AS agent and the SB3 features extractor.

Each part of the state (``features`` (T, D), ``predictions`` (T, C)) is projected per frame by its
own ``Linear -> LayerNorm -> ReLU`` (so a 1024-d feature does not drown a small probability vector),
the parts are concatenated, optionally passed through dropout, and a bidirectional LSTM reads the
T frames. :class:`agents.as_agent.ASAgent` and
:class:`baselines_zoo.sb3.policies.BiLSTMExtractor` both inherit it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from frame_select_env.core.constants import STATES


def check_architecture(config: Any, sizes: Sequence[str]) -> None:
    """Refuse an agent's architecture config with an unknown ``state`` or a size below 1.

    :param config: an agent's config dataclass (with ``state``), named in the messages.
    :param sizes: the fields that must be ints >= 1 (input sizes, layer sizes).
    :raises ValueError: ``"<class>: state must be one of ..."`` or ``"<class>: <size> must be
        >= 1, got ..."``.
    """
    who = type(config).__name__
    if config.state not in STATES:
        raise ValueError(f"{who}: state must be one of {STATES}, got {config.state!r}")
    for name in sizes:
        if int(getattr(config, name)) < 1:
            raise ValueError(f"{who}: {name} must be >= 1, got {getattr(config, name)}")


class BiLSTMEncoder(nn.Module):
    """Per-part projections (``proj``), optional dropout (``drop``) and a BiLSTM (``lstm``).

    A base class that a module's ``__init__`` completes with :meth:`build_encoder`: the layers
    are attributes of the module itself, so its state-dict keys stay ``proj.<part>.0.weight``,
    ``lstm.weight_ih_l0``, ... (saved agents and SB3 models keep loading), and it can sit next to
    another base class such as SB3's ``BaseFeaturesExtractor``.
    """

    def build_encoder(
        self, dims: Mapping[str, int], proj_dim: int, hidden_size: int, num_layers: int = 1,
        dropout: float | None = None,
    ) -> None:
        """Create the layers, in this order (a seed gives the same weights).

        :param dims: input size of each part, in the order the parts are concatenated.
        :param proj_dim: output size of each part's projection.
        :param hidden_size: LSTM hidden size per direction (H).
        :param num_layers: stacked BiLSTM layers.
        :param dropout: dropout on the concatenated projections and between LSTM layers;
            ``None`` adds no dropout layer.
        """
        self.proj = nn.ModuleDict()
        for part, dim in dims.items():
            self.proj[part] = nn.Sequential(
                nn.Linear(dim, proj_dim), nn.LayerNorm(proj_dim), nn.ReLU()
            )
        if dropout is not None:
            self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            proj_dim * len(dims), hidden_size, num_layers=num_layers, batch_first=True,
            bidirectional=True, dropout=dropout if dropout is not None and num_layers > 1 else 0.0,
        )

    def encode(self, parts: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Per-frame BiLSTM outputs.

        :param parts: ``{part: (B, T, dim)}`` float tensors for every part of ``dims``.
        :return: (B, T, 2H).
        """
        x = torch.cat([proj(parts[part]) for part, proj in self.proj.items()], dim=-1)
        if hasattr(self, "drop"):
            x = self.drop(x)
        out, _ = self.lstm(x)
        return out
