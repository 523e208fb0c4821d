"""Cost a user can act on (issue 28, items 6 and 7).

* a store without a cost record (features imported from elsewhere): ``compare_field.py
  --arch`` counts GMACs from the architecture and the input size (checked against a count by
  hand), the table and stderr say the seconds are unknown; without ``--arch`` they say why the
  cost is unknown and what to pass;
* a tampered cost record (NaN, a negative count, a string) is refused naming the store file,
  the field and the value, instead of NaN columns, "records none" or a bare ``could not convert
  string to float``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from frame_select_env.core.config import UserError
from frame_select_env.evaluation import read_csv
from frame_select_env.pipeline.cost import (
    architecture_cost,
    build_cost,
    parse_arch,
    table_cost,
)
from frame_select_env.store import FeatureStore, StoreError, write_store
from frame_select_env.store.cost_record import check_cost_record, store_cost
from frame_select_env.store.synthetic import make_synthetic_store

T, C, D, V, CROP = 8, 3, 8, 2, 32


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-stream store with no cost record (as an import of features from elsewhere)."""
    root = tmp_path_factory.mktemp("cost_errors")
    return make_synthetic_store(root / "bare.h5", num_videos=30, num_frames=T, num_classes=C,
                                feature_dim=D, num_views=V)


def small_cnn_macs(cin: int, width: int, dim: int, classes: int, crop: int) -> int:
    """SmallCNN + classifier MACs by hand (as tests/test_cost.py counts them)."""
    a, b, c = (crop // 4) ** 2, (crop // 8) ** 2, (crop // 16) ** 2
    w = width
    return (w * cin * 16 * a + w * w * 9 * a + 2 * w * w * 9 * b + 4 * w * 2 * w * 9 * c
            + dim * 4 * w * c + dim * classes)


RGB, FLOW = small_cnn_macs(3, 16, D, C, CROP), small_cnn_macs(10, 16, D, C, CROP)  # flow: 2L=10


def test_compare_field_counts_gmacs_from_arch(bare: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import compare_field

    argv = ["--store", str(bare), "--seeds", "1", "--ms", "4", "--methods", "mgsampler",
            "--no-as-agents", "--views", "1", "10"]
    assert compare_field.main(["--out", str(tmp_path / "a"), *argv, "--arch", "small",
                               "--crop", str(CROP)]) == 0
    err = capsys.readouterr().err
    assert "seconds unknown for bare.h5" in err and "--arch rgb=small, flow=small" in err
    rows = {(r["agent"], int(r["views"]), r["stream"]): r
            for r in read_csv(tmp_path / "a" / "results.csv")}
    # uniform computes both streams on its 4 frames, one crop; 'all' every frame, both crops
    assert rows[("uniform", 1, "fused")]["gmacs"] * 1e9 == pytest.approx(4 * (RGB + FLOW),
                                                                         rel=1e-5)
    assert rows[("all", V, "fused")]["gmacs"] * 1e9 == pytest.approx(T * V * (RGB + FLOW),
                                                                    rel=1e-5)
    # MGSampler observes rgb on every frame, pays flow on its 4 (a score rule: no MACs of its own)
    assert rows[("mgsampler", 1, "fused")]["gmacs"] * 1e9 == pytest.approx(
        T * RGB + 4 * FLOW, rel=1e-5)
    assert all(np.isfinite(r["gmacs"]) and np.isnan(r["seconds"]) for r in rows.values())
    table = (tmp_path / "a" / "table.md").read_text()
    assert "**Seconds unknown for bare.h5" in table and "at 32x32 crops" in table
    assert (tmp_path / "a" / "accuracy_vs_gmacs.png").is_file()
    # without --arch: no cost (NaN columns), and the note says why and what to pass
    cost, note = table_cost(bare)
    assert cost is None and note is not None
    assert "cost unknown for bare.h5: it records no cost" in note and "pass --arch" in note


@pytest.mark.parametrize("arch, culprit", [
    (["bogus"], "--arch 'bogus': unknown architecture 'bogus'; choose from small, resnet18"),
    (["rgb=small"], "no architecture for stream(s) flow"),
    (["depth=small", "small"], "the store has no stream 'depth'"),
    (["resnet18"], "resnet18 gives 512-d features, the 'rgb' features"),
])
def test_compare_field_refuses_a_bad_arch(bare: Path, tmp_path: Path, arch: list[str],
                                          culprit: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import compare_field

    try:  # a bad name is refused as the command line is read, a bad stream or size after
        rc = compare_field.main(["--out", str(tmp_path / "o"), "--store", str(bare), "--seeds",
                                 "1", "--methods", "mgsampler", "--no-as-agents", "--arch", *arch])
    except SystemExit as exit_:
        rc = exit_.code
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and err.startswith("error: ") and culprit in err
    assert not (tmp_path / "o" / "results.csv").exists()


def test_the_store_record_wins_over_arch(bare: Path, tmp_path: Path) -> None:
    recorded = build_cost({"rgb": {"arch": "small", "backbone_kwargs": {"feature_dim": D}},
                           "flow": {"arch": "small", "backbone_kwargs": {"feature_dim": D}}},
                          C, {"crop": 64, "num_views": V, "num_frames": T, "flow_length": 5,
                              "flow_method": "dis"})
    fs = FeatureStore(bare)
    own = _copy(fs, tmp_path / "own.h5", {"cost": recorded})
    cost, note = table_cost(own, ["small"], crop=CROP)
    assert note is None and cost["crop"] == 64  # the record, not --crop 32
    counted = architecture_cost(fs, parse_arch(["small"], fs.streams), CROP)
    assert counted["streams"]["flow"]["macs_per_crop"] == FLOW
    assert "seconds" not in counted and counted["num_views"] == V


def _copy(fs: FeatureStore, path: Path, metadata: dict) -> Path:
    rows = np.arange(len(fs))
    return write_store(path, features={s: fs.features(s, rows) for s in fs.streams},
                       logits={s: fs.logits(s, rows) for s in fs.streams}, labels=fs.labels,
                       video_ids=[str(v) for v in fs.video_ids],
                       splits=[str(v) for v in fs.splits], class_names=fs.class_names,
                       metadata=metadata, dtype="float32")


@pytest.fixture(scope="module")
def recorded(bare: Path) -> dict:
    return build_cost({"rgb": {"arch": "small"}, "flow": {"arch": "small"}}, C,
                      {"crop": CROP, "num_views": V, "num_frames": T, "flow_length": 5,
                       "flow_method": "dis"})


@pytest.mark.parametrize("field, value, shown", [
    ("macs_per_crop", float("nan"), "is nan, expected a finite number >= 0"),
    ("macs_per_crop", -5, "is -5, expected a finite number >= 0"),
    ("macs_per_crop", "abc", "is 'abc', expected a finite number >= 0"),
    ("seconds_per_crop", float("inf"), "is inf, expected a finite number >= 0"),
])
def test_tampered_cost_record_names_file_field_and_value(
        bare: Path, recorded: dict, tmp_path: Path, field: str, value: object, shown: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    cost = json.loads(json.dumps(recorded))
    cost["streams"]["flow"][field] = value
    path = _copy(FeatureStore(bare), tmp_path / "tampered.h5", {"cost": cost})
    want = f"feature store '{path}': cost field 'cost.streams.flow.{field}' {shown}"
    with pytest.raises(StoreError) as err:
        store_cost(path)
    assert want in str(err.value)
    # through a script: one error line, status 2 (it was NaN columns, or a bare ValueError)
    from scripts import compare_agents

    rc = compare_agents.main(["--store", str(path), "--agents", "uniform", "--seeds", "1",
                              "--ms", "2", "--schemes", "frame", "--out", str(tmp_path / "c"),
                              "--no-progress"])
    err_text = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err_text and want in err_text.splitlines()[0]


def test_tampered_counts_and_seconds_are_refused(recorded: dict) -> None:
    where = "feature store 'x.h5'"
    bad = {**recorded, "num_frames": 0}
    with pytest.raises(StoreError, match=r"'cost.num_frames' is 0, expected an integer >= 1"):
        check_cost_record(bad, where)
    bad = {**recorded, "num_video_frames": [40, "x"]}
    with pytest.raises(StoreError, match=r"'cost.num_video_frames\[1\]' is 'x'"):
        check_cost_record(bad, where)
    bad = {**recorded, "seconds": {"decode": {"grab_seconds_per_frame": -1.0}}}
    with pytest.raises(StoreError, match=r"'cost.seconds.decode.grab_seconds_per_frame' is -1"):
        check_cost_record(bad, where)
    with pytest.raises(StoreError, match=r"'cost.streams' is None, expected a mapping"):
        check_cost_record({"format": "x"}, where)
    check_cost_record(recorded, where)  # the real thing passes
    assert isinstance(StoreError("x"), UserError)
