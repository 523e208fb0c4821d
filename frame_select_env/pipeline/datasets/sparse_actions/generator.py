"""The SparseActions generator: class sprites and motions, clutter, distractors, the plan.

Everything is a pure function of ``(seed, video index)``; frames are uint8 RGB ``(H, W, 3)``.
See :mod:`frame_select_env.pipeline.datasets.sparse_actions` for what the dataset is made of.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from frame_select_env.core.config import from_dict
from frame_select_env.core.constants import SPLITS

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


@dataclass(frozen=True)
class SparseActionsConfig:
    """Generator parameters (all sizes in pixels, durations in frames).

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
        """The parameters as a JSON-serialisable dict.

        :return: field name -> value
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SparseActionsConfig:
        """The config of a parsed :meth:`to_dict` (JSON lists become the range tuples).

        :param data: field values, e.g. a store's ``generator`` metadata
        :return: the config
        :raises ValueError: ``data`` has keys that are not fields, or invalid values
        """
        return from_dict(cls, {k: tuple(v) if isinstance(v, list) else v
                               for k, v in data.items()})


@dataclass
class GeneratedVideo:
    """One generated video with its ground truth.

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
    """Render the object of a class.

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
    """The trajectory of a class object over local times ``t = 0..k-1``.

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
    a: np.ndarray = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)
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
    """The generator of video ``index`` of the dataset of ``seed``: every random choice of it."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0x5A]))


def _draw_length_and_window(
    rng: np.random.Generator, cfg: SparseActionsConfig
) -> tuple[int, tuple[int, int]]:
    """The first draws of a video: its frame count and its action window ``[start, stop)``."""
    n = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
    win_len = max(2, int(round(n * rng.uniform(*cfg.window_frac))))
    start = int(rng.integers(0, n - win_len + 1))
    return n, (start, start + win_len)


def video_length_and_window(
    seed: int, index: int, config: SparseActionsConfig | None = None
) -> tuple[int, tuple[int, int]]:
    """Frame count and action window of a video, without rendering it.

    :param seed: dataset seed
    :param index: video index within the dataset
    :param config: generator parameters (defaults if None)
    :return: ``(n, (start, stop))``, as :func:`generate_video` draws them
    """
    return _draw_length_and_window(_rng_for(seed, index), config or SparseActionsConfig())


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
    """Generate one video of class ``label``.

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
    # Frame count and action window.
    n, window = _draw_length_and_window(rng, cfg)
    win_len = window[1] - window[0]
    t_all = np.arange(n, dtype=np.float64)
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
    """One planned video of the dataset.

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
    """The list of videos: for each split, ``counts[split]`` videos of every class.

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
