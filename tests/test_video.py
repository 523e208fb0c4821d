"""Video input: TSN sampling, robust decoding, errors, raw-frame folders, test-time views."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from frame_select_env.pipeline.video import decode
from frame_select_env.pipeline.video.flow import quantize_flow
from frame_select_env.pipeline.video.views import VIEW_NAMES_10, crop_offsets, make_views, view_at

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
CLIPS = REAL / "ucf101_clips"


def _write_video(path: Path, n: int, size=(64, 48)) -> Path:
    """MJPG video whose frame i is a flat grey of value 10 * i (decodable index)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    assert w.isOpened()
    for i in range(n):
        w.write(np.full((size[1], size[0], 3), 10 * i, np.uint8))
    w.release()
    return path


def _index_of(frame: np.ndarray) -> int:
    return int(round((float(frame.mean()) + 1.5) / 10))


# ----------------------------------------------------------------- sampling
def test_sample_indices_tsn_centres():
    # tick = 100 / 25 = 4 -> centres 2, 6, ..., 98
    np.testing.assert_array_equal(decode.sample_indices(100, 25, 1), np.arange(2, 100, 4))
    # window of 6 frames: 95 admissible starts, tick 3.8
    idx = decode.sample_indices(100, 25, 6)
    expect = (3.8 / 2 + 3.8 * np.arange(25)).astype(int)
    np.testing.assert_array_equal(idx, expect)
    assert idx.max() + 6 <= 100


@pytest.mark.parametrize("n,t,length", [(7, 25, 6), (6, 3, 6), (13, 25, 1), (1000, 25, 6)])
def test_sample_indices_windows_fit_and_monotone(n, t, length):
    idx = decode.sample_indices(n, t, length)
    assert idx.shape == (t,)
    assert idx.min() >= 0 and idx.max() + length <= n
    assert np.all(np.diff(idx) >= 0)


def test_sample_indices_rejects_too_short():
    with pytest.raises(ValueError, match="does not fit"):
        decode.sample_indices(4, 25, 6)


# ----------------------------------------------------------------- decoding
def test_load_segments_picks_the_right_frames(tmp_path):
    path = _write_video(tmp_path / "v.avi", 20)
    assert decode.count_frames(path) == 20
    out, starts, n = decode.load_segments(path, 4, 3, size=(32, 24), return_indices=True)
    assert n == 20 and out.shape == (4, 3, 24, 32, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(starts, decode.sample_indices(20, 4, 3))
    got = np.array([[_index_of(f) for f in win] for win in out])
    np.testing.assert_array_equal(got, starts[:, None] + np.arange(3))


def test_bgr_to_rgb(tmp_path):
    path = tmp_path / "red.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32))
    for _ in range(3):
        w.write(np.dstack([np.zeros((32, 32)), np.zeros((32, 32)), np.full((32, 32), 255)])
                .astype(np.uint8))  # pure red in BGR order
    w.release()
    frame = decode.load_segments(path, 1, 1, size=None)[0, 0]
    r, g, b = frame.reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60


@pytest.mark.skipif(not CLIPS.is_dir(), reason=f"real clips not found at {CLIPS}")
def test_real_clip_count_ignores_bogus_frame_count():
    path = CLIPS / "v_Basketball_g01_c02.mp4"
    cap = cv2.VideoCapture(str(path))
    bogus = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    cap.release()
    n = decode.count_frames(path)
    assert 90 <= n <= 400 and n != bogus
    frames = decode.read_frames(path, [0, n - 1], size=(340, 256))
    assert frames[n - 1].shape == (256, 340, 3)
    with pytest.raises(decode.VideoReadError, match="decoding stopped"):
        decode.read_frames(path, [n])


def test_errors_name_path_and_reason(tmp_path):
    with pytest.raises(decode.VideoReadError, match="missing file") as e:
        decode.load_segments(tmp_path / "nope.avi")
    assert e.value.path.endswith("nope.avi")
    (tmp_path / "empty.avi").write_bytes(b"")
    with pytest.raises(decode.VideoReadError, match="zero bytes"):
        decode.load_segments(tmp_path / "empty.avi")
    (tmp_path / "junk.avi").write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(decode.VideoReadError, match="cannot open|no decodable"):
        decode.load_segments(tmp_path / "junk.avi")
    short = _write_video(tmp_path / "short.avi", 3)
    with pytest.raises(decode.VideoReadError, match="too few frames") as e:
        decode.load_segments(short, 5, 6)
    assert e.value.reason.startswith("too few")


def test_rawframe_folder_rgb_and_flow(tmp_path):
    d = tmp_path / "vid"
    d.mkdir()
    for i in range(10):
        cv2.imwrite(str(d / f"img_{i + 1:05d}.jpg"), np.full((24, 32, 3), 20 * i, np.uint8))
    for i in range(9):  # field i has x = +i px, y = -i px (quantised like the dense-flow tools)
        cv2.imwrite(str(d / f"flow_x_{i + 1:05d}.jpg"), quantize_flow(np.full((24, 32), i)))
        cv2.imwrite(str(d / f"flow_y_{i + 1:05d}.jpg"), quantize_flow(np.full((24, 32), -i)))
    assert decode.count_frames(d) == 10
    rgb, starts, n = decode.load_segments(d, 3, 1, size=None, return_indices=True)
    np.testing.assert_array_equal(starts, decode.sample_indices(10, 3, 1))
    np.testing.assert_allclose(rgb[:, 0].mean(axis=(1, 2, 3)), 20 * starts, atol=2)
    flow, fstarts, nf = decode.load_flow_segments(d, 2, 3, size=None, return_indices=True)
    assert nf == 9 and flow.shape == (2, 6, 24, 32) and flow.dtype == np.float32
    for t, s in enumerate(fstarts):
        for j in range(3):
            assert flow[t, 2 * j].mean() == pytest.approx((s + j) / 20, abs=0.01)
            assert flow[t, 2 * j + 1].mean() == pytest.approx(-(s + j) / 20, abs=0.01)


# ----------------------------------------------------------------- views
def test_ten_crop_geometry():
    h, w, c = 8, 10, 3
    img = np.arange(h * w * c, dtype=np.int32).reshape(h, w, c)
    views = make_views(img, 10, crop_size=4)
    assert views.shape == (10, 4, 4, 3) and len(VIEW_NAMES_10) == 10
    offs = crop_offsets(h, w, 4)
    assert offs == [(2, 3), (0, 0), (0, 6), (4, 0), (4, 6)]
    for v, (top, left) in enumerate(offs):
        np.testing.assert_array_equal(views[v], img[top:top + 4, left:left + 4])
        np.testing.assert_array_equal(views[v + 5], img[top:top + 4, left:left + 4][:, ::-1])
    np.testing.assert_array_equal(make_views(img, 1, 4)[0], views[0])
    np.testing.assert_array_equal(view_at(img, 7, 4), views[7])


def test_flow_flip_negates_x_channels_only():
    rng = np.random.default_rng(0)
    flow = rng.uniform(-1, 1, (3, 4, 6, 7)).astype(np.float32)  # (T, 2L, H, W), L = 2
    views = make_views(flow, 10, crop_size=5, layout="chw", is_flow=True)
    assert views.shape == (10, 3, 4, 5, 5)
    centre = flow[..., 0:5, 1:6]
    np.testing.assert_array_equal(views[0], centre)
    flipped = views[5]
    np.testing.assert_allclose(flipped[:, 0::2], -centre[:, 0::2, :, ::-1])  # x negated
    np.testing.assert_allclose(flipped[:, 1::2], centre[:, 1::2, :, ::-1])  # y kept
    with pytest.raises(ValueError, match="larger than the image"):
        make_views(flow, 1, crop_size=9, layout="chw")
