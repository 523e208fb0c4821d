"""A new stream from one spec in this file: TSN's RGB difference, extracted, classified and costed.

Nothing of the project is edited: the spec is registered here, and extraction, the classifier,
the store, the cost dict and the cost model read it from the registry. Also: the backbone
registry (one ``ARCHS``) drives ``build_backbone``, ``TSNConfig`` and the ``--arch`` choices.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from frame_select_env.pipeline.archs import ARCHS, arch_help, arch_names, register_backbone
from frame_select_env.pipeline.cost import CostModel
from frame_select_env.pipeline.cost.macs import stream_macs_per_crop
from frame_select_env.pipeline.cost.timing import measure_cnn_seconds_per_crop
from frame_select_env.pipeline.datasets.sparse_actions import builtin_videos
from frame_select_env.pipeline.extract import (
    ExtractConfig,
    classify_video,
    extract_features,
    prepare_video,
)
from frame_select_env.pipeline.models import build_backbone, first_conv
from frame_select_env.pipeline.models.classifier import TwoStreamClassifier
from frame_select_env.pipeline.streams import (
    STREAM_SPECS,
    StreamSpec,
    register_stream,
    stream_spec,
    unregister_stream,
)
from frame_select_env.pipeline.video.decode import read_frames, sample_indices, window_indices
from frame_select_env.pipeline.video.views import view_at
from frame_select_env.store import FeatureStore

DIFF = "rgbdiff_test"
#: TSN's RGB difference: 5 consecutive frames -> 4 differences stacked, 4 x 3 = 12 channels
DIFF_FRAMES = 5
CHANNELS = 3 * (DIFF_FRAMES - 1)
N_VIDEOS = 3
T, L, CROP, SIZE = 4, 2, 48, (64, 48)
KWARGS = {"feature_dim": 16, "width": 4}


def _build_diff(windows: np.ndarray, starts: np.ndarray, cfg) -> np.ndarray:
    # windows (T, 5, H, W, 3) uint8 -> (T, 12, H, W) float32: frame k+1 minus frame k, per channel
    w = windows.astype(np.float32)
    d = w[:, 1:] - w[:, :-1]
    return np.ascontiguousarray(d.transpose(0, 1, 4, 2, 3).reshape(len(w), -1, *w.shape[2:4]))


def _preprocess_diff(x, in_channels: int, input_norm: str, device):
    if x.ndim < 3 or x.shape[-3] != in_channels:
        raise ValueError(f"preprocess({DIFF}): expected (..., {in_channels}, H, W), "
                         f"got {tuple(x.shape)}")
    return x.reshape(-1, *x.shape[-3:]).to(device, torch.float32) / 255.0


SPEC = StreamSpec(
    name=DIFF, window=lambda length: DIFF_FRAMES, in_channels=lambda length: CHANNELS,
    build=_build_diff, preprocess=_preprocess_diff, layout="chw", dtype="float32",
    default_arch="small", dropout=0.8, channels_ok=lambda c: c == CHANNELS, channels_doc="12",
    input_doc="(T, V, 12, H, W)",
)
STREAMS3 = ("rgb", "flow", DIFF)


@pytest.fixture
def diff_stream():
    register_stream(SPEC)
    try:
        yield SPEC
    finally:
        unregister_stream(DIFF)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> tuple[Path, list]:
    from frame_select_env.pipeline.online import resolve_videos
    from frame_select_env.store.builtin import PACKAGED_STORE

    root = tmp_path_factory.mktemp("sa_videos")
    builtin_videos("test", root, workers=1, limit=N_VIDEOS)
    names = FeatureStore(PACKAGED_STORE).class_names
    root, records, _, _ = resolve_videos(f"builtin:test:{N_VIDEOS}", names, "test", root)
    return root, records, list(names)


def _cfg() -> ExtractConfig:
    return ExtractConfig(num_frames=T, flow_length=L, flow_method="farneback", num_views=1,
                         size=SIZE, crop=CROP, dtype="float32")


def _clf(names: list[str]) -> TwoStreamClassifier:
    return TwoStreamClassifier.random_init("small", len(names), L, seed=1, device="cpu",
                                           class_names=names, backbone_kwargs=KWARGS,
                                           streams=STREAMS3)


def test_diff_stream_input_is_consecutive_frame_differences(diff_stream, videos) -> None:
    root, records, _ = videos
    path = root / records[0].path
    cfg = _cfg()
    item = prepare_video(path, cfg, STREAMS3)
    n = int(item["num_frames"])
    starts = sample_indices(n, T, DIFF_FRAMES)
    np.testing.assert_array_equal(item[f"{DIFF}_idx"], starts)
    frames = read_frames(path, window_indices(starts, DIFF_FRAMES).ravel(), SIZE, n)
    x = item[DIFF]
    assert x.shape == (T, CHANNELS, SIZE[1], SIZE[0]) and x.dtype == np.float32
    for t, s in enumerate(starts):
        for k in range(DIFF_FRAMES - 1):
            want = frames[int(s) + k + 1].astype(np.float32) - frames[int(s) + k]
            np.testing.assert_array_equal(x[t, 3 * k : 3 * k + 3], want.transpose(2, 0, 1))
    # the other streams are what they were: rgb the sampled frames, flow 2L fields
    rgb_idx = sample_indices(n, T, 1)
    rgb = read_frames(path, rgb_idx, SIZE, n)
    np.testing.assert_array_equal(item["rgb"], np.stack([rgb[int(i)] for i in rgb_idx]))
    assert item["flow"].shape == (T, 2 * L, SIZE[1], SIZE[0])


def test_diff_stream_classified_stored_and_costed(diff_stream, videos, tmp_path) -> None:
    root, records, names = videos
    cfg = _cfg()
    clf = _clf(names)
    assert clf.streams[DIFF].in_channels == CHANNELS

    # classify: the stream model on the hand-made centre crop, scaled as the spec says
    item = prepare_video(root / records[0].path, cfg, STREAMS3)
    states = classify_video(clf, item, cfg)
    crop = view_at(item[DIFF], 0, CROP, "chw", False)  # (T, 12, crop, crop)
    with torch.inference_mode():
        feats, logits = clf.streams[DIFF](torch.from_numpy(crop) / 255.0)
    np.testing.assert_allclose(states[f"{DIFF}_features"][:, 0], feats.numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(states[f"{DIFF}_logits"][:, 0], logits.numpy(), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"extract\(rgbdiff_test\): expected views "
                                         r"\(T, V, 12, H, W\)"):
        clf.extract(DIFF, crop)

    # extract: the store has the three streams, the diff one with the states computed above
    out = tmp_path / "diff.h5"
    res = extract_features(records, root, out, clf, names, cfg, classifier_id="rgbdiff-test",
                           workers=0, progress=False)
    assert res.num_done == N_VIDEOS and not res.failures
    fs = FeatureStore(out)
    assert list(fs.streams) == list(STREAMS3)
    assert fs.features(DIFF, np.arange(N_VIDEOS)).shape == (N_VIDEOS, T, 1, KWARGS["feature_dim"])
    assert fs.logits(DIFF, np.arange(N_VIDEOS)).shape == (N_VIDEOS, T, 1, len(names))
    row = fs.index_of(records[0].video_id)
    np.testing.assert_allclose(fs.features(DIFF, row), states[f"{DIFF}_features"], rtol=1e-6)
    np.testing.assert_array_equal(fs.features("rgb", row), states["rgb_features"])

    # cost: the diff stream's MACs are its backbone at 12 channels; only the first conv sees
    # the channels, so it differs from RGB's by 9 input channels of that conv (hand count)
    cost = fs.metadata["cost"]
    entry = cost["streams"][DIFF]
    assert entry["in_channels"] == CHANNELS and entry["arch"] == "small"
    macs12 = stream_macs_per_crop("small", CHANNELS, len(names), CROP, KWARGS)
    assert entry["macs_per_crop"] == macs12
    conv = first_conv(clf.streams[DIFF])[2]
    shapes = []
    hook = conv.register_forward_hook(lambda m, i, o: shapes.append(o.shape))
    with torch.inference_mode():
        clf.streams[DIFF](torch.zeros(1, CHANNELS, CROP, CROP))
    hook.remove()
    k_h, k_w = conv.kernel_size
    per_channel = conv.out_channels * k_h * k_w * shapes[0][2] * shapes[0][3]
    assert macs12 - cost["streams"]["rgb"]["macs_per_crop"] == (CHANNELS - 3) * per_channel

    # the cost model: MACs per crop computed, and the frames the stream decodes (its 5-frame
    # windows, no flow pairs) priced by seconds put in by hand (retrieve 1 s/frame, pair 1000 s)
    n = int(fs.metadata["video_frames"][records[0].video_id])
    frames = np.array([n])
    priced = {**cost, "num_video_frames": frames.tolist(),
              "seconds": {"size_key": "k", "flow_seconds_per_pair": {"k": {"farneback": 1000.0}},
                          "decode": {"grab_seconds_per_frame": 0.0,
                                     "retrieve_seconds_per_frame": 1.0}},
              "streams": {s: {**v, "seconds_per_crop": 0.0} for s, v in cost["streams"].items()}}
    model = CostModel(priced)
    mask = np.zeros((1, T, 1), bool)
    mask[0, [0, 2]] = True
    got = model.video_cost({DIFF: mask})
    assert got.macs[0] == 2 * macs12
    starts = sample_indices(n, T, DIFF_FRAMES)[[0, 2]]
    want = len({int(s) + j for s in starts for j in range(DIFF_FRAMES)})
    assert got.seconds[0] == want  # distinct frames decoded, no flow
    both = model.video_cost({DIFF: mask, "flow": mask})
    flow_starts = sample_indices(n, T, L + 1)[[0, 2]]
    pairs = {int(s) + j for s in flow_starts for j in range(L)}
    decoded = {int(s) + j for s in starts for j in range(DIFF_FRAMES)} | {
        int(s) + j for s in flow_starts for j in range(L + 1)}
    assert both.seconds[0] == 1000.0 * len(pairs) + len(decoded)

    # timing builds inputs of the stream's layout and dtype
    secs = measure_cnn_seconds_per_crop("small", DIFF, CHANNELS, len(names), CROP, SIZE, KWARGS,
                                        num_frames=1, num_views=1, repeats=1)
    assert secs > 0


def test_registry_errors_name_the_stream(diff_stream) -> None:
    with pytest.raises(ValueError, match="stream 'rgbdiff_test' is already registered"):
        register_stream(SPEC)
    with pytest.raises(ValueError, match=r"unknown stream 'nope'.*register_stream"):
        stream_spec("nope")
    with pytest.raises(ValueError, match="rgbdiff_test stream must take 12 channels, got 3"):
        from frame_select_env.pipeline.models.classifier import build_stream_model

        TwoStreamClassifier({DIFF: build_stream_model("small", 3, 2, 0.5, KWARGS)}, ["a", "b"],
                            device="cpu")
    assert list(STREAM_SPECS)[:2] == ["rgb", "flow"]


def test_tsn_config_takes_registered_archs_and_trainable_streams() -> None:
    from frame_select_env.pipeline.tsn import ConfigError, TSNConfig

    assert arch_names() == ("small", "resnet18", "resnet50", "bninception")
    register_backbone("tiny_test", lambda c, **kw: build_backbone("small", c, **kw),
                      "a test backbone")
    try:
        assert "tiny_test (a test backbone)" in arch_help()
        net = build_backbone("tiny_test", 6, **KWARGS)
        assert net.arch == "tiny_test" and net(torch.zeros(2, 6, 32, 32)).shape == (2, 16)
        assert TSNConfig(arch="tiny_test", stream="flow", flow_length=3).in_channels == 6
        with pytest.raises(ValueError, match="arch 'tiny_test' is already registered"):
            register_backbone("tiny_test", lambda c: None)
    finally:
        ARCHS.pop("tiny_test")
    with pytest.raises(ConfigError, match="TSNConfig.arch: must be one of"):
        TSNConfig(arch="tiny_test")
    with pytest.raises(ValueError, match="unknown arch 'tiny_test'"):
        build_backbone("tiny_test", 3)
    register_stream(SPEC)
    try:  # a stream the TSN data loader cannot read is refused, naming the field
        with pytest.raises(ConfigError, match=r"TSNConfig.stream: must be one of \('rgb', "
                                              r"'flow', 'preview'\) \(got 'rgbdiff_test'\)"):
            TSNConfig(stream=DIFF)
    finally:
        unregister_stream(DIFF)
