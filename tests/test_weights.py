"""Strict loading of public checkpoints (mmaction2 TSN ResNet-50, tsn-pytorch BN-Inception)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from frame_select_env.pipeline.models import (
    BNInception,
    StreamModel,
    build_backbone,
    build_stream_model,
    detect_source,
    load_pretrained,
    load_state_dict_file,
    stream_model_from_public,
)

NUM_CLASSES = 7
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _rand_like(t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    if t.dtype == torch.long:
        return torch.randint(0, 100, t.shape, generator=gen)
    return torch.rand(t.shape, generator=gen) + 0.1


def _mmaction2_resnet50_state_dict(in_channels: int = 3) -> dict[str, torch.Tensor]:
    """The key names and shapes of an mmaction2 TSN ResNet-50 recogniser, written out by hand
    from mmaction2's ResNet (ConvModule = ``.conv`` + ``.bn``) and TSNHead (``fc_cls``)."""
    gen = torch.Generator().manual_seed(1)
    sd: dict[str, torch.Tensor] = {}

    def conv(name: str, cout: int, cin: int, k: int) -> None:
        sd[f"{name}.conv.weight"] = torch.rand(cout, cin, k, k, generator=gen)
        for b in BN_KEYS:
            shape = () if b == "num_batches_tracked" else (cout,)
            sd[f"{name}.bn.{b}"] = (
                torch.tensor(5) if b == "num_batches_tracked" else torch.rand(shape, generator=gen)
            )

    conv("backbone.conv1", 64, in_channels, 7)
    inplanes = 64
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3), strict=True)):
        for j in range(n):
            p = f"backbone.layer{i + 1}.{j}"
            conv(f"{p}.conv1", planes, inplanes, 1)
            conv(f"{p}.conv2", planes, planes, 3)
            conv(f"{p}.conv3", planes * 4, planes, 1)
            if j == 0:
                conv(f"{p}.downsample", planes * 4, inplanes, 1)
            inplanes = planes * 4
    sd["cls_head.fc_cls.weight"] = torch.rand(NUM_CLASSES, 2048, generator=gen)
    sd["cls_head.fc_cls.bias"] = torch.rand(NUM_CLASSES, generator=gen)
    return sd


def _tsn_pytorch_bninception_state_dict(dropout: float = 0.8) -> dict[str, torch.Tensor]:
    """A tsn-pytorch TSN(BNInception) checkpoint: DataParallel ``module.`` prefix, backbone
    under ``base_model`` with the Caffe layer ids, no ``num_batches_tracked`` (torch 0.3)."""
    gen = torch.Generator().manual_seed(2)
    base = BNInception(3).state_dict()
    sd = {
        f"module.base_model.{k}": _rand_like(v, gen)
        for k, v in base.items()
        if not k.endswith("num_batches_tracked")
    }
    head = "module.new_fc" if dropout > 0 else "module.base_model.fc"
    sd[f"{head}.weight"] = torch.rand(NUM_CLASSES, 1024, generator=gen)
    sd[f"{head}.bias"] = torch.rand(NUM_CLASSES, generator=gen)
    return sd


@pytest.fixture(scope="module")
def mm_sd() -> dict[str, torch.Tensor]:
    return _mmaction2_resnet50_state_dict()


@pytest.fixture(scope="module")
def r50() -> StreamModel:  # one ResNet-50 stream for the tests that fully (re)load it
    return build_stream_model("resnet50", 3, NUM_CLASSES)


@pytest.fixture(scope="module")
def tsn_sd() -> dict[str, torch.Tensor]:
    return _tsn_pytorch_bninception_state_dict()


def test_mmaction2_tsn_resnet50_loads_strictly(
    mm_sd: dict, r50: StreamModel, tmp_path: Path
) -> None:
    assert len(mm_sd) == 320  # as torchvision ResNet-50 (fc.weight/bias -> cls_head.fc_cls)
    path = tmp_path / "tsn_r50_mmaction2.pth"
    torch.save({"meta": {"epoch": 100}, "state_dict": mm_sd}, path)
    assert detect_source(load_state_dict_file(path)) == "mmaction2"
    model = r50
    report = load_pretrained(model, path)
    assert report["source"] == "mmaction2" and report["loaded"] == len(mm_sd)
    sd = model.state_dict()
    pairs = {
        "backbone.conv1.weight": "backbone.conv1.conv.weight",
        "backbone.bn1.running_var": "backbone.conv1.bn.running_var",
        "backbone.layer1.0.conv1.weight": "backbone.layer1.0.conv1.conv.weight",
        "backbone.layer3.4.bn2.bias": "backbone.layer3.4.conv2.bn.bias",
        "backbone.layer4.2.bn3.weight": "backbone.layer4.2.conv3.bn.weight",
        "backbone.layer1.0.downsample.0.weight": "backbone.layer1.0.downsample.conv.weight",
        "backbone.layer2.0.downsample.1.running_mean": (
            "backbone.layer2.0.downsample.bn.running_mean"
        ),
        "fc.weight": "cls_head.fc_cls.weight",
        "fc.bias": "cls_head.fc_cls.bias",
    }
    for ours, theirs in pairs.items():
        assert torch.equal(sd[ours], mm_sd[theirs]), ours


def test_mmaction2_flow_checkpoint(mm_sd: dict) -> None:
    flow_sd = _mmaction2_resnet50_state_dict(in_channels=10)
    model = build_stream_model("resnet50", 10, NUM_CLASSES)
    load_pretrained(model, flow_sd, source="mmaction2")
    assert torch.equal(model.backbone.conv1.weight, flow_sd["backbone.conv1.conv.weight"])
    # a 3-channel (RGB) checkpoint into a 10-channel model is a shape error ...
    with pytest.raises(ValueError, match=r"backbone\.conv1\.weight: checkpoint \(64, 3, 7, 7\)"):
        load_pretrained(model, mm_sd)
    # ... unless TSN cross-modality initialisation is asked for
    report = load_pretrained(model, mm_sd, cross_modality=True)
    assert report["cross_modality"] == "backbone.conv1.weight"
    mean = mm_sd["backbone.conv1.conv.weight"].mean(dim=1)
    assert all(torch.allclose(model.backbone.conv1.weight[:, c], mean) for c in range(10))


def test_tsn_pytorch_bninception_loads_strictly(tsn_sd: dict, tmp_path: Path) -> None:
    path = tmp_path / "ucf101_bninception__rgb_checkpoint.pth.tar"
    torch.save({"epoch": 80, "arch": "BNInception", "state_dict": tsn_sd, "best_prec1": 85.0}, path)
    model = build_stream_model("bninception", 3, NUM_CLASSES)
    report = load_pretrained(model, path)
    assert report["source"] == "tsn-pytorch"
    assert report["filled_num_batches_tracked"] == 69
    assert report["loaded"] == len(tsn_sd)
    sd = model.state_dict()
    for ours, theirs in {
        "backbone.conv1_7x7_s2.weight": "module.base_model.conv1_7x7_s2.weight",
        "backbone.conv1_7x7_s2.bias": "module.base_model.conv1_7x7_s2.bias",
        "backbone.conv1_7x7_s2_bn.running_mean": "module.base_model.conv1_7x7_s2_bn.running_mean",
        "backbone.inception_3a_1x1.weight": "module.base_model.inception_3a_1x1.weight",
        "backbone.inception_5b_pool_proj_bn.weight": (
            "module.base_model.inception_5b_pool_proj_bn.weight"
        ),
        "fc.weight": "module.new_fc.weight",
        "fc.bias": "module.new_fc.bias",
    }.items():
        assert torch.equal(sd[ours], tsn_sd[theirs]), ours


def test_tsn_pytorch_dropout0_head_and_public_stream() -> None:
    sd = _tsn_pytorch_bninception_state_dict(dropout=0.0)
    assert "module.base_model.fc.weight" in sd
    model = stream_model_from_public(sd, "bninception", 3, NUM_CLASSES)
    assert torch.equal(model.fc.weight, sd["module.base_model.fc.weight"])
    assert model.input_norm == "caffe_bgr" and not model.training


def test_imagenet_init_of_backbone_with_explicit_ignore() -> None:
    gen = torch.Generator().manual_seed(3)
    imagenet = {
        k: _rand_like(v, gen) for k, v in BNInception(3, num_classes=1000).state_dict().items()
    }
    stream = build_stream_model("bninception", 10, NUM_CLASSES)
    with pytest.raises(ValueError, match=r"unexpected \(2\): fc\.bias, fc\.weight"):
        load_pretrained(stream.backbone, imagenet, cross_modality=True)
    report = load_pretrained(stream.backbone, imagenet, ignore=["fc."], cross_modality=True)
    assert report["ignored"] == ["fc.bias", "fc.weight"] and report["source"] == "native"
    w = stream.backbone.conv1_7x7_s2.weight
    assert w.shape == (64, 10, 7, 7)
    assert torch.allclose(w[:, 7], imagenet["conv1_7x7_s2.weight"].mean(dim=1))
    assert torch.equal(stream.backbone.conv1_7x7_s2.bias, imagenet["conv1_7x7_s2.bias"])


def test_wrong_key_sets_raise_and_load_nothing(mm_sd: dict, r50: StreamModel) -> None:
    model = r50
    before = {k: v.clone() for k, v in model.state_dict().items()}
    missing = dict(mm_sd)
    del missing["backbone.layer2.1.conv2.bn.weight"]
    with pytest.raises(ValueError, match=r"missing \(1\): backbone\.layer2\.1\.bn2\.weight"):
        load_pretrained(model, missing)
    extra = dict(mm_sd)
    extra["backbone.layer5.0.conv1.conv.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"unexpected \(1\): backbone\.layer5\.0\.conv1\.weight"):
        load_pretrained(model, extra)
    wrong_head = dict(mm_sd)
    wrong_head["cls_head.fc_cls.weight"] = torch.zeros(NUM_CLASSES + 1, 2048)
    with pytest.raises(
        ValueError, match=r"fc\.weight: checkpoint \(8, 2048\) vs model \(7, 2048\)"
    ):
        load_pretrained(model, wrong_head)
    # a BN-Inception checkpoint into a ResNet: everything differs
    with pytest.raises(ValueError, match="key sets differ"):
        load_pretrained(model, _tsn_pytorch_bninception_state_dict())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"partial load touched {k}"


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_state_dict_file(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"epoch": 3, "lr": 0.1}, bad)
    with pytest.raises(ValueError, match="bad.pth.*not a state dict"):
        load_state_dict_file(bad)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="could not load checkpoint"):
        load_state_dict_file(junk)
    with pytest.raises(ValueError, match="unknown checkpoint source"):
        load_pretrained(build_backbone("small", 3), {"x": torch.zeros(1)}, source="timm")


def test_native_roundtrip_with_dataparallel_prefix() -> None:
    torch.manual_seed(4)
    a = build_stream_model("small", 3, NUM_CLASSES)
    b = build_stream_model("small", 3, NUM_CLASSES)
    sd = {f"module.{k}": v for k, v in a.state_dict().items()}
    assert load_pretrained(b, sd)["source"] == "native"
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
