#!/usr/bin/env python
r"""Train one of the field's learned frame selectors (OCSampler, LiteEval, FrameExit) on a store.

The selector observes a cheap stream (``--observe``: ``rgb``, the default, or an observe-only
stream of the store such as the built-in ``preview``) on every frame and the evaluation predicts
with ``--predict`` (fused: rgb + flow) on the frames it chooses. Hyperparameters are the method's
config dataclass (``baselines_zoo/field/<method>.py``); ``--set KEY=VALUE`` overrides entries::

    python scripts/train_selector.py --method frameexit --out runs/frameexit
    python scripts/train_selector.py --method ocsampler --store my_store.h5 --seed 1 \
        --out runs/ocs --set epochs=50
    python scripts/train_selector.py --method liteeval --observe preview --out runs/le_preview

Writes ``OUT/<method>.pt`` (loadable with ``torch.load(..., weights_only=True)``; the agent spec
``<method>:OUT`` of ``compare_agents.py`` reads it) and ``OUT/config.yaml``, both atomically. A
rerun with the same arguments finds the finished checkpoint and skips training
(``--no-resume`` retrains). It prints the val-split accuracy and frames used.

``--optimize`` first tunes the config on the store's val split (Optuna through
:mod:`baselines_zoo.field.search`: ``--n-trials`` trials within ``--timeout`` seconds, resumable
with ``--storage sqlite:///study.db``), writes ``OUT/tuned.yaml`` (the best config) and
``OUT/study.json``, then trains with it. ``--config YAML`` trains with a tuned file::

    python scripts/train_selector.py --method ocsampler --store my_store.h5 --out runs/ocs \
        --optimize --n-trials 10 --timeout 600
    python scripts/train_selector.py --method ocsampler --out runs/ocs2 --config runs/ocs/tuned.yaml
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from baselines_zoo.field import METHODS, get_method, script_store
from frame_select_env.cli import entry, option, parse
from frame_select_env.cli.overrides import parse_overrides
from frame_select_env.core.config import from_dict
from frame_select_env.core.constants import STREAM_CHOICES
from frame_select_env.store.atomic import atomic_write_text

LEARNED = tuple(n for n, s in METHODS.items() if not s.builtin)


@dataclass
class Args:
    """The arguments of ``train_selector.py``."""

    method: str = option(help="the field's method", choices=LEARNED)
    out: str = option(help="output directory")
    store: str | None = option(None, "feature store (default: the built-in one)")
    seed: int = option(0, "training seed", ge=0)
    observe: str = option("rgb", "the stream the selector reads on every frame: rgb, flow or an "
                                 "observe-only stream of the store (the built-in's preview)")
    predict: str = option("fused", "the stream predicted with on the chosen frames",
                          choices=STREAM_CHOICES)
    set: list[str] = option([], "override config entries, e.g. --set epochs=50", nargs="*",
                            metavar="KEY=VALUE")
    resume: bool = option(True, "skip training when OUT holds this run's finished checkpoint")
    progress: bool = option(False, "print training progress")
    threads: int = option(1, "torch CPU threads", ge=1)
    eval_split: str = option("val", "print accuracy and frames used on this split ('' to skip)")
    config: str | None = option(None, "a tuned YAML (METHOD: {entries}, as --optimize writes); "
                                      "--set applies on top")
    optimize: bool = option(False, "tune the config on the val split first (Optuna), then train")
    n_trials: int = option(20, "--optimize: trials", ge=1)
    timeout: float | None = option(None, "--optimize: wall-clock limit in seconds")
    storage: str | None = option(None, "--optimize: Optuna storage to resume, e.g. "
                                       "sqlite:///study.db")
    study_name: str | None = option(None, "--optimize: study name (default: the method)")
    tune_ms: list[int] = option([8], "--optimize: the budgets m whose mean val accuracy is tuned",
                                ge=1)


def method_config(method: str, overrides: dict[str, Any]) -> Any:
    """The method's config dataclass with ``--set`` overrides applied.

    :param method: a learned method of :data:`baselines_zoo.field.METHODS`.
    :param overrides: field -> value.
    :raises ValueError: an unknown field (the message names ``--set`` and the known fields).
    """
    base = get_method(method).default_config()
    return from_dict(type(base), {**dataclasses.asdict(base), **overrides},
                     where=f"--set for {method}")


def optimize(args: Args, store: Path, base: dict[str, Any], out: Path,
             argv: list[str] | None) -> dict[str, Any]:
    """Tune the config on the val split; write ``tuned.yaml`` and ``study.json``; the best config.

    :param args: the command line.
    :param store: the store.
    :param base: the config the search draws on top of.
    :param out: the output directory.
    :param argv: the arguments (recorded as the command).
    """
    import sys

    from baselines_zoo.field.search import tune, write_tuned
    from baselines_zoo.tuning import TuningBudget, write_summary

    result = tune(args.method, store, TuningBudget(args.n_trials, args.timeout, seed=args.seed),
                  base=base, ms=args.tune_ms, seed=args.seed, storage=args.storage,
                  study_name=args.study_name, observe=args.observe)
    command = "python scripts/train_selector.py " + " ".join(sys.argv[1:] if argv is None
                                                             else argv)
    write_tuned(out / "tuned.yaml", result, command)
    write_summary(out / "study.json", result.summary)
    print(f"tuned {args.method}: {result.trials} trials, {result.seconds:.0f} s, best val "
          f"{result.summary['best_value']:.2f} -> {out / 'tuned.yaml'}")
    return result.config


def run_record(args: Args, store: Path, cfg: Any) -> dict[str, Any]:
    """What ``config.yaml`` records: the run's identity (a resumed run must match it)."""
    return {"method": args.method, "store": str(store), "seed": args.seed,
            "observe": args.observe, "predict": args.predict,
            "config": dataclasses.asdict(cfg)}


def quick_eval(policy: Any, store: Path, split: str) -> str:
    """Fused, frame-based accuracy and frames used on ``split`` at m in {4, 8, 12}, as text."""
    from baselines_zoo.field.search import split_streams
    from frame_select_env.evaluation import evaluate_policies, load_split

    data = load_split(store, split, split_streams(policy.observe))
    rows = evaluate_policies({policy.name: {"rgb": policy, "flow": policy}}, store, split=split,
                             ms=(4, 8, 12), schemes=("frame",), include_all=False, cost=None,
                             data=data)
    return ", ".join(f"m={r['m']}: {r['accuracy']:.1f}% ({r['frames']:.1f} frames)"
                     for r in rows if r["stream"] == "fused")


@entry
def main(argv: list[str] | None = None) -> int:
    """Train (or find) the selector the command line names; the exit status."""
    args = parse(Args, argv, description=__doc__)
    try:
        store = script_store(args.store, args.threads, args.observe)
        tuned = {}
        if args.config is not None:
            from baselines_zoo.field.search import read_tuned

            tuned = read_tuned(args.config, args.method)[0]
        cfg = method_config(args.method, {**tuned, **parse_overrides(args.set)})
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"train_selector.py: error: {err}") from None
    spec = get_method(args.method)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.optimize:
        try:
            best = optimize(args, store, dataclasses.asdict(cfg), out, argv)
        except ValueError as err:
            raise SystemExit(f"train_selector.py: error: {err}") from None
        cfg = method_config(args.method, best)
    ckpt, record_path = out / f"{args.method}.pt", out / "config.yaml"
    record = run_record(args, store, cfg)
    done = (args.resume and ckpt.is_file() and record_path.is_file()
            and yaml.safe_load(record_path.read_text()) == record)
    if done:
        print(f"{ckpt} is this run's finished checkpoint: not retrained (--no-resume retrains)")
        policy = spec.load(ckpt)
    else:
        policy = spec.train(store, cfg, observe=args.observe, predict=args.predict,
                            seed=args.seed, progress=args.progress)
        spec.save(policy, ckpt)
        # the record last: a run killed before it is retrained, never half-trusted
        atomic_write_text(record_path, yaml.safe_dump(record, sort_keys=True))
        print(f"saved {ckpt}")
    if args.eval_split:
        print(f"{args.eval_split} accuracy, fused, frame-based: "
              f"{quick_eval(policy, store, args.eval_split)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
