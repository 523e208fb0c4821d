"""The paper's attention-aware sampling agent: a BiLSTM that gives every frame a keep probability.

Dong, Zhang, Tan (AAAI 2019), Sec. 3: the state of frame t is ``s_t = (s^f_t, s^r_t)``, the frozen
classifier's feature and class probabilities. A bidirectional LSTM reads ``s_1 .. s_T``; a fully
connected layer shared across frames and a sigmoid turn each hidden state into ``p^a_t``, the
probability of keeping frame t. Training samples ``a_t ~ Bernoulli(p^a_t)``
(:mod:`agents.reinforce`); testing keeps the top-m frames by ``p^a``
(:mod:`frame_select_env.evaluation`).

The input layer is ours (the paper does not describe one): each part of the state that is used
(``features``, ``predictions`` or ``both``, the paper's Table 2) is standardised with statistics
of the training split, projected by its own linear layer and layer-normalised; the parts are
concatenated. Per-part projections keep a 1024-d feature from drowning a 101-d probability vector.

Checkpoints hold only tensors and primitive containers, so :func:`load_agent` can use
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.encoder import BiLSTMEncoder, check_architecture
from frame_select_env.core.config import from_dict
from frame_select_env.core.policy import Observation
from frame_select_env.pipeline.models.weights import load_torch_file
from frame_select_env.store.atomic import atomic_torch_save

CHECKPOINT_FORMAT = "as_agent/1"
MULTI_CHECKPOINT_FORMAT = "as_agents/1"


@dataclass
class ASAgentConfig:
    """Architecture of :class:`ASAgent`.

    :param feature_dim: D, size of the per-frame feature ``s^f_t``.
    :param num_classes: C, size of the per-frame probability vector ``s^r_t``.
    :param state: which parts of the state the agent sees: ``both`` (the paper), ``features`` or
        ``predictions`` (the Table 2 ablation).
    :param proj_dim: output size of each part's input projection.
    :param hidden_size: LSTM hidden size per direction.
    :param num_layers: stacked BiLSTM layers.
    :param dropout: dropout on the projected input and between LSTM layers.
    :param log_predictions: feed ``log(p + 1e-6)`` instead of ``p`` (spreads out small
        probabilities); off by default to stay with the paper's ``s^r_t``.
    """

    feature_dim: int
    num_classes: int
    state: str = "both"
    proj_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.0
    log_predictions: bool = False

    def __post_init__(self) -> None:
        check_architecture(self, ("feature_dim", "num_classes", "proj_dim", "hidden_size",
                                  "num_layers"))
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ASAgentConfig: dropout must be in [0, 1), got {self.dropout}")

    @property
    def parts(self) -> tuple[str, ...]:
        """The observation keys the agent reads."""
        return ("features", "predictions") if self.state == "both" else (self.state,)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ASAgentConfig:
        """Build from a dict, naming unknown keys in the error.

        :param data: field values (a checkpoint's ``agent_config``).
        :return: the validated config.
        :raises ValueError: an unknown key or a bad value.
        """
        return from_dict(cls, data, what="keys")


class ASAgent(BiLSTMEncoder):
    """BiLSTM policy network: states (B, T, ·) -> keep probabilities ``p^a`` (B, T).

    The per-frame encoder (:class:`agents.encoder.BiLSTMEncoder`, with dropout) reads the
    standardised state; a linear layer shared across frames gives each frame's logit.

    :param config: the architecture (:class:`ASAgentConfig`).
    """

    def __init__(self, config: ASAgentConfig) -> None:
        super().__init__()
        self.config = config
        all_dims = {"features": config.feature_dim, "predictions": config.num_classes}
        dims = {part: all_dims[part] for part in config.parts}
        for part, d in dims.items():
            # Standardisation statistics (set from the training split by set_input_stats);
            # buffers so they travel with the state dict.
            self.register_buffer(f"{part}_mean", torch.zeros(d))
            self.register_buffer(f"{part}_std", torch.ones(d))
        self.build_encoder(dims, config.proj_dim, config.hidden_size, config.num_layers,
                           dropout=config.dropout)
        self.head = nn.Linear(2 * config.hidden_size, 1)  # shared across frames

    def _prepare(self, part: str, x: torch.Tensor) -> torch.Tensor:
        if part == "predictions" and self.config.log_predictions:
            x = torch.log(x.clamp(min=0.0) + 1e-6)
        return (x - getattr(self, f"{part}_mean")) / getattr(self, f"{part}_std")

    @torch.no_grad()
    def set_input_stats(self, obs: Observation) -> None:
        """Set the input standardisation from training observations.

        :param obs: ``{"features": (N, T, D) or (N, T, V, D), "predictions": ...}`` of the
            training split (only the parts the agent reads are used).
        """
        for part in self.config.parts:
            if part not in obs:
                raise ValueError(f"ASAgent.set_input_stats: observation has no {part!r} "
                                 f"(keys {sorted(obs)})")
            x = torch.as_tensor(np.asarray(obs[part]), dtype=torch.float32)
            if part == "predictions" and self.config.log_predictions:
                x = torch.log(x.clamp(min=0.0) + 1e-6)
            x = x.reshape(-1, x.shape[-1])
            getattr(self, f"{part}_mean").copy_(x.mean(0))
            getattr(self, f"{part}_std").copy_(x.std(0).clamp(min=1e-3))

    def forward(self, obs: Mapping[str, Any]) -> torch.Tensor:
        """Keep probabilities.

        :param obs: ``{"features": (B, T, D), "predictions": (B, T, C)}`` tensors or arrays (only
            the parts of ``config.state`` are read; extra keys are ignored).
        :return: ``p^a`` of shape (B, T), in (0, 1).
        """
        return torch.sigmoid(self.logits(obs))

    def logits(self, obs: Mapping[str, Any]) -> torch.Tensor:
        """Pre-sigmoid scores (B, T); numerically safer for log-probabilities."""
        device = self.head.weight.device
        parts = {}
        for part in self.config.parts:
            if part not in obs:
                raise ValueError(f"ASAgent (state={self.config.state!r}) needs observation key "
                                 f"{part!r}, got keys {sorted(obs)}")
            x = torch.as_tensor(obs[part], dtype=torch.float32, device=device)
            want = self.config.feature_dim if part == "features" else self.config.num_classes
            if x.ndim != 3 or x.shape[-1] != want:
                raise ValueError(f"ASAgent: observation {part!r} must be (B, T, {want}), got "
                                 f"{tuple(x.shape)}")
            parts[part] = self._prepare(part, x)
        return self.head(self.encode(parts)).squeeze(-1)


class ASPolicy:
    """:class:`~frame_select_env.core.policy.SelectionPolicy` adapter: scores are ``p^a``.

    :param agent: a trained :class:`ASAgent` (put in eval mode here).
    :param name: table name.
    :param batch_size: videos per forward pass (bounds memory on large test sets).
    """

    uses_label = False
    #: Per-frame input sizes the model was trained on (observation key -> trailing shape), set by
    #: :mod:`baselines_zoo.registry` when it loads a checkpoint so a store can be checked to fit.
    input_shapes: dict[str, tuple[int, ...]]

    def __init__(self, agent: ASAgent, name: str = "as", batch_size: int = 1024) -> None:
        self.agent = agent.eval()
        self.name = name
        self.batch_size = int(batch_size)

    @torch.no_grad()
    def scores(self, obs: Observation, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """``p^a`` as a float32 numpy array (B, T)."""
        first = next(iter(obs.values()))
        out = []
        for s in range(0, len(first), self.batch_size):
            out.append(self.agent({k: v[s:s + self.batch_size] for k, v in obs.items()}).cpu())
        return torch.cat(out).numpy().astype(np.float32)


def agent_checkpoint(agent: ASAgent, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The checkpoint dict of one agent (tensors and primitives only)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "agent_config": asdict(agent.config),
        "state_dict": {k: v.detach().cpu() for k, v in agent.state_dict().items()},
        "config": dict(config or {}),
    }


def save_agent(
    path: str | os.PathLike, agent: ASAgent, config: Mapping[str, Any] | None = None
) -> Path:
    """Save an agent atomically (write a temporary file, then rename).

    :param path: the file to write.
    :param agent: the agent.
    :param config: primitives-only training config stored alongside (``load_agent`` returns it).
    """
    path = Path(path)
    atomic_torch_save(agent_checkpoint(agent, config), path)
    return path


def save_agents(
    path: str | os.PathLike, agents: Mapping[str, ASAgent], config: Mapping[str, Any] | None = None
) -> Path:
    """Save one agent per stream in one file (``load_agent(path, stream=...)`` reads one)."""
    path = Path(path)
    atomic_torch_save({"format": MULTI_CHECKPOINT_FORMAT,
                       "agents": {s: agent_checkpoint(a, config) for s, a in agents.items()}}, path)
    return path


def agent_from_checkpoint(ckpt: Mapping[str, Any], where: str = "checkpoint") -> ASAgent:
    """Rebuild an agent from :func:`agent_checkpoint`'s dict."""
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{where}: not an AS agent checkpoint (format {ckpt.get('format')!r}, "
                         f"expected {CHECKPOINT_FORMAT!r})")
    agent = ASAgent(ASAgentConfig.from_dict(ckpt["agent_config"]))
    agent.load_state_dict(ckpt["state_dict"])
    return agent.eval()


def load_agent(
    path: str | os.PathLike, stream: str | None = None, map_location: str = "cpu"
) -> tuple[ASAgent, dict[str, Any]]:
    """Load an agent saved by :func:`save_agent` or one stream of :func:`save_agents`.

    :param path: the checkpoint.
    :param stream: for a multi-stream file, which agent (may be omitted when it holds one).
    :param map_location: torch device for the tensors.
    :return: ``(agent in eval mode, the stored training config)``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_agent: checkpoint {str(path)!r} not found")
    # one message per way a file can be unreadable (empty, truncated, not torch, unsafe)
    ckpt = load_torch_file(path, "AS agent checkpoint", map_location=map_location)
    if isinstance(ckpt, dict) and ckpt.get("format") == MULTI_CHECKPOINT_FORMAT:
        agents = ckpt["agents"]
        if stream is None:
            if len(agents) != 1:
                raise ValueError(f"load_agent: {str(path)!r} holds agents for streams "
                                 f"{sorted(agents)}; pass stream=")
            stream = next(iter(agents))
        if stream not in agents:
            raise KeyError(f"load_agent: {str(path)!r} has no agent for stream {stream!r} "
                           f"(it has {sorted(agents)})")
        ckpt = agents[stream]
    if not isinstance(ckpt, dict):
        raise ValueError(f"load_agent: {str(path)!r} does not hold a checkpoint dict")
    return agent_from_checkpoint(ckpt, where=f"load_agent: {str(path)!r}"), dict(ckpt["config"])
