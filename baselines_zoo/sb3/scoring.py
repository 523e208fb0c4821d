"""Trained SB3 models as selection policies, and their quick evaluation after training.

* :class:`SB3SeqPolicy`: a ``FrameSelectionSeq-v0`` model as a
  :class:`frame_select_env.core.policy.SequentialPolicy` (deterministic, never a masked action);
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
        return p.action_net(p.mlp_extractor.forward_actor(features))  # type: ignore[no-any-return]


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
                self._macs[self.num_frames] = float(count_macs(_ActorLogits(policy), obs))
            finally:
                policy.set_training_mode(was_training)
        return self._macs[self.num_frames]


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
    return SB3SeqPolicy(model, name=str(config["algo"]),
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
