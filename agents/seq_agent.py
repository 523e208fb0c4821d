"""The sequential AS agent: the paper's BiLSTM, deciding frame by frame what to pay for.

``FrameSelectionSeq-v0`` shows the cheap stream (rgb) on all T frames, the expensive stream
(flow) only where it was paid, the paid mask, the current prediction and the budget left. The
agent carries the paper's design over to that task: every frame's state goes through per-part
projections and a bidirectional LSTM over the T frames (:class:`agents.encoder.BiLSTMEncoder`,
as in :class:`agents.as_agent.ASAgent`), a linear layer shared by the frames gives each frame's
logit (pay for it next), and a small head on the pooled frames gives the stop logit. Paid
frames are masked out, so the policy is a softmax over the unpaid frames and stop.

Inputs, per frame t (each part standardised with statistics of the training split, then
projected by its own ``Linear -> LayerNorm -> ReLU``):

* ``cheap_features``, ``cheap_predictions``: the cheap stream's state of frame t;
* ``expensive``: the expensive stream's state of frame t (zero where unpaid, after
  standardisation, so an unpaid frame reads "nothing known") and the paid flag;
* ``context``: the current prediction and the budget left, the same at every frame (the
  BiLSTM then reads each frame in the light of what the episode knows so far).

Checkpoints hold only tensors and primitives (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.encoder import BiLSTMEncoder, check_architecture
from frame_select_env.core.config import from_dict
from frame_select_env.core.policy import Observation, without_stop
from frame_select_env.pipeline.models.weights import load_torch_file
from frame_select_env.store.atomic import atomic_torch_save

CHECKPOINT_FORMAT = "seq_as_agent/1"
#: A masked action's logit: far below any real one, and finite, so softmax stays NaN-free.
MASKED_LOGIT = -1e9


@dataclass
class SeqAgentConfig:
    """Architecture of :class:`SeqASAgent`.

    :param cheap_dim: feature size of the cheap stream (Dc).
    :param expensive_dim: feature size of the expensive stream (De).
    :param num_classes: C.
    :param state: ``both``, ``features`` or ``predictions``: the per-frame keys the env shows
        (the env's ``state`` option, as in the paper's Table 2).
    :param proj_dim: output size of each part's projection.
    :param hidden_size: LSTM hidden size per direction (H).
    :param num_layers: stacked BiLSTM layers.
    :param log_predictions: read ``log(p + 1e-6)`` instead of probabilities (as the built-in
        one-step config does: small true-class probabilities become visible).
    """

    cheap_dim: int
    expensive_dim: int
    num_classes: int
    state: str = "both"
    proj_dim: int = 64
    hidden_size: int = 64
    num_layers: int = 1
    log_predictions: bool = True

    def __post_init__(self) -> None:
        check_architecture(self, ("cheap_dim", "expensive_dim", "num_classes", "proj_dim",
                                  "hidden_size", "num_layers"))

    @property
    def kinds(self) -> tuple[str, ...]:
        """``features`` and/or ``predictions``: the per-frame halves the env shows."""
        return ("features", "predictions") if self.state == "both" else (self.state,)

    @property
    def obs_keys(self) -> tuple[str, ...]:
        """The observation keys the agent reads."""
        per_frame = tuple(f"{s}_{k}" for s in ("cheap", "expensive") for k in self.kinds)
        return (*per_frame, "paid", "prediction", "budget")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeqAgentConfig:
        """Build from a dict (a checkpoint's ``agent_config``), naming unknown keys."""
        return from_dict(cls, data, what="keys")


class SeqASAgent(BiLSTMEncoder):
    """Observation of ``FrameSelectionSeq-v0`` -> logits over the T frames and stop (B, T + 1).

    :param config: the architecture.
    """

    def __init__(self, config: SeqAgentConfig) -> None:
        super().__init__()
        self.config = config
        c = config.num_classes
        sizes = {"features": {"cheap": config.cheap_dim, "expensive": config.expensive_dim},
                 "predictions": {"cheap": c, "expensive": c}}
        dims: dict[str, int] = {}
        for kind in config.kinds:
            key = f"cheap_{kind}"
            dims[key] = sizes[kind]["cheap"]
        # the expensive stream's parts and the paid flag form one part: what is known of frame t
        dims["expensive"] = sum(sizes[kind]["expensive"] for kind in config.kinds) + 1
        dims["context"] = c + 1  # the current prediction and the budget left
        for key in self._standardised_keys():
            d = sizes[key.split("_", 1)[1]][key.split("_", 1)[0]]
            # statistics of the training split (set_input_stats); buffers travel with the weights
            self.register_buffer(f"{key}_mean", torch.zeros(d))
            self.register_buffer(f"{key}_std", torch.ones(d))
        self.build_encoder(dims, config.proj_dim, config.hidden_size, config.num_layers)
        h2 = 2 * config.hidden_size
        self.frame_head = nn.Linear(h2, 1)  # shared by the frames: "pay for frame t next"
        self.stop_head = nn.Sequential(nn.Linear(2 * h2, config.hidden_size), nn.ReLU(),
                                       nn.Linear(config.hidden_size, 1))

    def _standardised_keys(self) -> list[str]:
        return [f"{s}_{k}" for s in ("cheap", "expensive") for k in self.config.kinds]

    def _transform(self, key: str, x: torch.Tensor) -> torch.Tensor:
        if key.endswith("predictions") and self.config.log_predictions:
            x = torch.log(x.clamp(min=0.0) + 1e-6)
        return x

    @torch.no_grad()
    def set_input_stats(self, data: Mapping[str, Any]) -> None:
        """Set the standardisation of the per-frame parts from training data.

        :param data: ``{"cheap_features": (..., Dc), "expensive_features": (..., De), ...}``,
            every frame of the training split (the expensive stream unmasked).
        :raises ValueError: a part the agent reads is missing.
        """
        for key in self._standardised_keys():
            if key not in data:
                raise ValueError(f"SeqASAgent.set_input_stats: no {key!r} (keys {sorted(data)})")
            x = self._transform(key, torch.as_tensor(np.asarray(data[key]), dtype=torch.float32))
            x = x.reshape(-1, x.shape[-1])
            getattr(self, f"{key}_mean").copy_(x.mean(0))
            getattr(self, f"{key}_std").copy_(x.std(0).clamp(min=1e-3))

    def _tensor(self, obs: Mapping[str, Any], key: str) -> torch.Tensor:
        if key not in obs:
            raise ValueError(f"SeqASAgent (state={self.config.state!r}) needs observation key "
                             f"{key!r}, got keys {sorted(obs)}")
        return torch.as_tensor(obs[key], dtype=torch.float32, device=self.frame_head.weight.device)

    def logits(self, obs: Mapping[str, Any], action_masks: Any = None) -> torch.Tensor:
        """Logits of paying for each frame and of stopping (B, T + 1).

        :param obs: a batched observation (B, ...) of ``FrameSelectionSeq-v0`` (arrays or
            tensors; keys the agent does not read are ignored).
        :param action_masks: (B, T + 1) bool, the allowed actions (the env's ``action_masks``);
            masked actions get :data:`MASKED_LOGIT`. ``None``: the unpaid frames and stop.
        :return: (B, T + 1) float logits; column T is stop.
        """
        paid = self._tensor(obs, "paid")
        b, t = paid.shape
        known = paid.unsqueeze(-1)
        parts: dict[str, torch.Tensor] = {}
        expensive = []
        for key in self._standardised_keys():
            x = self._transform(key, self._tensor(obs, key))
            want = getattr(self, f"{key}_mean").shape[0]
            if x.shape != (b, t, want):
                raise ValueError(f"SeqASAgent: observation {key!r} must be ({b}, {t}, {want}), "
                                 f"got {tuple(x.shape)}")
            x = (x - getattr(self, f"{key}_mean")) / getattr(self, f"{key}_std")
            if key.startswith("cheap_"):
                parts[key] = x
            else:  # zero where unpaid after standardisation: "nothing known of this frame"
                expensive.append(x * known)
        parts["expensive"] = torch.cat([*expensive, known], dim=-1)
        pred = self._transform("predictions", self._tensor(obs, "prediction"))
        context = torch.cat([pred, self._tensor(obs, "budget")], dim=-1)
        parts["context"] = context.unsqueeze(1).expand(b, t, context.shape[-1])
        frames = self.encode(parts)  # (B, T, 2H)
        frame_logits = self.frame_head(frames).squeeze(-1)
        pooled = torch.cat([frames.mean(1), frames.amax(1)], dim=-1)
        out = torch.cat([frame_logits, self.stop_head(pooled)], dim=-1)
        if action_masks is None:
            allowed = torch.cat([paid < 0.5, torch.ones_like(paid[:, :1], dtype=torch.bool)], -1)
        else:
            allowed = torch.as_tensor(np.asarray(action_masks), dtype=torch.bool,
                                      device=out.device)
            if allowed.shape != out.shape:
                raise ValueError(f"SeqASAgent: action_masks must be {tuple(out.shape)}, got "
                                 f"{tuple(allowed.shape)}")
        return out.masked_fill(~allowed, MASKED_LOGIT)

    def forward(self, obs: Mapping[str, Any], action_masks: Any = None) -> torch.Tensor:
        """Action probabilities (B, T + 1) over the allowed actions."""
        return torch.softmax(self.logits(obs, action_masks), dim=-1)


@dataclass
class SeqASPolicy:
    """:class:`~frame_select_env.core.policy.SequentialPolicy` adapter: the most likely action.

    :param agent: a trained :class:`SeqASAgent` (put in eval mode).
    :param name: table name.
    :param env_kwargs: the ``FrameSelectionSeq-v0`` options the agent was trained for (its
        budget, cost weight and streams); the evaluation builds its env with them.
    :param stop: ``True``: the agent stops when its stop action is the most likely (an
        adaptive budget); ``False``: stop is hidden while a frame can be paid, so the agent pays
        its whole budget (``max_frames``), the sequential form of the paper's test-time top-m.
    """

    agent: SeqASAgent
    name: str = "seq_as"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    stop: bool = True
    uses_label = False

    def __post_init__(self) -> None:
        self.agent.eval()
        self._macs: dict[int, float] = {}

    @torch.no_grad()
    def act(self, obs: Observation, action_masks: np.ndarray) -> np.ndarray:
        """(B,) the highest-probability allowed action of each episode."""
        if not self.stop:
            action_masks = without_stop(action_masks)
        return self.agent.logits(obs, action_masks).argmax(-1).cpu().numpy().astype(np.int64)

    def macs_per_decision(self, num_frames: int) -> float:
        """MACs of one decision (one pass of the agent over the T frames of one episode)."""
        if num_frames not in self._macs:
            from frame_select_env.pipeline.cost.macs import count_macs

            cfg = self.agent.config
            c = cfg.num_classes
            obs: dict[str, torch.Tensor] = {
                "paid": torch.zeros(1, num_frames), "prediction": torch.full((1, c), 1.0 / c),
                "budget": torch.ones(1, 1)}
            for stream, dim in (("cheap", cfg.cheap_dim), ("expensive", cfg.expensive_dim)):
                if "features" in cfg.kinds:
                    obs[f"{stream}_features"] = torch.zeros(1, num_frames, dim)
                if "predictions" in cfg.kinds:
                    obs[f"{stream}_predictions"] = torch.full((1, num_frames, c), 1.0 / c)
            # forward = logits + softmax; the softmax has no multiply-accumulates to count
            self._macs[num_frames] = float(count_macs(self.agent, obs))
        return self._macs[num_frames]


def save_seq_agent(path: str | os.PathLike, agent: SeqASAgent,
                   env_kwargs: Mapping[str, Any] | None = None,
                   config: Mapping[str, Any] | None = None) -> Path:
    """Save an agent atomically with the env options it was trained for.

    :param path: the file to write.
    :param agent: the agent.
    :param env_kwargs: its ``FrameSelectionSeq-v0`` options (primitives only).
    :param config: the training config (primitives only).
    """
    return atomic_torch_save({
        "format": CHECKPOINT_FORMAT, "agent_config": asdict(agent.config),
        "state_dict": {k: v.detach().cpu() for k, v in agent.state_dict().items()},
        "env_kwargs": dict(env_kwargs or {}), "config": dict(config or {}),
    }, Path(path))


def load_seq_agent(path: str | os.PathLike, map_location: str = "cpu"
                   ) -> tuple[SeqASAgent, dict[str, Any], dict[str, Any]]:
    """Load an agent saved by :func:`save_seq_agent`.

    :param path: the checkpoint.
    :param map_location: torch device of the tensors.
    :return: ``(agent in eval mode, its env_kwargs, its training config)``.
    :raises FileNotFoundError: no such file.
    :raises ValueError: not a sequential AS agent checkpoint (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sequential AS agent checkpoint {str(path)!r} not found")
    ckpt = load_torch_file(path, "sequential AS agent checkpoint", map_location=map_location)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        got = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{str(path)!r} is not a sequential AS agent checkpoint (format "
                         f"{got!r}, expected {CHECKPOINT_FORMAT!r})")
    agent = SeqASAgent(SeqAgentConfig.from_dict(ckpt["agent_config"]))
    agent.load_state_dict(ckpt["state_dict"])
    return agent.eval(), dict(ckpt["env_kwargs"]), dict(ckpt["config"])


def load_seq_policies(path: str | os.PathLike, seed: int | None = None,
                      name: str = "seq_as", stop: bool = True) -> list[SeqASPolicy]:
    """Every agent of a run at each budget it was trained for, by budget.

    :param path: a checkpoint of :func:`save_seq_agent`; or a directory holding
        ``seq_agent*.pt`` (one per budget, ``scripts/train_seq_agent.py``'s ``seed_<k>/``); or a
        run directory whose ``seed_<seed>/`` holds them (the first seed's without ``seed``).
    :param seed: which seed's agents of a run directory.
    :param name: table name.
    :param stop: whether the agents may stop before their budget (:class:`SeqASPolicy`).
    :return: the agents as policies, by increasing budget (``max_frames``).
    :raises FileNotFoundError: no such file, or a directory without agents (named).
    """
    path = Path(path)
    if path.is_file():
        return budget_policies(path, name, stop)
    if not path.is_dir():
        raise FileNotFoundError(f"sequential AS agent {str(path)!r} not found")
    folder = path
    seed_dirs = sorted(path.glob("seed_*"))
    if not list(path.glob("seq_agent*.pt")) and seed_dirs:
        folder = path / f"seed_{seed}" if seed is not None else seed_dirs[0]
    files = sorted(folder.glob("seq_agent*.pt"))
    if not files:
        raise FileNotFoundError(f"no sequential AS agent (seq_agent*.pt) in {str(folder)!r}")
    policies = [p for f in files for p in budget_policies(f, name, stop)]
    return sorted(policies, key=lambda p: p.env_kwargs.get("max_frames") or 0)


def load_seq_policy(path: str | os.PathLike, name: str = "seq_as") -> SeqASPolicy:
    """A saved agent as a :class:`SeqASPolicy` (a run directory reads its ``seq_agent.pt``).

    :param path: a checkpoint of :func:`save_seq_agent`, or the directory holding
        ``seq_agent.pt``.
    :param name: table name.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "seq_agent.pt"
    agent, env_kwargs, _ = load_seq_agent(path)
    return SeqASPolicy(agent, name=name, env_kwargs=env_kwargs)


def budget_policies(path: str | os.PathLike, name: str = "seq_as",
                    stop: bool = True) -> list[SeqASPolicy]:
    """One saved agent at each budget it was trained for (``train_budgets`` of its config).

    :param path: a checkpoint of :func:`save_seq_agent`.
    :param name: table name.
    :param stop: whether the agent may stop before its budget (:class:`SeqASPolicy`).
    :return: one policy per budget (the agent shared), by increasing budget.
    """
    agent, env_kwargs, config = load_seq_agent(path)
    budgets = config.get("train_budgets") or [env_kwargs.get("max_frames")]
    return [SeqASPolicy(agent, name=name, env_kwargs={**env_kwargs, "max_frames": b}, stop=stop)
            for b in sorted(budgets, key=lambda b: b or 0)]
