"""A tiny, easy, synthetic raw-frame dataset for tests and benchmarks of the TSN trainer.

Class ``c`` has a class-specific mean colour (RGB stream) and a class-specific vertical motion
(flow stream; the horizontal motion is random per video, so horizontal flips keep the label
meaningful). Both streams are learnable in a few epochs by a small CNN.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from frame_select_env.pipeline.datasets.lists import VideoRecord
from frame_select_env.pipeline.video.decode import FLOW_X_TMPL, FLOW_Y_TMPL, IMG_TMPL
from frame_select_env.pipeline.video.flow import quantize_flow
from frame_select_env.pipeline.video.rawframes import rawframe_dir


def make_synthetic_rawframes(
    root: str | os.PathLike,
    num_classes: int = 3,
    videos_per_class: int = 8,
    num_frames: int = 12,
    size: tuple[int, int] = (64, 48),
    seed: int = 0,
    noise: float = 25.0,
) -> tuple[list[VideoRecord], list[str]]:
    """Write raw-frame folders ``root/<Class>/v_<Class>_gXX_cYY/`` (img, flow_x, flow_y JPEGs).

    :param root: output root (the ``frames_root`` of the trainer)
    :param num_classes: C
    :param videos_per_class: videos per class; records alternate ``train`` / ``test`` splits
        (3 of every 4 videos are ``train``)
    :param num_frames: frames per video (``num_frames - 1`` flow fields)
    :param size: frame size (W, H)
    :param seed: random seed
    :param noise: std of the per-pixel noise (grey levels)
    :return: ``(records, class_names)``, records with 0-based labels and splits
    """
    if num_classes < 2 or videos_per_class < 1 or num_frames < 2:
        raise ValueError("make_synthetic_rawframes: need >= 2 classes, >= 1 video, >= 2 frames")
    rng = np.random.default_rng(seed)
    w, h = size
    names = [f"Class{c:02d}" for c in range(num_classes)]
    hues = np.linspace(0, 179, num_classes, endpoint=False)
    records: list[VideoRecord] = []
    for c, name in enumerate(names):
        hsv = np.array([[[hues[c], 200, 180]]], dtype=np.uint8)
        base = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
        vy = (c - (num_classes - 1) / 2) * 12.0 / max(1, num_classes - 1)  # px/frame
        for v in range(videos_per_class):
            rel = f"{name}/v_{name}_g{v + 1:02d}_c01.avi"
            d = rawframe_dir(root, rel)
            d.mkdir(parents=True, exist_ok=True)
            vx = float(rng.choice([-6.0, 6.0]))
            for i in range(num_frames):
                img = base + rng.normal(0, noise, (h, w, 3))
                img = np.clip(img, 0, 255).astype(np.uint8)
                cv2.imwrite(str(d / IMG_TMPL.format(i + 1)), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                if i + 1 < num_frames:
                    fx = vx + rng.normal(0, 2.0, (h, w))
                    fy = vy + rng.normal(0, 2.0, (h, w))
                    cv2.imwrite(str(d / FLOW_X_TMPL.format(i + 1)), quantize_flow(fx))
                    cv2.imwrite(str(d / FLOW_Y_TMPL.format(i + 1)), quantize_flow(fy))
            split = "test" if v % 4 == 3 else "train"
            records.append(VideoRecord(rel, c, split))
    return records, names


def split_records(records: list[VideoRecord]) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """:return: ``(train records, test records)``"""
    return [r for r in records if r.split == "train"], [r for r in records if r.split != "train"]


__all__ = ["make_synthetic_rawframes", "split_records"]
