#!/usr/bin/env python
"""Agent comparison time: the full evaluation vs just running the agents.

Times :func:`frame_select_env.evaluation.evaluate_policies` for 6 agents (random, uniform,
confidence, oracle, the AS agent and an SB3 PPO BiLSTM agent) x 6 values of m x 2 schemes x 2
streams (+ fused) on the test split, and one forward pass of the same agents (every view of every
test video scored once, per stream). The evaluation is batched (one ``scores`` call per view
over all videos, the top-m selection and aggregation as array operations), so the ratio should
stay small: the extra cost is selecting and aggregating 6 x 2 times, plus ``uniform`` being
asked once per m.

Learned agents are untrained unless ``--as PATH`` / ``--ppo PATH`` are given (the timing does
not depend on the weights). Without ``--store`` the built-in store is used; ``--synthetic``
times a synthetic store of the same shape as the built-in one instead.

    python benchmarks/bench_compare.py [--store PATH] [--repeats 3] [--out bench.json]
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frame_select_env.cli import option, parse
from frame_select_env.core.constants import DEFAULT_MS, SCHEMES, STREAMS
from frame_select_env.store.builtin import resolve_store


def build_agents(store: Any, streams: list[str], as_path: str | None, ppo_path: str | None
                 ) -> dict[str, dict[str, Any]]:
    """The six agents, one policy per stream."""
    import torch

    from agents.as_agent import ASAgent, ASAgentConfig, ASPolicy
    from baselines_zoo.policies import make_policy
    from baselines_zoo.registry import parse_agent_spec
    from frame_select_env.core.policy import SB3ScoresPolicy

    agents: dict[str, dict[str, Any]] = {
        name: {s: make_policy(name) for s in streams}
        for name in ("random", "uniform", "confidence", "oracle")
    }
    shapes: dict[str, dict[str, tuple[int, ...]]] = {
        s: {"features": (store.num_frames, store.feature_dim(s)),
            "predictions": (store.num_frames, store.num_classes)} for s in streams
    }
    if as_path:
        agents["as"] = parse_agent_spec(f"as:{as_path}").policies(streams, input_shapes=shapes)
    else:
        torch.manual_seed(0)
        agents["as"] = {s: ASPolicy(ASAgent(ASAgentConfig(store.feature_dim(s),
                                                          store.num_classes)), name="as")
                        for s in streams}
    if ppo_path:
        agents["ppo"] = parse_agent_spec(f"ppo:{ppo_path}").policies(streams,
                                                                     input_shapes=shapes)
    else:
        from stable_baselines3 import PPO

        from baselines_zoo.sb3.train import make_env

        agents["ppo"] = {}
        for s in streams:
            env = make_env(store.path, s, "ppo", 1, 0, {})
            from baselines_zoo.sb3.policies import policy_for

            policy_cls, kwargs = policy_for("ppo", "bilstm", {"proj_dim": 64, "hidden_size": 64})
            model = PPO(policy_cls, env, policy_kwargs=kwargs, device="cpu", n_steps=64)
            agents["ppo"][s] = SB3ScoresPolicy(model, name="ppo")
    return agents


def median_time(fn: Any, repeats: int) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``fn()``.

    :param fn: a callable taking no arguments.
    :param repeats: how many times to call it.
    :return: the median time in seconds.
    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Args:
    """The arguments of ``bench_compare.py``."""

    store: str | None = option(None, "feature store (default: the built-in one)")
    synthetic: bool = option(False, "time a synthetic store (when the built-in one is not built)")
    as_path: str | None = option(None, "an AS checkpoint / run dir", flag="as")
    ppo_path: str | None = option(None, "an SB3 PPO model.zip", flag="ppo")
    repeats: int = option(3, "timed repeats (the median is kept)")
    threads: int = option(1, "torch CPU threads")
    out: str | None = option(None, "write the numbers as JSON here")


def main(argv: list[str] | None = None) -> int:
    """Time the evaluation, the forward pass and each agent; print (and save) the JSON.

    :param argv: command-line arguments (default: ``sys.argv[1:]``).
    :return: the exit status.
    """
    args = parse(Args, argv, description=__doc__)

    import torch

    from frame_select_env.evaluation import evaluate_policies, load_split, policy_importance
    from frame_select_env.store import FeatureStore

    torch.set_num_threads(args.threads)
    if args.synthetic:
        from frame_select_env.store.synthetic import make_synthetic_store

        tmp = tempfile.mkdtemp()
        store_path = make_synthetic_store(Path(tmp) / "synthetic.h5", num_videos=2000,
                                          feature_dim=64, num_classes=10, num_views=1)
    else:
        store_path = resolve_store(args.store, "--store")
    store = FeatureStore(store_path)
    streams = [s for s in STREAMS if s in store.streams]
    ms, schemes = DEFAULT_MS, SCHEMES

    start = time.perf_counter()
    data = load_split(store, "test", streams)
    load_s = time.perf_counter() - start
    agents = build_agents(store, streams, args.as_path, args.ppo_path)
    info = {"label": data.labels, "relevance": data.relevance}

    def forward() -> None:
        for per_stream in agents.values():
            for s, policy in per_stream.items():
                policy_importance(policy, data.obs[s], info)

    def evaluate() -> list:
        return evaluate_policies(agents, store, "test", streams, ms, schemes, data=data,
                                 include_all=False)

    evaluate()  # warm-up (imports, allocator)
    forward_s = median_time(forward, args.repeats)
    eval_s = median_time(evaluate, args.repeats)
    per_agent = {}
    for name, per_stream in agents.items():
        per_agent[name] = median_time(lambda n=name, p=per_stream: evaluate_policies(
            {n: p}, store, "test", streams, ms, schemes, data=data, include_all=False),
            args.repeats)
    num_videos = len(data.labels)
    views = next(iter(data.obs.values()))["predictions"].shape[2]
    result = {
        "store": str(store_path), "test_videos": num_videos, "views": views,
        "frames": data.num_frames, "streams": streams, "agents": list(agents),
        "ms": list(ms), "schemes": list(schemes), "rows": len(evaluate()),
        "load_split_s": round(load_s, 4), "forward_pass_s": round(forward_s, 4),
        "evaluate_s": round(eval_s, 4), "ratio_evaluate_over_forward": round(eval_s / forward_s, 2),
        "evaluate_per_agent_s": {k: round(v, 4) for k, v in per_agent.items()},
        "torch_threads": args.threads,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
