"""Stable-Baselines3 networks and adapters for ``FrameSelectionSeq-v0``.

* :class:`SeqExtractor`: the AS agent's inductive bias for the sequential ``Dict`` observation.
  Per frame, each part (the cheap stream's features and probabilities, the expensive stream's,
  zero where unpaid, and the ``paid`` flag) is projected by its own
  ``Linear -> LayerNorm -> ReLU``, the global ``prediction`` and ``budget`` are broadcast to every
  frame as one more part, and a BiLSTM reads the T frames (:class:`agents.encoder.BiLSTMEncoder`).
* :class:`SeqHead`: the ``Discrete(T + 1)`` logits: one linear layer shared by all frames gives
  each frame's logit from its own BiLSTM output, and the stop logit comes from the mean-pooled
  frames and the globals.
* :class:`SeqActorCriticPolicy` (PPO) and :class:`MaskableSeqActorCriticPolicy` (sb3-contrib's
  MaskablePPO): actor-critics with that head, the critic an MLP of the pooled frames and the
  globals. :func:`seq_policy_for` maps the ``--policy`` names (``mlp``, ``bilstm``,
  ``bilstm-flat``) to them, as :func:`baselines_zoo.sb3.policies.policy_for` does for v0.
* :class:`BudgetEndIsTerminal`: the training env's wrapper that tells SB3 a budget end is an end.

Trained models are scored by :mod:`baselines_zoo.sb3.scoring`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import gymnasium as gym
import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.distributions import MaskableCategoricalDistribution
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from agents.encoder import BiLSTMEncoder

SEQ_ENV_ID = "FrameSelectionSeq-v0"
#: the algorithms ``train_sb3`` trains on ``FrameSelectionSeq-v0`` (``Discrete`` actions);
#: ``recurrent_ppo`` is sb3-contrib's RecurrentPPO (an LSTM over the decisions of an episode)
SEQ_ALGOS = ("ppo", "a2c", "maskable_ppo", "recurrent_ppo")
SEQ_POLICY_NAMES = ("mlp", "bilstm", "bilstm-flat")
#: per-frame observation parts, in the order they are concatenated (those the env's ``state``
#: keeps are used)
FRAME_PARTS = ("cheap_features", "cheap_predictions", "expensive_features",
               "expensive_predictions")
#: per-episode observation parts, broadcast to every frame
GLOBAL_PARTS = ("prediction", "budget")


def _shape(space: spaces.Dict, key: str) -> tuple[int, ...]:
    shape = space[key].shape
    if shape is None:
        raise ValueError(f"SeqExtractor: observation part {key!r} has no shape")
    return tuple(int(s) for s in shape)


class SeqExtractor(BaseFeaturesExtractor, BiLSTMEncoder):
    """Per-frame BiLSTM encoding of the ``FrameSelectionSeq-v0`` observation.

    The parts of :data:`FRAME_PARTS` present, ``paid`` (T,) as a (T, 1) part, and the globals
    (``prediction`` (C,) and ``budget`` (1,), concatenated and repeated on every frame, so each
    frame's output knows how confident the current prediction is and how much budget is left)
    each get their own ``Linear -> LayerNorm -> ReLU``; a BiLSTM reads the T frames. Returns the
    frames flattened, then the raw globals: (B, T * 2H + C + 1), which :func:`split_latent` cuts
    apart again.

    :param observation_space: the env's ``Dict`` space.
    :param proj_dim: output size of each part's projection.
    :param hidden_size: LSTM hidden size per direction (H).
    :param num_layers: stacked BiLSTM layers.
    :raises TypeError: not a ``Dict`` space.
    :raises ValueError: a missing part, or parts whose shapes do not agree on T.
    """

    def __init__(self, observation_space: spaces.Dict, proj_dim: int = 64, hidden_size: int = 64,
                 num_layers: int = 1) -> None:
        if not isinstance(observation_space, spaces.Dict):
            raise TypeError(f"SeqExtractor needs a Dict observation space, got "
                            f"{observation_space}")
        keys = [k for k in FRAME_PARTS if k in observation_space.spaces]
        missing = [k for k in ("paid", *GLOBAL_PARTS) if k not in observation_space.spaces]
        if not keys or missing:
            raise ValueError(f"SeqExtractor: the observation space needs 'paid', 'prediction', "
                             f"'budget' and some of {FRAME_PARTS}; it has "
                             f"{sorted(observation_space.spaces)}")
        shapes = {k: _shape(observation_space, k) for k in (*keys, "paid", *GLOBAL_PARTS)}
        num_frames = shapes["paid"][0]
        if any(len(shapes[k]) != 2 or shapes[k][0] != num_frames for k in keys) or any(
                len(shapes[k]) != 1 for k in ("paid", *GLOBAL_PARTS)):
            raise ValueError(f"SeqExtractor: per-frame parts must be (T, X) and paid (T,) with "
                             f"one T, the globals 1-d; got {shapes}")
        global_dim = sum(shapes[k][0] for k in GLOBAL_PARTS)
        super().__init__(observation_space,
                         features_dim=num_frames * 2 * hidden_size + global_dim)
        self.keys = keys
        self.num_frames = int(num_frames)
        self.frame_dim = 2 * hidden_size
        self.global_dim = int(global_dim)
        dims = {k: shapes[k][1] for k in keys}
        dims.update(paid=1, globals=self.global_dim)
        self.build_encoder(dims, proj_dim, hidden_size, num_layers)

    def frames_and_globals(self, observations: Mapping[str, torch.Tensor]
                           ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame BiLSTM outputs (B, T, 2H) and the globals (B, C + 1)."""
        glob = torch.cat([observations[k].float() for k in GLOBAL_PARTS], dim=-1)
        parts = {k: observations[k].float() for k in self.keys}
        parts["paid"] = observations["paid"].float().unsqueeze(-1)
        parts["globals"] = glob.unsqueeze(1).expand(-1, self.num_frames, -1)
        return self.encode(parts), glob

    def forward(self, observations: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """SB3's features: the frames flattened, then the globals, (B, T * 2H + C + 1)."""
        frames, glob = self.frames_and_globals(observations)
        return torch.cat([frames.flatten(1), glob], dim=-1)


def split_latent(latent: torch.Tensor, num_frames: int, frame_dim: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut :class:`SeqExtractor`'s features into frames (B, T, 2H) and globals (B, G)."""
    cut = num_frames * frame_dim
    return latent[:, :cut].reshape(latent.shape[0], num_frames, frame_dim), latent[:, cut:]


class SeqLatent(nn.Module):
    """The ``mlp_extractor`` of the seq policies: actor latent as is, critic from the pool.

    The actor's latent is the features unchanged; the critic's an MLP of the mean-pooled frames
    and the globals.

    :param num_frames: T.
    :param frame_dim: 2H.
    :param global_dim: G = C + 1.
    :param vf_hidden: critic hidden size.
    """

    def __init__(self, num_frames: int, frame_dim: int, global_dim: int, vf_hidden: int = 64
                 ) -> None:
        super().__init__()
        self.num_frames, self.frame_dim, self.global_dim = num_frames, frame_dim, global_dim
        self.latent_dim_pi = num_frames * frame_dim + global_dim
        self.latent_dim_vf = int(vf_hidden)
        self.value_mlp = nn.Sequential(nn.Linear(frame_dim + global_dim, vf_hidden), nn.Tanh())

    def pooled(self, features: torch.Tensor) -> torch.Tensor:
        """The mean of the frames next to the globals, (B, 2H + G)."""
        frames, glob = split_latent(features, self.num_frames, self.frame_dim)
        return torch.cat([frames.mean(1), glob], dim=-1)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        """The actor latent: the features unchanged."""
        return features

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        """The critic latent (B, vf_hidden)."""
        return self.value_mlp(self.pooled(features))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Actor and critic latents, as SB3's ``MlpExtractor`` returns them."""
        return self.forward_actor(features), self.forward_critic(features)


class SeqHead(nn.Module):
    """``Discrete(T + 1)`` logits: T per-frame logits (one shared linear layer), then stop.

    :param num_frames: T.
    :param frame_dim: 2H.
    :param global_dim: G = C + 1.
    """

    def __init__(self, num_frames: int, frame_dim: int, global_dim: int) -> None:
        super().__init__()
        self.num_frames, self.frame_dim = num_frames, frame_dim
        self.frame = nn.Linear(frame_dim, 1)
        self.stop = nn.Linear(frame_dim + global_dim, 1)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, T * 2H + G) actor latent -> (B, T + 1) logits (index T = stop)."""
        frames, glob = split_latent(latent, self.num_frames, self.frame_dim)
        stop = self.stop(torch.cat([frames.mean(1), glob], dim=-1))
        return torch.cat([self.frame(frames).squeeze(-1), stop], dim=-1)


def _seq_latent(policy: Any, vf_hidden: int) -> SeqLatent:
    """The :class:`SeqLatent` fitting ``policy``'s features extractor."""
    fe = policy.features_extractor
    if not all(hasattr(fe, a) for a in ("num_frames", "frame_dim", "global_dim")):
        raise TypeError(f"{type(policy).__name__} needs a features extractor like SeqExtractor "
                        f"(num_frames, frame_dim, global_dim), got {type(fe).__name__}")
    return SeqLatent(fe.num_frames, fe.frame_dim, fe.global_dim, vf_hidden).to(policy.device)


def _install_seq_head(policy: Any, lr_schedule: Any) -> None:
    """Swap SB3's dense action layer for :class:`SeqHead`, then rebuild the optimizer.

    Initialised like SB3 initialises action layers (orthogonal, gain 0.01: near-uniform first
    actions); the optimizer is rebuilt so it holds the new parameters.
    """
    latent: SeqLatent = policy.mlp_extractor
    if policy.action_space.n != latent.num_frames + 1:
        raise ValueError(f"{type(policy).__name__}: action space {policy.action_space} does not "
                         f"fit T = {latent.num_frames} frames plus stop")
    policy.action_net = SeqHead(latent.num_frames, latent.frame_dim, latent.global_dim).to(
        policy.device)
    if policy.ortho_init:
        policy.action_net.apply(partial(policy.init_weights, gain=0.01))
    policy.optimizer = policy.optimizer_class(policy.parameters(), lr=lr_schedule(1),
                                              **policy.optimizer_kwargs)


class _SeqNetworks:
    """What PPO's and MaskablePPO's seq actor-critics share: the extractor, latent and head.

    A mixin placed before the SB3 policy class, so one definition serves both; ``_dist_class``
    is the action distribution the head needs (checked, so a wrong action space is named).
    """

    _dist_class: type = CategoricalDistribution
    mlp_extractor: Any  # SB3 types it MlpExtractor; any module with its four members will do

    def __init__(self, *args: Any, vf_hidden: int = 64, **kwargs: Any) -> None:
        self.vf_hidden = int(vf_hidden)
        kwargs.setdefault("features_extractor_class", SeqExtractor)
        super().__init__(*args, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data["vf_hidden"] = self.vf_hidden
        return data  # type: ignore[no-any-return]

    def _build_mlp_extractor(self) -> None:
        # SB3 annotates mlp_extractor as MlpExtractor; its docs allow any module with the same
        # latent_dim_pi / latent_dim_vf / forward_actor / forward_critic.
        self.mlp_extractor = _seq_latent(self, self.vf_hidden)

    def _build(self, lr_schedule: Any) -> None:
        if not isinstance(self.action_dist, self._dist_class):  # type: ignore[attr-defined]
            raise TypeError(f"{type(self).__name__} needs a Discrete(T + 1) action space, got "
                            f"{self.action_space}")  # type: ignore[attr-defined]
        super()._build(lr_schedule)  # type: ignore[misc]
        _install_seq_head(self, lr_schedule)


class SeqActorCriticPolicy(_SeqNetworks, ActorCriticPolicy):
    """PPO's actor-critic for ``FrameSelectionSeq-v0``: :class:`SeqExtractor` and :class:`SeqHead`.

    :param vf_hidden: critic hidden size.
    :param args: passed to :class:`~stable_baselines3.common.policies.ActorCriticPolicy`.
    :param kwargs: passed to :class:`~stable_baselines3.common.policies.ActorCriticPolicy`.
    """

    _dist_class = CategoricalDistribution


class MaskableSeqActorCriticPolicy(_SeqNetworks, MaskableActorCriticPolicy):
    """MaskablePPO's actor-critic for ``FrameSelectionSeq-v0``, with the networks of PPO's.

    The same extractor and head as :class:`SeqActorCriticPolicy`; sb3-contrib masks the logits
    of the paid frames.

    :param vf_hidden: critic hidden size.
    :param args: passed to ``sb3_contrib``'s ``MaskableActorCriticPolicy``.
    :param kwargs: passed to ``sb3_contrib``'s ``MaskableActorCriticPolicy``.
    """

    _dist_class = MaskableCategoricalDistribution


def seq_policy_for(algo: str, policy: str, extractor_kwargs: dict[str, Any] | None = None
                   ) -> tuple[Any, dict[str, Any]]:
    """SB3 policy (class or name) and ``policy_kwargs`` for the seq env.

    ``mlp`` is the algorithm's ``MultiInputPolicy`` (flatten + MLP); ``bilstm`` is
    :class:`SeqExtractor` with the per-frame head; ``bilstm-flat`` is :class:`SeqExtractor` with
    SB3's MLP head. ``recurrent_ppo`` gets sb3-contrib's ``MultiInputLstmPolicy`` (an LSTM over
    the episode's decisions, then SB3's MLP head): on the flattened observation for ``mlp``, on
    :class:`SeqExtractor`'s features for ``bilstm`` and ``bilstm-flat``.

    :param algo: one of :data:`SEQ_ALGOS`.
    :param policy: one of :data:`SEQ_POLICY_NAMES`.
    :param extractor_kwargs: :class:`SeqExtractor`'s keyword arguments.
    :raises ValueError: an unknown algorithm or policy.
    """
    if algo not in SEQ_ALGOS:
        raise ValueError(f"{SEQ_ENV_ID} trains with {SEQ_ALGOS}, not {algo!r}")
    if policy not in SEQ_POLICY_NAMES:
        raise ValueError(f"unknown policy {policy!r}; choose from {SEQ_POLICY_NAMES}")
    base = "MultiInputLstmPolicy" if algo == "recurrent_ppo" else "MultiInputPolicy"
    if policy == "mlp":
        return base, {}
    kwargs: dict[str, Any] = {"features_extractor_class": SeqExtractor,
                              "features_extractor_kwargs": dict(extractor_kwargs or {})}
    if algo == "recurrent_ppo":  # its LSTM sits between the extractor and the heads
        return base, kwargs
    if policy == "bilstm":
        cls = MaskableSeqActorCriticPolicy if algo == "maskable_ppo" else SeqActorCriticPolicy
        return cls, kwargs
    return "MultiInputPolicy", kwargs


class BudgetEndIsTerminal(gym.Wrapper):
    """Reports the seq env's truncation as termination, for SB3's training only.

    The env truncates when the budget is spent or every frame is paid: no reward can follow, so
    the state's value is 0. SB3 treats ``truncated`` as a time limit and adds the critic's value
    of the final observation (a state it never trains on) to the last reward; marked terminated,
    it adds nothing. Rewards, observations and action masks are unchanged.
    """

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """The env's step with ``terminated = terminated or truncated``, ``truncated = False``."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, bool(terminated or truncated), False, info


# ---------------------------------------------------------------------------------- adapter
