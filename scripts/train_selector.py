#!/usr/bin/env python
r"""Train one of the field's learned frame selectors (OCSampler, LiteEval, FrameExit) on a store.

The selector observes the cheap stream (``--observe``, RGB) and the evaluation predicts with the
expensive one (``--predict``, fused) on the frames it chooses. Hyperparameters are the method's
config dataclass (``baselines_zoo/field/<method>.py``); ``--set KEY=VALUE`` overrides entries::

    python scripts/train_selector.py --method frameexit --out runs/frameexit
    python scripts/train_selector.py --method ocsampler --store my_store.h5 --seed 1 \
        --out runs/ocs --set epochs=50

Writes ``OUT/<method>.pt`` (loadable with ``torch.load(..., weights_only=True)``; the agent spec
``<method>:OUT`` of ``compare_agents.py`` reads it) and ``OUT/config.yaml``, both atomically. A
rerun with the same arguments finds the finished checkpoint and skips training
(``--no-resume`` retrains). It prints the val-split accuracy and frames used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from baselines_zoo.field import METHODS, get_method
from frame_select_env.cli import option, parse
from frame_select_env.cli.overrides import parse_overrides
from frame_select_env.core.config import from_dict
from frame_select_env.core.constants import STREAM_CHOICES, STREAMS
from frame_select_env.store.atomic import atomic_write_text
from frame_select_env.store.builtin import resolve_store

REPO = Path(__file__).resolve().parents[1]

LEARNED = tuple(n for n, s in METHODS.items() if not s.builtin)


@dataclass
class Args:
    """The arguments of ``train_selector.py``."""

    method: str = option(help="the field's method", choices=LEARNED)
    out: str = option(help="output directory")
    store: str | None = option(None, "feature store (default: the built-in one)")
    seed: int = option(0, "training seed")
    observe: str = option("rgb", "the cheap stream the selector reads", choices=STREAMS)
    predict: str = option("fused", "the stream predicted with on the chosen frames",
                          choices=STREAM_CHOICES)
    set: list[str] = option([], "override config entries, e.g. --set epochs=50", nargs="*",
                            metavar="KEY=VALUE")
    resume: bool = option(True, "skip training when OUT holds this run's finished checkpoint")
    progress: bool = option(False, "print training progress")
    threads: int = option(1, "torch CPU threads")
    eval_split: str = option("val", "print accuracy and frames used on this split ('' to skip)")


def method_config(method: str, overrides: dict[str, Any]) -> Any:
    """The method's config dataclass with ``--set`` overrides applied.

    :param method: a learned method of :data:`baselines_zoo.field.METHODS`.
    :param overrides: field -> value.
    :raises ValueError: an unknown field (the message names ``--set`` and the known fields).
    """
    base = get_method(method).default_config()
    return from_dict(type(base), {**dataclasses.asdict(base), **overrides},
                     where=f"--set for {method}")


def run_record(args: Args, store: Path, cfg: Any) -> dict[str, Any]:
    """What ``config.yaml`` records: the run's identity (a resumed run must match it)."""
    return {"method": args.method, "store": str(store), "seed": args.seed,
            "observe": args.observe, "predict": args.predict,
            "config": dataclasses.asdict(cfg)}


def quick_eval(policy: Any, store: Path, split: str) -> str:
    """Fused, frame-based accuracy and frames used on ``split`` at m in {4, 8, 12}, as text."""
    from frame_select_env.evaluation import evaluate_policies

    rows = evaluate_policies({policy.name: {"rgb": policy, "flow": policy}}, store, split=split,
                             ms=(4, 8, 12), schemes=("frame",), include_all=False, cost=None)
    return ", ".join(f"m={r['m']}: {r['accuracy']:.1f}% ({r['frames']:.1f} frames)"
                     for r in rows if r["stream"] == "fused")


def main(argv: list[str] | None = None) -> int:
    """Train (or find) the selector the command line names; the exit status."""
    args = parse(Args, argv, description=__doc__)
    import torch

    torch.set_num_threads(max(1, args.threads))
    try:
        store = resolve_store(args.store, "--store")
        cfg = method_config(args.method, parse_overrides(args.set))
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"train_selector.py: error: {err}") from None
    spec = get_method(args.method)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
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
