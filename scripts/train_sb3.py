#!/usr/bin/env python
"""Train a Stable-Baselines3 agent on FrameSelection-v0.

Examples::

    python scripts/train_sb3.py --algo ppo --policy bilstm --n-timesteps 50000 --seed 0 \
        --out runs/ppo_bilstm
    python scripts/train_sb3.py --algo sac --policy mlp --n-timesteps 20000 --out runs/sac \
        --store my_store.h5 --stream flow

Writes OUT/model.zip, OUT/config.yaml and OUT/progress.csv (SB3's CSV logger). Hyperparameters
come from baselines_zoo/hyperparams/<algo>.yml (key FrameSelection-v0); ``--set key=value``
overrides single entries (values parsed as YAML). ``--resume`` continues from OUT/checkpoint.zip.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines_zoo.sb3_policies import POLICY_NAMES  # noqa: E402
from baselines_zoo.train import ALGOS, quick_eval, train_sb3  # noqa: E402
from frame_select_env.overrides import parse_overrides  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algo", choices=ALGOS, required=True)
    ap.add_argument("--policy", choices=POLICY_NAMES, default=None,
                    help="network (default: the YAML's 'policy')")
    ap.add_argument("--n-timesteps", type=int, default=None, help="env steps (= videos seen)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="run directory")
    ap.add_argument("--store", default=None, help="feature store (default: the built-in one)")
    ap.add_argument("--stream", default="rgb", help="rgb, flow or fused")
    ap.add_argument("--hyperparams", default=None, help="YAML file (default: the zoo's)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="override hyperparameters, e.g. --set n_envs=4 n_steps=32")
    ap.add_argument("--save-freq", type=int, default=10_000)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--eval-split", default="val",
                    help="print a quick frame-based accuracy on this split ('' to skip)")
    args = ap.parse_args(argv)
    try:
        overrides = parse_overrides(args.set)
    except ValueError as err:
        ap.error(str(err))
    path = train_sb3(
        args.algo, policy=args.policy, n_timesteps=args.n_timesteps, seed=args.seed,
        out=args.out, store=args.store, stream=args.stream, hyperparams=args.hyperparams,
        overrides=overrides, progress_bar=not args.no_progress,
        save_freq=args.save_freq, resume=args.resume, device=args.device,
        num_threads=args.threads,
    )
    print(f"saved {path}")
    if args.eval_split:
        rows = quick_eval(path, args.eval_split)
        for agent in dict.fromkeys(r["agent"] for r in rows):
            cells = ", ".join(f"m={r['m']}: {r['accuracy']:.1f}%" for r in rows
                              if r["agent"] == agent)
            print(f"{args.eval_split} accuracy, frame-based, {agent}: {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
