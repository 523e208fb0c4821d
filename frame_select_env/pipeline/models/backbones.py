"""Backbone factory and TSN helpers (cross-modality init, partial BN)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from frame_select_env.pipeline.archs import ARCHS


def build_backbone(arch: str, in_channels: int, **kwargs: Any) -> nn.Module:
    """Build a backbone whose ``forward`` returns pooled features ``(B, D)`` (``.feature_dim``).

    The returned module remembers how it was built (``.arch``, ``.in_channels``,
    ``.build_kwargs``) so that a stream checkpoint can rebuild it.

    :param arch: a name of :data:`frame_select_env.pipeline.archs.ARCHS` (``small``, ``resnet18``,
        ``resnet50``, ``bninception`` and any registered with ``register_backbone``)
    :param in_channels: input channels (3 for RGB, 2L for a flow stack)
    :param kwargs: architecture options (``SmallCNN``: ``feature_dim``, ``width``; ``ResNet``:
        ``num_classes``, ``zero_init_residual``; ``BNInception``: ``num_classes``)
    :return: the backbone
    """
    spec = ARCHS.get(arch)
    if spec is None:
        raise ValueError(f"build_backbone: unknown arch {arch!r}; expected one of {tuple(ARCHS)}")
    model: nn.Module = spec.build(in_channels, **kwargs)
    # nn.Module.__setattr__ is typed for tensors and modules only; plain attributes are fine
    model.arch = arch  # type: ignore[assignment]
    model.build_kwargs = dict(kwargs)  # type: ignore[assignment]
    return model


def _backbone_of(model: nn.Module) -> nn.Module:
    # accept a StreamModel (or anything with a .backbone) as well as a bare backbone
    return getattr(model, "backbone", model)


def first_conv(model: nn.Module) -> tuple[nn.Module, str, nn.Conv2d]:
    """Locate the first convolution of a backbone (or of a ``StreamModel``'s backbone).

    :param model: backbone or ``StreamModel``
    :return: ``(parent module, attribute name, conv)``
    """
    bb = _backbone_of(model)
    name = getattr(bb, "first_conv_name", None)
    if name is None:
        name = next((n for n, m in bb.named_modules() if isinstance(m, nn.Conv2d)), None)
        if name is None:
            raise ValueError(f"first_conv: {type(bb).__name__} has no Conv2d")
    parent_name, _, attr = name.rpartition(".")
    parent = bb.get_submodule(parent_name) if parent_name else bb
    conv = getattr(parent, attr)
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(f"first_conv: {type(bb).__name__}.{name} is not a Conv2d")
    return parent, attr, conv


@torch.no_grad()
def adapt_first_conv(model: nn.Module, in_channels: int) -> nn.Module:
    """TSN cross-modality initialisation of the first conv for ``in_channels`` inputs.

    The first conv is replaced by one with ``in_channels`` inputs whose kernel is the mean of
    the (RGB-trained) kernel over its input channels, replicated ``in_channels`` times. The
    bias (if any) is kept. Works in place.

    :param model: backbone or ``StreamModel`` (usually ImageNet-initialised, 3 input channels)
    :param in_channels: new number of input channels (2L for a flow stack)
    :return: ``model`` (modified in place)
    """
    if in_channels < 1:
        raise ValueError(f"adapt_first_conv: in_channels must be >= 1, got {in_channels}")
    parent, attr, old = first_conv(model)
    # torch types a Conv2d's stored 2-tuples as tuple[int, ...], its constructor as 2-tuples
    new = nn.Conv2d(
        in_channels,
        old.out_channels,
        old.kernel_size,  # type: ignore[arg-type]
        stride=old.stride,  # type: ignore[arg-type]
        padding=old.padding,  # type: ignore[arg-type]
        dilation=old.dilation,  # type: ignore[arg-type]
        groups=old.groups,
        bias=old.bias is not None,
        padding_mode=old.padding_mode,
    ).to(device=old.weight.device, dtype=old.weight.dtype)
    if old.groups != 1:
        raise ValueError("adapt_first_conv: grouped first convolutions are not supported")
    mean = old.weight.mean(dim=1, keepdim=True)
    new.weight.copy_(mean.expand(-1, in_channels, -1, -1))
    if old.bias is not None and new.bias is not None:  # new has a bias exactly when old has
        new.bias.copy_(old.bias)
    setattr(parent, attr, new)
    # StreamModel.in_channels is a property reading the backbone's (a plain attribute, see above)
    _backbone_of(model).in_channels = in_channels  # type: ignore[assignment]
    return model


def _keep_bn_eval(module: nn.Module, inputs: Any) -> None:
    # forward pre-hook: a frozen BN always uses (and never updates) its running statistics,
    # even after a later ``model.train()``
    module.training = False


_PBN_ATTR = "_partial_bn_hooks"


def set_partial_bn(model: nn.Module, enabled: bool = True) -> nn.Module:
    """TSN partial BN: freeze every BatchNorm layer but the first one.

    The running mean/var and the affine parameters are frozen. Stays in effect across
    ``model.train()`` calls (a forward pre-hook keeps the frozen layers in eval mode) until
    disabled.

    :param model: backbone or ``StreamModel``
    :param enabled: ``True`` to freeze, ``False`` to undo
    :return: ``model``
    """
    hooks = getattr(model, _PBN_ATTR, None) or []
    for h in hooks:
        h.remove()
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    new_hooks = []
    for bn in bns[1:]:
        for p in bn.parameters():
            p.requires_grad_(not enabled)
        if enabled:
            bn.train(False)
            new_hooks.append(bn.register_forward_pre_hook(_keep_bn_eval))
        else:
            bn.train(model.training)
    setattr(model, _PBN_ATTR, new_hooks)
    return model


def tsn_param_groups(
    model: nn.Module, flow: bool = False, partial_bn: bool = True
) -> list[dict[str, Any]]:
    """TSN's optimiser parameter groups (``get_optim_policies`` of tsn-pytorch).

    The first conv gets ``lr_mult`` 5 (weight) / 10 (bias) for flow and 1 / 2 for RGB; other biases
    ``lr_mult`` 2 and no weight decay; BN affine parameters no weight decay, and with partial
    BN only the first BN's. Use ``lr = base_lr * g["lr_mult"]`` and
    ``weight_decay = base_wd * g["decay_mult"]`` per group.

    :param model: ``StreamModel`` or backbone
    :param flow: the model is a flow stream
    :param partial_bn: leave out all BN parameters but the first BN's (they are frozen)
    :return: a list of ``{"params", "lr_mult", "decay_mult", "name"}`` dicts (empty groups kept)
    """
    first_w: list[torch.Tensor] = []
    first_b: list[torch.Tensor] = []
    weights: list[torch.Tensor] = []
    biases: list[torch.Tensor] = []
    bn: list[torch.Tensor] = []
    n_conv = n_bn = 0
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            n_conv += 1
            (first_w if n_conv == 1 else weights).append(m.weight)
            if m.bias is not None:
                (first_b if n_conv == 1 else biases).append(m.bias)
        elif isinstance(m, nn.Linear):
            weights.append(m.weight)
            if m.bias is not None:
                biases.append(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            n_bn += 1
            if not partial_bn or n_bn == 1:
                bn.extend(m.parameters())
        elif not list(m.children()) and list(m.parameters(recurse=False)):
            raise ValueError(f"tsn_param_groups: no policy for parameters of {type(m).__name__}")
    return [
        {
            "params": first_w,
            "lr_mult": 5 if flow else 1,
            "decay_mult": 1,
            "name": "first_conv_weight",
        },
        {
            "params": first_b,
            "lr_mult": 10 if flow else 2,
            "decay_mult": 0,
            "name": "first_conv_bias",
        },
        {"params": weights, "lr_mult": 1, "decay_mult": 1, "name": "normal_weight"},
        {"params": biases, "lr_mult": 2, "decay_mult": 0, "name": "normal_bias"},
        {"params": bn, "lr_mult": 1, "decay_mult": 0, "name": "bn_scale_shift"},
    ]
