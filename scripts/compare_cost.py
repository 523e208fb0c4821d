#!/usr/bin/env python
"""Compute-aware selection: accuracy against measured cost per video, one command.

Trains what it needs (REINFORCE, ``builtin:as_sparse_actions.yaml``, per seed): the paper's AS
agent on each stream, and an AS agent that observes only the RGB stream and is rewarded on the
fused prediction of its kept frames (select-before-compute). Then evaluates on the test split
(Algorithm 2, frame-based, every crop), at m in {4, 8, 12, 16, 20} and the adaptive budget
``p^a >= threshold``:

* ``all``: both streams on all T frames (the plain two-stream TSN);
* ``uniform``, ``random``: m frames chosen without looking; only those are computed;
* ``confidence``: the m most confident frames of each stream (both streams on all frames);
* ``confidence_rgb``: the m most confident RGB frames, flow on those only;
* ``as``: the paper (an agent per stream; both streams on all T frames);
* ``as_rgb_only``: observes RGB, predicts fused; flow on the kept frames only;
* ``as_rgb_paper``: the paper's RGB agent choosing the frames of both streams (no retraining);
* sequential agents on ``FrameSelectionSeq-v0`` (``--seq-agents``, default ``seq-stop`` and
  ``seq-confidence``): rgb on all T frames, flow paid frame by frame, at most m flow frames;
  ``seq-as:runs/seq_as`` adds the sequential AS agents of ``scripts/train_seq_agent.py``,
  ``maskable_ppo:PATH`` / ``ppo:PATH`` a sequential SB3 run of ``train_sb3.py``.

Cost per video (:mod:`frame_select_env.pipeline.cost`): GMACs of the CNNs on every crop computed
plus the
agents', and seconds on this machine's CPU (one core): decoding, optical flow (the store's DIS,
and ``s_tvl1``: had flow been the paper's TV-L1), CNNs, the agents' measured time. Writes
``results.csv`` (every seed), ``table.md``, ``accuracy_vs_cost.png`` and ``cost.json`` to
``--out`` and prints the table and the target verdict::

    python scripts/compare_cost.py --out runs/cost
    python scripts/compare_cost.py --out runs/cost --measure   # re-measure seconds here first
    python scripts/compare_cost.py --out runs/cost --seq-agents seq-stop seq-confidence \
        seq-as:runs/seq_as maskable_ppo:runs/mppo
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.as_agent import ASPolicy
from agents.reinforce import ReinforceConfig, ReinforceTrainer
from baselines_zoo.policies import ConfidencePolicy, RandomPolicy, UniformPolicy
from baselines_zoo.registry import AgentSpecError, parse_agent_specs, parse_seq_agent_specs
from frame_select_env.cli import entry, option, parse
from frame_select_env.core.config import load_yaml
from frame_select_env.core.constants import STREAMS
from frame_select_env.evaluation import (
    ObservingPolicy,
    cost_table,
    evaluate_policies,
    evaluate_sequential,
    load_split,
    plot_accuracy_vs_cost,
    summarize,
    write_csv,
)
from frame_select_env.pipeline.cost import builtin_cost, cost_summary, store_cost
from frame_select_env.store import FeatureStore
from frame_select_env.store.atomic import atomic_write_text
from frame_select_env.store.builtin import config_file, resolve_store

#: the packaged REINFORCE config (``frame_select_env/configs/``), unless ``--config`` names one
DEFAULT_CONFIG = "builtin:as_sparse_actions.yaml"
MS = (4, 8, 12, 16, 20)
AGENT_ORDER = ("all", "uniform", "random", "confidence", "confidence_rgb", "as", "as_rgb_only",
               "as_rgb_paper")


@dataclass
class Args:
    """The arguments of ``compare_cost.py``."""

    out: str = option(help="output directory")
    store: str | None = option(None, "feature store (default: the built-in one)")
    config: str = option(DEFAULT_CONFIG, "REINFORCE config YAML, a path or builtin:NAME")
    seeds: int = option(3, "seeds 0..n-1 (agents and random)", ge=1)
    epochs: int | None = option(None, "override the config's epochs", ge=0)
    ms: list[int] = option(list(MS), "top-m budgets", ge=1)
    thresholds: list[float] = option([0.5], "adaptive budgets: keep frames with p^a >= t (AS "
                                            "agents)", nargs="*", gt=0, lt=1)
    measure: bool = option(False, "measure seconds on this machine instead of the recorded ones")
    ucf_clip: str | None = option(None, "with --measure: a real video for reference flow "
                                        "timings at 160x120 and 340x256")
    threads: int = option(1, "torch CPU threads", ge=1)
    agents: list[str] = option([], "more agents, as compare_agents.py --agents takes them (e.g. "
                                   "scsampler mgsampler ocsampler:runs/oc), costed the same way",
                               nargs="*")
    seq_agents: list[str] = option(
        ["seq-stop", "seq-confidence"], "sequential agents on FrameSelectionSeq-v0 (seq-stop, "
        "seq-random, seq-uniform, seq-confidence, seq-oracle at every --ms budget; seq-as:PATH, "
        "maskable_ppo:PATH, ppo:PATH at their own), costed the same way", nargs="*")
    seq_observe: list[str] = option(
        ["rgb"], "what the built-in sequential comparators observe on all T frames: rgb (flow "
        "paid), and/or preview (the store's cheap preview stream; rgb and flow paid); rows of "
        "another observation than rgb are named agent@OBSERVE. A learned agent (seq-as:PATH) "
        "observes what it was trained on", nargs="*", choices=("rgb", "preview"))
    saving: float = option(0.5, "the target: within 1 point of paper AS's best accuracy at "
                                "this fraction less cost (issue 30 asks 0.7)")

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {self.seeds}")
        if any(m < 1 for m in self.ms):
            raise ValueError(f"--ms must be >= 1, got {self.ms}")
        if not 0.0 < self.saving < 1.0:
            raise ValueError(f"--saving must lie in (0, 1), got {self.saving}")
        if any(not 0.0 < t < 1.0 for t in self.thresholds):
            raise ValueError(f"--thresholds must lie in (0, 1) (they compare keep "
                             f"probabilities), got {self.thresholds}")


def parse_args(argv: list[str] | None) -> Args:
    """Parse the command line (``sys.argv[1:]`` for ``None``)."""
    return parse(Args, argv, description=__doc__)


def load_config(path: str, epochs: int | None) -> dict[str, Any]:
    """The REINFORCE options of the config file, with ``--epochs`` applied."""
    data = load_yaml(config_file(path), "--config")
    if epochs is not None:
        data["epochs"] = int(epochs)
    return data


def train(store: Path, stream: str, base: dict[str, Any], seed: int, **extra: Any) -> Any:
    """Train one AS agent with REINFORCE on ``stream``; the trained agent (CPU, eval mode)."""
    cfg = ReinforceConfig.from_dict({**base, "seed": seed, "tensorboard": False, **extra})
    trainer = ReinforceTrainer(store, stream, cfg)
    trainer.train()
    return trainer.agent.cpu().eval()


def verdict(rows: list[dict[str, Any]], candidates: Sequence[str] = ("as_rgb_only",),
            saving: float = 0.5) -> list[str]:
    """The verdict lines on the target, for each select-before-compute candidate.

    The target: within 1 point of paper AS's best fused accuracy while cutting its per-video
    cost by >= ``saving`` (flow included).

    :param rows: the evaluation rows (with ``as`` and the candidates).
    :param candidates: the agents judged (``as_rgb_only``; the sequential agents).
    :param saving: the fraction of paper AS's cost to save.
    :return: the reference line, then one line per candidate and cost column.
    """
    fused = [r for r in rows if r["stream"] == "fused" and r["scheme"] == "frame"]
    summary = summarize(fused, ("agent", "m", "threshold"))
    paper = [e for e in summary if e["agent"] == "as"]
    if not paper:
        return ["target: not evaluated (missing agents)"]
    best = max(paper, key=lambda e: e["accuracy"])
    lines = [f"paper AS best fused accuracy: {best['accuracy']:.1f}% at "
             f"{_budget(best)}, {best['gmacs']:.3f} GMACs, {best['seconds']:.3f} s, "
             f"{best['seconds_tvl1']:.2f} s with TV-L1 per video"]
    for agent in candidates:
        ours = [e for e in summary if e["agent"] == agent]
        if not ours:
            lines.append(f"{agent}: not evaluated (missing rows)")
            continue
        for column, what in (("gmacs", "GMACs"), ("seconds", "seconds (DIS, as extracted)"),
                             ("seconds_tvl1", "seconds (TV-L1)")):
            lines.append(_verdict_line(agent, what, column, ours, best, saving))
    return lines


def _verdict_line(agent: str, what: str, column: str, ours: list[dict[str, Any]],
                  best: dict[str, Any], saving: float = 0.5) -> str:
    """One candidate's verdict on one cost column against paper AS's best point."""
    ok = [e for e in ours if e["accuracy"] >= best["accuracy"] - 1.0
          and e[column] <= (1.0 - saving) * best[column]]
    close = [e for e in ours if e["accuracy"] >= best["accuracy"] - 1.0]
    if ok:
        e = min(ok, key=lambda e: e[column])
        return (f"{agent}, {what}: MET at {_budget(e)}: {e['accuracy']:.1f}% "
                f"({e['accuracy'] - best['accuracy']:+.1f}), {e[column]:.3f} vs "
                f"{best[column]:.3f} ({100 * (1 - e[column] / best[column]):.0f}% less)")
    if close:
        e = min(close, key=lambda e: e[column])
        return (f"{agent}, {what}: NOT MET: the cheapest point within 1 point "
                f"({_budget(e)}, {e['accuracy']:.1f}%) saves only "
                f"{100 * (1 - e[column] / best[column]):.0f}%")
    e = max(ours, key=lambda e: e["accuracy"])
    return (f"{agent}, {what}: NOT MET: its best accuracy {e['accuracy']:.1f}% "
            f"({_budget(e)}) is more than 1 point below; it costs "
            f"{100 * (1 - e[column] / best[column]):.0f}% less there")


def _budget(e: dict[str, Any]) -> str:
    return f"p^a >= {e['threshold']:g}" if e["threshold"] is not None else f"m={e['m']}"


def observing_comparators(entries: Sequence[Any], observe: Sequence[str], fs: FeatureStore,
                          ms: Sequence[int], seed: int, num_frames: int | None
                          ) -> list[dict[str, Any]]:
    """The built-in sequential comparators observing another stream than rgb (the preview).

    :param entries: the parsed ``--seq-agents``; the built-in ones are run again.
    :param observe: ``--seq-observe``; ``rgb`` is the plain run, skipped here.
    :param fs: the store.
    :param ms: the budgets.
    :param seed: the seed.
    :param num_frames: T.
    :return: their rows, named ``agent@observe``.
    """
    rows: list[dict[str, Any]] = []
    for obs in (o for o in observe if o != "rgb"):
        if obs not in fs.observe_only and obs not in fs.streams:
            raise SystemExit(f"--seq-observe {obs}: the store has no {obs!r} stream "
                             f"({fs.all_streams}); rebuild it with build_sparse_actions.py")
        builtin = {f"{e.name}@{obs}": e.policies(budgets=ms, seed=seed) for e in entries
                   if e.kind == "builtin"}
        rows += evaluate_sequential(builtin, fs, "test", seed=seed,
                                    env_kwargs={"num_frames": num_frames, "observe": obs},
                                    seconds_flow_methods=("tvl1",))
    return rows


@entry
def main(argv: list[str] | None = None) -> int:
    """Train, evaluate and cost the agents; the exit status."""
    args = parse_args(argv)
    import torch

    torch.set_num_threads(max(1, args.threads))
    try:
        store_path = resolve_store(args.store, "--store")
    except FileNotFoundError as err:
        raise SystemExit(str(err)) from None
    fs = FeatureStore(store_path)
    if not {"rgb", "flow"} <= set(fs.streams):
        raise SystemExit(f"--store {str(store_path)!r} needs streams rgb and flow, has "
                         f"{fs.streams}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cost: dict[str, Any] | None  # store_cost's None is an error below
    if args.measure:
        if fs.metadata.get("dataset") != "sparse_actions":
            raise SystemExit("--measure re-measures the built-in SparseActions store only; a store "
                             "extracted by this project records its cost at extraction")
        cost = builtin_cost(fs, measure=True, ucf_clip=args.ucf_clip)
    else:
        cost = store_cost(fs)
        if cost is None:
            raise SystemExit(f"store {str(store_path)!r} records no cost (metadata 'cost'); "
                             f"re-extract it with this version, or use the built-in store")
    atomic_write_text(out / "cost.json", json.dumps(cost, indent=1, sort_keys=True) + "\n")
    print(cost_summary(cost))

    try:  # a bad spec fails here, before any training
        entries = parse_agent_specs(args.agents)
        seq_entries = parse_seq_agent_specs(args.seq_agents)
    except AgentSpecError as err:
        raise SystemExit(f"error: {err}") from None
    base = load_config(args.config, args.epochs)
    data = load_split(fs, "test", ["rgb", "flow"], num_frames=base.get("num_frames"))
    ms = [m for m in args.ms if m <= data.num_frames]
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    train_seconds = 0.0
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        agent_rgb = train(store_path, "rgb", base, seed)
        agent_flow = train(store_path, "flow", base, seed)
        agent_cross = train(store_path, "rgb", base, seed, observe="rgb", predict="fused")
        train_seconds += time.perf_counter() - t0
        cross = ObservingPolicy(ASPolicy(agent_cross, name="as_rgb_only"), "rgb")
        rgb_paper = ObservingPolicy(ASPolicy(agent_rgb, name="as_rgb_paper"), "rgb")
        conf_rgb = ObservingPolicy(ConfidencePolicy(), "rgb", name="confidence_rgb")
        baselines = {
            "uniform": {s: UniformPolicy() for s in STREAMS},
            "random": {s: RandomPolicy(seed=seed) for s in STREAMS},
            "confidence": {s: ConfidencePolicy() for s in STREAMS},
            "confidence_rgb": {"rgb": conf_rgb, "flow": conf_rgb},
        }
        learned = {
            "as": {"rgb": ASPolicy(agent_rgb), "flow": ASPolicy(agent_flow)},
            "as_rgb_only": {"rgb": cross, "flow": cross},
            "as_rgb_paper": {"rgb": rgb_paper, "flow": rgb_paper},
        }
        common = dict(split="test", streams=STREAMS, ms=ms, schemes=("frame",),
                      seed=seed, data=data, cost=cost, seconds_flow_methods=("tvl1",))
        rows += evaluate_policies(baselines, fs, include_all=True, **common)
        rows += evaluate_policies(learned, fs, include_all=False, thresholds=args.thresholds,
                                  **common)
        if entries:
            try:
                more = {e.name: e.policies(STREAMS, seed=seed) for e in entries}
            except AgentSpecError as err:
                raise SystemExit(f"error: {err}") from None
            rows += evaluate_policies(more, fs, include_all=False, **common)
        if seq_entries:
            try:
                sequential = {e.name: e.policies(budgets=ms, seed=seed) for e in seq_entries}
            except AgentSpecError as err:
                raise SystemExit(f"error: {err}") from None
            rows += evaluate_sequential(sequential, fs, "test", seed=seed,
                                        env_kwargs={"num_frames": base.get("num_frames")},
                                        seconds_flow_methods=("tvl1",))
            rows += observing_comparators(seq_entries, args.seq_observe, fs, ms, seed,
                                          base.get("num_frames"))
        print(f"seed {seed}: trained 3 agents in {time.perf_counter() - t0:.0f} s")
    # the known agents first, then the others in the order they were given (not interleaved)
    order = {a: i for i, a in enumerate(dict.fromkeys([*AGENT_ORDER,
                                                       *(r["agent"] for r in rows)]))}
    rows.sort(key=lambda r: (order[r["agent"]], r["stream"], r["m"], r["seed"]))
    write_csv(out / "results.csv", rows, kind="cost")
    table = cost_table(rows, "fused", "frame", extra=("seconds_tvl1",))
    table = table.replace("| seconds_tvl1 |", "| s / video, TV-L1 |")
    seq_names = [e.name for e in seq_entries]
    learned_seq = [e.name for e in seq_entries if e.kind != "builtin"]
    seq_names += [f"{e.name}@{obs}" for obs in args.seq_observe if obs != "rgb"
                  for e in seq_entries if e.kind == "builtin"]
    lines = verdict(rows, ("as_rgb_only", *learned_seq), args.saving)
    note = (f"Built-in store, test split ({len(data.labels)} videos, {data.num_frames} frames x "
            f"10 crops), mean ± std over {args.seeds} seed(s). GMACs: CNN MACs on every crop "
            f"computed + the agents'. Seconds: decode + flow + CNN + agent on one core of "
            f"{cost.get('seconds', {}).get('machine', {}).get('cpu', '?')}; 's / video, TV-L1' "
            f"prices the flow with TV-L1 instead of the store's DIS."
            + (f" Sequential agents ({', '.join(seq_names)}; FrameSelectionSeq-v0): rgb on all "
               f"T frames and crops, flow on the paid frames' crops; their budget m is the "
               f"most flow frames paid, 'frames' the mean paid. Observing the preview "
               f"(agent@preview, agents trained with observe=preview): the preview's one "
               f"56 px crop on all T frames, rgb and flow on the paid frames' crops, the "
               f"prediction their fusion over the paid frames." if seq_names else ""))
    text = (f"# Compute-aware selection\n\n{note}\n\n{table}\n## Target\n\n"
            + "\n".join(f"* {line}" for line in lines) + "\n\n## Cost figures\n\n```\n"
            + cost_summary(cost) + "\n```\n")
    atomic_write_text(out / "table.md", text)
    plot_accuracy_vs_cost(rows, out / "accuracy_vs_cost.png",
                          costs=(("gmacs", "GMACs per video"),
                                 ("seconds", "seconds per video (DIS flow)"),
                                 ("seconds_tvl1", "seconds per video (TV-L1 flow)")),
                          stream="fused", scheme="frame", sequential=seq_names,
                          title="Fused two-stream accuracy vs cost per video (built-in test split)")
    print(table)
    print("\n".join(lines))
    print(f"training {train_seconds:.0f} s, total {time.perf_counter() - start:.0f} s; "
          f"results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
