"""Cost accounting against independent counts: MACs by formula, cost of select-before-compute by
hand, threshold selection's frame counts, and the observe/predict split of the env."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from agents.as_agent import ASAgent, ASAgentConfig
from frame_select_env.core.reward import selection_reward
from frame_select_env.core.selection import select_frames_threshold, threshold_mask, topm_mask
from frame_select_env.envs.observations import REWARD_KEY, ObservationSource
from frame_select_env.envs.one_step.env import FrameSelectionEnv
from frame_select_env.envs.one_step.vector_env import FrameSelectionVectorEnv
from frame_select_env.evaluation import ObservingPolicy, evaluate_importance, evaluate_policies
from frame_select_env.pipeline.cost import (
    BUILTIN_COST_JSON,
    COST_FORMAT,
    CostModel,
    agent_macs_per_sequence,
    classifier_architecture,
    compose_cost,
    count_macs,
    extraction_metadata,
    sparse_actions_frame_counts,
    store_cost,
    stream_macs_per_crop,
)
from frame_select_env.store import FeatureStore, write_store
from frame_select_env.store.builtin import builtin_store_path


# ----------------------------------------------------------------------------- MACs by formula
def test_conv_and_linear_macs_by_formula() -> None:
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True)
    h_out = (17 + 2 * 1 - 3) // 2 + 1  # 9
    assert count_macs(conv, torch.zeros(2, 3, 17, 17)) == 2 * 8 * 3 * 3 * 3 * h_out * h_out
    lin = nn.Linear(20, 7)
    assert count_macs(lin, torch.zeros(5, 20)) == 5 * 20 * 7


def small_cnn_macs(cin: int, width: int, dim: int, classes: int, crop: int) -> int:
    """SmallCNN + classifier MACs by hand: stem 4x4/4, 3x3 at /4, /8, /16, 1x1, then fc."""
    a, b, c = (crop // 4) ** 2, (crop // 8) ** 2, (crop // 16) ** 2
    w = width
    return (w * cin * 16 * a + w * w * 9 * a + 2 * w * w * 9 * b + 4 * w * 2 * w * 9 * c
            + dim * 4 * w * c + dim * classes)


@pytest.mark.parametrize("cin,kwargs", [(3, {"feature_dim": 16, "width": 16}),
                                        (10, {"feature_dim": 24, "width": 32})])
def test_small_cnn_total_by_hand(cin: int, kwargs: dict) -> None:
    got = stream_macs_per_crop("small", cin, 10, 112, kwargs)
    assert got == small_cnn_macs(cin, kwargs["width"], kwargs["feature_dim"], 10, 112)


def test_lstm_and_agent_macs_by_formula() -> None:
    # FlopCounterMode reports 0 inside aten::lstm; count_macs counts it through LSTMCell steps.
    lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True, bidirectional=True)
    per_step = 2 * 4 * 32 * (16 + 32) + 2 * 4 * 32 * (64 + 32)  # both layers, both directions
    assert count_macs(lstm, torch.zeros(3, 25, 16)) == 3 * 25 * per_step
    cfg = ASAgentConfig(feature_dim=16, num_classes=10, proj_dim=64, hidden_size=64)
    agent = ASAgent(cfg)
    per_frame = 16 * 64 + 10 * 64 + 2 * 4 * 64 * (128 + 64) + 128 * 1
    assert agent_macs_per_sequence(agent, 25) == 25 * per_frame
    assert agent.training  # left as it was


# ----------------------------------------------------------------------------- per-video cost
def hand_cost(num_frames: int = 4, length: int = 2, views: int = 2, counts=None) -> dict:
    """A cost dict with round numbers, so every figure can be checked by hand."""
    return {
        "format": COST_FORMAT, "num_frames": num_frames, "flow_length": length,
        "num_views": views, "flow_method": "dis", "crop": 8, "num_classes": 2,
        "streams": {"rgb": {"macs_per_crop": 100, "seconds_per_crop": 1e-3},
                    "flow": {"macs_per_crop": 1000, "seconds_per_crop": 1e-2}},
        "seconds": {"size_key": "8x8", "flow_seconds_per_pair": {"8x8": {"dis": 0.5,
                                                                          "tvl1": 2.0}},
                    "decode": {"grab_seconds_per_frame": 1e-4,
                               "retrieve_seconds_per_frame": 1e-3}},
        **({} if counts is None else {"num_video_frames": list(counts)}),
    }


def test_select_before_compute_cost_by_hand() -> None:
    model = CostModel(hand_cost(counts=[40]))
    keep = np.zeros((1, 4, 2), bool)
    keep[0, :2] = True  # m = 2 kept frames, every view
    vc = model.video_cost({"rgb": None, "flow": keep})
    # rgb on all T x V crops, flow on the m kept frames only
    assert vc.macs[0] == 4 * 2 * 100 + 2 * 2 * 1000
    # n = 40: rgb frames 5, 15, 25, 35; flow windows (L + 1 = 3 frames) start 4, 14 -> pairs
    # 4, 5, 14, 15; frames retrieved {4, 5, 6, 14, 15, 16, 25, 35}; the pass grabs 0..35
    cnn = 4 * 2 * 1e-3 + 2 * 2 * 1e-2
    assert vc.seconds[0] == pytest.approx(cnn + 4 * 0.5 + 8 * 1e-3 + 36 * 1e-4)
    tvl1 = CostModel(hand_cost(counts=[40]), flow_method="tvl1").video_cost(
        {"rgb": None, "flow": keep})
    assert tvl1.seconds[0] - vc.seconds[0] == pytest.approx(4 * (2.0 - 0.5))


def test_overlapping_flow_windows_count_distinct_pairs() -> None:
    # n = 8, T = 4, L = 2: windows start 0, 2, 3, 5 -> pairs {0,1}, {2,3}, {3,4}, {5,6}: 7 pairs
    model = CostModel(hand_cost(counts=[8]))
    vc = model.video_cost({"flow": None})
    cnn = 4 * 2 * 1e-2
    # frames retrieved 0..7 (8), grabbed 8
    assert vc.seconds[0] == pytest.approx(cnn + 7 * 0.5 + 8 * 1e-3 + 8 * 1e-4)
    # unknown length: windows assumed apart, T * L pairs
    vc_unknown = CostModel(hand_cost()).video_cost({"flow": None}, batch=1)
    assert vc_unknown.seconds[0] > cnn + 8 * 0.5


def test_cost_model_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="not a cost dict"):
        CostModel({"format": "x"})
    with pytest.raises(ValueError, match="no measured seconds for flow method 'farneback'"):
        CostModel(hand_cost(), flow_method="farneback")
    with pytest.raises(ValueError, match="mask of 'rgb' has shape"):
        CostModel(hand_cost(counts=[40])).video_cost({"rgb": np.ones((1, 3, 2), bool)})


# ----------------------------------------------------------------------------- threshold budget
def test_threshold_selection_frame_counts() -> None:
    scores = np.array([[0.9, 0.6, 0.5, 0.1, 0.4], [0.2, 0.1, 0.3, 0.4, 0.45]], np.float32)
    mask = threshold_mask(scores, 0.5)
    assert mask.sum(-1).tolist() == [3, 1]  # the second video keeps its best frame only
    assert mask[1].tolist() == [False, False, False, False, True]
    assert threshold_mask(scores, 0.5, min_keep=2)[1].tolist() == topm_mask(scores, 2)[1].tolist()
    imp = np.stack([scores, scores[:, ::-1]], -1)  # (B, T, V=2)
    frame = select_frames_threshold(imp, 0.5, "frame")
    assert (frame[..., 0] == frame[..., 1]).all()  # the same frames in every view
    region = select_frames_threshold(imp, 0.5, "region")
    assert region[0, :, 0].sum() == 3 and region[0, :, 1].tolist() == mask[0, ::-1].tolist()


_A = np.array([[[0.9, 0.1], [0.8, 0.2]], [[0.2, 0.8], [0.3, 0.7]],
               [[0.6, 0.4], [0.1, 0.9]], [[0.3, 0.7], [0.5, 0.5]]], np.float32)
PROBS = np.stack([_A, _A[..., ::-1], _A[..., ::-1]])  # (B=3, T=4, V=2, C=2)
LABELS = np.array([0, 0, 1])
IMP = np.stack([np.array([[0.9, 0.9], [0.1, 0.1], [0.6, 0.6], [0.3, 0.3]], np.float32)] * 3)


class Fixed:
    name, uses_label = "fixed", False

    def __init__(self, observes=None) -> None:
        if observes is not None:
            self.observes = observes

    def scores(self, obs, info=None):
        return IMP[:, :, int(info["view"][0])]


def test_threshold_rows() -> None:
    rows = evaluate_importance(PROBS, IMP, LABELS, ms=[1], schemes=["frame"],
                               thresholds=[0.5, 0.95])
    thr = {r["threshold"]: r for r in rows if r["m"] == 0}
    assert set(thr) == {0.5, 0.95}
    # p >= 0.5 keeps t0, t2 (the m = 2 selection, 200/3 % by hand in test_evaluation)
    assert thr[0.5]["accuracy"] == pytest.approx(200 / 3)
    # nothing reaches 0.95: each video keeps its best frame t0 only; video a: views (.9 .1),
    # (.8 .2) -> class 0, right; b and c are swapped -> class 1: b (label 0) wrong, c right
    assert thr[0.95]["accuracy"] == pytest.approx(200 / 3)
    _, preds = evaluate_importance(PROBS, IMP, LABELS, ms=[1], schemes=["frame"],
                                   thresholds=[0.95], return_predictions=True)
    assert preds[("frame", ("threshold", 0.95))][1].any(-1).sum(-1).tolist() == [1, 1, 1]


@pytest.fixture()
def tiny_store(tmp_path):
    feats = np.zeros((3, 4, 2, 3), np.float32)
    return write_store(
        tmp_path / "s.h5", features={"rgb": feats, "flow": feats + 1.0},
        logits={"rgb": np.log(PROBS), "flow": np.log(PROBS[..., ::-1])}, labels=LABELS,
        video_ids=["a", "b", "c"], splits=["test"] * 3, class_names=["x", "y"],
        dtype="float32",
    )


def test_evaluation_cost_columns(tiny_store) -> None:
    cost = hand_cost(counts=[40, 40, 40])
    cross = ObservingPolicy(Fixed(), "rgb")
    rows = evaluate_policies(
        {"blind": {"rgb": Fixed(()), "flow": Fixed(())}, "paper": {"rgb": Fixed(),
                                                                   "flow": Fixed()},
         "cross": {"rgb": cross, "flow": cross}},
        tiny_store, ms=[2], schemes=["frame"], cost=cost, thresholds=[0.5])
    look = {(r["agent"], r["stream"], r["m"]): r for r in rows}
    v, t = 2, 4
    # every frame of both streams
    assert look[("all", "fused", 2)]["gmacs"] * 1e9 == pytest.approx(t * v * 1100)
    # looks at nothing: only the m kept frames of each stream are computed
    assert look[("blind", "fused", 2)]["gmacs"] * 1e9 == pytest.approx(2 * v * 1100)
    # the paper: each stream observed, so computed on every frame, whatever m is
    assert look[("paper", "fused", 2)]["gmacs"] * 1e9 == pytest.approx(t * v * 1100)
    # select-before-compute: rgb on T frames + flow on the m kept frames
    assert look[("cross", "fused", 2)]["gmacs"] * 1e9 == pytest.approx(t * v * 100 + 2 * v * 1000)
    assert look[("cross", "flow", 2)]["gmacs"] == look[("cross", "fused", 2)]["gmacs"]
    # threshold 0.5 keeps t0 and t2 of every video: 2 frames
    assert look[("cross", "fused", 0)]["frames"] == 2.0
    assert look[("cross", "fused", 0)]["threshold"] == 0.5
    assert all(np.isfinite(r["seconds"]) for r in rows)
    no_cost = evaluate_policies({}, tiny_store, ms=[2], schemes=["frame"], cost=None)
    assert all(np.isnan(r["gmacs"]) for r in no_cost)


# ----------------------------------------------------------------------------- observe / predict
def test_observe_predict_split(small_store) -> None:
    paper = ObservationSource(small_store, "train", "rgb", view="center")
    assert REWARD_KEY not in paper.gather(np.arange(4))  # the paper's setting is unchanged
    src = ObservationSource(small_store, "train", "rgb", view="center", observe="rgb",
                            predict="fused")
    fused = ObservationSource(small_store, "train", "fused", view="center")
    batch = src.gather(np.arange(4))
    np.testing.assert_array_equal(batch["features"], paper.gather(np.arange(4))["features"])
    np.testing.assert_allclose(batch[REWARD_KEY], fused.gather(np.arange(4))["predictions"])
    assert src.feature_dim == FeatureStore(small_store).feature_dim("rgb")
    with pytest.raises(ValueError, match="predict 'depth' is not in feature store"):
        ObservationSource(small_store, "train", "rgb", predict="depth")

    env = FrameSelectionEnv(small_store, observe="rgb", predict="fused", view="center")
    obs, info = env.reset(seed=0, options={"index": 3})
    action = np.zeros(env.num_frames, np.int8)
    action[:5] = 1
    _, reward, *_ = env.step(action)
    fused_probs = fused.gather(np.array([3]))["predictions"][0]
    expected, _ = selection_reward(fused_probs, action, info["label"])
    assert reward == pytest.approx(float(expected))
    np.testing.assert_array_equal(obs["features"], paper.gather(np.array([3]))["features"][0])

    venv = FrameSelectionVectorEnv(4, small_store, observe="rgb", predict="fused", view="center")
    venv.reset(seed=0, options={"indices": [0, 1, 2, 3]})
    actions = np.ones((4, venv.num_frames), np.int8)
    _, rewards, *_ = venv.step(actions)
    expected, _ = selection_reward(fused.gather(np.arange(4))["predictions"], actions,
                                   fused.labels[:4])
    np.testing.assert_allclose(rewards, expected)


def test_env_reports_episode_macs() -> None:
    cost = store_cost(builtin_store_path())
    assert cost is not None
    rgb, flow = (cost["streams"][s]["macs_per_crop"] for s in ("rgb", "flow"))
    env = FrameSelectionEnv(observe="rgb", predict="fused", view="center")
    env.reset(seed=0)
    action = np.zeros(env.num_frames, np.int8)
    action[[1, 5, 9]] = 1
    *_, info = env.step(action)
    assert info["macs"] == 25 * rgb + 3 * flow  # one crop: rgb on T frames, flow on the kept


# ----------------------------------------------------------------------------- stored cost
def test_builtin_cost_matches_a_fresh_count() -> None:
    shipped = json.loads(BUILTIN_COST_JSON.read_text())
    fs = FeatureStore(builtin_store_path())
    for spec in shipped["streams"].values():
        assert spec["macs_per_crop"] == stream_macs_per_crop(
            spec["arch"], spec["in_channels"], fs.num_classes,
            spec.get("crop", shipped["crop"]),  # the preview's own 56 px crop
            spec["backbone_kwargs"])
    counts = sparse_actions_frame_counts(fs)  # checked against the stored relevance inside
    assert counts is not None and counts.tolist() == shipped["num_video_frames"]
    assert counts.min() >= 60 and counts.max() <= 80  # the generator's range


def test_builtin_store_cost_has_the_shipped_seconds(tmp_path) -> None:
    """The built-in store's metadata cost is MACs only; the shipped JSON gives its seconds."""
    shipped = json.loads(BUILTIN_COST_JSON.read_text())
    fs = FeatureStore(builtin_store_path())
    assert "seconds" not in fs.metadata["cost"]  # why the seconds went missing (issue 18.10)
    cost = store_cost(fs)
    assert cost["seconds"] == shipped["seconds"]
    for s, spec in cost["streams"].items():
        assert spec["seconds_per_crop"] == shipped["streams"][s]["seconds_per_crop"]
        assert spec["macs_per_crop"] == fs.metadata["cost"]["streams"][s]["macs_per_crop"]
    assert cost["num_video_frames"] == shipped["num_video_frames"]
    secs = CostModel(cost).video_cost({"rgb": None, "flow": None}).seconds
    assert np.isfinite(secs).all() and (secs > 0).all()
    # a store of other CNNs (other MACs) does not borrow the built-in seconds
    meta = json.loads(json.dumps(fs.metadata))
    meta["cost"]["streams"]["rgb"]["macs_per_crop"] += 1
    rows = np.arange(len(fs))
    other = write_store(
        tmp_path / "other.h5", features={s: fs.features(s, rows) for s in fs.streams},
        logits={s: fs.logits(s, rows) for s in fs.streams}, labels=fs.labels,
        video_ids=[str(v) for v in fs.video_ids], splits=[str(v) for v in fs.splits],
        class_names=fs.class_names, metadata=meta)
    assert "seconds" not in store_cost(other)


def test_extraction_metadata_and_resume(tmp_path) -> None:
    from frame_select_env.pipeline.models.classifier import TwoStreamClassifier

    clf = TwoStreamClassifier.random_init("small", 4, 5, device="cpu")
    extraction = {"crop": 32, "num_views": 1, "num_frames": 3, "flow_length": 5,
                  "flow_method": "dis", "size": [40, 40]}
    meta = extraction_metadata(clf, tmp_path, extraction, {"v1": 30, "v0": 20})
    assert "cost_seconds" not in meta  # nothing measured unless asked: deterministic metadata
    assert meta["cost"]["streams"]["flow"]["macs_per_crop"] == stream_macs_per_crop(
        "small", 10, 4, 32)
    resumed = extraction_metadata(None, tmp_path, extraction, {"v1": 30, "v0": 20})
    assert resumed == meta  # a resumed run loads no classifier and still writes the cost
    cost = compose_cost(meta, ["v0", "v1"])
    assert cost["num_video_frames"] == [20, 30]  # in store row order
    assert classifier_architecture(clf) == {s: {"arch": spec["arch"],
                                                "backbone_kwargs": spec["backbone_kwargs"]}
                                            for s, spec in meta["cost"]["streams"].items()}
    clf.streams["rgb"].backbone.arch = None
    with pytest.raises(ValueError, match="'rgb' backbone .* records no .arch"):
        classifier_architecture(clf)


def test_cost_module_command_help(capsys: pytest.CaptureFixture[str]) -> None:
    from frame_select_env.pipeline.cost.__main__ import main

    with pytest.raises(SystemExit) as err:
        main(["--help"])
    assert err.value.code == 0
    assert "--ucf-clip" in capsys.readouterr().out


# ----------------------------------------------------------------------------- training, script
def test_trainer_observes_rgb_and_is_rewarded_on_fused(small_store) -> None:
    from agents.reinforce import ReinforceConfig, ReinforceTrainer

    cfg = ReinforceConfig(epochs=1, lr=1e-3, batch_size=16, num_episodes=2, proj_dim=8,
                          hidden_size=8, tensorboard=False, observe="rgb", predict="fused")
    trainer = ReinforceTrainer(small_store, "rgb", cfg)
    src = trainer.env.source
    assert src.streams == ["rgb"] and src.predict_streams == ["rgb", "flow"]
    assert trainer.agent.config.feature_dim == FeatureStore(small_store).feature_dim("rgb")
    (row,) = trainer.train()
    assert np.isfinite(row["reward"])


def test_compare_cost_script_costs(tmp_path) -> None:
    from scripts import compare_cost as module

    assert module.main(["--out", str(tmp_path), "--seeds", "1", "--epochs", "1", "--ms", "4",
                        "--thresholds", "0.5", "--agents", "scsampler"]) == 0
    rows = list(__import__("csv").DictReader(open(tmp_path / "results.csv")))
    look = {(r["agent"], r["stream"], r["m"]): r for r in rows}
    cost = json.loads((tmp_path / "cost.json").read_text())
    rgb, flow = (cost["streams"][s]["macs_per_crop"] * 10 for s in ("rgb", "flow"))
    classifier = float(look[("uniform", "fused", "4")]["gmacs"]) * 1e9
    assert classifier == pytest.approx(4 * (rgb + flow), rel=1e-5)  # looks at nothing
    cross = float(look[("as_rgb_only", "fused", "4")]["gmacs"]) * 1e9
    agent = cross - (25 * rgb + 4 * flow)  # rgb on T frames + flow on the 4 kept
    # the agent's own MACs: 10 views x 25 frames x the per-frame count of the built-in config
    # (proj 64, hidden 64: see test_lstm_and_agent_macs_by_formula); the CSV keeps 6 digits
    per_frame = 16 * 64 + 10 * 64 + 2 * 4 * 64 * (128 + 64) + 128
    assert agent == pytest.approx(10 * 25 * per_frame, abs=1e4)
    assert float(look[("as", "fused", "4")]["gmacs"]) * 1e9 == pytest.approx(
        25 * (rgb + flow) + 2 * agent + 10 * 25 * (24 - 16) * 64, rel=1e-5)  # flow D = 24
    assert {"table.md", "accuracy_vs_cost.png"} <= {p.name for p in tmp_path.iterdir()}
    assert ("as_rgb_only", "fused", "0") in look  # the threshold budget row
    # an --agents spec is costed like the rest: SCSampler observes rgb on all T frames and pays
    # both streams on its 4 kept frames (a score rule: no MACs of its own)
    sc = look[("scsampler", "fused", "4")]
    assert float(sc["frames"]) == 4
    assert float(sc["gmacs"]) * 1e9 == pytest.approx(25 * rgb + 4 * flow, rel=1e-5)
    # every cost column of every row is a finite number: the built-in store's seconds come
    # from the shipped sparse_actions_cost.json even though its metadata cost is MACs only
    columns = [c for c in rows[0] if c in ("frames", "gmacs") or c.startswith("seconds")]
    assert {"frames", "gmacs", "seconds", "seconds_tvl1"} <= set(columns), list(rows[0])
    bad = [(r["agent"], r["stream"], r["m"], c, r[c]) for r in rows for c in columns
           if not np.isfinite(float(r[c]))]
    assert not bad, bad[:5]
    assert cost["streams"]["rgb"]["seconds_per_crop"] > 0
    # the docs' cost table (docs/cost.md): its columns, and the "all frames" row's cost per video
    table = (tmp_path / "table.md").read_text()
    assert "| agent | budget | accuracy (%) | frames | GMACs / video | s / video | " \
           "s / video, TV-L1 |" in table
    assert "nan" not in table.lower()
    readme = (Path(__file__).resolve().parents[1] / "docs" / "cost.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| all |"))
    assert row.split("|")[4:] == next(line for line in readme.splitlines()
                                      if line.startswith("| all | all frames |")).split("|")[4:]
