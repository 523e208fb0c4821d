"""Backbones: shapes, exact parameter counts, layer names, TSN helpers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from frame_select_env.pipeline.models import (
    BNInception,
    ResNet,
    SmallCNN,
    adapt_first_conv,
    build_backbone,
    build_stream_model,
    first_conv,
    set_partial_bn,
    tsn_param_groups,
)


def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def bninception() -> BNInception:
    torch.manual_seed(0)
    return BNInception(3, num_classes=1000).eval()


def test_small_cnn_shapes_and_determinism() -> None:
    torch.manual_seed(0)
    m = SmallCNN(3, feature_dim=32, width=8).eval()
    assert m.feature_dim == 32
    x = torch.randn(4, 3, 112, 112)
    with torch.no_grad():
        y = m(x)
        assert y.shape == (4, 32)
        assert torch.equal(y, m(x))
        # per-sample independence in eval mode: row 0 alone gives the same features
        assert torch.allclose(m(x[:1]), y[:1], atol=1e-5)
        assert m(torch.randn(2, 3, 64, 80)).shape == (2, 32)
    flow = SmallCNN(10)
    assert flow(torch.randn(2, 10, 112, 112)).shape == (2, 64)
    with pytest.raises(ValueError, match="in_channels"):
        SmallCNN(0)


def test_small_cnn_is_small() -> None:
    # a few MFLOPs per crop: count multiply-adds of the convs at 112x112
    m = SmallCNN(10)
    macs = 0

    def hook(mod: nn.Conv2d, inp: tuple[torch.Tensor], out: torch.Tensor) -> None:
        nonlocal macs
        k = mod.weight[0].numel()
        macs += out.numel() * k

    hs = [c.register_forward_hook(hook) for c in m.modules() if isinstance(c, nn.Conv2d)]
    with torch.no_grad():
        m(torch.zeros(1, 10, 112, 112))
    for h in hs:
        h.remove()
    assert 1e6 < macs < 8e6


@pytest.mark.parametrize(
    ("depth", "expected", "dim"), [(18, 11_689_512, 512), (50, 25_557_032, 2048)]
)
def test_resnet_parameter_counts_match_torchvision(depth: int, expected: int, dim: int) -> None:
    m = ResNet(depth, 3, num_classes=1000)
    assert _n_params(m) == expected
    assert m.feature_dim == dim
    sd = m.state_dict()
    # torchvision state-dict sizes (parameters + BN buffers incl. num_batches_tracked)
    assert len(sd) == {18: 122, 50: 320}[depth]
    for key in ("conv1.weight", "bn1.running_var", "layer4.1.conv2.weight", "fc.bias"):
        assert key in sd
    if depth == 50:
        assert sd["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
        assert sd["layer3.5.bn3.weight"].shape == (1024,)
        assert sd["layer2.0.conv2.weight"].shape == (128, 128, 3, 3)
    else:
        assert "layer1.0.downsample.0.weight" not in sd
        assert sd["layer2.0.downsample.1.running_mean"].shape == (128,)
    # backbone use: no fc, pooled features
    bb = ResNet(depth, 10).eval()
    assert bb.fc is None
    assert _n_params(bb) == expected - (dim * 1000 + 1000) + 64 * 7 * 7 * 7
    with torch.no_grad():
        assert bb(torch.randn(1, 10, 64, 64)).shape == (1, dim)
        assert m.eval().forward_logits(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_bninception_parameter_count_and_names(bninception: BNInception) -> None:
    m = bninception
    # 11,295,240 parameters, derived layer by layer from tsn-pytorch's
    # tf_model_zoo/bninception/bn_inception.yaml as built by its pytorch_load.py
    # (conv_bias=True): each Convolution k*k*in*out + out, each BN 2*out, fc 1024*1000 + 1000.
    assert _n_params(m) == 11_295_240
    assert _n_params(BNInception(3)) == 11_295_240 - 1_025_000
    convs = [n for n, x in m.named_modules() if isinstance(x, nn.Conv2d)]
    bns = [n for n, x in m.named_modules() if isinstance(x, nn.BatchNorm2d)]
    # 3 stem convs + 8 four-branch blocks x 7 + 2 reduction blocks (3c, 4e) x 5
    assert len(convs) == len(bns) == 69
    assert all(f"{c}_bn" in bns for c in convs)
    sd = m.state_dict()
    expected_shapes = {
        "conv1_7x7_s2.weight": (64, 3, 7, 7),
        "conv1_7x7_s2.bias": (64,),
        "conv1_7x7_s2_bn.running_mean": (64,),
        "conv2_3x3.weight": (192, 64, 3, 3),
        "inception_3a_1x1.weight": (64, 192, 1, 1),
        "inception_3a_pool_proj.weight": (32, 192, 1, 1),
        "inception_3c_3x3.weight": (160, 128, 3, 3),
        "inception_4d_1x1.weight": (96, 608, 1, 1),
        "inception_4e_double_3x3_2_bn.weight": (256,),
        "inception_5a_1x1.weight": (352, 1056, 1, 1),
        "inception_5b_pool_proj.weight": (128, 1024, 1, 1),
        "fc.weight": (1000, 1024),
    }
    for k, shape in expected_shapes.items():
        assert tuple(sd[k].shape) == shape, k
    assert "inception_3c_1x1.weight" not in sd and "inception_4e_pool_proj.weight" not in sd


def test_bninception_forward_224(bninception: BNInception) -> None:
    sizes: dict[str, tuple[int, ...]] = {}

    def hook(mod: nn.Module, inp: tuple[torch.Tensor], out: torch.Tensor) -> None:
        sizes["5b"] = tuple(out.shape[-2:])

    h = bninception.inception_5b_1x1.register_forward_hook(hook)
    with torch.no_grad():
        feats = bninception(torch.randn(1, 3, 224, 224))
        logits = bninception.fc(feats)
    h.remove()
    assert feats.shape == (1, 1024) and bninception.feature_dim == 1024
    assert logits.shape == (1, 1000)
    assert sizes["5b"] == (7, 7)  # the original's fixed 7x7 global pool covers exactly this
    assert torch.isfinite(feats).all() and (feats >= 0).all()  # pooled ReLU outputs
    with pytest.raises(ValueError, match="112x112 is not supported"):
        with torch.no_grad():
            bninception(torch.zeros(1, 3, 112, 112))


@pytest.mark.parametrize(
    ("arch", "dim"), [("small", 64), ("resnet18", 512), ("resnet50", 2048), ("bninception", 1024)]
)
def test_build_backbone(arch: str, dim: int) -> None:
    bb = build_backbone(arch, 10)
    assert bb.feature_dim == dim and bb.in_channels == 10 and bb.arch == arch
    _, _, conv = first_conv(bb)
    assert conv.in_channels == 10


def test_build_backbone_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown arch 'vgg'"):
        build_backbone("vgg", 3)


@pytest.mark.parametrize("arch", ["small", "resnet18"])
def test_adapt_first_conv_cross_modality(arch: str) -> None:
    torch.manual_seed(0)
    model = build_stream_model(arch, 3, 5)
    _, _, old = first_conv(model)
    old_w = old.weight.detach().clone()
    adapt_first_conv(model, 10)
    _, _, new = first_conv(model)
    assert model.in_channels == 10 and new.in_channels == 10
    mean = old_w.mean(dim=1)
    for c in range(10):
        assert torch.allclose(new.weight[:, c], mean)
    # a channel-constant input: 10 channels of the mean kernel = 10/3 x 3 channels of RGB kernel
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        y_new = nn.functional.conv2d(
            x.expand(1, 10, -1, -1), new.weight, None, new.stride, new.padding
        )
        y_old = nn.functional.conv2d(x.expand(1, 3, -1, -1), old_w, None, old.stride, old.padding)
    assert torch.allclose(y_new, y_old * 10 / 3, atol=1e-4)
    with torch.no_grad():
        assert model(torch.randn(2, 10, 64, 64))[1].shape == (2, 5)


def test_adapt_first_conv_keeps_bias() -> None:
    bb = BNInception(3)
    with torch.no_grad():
        bb.conv1_7x7_s2.bias.copy_(torch.arange(64.0))
    adapt_first_conv(bb, 4)
    assert bb.conv1_7x7_s2.weight.shape == (64, 4, 7, 7)
    assert torch.equal(bb.conv1_7x7_s2.bias, torch.arange(64.0))


def test_set_partial_bn_freezes_all_but_first() -> None:
    torch.manual_seed(0)
    model = build_stream_model("small", 3, 4)
    set_partial_bn(model, True)
    model.train()  # must not undo partial BN
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 5
    before = [(b.running_mean.clone(), b.running_var.clone()) for b in bns]
    model(torch.randn(8, 3, 32, 32) * 3 + 1)
    assert not torch.equal(bns[0].running_mean, before[0][0])  # first BN still adapts
    for b, (mu, var) in zip(bns[1:], before[1:], strict=True):
        assert torch.equal(b.running_mean, mu) and torch.equal(b.running_var, var)
        assert not b.weight.requires_grad and not b.bias.requires_grad
    assert bns[0].weight.requires_grad
    set_partial_bn(model, False)
    model.train()
    model(torch.randn(8, 3, 32, 32))
    assert not torch.equal(bns[1].running_mean, before[1][0])
    assert bns[1].weight.requires_grad


def test_tsn_param_groups_cover_trainable_parameters() -> None:
    model = build_stream_model("bninception", 10, 4)
    set_partial_bn(model, True)
    groups = {g["name"]: g for g in tsn_param_groups(model, flow=True, partial_bn=True)}
    assert groups["first_conv_weight"]["params"][0] is model.backbone.conv1_7x7_s2.weight
    assert (
        groups["first_conv_weight"]["lr_mult"] == 5 and groups["first_conv_bias"]["lr_mult"] == 10
    )
    assert len(groups["bn_scale_shift"]["params"]) == 2  # only the first BN
    assert groups["normal_bias"]["decay_mult"] == 0
    grouped = {id(p) for g in groups.values() for p in g["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert grouped == trainable  # every trainable parameter exactly once, frozen BN left out
    assert sum(len(g["params"]) for g in groups.values()) == len(grouped)
    rgb = {g["name"]: g for g in tsn_param_groups(build_stream_model("small", 3, 4))}
    assert rgb["first_conv_weight"]["lr_mult"] == 1 and rgb["first_conv_bias"]["params"] == []
