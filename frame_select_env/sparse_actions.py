"""
SparseActions: a procedural video dataset whose class evidence is sparse in time.

The paper's premise is that only a few frames of a real video carry the action; the rest is
background, camera motion or unrelated activity that can mislead a classifier averaging all
frames. This generator makes that explicit and measurable:

* Each of the 10 classes has its own **appearance** (shape, colour, texture of a sprite) and its
  own **motion** (translation direction/speed, rotation, oscillation, orbit, pulsing, ...), so
  both the RGB and the optical-flow stream carry evidence.
* The action occupies **one random window** covering a minority of the frames
  (``window_frac``, default 15-35%). Only those frames are marked relevant.
* All frames hold **clutter**: a textured, slowly panning background, sensor noise, brightness
  flicker and desaturated blobs moving in random straight lines.
* Outside the window there are **distractors**: weaker (smaller, semi-transparent) renderings of
  OTHER classes, each with its own class motion, sometimes appearance-only (a distractor sprite
  moving like clutter) or motion-only (a clutter-coloured blob moving like a distractor class).
  They are what misleads an all-frames average.

Everything is a pure function of ``(seed, video index)``; frames are uint8 RGB ``(H, W, 3)``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from frame_select_env.atomic import atomic_path, atomic_write_text

CLASS_NAMES: tuple[str, ...] = (
    "red_disc_slide",
    "green_square_rise",
    "blue_triangle_fall_diagonal",
    "yellow_cross_spin",
    "magenta_ring_shake",
    "cyan_star_orbit",
    "orange_diamond_pulse",
    "black_bar_zigzag",
    "purple_hexagon_bounce",
    "lime_arrow_sink",
)

# (shape, RGB colour, texture) per class; shapes are drawn in a canonical orientation.
_APPEARANCE: tuple[tuple[str, tuple[int, int, int], str], ...] = (
    ("disc", (230, 40, 40), "solid"),
    ("square", (40, 200, 60), "checker"),
    ("triangle", (50, 80, 240), "stripes"),
    ("cross", (240, 220, 40), "solid"),
    ("ring", (220, 50, 220), "dots"),
    ("star", (40, 220, 230), "solid"),
    ("diamond", (250, 140, 20), "stripes"),
    ("bar", (20, 20, 20), "solid"),
    ("hexagon", (140, 60, 200), "dots"),
    ("arrow", (160, 250, 60), "stripes"),
)

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class SparseActionsConfig:
    """
    Generator parameters (all sizes in pixels, durations in frames).

    :param width: frame width
    :param height: frame height
    :param min_frames: shortest video
    :param max_frames: longest video
    :param fps: frame rate written into the .avi files
    :param window_frac: range of the fraction of frames covered by the action window
    :param sprite_size: side of the square sprite canvas of a class object
    :param num_clutter: inclusive range of the number of clutter blobs
    :param num_distractors: inclusive range of the number of distractor events
    :param distractor_frac: range of the length of one distractor event (fraction of the video)
    :param distractor_alpha: range of the opacity of a distractor (the action has opacity 1)
    :param distractor_scale: range of the size of a distractor relative to the action object
    :param distractor_speed: range of the speed factor of a distractor's class motion
    :param partial_distractor_prob: probability that a distractor is appearance-only or
        motion-only instead of both
    :param noise_std: std of the per-frame Gaussian sensor noise (in grey levels)
    :param pan_speed: maximum background pan speed (pixels per frame)
    """

    width: int = 160
    height: int = 120
    min_frames: int = 60
    max_frames: int = 80
    fps: float = 25.0
    window_frac: tuple[float, float] = (0.15, 0.35)
    sprite_size: int = 36
    num_clutter: tuple[int, int] = (2, 4)
    num_distractors: tuple[int, int] = (1, 2)
    distractor_frac: tuple[float, float] = (0.1, 0.25)
    distractor_alpha: tuple[float, float] = (0.35, 0.65)
    distractor_scale: tuple[float, float] = (0.55, 0.8)
    distractor_speed: tuple[float, float] = (0.6, 1.0)
    partial_distractor_prob: float = 0.3
    noise_std: float = 6.0
    pan_speed: float = 0.6

    def __post_init__(self) -> None:
        if self.width < 32 or self.height < 32:
            raise ValueError(f"SparseActionsConfig: frame size {self.width}x{self.height} < 32")
        if not 2 <= self.min_frames <= self.max_frames:
            raise ValueError(
                f"SparseActionsConfig: need 2 <= min_frames <= max_frames, got "
                f"{self.min_frames}, {self.max_frames}"
            )
        lo, hi = self.window_frac
        if not 0.0 < lo <= hi < 0.5:
            raise ValueError(
                f"SparseActionsConfig: window_frac must satisfy 0 < lo <= hi < 0.5 (the action "
                f"is a minority of the frames), got {self.window_frac}"
            )

    def to_dict(self) -> dict:
        """:return: a JSON-serialisable dict of the parameters"""
        return asdict(self)


@dataclass
class GeneratedVideo:
    """
    One generated video with its ground truth.

    :param frames: ``(n, H, W, 3)`` uint8 RGB
    :param label: class index
    :param window: ``(start, stop)`` frame range of the action (stop exclusive)
    :param relevance: ``(n,)`` bool, True inside the action window
    :param distractors: one dict per distractor event (class, kind, start, stop)
    """

    frames: np.ndarray
    label: int
    window: tuple[int, int]
    relevance: np.ndarray
    distractors: list[dict] = field(default_factory=list)


# --------------------------------------------------------------------------- sprites


def _shape_mask(shape: str, size: int) -> np.ndarray:
    """:return: ``(size, size)`` float32 mask in [0, 1] of a class shape, centred"""
    m = np.zeros((size, size), np.uint8)
    c = size / 2.0
    r = size * 0.42

    def poly(points: Sequence[tuple[float, float]]) -> None:
        pts = np.round(np.array(points, np.float64) * 16).astype(np.int32)
        cv2.fillPoly(m, [pts], 255, lineType=cv2.LINE_AA, shift=4)

    if shape == "disc":
        cv2.circle(m, (size // 2, size // 2), int(r), 255, -1, cv2.LINE_AA)
    elif shape == "ring":
        cv2.circle(m, (size // 2, size // 2), int(r), 255, max(2, size // 7), cv2.LINE_AA)
    elif shape == "square":
        s = r * 0.85
        poly([(c - s, c - s), (c + s, c - s), (c + s, c + s), (c - s, c + s)])
    elif shape == "triangle":
        poly([(c, c - r), (c + r * 0.95, c + r * 0.7), (c - r * 0.95, c + r * 0.7)])
    elif shape == "diamond":
        poly([(c, c - r), (c + r * 0.8, c), (c, c + r), (c - r * 0.8, c)])
    elif shape == "cross":
        w = r * 0.32
        poly([(c - w, c - r), (c + w, c - r), (c + w, c + r), (c - w, c + r)])
        poly([(c - r, c - w), (c + r, c - w), (c + r, c + w), (c - r, c + w)])
    elif shape == "bar":
        h = r * 0.3
        poly([(c - r, c - h), (c + r, c - h), (c + r, c + h), (c - r, c + h)])
    elif shape == "hexagon":
        poly([(c + r * math.cos(a), c + r * math.sin(a)) for a in np.arange(6) * math.pi / 3])
    elif shape == "star":
        pts = []
        for k in range(10):
            rr = r if k % 2 == 0 else r * 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((c + rr * math.cos(a), c + rr * math.sin(a)))
        poly(pts)
    elif shape == "arrow":
        poly(
            [
                (c - r, c - r * 0.22),
                (c + r * 0.1, c - r * 0.22),
                (c + r * 0.1, c - r * 0.6),
                (c + r, c),
                (c + r * 0.1, c + r * 0.6),
                (c + r * 0.1, c + r * 0.22),
                (c - r, c + r * 0.22),
            ]
        )
    else:  # pragma: no cover - guarded by _APPEARANCE
        raise ValueError(f"unknown shape {shape!r}")
    return m.astype(np.float32) / 255.0


def _texture(kind: str, size: int) -> np.ndarray:
    """:return: ``(size, size)`` float32 brightness modulation in about [0.45, 1]"""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == "solid":
        t = np.ones((size, size), np.float32)
    elif kind == "stripes":
        t = 0.725 + 0.275 * np.sign(np.sin(xx * 2 * math.pi / 7.0))
    elif kind == "checker":
        t = np.where(((xx // 6) + (yy // 6)) % 2 == 0, 1.0, 0.5).astype(np.float32)
    elif kind == "dots":
        t = np.where(
            (np.mod(xx, 8) - 4) ** 2 + (np.mod(yy, 8) - 4) ** 2 < 5, 0.45, 1.0
        ).astype(np.float32)
    else:  # pragma: no cover
        raise ValueError(f"unknown texture {kind!r}")
    return t.astype(np.float32)


def class_sprite(label: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Render the object of a class.

    :param label: class index in ``[0, len(CLASS_NAMES))``
    :param size: sprite canvas side in pixels
    :return: ``(rgb (size, size, 3) float32 in [0, 255], alpha (size, size) float32 in [0, 1])``
    """
    if not 0 <= label < len(CLASS_NAMES):
        raise ValueError(f"class_sprite: label {label} out of range [0, {len(CLASS_NAMES)})")
    shape, colour, tex = _APPEARANCE[label]
    alpha = _shape_mask(shape, size)
    rgb = np.asarray(colour, np.float32)[None, None, :] * _texture(tex, size)[..., None]
    return rgb, alpha


def _clutter_sprite(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A desaturated, noisy ellipse: looks like nothing in particular."""
    alpha = np.zeros((size, size), np.uint8)
    ax = (int(size * rng.uniform(0.2, 0.45)), int(size * rng.uniform(0.15, 0.4)))
    cv2.ellipse(
        alpha, (size // 2, size // 2), ax, float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA
    )
    grey = rng.uniform(60, 200)
    tint = rng.uniform(-25, 25, size=3)
    rgb = np.clip(grey + tint + rng.normal(0, 18, (size, size, 3)), 0, 255).astype(np.float32)
    return rgb, alpha.astype(np.float32) / 255.0


# --------------------------------------------------------------------------- motions


def class_motion(
    label: int, t: np.ndarray, rng: np.random.Generator, width: int, height: int, speed: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """
    The trajectory of a class object over local times ``t = 0..k-1``.

    :param label: class index (selects the motion pattern)
    :param t: local frame times, float array ``(k,)``
    :param rng: random generator (start position, phase)
    :param width: frame width
    :param height: frame height
    :param speed: speed factor (1 for the action itself; distractors move slower)
    :return: ``(x, y, angle_degrees, scale)`` arrays of shape ``(k,)``
    """
    k = len(t)
    dur = max(k - 1, 1)
    mx, my = 24.0, 22.0  # keep the centre this far from the border

    def linear(vx: float, vy: float) -> tuple[np.ndarray, np.ndarray]:
        # Shrink the speed when the window is too long for the path to stay in the frame.
        span_x = width - 2 * mx
        span_y = height - 2 * my
        f = min(1.0, span_x / (abs(vx) * dur + 1e-6), span_y / (abs(vy) * dur + 1e-6))
        vx, vy = vx * f, vy * f
        x0 = rng.uniform(mx, width - mx - abs(vx) * dur) if vx >= 0 else rng.uniform(
            mx + abs(vx) * dur, width - mx
        )
        y0 = rng.uniform(my, height - my - abs(vy) * dur) if vy >= 0 else rng.uniform(
            my + abs(vy) * dur, height - my
        )
        return x0 + vx * t, y0 + vy * t

    def centre(rx: float, ry: float) -> tuple[float, float]:
        return rng.uniform(mx + rx, width - mx - rx), rng.uniform(my + ry, height - my - ry)

    zero = np.zeros(k)
    one = np.ones(k)
    phase = rng.uniform(0, 2 * math.pi)
    ang0 = 0.0
    s = speed
    # Horizontal directions are drawn at random: TSN's flip augmentation and the flipped test
    # views mirror every video, so no two classes may differ only by left/right.
    side = 1.0 if rng.uniform() < 0.5 else -1.0
    # Translating classes move faster than clutter (0.5-2.5 px per frame), so that their flow is
    # not that of a clutter blob.
    if label == 0:  # slide sideways, fast
        x, y = linear(side * 3.5 * s, 0.0)
        return x, y, zero + ang0, one
    if label == 1:  # rise
        x, y = linear(0.0, -3.5 * s)
        return x, y, zero + ang0, one
    if label == 2:  # fall diagonally
        x, y = linear(side * 2.8 * s, 2.2 * s)
        return x, y, zero + ang0, one
    if label == 3:  # spin in place
        cx, cy = centre(4, 4)
        return cx + zero, cy + zero, side * 16.0 * s * t + math.degrees(phase), one
    if label == 4:  # shake horizontally
        cx, cy = centre(16, 0)
        return cx + 14.0 * np.sin(2 * math.pi * t * s / 6.0 + phase), cy + zero, zero, one
    if label == 5:  # orbit
        cx, cy = centre(18, 16)
        a = phase + side * 2 * math.pi * t * s / 20.0
        return cx + 18.0 * np.cos(a), cy + 16.0 * np.sin(a), zero, one
    if label == 6:  # pulse (grow / shrink) in place, fast and deep
        # A slow, shallow pulse moved the sprite's edges < 1.5 px per frame, which DIS flow does
        # not tell from a static background: the flow network then mapped every action-free
        # frame to this class. At period 6 and depth 0.5 the edges move ~9 px per frame.
        cx, cy = centre(8, 8)
        return cx + zero, cy + zero, zero, 1.0 + 0.5 * np.sin(2 * math.pi * t * s / 6.0 + phase)
    if label == 7:  # zigzag: drift sideways while moving up and down in a triangle wave
        x, y = linear(side * 2.4 * s, 0.0)
        tri = 2.0 * np.abs(((t * s / 10.0 + phase / (2 * math.pi)) % 1.0) - 0.5) - 0.5
        y = np.clip(y + 28.0 * tri, my, height - my)
        return x, y, zero + 90.0, one
    if label == 8:  # bounce: vertical hops
        cx, cy = centre(0, 18)
        hop = np.abs(np.sin(math.pi * t * s / 8.0 + phase))
        return cx + zero, cy + 18.0 - 36.0 * hop, zero, one
    if label == 9:  # sink straight down
        x, y = linear(0.0, 3.5 * s)
        return x, y, zero - 90.0, one
    raise ValueError(f"class_motion: label {label} out of range [0, {len(CLASS_NAMES)})")


def _clutter_motion(
    t: np.ndarray, rng: np.random.Generator, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Straight line with reflection at the borders (random direction and speed)."""
    speed = rng.uniform(0.5, 2.5)
    a = rng.uniform(0, 2 * math.pi)
    x = rng.uniform(0, width) + speed * math.cos(a) * t
    y = rng.uniform(0, height) + speed * math.sin(a) * t
    # Reflect into [0, W] x [0, H].
    x = np.abs(((x % (2 * width)) + 2 * width) % (2 * width) - width)
    x = width - x
    y = np.abs(((y % (2 * height)) + 2 * height) % (2 * height) - height)
    y = height - y
    return x, y


# --------------------------------------------------------------------------- compositing


def _paste(
    canvas: np.ndarray,
    rgb: np.ndarray,
    alpha: np.ndarray,
    x: float,
    y: float,
    angle: float,
    scale: float,
    opacity: float,
) -> None:
    """Alpha-blend a rotated/scaled sprite centred at (x, y) into ``canvas`` (float32, in place)."""
    h, w = canvas.shape[:2]
    s = rgb.shape[0]
    m = cv2.getRotationMatrix2D((s / 2.0, s / 2.0), angle, scale)
    m[0, 2] += x - s / 2.0
    m[1, 2] += y - s / 2.0
    a = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)
    if opacity != 1.0:
        a *= opacity
    c = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0.0, 0.0, 0.0))
    a3 = a[..., None]
    canvas *= 1.0 - a3
    canvas += c * a3


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A large, low-saturation textured background (float32 RGB) to pan over."""
    bw, bh = width + 80, height + 80
    coarse = rng.uniform(0, 1, (bh // 16 + 2, bw // 16 + 2, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (bw, bh), interpolation=cv2.INTER_CUBIC)
    base = rng.uniform(50, 150)
    grey = smooth.mean(axis=2, keepdims=True)
    # Mostly grey with a little colour: backgrounds must not look like any class colour.
    bg = base + 70.0 * (grey - 0.5) + 25.0 * (smooth - grey)
    # Fine texture (stripes or grain) so the background has structure the flow can track.
    yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
    a = rng.uniform(0, math.pi)
    period = rng.uniform(5, 14)
    stripes = np.sin((xx * math.cos(a) + yy * math.sin(a)) * 2 * math.pi / period)
    bg += rng.uniform(4, 14) * stripes[..., None]
    bg += rng.normal(0, 6, (bh, bw, 1))
    return np.clip(bg, 0, 255).astype(np.float32)


def _rng_for(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0x5A]))


def _place_windows(
    rng: np.random.Generator, n: int, occupied: list[tuple[int, int]], length: int
) -> tuple[int, int] | None:
    """A random ``[start, stop)`` of ``length`` frames not overlapping ``occupied`` (or None)."""
    free = [
        s
        for s in range(0, n - length + 1)
        if all(s + length <= a or s >= b for a, b in occupied)
    ]
    if not free:
        return None
    s = int(rng.choice(free))
    return s, s + length


def generate_video(
    label: int, seed: int, index: int, config: SparseActionsConfig | None = None
) -> GeneratedVideo:
    """
    Generate one video of class ``label``.

    :param label: class index in ``[0, 10)``
    :param seed: dataset seed
    :param index: video index within the dataset (with ``seed``, fixes every random choice)
    :param config: generator parameters (defaults if None)
    :return: the frames (uint8 RGB) and the ground truth (window, relevance, distractors)
    """
    cfg = config or SparseActionsConfig()
    num_classes = len(CLASS_NAMES)
    if not 0 <= label < num_classes:
        raise ValueError(f"generate_video: label {label} out of range [0, {num_classes})")
    rng = _rng_for(seed, index)
    w, h = cfg.width, cfg.height
    n = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
    t_all = np.arange(n, dtype=np.float64)

    # Action window.
    win_len = max(2, int(round(n * rng.uniform(*cfg.window_frac))))
    start = int(rng.integers(0, n - win_len + 1))
    window = (start, start + win_len)
    occupied = [window]

    # Distractor events (other classes, weaker), outside the window.
    events: list[dict] = []
    others = [c for c in range(num_classes) if c != label]
    n_dis = int(rng.integers(cfg.num_distractors[0], cfg.num_distractors[1] + 1))
    for _ in range(n_dis):
        length = max(2, int(round(n * rng.uniform(*cfg.distractor_frac))))
        span = _place_windows(rng, n, occupied, length)
        if span is None:
            continue
        occupied.append(span)
        kind = "both"
        if rng.uniform() < cfg.partial_distractor_prob:
            kind = "appearance" if rng.uniform() < 0.5 else "motion"
        events.append(
            {
                "class": int(rng.choice(others)),
                "kind": kind,
                "start": span[0],
                "stop": span[1],
                "alpha": float(rng.uniform(*cfg.distractor_alpha)),
                "scale": float(rng.uniform(*cfg.distractor_scale)),
                "speed": float(rng.uniform(*cfg.distractor_speed)),
            }
        )

    # Background pan (a slow global motion, like a hand-held camera).
    bg = _background(rng, w, h)
    pan_a = rng.uniform(0, 2 * math.pi)
    pan_v = rng.uniform(0, cfg.pan_speed)
    ox = 40 + np.clip(pan_v * math.cos(pan_a) * (t_all - n / 2), -39, 39)
    oy = 40 + np.clip(pan_v * math.sin(pan_a) * (t_all - n / 2), -39, 39)

    # Clutter blobs present throughout.
    clutter = []
    for _ in range(int(rng.integers(cfg.num_clutter[0], cfg.num_clutter[1] + 1))):
        rgb, alpha = _clutter_sprite(rng, cfg.sprite_size)
        cx, cy = _clutter_motion(t_all, rng, w, h)
        spin = rng.uniform(-3, 3)
        clutter.append((rgb, alpha, cx, cy, spin * t_all))

    # Trajectories of the action and of the distractors.
    size = cfg.sprite_size
    act_rgb, act_alpha = class_sprite(label, size)
    tw = np.arange(win_len, dtype=np.float64)
    ax, ay, aang, ascale = class_motion(label, tw, rng, w, h, 1.0)
    act_scale = rng.uniform(0.9, 1.15)
    dis_tracks = []
    for ev in events:
        k = ev["stop"] - ev["start"]
        tk = np.arange(k, dtype=np.float64)
        c = ev["class"]
        if ev["kind"] == "motion":
            # A clutter-looking blob moving like class c.
            rgb, alpha = _clutter_sprite(rng, size)
            dx, dy, dang, dsc = class_motion(c, tk, rng, w, h, ev["speed"])
        elif ev["kind"] == "appearance":
            # Class c's object moving like clutter.
            rgb, alpha = class_sprite(c, size)
            dx, dy = _clutter_motion(tk, rng, w, h)
            dang, dsc = np.zeros(k), np.ones(k)
        else:
            rgb, alpha = class_sprite(c, size)
            dx, dy, dang, dsc = class_motion(c, tk, rng, w, h, ev["speed"])
        dis_tracks.append((ev, rgb, alpha, dx, dy, dang, dsc))

    flicker = 1.0 + 0.04 * np.sin(2 * math.pi * t_all / rng.uniform(15, 40) + rng.uniform(0, 6))
    frames = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        x0, y0 = int(round(ox[i])), int(round(oy[i]))
        canvas = bg[y0 : y0 + h, x0 : x0 + w].copy()
        for rgb, alpha, cx, cy, ang in clutter:
            _paste(canvas, rgb, alpha, cx[i], cy[i], ang[i], 1.0, 0.9)
        for ev, rgb, alpha, dx, dy, dang, dsc in dis_tracks:
            if ev["start"] <= i < ev["stop"]:
                j = i - ev["start"]
                _paste(canvas, rgb, alpha, dx[j], dy[j], dang[j], dsc[j] * ev["scale"], ev["alpha"])
        if window[0] <= i < window[1]:
            j = i - window[0]
            _paste(canvas, act_rgb, act_alpha, ax[j], ay[j], aang[j], ascale[j] * act_scale, 1.0)
        canvas *= flicker[i]
        canvas += rng.normal(0, cfg.noise_std, canvas.shape).astype(np.float32)
        frames[i] = np.clip(canvas, 0, 255).astype(np.uint8)

    relevance = np.zeros(n, bool)
    relevance[window[0] : window[1]] = True
    dis = [{k: ev[k] for k in ("class", "kind", "start", "stop")} for ev in events]
    return GeneratedVideo(frames=frames, label=label, window=window, relevance=relevance,
                          distractors=dis)


# --------------------------------------------------------------------------- dataset


@dataclass(frozen=True)
class VideoRecord:
    """
    One planned video of the dataset.

    :param index: video index (seeds the generator together with the dataset seed)
    :param video_id: unique name, e.g. ``"test/cyan_star_orbit_003"``
    :param label: class index
    :param split: ``"train"``, ``"val"`` or ``"test"``
    """

    index: int
    video_id: str
    label: int
    split: str


def plan_dataset(counts: dict[str, int]) -> list[VideoRecord]:
    """
    The list of videos: for each split, ``counts[split]`` videos of every class.

    :param counts: videos per class for each split, e.g. ``{"train": 30, "val": 10, "test": 30}``
    :return: records ordered by split, then class, then number
    """
    records: list[VideoRecord] = []
    for split, k in counts.items():
        if split not in SPLITS:
            raise ValueError(f"plan_dataset: unknown split {split!r}, expected one of {SPLITS}")
        if k < 0:
            raise ValueError(f"plan_dataset: negative count {k} for split {split!r}")
        for label, name in enumerate(CLASS_NAMES):
            for j in range(k):
                records.append(
                    VideoRecord(len(records), f"{split}/{name}_{j:03d}", label, split)
                )
    return records


def write_avi(path: str | os.PathLike, frames: np.ndarray, fps: float = 25.0) -> None:
    """
    Write uint8 RGB frames as an MJPG .avi (atomically: a temporary file, then a rename).

    :param path: output file (``.avi``)
    :param frames: ``(n, H, W, 3)`` uint8 RGB
    :param fps: frame rate
    """
    path = Path(path)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"write_avi({path}): expected (n, H, W, 3) uint8, got "
                         f"{frames.shape} {frames.dtype}")
    h, w = frames.shape[1:3]
    with atomic_path(path) as tmp:  # keeps the .avi suffix, from which OpenCV picks the container
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
        if not writer.isOpened():
            raise RuntimeError(f"write_avi({path}): cv2.VideoWriter could not open an MJPG "
                               "writer")
        try:
            for f in frames:
                writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()


def sampled_relevance(relevance: np.ndarray, frame_indices: np.ndarray) -> np.ndarray:
    """
    Relevance of sampled frames.

    :param relevance: per-frame relevance ``(n,)`` of a video
    :param frame_indices: 0-based indices of the sampled frames ``(T,)``
    :return: ``(T,)`` bool
    """
    relevance = np.asarray(relevance, bool)
    idx = np.asarray(frame_indices, np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= len(relevance)):
        raise ValueError(
            f"sampled_relevance: frame indices {idx.min()}..{idx.max()} outside a video of "
            f"{len(relevance)} frames"
        )
    return relevance[idx]


def _generate_one(job: tuple[int, int, int, str, str]) -> None:
    """Generate one video and its ground-truth sidecar ``.json`` (runs in a worker process)."""
    cv2.setNumThreads(1)
    seed, index, label, avi, cfg_json = job
    cfg = SparseActionsConfig(**{k: tuple(v) if isinstance(v, list) else v
                                 for k, v in json.loads(cfg_json).items()})
    v = generate_video(label, seed, index, cfg)
    avi_path = Path(avi)
    write_avi(avi_path, v.frames, cfg.fps)
    # the sidecar last: a video counts as done only when both files exist
    atomic_write_text(
        avi_path.with_suffix(".json"),
        json.dumps({"index": index, "label": label, "num_frames": int(len(v.frames)),
                    "window": list(v.window), "distractors": v.distractors},
                   indent=1, sort_keys=True) + "\n",
    )


def generate_videos(
    records: Sequence[VideoRecord],
    videos_dir: str | os.PathLike,
    seed: int = 0,
    cfg: SparseActionsConfig | None = None,
    workers: int = 2,
    progress: bool = False,
) -> int:
    """Write ``videos_dir/<video_id>.avi`` (MJPG) plus a ground-truth ``.json`` per record.

    Resumable: a video whose two files exist is not generated again (each is written
    atomically). Used by the build script and by the online env's ``videos="builtin:<split>"``.

    :param records: videos of :func:`plan_dataset`
    :param videos_dir: output folder
    :param seed: dataset seed (with the record index it determines the video)
    :param cfg: generator parameters (default :class:`SparseActionsConfig`)
    :param workers: worker processes (<= 1: in this process)
    :param progress: tqdm progress bar
    :return: number of videos generated now
    """
    from tqdm import tqdm

    videos_dir = Path(videos_dir)
    cfg_json = json.dumps((cfg or SparseActionsConfig()).to_dict())
    jobs = []
    for r in records:
        avi = videos_dir / f"{r.video_id}.avi"
        if not (avi.is_file() and avi.with_suffix(".json").is_file()):
            jobs.append((seed, r.index, r.label, str(avi), cfg_json))
    bar = tqdm(total=len(records), initial=len(records) - len(jobs), desc="generate",
               unit="video", disable=not progress)
    if workers <= 1 or len(jobs) <= 1:
        for j in jobs:
            _generate_one(j)
            bar.update(1)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # spawn: a fork after OpenCV's thread pool was used can deadlock the child
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
            for _ in ex.map(_generate_one, jobs, chunksize=4):
                bar.update(1)
    bar.close()
    return len(jobs)


def save_annotations(path: str | os.PathLike, items: list[dict]) -> None:
    """Write the per-video ground truth (window, distractors, ...) as JSON, atomically."""
    atomic_write_text(path, json.dumps(items, indent=1))


# --------------------------------------------------------------------------- measurements

#: frame budgets reported by :func:`measure_store`
MEASURE_M: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20)


def _states(store, stream: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame, per-view states ``[features, probabilities]`` (B, T, V, D + C) and probs."""
    from frame_select_env.selection import softmax

    feats = store.features(stream, idx).astype(np.float64)
    probs = softmax(store.logits(stream, idx)).astype(np.float64)
    return np.concatenate([feats, probs], -1), probs


def fit_relevance_probe(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 25
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    L2-regularised logistic regression (Newton's method, float64, deterministic).

    :param x: ``(n, k)`` inputs
    :param y: ``(n,)`` 0/1 targets
    :param l2: ridge penalty on the (standardised) weights
    :param iters: Newton steps
    :return: ``(mean, std, weights (k + 1,))``; score = ``[(x - mean) / std, 1] @ weights``
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = np.concatenate([(x - mean) / std, np.ones((len(x), 1))], 1)
    w = np.zeros(z.shape[1])
    reg = l2 * len(x) * np.eye(z.shape[1])
    reg[-1, -1] = 0.0  # no penalty on the bias
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (p - y) + reg @ w
        hess = (z * (p * (1 - p))[:, None]).T @ z + reg
        w -= np.linalg.solve(hess, grad)
    return mean, std, w


def probe_scores(x: np.ndarray, probe: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """:return: probe logits for inputs ``x`` (..., k)"""
    mean, std, w = probe
    return ((x - mean) / std) @ w[:-1] + w[-1]


def measure_store(
    path: str | os.PathLike,
    seed: int = 0,
    num_random: int = 10,
    m_values: Sequence[int] = MEASURE_M,
    random_m: int = 8,
) -> dict:
    """
    The numbers that define the built-in dataset's difficulty, recomputed from a store.

    For each stream and for the two-stream fusion, on the test split: accuracy of the
    all-frames average, of an oracle averaging only the relevant sampled frames, of ``random_m``
    random frames (mean over ``num_random`` seeds), of the most confident frames, and of the
    top-m frames of a relevance probe (logistic regression on the per-frame, per-view states
    ``[features, probabilities]`` fitted on the train split). Uses the shared
    :mod:`frame_select_env.selection` functions.

    :param path: a store with ``relevance``
    :param seed: seed of the random selections
    :param num_random: number of random selections averaged
    :param m_values: frame budgets of the probe / confidence curves
    :param random_m: frame budget of the random baseline
    :return: nested dict of accuracies (percent) and diagnostics
    """
    from frame_select_env.selection import (
        accuracy,
        aggregate_predictions,
        fuse_streams,
        select_frames,
        topm_mask,
    )
    from frame_select_env.store import FeatureStore

    store = FeatureStore(path)
    tr, te = store.indices("train"), store.indices("test")
    rel_tr = store.relevance(tr)
    rel_te = store.relevance(te)
    if rel_te is None:
        raise ValueError(f"measure_store({path}): the store has no relevance")
    rel_tr, rel_te = rel_tr.astype(bool), rel_te.astype(bool)
    y_tr, y_te = store.labels[tr], store.labels[te]
    streams = [s for s in ("rgb", "flow") if s in store.streams]
    b, t = rel_te.shape
    rng = np.random.default_rng(seed)
    rand_masks = [topm_mask(rng.random((b, t)), random_m) for _ in range(num_random)]

    def bcast(mask2d: np.ndarray, v: int) -> np.ndarray:
        return np.broadcast_to(mask2d[..., None], (*mask2d.shape, v))

    video: dict[str, dict[str, np.ndarray]] = {}  # method -> stream -> (B, C)
    out: dict = {"num_test": int(b), "num_train": int(len(tr)), "num_frames": int(t),
                 "relevant_fraction_test": float(rel_te.mean()),
                 "min_relevant_frames_test": int(rel_te.sum(1).min()),
                 "random_m": random_m, "num_random": num_random, "streams": {}}
    for s in streams:
        x_tr, p_tr = _states(store, s, tr)
        x_te, p_te = _states(store, s, te)
        v = p_te.shape[2]
        # Relevance probe: one sample per (video, frame, view) of the train split.
        probe = fit_relevance_probe(
            x_tr.reshape(-1, x_tr.shape[-1]), bcast(rel_tr, v).reshape(-1)
        )
        imp = probe_scores(x_te, probe)  # (B, T, V)
        conf = p_te.max(-1)
        res = {
            "all_frames": accuracy(aggregate_predictions(p_te), y_te),
            "oracle_relevant": accuracy(aggregate_predictions(p_te, bcast(rel_te, v)), y_te),
            f"random_m{random_m}": float(np.mean(
                [accuracy(aggregate_predictions(p_te, bcast(mk, v)), y_te) for mk in rand_masks]
            )),
            "train_all_frames": accuracy(aggregate_predictions(p_tr), y_tr),
        }
        curves = {"probe_frame": {}, "probe_region": {}, "confidence_frame": {}}
        for m in m_values:
            curves["probe_frame"][m] = accuracy(
                aggregate_predictions(p_te, select_frames(imp, m, "frame")), y_te)
            curves["probe_region"][m] = accuracy(
                aggregate_predictions(p_te, select_frames(imp, m, "region")), y_te)
            curves["confidence_frame"][m] = accuracy(
                aggregate_predictions(p_te, select_frames(conf, m, "frame")), y_te)
        for name, c in curves.items():
            best = max(c, key=lambda k: (c[k], -k))
            res[f"{name}_best"] = {"m": int(best), "acc": c[best]}
            res[name] = {str(k): val for k, val in c.items()}
        # Per-frame diagnostics (centre view): is the classifier right / confident where the
        # action is, and how confident are the train states the agent learns from?
        for split, p, rel, y in (("train", p_tr, rel_tr, y_tr), ("test", p_te, rel_te, y_te)):
            right = p[:, :, 0].argmax(-1) == y[:, None]
            mx = p[:, :, 0].max(-1)
            res[f"{split}_frame_acc_relevant"] = float(100 * right[rel].mean())
            res[f"{split}_frame_acc_irrelevant"] = float(100 * right[~rel].mean())
            res[f"{split}_maxprob_relevant"] = float(mx[rel].mean())
            res[f"{split}_maxprob_irrelevant"] = float(mx[~rel].mean())
        out["streams"][s] = res
        video.setdefault("all", {})[s] = aggregate_predictions(p_te)
        video.setdefault("oracle", {})[s] = aggregate_predictions(p_te, bcast(rel_te, v))
        for k, mk in enumerate(rand_masks):
            video.setdefault(f"rand{k}", {})[s] = aggregate_predictions(p_te, bcast(mk, v))
        for m in m_values:
            video.setdefault(f"probe{m}", {})[s] = aggregate_predictions(
                p_te, select_frames(imp, m, "frame"))
    if len(streams) == 2:
        fused = {
            "all_frames": accuracy(fuse_streams(video["all"]), y_te),
            "oracle_relevant": accuracy(fuse_streams(video["oracle"]), y_te),
            f"random_m{random_m}": float(np.mean(
                [accuracy(fuse_streams(video[f"rand{k}"]), y_te) for k in range(num_random)]
            )),
        }
        c = {m: accuracy(fuse_streams(video[f"probe{m}"]), y_te) for m in m_values}
        best = max(c, key=lambda k: (c[k], -k))
        fused["probe_frame"] = {str(k): val for k, val in c.items()}
        fused["probe_frame_best"] = {"m": int(best), "acc": c[best]}
        out["streams"]["fused"] = fused
    return out
