"""StreamModel, stream checkpoints and the frozen TwoStreamClassifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from frame_select_env.pipeline.models import (
    CHECKPOINT_FORMAT,
    IMAGENET_MEAN,
    IMAGENET_STD,
    StreamModel,
    TwoStreamClassifier,
    build_stream_model,
    load_stream_model,
    save_stream_checkpoint,
)

C, L = 6, 5
NAMES = [f"a{i}" for i in range(C)]


@pytest.fixture(scope="module")
def clf() -> TwoStreamClassifier:
    return TwoStreamClassifier.random_init("small", C, flow_length=L, seed=3, device="cpu")


def _rgb(t: int = 3, v: int = 2, size: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, v, size, size, 3), dtype=np.uint8)


def _flow(t: int = 3, v: int = 2, size: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (t, v, 2 * L, size, size)).astype(np.float32)


def test_stream_model_forward() -> None:
    torch.manual_seed(0)
    m = build_stream_model("small", 3, C, dropout=0.8).eval()
    assert isinstance(m, StreamModel) and m.in_channels == 3 and m.feature_dim == 64
    x = torch.randn(4, 3, 40, 40)
    with torch.no_grad():
        f, logits = m(x)
    assert f.shape == (4, 64) and logits.shape == (4, C)
    assert torch.allclose(logits, f @ m.fc.weight.T + m.fc.bias, atol=1e-6)
    m.train()
    with torch.no_grad():
        _, l_train = m(x)
    assert not torch.allclose(l_train, logits)  # dropout 0.8 active in train mode
    with pytest.raises(ValueError, match="dropout"):
        build_stream_model("small", 3, C, dropout=1.0)


def test_preprocess_rgb_and_flow(clf: TwoStreamClassifier) -> None:
    rgb = np.zeros((2, 1, 4, 5, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 255, 128, 0
    x = clf.preprocess("rgb", rgb)
    assert x.shape == (2, 3, 4, 5) and x.dtype == torch.float32
    expected = [
        (v - m) / sd
        for v, m, sd in zip((1.0, 128 / 255, 0.0), IMAGENET_MEAN, IMAGENET_STD, strict=True)
    ]
    for c in range(3):
        assert torch.allclose(x[:, c], torch.tensor(expected[c]), atol=1e-5)
    flow = _flow(2, 1, 8)
    y = clf.preprocess("flow", flow)
    assert y.shape == (2, 2 * L, 8, 8)
    assert np.array_equal(y.numpy(), flow.reshape(2, 2 * L, 8, 8))
    with pytest.raises(ValueError, match="uint8"):
        clf.preprocess("rgb", rgb.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(\.\.\., 10, H, W\)"):
        clf.preprocess("flow", np.zeros((1, 1, 4, 8, 8), np.float32))
    with pytest.raises(KeyError, match="depth"):
        clf.preprocess("depth", flow)


def test_preprocess_caffe_bgr() -> None:
    clf = TwoStreamClassifier.random_init("small", C, flow_length=L, seed=0)
    for m in clf.streams.values():
        m.input_norm = "caffe_bgr"
    rgb = np.zeros((1, 2, 2, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 200, 10  # R=200, B=10
    x = clf.preprocess("rgb", rgb)
    assert torch.allclose(x[0, 0], torch.tensor(10.0 - 104))  # B first
    assert torch.allclose(x[0, 1], torch.tensor(0.0 - 117))
    assert torch.allclose(x[0, 2], torch.tensor(200.0 - 128))
    flow = np.full((1, 2 * L, 2, 2), 1.0, np.float32)  # JPEG value 255
    assert torch.allclose(clf.preprocess("flow", flow), torch.tensor(255.0 - 128))


def test_extract_matches_direct_forward(clf: TwoStreamClassifier) -> None:
    for stream, views in (("rgb", _rgb()), ("flow", _flow())):
        feats, logits = clf.extract(stream, views, batch_size=4)
        assert feats.shape == (3, 2, 64) and logits.shape == (3, 2, C)
        assert feats.dtype == np.float32 and logits.dtype == np.float32
        model = clf.streams[stream]
        with torch.no_grad():
            if stream == "rgb":
                x = torch.from_numpy(views).reshape(6, 48, 48, 3).permute(0, 3, 1, 2) / 255.0
                x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
                    IMAGENET_STD
                ).view(1, 3, 1, 1)
            else:
                x = torch.from_numpy(views).reshape(6, 2 * L, 48, 48)
            f, lg = model(x)
        np.testing.assert_allclose(feats.reshape(6, -1), f.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(logits.reshape(6, -1), lg.numpy(), rtol=1e-4, atol=1e-5)
        # batching does not change results; eval mode makes repeated calls identical
        f2, l2 = clf.extract(stream, views, batch_size=256)
        np.testing.assert_allclose(f2, feats, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(l2, logits, rtol=1e-4, atol=1e-5)
        assert np.array_equal(clf.extract(stream, views, batch_size=4)[1], logits)
        # frame (t, v) depends only on its own view
        f_one, _ = clf.extract(stream, views[1:2, 1:2])
        np.testing.assert_allclose(f_one[0, 0], feats[1, 1], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(T, V, H, W, 3\)"):
        clf.extract("rgb", _rgb()[0])


def test_classifier_is_frozen(clf: TwoStreamClassifier) -> None:
    assert clf.device.type == "cpu" and clf.num_classes == C and clf.flow_length == L
    for model in clf.streams.values():
        assert not model.training
        assert not any(p.requires_grad for p in model.parameters())


def test_random_init_seeded() -> None:
    a = TwoStreamClassifier.random_init("small", C, seed=1)
    b = TwoStreamClassifier.random_init("small", C, seed=1)
    c = TwoStreamClassifier.random_init("small", C, seed=2)
    rgb = _rgb(2, 1, 32)
    la, lb, lc = (m.extract("rgb", rgb)[1] for m in (a, b, c))
    assert np.array_equal(la, lb) and not np.allclose(la, lc)
    assert la.std() > 1e-3  # logits are not degenerate


def test_checkpoint_roundtrip(clf: TwoStreamClassifier, tmp_path: Path) -> None:
    paths = {}
    for stream, model in clf.streams.items():
        paths[stream] = save_stream_checkpoint(
            tmp_path / f"{stream}.pt",
            model,
            clf.class_names,
            config={"lr": 0.001, "data": tmp_path, "m": np.int64(3)},
        )
        raw = torch.load(paths[stream], weights_only=True)
        assert raw["format"] == CHECKPOINT_FORMAT and raw["arch"] == "small"
        assert raw["in_channels"] == (3 if stream == "rgb" else 2 * L)
        assert raw["num_classes"] == C and raw["feature_dim"] == 64 and raw["dropout"] == 0.5
        assert raw["class_names"] == clf.class_names and raw["config"] == {
            "lr": 0.001,
            "data": str(tmp_path),
            "m": 3,
        }
        assert raw["input_norm"] == "imagenet" and isinstance(raw["backbone_kwargs"], dict)
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file
    # a training checkpoint wrapping the stream dict is accepted too
    wrapped = tmp_path / "train_flow.pt"
    torch.save({"model": torch.load(paths["flow"], weights_only=True), "epoch": 4}, wrapped)
    assert load_stream_model(wrapped).in_channels == 2 * L
    clf2 = TwoStreamClassifier.from_checkpoints({"rgb": paths["rgb"], "flow": wrapped}, "cpu")
    assert clf2.class_names == clf.class_names
    for stream, views in (("rgb", _rgb()), ("flow", _flow())):
        f1, l1 = clf.extract(stream, views)
        f2, l2 = clf2.extract(stream, views)
        np.testing.assert_array_equal(f1, f2)
        np.testing.assert_array_equal(l1, l2)


def test_checkpoint_errors(clf: TwoStreamClassifier, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_stream_model(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"format": "something/1", "state_dict": {}}, other)
    with pytest.raises(ValueError, match="other.pt.*not a 'frame_select_env.stream/1'"):
        load_stream_model(other)
    rgb = save_stream_checkpoint(tmp_path / "rgb.pt", clf.streams["rgb"], clf.class_names)
    flow = save_stream_checkpoint(
        tmp_path / "flow.pt", clf.streams["flow"], [n + "x" for n in clf.class_names]
    )
    with pytest.raises(ValueError, match="different class names"):
        TwoStreamClassifier.from_checkpoints({"rgb": rgb, "flow": flow})
    broken = torch.load(rgb, weights_only=True)
    del broken["state_dict"]["fc.bias"]
    torch.save(broken, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="(?s)broken.pt.*fc.bias"):
        load_stream_model(tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="class names"):
        save_stream_checkpoint(tmp_path / "x.pt", clf.streams["rgb"], NAMES[:2])
    with pytest.raises(TypeError, match=r"config\.opt has a object"):
        save_stream_checkpoint(tmp_path / "x.pt", clf.streams["rgb"], NAMES, {"opt": object()})
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_autocast_matches_cpu(clf: TwoStreamClassifier, tmp_path: Path) -> None:
    paths = {
        s: save_stream_checkpoint(tmp_path / f"{s}.pt", m, clf.class_names)
        for s, m in clf.streams.items()
    }
    gpu = TwoStreamClassifier.from_checkpoints(paths, device="cuda")
    for stream, views in (("rgb", _rgb()), ("flow", _flow())):
        f_cpu, l_cpu = clf.extract(stream, views)
        f_gpu, l_gpu = gpu.extract(stream, views)
        assert f_gpu.dtype == np.float32
        np.testing.assert_allclose(f_gpu, f_cpu, rtol=2e-2, atol=2e-2)
        np.testing.assert_allclose(l_gpu, l_cpu, rtol=2e-2, atol=2e-2)
