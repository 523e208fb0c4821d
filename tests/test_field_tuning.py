"""Equal tuning of the field's learned selectors and the AS agents (issue 29, parts 2 and 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from baselines_zoo.field.search import read_tuned
from frame_select_env.evaluation import (
    TUNING_COLUMNS,
    Tuning,
    read_csv,
    tuning_table,
    with_tuning,
    write_csv,
)
from scripts import compare_field, train_selector


def test_optimize_writes_the_config_training_uses(small_store: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ocs"
    argv = ["--method", "ocsampler", "--store", str(small_store), "--out", str(out),
            "--optimize", "--n-trials", "2", "--set", "epochs=2", "--eval-split", "val",
            "--tune-ms", "8"]
    assert train_selector.main(argv) == 0
    config, record = read_tuned(out / "tuned.yaml", "ocsampler")
    study = json.loads((out / "study.json").read_text())
    values = [t["value"] for t in study["trials"]]
    assert record["trials"] == 2 and len(values) == 2 and study["n_complete"] == 2
    assert record["best_value"] == pytest.approx(max(values))
    assert 0.0 <= max(values) <= 100.0 and config["epochs"] == 2  # --set kept under the search
    # the training that followed used the tuned config, and reproduces the best trial on val
    trained = yaml.safe_load((out / "config.yaml").read_text())["config"]
    assert trained == config
    printed = capsys.readouterr().out
    assert f"m=8: {max(values):.1f}%" in printed
    # a tuned YAML is a config train_selector.py reads back (then --set on top)
    again = tmp_path / "ocs2"
    assert train_selector.main(["--method", "ocsampler", "--store", str(small_store), "--out",
                                str(again), "--config", str(out / "tuned.yaml"),
                                "--set", "epochs=1", "--eval-split", ""]) == 0
    assert yaml.safe_load((again / "config.yaml").read_text())["config"] == {**config,
                                                                             "epochs": 1}


def test_config_file_errors_name_the_file(small_store: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("liteeval: {lr: 0.1}\n")
    assert train_selector.main(["--method", "ocsampler", "--store", str(small_store), "--out",
                                str(tmp_path / "x"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "'ocsampler' entry" in err and "['liteeval']" in err


def test_compare_field_tune_gives_every_learned_row_equal_trials(
        small_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "field"
    argv = ["--out", str(out), "--store", str(small_store), "--seeds", "1", "--epochs", "1",
            "--ms", "8", "--views", "1", "--methods", "ocsampler", "frameexit", "scsampler",
            "--tune", "2", "--set", "frameexit.epochs=50"]
    assert compare_field.main(argv) == 0
    text = (out / "results.csv").read_text()
    rows = read_csv(out / "results.csv")
    assert all(set(TUNING_COLUMNS) <= set(r) for r in rows)
    by_agent = {r["agent"]: r for r in rows if r["stream"] == "fused"}
    for name in ("ocsampler", "frameexit", "as", "as_rgb_only"):
        r = by_agent[name]
        study = json.loads((out / "tuning" / f"{name}.json").read_text())
        assert r["tuning_trials"] == 2 == study["n_complete"] + study["n_pruned"]
        assert r["tuning_seconds"] == pytest.approx(study["wall_clock_s"], rel=1e-4)
        tuned, _ = read_tuned(out / "tuning" / f"{name}.yaml", name)
        assert r["train_budget"] == tuned["epochs"] and r["train_unit"] == "epochs"
        assert r["train_seconds"] > 0
    # --epochs 1 is the base of every search but frameexit's, whose space draws its epochs
    assert by_agent["ocsampler"]["train_budget"] == 1 == by_agent["as"]["train_budget"]
    assert by_agent["frameexit"]["train_budget"] in range(100, 700, 100)
    assert by_agent["as"]["reward"] == "eq4"
    assert by_agent["frameexit"]["reward"] == "cross_entropy"
    for name in ("all", "uniform", "scsampler"):  # training-free
        r = by_agent[name]
        assert (r["tuning_trials"], r["train_budget"], r["train_unit"], r["reward"]) == \
            (0, 0, "", "")
    table = (out / "table.md").read_text()
    assert "## How each row was tuned" in table and "| as_rgb_only | 2 trials, " in table
    # a rerun finds the studies finished and the seed's rows: nothing is tuned or trained again
    capsys.readouterr()
    assert compare_field.main(argv) == 0
    assert "seed 0: read back from" in capsys.readouterr().out
    assert (out / "results.csv").read_text() == text


def test_tuning_columns_round_trip(tmp_path: Path) -> None:
    rows = [{"agent": "ppo", "m": 8, "seed": s, "accuracy": 50.0 + s} for s in range(2)]
    rows.append({"agent": "uniform", "m": 8, "seed": 0, "accuracy": 40.0})
    tuned = with_tuning(rows, {"ppo": Tuning(12, 300.4, 100_000, "timesteps", 42.25, "delta"),
                               ("ppo", 1): Tuning(12, 300.4, 100_000, "timesteps", 40.25,
                                                  "delta")})
    write_csv(tmp_path / "r.csv", tuned, kind="cost")
    back = read_csv(tmp_path / "r.csv")
    header = (tmp_path / "r.csv").read_text().splitlines()[0].split(",")
    assert header == ["agent", "m", "seed", "accuracy", *TUNING_COLUMNS]
    assert [(r["tuning_trials"], r["train_budget"], r["train_seconds"], r["reward"])
            for r in back] == [(12, 100_000, 42.25, "delta"), (12, 100_000, 40.25, "delta"),
                               (0, 0, back[2]["train_seconds"], "")]
    assert back[2]["train_seconds"] != back[2]["train_seconds"]  # NaN: nothing trained
    assert isinstance(back[0]["tuning_seconds"], float) and back[0]["tuning_seconds"] == 300.4
    lines = tuning_table(back).splitlines()
    # the mean training run of the two seeds: (42.25 + 40.25) / 2 = 41.25 s
    assert lines[4] == "| ppo | 12 trials, 300 s | 100000 timesteps | 2 | 41 | delta |"
    assert lines[5] == "| uniform | – | training-free | 1 | – | – |"
