"""Trained SB3 models as selection policies, and their quick evaluation after training.

* :class:`SB3SeqPolicy`: a ``FrameSelectionSeq-v0`` model as a
  :class:`frame_select_env.core.policy.SequentialPolicy` (deterministic, never a masked action);
  :class:`RecurrentSB3SeqPolicy` the same for RecurrentPPO, which carries each episode's LSTM
  state from one decision to the next; :func:`seq_policy_of` picks the class of a model and
  :func:`load_seq_sb3` loads one that :func:`baselines_zoo.sb3.train.train_sb3` saved, without
  unpickling anything.
* :func:`quick_eval` / :func:`quick_eval_seq`: a model on a split beside its reference rows.

It sits above :mod:`baselines_zoo.sb3.train` (it loads what training saved), so the networks
module and the training module never import each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.policies import BasePolicy
from torch import nn

from baselines_zoo.sb3.sequential import SEQ_ENV_ID
from baselines_zoo.sb3.train import load_sb3, read_run_config
from frame_select_env.store import FeatureStore
from frame_select_env.store.builtin import store_or_builtin

#: options of a run's env that the evaluation chooses itself (see :attr:`SB3SeqPolicy.env_kwargs`)
EVAL_CHOSEN = ("store", "split", "view", "render_mode")


class _ActorLogits(nn.Module):
    """The actor's path of an SB3 policy, ``obs -> (B, T + 1)`` logits (what one decision runs)."""

    def __init__(self, policy: Any) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, T + 1) logits of a batched observation."""
        p = self.policy
        # BasePolicy's: the actor's extractor alone, whether or not the critic shares it
        features = BasePolicy.extract_features(p, obs, p.pi_features_extractor)
        return p.action_net(p.mlp_extractor.forward_actor(self.latent(features)))  # type: ignore[no-any-return]

    def latent(self, features: torch.Tensor) -> torch.Tensor:
        """What the actor's MLP reads: the extracted features themselves."""
        return features


class SB3SeqPolicy:
    """A PPO or MaskablePPO model trained on ``FrameSelectionSeq-v0`` as a sequential policy.

    Acts deterministically: the highest logit among the allowed actions, so neither kind of
    model takes a masked action (a MaskablePPO model gets the masks as in training; a plain PPO
    model's masked logits are skipped too).

    :param model: the trained SB3 algorithm.
    :param name: display name (default: the algorithm's class name in lower case).
    :param env_kwargs: the ``FrameSelectionSeq-v0`` options it was trained with, less those the
        evaluation chooses itself (:data:`EVAL_CHOSEN`: store, split, view, render mode).
    :param batch_size: episodes per forward pass (bounds memory).
    :raises TypeError: a model that does not take ``Dict`` observations or act in
        ``Discrete(T + 1)``.
    """

    uses_label = False  # it acts on the observation only
    _actor: type[nn.Module] = _ActorLogits  # what one decision runs (its MACs are counted)

    def __init__(self, model: Any, name: str | None = None,
                 env_kwargs: Mapping[str, Any] | None = None, batch_size: int = 4096) -> None:
        space = model.observation_space
        if not isinstance(space, spaces.Dict) or not isinstance(model.action_space,
                                                                spaces.Discrete):
            raise TypeError(f"SB3SeqPolicy needs a model with a Dict observation and a Discrete "
                            f"action space, got {space} and {model.action_space}")
        self.model = model
        self.name = name or type(model).__name__.lower()
        self.env_kwargs = {k: v for k, v in (env_kwargs or {}).items() if k not in EVAL_CHOSEN}
        self.batch_size = int(batch_size)
        self.keys = list(space.spaces)
        self.num_frames = int(model.action_space.n) - 1
        self.maskable = isinstance(model.policy, MaskableActorCriticPolicy)
        self._macs: dict[int, float] = {}

    def _check(self, obs: Mapping[str, Any], action_masks: Any) -> tuple[dict[str, np.ndarray],
                                                                         np.ndarray]:
        space = self.model.observation_space
        missing = [k for k in self.keys if k not in obs]
        if missing:
            raise ValueError(f"model {self.name!r} needs observation keys {missing}; got "
                             f"{sorted(obs)}")
        out = {}
        for k in self.keys:
            arr = np.asarray(obs[k], dtype=np.float32)
            if arr.shape[1:] != space[k].shape:
                raise ValueError(f"model {self.name!r} was trained on obs[{k!r}] of shape "
                                 f"{space[k].shape}, got {arr.shape[1:]} (batched): another "
                                 f"store, stream or num_frames?")
            out[k] = arr
        batch = len(out[self.keys[0]])
        masks = np.asarray(action_masks, dtype=bool)
        if masks.shape != (batch, self.num_frames + 1) or not masks.any(1).all():
            raise ValueError(f"action_masks must be (B, T + 1) = ({batch}, "
                             f"{self.num_frames + 1}) bool with an allowed action per row, "
                             f"got shape {masks.shape}")
        return out, masks

    def logits(self, obs: Mapping[str, Any], action_masks: Any) -> np.ndarray:
        """The model's action logits, masked actions at ``-inf``.

        :param obs: the batched observation (B, ...).
        :param action_masks: (B, T + 1) bool, the allowed actions.
        :return: (B, T + 1) float32.
        """
        arrays, masks = self._check(obs, action_masks)
        policy = self.model.policy
        policy.set_training_mode(False)
        chunks = []
        with torch.no_grad():
            for start in range(0, len(masks), self.batch_size):
                part = {k: v[start:start + self.batch_size] for k, v in arrays.items()}
                obs_t, _ = policy.obs_to_tensor(part)
                if self.maskable:
                    dist = policy.get_distribution(obs_t, masks[start:start + self.batch_size])
                else:
                    dist = policy.get_distribution(obs_t)
                chunks.append(dist.distribution.logits.float().cpu().numpy())
        return np.where(masks, np.concatenate(chunks), -np.inf).astype(np.float32)

    def act(self, obs: Mapping[str, Any], action_masks: Any) -> np.ndarray:
        """The deterministic next action of each episode, never a masked one.

        :param obs: the batched observation (B, ...) of ``SeqCore.observe``.
        :param action_masks: (B, T + 1) bool.
        :return: (B,) int64 in ``[0, T]`` (T = stop).
        :raises ValueError: a missing key, a shape the model was not trained on, or masks of
            the wrong shape.
        """
        return self.logits(obs, action_masks).argmax(-1).astype(np.int64)

    def macs_per_decision(self, num_frames: int) -> float:
        """MACs of one decision for one episode: the actor's forward pass on one observation.

        Counted by :func:`frame_select_env.pipeline.cost.count_macs` (``FlopCounterMode``, the
        BiLSTM
        through equivalent cell steps); the critic is not run to act, so it is not counted.

        :param num_frames: T; must be the model's.
        :raises ValueError: another T.
        """
        from frame_select_env.pipeline.cost import count_macs

        if int(num_frames) != self.num_frames:
            raise ValueError(f"model {self.name!r} decides over {self.num_frames} frames, not "
                             f"{num_frames}")
        if self.num_frames not in self._macs:
            space = self.model.observation_space
            policy = self.model.policy
            obs = {k: torch.zeros((1, *space[k].shape), device=policy.device) for k in self.keys}
            was_training = policy.training
            policy.set_training_mode(False)
            try:
                self._macs[self.num_frames] = float(count_macs(self._actor(policy), obs))
            finally:
                policy.set_training_mode(was_training)
        return self._macs[self.num_frames]


class _RecurrentActorLogits(_ActorLogits):
    """One decision of a RecurrentPPO actor, ``obs -> (B, T + 1)`` logits (for its MACs).

    The LSTM steps once from a zero state: the MACs of a step do not depend on the state.
    """

    def latent(self, features: torch.Tensor) -> torch.Tensor:
        """The features after one step of the actor's LSTM."""
        out, _ = self.policy.lstm_actor(features.unsqueeze(0))
        return out.squeeze(0)  # type: ignore[no-any-return]


class RecurrentSB3SeqPolicy(SB3SeqPolicy):
    """A RecurrentPPO model trained on ``FrameSelectionSeq-v0`` as a sequential policy.

    The sequential evaluation calls :meth:`act` with the still-running episodes only, in their
    order and without naming them (:func:`frame_select_env.envs.sequential.rollout.rollout`).
    The LSTM state of each episode is carried across those calls by following the episodes:
    a row that has paid no frame starts an episode; any other row continues the earliest
    remaining episode of the previous call with the same cheap-stream observation (the video)
    whose ``paid`` flags, plus the frame it chose, are the row's. Two episodes this cannot tell
    apart (same video and same frames paid in order) have the same LSTM state, so the matching
    is exact wherever it matters. A call that continues no episode of the previous one raises.

    :param model: the trained RecurrentPPO algorithm.
    :param name: display name (default: ``recurrentppo``).
    :param env_kwargs: as :class:`SB3SeqPolicy`.
    :param batch_size: as :class:`SB3SeqPolicy`.
    """

    _actor = _RecurrentActorLogits  # a decision: the extractor, one LSTM step and the head

    def __init__(self, model: Any, name: str | None = None,
                 env_kwargs: Mapping[str, Any] | None = None, batch_size: int = 4096) -> None:
        super().__init__(model, name=name, env_kwargs=env_kwargs, batch_size=batch_size)
        self._ident_keys = [k for k in self.keys if k.startswith("cheap_")]
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Forget the episodes followed so far (the next call starts new ones)."""
        self._prev: dict[str, np.ndarray] | None = None

    def _ident(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """(B, K) what stays the same through an episode: its cheap-stream observation."""
        parts = [arrays[k].reshape(len(arrays[k]), -1) for k in self._ident_keys]
        return np.concatenate(parts, 1) if parts else np.zeros((len(arrays["paid"]), 0))

    def _states(self, arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(B,) the previous call's row each row continues (-1: a new episode), and the starts."""
        paid = np.asarray(arrays["paid"]) > 0.5
        starts = np.asarray(~paid.any(1), dtype=bool)
        source = np.full(len(paid), -1, np.int64)
        prev = self._prev
        if starts.all():
            return source, starts
        if prev is None or "actions" not in prev:
            raise RuntimeError(f"{self.name}: episodes under way but none followed; call act on "
                               f"the episodes from their first decision")
        ident = self._ident(arrays)
        after = prev["paid"].copy()  # the previous rows' paid flags after their chosen frame
        paying = np.flatnonzero(prev["actions"] < self.num_frames)
        after[paying, prev["actions"][paying]] = True
        j = 0
        for i in np.flatnonzero(~starts):
            while j < len(after) and not (
                    prev["actions"][j] < self.num_frames and np.array_equal(after[j], paid[i])
                    and np.array_equal(prev["ident"][j], ident[i])):
                j += 1
            if j == len(after):
                raise RuntimeError(f"{self.name}: an observation continues none of the episodes "
                                   f"of the previous call; RecurrentSB3SeqPolicy follows the "
                                   f"running episodes in order (reset() between rollouts)")
            source[i] = j
            j += 1
        return source, starts

    def logits(self, obs: Mapping[str, Any], action_masks: Any) -> np.ndarray:
        """The model's action logits, masked actions at ``-inf``; the LSTM steps once.

        :param obs: the batched observation (B, ...) of the running episodes, in order.
        :param action_masks: (B, T + 1) bool, the allowed actions.
        :return: (B, T + 1) float32.
        :raises RuntimeError: rows that continue no episode of the previous call.
        """
        arrays, masks = self._check(obs, action_masks)
        source, starts = self._states(arrays)
        policy = self.model.policy
        policy.set_training_mode(False)
        shape = policy.lstm_hidden_state_shape  # (layers, 1, hidden)
        h = np.zeros((shape[0], len(masks), shape[2]), np.float32)
        c = np.zeros_like(h)
        keep = source >= 0
        if keep.any() and self._prev is not None:
            h[:, keep] = self._prev["h"][:, source[keep]]
            c[:, keep] = self._prev["c"][:, source[keep]]
        chunks, hs, cs = [], [], []
        with torch.no_grad():
            for start in range(0, len(masks), self.batch_size):
                cut = slice(start, start + self.batch_size)
                obs_t, _ = policy.obs_to_tensor({k: v[cut] for k, v in arrays.items()})
                state = (torch.as_tensor(h[:, cut], device=policy.device),
                         torch.as_tensor(c[:, cut], device=policy.device))
                dist, (h_new, c_new) = policy.get_distribution(
                    obs_t, state, torch.as_tensor(starts[cut], dtype=torch.float32,
                                                  device=policy.device))
                chunks.append(dist.distribution.logits.float().cpu().numpy())
                hs.append(h_new.cpu().numpy())
                cs.append(c_new.cpu().numpy())
        self._prev = {"paid": np.asarray(arrays["paid"]) > 0.5, "ident": self._ident(arrays),
                      "h": np.concatenate(hs, 1), "c": np.concatenate(cs, 1)}
        return np.where(masks, np.concatenate(chunks), -np.inf).astype(np.float32)

    def act(self, obs: Mapping[str, Any], action_masks: Any) -> np.ndarray:
        """The deterministic next action of each running episode, never a masked one.

        :param obs: the batched observation (B, ...) of the running episodes, in order.
        :param action_masks: (B, T + 1) bool.
        :return: (B,) int64 in ``[0, T]`` (T = stop).
        """
        actions = super().act(obs, action_masks)
        assert self._prev is not None
        self._prev["actions"] = actions
        return actions


def seq_policy_of(model: Any, name: str | None = None,
                  env_kwargs: Mapping[str, Any] | None = None) -> SB3SeqPolicy:
    """A trained ``FrameSelectionSeq-v0`` model as the sequential policy that fits it.

    :param model: a PPO, A2C, MaskablePPO or RecurrentPPO algorithm (loaded or in training).
    :param name: display name.
    :param env_kwargs: the env options it was trained with.
    :return: a :class:`RecurrentSB3SeqPolicy` for a recurrent policy, else an
        :class:`SB3SeqPolicy`.
    """
    recurrent = hasattr(model.policy, "lstm_actor")
    cls = RecurrentSB3SeqPolicy if recurrent else SB3SeqPolicy
    return cls(model, name=name, env_kwargs=env_kwargs)


def load_seq_sb3(path: str | os.PathLike, device: str = "cpu") -> SB3SeqPolicy:
    """Load a ``FrameSelectionSeq-v0`` model that ``train_sb3`` saved, running no code in it.

    The algorithm is rebuilt from the run's ``config.yaml`` (its spaces from the observation
    space it records) and only the weights and counters are read from the zip
    (:func:`baselines_zoo.sb3.train.load_sb3`, :func:`baselines_zoo.sb3.loading.load_sb3_into`).

    :param path: ``model.zip`` (or its run directory).
    :param device: torch device.
    :return: the model as a :class:`SB3SeqPolicy` named after its algorithm, with the run's env
        options.
    :raises FileNotFoundError: no such model.
    :raises ValueError: no usable ``config.yaml``, a model of another env, or a zip that
        :mod:`baselines_zoo.sb3.loading` refuses; the message names the file.
    """
    # train imports this module for the networks, so the loader is imported when called

    path = Path(path)
    if path.is_dir():
        path = path / "model.zip"
    config = read_run_config(path)
    if config and config.get("env_id") != SEQ_ENV_ID:
        raise ValueError(f"SB3 model {str(path)!r} was trained on {config.get('env_id')!r} "
                         f"({str(path.parent / 'config.yaml')!r}), not {SEQ_ENV_ID}")
    model = load_sb3(path, device=device)
    env_kwargs = config.get("env_kwargs")
    return seq_policy_of(model, name=str(config["algo"]),
                         env_kwargs=env_kwargs if isinstance(env_kwargs, dict) else None)


def quick_eval(model_path: str | os.PathLike, split: str = "val",
               ms: tuple[int, ...] = (4, 8, 16)) -> list[dict[str, Any]]:
    """Frame-based accuracy of a trained model on ``split`` next to the ``all`` baseline.

    Uses :func:`frame_select_env.evaluation.evaluate_policies` on the stream the model was trained
    on (nothing for ``fused`` models, which cannot be scored per stream).

    :param model_path: ``model.zip`` written by :func:`train_sb3`.
    :param split: evaluation split.
    :param ms: numbers of kept frames.
    :return: the evaluation rows (empty when the model's stream cannot be evaluated).
    """
    from frame_select_env.core.policy import SB3ScoresPolicy
    from frame_select_env.evaluation import evaluate_policies
    from frame_select_env.store import FeatureStore

    config = read_run_config(model_path)
    stream = config.get("stream")
    if stream in (None, "fused"):
        return []
    fs = FeatureStore(store_or_builtin(config.get("store")))
    if len(fs.indices(split)) == 0:
        return []
    policy = SB3ScoresPolicy(load_sb3(model_path, algo=config.get("algo")),
                             name=str(config.get("algo", "sb3")))
    return evaluate_policies({policy.name: {stream: policy}}, fs, split=split, streams=(stream,),
                             ms=ms, schemes=("frame",))


def quick_eval_seq(model_path: str | os.PathLike, split: str = "val") -> list[dict[str, Any]]:
    """A ``FrameSelectionSeq-v0`` model on ``split`` beside the cheap stream alone.

    The sequential evaluation (:func:`frame_select_env.evaluation.evaluate_sequential`: every
    video once, all crops averaged, deterministic actions, the run's env options) of the model
    and of ``seq-stop`` (no expensive frame: the cheap stream on all frames).

    :param model_path: ``model.zip`` written by :func:`train_sb3` for ``FrameSelectionSeq-v0``.
    :param split: evaluation split.
    :return: the model's row, then the cheap stream's (``accuracy``, ``frames`` paid,
        ``gmacs`` per video, ...); ``[]`` when the split has no videos.
    """
    from baselines_zoo.seq_policies import SeqStopPolicy
    from frame_select_env.evaluation import evaluate_sequential

    policy = load_seq_sb3(model_path)
    store = store_or_builtin(read_run_config(model_path).get("store"))
    fs = FeatureStore(store)
    try:
        if len(fs.indices(split)) == 0:
            return []
    finally:
        fs.close()
    cheap = f"{policy.env_kwargs.get('stream', 'cheap stream')} alone"
    return evaluate_sequential({policy.name: policy, cheap: SeqStopPolicy(name=cheap)}, store,
                               split, env_kwargs=policy.env_kwargs)
