"""TSN trainer: augmentation geometry, partial BN, configs, learning, resume equality, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from frame_select_env.pipeline.datasets import VideoRecord
from frame_select_env.pipeline.models import load_stream_model
from frame_select_env.pipeline.tsn import (
    ConfigError,
    TSNConfig,
    TSNDataset,
    build_model,
    fixed_crop_positions,
    load_config,
    load_training_checkpoint,
    multiscale_crop_sizes,
    param_groups,
    read_log,
    sample_multiscale_crop,
    train_offsets,
    train_tsn,
)
from frame_select_env.pipeline.tsn.synthetic import make_synthetic_rawframes, split_records
from frame_select_env.pipeline.video.decode import FLOW_X_TMPL, FLOW_Y_TMPL, IMG_TMPL
from frame_select_env.pipeline.video.flow import quantize_flow

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"feature_dim": 32, "width": 8}


def small_cfg(**kw) -> TSNConfig:
    base = dict(
        stream="rgb", arch="small", arch_kwargs=SMALL, num_segments=3, flow_length=3,
        epochs=2, batch_size=8, lr=0.1, lr_steps=[100], dropout=0.5, crop_size=32,
        workers=0, seed=0, amp=False,
    )
    base.update(kw)
    return TSNConfig(**base)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("tsn") / "frames"
    records, names = make_synthetic_rawframes(root, num_classes=3, videos_per_class=8, seed=1)
    train, val = split_records(records)
    return root, train, val, names


# ----------------------------------------------------------------------------- geometry


def test_multiscale_crop_sizes_are_tsn_sizes():
    assert multiscale_crop_sizes(340, 256, 224, [1, 0.875, 0.75, 0.66]) == [256, 224, 192, 168]
    # relative to the shorter side, whatever the orientation
    assert multiscale_crop_sizes(256, 340, 224, [1, 0.875, 0.75, 0.66]) == [256, 224, 192, 168]
    # within 3 px of the input size snaps to it
    assert multiscale_crop_sizes(100, 130, 99, [1.0, 0.5]) == [99, 50]


def test_sampled_crops_use_fixed_positions_and_bounded_distortion():
    rng = np.random.default_rng(0)
    sizes = [256, 224, 192, 168]
    seen_pairs, seen_pos = set(), set()
    for _ in range(3000):
        x, y, w, h = sample_multiscale_crop(340, 256, 224, [1, .875, .75, .66], 1, True, rng)
        assert w in sizes and h in sizes
        assert abs(sizes.index(w) - sizes.index(h)) <= 1
        assert 0 <= x and x + w <= 340 and 0 <= y and y + h <= 256
        assert (x, y) in fixed_crop_positions(340, 256, w, h, True)
        seen_pairs.add((w, h))
        seen_pos.add(fixed_crop_positions(340, 256, w, h, True).index((x, y)))
    assert len(seen_pairs) == 10  # 4 square + 6 one-step distortions
    assert seen_pos == set(range(13))
    corners = fixed_crop_positions(340, 256, 224, 224, more_fix_crop=False)
    assert corners == [(0, 0), (116, 0), (0, 32), (116, 32), (58, 16)]


def test_train_offsets_one_per_segment():
    rng = np.random.default_rng(0)
    for _ in range(50):
        off = train_offsets(31, 3, 5, rng)  # 27 admissible starts, segments of 9
        assert off.shape == (3,)
        assert all(9 * k <= o < 9 * (k + 1) for k, o in enumerate(off))
    short = train_offsets(4, 3, 3, rng)  # 2 admissible starts < 3 segments
    assert short.min() >= 0 and short.max() <= 1 and np.all(np.diff(short) >= 0)


def _flow_video(root: Path, fx: float, fy: float, n: int = 8, size=(40, 32)) -> VideoRecord:
    d = root / "C" / "v"
    d.mkdir(parents=True)
    import cv2

    for i in range(1, n + 1):
        cv2.imwrite(str(d / IMG_TMPL.format(i)), np.full((size[1], size[0], 3), 128, np.uint8))
        if i < n:
            cv2.imwrite(str(d / FLOW_X_TMPL.format(i)), quantize_flow(np.full(size[::-1], fx)))
            cv2.imwrite(str(d / FLOW_Y_TMPL.format(i)), quantize_flow(np.full(size[::-1], fy)))
    return VideoRecord("C/v.avi", 0, "train")


@pytest.mark.parametrize("flip", [True, False])
def test_flow_flip_negates_x_only(tmp_path, flip):
    rec = _flow_video(tmp_path, fx=6.0, fy=3.0)
    cfg = small_cfg(stream="flow", crop_size=24, flip=flip)
    ds = TSNDataset([rec], tmp_path, cfg, train=True)
    signs = set()
    for epoch in range(16):
        x, label = ds[(0, epoch)]
        assert x.shape == (3, 6, 24, 24) and x.dtype == np.float32 and label == 0
        xs, ys = x[:, 0::2].mean(), x[:, 1::2].mean()
        assert abs(abs(xs) - 0.3) < 0.02 and abs(ys - 0.15) < 0.02  # 6/20 and 3/20
        signs.add(bool(xs > 0))
    assert signs == ({True, False} if flip else {True})
    # evaluation: deterministic centre crop, no flip
    ev = TSNDataset([rec], tmp_path, cfg, train=False)
    a, b = ev[(0, 0)][0], ev[(0, 5)][0]
    np.testing.assert_array_equal(a, b)
    assert a[:, 0::2].mean() > 0


def test_missing_frames_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.*C/nope"):
        TSNDataset([VideoRecord("C/nope.avi", 0)], tmp_path, small_cfg(), train=True)


# ----------------------------------------------------------------------------- model


def test_partial_bn_freezes_all_but_first_bn():
    torch.manual_seed(0)
    model = build_model(small_cfg(partial_bn=True), num_classes=3)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) >= 3
    before = [
        {k: v.clone() for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
        for bn in bns
    ]
    groups = param_groups(model, small_cfg())
    opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    grouped = {id(p) for g in groups for p in g["params"]}
    model.train()
    for _ in range(2):
        x = torch.randn(6, 3, 32, 32) * 3 + 1
        _, logits = model(x)
        loss = logits.logsumexp(1).mean() + logits[:, 0].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = [bn.state_dict() for bn in bns]
    # the first BN learns its statistics and affine parameters ...
    assert not torch.allclose(before[0]["running_mean"], after[0]["running_mean"])
    assert not torch.allclose(before[0]["weight"], after[0]["weight"])
    assert all(id(p) in grouped for p in bns[0].parameters())
    # ... every later one is frozen (stats, affine) and left out of the optimizer
    for b, a, bn in zip(before[1:], after[1:], bns[1:], strict=True):
        for k in b:
            torch.testing.assert_close(b[k], a[k], rtol=0, atol=0)
        assert not any(p.requires_grad for p in bn.parameters())
        assert not any(id(p) in grouped for p in bn.parameters())


def test_param_groups_follow_tsn_policy():
    cfg = small_cfg(stream="flow", lr=0.01, weight_decay=5e-4)
    model = build_model(cfg, num_classes=4)
    groups = {g["name"]: g for g in param_groups(model, cfg)}
    assert groups["first_conv_weight"]["lr"] == pytest.approx(0.05)
    assert groups["weight"]["lr"] == pytest.approx(0.01)
    assert groups["weight"]["weight_decay"] == pytest.approx(5e-4)
    assert groups["bias"]["lr"] == pytest.approx(0.02) and groups["bias"]["weight_decay"] == 0
    assert groups["norm"]["weight_decay"] == 0
    rgb = {g["name"]: g for g in param_groups(build_model(small_cfg(), 4), small_cfg(lr=0.01))}
    assert rgb["first_conv_weight"]["lr"] == pytest.approx(0.01)


# ----------------------------------------------------------------------------- configs


def test_paper_configs_have_paper_schedules():
    d = ROOT / "frame_select_env" / "configs" / "tsn"
    for ds in ("ucf101", "hmdb51"):
        rgb, flow = load_config(d / f"{ds}_rgb.yaml"), load_config(d / f"{ds}_flow.yaml")
        assert (rgb.stream, rgb.epochs, rgb.lr_steps, rgb.dropout) == ("rgb", 80, [30, 60], 0.8)
        assert (flow.stream, flow.epochs, flow.lr_steps, flow.dropout) == (
            "flow", 340, [190, 300], 0.7)
        assert rgb.clip_gradient == 20 and flow.clip_gradient == 40
        for c in (rgb, flow):
            assert (c.lr, c.batch_size, c.momentum, c.weight_decay) == (0.001, 128, 0.9, 5e-4)
            assert c.partial_bn and c.num_segments == 3
        for s in ("rgb", "flow"):
            k = load_config(d / f"{ds}_{s}_kinetics.yaml")
            assert (k.stream, k.epochs, k.lr_steps) == (s, 30, [10, 20])
    for s in ("rgb", "flow"):
        c = load_config(d / f"sparse_actions_{s}.yaml")
        assert c.stream == s and c.arch == "small"


def test_config_errors_are_clear(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("stream: rgb\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*unknown.*learning_rate"):
        load_config(f)
    f.write_text("stream: depth\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*stream.*'depth'"):
        load_config(f)
    f.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(f)
    with pytest.raises(ConfigError, match="lr_steps.*increasing"):
        TSNConfig(lr_steps=[60, 30])
    with pytest.raises(ConfigError, match="dropout"):
        TSNConfig(dropout=1.5)
    with pytest.raises(ConfigError, match="epochs.*integer"):
        TSNConfig(epochs=2.5)
    with pytest.raises(ConfigError, match="lr"):
        TSNConfig(lr=0)
    with pytest.raises(ConfigError, match="frame_size"):
        TSNConfig(frame_size=[340])
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")
    # overrides are validated too
    with pytest.raises(ConfigError, match="batch_size"):
        load_config("builtin:tsn/ucf101_rgb.yaml", batch_size=0)


# ----------------------------------------------------------------------------- training


def _run(synth, out, **kw):
    root, train, val, names = synth
    return train_tsn(
        small_cfg(**kw), train, val, root, out, names,
        device="cpu", progress=False, tensorboard=False,
    )


@pytest.mark.parametrize("stream", ["rgb", "flow"])
def test_learns_easy_synthetic_set(synth, tmp_path, stream):
    path = _run(synth, tmp_path / stream, stream=stream, epochs=8)
    log = read_log(tmp_path / stream / "log.csv")
    assert [r["epoch"] for r in log] == list(range(1, 9))
    first, last = log[0], log[-1]
    assert np.mean([r["loss"] for r in log[-2:]]) < 0.8 * first["loss"]
    assert max(r["val_acc"] for r in log[-3:]) >= 0.8  # chance is 1/3
    model, ckpt = load_stream_model(path, return_checkpoint=True)
    assert ckpt["class_names"] == synth[3] and model.in_channels == (3 if stream == "rgb" else 6)
    assert ckpt["config"]["final_val"] == pytest.approx(last["val_acc"])


def test_resume_equals_uninterrupted_run(synth, tmp_path):
    kw = dict(lr_steps=[1], lr=0.05)
    full = _run(synth, tmp_path / "full", epochs=2, **kw)
    _run(synth, tmp_path / "split", epochs=1, **kw)
    ck1 = load_training_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert ck1["epoch"] == 1
    resumed = _run(synth, tmp_path / "split", epochs=2, **kw)
    a = torch.load(full, weights_only=True)["state_dict"]
    b = torch.load(resumed, weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # and the weights did move during the second epoch
    assert not torch.equal(ck1["model"]["fc.weight"], b["fc.weight"])
    la, lb = read_log(tmp_path / "full" / "log.csv"), read_log(tmp_path / "split" / "log.csv")
    assert la == [{**r, "seconds": la[i]["seconds"]} for i, r in enumerate(lb)]
    assert [r["lr"] for r in lb] == pytest.approx([0.05, 0.005])
    ck2 = load_training_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert ck2["epoch"] == 2
    assert ck2["best_val"] == pytest.approx(max(r["val_acc"] for r in lb), abs=1e-6)
    # a changed architecture refuses to resume
    with pytest.raises(ValueError, match="cannot resume.*arch_kwargs"):
        _run(synth, tmp_path / "split", epochs=3, arch_kwargs={"feature_dim": 16}, **kw)
    # a longer schedule with new milestones continues at the lr they imply
    _run(synth, tmp_path / "split", epochs=3, lr_steps=[1, 2], lr=0.05)
    lc = read_log(tmp_path / "split" / "log.csv")
    assert [r["lr"] for r in lc] == pytest.approx([0.05, 0.005, 0.0005])


def test_cli_plain_lists(synth, tmp_path, capsys):
    root, train, val, names = synth
    lst = tmp_path / "all.txt"
    lst.write_text(
        "".join(f"{r.path} {r.label} {r.split}\n" for r in train + val), encoding="utf-8"
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stream: rgb\narch: small\nepochs: 1\nbatch_size: 8\nlr_steps: [5]\n"
                   "crop_size: 32\nworkers: 0\namp: false\n")
    out = tmp_path / "out"
    from scripts import train_baseline as script

    argv = ["--config", str(cfg), "--list", str(lst), "--frames-root", str(root), "--out",
            str(out), "--device", "cpu", "--no-progress", "--no-tensorboard",
            "--set", "arch_kwargs={feature_dim: 16, width: 4}"]
    assert script.main(argv) == 0
    assert "18 train / 6 val" in capsys.readouterr().out
    assert (out / "checkpoint.pt").is_file() and (out / "model.pt").is_file()
    assert len(read_log(out / "log.csv")) == 1
    assert script.main(argv + ["--set", "colour=red"]) == 2
    assert "colour" in capsys.readouterr().err


def test_pretrained_stream_initialises_flow_backbone(synth, tmp_path):
    # an RGB stream checkpoint (any number of classes) starts a flow stream: backbone copied
    # with the cross-modality first conv, a fresh classifier
    from frame_select_env.pipeline.models import (
        build_stream_model,
        first_conv,
        save_stream_checkpoint,
    )

    torch.manual_seed(3)
    src = build_stream_model("small", 3, 7, 0.5, SMALL)
    path = save_stream_checkpoint(tmp_path / "rgb.pt", src, [f"c{i}" for i in range(7)])
    flow = build_model(small_cfg(stream="flow", pretrained=str(path)), num_classes=3)
    w_src, w_new = first_conv(src)[2].weight, first_conv(flow)[2].weight
    assert w_new.shape[1] == 6
    torch.testing.assert_close(w_new, w_src.mean(1, keepdim=True).expand_as(w_new))
    sd_src, sd_new = src.backbone.state_dict(), flow.backbone.state_dict()
    name = next(k for k in sd_src if k.startswith("features.") and k.endswith("weight"))
    torch.testing.assert_close(sd_new[name], sd_src[name])
    assert flow.fc.weight.shape == (3, 32)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        build_model(small_cfg(pretrained=str(tmp_path / "nope.pt")), num_classes=3)


def test_batches_do_not_depend_on_worker_count(synth):
    # augmentation is seeded by (seed, epoch, index): the same batches with 0 or 1 workers,
    # and a different epoch gives different crops
    from torch.utils.data import DistributedSampler

    from frame_select_env.pipeline.tsn.data import EpochSampler
    from frame_select_env.pipeline.tsn.trainer import _loader

    root, train, _, _ = synth

    def batches(workers: int, epoch: int) -> list[torch.Tensor]:
        cfg = small_cfg(workers=workers)
        ds = TSNDataset(train, root, cfg, train=True)
        sampler = EpochSampler(DistributedSampler(ds, num_replicas=1, rank=0, seed=0))
        sampler.set_epoch(epoch)
        return [x for x, _ in _loader(ds, sampler, 8, cfg, torch.device("cpu"), True)]

    a, b = batches(0, 1), batches(1, 1)
    assert len(a) == len(b) == 2
    for x, y in zip(a, b, strict=True):
        assert x.shape == (8, 3, 32, 32, 3) and x.dtype == torch.uint8
        assert torch.equal(x, y)
    assert not torch.equal(a[0], batches(0, 2)[0])


DDP_SCRIPT = """
import json, os, sys
from pathlib import Path
import torch.distributed as dist
from frame_select_env.pipeline.datasets import VideoRecord
from frame_select_env.pipeline.tsn import TSNConfig, train_tsn

root, out = Path(sys.argv[1]), Path(sys.argv[2])
recs = [VideoRecord(*r) for r in json.loads(sys.argv[3])]
train = [r for r in recs if r.split == "train"]
val = [r for r in recs if r.split != "train"]
names = json.loads(sys.argv[4])
cfg = TSNConfig(stream="rgb", arch="small", arch_kwargs={"feature_dim": 16, "width": 4},
                epochs=2, batch_size=8, lr=0.05, lr_steps=[100], crop_size=32, workers=0,
                amp=False)
train_tsn(cfg, train, val, root, out, names, device="cpu", progress=False, tensorboard=False)
(out.parent / f"rank{os.environ['RANK']}.txt").write_text(str(dist.get_world_size()))
dist.destroy_process_group()  # as scripts/train_baseline.py: an open group can abort the exit
"""


@pytest.mark.slow
def test_torchrun_two_processes(synth, tmp_path):
    # DistributedDataParallel on CPU (gloo): both ranks train, only rank 0 writes
    root, train, val, names = synth
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    recs = json.dumps([[r.path, r.label, r.split] for r in train + val])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", str(script), str(root), str(tmp_path / "out"), recs, json.dumps(names)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    for rank in (0, 1):
        assert (tmp_path / f"rank{rank}.txt").read_text() == "2"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "checkpoint.pt", "log.csv", "model.pt"]
    log = read_log(tmp_path / "out" / "log.csv")
    assert [row["epoch"] for row in log] == [1, 2]
    # the validation shards of the two ranks cover the 6 videos exactly once
    for row in log:
        assert row["val_acc"] * 6 == pytest.approx(round(row["val_acc"] * 6), abs=1e-4)
    model = load_stream_model(tmp_path / "out" / "model.pt")
    ck = load_training_checkpoint(tmp_path / "out" / "checkpoint.pt")
    for k, v in model.state_dict().items():
        assert torch.equal(v, ck["model"][k])
