#!/usr/bin/env python
"""Speed of FrameSelectionSeq-v0 and of the sequential AS agent's training.

Prints, measured side by side in one run on the same store:

* decisions/s of the native seq vector env (``gym.make_vec``, SAME_STEP) at N envs, and of
  ``SyncVectorEnv`` over N single envs, with random allowed actions; their ratio (target >= 20,
  as for ``FrameSelection-v0``);
* one REINFORCE update of the sequential AS agent (``builtin:seq_as_sparse_actions.yaml``):
  seconds per update, and how they split between the env's steps (observations, reward,
  bookkeeping), the agent's forward passes during the rollout, and the backward pass and
  optimiser step; the env's share is what the native batched step is for (target: small).

Usage: ``python benchmarks/bench_seq.py [--store PATH] [--num-envs 256] [--updates 5]``
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import frame_select_env  # noqa: F401
from agents.seq_reinforce import SeqReinforceConfig, SeqReinforceTrainer
from frame_select_env.cli import option, parse
from frame_select_env.core.config import load_yaml
from frame_select_env.envs.sequential.core import SeqCore
from frame_select_env.envs.sequential.rollout import rollout
from frame_select_env.store.builtin import builtin_config, resolve_store

CONFIG = builtin_config("seq_as_sparse_actions.yaml")


@dataclass
class Args:
    """The arguments of ``bench_seq.py``."""

    store: str | None = option(None, "store path (default: the built-in one)")
    num_envs: int = option(256, "N, the envs of each vector env")
    steps: int = option(200, "timed native vector steps (SyncVectorEnv: a twentieth, at least 5)")
    updates: int = option(5, "timed REINFORCE updates")
    threads: int = option(1, "torch CPU threads")


def random_allowed(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random allowed action per row of ``masks`` (B, T + 1)."""
    p = masks / masks.sum(1, keepdims=True)
    return (p.cumsum(1) > rng.random((len(masks), 1))).argmax(1)


def decisions_per_second(envs: Any, steps: int, masks_of: Any) -> float:
    """Decisions/s of ``steps`` vector steps with random allowed actions (excluding reset)."""
    rng = np.random.default_rng(0)
    envs.reset(seed=0)
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(random_allowed(masks_of(envs), rng))
    return steps * envs.num_envs / (time.perf_counter() - start)


class _Timed:
    """Wraps :meth:`SeqCore.step` and the agent's act to split an update's time."""

    def __init__(self, core: SeqCore) -> None:
        self.core, self.env_seconds = core, 0.0
        self._step = core.step

    def step(self, *a: Any, **k: Any) -> Any:
        start = time.perf_counter()
        out = self._step(*a, **k)
        self.env_seconds += time.perf_counter() - start
        return out


def main(argv: list[str] | None = None) -> int:
    """Time the seq vector envs and a REINFORCE update; print the comparison."""
    args = parse(Args, argv, description=__doc__)
    torch.set_num_threads(args.threads)
    try:
        store = resolve_store(args.store, "--store")
    except FileNotFoundError as err:
        raise SystemExit(f"bench_seq.py: error: {err}") from None
    n = args.num_envs
    kw: dict[str, Any] = {"store": store, "view": "random", "max_frames": 8}
    native = gym.make_vec("FrameSelectionSeq-v0", num_envs=n, autoreset_mode="same_step", **kw)
    sync = SyncVectorEnv([lambda: gym.make("FrameSelectionSeq-v0", **kw) for _ in range(n)],
                         autoreset_mode=AutoresetMode.SAME_STEP)
    native_dps = decisions_per_second(native, args.steps, lambda e: e.unwrapped.action_masks())
    sync_dps = decisions_per_second(sync, max(5, args.steps // 20), lambda e: np.stack(
        e.call("action_masks")))
    print(f"N={n}  native seq vector env : {native_dps:12,.0f} decisions/s")
    print(f"N={n}  SyncVectorEnv         : {sync_dps:12,.0f} decisions/s")
    print(f"ratio native / sync           : {native_dps / sync_dps:8.1f}x   (target >= 20)")
    native.close()
    sync.close()

    cfg = SeqReinforceConfig.from_dict({**load_yaml(CONFIG, "config"), "tensorboard": False})
    trainer = SeqReinforceTrainer(store, cfg)
    timed = _Timed(trainer.core)
    trainer.core.step = timed.step  # type: ignore[method-assign]
    act_seconds = [0.0]
    logits = trainer.agent.logits

    def timed_logits(*a: Any, **k: Any) -> Any:
        start = time.perf_counter()
        out = logits(*a, **k)
        act_seconds[0] += time.perf_counter() - start
        return out

    trainer.agent.logits = timed_logits  # type: ignore[method-assign]
    videos = np.arange(trainer.num_videos)
    trainer.train_step(videos[:cfg.batch_size])  # warm-up
    timed.env_seconds, act_seconds[0] = 0.0, 0.0
    start = time.perf_counter()
    for k in range(args.updates):
        s = (k * cfg.batch_size) % max(1, trainer.num_videos - cfg.batch_size)
        trainer.train_step(videos[s:s + cfg.batch_size])
    total = (time.perf_counter() - start) / args.updates
    env_s, act_s = timed.env_seconds / args.updates, act_seconds[0] / args.updates
    episodes = cfg.batch_size * cfg.num_episodes
    print(f"REINFORCE update ({cfg.batch_size} videos x N={cfg.num_episodes}, "
          f"{cfg.hidden_size}-unit BiLSTM): {total:.3f} s")
    print(f"  env steps (SeqCore.step)   : {env_s:.3f} s ({100 * env_s / total:4.1f}%)")
    print(f"  agent forward in rollout   : {act_s:.3f} s ({100 * act_s / total:4.1f}%)")
    print(f"  rest (backward, optimiser, observations): {total - env_s - act_s:.3f} s")
    print(f"  episodes/s                 : {episodes / total:,.0f}")
    # the same episodes' env work alone, for scale: a rollout with random allowed actions
    rng = np.random.default_rng(0)
    idx = np.repeat(videos[:cfg.batch_size], cfg.num_episodes)
    views = np.zeros(len(idx), np.int64)
    start = time.perf_counter()
    rollout(trainer.core, lambda obs, masks: random_allowed(masks, rng), idx, views, 8)
    print(f"  a random-policy rollout of the same {episodes} episodes: "
          f"{time.perf_counter() - start:.3f} s")
    trainer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
