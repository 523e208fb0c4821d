"""BN-Inception (Ioffe & Szegedy 2015) as used by TSN, in plain torch.

The layout and parameter names follow the Caffe-converted model of tsn-pytorch
(``tf_model_zoo/bninception/bn_inception.yaml`` built by ``pytorch_load.py``): every layer is a
direct attribute named by its Caffe id (``conv1_7x7_s2``, ``conv1_7x7_s2_bn``,
``inception_3a_1x1``, ``inception_3a_double_3x3_2_bn``, ...), convolutions HAVE biases
(``conv_bias=True`` there), BN has ``eps=1e-5``, and all pooling uses ``ceil_mode=True`` (Caffe
rounding). So an ImageNet or TSN checkpoint of that project loads strictly (see
:mod:`frame_select_env.pipeline.models.weights`). The pooled feature is 1024-d; the standard input
is
224x224 (the original uses a fixed 7x7 average pool there; we pool adaptively so other sizes work
and give the same result at 224).

Note the original network expects Caffe-style input (BGR, 0-255, minus ``[104, 117, 128]``); a
stream that loads those weights should use ``input_norm="caffe_bgr"`` (see ``classifier.py``).
"""

from __future__ import annotations

import torch
from torch import nn

# (name, in, 1x1, 3x3_reduce, 3x3, double_3x3_reduce, double_3x3, pool mode, pool_proj)
# For the two stride-2 "c/e" blocks there is no 1x1 and no pool projection (max pool passes
# through) and the 3x3 / double_3x3_2 convolutions have stride 2.
_BLOCKS: tuple[tuple[str, int, int, int, int, int, int, str, int], ...] = (
    ("3a", 192, 64, 64, 64, 64, 96, "ave", 32),
    ("3b", 256, 64, 64, 96, 64, 96, "ave", 64),
    ("3c", 320, 0, 128, 160, 64, 96, "max_s2", 0),
    ("4a", 576, 224, 64, 96, 96, 128, "ave", 128),
    ("4b", 576, 192, 96, 128, 96, 128, "ave", 128),
    ("4c", 576, 160, 128, 160, 128, 160, "ave", 128),
    ("4d", 608, 96, 128, 192, 160, 192, "ave", 128),
    ("4e", 608, 0, 128, 192, 192, 256, "max_s2", 0),
    ("5a", 1056, 352, 192, 320, 160, 224, "ave", 128),
    ("5b", 1024, 352, 192, 320, 192, 224, "max", 128),
)


class BNInception(nn.Module):
    """TSN's BN-Inception backbone; ``forward`` returns pooled features ``(B, 1024)``.

    :param in_channels: input channels (3 for RGB, 2L for a flow stack)
    :param num_classes: size of the optional ImageNet ``fc`` (1000 for the ImageNet checkpoint;
        0: none). It is used only by :meth:`forward_logits`.
    """

    first_conv_name = "conv1_7x7_s2"

    def __init__(self, in_channels: int = 3, num_classes: int = 0) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"BNInception: in_channels must be >= 1, got {in_channels}")
        self.in_channels = in_channels
        self._block_plan: list[tuple[str, list[list[str]], str]] = []
        self._conv("conv1_7x7_s2", in_channels, 64, 7, 2, 3)
        self.pool1_3x3_s2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self._conv("conv2_3x3_reduce", 64, 64, 1)
        self._conv("conv2_3x3", 64, 192, 3, 1, 1)
        self.pool2_3x3_s2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        out = 192
        for name, cin, c1, c3r, c3, cdr, cd, pool, proj in _BLOCKS:
            if cin != out:  # guards the table against typos
                raise AssertionError(f"BNInception table: block {name} input {cin} != {out}")
            p = f"inception_{name}"
            s = 2 if pool == "max_s2" else 1
            branches: list[list[str]] = []
            if c1:
                self._conv(f"{p}_1x1", cin, c1, 1)
                branches.append([f"{p}_1x1"])
            self._conv(f"{p}_3x3_reduce", cin, c3r, 1)
            self._conv(f"{p}_3x3", c3r, c3, 3, s, 1)
            branches.append([f"{p}_3x3_reduce", f"{p}_3x3"])
            self._conv(f"{p}_double_3x3_reduce", cin, cdr, 1)
            self._conv(f"{p}_double_3x3_1", cdr, cd, 3, 1, 1)
            self._conv(f"{p}_double_3x3_2", cd, cd, 3, s, 1)
            branches.append([f"{p}_double_3x3_reduce", f"{p}_double_3x3_1", f"{p}_double_3x3_2"])
            if pool == "ave":
                setattr(self, f"{p}_pool", nn.AvgPool2d(3, 1, 1, ceil_mode=True))
            elif pool == "max":
                setattr(self, f"{p}_pool", nn.MaxPool2d(3, 1, 1, ceil_mode=True))
            else:
                setattr(self, f"{p}_pool", nn.MaxPool2d(3, 2, ceil_mode=True))
            if proj:
                self._conv(f"{p}_pool_proj", cin, proj, 1)
            self._block_plan.append((p, branches, f"{p}_pool_proj" if proj else ""))
            out = c1 + c3 + cd + (proj if proj else cin)
        self.feature_dim = out  # 1024
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(out, num_classes) if num_classes > 0 else None

    def _conv(self, name: str, cin: int, cout: int, k: int, stride: int = 1, pad: int = 0) -> None:
        setattr(self, name, nn.Conv2d(cin, cout, k, stride, pad, bias=True))
        setattr(self, f"{name}_bn", nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))

    def _cbr(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return torch.relu_(getattr(self, f"{name}_bn")(getattr(self, name)(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The globally pooled features of a batch of images.

        :param x: images ``(B, C, H, W)`` (224x224 standard; any multiple of 32 works)
        :return: pooled features ``(B, 1024)``
        """
        in_hw = tuple(x.shape[-2:])
        x = self.pool1_3x3_s2(self._cbr("conv1_7x7_s2", x))
        x = self._cbr("conv2_3x3", self._cbr("conv2_3x3_reduce", x))
        x = self.pool2_3x3_s2(x)
        for p, branches, proj in self._block_plan:
            outs = []
            for chain in branches:
                y = x
                for name in chain:
                    y = self._cbr(name, y)
                outs.append(y)
            y = getattr(self, f"{p}_pool")(x)
            outs.append(self._cbr(proj, y) if proj else y)
            if proj == "" and outs[0].shape[-2:] != y.shape[-2:]:
                # Caffe semantics: a stride-2 conv rounds down, a ceil-mode pool rounds up, so
                # the reduction blocks need even input maps (as in the original network)
                raise ValueError(
                    f"BNInception: input size {in_hw[0]}x{in_hw[1]} is not supported (block "
                    f"{p} gets an odd {x.shape[-2]}x{x.shape[-1]} map); use a multiple of 32, "
                    "e.g. 224"
                )
            x = torch.cat(outs, 1)
        return torch.flatten(self.global_pool(x), 1)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The ImageNet classifier's logits of a batch of images (``fc`` on :meth:`forward`).

        :param x: images ``(B, C, H, W)``
        :return: ImageNet ``fc`` logits ``(B, num_classes)``
        """
        if self.fc is None:
            raise RuntimeError("BNInception.forward_logits: built with num_classes=0")
        return self.fc(self.forward(x))
