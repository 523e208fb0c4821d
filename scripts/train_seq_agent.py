r"""Train the sequential AS agent on ``FrameSelectionSeq-v0`` with REINFORCE and evaluate it.

With no arguments: trains one agent per seed (3 seeds) for the budgets of at most 4, 6, 8, 10
and 12 flow frames (each training video's episodes draw one; the agent reads the budget left) on
the built-in store with ``builtin:seq_as_sparse_actions.yaml``, then evaluates at each budget
every video of the test split once (fused prediction, the 10 crops averaged): the agent paying
its whole budget (``seq_as``, the paper's test-time top-m carried over) and stopping on its own
(``seq_as_stop``), beside the sequential comparators at the same budgets (stop at once, random,
uniform, rgb confidence). It prints accuracy, flow frames paid, GMACs and seconds per video::

    python scripts/train_seq_agent.py --out runs/seq_as
    python scripts/train_seq_agent.py --out runs/seq_as --budgets 8 --seeds 1 --epochs 10
    python scripts/train_seq_agent.py --out runs/seq_as_cw --set cost_weight=5
    python scripts/train_seq_agent.py --out runs/seq_as --resume      # continue an interrupted run

Outputs in ``--out`` (default ``runs/seq_as_<UTC timestamp>``): ``seed_<k>/seq_agent.pt``
(``agents.seq_agent.load_seq_policies``; ``compare_cost.py --seq-agents seq-as:OUT`` evaluates
them), ``config.yaml``, ``results.csv`` (every seed), ``table.md``, ``accuracy_vs_cost.png``,
``train_log.csv`` and ``seed_<k>/checkpoint_seq.pt`` (``--resume`` continues them; a finished
agent is not trained again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from agents.reinforce import check_run_store, store_fingerprint
from agents.runs import run_directory, script_main, training_config
from agents.seq_agent import load_seq_policies
from agents.seq_reinforce import SeqReinforceConfig, SeqReinforceTrainer
from baselines_zoo.seq_policies import make_seq_policies
from frame_select_env.cli import as_dict, option, parse
from frame_select_env.core.constants import SPLITS
from frame_select_env.evaluation import (
    cost_table,
    evaluate_sequential,
    plot_accuracy_vs_cost,
    write_csv,
)
from frame_select_env.store import FeatureStore
from frame_select_env.store.atomic import atomic_write_text
from frame_select_env.store.builtin import resolve_store

#: the packaged config (``frame_select_env/configs/``) read when ``--config`` is not given
DEFAULT_CONFIG = "builtin:seq_as_sparse_actions.yaml"
#: The sequential comparators evaluated beside the agent, at its budgets.
COMPARATORS = ("seq-stop", "seq-random", "seq-uniform", "seq-confidence")


@dataclass
class Args:
    """The arguments of ``train_seq_agent.py``; ``None`` means: take it from the config file."""

    store: str | None = option(None, "feature store with two streams (default: the built-in one)")
    config: str | None = option(None, "training config YAML, a path or builtin:NAME (default "
                                      f"{DEFAULT_CONFIG})")
    budgets: list[int] | None = option(None, "budgets the agent is trained and evaluated at: "
                                             "the most flow frames paid per video (default: "
                                             "the config's train_budgets)", ge=1)
    epochs: int | None = option(None, "training epochs", ge=0)
    set: list[str] = option([], "override config entries, e.g. --set cost_weight=5 "
                                "num_episodes=4", nargs="*", metavar="KEY=VALUE")
    seed: int = option(0, "first seed", ge=0)
    seeds: int = option(3, "number of seeds (seed, seed+1, ...)", ge=1)
    device: str | None = option(None, "cpu or cuda")
    out: str | None = option(None, "output directory (default runs/seq_as_<timestamp>)")
    resume: bool = option(False, "continue the runs in --out from their checkpoints")
    overwrite: bool = option(False, "replace the run in --out (without it or --resume, an --out "
                                    "that holds a run is refused)")
    split: str = option("test", "evaluation split", choices=SPLITS)
    threads: int = option(1, "torch CPU threads", ge=1)
    progress: bool = option(True, "progress bars")

    def __post_init__(self) -> None:
        if self.budgets is not None and (not self.budgets or any(b < 1 for b in self.budgets)):
            raise ValueError(f"--budgets must be one or more ints >= 1, got {self.budgets}")
        if self.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {self.seeds}")


def parse_args(argv: list[str] | None = None) -> Args:
    """Parse the command line (``sys.argv[1:]`` for ``None``)."""
    return parse(Args, argv, description=__doc__)


def load_config(args: Args) -> SeqReinforceConfig:
    """Config file, then ``--set`` and the other command-line overrides."""
    config: SeqReinforceConfig = training_config(
        SeqReinforceConfig, args.config, DEFAULT_CONFIG,
        {"epochs": args.epochs, "device": args.device}, sets=args.set)
    return config


def train_one(store: Path, cfg: SeqReinforceConfig, folder: Path, tag: str, resume: bool,
              progress: bool) -> tuple[Path, list[dict[str, Any]]]:
    """Train (or resume, or find finished) one agent; its saved file and training log."""
    agent_path = folder / "seq_agent.pt"
    trainer = SeqReinforceTrainer(store, cfg, out_dir=folder, tag=tag, progress=progress)
    try:
        if resume and trainer.load_checkpoint():
            print(f"{folder.name}/{tag}: resuming after epoch {trainer.epoch}")
        log = trainer.train()
        trainer.save_agent(agent_path)
    finally:
        trainer.close()
    last = log[-1] if log else {}
    print(f"{folder.name}/{tag}: {len(log)} epochs, train accuracy "
          f"{last.get('accuracy', 0):.1f}%, flow frames {last.get('frames', 0):.1f}")
    return agent_path, log


def run(args: Args) -> Path:
    """Train, evaluate, write the outputs; the output directory."""
    torch.set_num_threads(max(1, args.threads))
    config = load_config(args)
    store_path = resolve_store(args.store, "--store")
    store = FeatureStore(store_path)
    # before anything in --out is rewritten: a run there is continued or replaced only when asked
    out = run_directory(args.out, "seq_as",
                        ("config.yaml", "seed_*/seq_agent.pt", "seed_*/checkpoint_*.pt"),
                        args.resume, args.overwrite)
    fingerprint = store_fingerprint(store)
    if args.resume:
        check_run_store(out / "config.yaml", store)
    seeds = list(range(args.seed, args.seed + args.seeds))
    num_frames = int(config.num_frames or store.num_frames)  # a budget of None is every frame
    budgets = sorted({int(num_frames if b is None else b)
                      for b in (args.budgets or config.budgets)})
    atomic_write_text(out / "config.yaml", yaml.safe_dump(
        {"args": as_dict(args), "store": str(store_path), "store_fingerprint": fingerprint,
         "seeds": seeds, "budgets": budgets, "training": config.to_dict()}, sort_keys=False))
    print(f"store {store_path} ({len(store)} videos); output {out}")

    # 1. one agent per seed for every budget; each epoch is checkpointed, so a killed run resumes
    start = time.perf_counter()
    paths: dict[int, Path] = {}
    train_rows: list[dict[str, Any]] = []
    for seed in seeds:
        cfg = SeqReinforceConfig.from_dict({**config.to_dict(), "seed": seed,
                                            "max_frames": max(budgets), "train_budgets": budgets})
        paths[seed], log = train_one(store_path, cfg, out / f"seed_{seed}", "seq", args.resume,
                                     args.progress)
        train_rows += [{"seed": seed, **r} for r in log]
    train_seconds = time.perf_counter() - start
    write_csv(out / "train_log.csv", train_rows)

    # 2. every video of the split once, beside the comparators at the same budgets
    env = {"observe": config.observe, "pay": config.pay, "omega": config.omega,
           "state": config.state, "num_frames": config.num_frames}
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        policies: dict[str, Any] = {name.replace("-", "_"): make_seq_policies(name, budgets, seed)
                                    for name in COMPARATORS}
        # the agent paying its whole budget (the paper's test-time top-m, carried over), and
        # the same agent stopping on its own (an adaptive budget)
        policies["seq_as"] = load_seq_policies(paths[seed], stop=False)
        policies["seq_as_stop"] = load_seq_policies(paths[seed], stop=True)
        rows += evaluate_sequential(policies, store, args.split, env_kwargs=env, seed=seed,
                                    seconds_flow_methods=("tvl1",))
    write_csv(out / "results.csv", rows, kind="cost")
    table = cost_table(rows, "fused", "frame", extra=("seconds_tvl1",)).replace(
        "| seconds_tvl1 |", "| s / video, TV-L1 |")
    atomic_write_text(out / "table.md", f"# FrameSelectionSeq-v0, {args.split} split, mean ± "
                                        f"std over {len(seeds)} seed(s)\n\n{table}")
    plot_accuracy_vs_cost(rows, out / "accuracy_vs_cost.png",
                          costs=(("gmacs", "GMACs per video"),
                                 ("seconds_tvl1", "seconds per video (TV-L1 flow)")),
                          stream="fused", scheme="frame",
                          title=f"FrameSelectionSeq-v0: fused accuracy vs cost ({args.split})")
    print(table)
    print(f"training {train_seconds:.0f} s; results in {out}")
    return out


main = script_main(run, parse_args)

if __name__ == "__main__":
    raise SystemExit(main())
