"""The field's benchmark (scripts/compare_field.py) on a small store, and every method online."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import frame_select_env  # noqa: F401  (registers the env)
from baselines_zoo.field import METHODS
from baselines_zoo.registry import parse_agent_spec
from frame_select_env.evaluation import load_split, read_csv
from scripts import compare_field


def _fused_all_frames_accuracy(store: Path, views: slice) -> float:
    """The store's own all-frames fused accuracy, by hand: mean over frames and crops."""
    data = load_split(store, "test", ["rgb", "flow"])
    probs = sum(data.obs[s]["predictions"][:, :, views].mean((1, 2)) for s in ("rgb", "flow"))
    return float(100 * np.mean(probs.argmax(-1) == data.labels))


def test_compare_field_table_values(small_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "field"
    argv = ["--out", str(out), "--store", str(small_store), "--seeds", "1", "--epochs", "2",
            "--ms", "4", "8"]
    assert compare_field.main(argv) == 0
    rows = read_csv(out / "results.csv")
    assert {"results.csv", "table.md"} <= {p.name for p in out.iterdir()}
    fused = [r for r in rows if r["stream"] == "fused"]
    assert {r["agent"] for r in fused} == {"all", "uniform", *METHODS, "as", "as_rgb_only"}
    assert {int(r["views"]) for r in fused} == {1, 3}  # the centre crop, and all 3 crops
    for r in fused:
        if r["agent"] == "all":
            want = _fused_all_frames_accuracy(small_store, slice(0, 1) if int(r["views"]) == 1
                                              else slice(None))
            assert r["accuracy"] == pytest.approx(want, abs=1e-3) and r["frames"] == 25
        elif r["agent"] in ("liteeval", "frameexit"):  # adaptive: m frames on average on val,
            assert 1 <= r["frames"] <= 25              # no cap (tests/test_field_frameexit.py)
        else:  # top-m methods keep exactly m frames
            assert r["frames"] == r["m"], r
    table = (out / "table.md").read_text()
    assert "### 1 view (centre crop)" in table and "| frameexit | rgb | m=8 |" in table
    # a rerun reads the finished seed back instead of retraining: the same file
    before = (out / "results.csv").read_bytes()
    assert compare_field.main(argv) == 0
    assert (out / "results.csv").read_bytes() == before
    assert compare_field.main([*argv, "--set", "epochs=3"]) == 2


def test_agent_specs_of_the_field(tmp_path: Path) -> None:
    entry = parse_agent_spec("mg=mgsampler")
    pols = entry.policies(["rgb", "flow"])
    assert pols["rgb"] is pols["flow"] and pols["rgb"].name == "mg"
    with pytest.raises(ValueError, match="frameexit checkpoint .* does not exist"):
        parse_agent_spec(f"frameexit:{tmp_path / 'missing.pt'}")
    with pytest.raises(ValueError, match="training-free"):
        parse_agent_spec("scsampler:x.pt")


def _action(policy, obs: dict, info: dict, m: int) -> np.ndarray:
    """One video's MultiBinary action: the policy's masks, or its top-m."""
    from frame_select_env.core.policy import ActionAdapter

    if callable(getattr(policy, "masks", None)):
        batch = {k: np.asarray(v)[None] for k, v in obs.items()}
        extra = {k: np.asarray(v)[None] for k, v in info.items()}
        return policy.for_m(m).masks(batch, extra)[0].astype(np.int8)
    return ActionAdapter(policy, m)(obs)


@pytest.mark.slow
def test_every_method_runs_through_the_online_env(tmp_path: Path) -> None:
    from frame_select_env.pipeline.datasets.sparse_actions import builtin_videos

    root = tmp_path / "videos"
    builtin_videos("test", root, workers=1, limit=2)
    common = dict(videos="builtin:test:2", classifier="builtin", device="cpu", view="center",
                  online_options={"video_root": root, "workers": 0},
                  cache=str(tmp_path / "states.h5"))
    env = gym.make("FrameSelection-v0", observe="rgb", predict="fused", **common)
    fused = gym.make("FrameSelection-v0", stream="fused", **common)  # LiteEval's fine features
    tiny = {"ocsampler": {"epochs": 1}, "liteeval": {"epochs": 1}, "frameexit": {"epochs": 5}}
    for name, spec in METHODS.items():
        if spec.builtin:
            policy = spec.make(observe="rgb")
        else:  # trained briefly on the built-in store, whose states the online env reproduces
            cfg = type(spec.default_config())(**{**vars(spec.default_config()), **tiny[name]})
            policy = spec.train(None, cfg, seed=0)
        obs, info = env.reset(options={"index": 1})
        extra = {}
        if getattr(policy, "needs_predict_features", False):
            extra["predict_features"] = fused.reset(options={"index": 1})[0]["features"]
        action = _action(policy, obs, extra, m=8)
        assert action.shape == (obs["features"].shape[0],) and 1 <= action.sum() <= 8, name
        _, reward, terminated, _, step_info = env.step(action)
        assert terminated and np.isfinite(reward) and "p1" in step_info, name
