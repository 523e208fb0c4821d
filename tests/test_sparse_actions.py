"""SparseActions: generator properties and the shipped built-in store (never rebuilt here)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from frame_select_env.pipeline.datasets.sparse_actions import (
    CLASS_NAMES,
    SparseActionsConfig,
    class_motion,
    class_sprite,
    generate_video,
    measure_store,
    plan_dataset,
    sampled_relevance,
    write_avi,
)
from frame_select_env.pipeline.datasets.sparse_actions import generator as sa
from frame_select_env.store.builtin import DATA_DIR

DATA = DATA_DIR
STORE = DATA / "sparse_actions.h5"
SUMMARY = DATA / "sparse_actions.json"
SMALL = SparseActionsConfig(min_frames=40, max_frames=48)


# ----------------------------------------------------------------------------- generator


def test_deterministic_from_seed() -> None:
    a = generate_video(3, seed=7, index=11, config=SMALL)
    b = generate_video(3, seed=7, index=11, config=SMALL)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert a.window == b.window and a.distractors == b.distractors
    c = generate_video(3, seed=8, index=11, config=SMALL)
    d = generate_video(3, seed=7, index=12, config=SMALL)
    for other in (c, d):
        assert other.frames.shape != a.frames.shape or not np.array_equal(other.frames, a.frames)


def test_frames_and_ground_truth_shapes() -> None:
    v = generate_video(0, seed=0, index=0, config=SMALL)
    n = len(v.frames)
    assert SMALL.min_frames <= n <= SMALL.max_frames
    assert v.frames.shape == (n, SMALL.height, SMALL.width, 3) and v.frames.dtype == np.uint8
    assert v.relevance.shape == (n,) and v.relevance.dtype == bool
    s, e = v.window
    assert v.relevance[s:e].all() and v.relevance.sum() == e - s
    for ev in v.distractors:
        assert ev["class"] != 0
        assert ev["stop"] <= s or ev["start"] >= e  # distractors never overlap the action


def test_relevant_window_is_a_minority() -> None:
    fracs = [generate_video(i % 10, 1, i, SMALL).relevance.mean() for i in range(12)]
    lo, hi = SMALL.window_frac
    assert all(lo - 0.03 <= f <= hi + 0.03 for f in fracs), fracs
    assert max(fracs) < 0.5


def _colour_fraction(frame: np.ndarray, colour: tuple[int, int, int]) -> float:
    d = np.abs(frame.astype(np.int16) - np.asarray(colour, np.int16)).max(-1)
    return float((d < 40).mean())


def test_relevance_marks_where_the_class_object_is() -> None:
    # The class colour shows up inside the window and (almost) never outside it.
    for label in (0, 1, 5):
        v = generate_video(label, 2, 100 + label, SMALL)
        colour = sa._APPEARANCE[label][1]
        inside = np.mean([_colour_fraction(f, colour) for f in v.frames[v.relevance]])
        outside = np.mean([_colour_fraction(f, colour) for f in v.frames[~v.relevance]])
        assert inside > 0.01 and inside > 10 * outside, (label, inside, outside)


def test_classes_differ_in_appearance() -> None:
    sprites = []
    for c in range(len(CLASS_NAMES)):
        rgb, alpha = class_sprite(c, 36)
        sprites.append(np.concatenate([rgb / 255.0, alpha[..., None]], -1))
    for i in range(len(sprites)):
        for j in range(i + 1, len(sprites)):
            assert np.abs(sprites[i] - sprites[j]).mean() > 0.05, (i, j)


def _motion_signature(label: int) -> np.ndarray:
    """Mean velocity, speed, rotation rate, scale change and direction reversals over seeds."""
    sig = []
    for k in range(20):
        rng = np.random.default_rng(k)
        x, y, ang, sc = class_motion(label, np.arange(16.0), rng, 160, 120, 1.0)
        dx, dy = np.diff(x), np.diff(y)
        # |mean dx| and |rotation rate|: left/right and the spin sense are drawn at random
        sig.append([abs(dx.mean()), dy.mean(), np.hypot(dx, dy).mean(), abs(np.diff(ang).mean()),
                    np.abs(np.diff(sc)).mean() * 20, (np.diff(np.sign(dx)) != 0).mean() * 4,
                    (np.diff(np.sign(dy)) != 0).mean() * 4])
    return np.mean(sig, 0)


def test_classes_differ_in_motion() -> None:
    sigs = [_motion_signature(c) for c in range(len(CLASS_NAMES))]
    for i in range(len(sigs)):
        for j in range(i + 1, len(sigs)):
            assert np.abs(sigs[i] - sigs[j]).max() > 0.5, (i, j, sigs[i], sigs[j])


def test_plan_and_sampled_relevance() -> None:
    plan = plan_dataset({"train": 2, "test": 1})
    assert len(plan) == 3 * len(CLASS_NAMES)
    assert len({r.video_id for r in plan}) == len(plan)
    assert [r.index for r in plan] == list(range(len(plan)))
    rel = np.array([0, 0, 1, 1, 0], bool)
    np.testing.assert_array_equal(sampled_relevance(rel, np.array([0, 2, 3, 4])), [0, 1, 1, 0])
    with pytest.raises(ValueError, match="outside"):
        sampled_relevance(rel, np.array([5]))
    with pytest.raises(ValueError, match="unknown split"):
        plan_dataset({"dev": 1})
    with pytest.raises(ValueError, match="window_frac"):
        SparseActionsConfig(window_frac=(0.3, 0.6))


def test_length_window_truth_and_config_from_dict() -> None:
    from frame_select_env.pipeline.datasets.sparse_actions import (
        truth_relevance,
        video_length_and_window,
    )

    v = generate_video(2, seed=5, index=9, config=SMALL)
    n, window = video_length_and_window(5, 9, SMALL)
    assert (n, window) == (len(v.frames), v.window)  # the same draws, nothing rendered
    idx = np.array([0, window[0], window[1] - 1, n - 1])
    truth = {"num_frames": n, "window": list(window)}
    np.testing.assert_array_equal(truth_relevance(truth, idx, n, "v.avi"),
                                  v.relevance[idx].astype(np.uint8))
    with pytest.raises(ValueError, match="v.avi: decoded 3 frames"):
        truth_relevance(truth, idx[:1], 3, "v.avi")
    assert SparseActionsConfig.from_dict(json.loads(json.dumps(SMALL.to_dict()))) == SMALL
    with pytest.raises(ValueError, match="unknown SparseActionsConfig keys"):
        SparseActionsConfig.from_dict({"wdith": 100})


def test_avi_roundtrip(tmp_path: Path) -> None:
    from frame_select_env.pipeline.video.decode import count_frames, read_frames

    v = generate_video(4, 0, 3, SMALL)
    path = tmp_path / "v.avi"
    write_avi(path, v.frames[:10])
    assert count_frames(path) == 10
    back = read_frames(path, [0, 9], size=None)
    assert back[9].shape == v.frames[9].shape
    assert np.abs(back[9].astype(int) - v.frames[9]).mean() < 8  # MJPG is lossy, not wrong
    with pytest.raises(ValueError, match="expected"):
        write_avi(tmp_path / "bad.avi", v.frames[0])


# ----------------------------------------------------------------------------- shipped store


@pytest.fixture(scope="module")
def summary() -> dict:
    if not STORE.is_file() or not SUMMARY.is_file():
        pytest.fail(f"the built-in store {STORE} (or its summary) is missing")
    return json.loads(SUMMARY.read_text())


def test_store_schema_and_size(summary: dict) -> None:
    from frame_select_env.store import FeatureStore, validate_store

    validate_store(STORE)
    assert STORE.stat().st_size <= 10 * 1024 * 1024
    assert hashlib.sha256(STORE.read_bytes()).hexdigest() == summary["store_sha256"]
    st = FeatureStore(STORE)
    counts = summary["counts_per_class"]
    assert len(st) == sum(counts.values()) * len(CLASS_NAMES)
    assert list(st.class_names) == list(CLASS_NAMES)
    assert st.num_frames == 25
    assert sorted(st.streams) == ["flow", "rgb"]
    for split, k in counts.items():
        assert len(st.indices(split)) == k * len(CLASS_NAMES)
    v = summary["extraction"]["num_views"]
    idx = st.indices("test")[:3]
    assert st.features("rgb", idx).shape[:3] == (3, 25, v)
    rel = st.relevance(st.indices())
    assert rel is not None and set(np.unique(rel)) <= {0, 1}
    assert 0.1 < rel.mean() < 0.4  # a minority of the sampled frames shows the action
    assert rel.sum(1).min() >= 1


def test_store_numbers_hold(summary: dict) -> None:
    m = measure_store(STORE, seed=summary["seed"])
    ref = summary["metrics"]
    rnd = f"random_m{ref['random_m']}"
    for s in ("rgb", "flow", "fused"):
        got, want = m["streams"][s], ref["streams"][s]
        for key in ("all_frames", "oracle_relevant", rnd):
            assert got[key] == pytest.approx(want[key], abs=0.5), (s, key)
        assert got["probe_frame_best"]["acc"] == pytest.approx(
            want["probe_frame_best"]["acc"], abs=1.0)
        # Sparse evidence: averaging only the relevant frames, or the top frames of a relevance
        # probe fitted on the train split, beats averaging all frames by a wide margin.
        assert got["oracle_relevant"] >= got["all_frames"] + 10.0, s
        assert got["probe_frame_best"]["acc"] >= got["all_frames"] + 8.0, s
    # The band is per stream; the fusion of two complementary streams may lie above it, but it
    # must beat either stream alone and still leave room for selection.
    fused = m["streams"]["fused"]
    assert fused["all_frames"] > max(m["streams"][s]["all_frames"] for s in ("rgb", "flow"))
    assert fused["oracle_relevant"] >= fused["all_frames"] + 10.0
    assert fused[rnd] < fused["all_frames"]


def test_store_per_stream_band(summary: dict) -> None:
    ref = summary["metrics"]["streams"]
    rnd = f"random_m{summary['metrics']['random_m']}"
    for s in ("rgb", "flow"):
        assert 55.0 <= ref[s]["all_frames"] <= 85.0, (s, ref[s]["all_frames"])
        assert ref[s][rnd] < ref[s]["all_frames"], s
