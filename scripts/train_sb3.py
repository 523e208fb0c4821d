#!/usr/bin/env python
r"""Train a Stable-Baselines3 agent on FrameSelection-v0 or FrameSelectionSeq-v0.

Examples::

    python scripts/train_sb3.py --algo ppo --policy bilstm --n-timesteps 50000 --seed 0 \
        --out runs/ppo_bilstm
    python scripts/train_sb3.py --algo sac --policy mlp --n-timesteps 20000 --out runs/sac \
        --store my_store.h5 --stream flow
    python scripts/train_sb3.py --env FrameSelectionSeq-v0 --algo maskable_ppo --out runs/mppo

Writes OUT/model.zip, OUT/config.yaml and OUT/progress.csv (SB3's CSV logger). Hyperparameters
come from baselines_zoo/hyperparams/<algo>.yml (key: the env id); ``--set key=value`` overrides
single entries (values parsed as YAML). ``--resume`` continues from OUT/checkpoint.zip.
``maskable_ppo`` (sb3-contrib) needs the action masks only FrameSelectionSeq-v0 has.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines_zoo.sb3.policies import POLICY_NAMES
from baselines_zoo.sb3.scoring import quick_eval, quick_eval_seq
from baselines_zoo.sb3.sequential import SEQ_ENV_ID
from baselines_zoo.sb3.train import (
    ALGOS,
    ENV_ID,
    ENV_IDS,
    check_algo_env,
    read_run_config,
    train_sb3,
)
from frame_select_env.cli import option, parse
from frame_select_env.cli.overrides import parse_overrides


@dataclass
class Args:
    """The arguments of ``train_sb3.py``."""

    algo: str = option(help="SB3 algorithm (maskable_ppo: sb3-contrib, FrameSelectionSeq-v0 "
                            "only)", choices=ALGOS)
    out: str = option(help="run directory")
    env: str = option(ENV_ID, "the env: one-step selection or the sequential, budgeted one",
                      choices=ENV_IDS)
    policy: str | None = option(None, "network (default: the YAML's 'policy')",
                                choices=POLICY_NAMES)
    n_timesteps: int | None = option(None, "env steps (= videos seen; default: the YAML's)")
    seed: int = option(0, "seed of the agent and the env")
    store: str | None = option(None, "feature store (default: the built-in one)")
    stream: str = option("rgb", "the stream the agent reads: rgb, flow (any stream of the store) "
                                "or fused; for FrameSelectionSeq-v0 the cheap stream, seen on "
                                "all frames")
    hyperparams: str | None = option(None, "YAML file (default: the zoo's)")
    set: list[str] = option([], "override hyperparameters, e.g. --set n_envs=4 n_steps=32",
                            nargs="*", metavar="KEY=VALUE")
    save_freq: int = option(10_000, "checkpoint every this many steps")
    resume: bool = option(False, "continue from OUT/checkpoint.zip")
    progress: bool = option(True, "a progress bar")
    device: str = option("cpu", "torch device of the agent")
    threads: int = option(1, "torch CPU threads")
    eval_split: str = option("val", "print a quick accuracy on this split ('' to skip): "
                                    "frame-based top-m, or for FrameSelectionSeq-v0 the "
                                    "deterministic episodes with all crops averaged")

    def __post_init__(self) -> None:
        """Refuse an algorithm the env cannot train (e.g. maskable_ppo on FrameSelection-v0)."""
        check_algo_env(self.algo, self.env)


def main(argv: list[str] | None = None) -> int:
    """Train the SB3 agent the command line names; the exit status."""
    args = parse(Args, argv, description=__doc__)
    try:
        overrides = parse_overrides(args.set)
    except ValueError as err:
        raise SystemExit(f"train_sb3.py: error: {err}") from None
    path = train_sb3(
        args.algo, policy=args.policy, n_timesteps=args.n_timesteps, seed=args.seed,
        out=args.out, store=args.store, stream=args.stream, hyperparams=args.hyperparams,
        overrides=overrides, progress_bar=args.progress,
        save_freq=args.save_freq, resume=args.resume, device=args.device,
        num_threads=args.threads, env_id=args.env,
    )
    print(f"saved {path}")
    if args.eval_split and args.env == SEQ_ENV_ID:
        rows = quick_eval_seq(path, args.eval_split)
        if rows:
            model, cheap = rows
            pay = read_run_config(path).get("pay", "expensive")
            print(f"{args.eval_split} accuracy, {model['agent']} (deterministic, fused, all crops "
                  f"averaged): {model['accuracy']:.1f}% with {model['frames']:.2f} {pay} frames "
                  f"paid, {model['gmacs']:.3f} GMACs per video; {cheap['agent']} on all "
                  f"frames: {cheap['accuracy']:.1f}%")
    elif args.eval_split:
        rows = quick_eval(path, args.eval_split)
        for agent in dict.fromkeys(r["agent"] for r in rows):
            cells = ", ".join(f"m={r['m']}: {r['accuracy']:.1f}%" for r in rows
                              if r["agent"] == agent)
            print(f"{args.eval_split} accuracy, frame-based, {agent}: {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
