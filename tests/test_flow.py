"""Optical flow: methods recover a known translation; TSN scaling, quantisation, raw frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from frame_select_env.pipeline.video import flow as flowlib
from frame_select_env.pipeline.video.decode import load_flow_segments, load_segments, sample_indices
from frame_select_env.pipeline.video.rawframes import build_rawframes, extract_rawframes

H, W = 96, 128


def _texture(seed: int = 0, h: int = H + 40, w: int = W + 40) -> np.ndarray:
    """Smooth random RGB texture (blurred noise has gradients every flow method can track)."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3 - 255, 0, 255).astype(np.uint8)


def _shifted_frames(dx: int, dy: int, n: int = 2) -> np.ndarray:
    """n frames of the same texture, each moved by (dx, dy) pixels relative to the previous."""
    tex = _texture()
    out = []
    for k in range(n):
        # content at (y, x) in frame k appears at (y + k dy, x + k dx)
        y0, x0 = 20 - k * dy, 20 - k * dx
        out.append(tex[y0:y0 + H, x0:x0 + W])
    return np.stack(out)


@pytest.mark.parametrize("method", ["dis", "farneback", "tvl1"])
def test_methods_recover_translation(method):
    dx, dy = 3, -2
    frames = _shifted_frames(dx, dy)
    flow = flowlib.compute_flow(frames[0], frames[1], method)
    assert flow.shape == (H, W, 2) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16]
    assert np.median(inner[..., 0]) == pytest.approx(dx, abs=0.35)
    assert np.median(inner[..., 1]) == pytest.approx(dy, abs=0.35)
    # the opposite motion gives the opposite sign
    back = flowlib.compute_flow(frames[1], frames[0], method)[16:-16, 16:-16]
    assert np.median(back[..., 0]) == pytest.approx(-dx, abs=0.35)


def test_unknown_method():
    f = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="unknown flow method"):
        flowlib.compute_flow(f, f, "lucas")


def test_flow_stack_order_and_scaling():
    frames = _shifted_frames(4, 2, n=4)  # L = 3 fields
    stack = flowlib.flow_stack(frames, "dis")
    assert stack.shape == (6, H, W) and stack.dtype == np.float32
    assert stack.min() >= -1 and stack.max() <= 1
    inner = stack[:, 16:-16, 16:-16]
    for j in range(3):  # channels x1, y1, x2, y2, ... scaled by 1/20
        assert np.median(inner[2 * j]) == pytest.approx(4 / 20, abs=0.02)
        assert np.median(inner[2 * j + 1]) == pytest.approx(2 / 20, abs=0.02)


def test_scale_and_quantise():
    f = np.array([-40.0, -20.0, -10.0, 0.0, 5.0, 20.0, 33.0], np.float32)
    np.testing.assert_allclose(flowlib.scale_flow(f), [-1, -1, -0.5, 0, 0.25, 1, 1])
    q = flowlib.quantize_flow(f)
    np.testing.assert_array_equal(q, [0, 0, 64, 128, 159, 255, 255])
    back = flowlib.dequantize_flow(q)
    assert np.abs(back - flowlib.scale_flow(f)).max() <= 0.5 / 127.5 + 1e-6


def test_video_flow_stacks_match_per_window():
    frames = _shifted_frames(1, 1, n=8)
    starts = np.array([0, 1, 3])
    windows = np.stack([frames[s:s + 4] for s in starts])
    stacks = flowlib.video_flow_stacks(windows, starts, "farneback")
    for t, s in enumerate(starts):  # the shared pair cache must not change the numbers
        np.testing.assert_allclose(stacks[t], flowlib.flow_stack(frames[s:s + 4], "farneback"),
                                   atol=1e-6)


def test_extract_rawframes_roundtrip(tmp_path):
    frames = _shifted_frames(2, 0, n=8)
    video = tmp_path / "in" / "cls" / "v.avi"
    video.parent.mkdir(parents=True)
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (W, H))
    for f in frames:
        w.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    w.release()
    (tmp_path / "in" / "cls" / "bad.avi").write_bytes(b"")
    failures = build_rawframes(["cls/v.avi", "cls/bad.avi", "cls/none.avi"], tmp_path / "in",
                               tmp_path / "out", "dis", size=None, workers=1, progress=False)
    assert sorted(r for _, r in failures) == ["missing file", "zero bytes"]
    d = tmp_path / "out" / "cls" / "v"
    assert len(list(d.glob("img_*.jpg"))) == 8 and len(list(d.glob("flow_x_*.jpg"))) == 7
    assert not list((tmp_path / "out" / "cls").glob(".*tmp*"))  # no temp folders left
    assert not (tmp_path / "out" / "cls" / "bad").exists()
    # read back: the precomputed stack matches flow computed on the decoded video
    flow = load_flow_segments(d, 2, 3, size=None)
    rgb, starts, _ = load_segments(video, 2, 4, size=None, return_indices=True)
    assert np.array_equal(starts, sample_indices(7, 2, 3))
    direct = flowlib.video_flow_stacks(rgb, starts, "dis")
    inner = (slice(None), slice(None), slice(16, -16), slice(16, -16))
    assert np.median(flow[inner][:, 0::2]) == pytest.approx(2 / 20, abs=0.02)
    assert np.abs(np.median(flow[inner] - direct[inner])) < 0.02
    # finished folders are skipped
    assert extract_rawframes(video, d, "dis", size=None) == 0
