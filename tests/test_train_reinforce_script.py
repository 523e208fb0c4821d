"""scripts/train_reinforce.py end to end on a tiny store: outputs, columns, agents, resume."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml

from agents.as_agent import load_agent
from frame_select_env.store.synthetic import make_synthetic_store
from scripts import train_reinforce as script


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    return make_synthetic_store(tmp_path_factory.mktemp("tiny") / "tiny.h5", num_videos=60,
                          num_views=2, feature_dim=8, num_classes=4, seed=2)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_end_to_end_and_resume(tiny_store, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    args = ["--store", str(tiny_store), "--out", str(out), "--epochs", "2", "--seeds", "2",
            "--ablation", "--eval-m", "4,25", "--no-progress"]
    assert script.run(script.parse_args(args)) == out  # main(args) is run's exit status, 0
    printed = capsys.readouterr().out
    assert "best m=" in printed and "random" in printed

    for name in ("results.csv", "results_mean.csv", "config.yaml", "accuracy_vs_m.png",
                 "train_log.csv", "agent.pt", "agent_rgb.pt", "agent_flow.pt",
                 "agent_as_features.pt", "seed_1/agent.pt"):
        assert (out / name).is_file(), name
    rows = _read(out / "results.csv")
    assert {"agent", "scheme", "m", "stream", "seed", "accuracy", "mean_class_accuracy",
            "precision"} <= set(rows[0])
    assert {r["agent"] for r in rows} == {"all", "random", "as", "as_features"}
    assert {r["stream"] for r in rows} == {"rgb", "flow", "fused"}
    assert {r["scheme"] for r in rows} == {"frame", "region"}
    assert {r["m"] for r in rows} == {"4", "25"} and {r["seed"] for r in rows} == {"0", "1"}
    assert all(0.0 <= float(r["accuracy"]) <= 100.0 for r in rows)
    # m = T keeps every frame: every agent equals `all` there.
    at_t = {(r["agent"], r["stream"], r["seed"], r["scheme"]): r["accuracy"] for r in rows
            if r["m"] == "25"}
    for (agent, stream, seed, scheme), acc in at_t.items():
        assert acc == at_t[("all", stream, seed, scheme)], (agent, stream)
    assert len(_read(out / "results_mean.csv")) == len(rows) // 2

    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["training"]["epochs"] == 2 and config["seeds"] == [0, 1]
    raw = torch.load(out / "agent.pt", weights_only=True)
    assert sorted(raw["agents"]) == ["flow", "rgb"]
    agent, meta = load_agent(out / "agent_flow.pt")
    assert meta["stream"] == "flow" and meta["state"] == "both"
    feats_agent, meta = load_agent(out / "agent_as_features.pt", stream="rgb")
    assert feats_agent.config.state == "features"

    log = _read(out / "train_log.csv")
    assert len(log) == 2 * 2 * 2 * 2  # seeds x variants x streams x epochs
    assert {"reward", "accuracy", "mean_p", "loss_pg", "loss_sampling", "lr"} <= set(log[0])

    # Resume: two more epochs continue from the checkpoints instead of starting over.
    script.main([*args[:5], "3", *args[6:], "--resume"])
    assert "resuming after epoch 2" in capsys.readouterr().out
    log = _read(out / "train_log.csv")
    assert len(log) == 2 * 2 * 2 * 3
    assert [r["epoch"] for r in log[:3]] == ["1", "2", "3"]


def test_single_stream_and_bad_input(tiny_store, tmp_path, capsys) -> None:
    out = tmp_path / "rgb_only"
    script.main(["--store", str(tiny_store), "--out", str(out), "--epochs", "1", "--stream",
                 "rgb", "--state", "predictions", "--eval-m", "8", "--no-progress", "--seeds",
                 "1"])
    rows = _read(out / "results.csv")
    assert {r["stream"] for r in rows} == {"rgb"}
    agent, _ = load_agent(out / "agent.pt")
    assert agent.config.state == "predictions"
    capsys.readouterr()
    # user errors: one "error:" line and status 2 (scripts' main goes through cli.entry)
    assert script.main(["--store", str(tiny_store), "--stream", "depth", "--out", str(out)]) == 2
    assert "error: --stream 'depth' is not in" in capsys.readouterr().err
    assert script.main(["--store", str(tmp_path / "missing.h5")]) == 2
    assert "--store" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: 0.1\n")
    assert script.main(["--store", str(tiny_store), "--config", str(bad), "--out",
                        str(out)]) == 2
    assert "unknown training options" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["as_paper.yaml", "as_sparse_actions.yaml"])
def test_shipped_configs_load(name) -> None:
    args = script.parse_args(["--config", f"builtin:{name}", "--epochs", "7", "--seed", "4"])
    config = script.load_config(args)
    assert config.epochs == 7 and config.seed == 4  # command line over the file
    if name == "as_paper.yaml":  # the paper's recipe, unchanged
        assert (config.lr, config.weight_decay, config.lr_milestones, config.lr_gamma) == (
            1e-5, 1e-5, (20, 40), 0.1)
        assert (config.beta, config.omega, config.m, config.state) == (0.1, 10.0, 12, "both")
        assert config.batch_size == 1 and config.logprob_reduce == "sum"
