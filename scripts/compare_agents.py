#!/usr/bin/env python
r"""Compare frame-selection agents on the same test videos.

Example::

    python scripts/compare_agents.py --store data/ucf101_split1.h5 \
        --agents as:runs/as/agent.pt ppo:runs/ppo/model.zip random uniform confidence oracle \
                 examples/confident_policy.py:ConfidentPolicy --seeds 3 --out runs/compare

Every agent is evaluated with frame_select_env.evaluation.evaluate_policies at m in
{4,8,12,16,20,25}, frame- and region-based, per stream and fused. Writes OUT/results.csv
(tidy; its alpha column is the --alpha each row was scored with), OUT/table.md (mean ± std
over seeds; best per column in bold; oracles, which read the label, set apart),
OUT/accuracy_vs_m.png and OUT/selections.png; where the store records cost
(frame_select_env.pipeline.cost), results.csv also has frames, gmacs and seconds per video,
table.md an
accuracy-and-cost table and OUT/accuracy_vs_cost.png the accuracy against cost. Without
--store the built-in store is used. The 'all' baseline (the classifier on every frame) is
added unless --no-all.

Agent specs: built-in baselines (random, uniform, all, confidence, entropy, oracle,
relevance-oracle), as:PATH, ppo:/a2c:/sac:/td3:/sb3:PATH, MODULE:ATTR or file.py:ATTR, and
NAME=SPEC to rename. An AS run directory with agent_rgb.pt and agent_flow.pt (or a
multi-stream checkpoint) gives each stream its own agent. A model trained on ONE stream scores
both streams (marked NAME* in the table) unless --own-stream-only is given, in which case it only
gets rows for its own stream (and no fused row).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from baselines_zoo.compare import compare_agents
from baselines_zoo.registry import AgentSpecError
from frame_select_env.cli import entry, option, parse
from frame_select_env.core.config import Range, UserError
from frame_select_env.core.constants import DEFAULT_MS, SCHEMES, SPLITS


def parse_weights(text: str | None) -> dict[str, float] | None:
    """``"rgb=1,flow=1.5"`` -> ``{"rgb": 1.0, "flow": 1.5}`` (``None`` for no text)."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            weight = float(value) if sep else None
        except ValueError:
            weight = None
        if weight is None:
            raise UserError(f"--fusion-weights expects rgb=1,flow=1.5, got {text!r}")
        Range(ge=0).check(f"--fusion-weights {name.strip()}", weight)
        out[name.strip()] = weight
    return out


@dataclass
class Args:
    """The arguments of ``compare_agents.py``."""

    agents: list[str] = option(help="agent specs (see above)", metavar="SPEC")
    out: str = option(help="output directory")
    store: str | None = option(None, "feature store (default: the built-in one)")
    videos: str | None = option(None, "online mode instead of --store: a folder, a list file or "
                                      "builtin[:<split>] of videos, through --classifier")
    classifier: str = option("builtin", "online mode: builtin or a two-stream checkpoint")
    cache: str | None = option(None, "online mode: store the videos' states are cached in")
    device: str = option("auto", "online mode: classifier device")
    seeds: int = option(3, "seeds of the seeded agents (random)", ge=1)
    ms: list[int] = option(list(DEFAULT_MS), "top-m budgets", ge=1)
    schemes: list[str] = option(list(SCHEMES), "selection schemes", choices=SCHEMES)
    streams: list[str] | None = option(None, "streams to evaluate (default: every stream)")
    split: str = option("test", "evaluation split", choices=SPLITS)
    alpha: float = option(0.0, "Eq. 10 weight of dropped frames", ge=0, le=1)
    fusion_weights: str | None = option(None, "fusion weights, e.g. rgb=1,flow=1.5")
    own_stream_only: bool = option(False, "single-stream models score only the stream they were "
                                          "trained on")
    selection_m: int = option(8, "m of selections.png", ge=1)
    all: bool = option(True, "add the 'all' (every frame) reference row")
    threads: int = option(1, "torch CPU threads", ge=1)
    progress: bool = option(True, "progress bars")


@entry
def main(argv: list[str] | None = None) -> int:
    """Compare the agents the command line names; the exit status."""
    args = parse(Args, argv, description=__doc__)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UserError(f"--out {args.out!r} is a file, not a directory: choose another --out")
    if args.videos is not None:  # online: the videos' states, computed once into the cache
        from frame_select_env.pipeline.online import materialize

        if args.store is not None:
            raise SystemExit("error: give --store or --videos, not both")
        args.store = str(materialize(args.videos, args.classifier, args.cache,
                                     device=args.device))
    try:
        paths = compare_agents(
            args.agents, args.out, store=args.store, seeds=args.seeds, ms=args.ms,
            schemes=args.schemes, streams=args.streams, split=args.split, alpha=args.alpha,
            fusion_weights=parse_weights(args.fusion_weights),
            cross_stream=not args.own_stream_only, selection_m=args.selection_m,
            progress=args.progress, add_all=args.all,
            num_threads=args.threads,
        )
    except AgentSpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name}: {path}")
    print(Path(paths["table"]).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
