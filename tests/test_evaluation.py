"""Algorithm 2 evaluation against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from frame_select_env.evaluation import (
    ROW_COLUMNS,
    evaluate_importance,
    evaluate_policies,
    load_split,
    policy_importance,
    precision,
    summarize,
)
from frame_select_env.store import write_store

# One video, T=4 frames, V=2 views, C=2 classes: probs[t, v] and importance[t, v].
_A = np.array([[[0.9, 0.1], [0.8, 0.2]],
               [[0.2, 0.8], [0.3, 0.7]],
               [[0.6, 0.4], [0.1, 0.9]],
               [[0.3, 0.7], [0.5, 0.5]]], dtype=np.float32)
_IMP = np.array([[0.9, 0.2], [0.1, 0.3], [0.5, 0.8], [0.3, 0.1]], dtype=np.float32)
# Videos: A, A with the classes swapped, the swapped one again; labels 0, 0, 1.
PROBS = np.stack([_A, _A[..., ::-1], _A[..., ::-1]])
IMPORTANCE = np.stack([_IMP] * 3)
LABELS = np.array([0, 0, 1])
RELEVANCE = np.array([[1, 0, 1, 0]] * 3)

# By hand, video A (m = 2):
#   frame-based: mean importance over views (.55 .2 .65 .2) keeps t0, t2 in both views:
#     view 0 (.75 .25), view 1 (.45 .55) -> (.6 .4) -> class 0; the swapped videos -> class 1
#   region-based: view 0 keeps t0, t2 -> (.75 .25); view 1 keeps t2, t1 -> (.2 .8)
#     -> (.475 .525) -> class 1; the swapped videos -> class 0
#   all frames: view 0 (.5 .5), view 1 (.425 .575) -> (.4625 .5375) -> class 1
#   alpha = .5, frame-based: view 0 (1.5 + .25) / 3, view 1 (.9 + .4) / 3 -> class 0 = .5083
EXPECTED = {  # (accuracy, mean class accuracy, precision) in percent
    ("frame", 2): (200 / 3, 75.0, 100.0),
    ("region", 2): (100 / 3, 25.0, 75.0),
    ("all", 2): (100 / 3, 25.0, 50.0),
}


class FixedPolicy:
    """Returns given (B, T, V) importance, one view per call; records what it was given."""

    name = "fixed"
    uses_label = False

    def __init__(self, importance: np.ndarray) -> None:
        self.importance = importance
        self.calls: list[tuple[dict, dict]] = []

    def scores(self, obs, info=None):
        self.calls.append(({k: v.shape for k, v in obs.items()}, dict(info or {})))
        return self.importance[:, :, int(info["view"][0])]


def test_evaluate_importance_by_hand() -> None:
    rows = evaluate_importance(PROBS, IMPORTANCE, LABELS, ms=[2], schemes=["frame", "region"],
                               relevance=RELEVANCE)
    for row in rows:
        acc, mca, prec = EXPECTED[(row["scheme"], row["m"])]
        assert row["accuracy"] == pytest.approx(acc)
        assert row["mean_class_accuracy"] == pytest.approx(mca)
        assert row["precision"] == pytest.approx(prec)
    (row,) = evaluate_importance(PROBS, None, LABELS, ms=[2], schemes=["frame"],
                                 relevance=RELEVANCE)
    assert (row["accuracy"], row["mean_class_accuracy"], row["precision"]) == pytest.approx(
        EXPECTED[("all", 2)])


def test_alpha_variant_by_hand() -> None:
    _, preds = evaluate_importance(PROBS[:1], IMPORTANCE[:1], LABELS[:1], ms=[2],
                                   schemes=["frame"], alpha=0.5, return_predictions=True)
    video_probs, mask = preds[("frame", 2)]
    expected0 = ((1.5 + 0.25) / 3 + (0.9 + 0.4) / 3) / 2
    assert video_probs[0] == pytest.approx([expected0, 1 - expected0], abs=1e-6)
    assert mask[0, :, 0].tolist() == [True, False, True, False]
    # alpha = 1 weighs every frame equally: the all-frames prediction.
    _, preds = evaluate_importance(PROBS, IMPORTANCE, LABELS, ms=[2], schemes=["region"],
                                   alpha=1.0, return_predictions=True)
    assert preds[("region", 2)][0] == pytest.approx(PROBS.mean((1, 2)), abs=1e-6)


def test_precision() -> None:
    mask = np.zeros((1, 4, 2), bool)
    mask[0, [0, 1], 0] = True
    mask[0, 3, 1] = True
    assert precision(mask, np.array([[1, 1, 0, 0]])) == pytest.approx(200 / 3)
    assert np.isnan(precision(mask, None))
    assert precision(None, np.array([[1, 0, 0, 0]])) == pytest.approx(25.0)


def test_policy_importance_calls_once_per_view() -> None:
    policy = FixedPolicy(IMPORTANCE)
    obs = {"features": np.zeros((3, 4, 2, 5), np.float32), "predictions": PROBS}
    out = policy_importance(policy, obs, {"label": LABELS})
    np.testing.assert_array_equal(out, IMPORTANCE)
    assert len(policy.calls) == 2  # V views, each batched over all B videos
    shapes, info = policy.calls[1]
    assert shapes == {"features": (3, 4, 5), "predictions": (3, 4, 2)}
    assert info["view"].tolist() == [1, 1, 1] and info["label"] is LABELS

    class Bad(FixedPolicy):
        def scores(self, obs, info=None):
            return np.zeros((3, 5))

    with pytest.raises(ValueError, match=r"policy 'fixed' returned scores of shape \(3, 5\)"):
        policy_importance(Bad(IMPORTANCE), obs)


@pytest.fixture()
def store(tmp_path):
    """rgb = PROBS; flow = PROBS with the classes swapped (stored as log-probabilities)."""
    feats = np.zeros((3, 4, 2, 3), np.float32)
    return write_store(
        tmp_path / "s.h5", features={"rgb": feats, "flow": feats},
        logits={"rgb": np.log(PROBS), "flow": np.log(PROBS[..., ::-1])}, labels=LABELS,
        video_ids=["a", "b", "c"], splits=["test"] * 3, class_names=["x", "y"],
        relevance=RELEVANCE, dtype="float32",
    )


def test_evaluate_policies_rows(store) -> None:
    policies = {"fixed": {"rgb": FixedPolicy(IMPORTANCE), "flow": FixedPolicy(IMPORTANCE)}}
    rows = evaluate_policies(policies, store, ms=[2, 4], schemes=["frame", "region"],
                             fusion_weights={"rgb": 3.0, "flow": 1.0}, seed=7)
    assert all(list(r) == list(ROW_COLUMNS) for r in rows)
    assert {r["seed"] for r in rows} == {7}
    look = {(r["agent"], r["scheme"], r["m"], r["stream"]): r for r in rows}
    for scheme in ("frame", "region"):
        acc, mca, prec = EXPECTED[(scheme, 2)]
        r = look[("fixed", scheme, 2, "rgb")]
        assert (r["accuracy"], r["mean_class_accuracy"], r["precision"]) == pytest.approx(
            (acc, mca, prec))
        # flow sees the swapped classes: every prediction flips.
        assert look[("fixed", scheme, 2, "flow")]["accuracy"] == pytest.approx(100 - acc)
        # fused 3:1 towards rgb: 0.75 p + 0.25 swap(p) has the same argmax as p.
        assert look[("fixed", scheme, 2, "fused")]["accuracy"] == pytest.approx(acc)
    # `all` rows: the same value for every m and scheme.
    all_rgb = {(s, m): look[("all", s, m, "rgb")]["accuracy"] for s in ("frame", "region")
               for m in (2, 4)}
    assert list(all_rgb.values()) == pytest.approx([100 / 3] * 4)
    assert look[("all", "frame", 2, "rgb")]["precision"] == pytest.approx(50.0)
    # m = T keeps every frame: the same as `all`.
    assert look[("fixed", "frame", 4, "rgb")]["accuracy"] == pytest.approx(100 / 3)
    # The policy got the ground truth in info (for oracles), per view.
    _, info = policies["fixed"]["rgb"].calls[0]
    np.testing.assert_array_equal(info["relevance"], RELEVANCE)
    np.testing.assert_array_equal(info["label"], LABELS)


def test_evaluate_policies_special_policies(store) -> None:
    class KeepsAll(FixedPolicy):
        keeps_all = True

    class PerM(FixedPolicy):
        def __init__(self):
            super().__init__(IMPORTANCE)
            self.ms = []

        def for_m(self, m):
            self.ms.append(m)
            return FixedPolicy(IMPORTANCE)

    per_m = PerM()
    rows = evaluate_policies({"keep": {"rgb": KeepsAll(IMPORTANCE)}, "perm": {"rgb": per_m}},
                             store, streams=("rgb",), ms=[2, 3], schemes=["frame"])
    look = {(r["agent"], r["m"]): r["accuracy"] for r in rows}
    assert look[("keep", 2)] == look[("all", 2)] == look[("keep", 3)]
    assert per_m.ms == [2, 3]
    assert look[("perm", 2)] == pytest.approx(200 / 3)
    assert not any(r["stream"] == "fused" for r in rows)


def test_load_split_and_summarize(store) -> None:
    data = load_split(store, "test", ("rgb", "flow"))
    assert data.obs["rgb"]["predictions"].shape == (3, 4, 2, 2)
    np.testing.assert_allclose(data.obs["rgb"]["predictions"], PROBS, atol=1e-6)
    assert data.num_frames == 4 and data.relevance.shape == (3, 4)
    rows = [{"agent": "a", "scheme": "frame", "m": 2, "stream": "rgb", "seed": s,
             "accuracy": acc, "mean_class_accuracy": acc, "precision": float("nan")}
            for s, acc in ((0, 50.0), (1, 70.0))]
    (mean,) = summarize(rows)
    assert mean["accuracy"] == 60.0 and mean["accuracy_std"] == 10.0 and mean["num_seeds"] == 2
    assert np.isnan(mean["precision"])
