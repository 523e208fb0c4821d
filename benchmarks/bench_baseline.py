#!/usr/bin/env python
r"""TSN baseline training throughput: the real training loop vs the network alone.

For each setting, measured side by side in one run:

* train  -- frames/s of the trainer's own epoch loop (``_train_epoch``: DataLoader with JPEG
  decoding, multi-scale crop, flip, normalisation, forward, backward, clipping, SGD step);
* fwd+bwd -- frames/s of forward + backward + SGD step alone, on one preloaded batch of the
  same shape (the upper bound for the loop);
* ratio  -- train / fwd+bwd (1.0 = the input pipeline costs nothing);
* data share -- fraction of the loop's wall time spent waiting for the next batch.

A "frame" is one network input (a snippet: one RGB image or one 2L-channel flow stack), so a
batch of B videos with K segments is B*K frames.

Input: raw-frame folders made from the nine real UCF101 clips in ``../shared/realdata`` (340x256,
DIS flow), or synthetic folders with ``--source synthetic`` (or when the clips are absent).

    python benchmarks/bench_baseline.py          # small CNN, rgb + flow, 0 and 2 workers
    python benchmarks/bench_baseline.py --arch resnet18 --batch-size 4 --crop 224 \
        --frame-size 340 256 --workers 2

On a CPU, loader workers share the cores with the network: with few cores a higher data
share or a lower ratio with workers is contention, not an input-pipeline bottleneck.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from frame_select_env.cli import option, parse
from frame_select_env.core.constants import STREAMS
from frame_select_env.pipeline.datasets import VideoRecord
from frame_select_env.pipeline.tsn import TSNConfig, TSNDataset, build_model, param_groups
from frame_select_env.pipeline.tsn.data import EpochSampler
from frame_select_env.pipeline.tsn.synthetic import make_synthetic_rawframes
from frame_select_env.pipeline.tsn.trainer import _loader, _preprocessor, _train_epoch

CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "ucf101_clips"


@dataclass
class Args:
    """The arguments of ``bench_baseline.py``."""

    arch: str = option("small", "TSN backbone ('small': a small CNN, feature_dim 64, width 16)")
    source: str = option("real", "the nine real UCF101 clips (when present) or synthetic videos",
                         choices=("real", "synthetic"))
    batch_size: int = option(16, "videos per batch")
    segments: int = option(3, "TSN segments K per video")
    crop: int = option(112, "crop side")
    frame_size: tuple[int, int] = option((149, 112), "frames resized to W H",
                                         metavar=("W", "H"))
    streams: list[str] = option(["rgb", "flow"], "streams to measure", choices=STREAMS)
    workers: list[int] = option([0, 2], "DataLoader worker counts to measure")
    trials: int = option(3, "timed epochs (the fastest is kept)")
    repeat: int = option(4, "copies of the clip list per epoch")
    threads: int = option(0, "torch threads (0: torch's default)")
    cache: Path | None = option(None, "raw-frame cache folder (default: a temp dir)")


class TimedLoader:
    """Iterate a DataLoader, accumulating the time spent waiting for each batch.

    :param loader: the DataLoader to time; :attr:`wait` sums the seconds spent in ``next``.
    """

    def __init__(self, loader: Any) -> None:
        self.loader, self.wait = loader, 0.0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        it = iter(self.loader)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            self.wait += time.perf_counter() - t0
            yield batch


def real_frames(cache: Path) -> tuple[list[VideoRecord], list[str]]:
    """Raw-frame folders (DIS flow) of the nine real clips, made once into ``cache``.

    :param cache: the folder of the raw-frame folders (a clip already there is not redone).
    :return: one record per clip and the class names.
    """
    from frame_select_env.pipeline.video.rawframes import extract_rawframes

    clips = sorted(CLIPS.glob("*.mp4"))
    classes = sorted({p.stem.split("_")[1] for p in clips})
    records = []
    for p in clips:
        extract_rawframes(p, cache / p.stem, flow_method="dis")  # skipped when it exists
        records.append(VideoRecord(f"{p.stem}.mp4", classes.index(p.stem.split("_")[1])))
    return records, classes


def bench(cfg: TSNConfig, records: list[VideoRecord], root: Path, classes: list[str],
          trials: int) -> dict[str, float]:
    """Time the trainer's epoch loop against fwd+bwd steps alone on one preloaded batch.

    Alternates ``trials`` timed epochs of the real loop with as many fwd+bwd steps alone; keeps
    the fastest of each (the machine may be shared: the best time is the least disturbed one).

    :param cfg: the TSN training settings of this setting.
    :param records: the videos of one epoch.
    :param root: the raw-frame folders of the videos.
    :param classes: the class names.
    :param trials: timed epochs (and fwd+bwd runs) per measurement.
    :return: ``train_fps``, ``net_fps``, ``ratio`` (train / fwd+bwd) and ``data_share``.
    """
    dev = torch.device("cpu")
    torch.manual_seed(0)
    model = build_model(cfg, len(classes))
    opt = torch.optim.SGD(param_groups(model, cfg), lr=cfg.lr, momentum=cfg.momentum)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    ds = TSNDataset(records, root, cfg, train=True)
    sampler = EpochSampler(torch.utils.data.RandomSampler(ds, generator=torch.Generator()))
    loader = TimedLoader(_loader(ds, sampler, cfg.batch_size, cfg, dev, drop_last=True))
    prep = _preprocessor(model, cfg.stream, dev)
    steps = len(loader)
    frames = steps * cfg.batch_size * cfg.num_segments

    x, y = next(iter(loader.loader))
    inp = prep(x)

    def step() -> None:
        """One forward, backward and SGD step on the preloaded batch."""
        _, logits = model(inp)
        loss = torch.nn.functional.cross_entropy(
            logits.view(len(y), cfg.num_segments, -1).mean(1), y
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def run_loop() -> tuple[float, float]:
        """One epoch of the trainer's loop: its seconds and the seconds spent waiting for data."""
        loader.wait = 0.0
        t0 = time.perf_counter()
        _train_epoch(model, loader, prep, opt, scaler, cfg, dev, False, 1, None)
        return time.perf_counter() - t0, loader.wait

    def run_net() -> float:
        """As many fwd+bwd steps as the loop has batches: their seconds."""
        model.train()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        return time.perf_counter() - t0

    run_loop()  # warm-up: worker start, allocator, first-call costs
    run_net()
    loops, nets = [], []
    for _ in range(trials):
        loops.append(run_loop())
        nets.append(run_net())
    loop_s, wait_s = min(loops)
    net_s = min(nets)
    return {
        "train_fps": frames / loop_s,
        "net_fps": frames / net_s,
        "ratio": net_s / loop_s,
        "data_share": wait_s / loop_s,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every stream x workers setting and print one table row each.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    :return: the exit status, 0.
    """
    args = parse(Args, argv, description=__doc__)
    frame_size = list(args.frame_size)  # [W, H], as TSNConfig holds it and the header prints it
    if args.threads:
        torch.set_num_threads(args.threads)

    tmp = tempfile.TemporaryDirectory(prefix="bench_baseline_")
    cache = args.cache or Path(tmp.name)
    if args.source == "real" and CLIPS.is_dir():
        t0 = time.perf_counter()
        records, classes = real_frames(cache)
        source = f"{len(records)} real UCF101 clips ({time.perf_counter() - t0:.0f}s to prepare)"
    else:
        records, classes = make_synthetic_rawframes(
            cache, num_classes=4, videos_per_class=4, num_frames=40, size=(340, 256)
        )
        source = f"{len(records)} synthetic 340x256 videos"
    records = records * args.repeat
    kw = {"feature_dim": 64, "width": 16} if args.arch == "small" else {}
    print(
        f"TSN training throughput, arch={args.arch}, batch={args.batch_size} videos x "
        f"K={args.segments}, crop {args.crop}, frames resized to {frame_size}, "
        f"{source}, torch threads {torch.get_num_threads()}, CPU"
    )
    print(f"{'stream':6} {'workers':>7} {'train fr/s':>11} {'fwd+bwd fr/s':>13} "
          f"{'ratio':>6} {'data share':>10}")
    for stream in args.streams:
        for workers in args.workers:
            cfg = TSNConfig(
                stream=stream, arch=args.arch, arch_kwargs=kw, num_segments=args.segments,
                batch_size=args.batch_size, crop_size=args.crop, frame_size=frame_size,
                workers=workers, amp=False, lr=0.001, lr_steps=[100], epochs=1,
                scales=[1.0, 0.875, 0.75, 0.66] if stream == "rgb" else [1.0, 0.875, 0.75],
            )
            r = bench(cfg, records, cache, classes, args.trials)
            print(f"{stream:6} {workers:>7} {r['train_fps']:>11.1f} {r['net_fps']:>13.1f} "
                  f"{r['ratio']:>6.2f} {r['data_share']:>10.2f}", flush=True)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
