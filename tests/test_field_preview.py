"""The field's selectors observing the preview (issue 30): the cost by hand, what they read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines_zoo.field import get_method
from baselines_zoo.field.liteeval import PREDICT_FEATURES
from baselines_zoo.field.ocsampler import predict_probs
from frame_select_env.core.selection import fuse_streams
from frame_select_env.evaluation import load_split, read_csv
from frame_select_env.evaluation.runner import policy_importance, policy_masks
from frame_select_env.store import FeatureStore, append_observe_stream
from frame_select_env.store.builtin import builtin_store_path
from frame_select_env.store.synthetic import make_synthetic_store
from scripts import compare_field

#: counted MACs per crop of the built-in store's streams (its cost record; docs/cost.md):
#: the preview's SmallCNN on one 56 px crop, the RGB and flow CNNs on 112 px crops
PREVIEW, RGB, FLOW = 1_139_360, 4_265_120, 18_615_536


def test_compare_field_observing_the_preview_costs_by_hand(tmp_path: Path) -> None:
    out = tmp_path / "field"
    assert compare_field.main(["--out", str(out), "--seeds", "1", "--ms", "4", "--views", "10",
                               "--observe", "preview", "--methods", "scsampler",
                               "--no-as-agents"]) == 0
    rows = {(r["agent"], r["stream"]): r for r in read_csv(out / "results.csv")}
    sc = rows[("scsampler", "fused")]
    assert sc["observe"] == "preview" and sc["frames"] == 4 and int(sc["views"]) == 10
    # the preview's one crop on all 25 frames (0.028 GMACs), then rgb + flow on the 10 crops of
    # the 4 kept frames only: the RGB on all frames is no longer paid
    assert sc["gmacs"] == pytest.approx((25 * PREVIEW + 4 * 10 * (RGB + FLOW)) / 1e9, rel=1e-5)
    assert rows[("uniform", "fused")]["gmacs"] == pytest.approx(4 * 10 * (RGB + FLOW) / 1e9,
                                                                rel=1e-5)
    assert rows[("all", "fused")]["observe"] == "rgb + flow"
    assert rows[("all", "fused")]["gmacs"] == pytest.approx(25 * 10 * (RGB + FLOW) / 1e9,
                                                            rel=1e-5)
    # its accuracy by hand: the 4 frames of highest preview confidence (the views' mean), the
    # fused rgb + flow prediction averaged over those frames and every crop
    data = load_split(builtin_store_path(), "test", ["rgb", "flow", "preview"])
    conf = data.obs["preview"]["predictions"].mean(2).max(-1)
    keep = np.argsort(-conf, axis=1, kind="stable")[:, :4]
    fused = fuse_streams({s: data.obs[s]["predictions"] for s in ("rgb", "flow")})
    kept = np.take_along_axis(fused, keep[:, :, None, None], axis=1).mean((1, 2))
    assert sc["accuracy"] == pytest.approx(100 * np.mean(kept.argmax(-1) == data.labels),
                                           abs=1e-3)
    assert "| scsampler | preview | m=4 |" in (out / "table.md").read_text()


def test_observe_a_stream_the_store_lacks_is_one_error_line(small_store: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    argv = ["--out", str(tmp_path / "x"), "--store", str(small_store), "--observe", "preview",
            "--methods", "scsampler", "--no-as-agents"]
    assert compare_field.main(argv) == 2
    err = capsys.readouterr().err
    assert "--observe 'preview'" in err and "['rgb', 'flow']" in err


@pytest.fixture(scope="module")
def preview_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 videos, T=25, 2 views, rgb + flow (D=8) and a one-view preview of D=5."""
    path = make_synthetic_store(tmp_path_factory.mktemp("preview") / "p.h5", num_videos=60,
                                num_views=2, feature_dim=8, num_classes=4, seed=1)
    n = len(FeatureStore(path))
    rng = np.random.default_rng(0)
    append_observe_stream(path, "preview", rng.normal(size=(n, 25, 1, 5)),
                          rng.normal(size=(n, 25, 1, 4)))
    return path


@pytest.mark.parametrize("name", ["ocsampler", "liteeval"])
def test_a_selector_trained_on_the_preview_reads_it(preview_store: Path, name: str) -> None:
    torch.set_num_threads(1)
    spec = get_method(name)
    policy = spec.train(preview_store, dataclasses.replace(spec.default_config(), epochs=1),
                        observe="preview", predict="fused", seed=0)
    assert policy.observe == "preview" and policy.observes == ("preview",)
    data = load_split(preview_store, "test", ["rgb", "flow", "preview"])
    # the prediction stays the two-stream fusion: the preview is read, never fused
    np.testing.assert_allclose(predict_probs(data, "fused"), fuse_streams(
        {s: data.obs[s]["predictions"] for s in ("rgb", "flow")}))
    preview = data.obs["preview"]
    changed = {k: v[:, ::-1].copy() for k, v in preview.items()}  # the preview reversed in time
    if name == "ocsampler":
        def choice(obs: dict) -> np.ndarray:
            return np.argsort(-policy_importance(policy, obs), axis=1, kind="stable")[:, :3]
    else:
        fine = {PREDICT_FEATURES: np.concatenate([data.obs[s]["features"]
                                                  for s in ("rgb", "flow")], -1)}

        def choice(obs: dict) -> np.ndarray:
            return policy_masks(policy.for_m(3), obs, view_info=fine)
    assert (choice(preview) != choice(changed)).any()
    # it was built on the preview's 5 features: RGB's 8 are refused
    with pytest.raises(ValueError, match="trained on|must be"):
        choice(data.obs["rgb"])


def test_the_committed_tuned_configs_of_the_builtin_store_load() -> None:
    from baselines_zoo.field.search import AS_OBSERVES, build_config, read_tuned

    folder = Path(__file__).resolve().parents[1] / "baselines_zoo" / "field" / "tuned_builtin"
    names = {p.stem for p in folder.glob("*.yaml")}
    assert names == {"ocsampler", "liteeval", "frameexit", "as", "as_rgb_only",
                     "ocsampler_preview", "liteeval_preview", "frameexit_preview", "as_preview"}
    for stem in names:
        method = stem if stem in AS_OBSERVES else stem.removesuffix("_preview")
        config, record = read_tuned(folder / f"{stem}.yaml", method)
        build_config(method, config)  # a config training takes as it is
        observed = AS_OBSERVES.get(method, "preview" if stem.endswith("_preview") else "rgb")
        assert record["observe"] == observed and record["split"] == "val"
        assert record["budget"]["n_trials"] == 8 and record["budget"]["timeout_s"] == 90.0
        assert record["command"].startswith("python scripts/compare_field.py ")
        assert ("--observe preview" in record["command"]) == (stem.endswith("_preview")
                                                               or stem == "as")
        text = (folder / f"{stem}.yaml").read_text()
        assert text.splitlines()[1] == f"# made by: {record['command']}"


def test_compare_agents_reads_the_stream_a_saved_selector_observes(preview_store: Path,
                                                                   tmp_path: Path) -> None:
    from baselines_zoo.compare import evaluate_agents
    from baselines_zoo.registry.one_step import parse_agent_spec

    torch.set_num_threads(1)
    spec = get_method("ocsampler")
    policy = spec.train(preview_store, dataclasses.replace(spec.default_config(), epochs=1),
                        observe="preview", predict="fused", seed=0)
    spec.save(policy, tmp_path / "ocsampler.pt")
    entry = parse_agent_spec(f"ocsampler:{tmp_path / 'ocsampler.pt'}")
    rows = evaluate_agents([entry], preview_store, seeds=1, ms=[3], schemes=["frame"],
                           progress=False)
    fused = [r for r in rows if r["stream"] == "fused"]
    assert len(fused) == 1 and 0.0 <= fused[0]["accuracy"] <= 100.0
    # the same top-3 frames as the policy chooses on the preview itself, fused by hand
    data = load_split(preview_store, "test", ["rgb", "flow", "preview"])
    # frame-based: importance averaged over the views, the kept frames' fused probabilities
    # averaged over frames and views
    importance = policy_importance(policy, data.obs["preview"]).mean(2)  # (B, T)
    keep = np.argsort(-importance, axis=1, kind="stable")[:, :3]
    probs = fuse_streams({s: data.obs[s]["predictions"] for s in ("rgb", "flow")}).mean(2)
    picked = np.take_along_axis(probs, keep[..., None], 1).mean(1)
    expect = 100.0 * float((picked.argmax(-1) == data.labels).mean())
    assert fused[0]["accuracy"] == pytest.approx(expect)
    # on a store without the preview it observes: one UserError naming the stream and the store
    from frame_select_env.core.config import UserError

    plain = make_synthetic_store(tmp_path / "plain.h5", num_videos=60, num_views=2,
                                 feature_dim=8, num_classes=4, seed=1)
    with pytest.raises(UserError, match=r"observes stream 'preview'.*plain\.h5"):
        evaluate_agents([entry], plain, seeds=1, ms=[3], schemes=["frame"], progress=False)
