"""scripts/reproduce.sh end to end on a tiny stand-in for UCF101 (same layout, CRLF split files)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from frame_select_env.core.selection import softmax
from frame_select_env.evaluation import accuracy
from frame_select_env.pipeline.datasets import VideoRecord
from frame_select_env.pipeline.models import load_stream_model
from frame_select_env.pipeline.tsn import TSNConfig, TSNDataset, read_log
from frame_select_env.pipeline.tsn.trainer import _preprocessor
from frame_select_env.store import FeatureStore

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("ApplyEyeMakeup", "Basketball", "CleanAndJerk")
TEST_GROUPS = (1, 2)  # UCF101 split 1 tests on groups 1-7, trains on 8-25
TRAIN_GROUPS = (8, 9, 10, 11)


def _write_video(path: Path, cls: int, seed: int, n: int = 16, size=(80, 60)) -> None:
    """Class-coloured background with a square moving in a class-specific direction."""
    rng = np.random.default_rng(seed)
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, size)
    assert writer.isOpened(), "cv2.VideoWriter cannot write MJPG .avi here"
    colour = np.array([(200, 60, 60), (60, 200, 60), (60, 60, 200)][cls], np.float32)
    vx, vy = [(3, 0), (0, 3), (-3, -3)][cls]
    x0, y0 = int(rng.integers(15, 45)), int(rng.integers(15, 30))
    for t in range(n):
        img = np.clip(colour + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
        x, y = (x0 + vx * t) % (w - 12), (y0 + vy * t) % (h - 12)
        img[y : y + 12, x : x + 12] = 255
        writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    writer.release()


def make_fake_ucf101(root: Path) -> tuple[Path, Path]:
    """Videos ``UCF-101/<Class>/v_<Class>_gXX_cYY.avi`` and ``ucfTrainTestlist`` (CRLF)."""
    videos, splits = root / "UCF-101", root / "ucfTrainTestlist"
    splits.mkdir(parents=True)
    train, test = [], []
    for c, name in enumerate(CLASSES):
        (videos / name).mkdir(parents=True)
        for g in TEST_GROUPS + TRAIN_GROUPS:
            rel = f"{name}/v_{name}_g{g:02d}_c01.avi"
            _write_video(videos / rel, c, seed=100 * c + g)
            (train if g in TRAIN_GROUPS else test).append((rel, c + 1))
    crlf = {"newline": "\r\n"}
    with open(splits / "classInd.txt", "w", **crlf) as f:
        f.write("".join(f"{i + 1} {n}\n" for i, n in enumerate(CLASSES)))
    with open(splits / "trainlist01.txt", "w", **crlf) as f:
        f.write("".join(f"{p} {lab}\n" for p, lab in train))
    with open(splits / "testlist01.txt", "w", **crlf) as f:
        f.write("".join(f"{p}\n" for p, _ in test))
    return videos, splits


@pytest.mark.slow
def test_reproduce_script_end_to_end(tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("bash is not available")
    videos, splits = make_fake_ucf101(tmp_path)
    assert b"\r\n" in (splits / "trainlist01.txt").read_bytes()
    work = tmp_path / "work"
    env = dict(
        os.environ,
        PYTHON=sys.executable, DATA_ROOT=str(videos), SPLITS_DIR=str(splits), WORK=str(work),
        FLOW="dis", FRAME_W="80", FRAME_H="60", CROP="48", ARCH="small",
        ARCH_KWARGS="{feature_dim: 16, width: 8}", EPOCHS_RGB="3", EPOCHS_FLOW="2",
        LR_STEPS_RGB="2", LR_STEPS_FLOW="5", BATCH="6", LR="0.05", DEVICE="cpu", WORKERS="1",
        T="5", VIEWS="1", L="3",
        TSN_ARGS="--workers 0 --no-progress --no-tensorboard",
        AS_ARGS="--epochs 1 --m 2 --eval-m 2,4 --no-progress",
        OMP_NUM_THREADS="1",
    )
    r = subprocess.run(
        ["bash", str(ROOT / "scripts" / "reproduce.sh"), "ucf101", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert r.returncode == 0, f"stdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}"
    assert "12 train / 6 test videos, 3 classes" in r.stdout

    # 1. raw frames + flow, one folder per video, named like the video without .avi
    frames = work / "frames" / "Basketball" / "v_Basketball_g08_c01"
    assert len(list(frames.glob("img_*.jpg"))) == 16
    assert len(list(frames.glob("flow_x_*.jpg"))) == 15
    assert len(list((work / "frames").glob("*/*"))) == 18

    # 2-3. both streams trained with the requested schedule; frozen models load
    rgb_log = read_log(work / "tsn_rgb" / "log.csv")
    assert [row["lr"] for row in rgb_log] == pytest.approx([0.05, 0.05, 0.005])
    assert len(read_log(work / "tsn_flow" / "log.csv")) == 2
    rgb = load_stream_model(work / "tsn_rgb" / "model.pt")
    flow = load_stream_model(work / "tsn_flow" / "model.pt")
    assert rgb.in_channels == 3 and flow.in_channels == 6 and rgb.num_classes == 3

    # 4. the store: every video, T x V per stream, official labels and splits
    store = FeatureStore(work / "features_T5_V1.h5")
    try:
        assert len(store) == 18 and store.num_frames == 5
        assert list(store.class_names) == list(CLASSES)
        assert sorted(store.streams) == ["flow", "rgb"]
        test_idx = store.indices("test")
        assert len(test_idx) == 6 and len(store.indices("train")) == 12
        assert "Basketball/v_Basketball_g01_c01" in list(store.video_ids)
        labels = np.asarray(store.labels)[test_idx]
        logits = {s: np.asarray(store.logits(s, test_idx), np.float32) for s in ("rgb", "flow")}
        ids = [store.video_ids[i] for i in test_idx]
    finally:
        store.close()
    probs = {s: softmax(lg).mean((1, 2)) for s, lg in logits.items()}

    # the trainer's evaluation input (segment centres, centre crop, same normalisation) gives
    # the stored logits: training-time validation and extraction see the same views
    pairs = zip(ids, labels, strict=True)
    records = [VideoRecord(f"{v}.avi", int(lab), "test") for v, lab in pairs]
    for stream, model in (("rgb", rgb), ("flow", flow)):
        cfg = TSNConfig(stream=stream, arch="small", flow_length=3, crop_size=48,
                        val_segments=5, workers=0, amp=False)
        ds = TSNDataset(records, work / "frames", cfg, train=False)
        prep = _preprocessor(model, stream, torch.device("cpu"))
        with torch.no_grad():
            ours = np.stack([model(prep(torch.from_numpy(ds[i][0])))[1].numpy()
                             for i in range(len(ds))])
        np.testing.assert_allclose(ours, logits[stream][:, :, 0], atol=2e-2, rtol=1e-2)

    # 5. the TSN evaluation agrees with a direct computation from the stored logits
    res = json.loads((work / "tsn_eval.json").read_text())
    assert res["videos"] == 6
    assert res["rgb_acc"] == pytest.approx(accuracy(probs["rgb"], labels))
    assert res["flow_acc"] == pytest.approx(accuracy(probs["flow"], labels))
    fused = (probs["rgb"] + probs["flow"]) / 2
    assert res["fused_acc"] == pytest.approx(accuracy(fused, labels))

    # 6. the agent step ran, or was skipped only because its script is missing
    if (ROOT / "scripts" / "train_reinforce.py").is_file():
        assert all((work / "as" / f"agent_{s}.pt").is_file() for s in ("rgb", "flow"))
        with open(work / "as" / "results_mean.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        # its all-frames rows are the same TSN numbers, computed by another implementation
        for stream in ("rgb", "flow", "fused"):
            row = next(x for x in rows if (x["agent"], x["scheme"], x["stream"], x["m"])
                       == ("all", "frame", stream, "2"))
            assert float(row["accuracy"]) == pytest.approx(res[f"{stream}_acc"], abs=1e-3)
        assert any(x["agent"] == "as" and x["stream"] == "fused" for x in rows)
    else:
        assert "SKIPPED: scripts/train_reinforce.py" in r.stdout
