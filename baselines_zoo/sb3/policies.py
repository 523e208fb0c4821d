"""Stable-Baselines3 networks for ``FrameSelection-v0``.

* :class:`BiLSTMExtractor`: a features extractor that reads the ``Dict`` observation as a sequence
  of T frames (each part projected and layer-normalised, then a bidirectional LSTM), and returns
  every frame's BiLSTM output, flattened to (B, T * 2H).
* :class:`PerFrameActorCriticPolicy`: an ``ActorCriticPolicy`` (PPO, A2C) whose actor gives each
  frame's Bernoulli logit from that frame's own BiLSTM output with one linear layer shared by all
  frames: the inductive bias of the paper's AS agent. The critic mean-pools the frames.

:data:`POLICY_CHOICES` maps the ``--policy`` names of ``scripts/train_sb3.py`` to SB3 policy
classes and keyword arguments:

=================  ==============================================  ===========================
``--policy``       PPO / A2C (``MultiBinary`` actions)             SAC / TD3 (top-m wrapper)
=================  ==============================================  ===========================
``mlp``            ``MultiInputPolicy`` (flatten + MLP)            ``MultiInputPolicy``
``bilstm``         BiLSTM extractor + per-frame head               BiLSTM extractor + MLP head
``bilstm-flat``    BiLSTM extractor + SB3's MLP head               BiLSTM extractor + MLP head
=================  ==============================================  ===========================

The per-frame head is implemented for the on-policy actor-critic only; SAC and TD3 with
``bilstm`` use the BiLSTM extractor with their usual MLP actor.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import BernoulliDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from agents.encoder import BiLSTMEncoder

OBS_PARTS = ("features", "predictions")


class BiLSTMExtractor(BaseFeaturesExtractor, BiLSTMEncoder):
    """Per-frame BiLSTM encoding of the ``Dict`` observation.

    The AS agent's encoder (:class:`agents.encoder.BiLSTMEncoder`, without dropout and without
    input standardisation, so no dataset statistics are needed): each observation part
    (``features`` (T, D), ``predictions`` (T, C)) is projected per frame by its own
    ``Linear -> LayerNorm -> ReLU``, the parts are concatenated, and a BiLSTM reads the T frames.

    :param observation_space: the env's ``Dict`` space.
    :param proj_dim: output size of each part's projection.
    :param hidden_size: LSTM hidden size per direction (H).
    :param num_layers: stacked BiLSTM layers.
    """

    def __init__(self, observation_space: spaces.Dict, proj_dim: int = 64, hidden_size: int = 64,
                 num_layers: int = 1) -> None:
        if not isinstance(observation_space, spaces.Dict):
            raise TypeError(f"BiLSTMExtractor needs a Dict observation space, got "
                            f"{observation_space}")
        keys = [k for k in OBS_PARTS if k in observation_space.spaces]
        if not keys:
            raise ValueError(f"BiLSTMExtractor: observation space has none of {OBS_PARTS}")
        shapes: dict[str, tuple[int, ...]] = {}
        for k in keys:
            shape = observation_space[k].shape
            if shape is None:
                raise ValueError(f"BiLSTMExtractor: observation part {k!r} has no shape")
            shapes[k] = shape
        lengths = {s[0] for s in shapes.values()}
        if any(len(s) != 2 for s in shapes.values()) or len(lengths) != 1:
            raise ValueError(f"BiLSTMExtractor: every part must be (T, X) with the same T, got "
                             f"{shapes}")
        num_frames = lengths.pop()
        super().__init__(observation_space, features_dim=num_frames * 2 * hidden_size)
        self.keys = keys
        self.num_frames = int(num_frames)
        self.frame_dim = 2 * hidden_size
        self.build_encoder({k: shapes[k][1] for k in keys}, proj_dim, hidden_size, num_layers)

    def frames(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-frame BiLSTM outputs (B, T, 2H)."""
        return self.encode({k: observations[k].float() for k in self.keys})

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-frame BiLSTM outputs flattened to (B, T * 2H), SB3's features."""
        return self.frames(observations).flatten(1)


class PerFrameHead(nn.Module):
    """Each frame's logit from its own slice of the flattened per-frame latent (shared weights).

    :param frame_dim: size of one frame's latent (2H).
    """

    def __init__(self, frame_dim: int) -> None:
        super().__init__()
        self.frame_dim = int(frame_dim)
        self.linear = nn.Linear(self.frame_dim, 1)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, T * 2H) latent -> (B, T) per-frame logits."""
        return self.linear(latent.view(latent.shape[0], -1, self.frame_dim)).squeeze(-1)


class PerFrameLatent(nn.Module):
    """The ``mlp_extractor`` of :class:`PerFrameActorCriticPolicy`.

    The actor latent is the per-frame features unchanged (B, T * 2H); the critic latent is an MLP
    of their mean over frames (the value of a video does not depend on frame order).

    :param frame_dim: 2H.
    :param vf_hidden: critic hidden size.
    """

    def __init__(self, frame_dim: int, vf_hidden: int = 64) -> None:
        super().__init__()
        self.frame_dim = int(frame_dim)
        self.latent_dim_pi = 0  # set by the policy (T * 2H)
        self.latent_dim_vf = int(vf_hidden)
        self.value_mlp = nn.Sequential(nn.Linear(self.frame_dim, vf_hidden), nn.Tanh())

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        """The actor latent: the per-frame features unchanged (B, T * 2H)."""
        return features

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        """The critic latent: an MLP of the features averaged over frames (B, vf_hidden)."""
        pooled = features.view(features.shape[0], -1, self.frame_dim).mean(1)
        return self.value_mlp(pooled)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Actor and critic latents, as SB3's ``MlpExtractor`` returns them."""
        return self.forward_actor(features), self.forward_critic(features)


class PerFrameActorCriticPolicy(ActorCriticPolicy):
    """Actor-critic for ``MultiBinary(T)`` with a per-frame Bernoulli head (PPO, A2C).

    Defaults to the :class:`BiLSTMExtractor`; any extractor exposing ``frame_dim`` (and returning
    (B, T * frame_dim)) works.

    :param vf_hidden: critic hidden size.
    :param args: passed to :class:`~stable_baselines3.common.policies.ActorCriticPolicy`.
    :param kwargs: passed to :class:`~stable_baselines3.common.policies.ActorCriticPolicy`.
    """

    def __init__(self, *args: Any, vf_hidden: int = 64, **kwargs: Any) -> None:
        self.vf_hidden = int(vf_hidden)
        kwargs.setdefault("features_extractor_class", BiLSTMExtractor)
        super().__init__(*args, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["vf_hidden"] = self.vf_hidden
        return data

    def _build_mlp_extractor(self) -> None:
        frame_dim = getattr(self.features_extractor, "frame_dim", None)
        if frame_dim is None:
            raise TypeError(f"PerFrameActorCriticPolicy needs a features extractor with a "
                            f"'frame_dim' attribute (like BiLSTMExtractor), got "
                            f"{type(self.features_extractor).__name__}")
        # SB3 annotates mlp_extractor as MlpExtractor, but its docs replace it with any module
        # that has latent_dim_pi / latent_dim_vf and forward_actor / forward_critic.
        self.mlp_extractor = PerFrameLatent(  # type: ignore[assignment]
            frame_dim, self.vf_hidden).to(self.device)
        self.mlp_extractor.latent_dim_pi = self.features_dim

    def _build(self, lr_schedule: Any) -> None:
        if not isinstance(self.action_dist, BernoulliDistribution):
            raise TypeError("PerFrameActorCriticPolicy needs a MultiBinary action space, got "
                            f"{self.action_space}")
        super()._build(lr_schedule)
        # Swap SB3's dense (T * 2H -> T) action layer for the shared per-frame one, initialised
        # like SB3 initialises action layers (small orthogonal gain), then rebuild the optimizer
        # so it holds the new parameters.
        latent = cast(PerFrameLatent, self.mlp_extractor)  # set by _build_mlp_extractor
        self.action_net = PerFrameHead(latent.frame_dim).to(self.device)
        if self.ortho_init:
            self.action_net.apply(partial(self.init_weights, gain=0.01))
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )


ON_POLICY = ("ppo", "a2c")
OFF_POLICY = ("sac", "td3")
POLICY_NAMES = ("mlp", "bilstm", "bilstm-flat")


def policy_for(algo: str, policy: str, extractor_kwargs: dict[str, Any] | None = None
               ) -> tuple[Any, dict[str, Any]]:
    """SB3 policy (class or name) and ``policy_kwargs`` for an algorithm and a ``--policy`` name.

    :param algo: ``ppo``, ``a2c``, ``sac`` or ``td3``.
    :param policy: one of :data:`POLICY_NAMES`.
    :param extractor_kwargs: ``features_extractor_kwargs`` for the BiLSTM extractor.
    """
    if algo not in ON_POLICY + OFF_POLICY:
        raise ValueError(f"unknown algorithm {algo!r}; choose from {ON_POLICY + OFF_POLICY}")
    if policy not in POLICY_NAMES:
        raise ValueError(f"unknown policy {policy!r}; choose from {POLICY_NAMES}")
    if policy == "mlp":
        return "MultiInputPolicy", {}
    kwargs: dict[str, Any] = {"features_extractor_class": BiLSTMExtractor,
                              "features_extractor_kwargs": dict(extractor_kwargs or {})}
    if policy == "bilstm" and algo in ON_POLICY:
        return PerFrameActorCriticPolicy, kwargs
    return "MultiInputPolicy", kwargs


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(np.prod(p.shape) for p in module.parameters() if p.requires_grad))
