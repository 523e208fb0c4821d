"""TSN training input: segment sampling, multi-scale corner crops and a raw-frame Dataset.

Frames come from raw-frame folders (``img_00001.jpg``, ``flow_x_00001.jpg``, ``flow_y_00001.jpg``,
see :mod:`frame_select_env.pipeline.video.rawframes`), one folder per :class:`VideoRecord` at
``frames_root / record.path`` without its extension.

A sample is the K segment snippets of one video with ONE crop geometry and ONE flip decision
shared by all K (TSN's ``Group*`` transforms): RGB ``(K, S, S, 3)`` uint8, flow ``(K, 2L, S, S)``
float32 in ``[-1, 1]`` -- exactly the layouts that ``TwoStreamClassifier.preprocess`` takes.

Randomness is drawn from a generator seeded by ``(seed, epoch, index)``, so an epoch's
augmentation does not depend on the number of DataLoader workers or on a resume.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence, Sized
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from frame_select_env.pipeline.tsn.config import TSNConfig
from frame_select_env.pipeline.video.decode import (
    FLOW_X_TMPL,
    FLOW_Y_TMPL,
    IMG_TMPL,
    VideoReadError,
    count_rawframes,
    sample_indices,
)
from frame_select_env.pipeline.video.flow import dequantize_flow
from frame_select_env.pipeline.video.rawframes import rawframe_dir
from frame_select_env.pipeline.video.views import crop_offsets, hflip

# ----------------------------------------------------------------------------- sampling


def train_offsets(
    num_frames: int, num_segments: int, new_length: int, rng: np.random.Generator
) -> np.ndarray:
    """TSN training sampling: one random start inside each of K equal segments.

    :param num_frames: frames (RGB) or flow fields (flow) of the video
    :param num_segments: K
    :param new_length: frames per snippet (1 RGB, L flow)
    :param rng: random generator
    :return: (K,) 0-based start indices; each window ``[i, i + new_length)`` fits
    """
    starts = num_frames - new_length + 1
    if starts < 1:
        raise ValueError(f"a window of {new_length} does not fit in {num_frames} frames")
    seg = starts // num_segments
    if seg > 0:
        return np.arange(num_segments) * seg + rng.integers(0, seg, size=num_segments)
    # shorter than K windows: sorted random starts (TSN), repeats allowed
    return np.sort(rng.integers(0, starts, size=num_segments))


# ----------------------------------------------------------------------------- cropping


def multiscale_crop_sizes(
    width: int, height: int, crop_size: int, scales: Sequence[float]
) -> list[int]:
    """Candidate crop side lengths of TSN's ``GroupMultiScaleCrop``.

    Each is ``int(shorter side * scale)``, snapped to ``crop_size`` when within 3 px of it. For
    340x256 frames, crop 224 and scales 1, .875, .75, .66 this gives 256, 224, 192, 168.

    :param width: image width
    :param height: image height
    :param crop_size: network input size
    :param scales: ratios of the shorter side
    :return: one size per scale
    """
    base = min(width, height)
    sizes = [int(base * s) for s in scales]
    return [crop_size if abs(s - crop_size) < 3 else s for s in sizes]


def fixed_crop_positions(
    width: int, height: int, crop_w: int, crop_h: int, more_fix_crop: bool = True
) -> list[tuple[int, int]]:
    """TSN's fixed crop positions ``(x, y)`` on a 4x4 grid of steps.

    They are the four corners and the centre, plus (``more_fix_crop``) the four edge middles
    and the four quarter points.

    :param width: image width
    :param height: image height
    :param crop_w: crop width
    :param crop_h: crop height
    :param more_fix_crop: 13 positions instead of 5
    :return: list of ``(x, y)`` top-left corners
    """
    if crop_w > width or crop_h > height:
        raise ValueError(f"crop {crop_w}x{crop_h} is larger than the image {width}x{height}")
    sw, sh = (width - crop_w) // 4, (height - crop_h) // 4
    grid = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2)]
    if more_fix_crop:
        grid += [(0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)]
    return [(i * sw, j * sh) for i, j in grid]


def sample_multiscale_crop(
    width: int,
    height: int,
    crop_size: int,
    scales: Sequence[float],
    max_distort: int,
    more_fix_crop: bool,
    rng: np.random.Generator,
) -> tuple[int, int, int, int]:
    """Draw one TSN multi-scale corner crop.

    Width and height scales are at most ``max_distort`` indices apart; the crop is placed at
    one of the fixed positions (:func:`fixed_crop_positions`).

    :return: ``(x, y, crop_w, crop_h)``
    """
    sizes = multiscale_crop_sizes(width, height, crop_size, scales)
    pairs = [
        (w, h)
        for i, h in enumerate(sizes)
        for j, w in enumerate(sizes)
        if abs(i - j) <= max_distort
    ]
    w, h = pairs[int(rng.integers(len(pairs)))]
    positions = fixed_crop_positions(width, height, w, h, more_fix_crop)
    x, y = positions[int(rng.integers(len(positions)))]
    return x, y, w, h


def _crop_resize(img: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    x, y, w, h = box
    out = img[y : y + h, x : x + w]
    if out.shape[0] != size or out.shape[1] != size:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR)
    return out


# ----------------------------------------------------------------------------- dataset


def frames_dir(frames_root: str | os.PathLike, record) -> Path:
    """Raw-frame folder of a record (``frames_root / path`` without the extension)."""
    return rawframe_dir(frames_root, record.path)


class TSNDataset(Dataset):
    """TSN snippets from raw-frame folders.

    Items are indexed by ``(index, epoch)`` (see :class:`EpochSampler`) or a plain index
    (epoch 0). Train mode: one random snippet per segment, multi-scale corner crop, random
    flip. Eval mode: segment centres (:func:`sample_indices`), centre crop.

    :param records: videos (``.path`` relative to ``frames_root``, ``.label`` 0-based)
    :param frames_root: root of the raw-frame folders
    :param cfg: the TSN configuration (stream, L, sizes, augmentation)
    :param train: training (random) or evaluation (deterministic) sampling
    :param num_segments: segments per video; default ``cfg.num_segments`` (train) or
        ``cfg.eval_segments`` (eval)
    :param check: verify now that every folder exists (clear error listing missing ones)
    """

    def __init__(
        self,
        records: Sequence,
        frames_root: str | os.PathLike,
        cfg: TSNConfig,
        train: bool,
        num_segments: int | None = None,
        check: bool = True,
    ) -> None:
        self.records = list(records)
        self.frames_root = Path(frames_root)
        self.cfg = cfg
        self.train = train
        self.num_segments = num_segments or (cfg.num_segments if train else cfg.eval_segments)
        for i, r in enumerate(self.records):
            if r.label is None or int(r.label) < 0:
                raise ValueError(f"TSNDataset: record {i} ({r.path}) has no label")
        if check:
            missing = [
                str(frames_dir(self.frames_root, r))
                for r in self.records
                if not frames_dir(self.frames_root, r).is_dir()
            ]
            if missing:
                raise FileNotFoundError(
                    f"TSNDataset: {len(missing)} of {len(self.records)} raw-frame folders are "
                    f"missing under {self.frames_root}, e.g. {missing[:3]} "
                    "(make them with scripts/extract_features.py --rawframes-out)"
                )

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> np.ndarray:
        """(N,) int labels."""
        return np.array([int(r.label) for r in self.records], dtype=np.int64)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[np.ndarray, int]:
        index, epoch = (key, 0) if isinstance(key, (int, np.integer)) else key
        record = self.records[int(index)]
        rng = np.random.default_rng([self.cfg.seed, int(epoch), int(index), int(self.train)])
        folder = frames_dir(self.frames_root, record)
        rgb = self.cfg.reads_frames
        n = count_rawframes(folder, "img_" if rgb else "flow_x_")
        length = self.cfg.new_length
        if n < length:
            kind = "frames" if rgb else "flow fields"
            raise VideoReadError(folder, f"too few {kind}: {n} < {length} needed")
        if self.train:
            starts = train_offsets(n, self.num_segments, length, rng)
        else:
            starts = sample_indices(n, self.num_segments, length)
        if rgb:
            snippets = [self._read(folder, IMG_TMPL, int(s), color=True) for s in starts]
        else:
            cache: dict[tuple[str, int], np.ndarray] = {}
            snippets = [
                np.stack(
                    [
                        self._read(folder, tmpl, int(s) + j, False, cache)
                        for j in range(length)
                        for tmpl in (FLOW_X_TMPL, FLOW_Y_TMPL)
                    ],
                    axis=-1,
                )
                for s in starts
            ]
        out, flip = self._transform(np.stack(snippets), rng)  # (K, S, S, C) uint8
        if rgb:
            if flip:
                out = hflip(out, layout="hwc")
            return np.ascontiguousarray(out), int(record.label)
        # flipping flow negates x, which needs signed values: flip after dequantising
        flow = dequantize_flow(out).transpose(0, 3, 1, 2)  # (K, 2L, S, S) in [-1, 1]
        if flip:
            flow = hflip(flow, layout="chw", is_flow=True)
        return np.ascontiguousarray(flow), int(record.label)

    def _read(
        self,
        folder: Path,
        tmpl: str,
        i: int,
        color: bool,
        cache: dict[tuple[str, int], np.ndarray] | None = None,
    ) -> np.ndarray:
        key = (tmpl, i)
        if cache is not None and key in cache:
            return cache[key]
        f = folder / tmpl.format(i + 1)
        img = cv2.imread(str(f), cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise VideoReadError(folder, f"cannot read {f.name}")
        if color:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        fs = self.cfg.frame_size
        if fs is not None and (img.shape[1], img.shape[0]) != tuple(fs):
            img = cv2.resize(img, tuple(fs), interpolation=cv2.INTER_LINEAR)
        if cache is not None:
            cache[key] = img
        return img

    def _transform(
        self, frames: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, bool]:
        """Crop (and resize) all K snippets with one shared geometry.

        :param frames: (K, H, W, C) uint8
        :param rng: the sample's generator
        :return: ``((K, S, S, C) uint8, whether to flip)``
        """
        cfg = self.cfg
        k, h, w, _ = frames.shape
        s = cfg.crop_size
        if self.train:
            box = sample_multiscale_crop(
                w, h, s, cfg.scales, cfg.max_distort, cfg.more_fix_crop, rng
            )
            out = np.stack([_crop_resize(f, box, s).reshape(s, s, -1) for f in frames])
            return out, cfg.flip and bool(rng.random() < 0.5)
        if s > min(h, w):
            raise ValueError(
                f"TSNDataset: crop_size {s} is larger than the frames ({w}x{h}); set frame_size"
            )
        top, left = crop_offsets(h, w, s)[0]
        return frames[:, top : top + s, left : left + s], False


# ----------------------------------------------------------------------------- samplers


class EpochSampler(Sampler):
    """Wrap an index sampler so that it yields ``(index, epoch)`` keys for :class:`TSNDataset`.

    This makes each epoch's augmentation a function of (seed, epoch, index) only.

    :param sampler: a sampler with ``set_epoch`` (e.g. ``DistributedSampler``)
    """

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch the next keys carry (and the wrapped sampler's, where it has one).

        :param epoch: the epoch about to start.
        """
        self.epoch = int(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for i in self.sampler:
            yield int(i), self.epoch

    def __len__(self) -> int:
        # torch's Sampler type has no __len__; the wrapped samplers (e.g. Distributed) have one
        return len(cast(Sized, self.sampler))


class ShardSampler(Sampler):
    """Evaluation sampler: rank ``r`` of ``w`` gets indices ``r, r + w, ...``.

    There is no padding, so summed counts over ranks cover every video exactly once.

    :param n: dataset size
    :param rank: this process's rank
    :param world_size: number of processes
    """

    def __init__(self, n: int, rank: int = 0, world_size: int = 1) -> None:
        self.indices = list(range(rank, n, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def collate(batch: list[tuple[np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack samples: ``(B, K, ...)`` views (uint8 RGB / float32 flow) and ``(B,)`` labels."""
    x = torch.from_numpy(np.stack([b[0] for b in batch]))
    y = torch.tensor([b[1] for b in batch], dtype=torch.long)
    return x, y


def worker_init(_: int) -> None:
    """DataLoader worker setup: one OpenCV thread per worker (the workers are the parallelism)."""
    cv2.setNumThreads(1)
