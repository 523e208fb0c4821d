r"""Train the attention-aware sampling agent with REINFORCE and evaluate it (the main job).

With no arguments: trains one agent per stream (rgb, flow) and seed (3 seeds) on the built-in
SparseActions store with ``builtin:as_sparse_actions.yaml``, evaluates on the test split and
prints all frames vs random m frames vs AS at m in {4, 8, 12, 16, 20, 25}, frame- and
region-based, per stream and fused (mean over the seeds); about a minute on 2 CPU cores::

    python scripts/train_reinforce.py
    python scripts/train_reinforce.py --ablation        # + Table 2: agents on state=features
    python scripts/train_reinforce.py --seeds 1 --stream rgb --epochs 10   # a quick look
    python scripts/train_reinforce.py --videos builtin --classifier builtin --cache sa.h5
    python scripts/train_reinforce.py --store ucf101_s1.h5 --config builtin:as_paper.yaml \
        --device cuda --out runs/ucf101_as

Outputs in ``--out`` (default ``runs/as_<UTC timestamp>``): ``results.csv`` (every seed;
accuracy in percent), ``results_mean.csv`` (mean over seeds), ``agent.pt`` (every stream) plus
``agent_<stream>.pt`` (``agents.as_agent.load_agent``), ``config.yaml``, ``accuracy_vs_m.png``,
``accuracy_vs_cost.png`` (when the store records cost; results carry ``frames, gmacs, seconds``),
``train_log.csv`` and per-run ``checkpoint_*.pt`` (``--resume`` continues from them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from agents.as_agent import ASAgent, ASPolicy, save_agent, save_agents
from agents.reinforce import (
    ReinforceConfig,
    ReinforceTrainer,
    check_resume,
    check_run_store,
    store_fingerprint,
)
from agents.runs import run_directory, script_main, training_config
from frame_select_env.cli import as_dict, option, parse
from frame_select_env.core.config import UserError
from frame_select_env.core.constants import DEFAULT_MS, SPLITS, STATES
from frame_select_env.evaluation import (
    evaluate_policies,
    load_split,
    plot_accuracy_vs_cost,
    plot_accuracy_vs_m,
    print_table,
    report_best,
    summarize,
    write_csv,
)
from frame_select_env.pipeline.models.weights import load_torch_file
from frame_select_env.store import FeatureStore
from frame_select_env.store.atomic import atomic_write_text
from frame_select_env.store.builtin import resolve_store

#: the packaged config (``frame_select_env/configs/``) read when ``--config`` is not given
DEFAULT_CONFIG = "builtin:as_sparse_actions.yaml"


@dataclass
class Args:
    """The arguments of ``train_reinforce.py``; ``None`` means: take it from the config file."""

    store: str | None = option(None, "feature store (default: the built-in SparseActions store)")
    videos: str | None = option(None, "online mode instead of --store: a folder, a list file or "
                                      "builtin[:<split>] of videos")
    classifier: str = option("builtin", "online mode: the frozen classifier (builtin or a "
                                        "two-stream checkpoint)")
    cache: str | None = option(None, "online mode: the store the videos' states are cached in "
                                     "(default under ~/.cache)")
    stream: str = option("both", "a stream of the store (rgb, flow), or both: an agent per "
                                 "stream, and fused rows")
    config: str | None = option(None, "training config YAML, a path or builtin:NAME (default "
                                      f"{DEFAULT_CONFIG}; the paper's: builtin:as_paper.yaml)")
    m: int | None = option(None, "target number of kept frames in training (Eq. 9)", ge=1)
    epochs: int | None = option(None, "training epochs", ge=0)
    seed: int = option(0, "first seed", ge=0)
    seeds: int = option(3, "number of seeds (seed, seed+1, ...); the table shows their mean",
                       ge=1)
    device: str | None = option(None, "cpu or cuda")
    state: str | None = option(None, "the agent's state (Table 2)", choices=STATES)
    ablation: bool = option(False, "also train agents on state=features (Table 2) and report "
                                   "them as as_features")
    out: str | None = option(None, "output directory (default runs/as_<timestamp>)")
    resume: bool = option(False, "continue the runs in --out from their checkpoints")
    overwrite: bool = option(False, "replace the run in --out (without it or --resume, an --out "
                                    "that holds a run is refused)")
    split: str = option("test", "evaluation split", choices=SPLITS)
    eval_m: list[int] = option(list(DEFAULT_MS), "m values to evaluate", ge=1)
    alpha: float = option(0.0, "Eq. 10 weight of the non-selected frames at test time", ge=0,
                         le=1)
    threads: int = option(1, "torch CPU threads (1 is fastest for these small batches on a busy "
                             "2-core machine)", ge=1)
    progress: bool = option(True, "progress bars")


def parse_args(argv: list[str] | None = None) -> Args:
    """Parse the command line (``sys.argv[1:]`` for ``None``)."""
    return parse(Args, argv, description=__doc__)


def load_config(args: Args) -> ReinforceConfig:
    """Config file, then the command-line overrides."""
    config: ReinforceConfig = training_config(
        ReinforceConfig, args.config, DEFAULT_CONFIG,
        {"m": args.m, "epochs": args.epochs, "device": args.device, "state": args.state,
         "seed": args.seed})
    return config


def random_policy(seed: int) -> Any:
    """The random-m baseline (helper H5's RandomPolicy)."""
    from baselines_zoo.policies import RandomPolicy

    return RandomPolicy(seed=seed)


def resume_states(out: Path, store: FeatureStore, jobs: list[tuple[str, str, ReinforceConfig]]
                  ) -> dict[str, dict[str, Any]]:
    """The checkpoints ``--resume`` continues, after checking they belong to this run.

    Checked before anything in ``out`` is rewritten, so a refused resume leaves the run's
    ``config.yaml`` as it was: the store (``config.yaml``'s, and each checkpoint's, by contents)
    and every checkpoint's options must be this run's, and no checkpoint may be past ``--epochs``
    (:func:`agents.reinforce.check_resume`).

    :param out: the run directory.
    :param store: the store this run trains on.
    :param jobs: ``(tag, stream, config)`` of every agent to train.
    :return: tag -> training checkpoint, for the tags that have one.
    :raises ValueError: another store, options or a later epoch; the message names both.
    """
    check_run_store(out / "config.yaml", store)
    fp = store_fingerprint(store)
    states = {}
    for tag, stream, cfg in jobs:
        path = out / f"checkpoint_{tag}.pt"
        if path.is_file():
            state = load_torch_file(path, "REINFORCE training checkpoint")
            check_resume(state, cfg, stream, fp, where=f"--resume: checkpoint {str(path)!r}")
            states[tag] = state
    return states


#: the files that make a directory a run of this script (check_out_dir)
RUN_FILES = ("config.yaml", "agent*.pt", "checkpoint_*.pt", "results.csv")


def check_sizes(args: Args, config: ReinforceConfig, store: FeatureStore,
                streams: list[str]) -> None:
    """Refuse streams, ``m`` and ``--eval-m`` the store cannot have, before any training.

    :param args: the command line.
    :param config: the training options.
    :param store: the store trained and evaluated on.
    :param streams: the streams to train.
    :raises UserError: naming the option, the value and the store.
    """
    where = repr(str(store.path))
    for s in streams:
        if s not in store.streams:
            raise UserError(f"--stream {s!r} is not in {where} (it has {store.streams}): give "
                            f"one of them or both")
    frames = int(store.num_frames)
    if config.num_frames is not None and config.num_frames > frames:
        raise UserError(f"config num_frames={config.num_frames}: the store {where} has "
                        f"T={frames} frames per video")
    frames = int(config.num_frames or frames)
    if config.m > frames:
        raise UserError(f"--m {config.m} (the target of kept frames): the videos have only "
                        f"T={frames} frames in {where}; give --m in 1..{frames}")
    over = [m for m in args.eval_m if m > frames]
    if over:
        raise UserError(f"--eval-m {over}: the videos have only T={frames} frames in {where}; "
                        f"give m in 1..{frames}")


def run(args: Args) -> Path:
    """Train, evaluate, write the outputs; the output directory."""
    torch.set_num_threads(max(1, args.threads))
    config = load_config(args)
    if args.videos is not None:  # online: the videos' states, computed once into the cache
        from frame_select_env.pipeline.online import materialize

        store_path = materialize(args.videos, args.classifier, args.cache,
                                 device=args.device or "auto")
    else:
        store_path = resolve_store(args.store, "--store")
    store = FeatureStore(store_path)
    streams = list(store.streams) if args.stream == "both" else [args.stream]
    check_sizes(args, config, store, streams)
    ms = list(args.eval_m)
    out = run_directory(args.out, "as", RUN_FILES, args.resume, args.overwrite)
    variants = {"as": config.state}
    if args.ablation and config.state != "features":
        variants["as_features"] = "features"
    seeds = list(range(args.seed, args.seed + max(1, args.seeds)))
    # (variant, stream, seed, tag, config) of every agent, in training order
    jobs = [(variant, stream, seed, f"{variant}_{stream}_seed{seed}",
             ReinforceConfig.from_dict({**config.to_dict(), "seed": seed, "state": state}))
            for seed in seeds for variant, state in variants.items() for stream in streams]
    states = (resume_states(out, store, [(tag, stream, cfg) for _, stream, _, tag, cfg in jobs])
              if args.resume else {})
    run_config = {"args": as_dict(args), "store": str(store_path),
                  "store_fingerprint": store_fingerprint(store), "streams": streams,
                  "variants": variants, "seeds": seeds, "training": config.to_dict()}
    atomic_write_text(out / "config.yaml", yaml.safe_dump(run_config, sort_keys=False))
    print(f"store {store_path} ({len(store)} videos, streams {store.streams}); output {out}")

    # 1. train an agent per (variant, stream, seed); checkpoints make every run resumable
    start = time.perf_counter()
    agents: dict[tuple[str, str, int], ASAgent] = {}
    train_rows: list[dict[str, Any]] = []
    for variant, stream, seed, tag, cfg in jobs:
        trainer = ReinforceTrainer(store_path, stream, cfg, out_dir=out, tag=tag,
                                   progress=args.progress)
        if tag in states:
            where = f"checkpoint {str(trainer.checkpoint_path)!r}"
            trainer.load_state_dict(states[tag], where=where)
            print(f"{tag}: resuming after epoch {trainer.epoch}")
        log = trainer.train()
        agents[(variant, stream, seed)] = trainer.agent.cpu().eval()
        train_rows += [{"agent": variant, "stream": stream, "seed": seed, **r} for r in log]
        last = log[-1] if log else {}
        print(f"{tag}: {len(log)} epochs, last train reward {last.get('reward', 0):.3f}, "
              f"train accuracy {last.get('accuracy', 0):.1f}%, mean p^a "
              f"{last.get('mean_p', 0):.2f}")
    train_seconds = time.perf_counter() - start
    write_csv(out / "train_log.csv", train_rows)

    # 2. save the agents (first seed at the top level, every seed under seed_<k>/)
    for seed in seeds:
        folder = out if seed == seeds[0] else out / f"seed_{seed}"
        for variant in variants:
            prefix = "agent" if variant == "as" else f"agent_{variant}"
            per_stream = {s: agents[(variant, s, seed)] for s in streams}
            meta = {**config.to_dict(), "seed": seed, "state": variants[variant],
                    "store": str(store_path)}
            save_agents(folder / f"{prefix}.pt", per_stream, meta)
            for s, agent in per_stream.items():
                save_agent(folder / f"{prefix}_{s}.pt", agent, {**meta, "stream": s})

    # 3. evaluate on every view of the test split (Algorithm 2)
    start_eval = time.perf_counter()
    data = load_split(store, args.split, streams, num_frames=config.num_frames)
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        policies: dict[str, dict[str, Any]] = {"random": {s: random_policy(seed) for s in streams}}
        for variant in variants:
            policies[variant] = {s: ASPolicy(agents[(variant, s, seed)], name=variant)
                                 for s in streams}
        rows += evaluate_policies(policies, store, split=args.split, streams=tuple(streams), ms=ms,
                                  alpha=args.alpha, seed=seed, include_all=True, data=data)
    eval_seconds = time.perf_counter() - start_eval
    has_rel = data.relevance is not None
    rows = [{k: v for k, v in r.items() if has_rel or k != "precision"} for r in rows]
    write_csv(out / "results.csv", rows)
    mean_rows = summarize(rows)
    write_csv(out / "results_mean.csv", mean_rows)
    table_streams = streams + (["fused"] if len(streams) > 1 else [])
    plot_accuracy_vs_m(rows, out / "accuracy_vs_m.png")  # the comparison script's figure
    if any(r.get("gmacs") is not None and r["gmacs"] == r["gmacs"] for r in rows):
        # cost columns (frames, gmacs, seconds per video) come from the store's cost dict
        plot_accuracy_vs_cost(rows, out / "accuracy_vs_cost.png")
    print_table(mean_rows, ms, table_streams, args.split, len(seeds))
    report_best(mean_rows, variants, table_streams)
    print(f"training {train_seconds:.1f} s, evaluation {eval_seconds:.1f} s; results in {out}")
    return out


main = script_main(run, parse_args)

if __name__ == "__main__":
    raise SystemExit(main())
