"""Benchmarks of the REINFORCE trainer and the agent.

1. Training throughput (videos/s) of the batched trainer vs the per-video loop (``batch_size=1``,
   as the paper and pytorch-vsumm-reinforce), same model, same N, same epochs, and the test
   accuracy each reaches (AS, frame-based, at the training m and at the best m).
2. The BiLSTM's achieved FLOP rate in training (forward + backward) as a fraction of this CPU's
   measured float32 matmul rate.
3. The agent's inference cost per video as a fraction of the frozen classifier's
   (``TwoStreamClassifier`` with the built-in config's small CNN on a video's T x V crops).

    python benchmarks/bench_train.py                     # built-in store (else a toy store)
    python benchmarks/bench_train.py --store S.h5 --epochs 10 --threads 1 --seeds 1 --json out.json
    python benchmarks/bench_train.py --set baseline_mode=episode_mean --set lr=3e-3   # a variant

The accuracy of one seed moves by about a point (a test video is 0.4 points on the built-in
store), as much as the tolerance of the comparison, so the default averages 10 seeds and prints
the standard error of the difference.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.as_agent import ASAgent, ASPolicy
from agents.reinforce import ReinforceConfig, ReinforceTrainer
from frame_select_env.cli import option, parse
from frame_select_env.cli.overrides import parse_overrides
from frame_select_env.core.config import load_yaml
from frame_select_env.evaluation import evaluate_policies
from frame_select_env.store.builtin import builtin_config, resolve_store
from frame_select_env.store.synthetic import make_synthetic_store


@dataclass
class Args:
    """The arguments of ``bench_train.py``."""

    store: str | None = option(None, "feature store (default: the built-in one)")
    stream: str = option("rgb", "the stream the agents read")
    epochs: int | None = option(None, "default: the config's")
    batch_size: int | None = option(None, "batched trainer (default: config)")
    threads: int = option(0, "torch threads for both trainers (0: torch's default, every core)")
    seeds: int = option(10, "seeds per trainer; accuracy is their mean (one seed's accuracy "
                            "moves by about a point, as much as the tolerance of the comparison)")
    overrides: list[str] = option([], "override a training option for both trainers, e.g. "
                                      "--set lr=3e-3 (repeatable)", flag="set",
                                  metavar="KEY=VALUE")
    skip_per_video: bool = option(False, "only the batched trainer")
    json: str | None = option(None, "also write the results here")


def load_default_config() -> ReinforceConfig:
    """The packaged config ``builtin:as_sparse_actions.yaml``.

    Tensorboard is off: the benchmark times the training epochs only.
    """
    data = load_yaml(builtin_config("as_sparse_actions.yaml"), "config")
    return ReinforceConfig.from_dict({**data, "tensorboard": False})


def train_and_eval(
    store: Path, stream: str, configs: dict[str, ReinforceConfig]
) -> dict[str, dict[str, float]]:
    """Train one agent per config, epochs interleaved; time the training epochs, then evaluate.

    Interleaving the epochs makes a load change on a shared machine hit every run alike.

    :param store: the feature store.
    :param stream: the stream the agents read.
    :param configs: one training config per run name.
    :return: per run name, its speed (``videos_per_s``, ``train_seconds``) and its test accuracy
        (frame-based, at the training m, at the best m, and with all frames).
    """
    trainers = {name: ReinforceTrainer(store, stream, cfg) for name, cfg in configs.items()}
    seconds = dict.fromkeys(trainers, 0.0)
    for trainer in trainers.values():
        trainer.train_epoch()  # warm-up epoch, not timed (first-call allocations)
    epochs = max(cfg.epochs for cfg in configs.values())
    for _ in range(1, epochs):
        for name, trainer in trainers.items():
            if trainer.epoch < trainer.config.epochs:
                start = time.perf_counter()
                trainer.train_epoch()
                seconds[name] += time.perf_counter() - start
    out = {}
    for name, trainer in trainers.items():
        cfg = trainer.config
        rows = evaluate_policies({"as": {stream: ASPolicy(trainer.agent.cpu())}}, store,
                                 streams=(stream,), ms=(4, 8, 12, 16, 20), schemes=("frame",))
        acc = {(r["agent"], r["m"]): r["accuracy"] for r in rows}
        best_m = max((m for a, m in acc if a == "as"), key=lambda m: acc[("as", m)])
        videos = trainer.num_videos * (cfg.epochs - 1)
        out[name] = {"batch_size": cfg.batch_size, "videos_per_s": videos / seconds[name],
                     "train_seconds": seconds[name], "accuracy_at_m": acc[("as", cfg.m)],
                     "best_accuracy": acc[("as", best_m)], "best_m": best_m,
                     "all_frames": acc[("all", cfg.m)]}
    return out


def lstm_flops(agent: ASAgent, batch: int, num_frames: int) -> float:
    """FLOPs (2 per multiply-add) of one forward pass: projections, BiLSTM, head.

    :param agent: the agent whose network is counted.
    :param batch: sequences in the batch.
    :param num_frames: frames per sequence (T).
    """
    cfg = agent.config
    dims = {"features": cfg.feature_dim, "predictions": cfg.num_classes}
    per_frame = sum(2 * dims[p] * cfg.proj_dim for p in cfg.parts)
    inp, h = cfg.proj_dim * len(cfg.parts), cfg.hidden_size
    for _ in range(cfg.num_layers):
        per_frame += 2 * 2 * 4 * h * (inp + h)  # 2 directions x 4 gates x (input + recurrent)
        inp = 2 * h
    per_frame += 2 * 2 * h  # the shared head
    return batch * num_frames * per_frame


def matmul_rate(size: int = 512, repeats: int = 20) -> float:
    """This CPU's float32 matmul rate in FLOP/s (after three warm-up products).

    :param size: side of the square matrices.
    :param repeats: timed products.
    """
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def flop_fraction(cfg: ReinforceConfig, feature_dim: int, num_classes: int,
                  num_frames: int) -> dict[str, float]:
    """The BiLSTM's achieved training FLOP rate (forward + backward) vs the matmul rate.

    :param cfg: the training config (batch size, episodes, shared views, the agent).
    :param feature_dim: D of the stream.
    :param num_classes: C of the store.
    :param num_frames: T of the store.
    :return: the batch, the step time, the achieved and the matmul GFLOP/s and their ratio.
    """
    torch.manual_seed(0)
    agent = ASAgent(cfg.agent_config(feature_dim, num_classes))
    # One sequence per video with shared views (the default), one per episode otherwise.
    batch = cfg.batch_size * (1 if cfg.shared_view else cfg.num_episodes)
    obs = {"features": torch.randn(batch, num_frames, feature_dim),
           "predictions": torch.softmax(torch.randn(batch, num_frames, num_classes), -1)}
    opt = torch.optim.Adam(agent.parameters())

    def step() -> None:
        """One forward and backward pass of the whole batch."""
        opt.zero_grad()
        agent.logits(obs).sum().backward()

    for _ in range(3):
        step()
    repeats = 20
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    seconds = (time.perf_counter() - start) / repeats
    achieved = 3 * lstm_flops(agent, batch, num_frames) / seconds  # forward + 2x backward
    peak = matmul_rate()
    return {"batch_sequences": batch, "step_ms": 1e3 * seconds, "achieved_gflops": achieved / 1e9,
            "matmul_gflops": peak / 1e9, "fraction_of_matmul": achieved / peak}


def inference_cost(cfg: ReinforceConfig, feature_dim: int, num_classes: int, num_frames: int,
                   num_views: int) -> dict[str, float | str]:
    """Agent vs classifier time per video (both streams, T x V crops).

    :param cfg: the training config (the agent).
    :param feature_dim: D of the stream.
    :param num_classes: C of the store.
    :param num_frames: T of the store.
    :param num_views: V of the stream.
    :return: the agent's milliseconds per video and, when the classifier imports, the
        classifier's and the agent's fraction of it.
    """
    torch.manual_seed(0)
    agent = ASAgent(cfg.agent_config(feature_dim, num_classes)).eval()
    policy = ASPolicy(agent)
    obs = {"features": np.random.randn(num_views, num_frames, feature_dim).astype(np.float32),
           "predictions": np.full((num_views, num_frames, num_classes), 1 / num_classes,
                                  np.float32)}

    def time_it(fn: Callable[[], Any], repeats: int) -> float:
        """Seconds per call of ``fn`` over ``repeats`` calls, after one warm-up call."""
        fn()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - start) / repeats

    # One video = V sequences per stream; two streams.
    agent_s = 2 * time_it(lambda: policy.scores(obs), 50)
    out: dict[str, float | str] = {"agent_ms_per_video": 1e3 * agent_s}
    try:
        from frame_select_env.pipeline.models.classifier import TwoStreamClassifier
    except ImportError as err:
        out["classifier"] = f"missing ({err})"
        return out
    tsn = load_yaml(builtin_config("tsn/sparse_actions_rgb.yaml"), "TSN config")
    clf = TwoStreamClassifier.random_init(arch=tsn.get("arch", "small"), num_classes=num_classes,
                                          backbone_kwargs=tsn.get("arch_kwargs"), device="cpu")
    crop = int(tsn.get("crop_size", 112))
    rgb = np.random.randint(0, 255, (num_frames, num_views, crop, crop, 3), np.uint8)
    flow_length = clf.flow_length
    assert flow_length is not None, "the random-init classifier has both streams"
    flow = np.random.uniform(-1, 1, (num_frames, num_views, 2 * flow_length, crop, crop))
    flow = flow.astype(np.float32)
    clf_s = time_it(lambda: (clf.extract("rgb", rgb), clf.extract("flow", flow)), 3)
    out.update(classifier=f"TwoStreamClassifier small CNN {tsn.get('arch_kwargs')}, "
                          f"{num_frames}x{num_views} crops of {crop}x{crop}, rgb + flow",
               classifier_ms_per_video=1e3 * clf_s, agent_fraction_of_classifier=agent_s / clf_s)
    return out


def mean_and_sem(values: list[float]) -> tuple[float, float]:
    """Mean and its standard error (0 for a single value).

    :param values: one or more numbers.
    """
    arr = np.asarray(values, dtype=float)
    sem = float(arr.std(ddof=1) / np.sqrt(len(arr))) if len(arr) > 1 else 0.0
    return float(arr.mean()), sem


def main(argv: list[str] | None = None) -> int:
    """Benchmark the batched vs the per-video trainer, the FLOP rate and the inference cost.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    :return: the exit status, 0.
    """
    args = parse(Args, argv, description=__doc__)
    if args.threads:
        torch.set_num_threads(args.threads)

    try:
        store = resolve_store(args.store or None, "--store")
    except FileNotFoundError as err:
        if args.store:
            raise SystemExit(f"bench_train: {err}") from None
        store = Path(tempfile.mkdtemp()) / "toy.h5"
        print("built-in store missing: benchmarking on a toy store")
        make_synthetic_store(store, num_videos=500, num_views=10, feature_dim=12,
                             split_fractions=(0.4, 0.1, 0.5))
    try:
        cfg = ReinforceConfig.from_dict({**load_default_config().to_dict(),
                                         **parse_overrides(args.overrides)}, where="--set")
    except (TypeError, ValueError) as err:
        raise SystemExit(f"bench_train: {err}") from None
    if args.epochs:
        cfg.epochs = args.epochs
    if args.batch_size:
        cfg.batch_size = args.batch_size
    # the whole schedule at each run's own length (epochs may be reduced)
    cfg.lr_milestones = tuple(m for m in cfg.lr_milestones if m < cfg.epochs)
    results: dict[str, Any] = {"store": str(store), "stream": args.stream,
                               "threads": torch.get_num_threads(), "config": cfg.to_dict()}

    print(f"training {cfg.epochs} epochs, N={cfg.num_episodes}, threads={args.threads}")
    kinds = {"batched": cfg.batch_size}
    if not args.skip_per_video:
        kinds["per_video"] = 1
    configs = {f"{kind}/{seed}": ReinforceConfig.from_dict({**cfg.to_dict(), "batch_size": b,
                                                           "seed": seed})
               for seed in range(args.seeds) for kind, b in kinds.items()}
    runs = train_and_eval(store, args.stream, configs)
    for kind in kinds:
        per_seed = [runs[f"{kind}/{seed}"] for seed in range(args.seeds)]
        videos = sum(r["videos_per_s"] * r["train_seconds"] for r in per_seed)
        seconds = sum(r["train_seconds"] for r in per_seed)
        best, best_sem = mean_and_sem([r["best_accuracy"] for r in per_seed])
        results[kind] = {
            "batch_size": kinds[kind], "seeds": args.seeds, "videos_per_s": videos / seconds,
            "train_seconds": seconds,
            **{k: float(np.mean([r[k] for r in per_seed]))
               for k in ("accuracy_at_m", "all_frames")},
            "best_accuracy": best, "best_accuracy_sem": best_sem,
            "best_accuracy_per_seed": [r["best_accuracy"] for r in per_seed],
        }
        print(f"{kind}: {results[kind]}")
    if not args.skip_per_video:
        batched, per_video = results["batched"], results["per_video"]
        speedup = batched["videos_per_s"] / per_video["videos_per_s"]
        gap = batched["best_accuracy"] - per_video["best_accuracy"]
        gap_sem = float(np.hypot(batched["best_accuracy_sem"], per_video["best_accuracy_sem"]))
        # "at equal accuracy": the batched trainer may not lose more than a point (ending higher
        # is no loss)
        met = speedup >= 10 and gap >= -1.0
        results.update(speedup=speedup, accuracy_difference=gap, accuracy_difference_sem=gap_sem,
                       target_met=met)
        print(f"speed-up {speedup:.1f}x, accuracy difference {gap:+.2f} +- {gap_sem:.2f} points "
              f"(best m, mean of {args.seeds} seeds +- standard error); target (>= 10x, at most 1 "
              f"point lower): {'met' if met else 'missed'}")

    from frame_select_env.store import FeatureStore

    fs = FeatureStore(store)
    d, c, t, v = fs.feature_dim(args.stream), fs.num_classes, fs.num_frames, fs.num_views(
        args.stream)
    results["flops"] = flop_fraction(cfg, d, c, t)
    print(f"BiLSTM training FLOP rate: {results['flops']}")
    results["inference"] = inference_cost(cfg, d, c, t, v)
    print(f"inference per video: {results['inference']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
