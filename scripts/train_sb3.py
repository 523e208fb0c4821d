#!/usr/bin/env python
r"""Train a Stable-Baselines3 agent on FrameSelection-v0 or FrameSelectionSeq-v0.

Examples::

    python scripts/train_sb3.py --algo ppo --policy bilstm --n-timesteps 50000 --seed 0 \
        --out runs/ppo_bilstm
    python scripts/train_sb3.py --algo sac --policy mlp --n-timesteps 20000 --out runs/sac \
        --store my_store.h5 --stream flow
    python scripts/train_sb3.py --env FrameSelectionSeq-v0 --algo maskable_ppo --out runs/mppo
    python scripts/train_sb3.py --env FrameSelectionSeq-v0 --algo maskable_ppo --optimize \
        --n-trials 20 --n-timesteps 30000 --out runs/mppo_search   # then --hyperparams it

Writes OUT/model.zip, OUT/config.yaml and OUT/progress.csv (SB3's CSV logger). Hyperparameters
come from baselines_zoo/sb3/hyperparams/<algo>.yml (key: the env id); ``--set key=value`` overrides
single entries (values parsed as YAML). ``--resume`` continues from OUT/checkpoint.zip.
``maskable_ppo`` (sb3-contrib) needs the action masks only FrameSelectionSeq-v0 has;
``recurrent_ppo`` (sb3-contrib, an LSTM policy) its episodes of several steps.

``--optimize`` searches the hyperparameters instead of training one run, as RL Baselines3 Zoo
does (Optuna: TPE sampler, median pruner on the val accuracy measured --n-evaluations times per
trial; baselines_zoo/sb3/search.py lists the search spaces): --n-trials trials of --n-timesteps
steps each, in an Optuna storage (default OUT/study.db; rerun the same command to resume). It
writes OUT/<algo>.yml (the best hyperparameters, in the layout of the shipped YAMLs, with this
command as a comment: train with ``--hyperparams OUT/<algo>.yml``), OUT/study_summary.json and
each trial's run in OUT/trials/.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines_zoo.sb3.policies import POLICY_NAMES
from baselines_zoo.sb3.scoring import quick_eval, quick_eval_seq
from baselines_zoo.sb3.search import SEARCH_ALGOS, format_command, optimize_sb3
from baselines_zoo.sb3.sequential import SEQ_ENV_ID
from baselines_zoo.sb3.train import (
    ALGOS,
    ENV_ID,
    ENV_IDS,
    check_algo_env,
    read_run_config,
    train_sb3,
)
from baselines_zoo.tuning import PRUNERS
from frame_select_env.cli import check_out_dir, entry, option, parse
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
    n_timesteps: int | None = option(None, "env steps (= videos seen; default: the YAML's)",
                                     ge=1)
    seed: int = option(0, "seed of the agent and the env", ge=0)
    store: str | None = option(None, "feature store (default: the built-in one)")
    stream: str = option("rgb", "the stream the agent reads: rgb, flow (any stream of the store) "
                                "or fused; for FrameSelectionSeq-v0 the cheap stream, seen on "
                                "all frames")
    hyperparams: str | None = option(None, "YAML file (default: the zoo's)")
    set: list[str] = option([], "override hyperparameters, e.g. --set n_envs=4 n_steps=32",
                            nargs="*", metavar="KEY=VALUE")
    save_freq: int = option(10_000, "checkpoint every this many steps", ge=1)
    resume: bool = option(False, "continue from OUT/checkpoint.zip")
    overwrite: bool = option(False, "replace the run in --out (without it or --resume, an --out "
                                    "that holds a run is refused)")
    progress: bool = option(True, "a progress bar")
    device: str = option("cpu", "torch device of the agent")
    threads: int = option(1, "torch CPU threads", ge=1)
    vec_env: str = option("native", "SB3 vector env: the adapter over the env's native vector "
                                    "env, or SB3's DummyVecEnv over single envs (same "
                                    "transitions, slower)", choices=("native", "dummy"))
    eval_split: str = option("val", "print a quick accuracy on this split ('' to skip): "
                                    "frame-based top-m, or for FrameSelectionSeq-v0 the "
                                    "deterministic episodes with all crops averaged")
    optimize: bool = option(False, "search the hyperparameters (Optuna) instead of training "
                                   "one run", group="hyperparameter search")
    n_trials: int = option(10, "trials of the search (a resumed study counts its finished ones)",
                           ge=1, group="hyperparameter search")
    n_evaluations: int = option(4, "val evaluations per trial (what the pruner compares)", ge=1,
                                group="hyperparameter search")
    storage: str | None = option(None, "Optuna storage URL, e.g. sqlite:///study.db",
                                 default_text="sqlite:///OUT/study.db",
                                 group="hyperparameter search")
    study_name: str | None = option(None, "the study's name in the storage",
                                    default_text="ALGO-ENV", group="hyperparameter search")
    timeout: float | None = option(None, "stop starting trials after this many seconds",
                                   gt=0, group="hyperparameter search")
    n_startup_trials: int = option(5, "random trials before TPE (and before any pruning)", ge=0,
                                   group="hyperparameter search")
    pruner: str = option("median", "pruner of the search", choices=PRUNERS,
                         group="hyperparameter search")

    def __post_init__(self) -> None:
        """Refuse an algorithm the env cannot train (e.g. maskable_ppo on FrameSelection-v0)."""
        check_algo_env(self.algo, self.env)
        if self.optimize and self.algo not in SEARCH_ALGOS:
            raise ValueError(f"--optimize tunes {', '.join(SEARCH_ALGOS)}, not {self.algo!r}")
        if self.optimize and self.resume:
            raise ValueError("--optimize resumes from its storage by itself; drop --resume")


@entry
def main(argv: list[str] | None = None) -> int:
    """Train the SB3 agent the command line names; the exit status."""
    args = parse(Args, argv, description=__doc__)
    try:
        overrides = parse_overrides(args.set)
    except ValueError as err:
        raise SystemExit(f"train_sb3.py: error: {err}") from None
    if args.optimize:
        return _optimize(args, overrides, argv)
    check_out_dir(args.out, ("model.zip", "checkpoint.zip", "config.yaml"), args.resume,
                  args.overwrite)
    path = train_sb3(
        args.algo, policy=args.policy, n_timesteps=args.n_timesteps, seed=args.seed,
        out=args.out, store=args.store, stream=args.stream, hyperparams=args.hyperparams,
        overrides=overrides, progress_bar=args.progress,
        save_freq=args.save_freq, resume=args.resume, device=args.device,
        num_threads=args.threads, env_id=args.env, vec_env=args.vec_env,
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


def _optimize(args: Args, overrides: dict, argv: list[str] | None) -> int:
    """``--optimize``: run (or resume) the search, print where the best hyperparameters are."""
    import sys

    result = optimize_sb3(
        args.algo, args.out, env_id=args.env, n_trials=args.n_trials,
        n_timesteps=args.n_timesteps, n_evaluations=args.n_evaluations, timeout_s=args.timeout,
        storage=args.storage, study_name=args.study_name, seed=args.seed,
        n_startup_trials=args.n_startup_trials, pruner=args.pruner, policy=args.policy,
        store=args.store, stream=args.stream, hyperparams=args.hyperparams, overrides=overrides,
        device=args.device, num_threads=args.threads,
        command=format_command(sys.argv[1:] if argv is None else list(argv)))
    study = result.study
    print(f"study {study.study_name!r}: {len(study.trials)} trials; summary {result.summary}")
    if result.hyperparams is None:
        print("no trial completed: no best hyperparameters written")
        return 1
    print(f"best val accuracy {study.best_value:.1f}% (trial {study.best_trial.number}); "
          f"best hyperparameters {result.hyperparams}: train with --hyperparams "
          f"{result.hyperparams}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
