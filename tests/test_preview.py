"""The preview stream: a small CNN on downscaled frames, observed before rgb and flow are paid.

The built-in store holds it as an observe-only stream (``observe="preview"``): extracted from
the same videos as rgb and flow, its cost in the store and the cost record, observed by both
envs, and a short sequential AS run on it beats random frames.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import frame_select_env  # noqa: F401  (registers the envs)
from frame_select_env.core.selection import softmax
from frame_select_env.store import FeatureStore, StoreError, append_observe_stream, write_store
from frame_select_env.store.builtin import DATA_DIR, PACKAGED_STORE
from frame_select_env.store.cost_record import store_cost

PREVIEW_CKPT = DATA_DIR / "sparse_actions_preview.pt"
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
#: SmallCNN (width 16, D 16) on a 56 px crop, by hand: stem 4x4/4 3->16 at 14x14, 3x3 16->16 at
#: 14x14, 3x3/2 16->32 at 7x7, 3x3/2 32->64 at 4x4, 1x1 64->16 at 4x4, the 16->10 classifier
PREVIEW_MACS = (14 * 14 * 16 * 3 * 16 + 14 * 14 * 16 * 16 * 9 + 7 * 7 * 32 * 16 * 9
                + 4 * 4 * 64 * 32 * 9 + 4 * 4 * 16 * 64 + 16 * 10)


@pytest.fixture(scope="module")
def store() -> FeatureStore:
    return FeatureStore(PACKAGED_STORE)


def _extraction(store: FeatureStore):
    from frame_select_env.pipeline.extract import ExtractConfig

    rec = store.metadata["preview"]["extraction"]
    return ExtractConfig(num_frames=rec["num_frames"], num_views=rec["num_views"],
                         size=tuple(rec["size"]), crop=rec["crop"], dtype=rec["dtype"])


def _classifier():
    from frame_select_env.pipeline.models import TwoStreamClassifier

    return TwoStreamClassifier.from_checkpoints({"preview": PREVIEW_CKPT}, device="cpu",
                                                amp_dtype=None)


def test_store_has_the_preview_beside_unchanged_streams(store: FeatureStore) -> None:
    # the fused streams are still rgb and flow: every figure of the two-stream store holds
    assert store.streams == ["rgb", "flow"] and store.observe_only == ["preview"]
    assert store.num_views("preview") == 1 and store.num_views("rgb") == 10
    assert store.feature_dim("preview") == 16
    assert PACKAGED_STORE.stat().st_size <= 10 * 1024 * 1024
    p = softmax(store.to_float32(store.logits("preview", store.indices("test"))))
    assert np.allclose(p.sum(-1), 1.0, atol=1e-5)
    # the preview is a classifier of its own: well above chance (10%) averaged over T frames
    acc = (p.mean((1, 2)).argmax(-1) == store.labels[store.indices("test")]).mean()
    assert acc > 0.6


def test_preview_extracted_from_builtin_videos_matches_the_store(store: FeatureStore,
                                                                 tmp_path: Path) -> None:
    from frame_select_env.pipeline.datasets.sparse_actions import builtin_videos
    from frame_select_env.pipeline.extract import classify_video, prepare_video

    torch.set_num_threads(1)
    builtin_videos("test", tmp_path, workers=1, limit=2)
    cfg, clf = _extraction(store), _classifier()
    paths = sorted(tmp_path.rglob("*.avi"))
    assert len(paths) == 2
    for path in paths:
        item = prepare_video(path, cfg, ["preview"])
        assert item["preview"].shape == (25, 60, 80, 3)  # the 160x120 frames halved
        got = classify_video(clf, item, cfg)
        row = store.index_of(f"{path.parent.name}/{path.stem}")
        ref = store.to_float32(store.logits("preview", row))
        # the shipped values are float16; the frames decode alike where OpenCV is the same
        np.testing.assert_allclose(got["preview_logits"], ref, atol=0.05, rtol=0.02)
        assert got["preview_features"].shape == (25, 1, 16)


def test_preview_extracted_from_a_real_clip(store: FeatureStore) -> None:
    clips = sorted((REALDATA / "ucf101_clips").glob("*.mp4")) if REALDATA.is_dir() else []
    if not clips:
        pytest.skip(f"no real clips in {REALDATA / 'ucf101_clips'} (the shared real data is "
                    "not on this machine)")
    from frame_select_env.pipeline.extract import classify_video, prepare_video

    torch.set_num_threads(1)
    cfg = _extraction(store)
    item = prepare_video(clips[0], cfg, ["preview"])
    assert item["preview"].shape == (25, 60, 80, 3)  # 340x256 downscaled to the preview's size
    got = classify_video(_classifier(), item, cfg)
    assert got["preview_features"].shape == (25, 1, 16)
    assert got["preview_logits"].shape == (25, 1, 10)
    assert np.isfinite(got["preview_logits"]).all()
    # the frames differ, so the states do: the network really looked at the clip
    assert got["preview_logits"].std(0).max() > 1e-3


def test_preview_cost_recorded_and_counted(store: FeatureStore) -> None:
    from frame_select_env.pipeline.cost.macs import stream_macs_per_crop

    assert stream_macs_per_crop("small", 3, 10, 56, {"feature_dim": 16, "width": 16}) == \
        PREVIEW_MACS == 1139360
    cost = store_cost(store)
    assert cost is not None
    spec = cost["streams"]["preview"]
    assert spec["macs_per_crop"] == PREVIEW_MACS and spec["num_views"] == 1
    assert spec["seconds_per_crop"] > 0  # measured, from the shipped cost record
    rgb, flow = (cost["streams"][s]["macs_per_crop"] for s in ("rgb", "flow"))
    # one video by hand: the preview on all 25 frames (1 crop), rgb + flow on 3 paid frames
    # at every one of their 10 crops
    want = 25 * PREVIEW_MACS + 3 * 10 * (rgb + flow)
    env = gym.make("FrameSelectionSeq-v0", observe="preview", split="test", view="mean")
    env.reset(seed=0)
    assert env.unwrapped.core.pay_name == "fused"
    for frame in (3, 10, 20):
        *_, info = env.step(frame)
    assert info["macs"] == pytest.approx(want, rel=1e-12)
    assert want / 1e9 == pytest.approx(0.714903680)
    env.close()
    # the one-step env: the preview observed on all T frames, both streams on the kept ones
    one = gym.make("FrameSelection-v0", observe="preview", predict="fused", split="test",
                   view="mean")
    one.reset(seed=0)
    keep = np.zeros(25)
    keep[[1, 2, 3, 4]] = 1
    *_, info = one.step(keep)
    assert info["macs"] == pytest.approx(25 * PREVIEW_MACS + 4 * 10 * (rgb + flow))
    one.close()


def test_both_envs_observe_the_preview(store: FeatureStore) -> None:
    test = store.indices("test")
    pv = store.to_float32(store.features("preview", test))[:, :, 0]
    pp = softmax(store.to_float32(store.logits("preview", test)))[:, :, 0]
    one = gym.make("FrameSelection-v0", observe="preview", predict="fused", split="test",
                   view="center")
    obs, _ = one.reset(options={"index": 5})
    np.testing.assert_allclose(obs["features"], pv[5], rtol=0, atol=0)
    np.testing.assert_allclose(obs["predictions"], pp[5], atol=1e-6)
    one.close()
    # view="random": the one-view preview serves every view the rgb and flow crops are drawn at
    seq = gym.make("FrameSelectionSeq-v0", observe="preview", split="test")
    obs, _ = seq.reset(options={"index": 7, "view": 4})
    np.testing.assert_allclose(obs["cheap_features"], pv[7], atol=0)
    # nothing paid: the prediction is the preview's average over the T frames
    np.testing.assert_allclose(obs["prediction"], pp[7].mean(0), atol=1e-6)
    obs, *_ = seq.step(12)
    # one frame paid: rgb and flow fused on it (view 4), the preview no longer in it
    rgb = softmax(store.to_float32(store.logits("rgb", test[7])))[12, 4]
    flow = softmax(store.to_float32(store.logits("flow", test[7])))[12, 4]
    np.testing.assert_allclose(obs["prediction"], (rgb + flow) / 2, atol=1e-6)
    assert obs["expensive_features"].shape == (25, 40) and obs["paid"][12] == 1
    seq.close()


def test_observe_only_stream_append_and_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n, t, c = 4, 5, 3
    path = write_store(
        tmp_path / "s.h5", features={"rgb": rng.normal(size=(n, t, 2, 4)),
                                     "flow": rng.normal(size=(n, t, 2, 4))},
        logits={"rgb": rng.normal(size=(n, t, 2, c)), "flow": rng.normal(size=(n, t, 2, c))},
        labels=[0, 1, 2, 0], video_ids=list("abcd"), splits=["train"] * 2 + ["test"] * 2,
        class_names=list("xyz"))
    before = FeatureStore(path).features("rgb", np.arange(n))
    feats, logits = rng.normal(size=(n, t, 1, 3)), rng.normal(size=(n, t, 1, c))
    append_observe_stream(path, "preview", feats, logits, metadata={"preview": {"k": 1}})
    st = FeatureStore(path)
    assert st.streams == ["rgb", "flow"] and st.observe_only == ["preview"]
    np.testing.assert_array_equal(st.features("rgb", np.arange(n)), before)
    np.testing.assert_allclose(st.features("preview", np.arange(n)), feats, atol=1e-2)
    assert st.metadata["preview"] == {"k": 1}
    with pytest.raises(ValueError, match="has a stream 'rgb' already"):
        append_observe_stream(path, "rgb", feats, logits)
    with pytest.raises(ValueError, match="must be"):
        append_observe_stream(path, "other", feats[:2], logits[:2])
    with pytest.raises(ValueError, match="'nope' is not in feature store"):
        gym.make("FrameSelection-v0", store=path, observe="nope", predict="fused")
    with pytest.raises(StoreError):
        append_observe_stream(tmp_path / "missing.h5", "preview", feats, logits)


def test_short_seq_as_on_the_preview_beats_random_frames() -> None:
    from agents.seq_reinforce import SeqReinforceConfig, SeqReinforceTrainer
    from baselines_zoo.seq_policies import SeqRandomPolicy
    from frame_select_env.evaluation import evaluate_sequential

    torch.set_num_threads(1)
    cfg = SeqReinforceConfig(tensorboard=False, epochs=3, max_frames=4, proj_dim=32,
                             hidden_size=32, seed=0, observe="preview", stop=False)
    trainer = SeqReinforceTrainer(None, cfg)
    trainer.train()
    trained = dataclasses.replace(trainer.policy(), stop=False)  # pays its whole budget
    trainer.close()
    seq_as, rand = evaluate_sequential(
        {"seq_as": trained, "random": SeqRandomPolicy(4, seed=0)}, None, "test",
        env_kwargs={"observe": "preview"})
    assert seq_as["frames"] == rand["frames"] == 4  # equal frames: the whole budget paid
    assert seq_as["accuracy"] >= rand["accuracy"] + 8.0, (seq_as, rand)
    # the same paid frames cost the same: the preview everywhere, rgb + flow on 4 frames
    assert seq_as["gmacs"] == pytest.approx(rand["gmacs"], abs=0.05)
    assert rand["gmacs"] == pytest.approx((25 * PREVIEW_MACS + 4 * 10 * 22880656) / 1e9)
