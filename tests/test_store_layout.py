"""The store's chunk layouts: one view per chunk (new) and one video per chunk (older stores).

Both must give the same rows, the same observations in both envs (lazy and in memory), and
still merge; the batched reader must return rows in the order asked for.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import h5py
import numpy as np
import pytest

import frame_select_env  # noqa: F401  (registers the env)
from frame_select_env.store import FeatureStore, StoreWriter, finite_half_to_float32, write_store
from scripts.merge_stores import merge_stores

ROOT = Path(__file__).resolve().parents[1]
N, T, V, D, C = 24, 6, 3, 8, 5


def arrays(n: int = N, seed: int = 0, first: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    streams = ("rgb", "flow")
    return dict(
        features={s: rng.normal(size=(n, T, V, D)).astype(np.float32) for s in streams},
        logits={s: (3 * rng.normal(size=(n, T, V, C))).astype(np.float32) for s in streams},
        labels=rng.integers(0, C, n),
        video_ids=[f"v{first + i:03d}" for i in range(n)],
        splits=["train"] * n,
        class_names=[f"c{i}" for i in range(C)],
        relevance=rng.integers(0, 2, (n, T)),
    )


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> tuple[Path, Path, dict]:
    out = tmp_path_factory.mktemp("layouts")
    a = arrays()
    new = write_store(out / "view.h5", **a, dtype="float16")
    old = write_store(out / "video.h5", **a, dtype="float16", layout="video")
    return new, old, a


def test_layouts_chunk_as_documented(stores) -> None:
    new, old, _ = stores
    with h5py.File(new, "r") as f:
        assert f["streams/rgb/features"].chunks == (1, T, 1, D)
        assert f["streams/flow/logits"].chunks == (1, T, 1, C)
    with h5py.File(old, "r") as f:
        assert f["streams/rgb/features"].chunks == (1, T, V, D)
    with pytest.raises(ValueError, match="layout must be one of .*got 'rows'"):
        StoreWriter(new.with_name("x.h5"), 1, 1, {"rgb": (1, 1)}, ["a"], layout="rows")


@pytest.mark.parametrize("which", [0, 1])
def test_batched_reads_keep_the_order_asked_for(stores, which: int) -> None:
    store = FeatureStore(stores[which])
    want = {k: stores[2][k]["rgb"].astype(np.float16) for k in ("features", "logits")}
    # unsorted, repeated, with runs of consecutive rows, and a single row
    for idx in ([7, 3, 4, 5, 3, 20, 0, 1], [5], [23, 22, 21], list(range(N))):
        got = store.features("rgb", idx)
        np.testing.assert_array_equal(got, want["features"][idx])
        views = np.arange(len(idx)) % V
        np.testing.assert_array_equal(store.logits("rgb", idx, views),
                                      want["logits"][idx, :, views])
        np.testing.assert_array_equal(store.features("rgb", np.asarray(idx), views),
                                      want["features"][idx, :, views])
    np.testing.assert_array_equal(store.features("rgb", 9, 2), want["features"][9, :, 2])


@pytest.mark.parametrize("view", ["random", "center", "mean", 2])
@pytest.mark.parametrize("stream", ["rgb", "fused"])
def test_both_layouts_give_identical_observations(stores, view, stream) -> None:
    new, old, _ = stores
    kw = dict(split=None, stream=stream, view=view, num_frames=4)
    obs = {}
    for name, path in (("new", new), ("old", old)):
        for mode, limit in (("lazy", 0), ("memory", 1 << 30)):
            vec = gym.make_vec("FrameSelection-v0", num_envs=5, store=str(path),
                               max_memory_bytes=limit, autoreset_mode="disabled", **kw)
            assert vec.unwrapped.source.in_memory == (mode == "memory")
            vo, _ = vec.reset(seed=3, options={"indices": [19, 2, 7, 2, 11]})
            single = gym.make("FrameSelection-v0", store=str(path), max_memory_bytes=limit,
                              **kw)
            so, _ = single.reset(seed=5, options={"index": 13})
            obs[name, mode] = (vo, so)
            vec.close()
            single.close()
    for key in ("features", "predictions"):
        for k in (0, 1):
            lazy_new, lazy_old = obs["new", "lazy"][k][key], obs["old", "lazy"][k][key]
            # the same bytes through the same code: bit for bit, whatever the chunks
            np.testing.assert_array_equal(lazy_new, lazy_old)
            np.testing.assert_array_equal(obs["new", "memory"][k][key],
                                          obs["old", "memory"][k][key])
            # a lazy one-view read gives what the in-memory split gives (float32 rounding)
            np.testing.assert_allclose(lazy_new, obs["new", "memory"][k][key], rtol=1e-6,
                                       atol=1e-7)


def test_old_and_new_layout_shards_merge_into_the_new_layout(tmp_path: Path) -> None:
    a, b = arrays(10, seed=1), arrays(7, seed=2, first=10)
    s0 = write_store(tmp_path / "s.h5.shard0", **a, layout="video")  # an older shard
    s1 = write_store(tmp_path / "s.h5.shard1", **b)
    merged = merge_stores([s0, s1], tmp_path / "s.h5")
    with h5py.File(merged, "r") as f:
        assert f["streams/rgb/features"].chunks == (1, T, 1, D)
    st = FeatureStore(merged)
    assert list(st.video_ids) == a["video_ids"] + b["video_ids"]
    for s in ("rgb", "flow"):
        want = np.concatenate([a["features"][s], b["features"][s]]).astype(np.float16)
        np.testing.assert_array_equal(st.features(s, np.arange(17)), want)
        want = np.concatenate([a["logits"][s], b["logits"][s]]).astype(np.float16)
        np.testing.assert_array_equal(st.logits(s, [16, 0, 3], [2, 0, 1]),
                                      want[[16, 0, 3], :, [2, 0, 1]])
    np.testing.assert_array_equal(st.relevance([0, 12]),
                                  np.concatenate([a["relevance"], b["relevance"]])[[0, 12]])


def test_interrupted_new_layout_write_leaves_nothing_and_a_rerun_completes(tmp_path) -> None:
    path, a = tmp_path / "s.h5", arrays(4)
    with pytest.raises(RuntimeError, match="killed"):
        with StoreWriter(path, 4, T, {"rgb": (V, D)}, a["class_names"]) as w:
            w.write(0, video_id="v0", label=1, split="train",
                    features={"rgb": a["features"]["rgb"][0]},
                    logits={"rgb": a["logits"]["rgb"][0]})
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with StoreWriter(path, 4, T, {"rgb": (V, D)}, a["class_names"]) as w:
        for i in range(4):
            w.write(i, video_id=f"v{i}", label=i % C, split="val",
                    features={"rgb": a["features"]["rgb"][i]},
                    logits={"rgb": a["logits"]["rgb"][i]})
    np.testing.assert_array_equal(FeatureStore(path).features("rgb", [3, 1], [2, 0]),
                                  a["features"]["rgb"][[3, 1], :, [2, 0]].astype(np.float16))


def test_fast_half_widening_is_exact_on_every_finite_half() -> None:
    every = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    finite = every[np.isfinite(every)]
    got = finite_half_to_float32(finite.reshape(2, -1)).ravel()
    assert got.dtype == np.float32 and len(finite) == 63_488
    # bit for bit: -0.0, subnormals and the largest half (65504) included
    np.testing.assert_array_equal(got.view(np.uint32), finite.astype(np.float32).view(np.uint32))
    sliced = np.arange(12, dtype=np.float16).reshape(3, 4)[:, ::2]  # a non-contiguous view
    np.testing.assert_array_equal(finite_half_to_float32(sliced), sliced.astype(np.float32))
    assert finite_half_to_float32(np.ones(3, np.float32)).dtype == np.float32
