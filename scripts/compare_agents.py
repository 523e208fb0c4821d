#!/usr/bin/env python
"""Compare frame-selection agents on the same test videos.

Example::

    python scripts/compare_agents.py --store data/ucf101_split1.h5 \
        --agents as:runs/as/agent.pt ppo:runs/ppo/model.zip random uniform confidence oracle \
                 examples/confident_policy.py:ConfidentPolicy --seeds 3 --out runs/compare

Every agent is evaluated with agents.evaluation.evaluate_policies at m in {4,8,12,16,20,25},
frame- and region-based, per stream and fused. Writes OUT/results.csv (tidy), OUT/table.md
(mean ± std over seeds; best per column in bold; oracles, which read the label, set apart),
OUT/accuracy_vs_m.png and OUT/selections.png; where the store records cost
(frame_select_env.cost), results.csv also has frames, gmacs and seconds per video, table.md an
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

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines_zoo.compare import MS, SCHEMES, compare_agents  # noqa: E402
from baselines_zoo.registry import AgentSpecError  # noqa: E402


def parse_weights(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise SystemExit(f"--fusion-weights expects rgb=1,flow=1.5, got {text!r}")
        out[name.strip()] = float(value)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=None, help="feature store (default: the built-in one)")
    ap.add_argument("--videos", default=None,
                    help="online mode instead of --store: a folder, a list file or "
                         "builtin[:<split>] of videos, through --classifier")
    ap.add_argument("--classifier", default="builtin",
                    help="online mode: builtin or a two-stream checkpoint (default builtin)")
    ap.add_argument("--cache", default=None,
                    help="online mode: store the videos' states are cached in")
    ap.add_argument("--device", default="auto", help="online mode: classifier device")
    ap.add_argument("--agents", nargs="+", required=True, metavar="SPEC")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--ms", type=int, nargs="+", default=list(MS))
    ap.add_argument("--schemes", nargs="+", default=list(SCHEMES), choices=SCHEMES)
    ap.add_argument("--streams", nargs="+", default=None, help="default: every stream")
    ap.add_argument("--split", default="test")
    ap.add_argument("--alpha", type=float, default=0.0, help="Eq. 10 weight of dropped frames")
    ap.add_argument("--fusion-weights", default=None, help="e.g. rgb=1,flow=1.5")
    ap.add_argument("--own-stream-only", action="store_true",
                    help="single-stream models score only the stream they were trained on")
    ap.add_argument("--selection-m", type=int, default=8)
    ap.add_argument("--no-all", action="store_true",
                    help="do not add the 'all' (every frame) reference row")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.videos is not None:  # online: the videos' states, computed once into the cache
        from frame_select_env.online import materialize

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
            progress=not args.no_progress, add_all=not args.no_all,
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
