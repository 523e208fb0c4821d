"""Train the attention-aware sampling agent with REINFORCE and evaluate it (the package's main job).

With no arguments: trains one agent per stream (rgb, flow) and seed (3 seeds) on the built-in
SparseActions store with ``configs/as_sparse_actions.yaml``, evaluates on the test split and
prints all frames vs random m frames vs AS at m in {4, 8, 12, 16, 20, 25}, frame- and
region-based, per stream and fused (mean over the seeds); about a minute on 2 CPU cores::

    python scripts/train_reinforce.py
    python scripts/train_reinforce.py --ablation        # + Table 2: agents on state=features
    python scripts/train_reinforce.py --seeds 1 --stream rgb --epochs 10   # a quick look
    python scripts/train_reinforce.py --videos builtin --classifier builtin --cache sa.h5
    python scripts/train_reinforce.py --store ucf101_s1.h5 --config configs/as_paper.yaml \
        --device cuda --out runs/ucf101_as

Outputs in ``--out`` (default ``runs/as_<UTC timestamp>``): ``results.csv`` (every seed;
accuracy in percent), ``results_mean.csv`` (mean over seeds), ``agent.pt`` (every stream) plus
``agent_<stream>.pt`` (``agents.as_agent.load_agent``), ``config.yaml``, ``accuracy_vs_m.png``,
``accuracy_vs_cost.png`` (when the store records cost; results carry ``frames, gmacs, seconds``),
``train_log.csv`` and per-run ``checkpoint_*.pt`` (``--resume`` continues from them).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable from a checkout without installing
    sys.path.insert(0, str(REPO))

from agents.as_agent import ASAgent, ASPolicy, save_agent, save_agents  # noqa: E402
from agents.evaluation import DEFAULT_MS, evaluate_policies, load_split, summarize  # noqa: E402
from agents.reinforce import ReinforceConfig, ReinforceTrainer  # noqa: E402
from baselines_zoo.compare import plot_accuracy_vs_cost, plot_accuracy_vs_m  # noqa: E402
from frame_select_env.atomic import atomic_write_text  # noqa: E402
from frame_select_env.store import FeatureStore  # noqa: E402

DEFAULT_CONFIG = REPO / "configs" / "as_sparse_actions.yaml"


@dataclass
class Args:
    """Command-line arguments (``--name value``; ``None`` = take it from the config file)."""

    store: str | None = None
    """feature store (default: the built-in SparseActions store)"""
    videos: str | None = None
    """online mode instead of --store: a folder, a list file or builtin[:<split>] of videos"""
    classifier: str = "builtin"
    """online mode: the frozen classifier (builtin or a two-stream checkpoint)"""
    cache: str | None = None
    """online mode: the store the videos' states are cached in (default under ~/.cache)"""
    stream: str = "both"
    """rgb, flow or both (an agent per stream; fused rows when both)"""
    config: str | None = None
    """training config YAML (default configs/as_sparse_actions.yaml; the paper: as_paper.yaml)"""
    m: int | None = None
    """target number of kept frames in training (Eq. 9); overrides the config"""
    epochs: int | None = None
    """training epochs; overrides the config"""
    seed: int = 0
    """first seed"""
    seeds: int = 3
    """number of seeds (seed, seed+1, ...); the table shows their mean"""
    device: str | None = None
    """cpu or cuda; overrides the config"""
    state: str | None = None
    """both, features or predictions (Table 2); overrides the config"""
    ablation: bool = False
    """also train agents on state=features (Table 2) and report them as as_features"""
    out: str | None = None
    """output directory (default runs/as_<timestamp>)"""
    resume: bool = False
    """continue the runs in --out from their checkpoints"""
    split: str = "test"
    """evaluation split"""
    eval_m: str = ",".join(str(m) for m in DEFAULT_MS)
    """comma-separated m values to evaluate"""
    alpha: float = 0.0
    """Eq. 10 weight of the non-selected frames at test time"""
    threads: int = 1
    """torch CPU threads (1 is fastest for these small batches on a busy 2-core machine)"""
    no_progress: bool = False
    """no progress bars"""


def parse_args(argv: list[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    docs = _field_docs()
    for f in fields(Args):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action="store_true", help=docs.get(f.name))
        else:
            kind = {"int": int, "float": float}.get(str(f.type).split(" ")[0], str)
            parser.add_argument(flag, type=kind, default=f.default, help=docs.get(f.name))
    return Args(**vars(parser.parse_args(argv)))


def _field_docs() -> dict[str, str]:
    """The docstring under each Args field, for --help."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(Args))
    body, docs = tree.body[0].body, {}
    for node, nxt in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr):
            docs[node.target.id] = str(nxt.value.value)
    return docs


def load_config(args: Args) -> ReinforceConfig:
    """Config file, then the command-line overrides."""
    path = Path(args.config) if args.config else DEFAULT_CONFIG
    data: dict[str, Any] = {}
    if path.is_file():
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ValueError(f"config {str(path)!r}: expected a mapping of options, got "
                             f"{type(data).__name__}")
    elif args.config:
        raise FileNotFoundError(f"--config {str(path)!r} does not exist")
    overrides = {"m": args.m, "epochs": args.epochs, "device": args.device, "state": args.state}
    data.update({k: v for k, v in overrides.items() if v is not None})
    data["seed"] = args.seed
    return ReinforceConfig.from_dict(data, where=f"config {str(path)!r}")


def resolve_store(store: str | None) -> Path:
    if store is None:
        from frame_select_env.builtin import builtin_store_path

        return builtin_store_path()
    if not Path(store).is_file():
        raise FileNotFoundError(f"--store {store!r} does not exist")
    return Path(store)


def random_policy(seed: int) -> Any:
    """The random-m baseline (helper H5's RandomPolicy)."""
    from baselines_zoo.policies import RandomPolicy

    return RandomPolicy(seed=seed)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    columns = list(rows[0]) if rows else []
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, buf.getvalue())


def print_table(mean_rows: list[dict[str, Any]], ms: list[int], streams: list[str],
                split: str = "test", num_seeds: int = 1) -> None:
    """Accuracy (mean over seeds) per agent/scheme/stream and m."""
    agents = list(dict.fromkeys(r["agent"] for r in mean_rows))
    lookup = {(r["agent"], r["scheme"], r["stream"], r["m"]): r for r in mean_rows}
    header = ["agent", "scheme", "stream", *[f"m={m}" for m in ms]]
    body = []
    for scheme in ("frame", "region"):
        for stream in streams:
            for agent in agents:
                cells = [lookup.get((agent, scheme, stream, m)) for m in ms]
                if all(c is None for c in cells):
                    continue
                body.append([agent, scheme, stream, *[
                    "" if c is None else f"{c['accuracy']:.1f}" for c in cells]])
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"Top-1 accuracy (%) on the {split} split, mean over {num_seeds} "
                            f"seed(s)")
        for h in header:
            table.add_column(h, justify="right" if h.startswith("m=") else "left")
        for row in body:
            table.add_row(*row)
        Console().print(table)
    except ImportError:  # plain text
        widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
        for row in [header, *body]:
            print("  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=False)))


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    config = load_config(args)
    if args.videos is not None:  # online: the videos' states, computed once into the cache
        from frame_select_env.online import materialize

        store_path = materialize(args.videos, args.classifier, args.cache,
                                 device=args.device or "auto")
    else:
        store_path = resolve_store(args.store)
    store = FeatureStore(store_path)
    streams = list(store.streams) if args.stream == "both" else [args.stream]
    for s in streams:
        if s not in store.streams:
            raise ValueError(f"--stream {s!r} is not in {str(store_path)!r} (it has "
                             f"{store.streams})")
    ms = [int(m) for m in args.eval_m.split(",") if m.strip()]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"as_{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    variants = {"as": config.state}
    if args.ablation and config.state != "features":
        variants["as_features"] = "features"
    seeds = list(range(args.seed, args.seed + max(1, args.seeds)))
    run_config = {"args": asdict(args), "store": str(store_path), "streams": streams,
                  "variants": variants, "seeds": seeds, "training": config.to_dict()}
    atomic_write_text(out / "config.yaml", yaml.safe_dump(run_config, sort_keys=False))
    print(f"store {store_path} ({len(store)} videos, streams {store.streams}); output {out}")

    # 1. train an agent per (variant, stream, seed); checkpoints make every run resumable
    start = time.perf_counter()
    agents: dict[tuple[str, str, int], ASAgent] = {}
    train_rows: list[dict[str, Any]] = []
    for seed in seeds:
        for variant, state in variants.items():
            for stream in streams:
                cfg = ReinforceConfig.from_dict({**config.to_dict(), "seed": seed, "state": state})
                tag = f"{variant}_{stream}_seed{seed}"
                trainer = ReinforceTrainer(store_path, stream, cfg, out_dir=out, tag=tag,
                                           progress=not args.no_progress)
                if args.resume and trainer.load_checkpoint():
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


def report_best(mean_rows: list[dict[str, Any]], variants: dict[str, str],
                streams: list[str]) -> None:
    """One line per stream: AS at its best m vs all frames and vs random at that m."""
    look = {(r["agent"], r["scheme"], r["stream"], r["m"]): r["accuracy"] for r in mean_rows}
    for variant in variants:
        for stream in streams:
            cands = [(acc, scheme, m) for (a, scheme, s, m), acc in look.items()
                     if a == variant and s == stream]
            if not cands:
                continue
            acc, scheme, m = max(cands)
            allf = look.get(("all", scheme, stream, m), float("nan"))
            rnd = look.get(("random", scheme, stream, m), float("nan"))
            print(f"{variant:12s} {stream:6s} best m={m:2d} ({scheme}): {acc:.1f}%  vs all frames "
                  f"{allf:.1f}% ({acc - allf:+.1f})  vs random m={m} {rnd:.1f}% ({acc - rnd:+.1f})")


if __name__ == "__main__":
    main()
