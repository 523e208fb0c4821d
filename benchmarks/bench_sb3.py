#!/usr/bin/env python
"""Speed of SB3 training on the native vector envs (the adapter) vs ``DummyVecEnv``.

Prints, for each env (``FrameSelection-v0``, ``FrameSelectionSeq-v0``) and each N, measured
side by side in one run (the two vector envs alternate, each measured ``--repeats`` times, the
median kept), environment steps per second of:

* **env only**: ``VecEnv.step`` with random (allowed) actions, no policy;
* **collection**: PPO's ``collect_rollouts`` (the policy's forward pass included), timed by a
  callback from rollout start to rollout end;
* **learn**: the whole ``model.learn`` (collection and the PPO updates);

for the adapter (:func:`baselines_zoo.sb3.vec_env.make_native_vec_env`) and ``DummyVecEnv``
(``make_vec_env``), both built by :func:`baselines_zoo.sb3.train.make_env` with the env options
and network of ``baselines_zoo/sb3/hyperparams/ppo.yml``, and their ratio (target: collection
>= 5x at N = 64). Each rollout is ``--rollout-steps`` environment steps (n_steps = that / N).

Usage: ``python benchmarks/bench_sb3.py [--num-envs 8 64] [--envs ...] [--policy bilstm]``
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

import frame_select_env
from baselines_zoo.sb3.sequential import SEQ_ENV_ID
from baselines_zoo.sb3.train import build_model, load_hyperparams, make_env
from frame_select_env.cli import option, parse
from frame_select_env.store.builtin import resolve_store

ENV_IDS = (frame_select_env.ENV_ID, SEQ_ENV_ID)
VEC_ENVS = ("native", "dummy")


@dataclass
class Args:
    """The arguments of ``bench_sb3.py``."""

    store: str | None = option(None, "store path (default: the built-in one)")
    num_envs: list[int] = option([8, 64], "the N to measure", ge=1)
    envs: list[str] = option(list(ENV_IDS), "env ids", choices=ENV_IDS)
    policy: str = option("bilstm", "PPO's network (mlp, bilstm, bilstm-flat)",
                         choices=("mlp", "bilstm", "bilstm-flat"))
    rollout_steps: int = option(2048, "environment steps per rollout (n_steps x N)", ge=1)
    rollouts: int = option(2, "timed rollouts (and updates) per learn", ge=1)
    env_steps: int = option(2048, "environment steps of the env-only measurement", ge=1)
    repeats: int = option(3, "measurements of each vector env (the median is kept)", ge=1)
    threads: int = option(1, "torch CPU threads", ge=1)


class RolloutTimer(BaseCallback):
    """Seconds of each rollout: from SB3's rollout start to its end (collection only)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def _on_rollout_start(self) -> None:
        self._start = time.perf_counter()

    def _on_rollout_end(self) -> None:
        self.seconds.append(time.perf_counter() - self._start)

    def _on_step(self) -> bool:
        return True


def random_actions(env: Any, env_id: str, rng: np.random.Generator) -> np.ndarray:
    """One random action per sub-env: an allowed one for the seq env (its masks)."""
    n = env.num_envs
    if env_id != SEQ_ENV_ID:
        return rng.integers(0, 2, (n, env.action_space.n))
    masks = np.stack(env.env_method("action_masks"))
    p = masks / masks.sum(1, keepdims=True)
    return (p.cumsum(1) > rng.random((n, 1))).argmax(1)


def env_steps_per_second(env: Any, env_id: str, steps: int) -> float:
    """Environment steps/s of ``VecEnv.step`` with random actions (excluding the reset)."""
    rng = np.random.default_rng(0)
    env.seed(0)
    env.reset()
    rounds = max(1, steps // env.num_envs)
    start = time.perf_counter()
    for _ in range(rounds):
        env.step(random_actions(env, env_id, rng))
    return rounds * env.num_envs / (time.perf_counter() - start)


def ppo_steps_per_second(store: str, env_id: str, vec_env: str, n: int,
                         args: Args) -> tuple[float, float, float]:
    """Env-only, collection and whole-``learn`` environment steps/s of PPO on one vector env."""
    params = load_hyperparams("ppo", env_id=env_id)
    n_steps = max(1, args.rollout_steps // n)
    params.update(n_envs=n, n_steps=n_steps, batch_size=min(int(params["batch_size"]),
                                                            n_steps * n))
    env = make_env(store, "rgb", "ppo", n, 0, dict(params.get("env_kwargs") or {}),
                   env_id=env_id, vec_env=vec_env)
    env_only = env_steps_per_second(env, env_id, args.env_steps)
    model = build_model("ppo", args.policy, params, env, seed=0, env_id=env_id)
    model.learn(n_steps * n)  # warm-up: the first rollout and update
    timer = RolloutTimer()
    steps = args.rollouts * n_steps * n
    start = time.perf_counter()
    model.learn(steps, callback=timer, reset_num_timesteps=False)
    learn = steps / (time.perf_counter() - start)
    env.close()
    return env_only, steps / sum(timer.seconds), learn


def main(argv: list[str] | None = None) -> int:
    """Measure both vector envs side by side; print the table and the ratios."""
    args = parse(Args, argv, description=__doc__)
    torch.set_num_threads(args.threads)
    try:
        store = str(resolve_store(args.store, "--store"))
    except FileNotFoundError as err:
        raise SystemExit(f"bench_sb3.py: error: {err}") from None
    print(f"PPO ({args.policy}), {args.rollout_steps} env steps per rollout, "
          f"{args.rollouts} timed rollouts, median of {args.repeats}; env steps/s")
    head = (f"{'env':22s} {'N':>4s}  {'what':10s} {'adapter':>10s} {'DummyVecEnv':>12s} "
            f"{'ratio':>7s}")
    print(head)
    print("-" * len(head))
    for env_id in args.envs:
        for n in args.num_envs:
            runs: dict[str, list[tuple[float, float, float]]] = {v: [] for v in VEC_ENVS}
            for _ in range(args.repeats):  # alternate, so both see the same machine load
                for vec_env in VEC_ENVS:
                    runs[vec_env].append(ppo_steps_per_second(store, env_id, vec_env, n, args))
            for k, what in enumerate(("env only", "collection", "learn")):
                native = statistics.median(r[k] for r in runs["native"])
                dummy = statistics.median(r[k] for r in runs["dummy"])
                print(f"{env_id:22s} {n:4d}  {what:10s} {native:10,.0f} {dummy:12,.0f} "
                      f"{native / dummy:6.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
