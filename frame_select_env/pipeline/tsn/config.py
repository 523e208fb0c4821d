"""TSN training configuration: a validated dataclass loaded from YAML (``yaml.safe_load``)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from frame_select_env.core.config import UserError, from_dict, load_yaml
from frame_select_env.pipeline.archs import ARCHS
from frame_select_env.pipeline.streams import STREAM_SPECS, stream_spec
from frame_select_env.store.builtin import config_file


class ConfigError(UserError):
    """An invalid TSN configuration (unknown key, wrong type or out-of-range value)."""


@dataclass
class TSNConfig:
    """Hyper-parameters of one TSN stream (Wang et al., 2016), as used by :func:`train_tsn`.

    Defaults are TSN's spatial-stream recipe for BN-Inception (``ucf101_rgb.yaml``); the
    per-stream numbers are in ``frame_select_env/configs/tsn/*.yaml`` (``builtin:tsn/NAME``).

    :param stream: ``"rgb"`` (spatial) or ``"flow"`` (temporal)
    :param arch: backbone name for :func:`frame_select_env.pipeline.models.build_backbone`
    :param arch_kwargs: extra keyword arguments of the backbone (e.g. ``feature_dim``)
    :param num_segments: K, segments per video during training (average consensus)
    :param val_segments: segments per video for the per-epoch validation (centres);
        ``None`` = ``num_segments``
    :param flow_length: L, consecutive flow fields per stack (ignored for RGB)
    :param epochs: number of training epochs
    :param batch_size: global batch size (videos); divided over the processes under torchrun
    :param lr: base learning rate
    :param lr_steps: epochs at which the learning rate is multiplied by ``lr_gamma``
    :param lr_gamma: learning-rate decay factor of the MultiStep schedule
    :param momentum: SGD momentum
    :param weight_decay: L2 weight decay (not applied to biases and BN parameters, as TSN)
    :param clip_gradient: max total gradient norm (TSN: 20 RGB, 40 flow); ``None`` = off
    :param dropout: dropout before the classifier (TSN: 0.8 RGB, 0.7 flow)
    :param partial_bn: freeze every BN layer except the first (TSN "partial BN")
    :param tsn_lr_policy: TSN's parameter groups: biases lr x2 without decay; for flow the
        first conv lr x5 (bias x10), since it is re-learnt from the cross-modality init
    :param frame_size: ``[W, H]`` to resize every stored frame to; ``None`` = as stored
        (the raw frames are 340x256 by convention)
    :param crop_size: network input size (square)
    :param scales: multi-scale crop sizes relative to the shorter side (TSN: RGB
        1, .875, .75, .66 -> 256, 224, 192, 168 px for 256-px frames; flow 1, .875, .75)
    :param max_distort: max index distance between the width and height scale
    :param more_fix_crop: 13 fixed crop positions instead of 5 (TSN ``more_fix_crop``)
    :param flip: random horizontal flip (flow x channels are negated)
    :param amp: mixed precision (``torch.autocast`` + ``GradScaler``) when on CUDA
    :param workers: DataLoader worker processes (per process)
    :param seed: random seed (a CPU run with one seed is reproducible)
    :param pretrained: checkpoint to initialise the backbone from (``None`` = random init)
    :param eval_every: run validation every this many epochs (and always after the last)
    :param dataset: informational name (``ucf101``, ``hmdb51``, ``sparse_actions``, ...)
    """

    stream: str = "rgb"
    arch: str = "bninception"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    num_segments: int = 3
    val_segments: int | None = None
    flow_length: int = 5
    epochs: int = 80
    batch_size: int = 128
    lr: float = 0.001
    lr_steps: list[int] = field(default_factory=lambda: [30, 60])
    lr_gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    clip_gradient: float | None = 20.0
    dropout: float = 0.8
    partial_bn: bool = True
    tsn_lr_policy: bool = True
    frame_size: list[int] | None = None
    crop_size: int = 224
    scales: list[float] = field(default_factory=lambda: [1.0, 0.875, 0.75, 0.66])
    max_distort: int = 1
    more_fix_crop: bool = True
    flip: bool = True
    amp: bool = True
    workers: int = 4
    seed: int = 0
    pretrained: str | None = None
    eval_every: int = 1
    dataset: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ derived values
    @property
    def in_channels(self) -> int:
        """Input channels of the network: 3 for RGB, 2L for a flow stack (the stream's spec)."""
        return stream_spec(self.stream).in_channels(self.flow_length)

    @property
    def new_length(self) -> int:
        """Frames (RGB) or flow fields (flow) read per segment."""
        return 1 if self.reads_frames else self.flow_length

    @property
    def reads_frames(self) -> bool:
        """Whether the stream's input is an RGB frame (``rgb``, ``preview``), not a flow stack."""
        return stream_spec(self.stream).layout == "hwc"

    @property
    def eval_segments(self) -> int:
        """Segments per video at validation."""
        return self.num_segments if self.val_segments is None else self.val_segments

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check every field; raise :class:`ConfigError` naming the field and the problem."""

        def bad(name: str, msg: str) -> ConfigError:
            return ConfigError(f"TSNConfig.{name}: {msg} (got {getattr(self, name)!r})")

        def check_int(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise bad(name, "must be an integer")
            if v < lo:
                raise bad(name, f"must be >= {lo}")

        def check_float(name: str, lo: float, hi: float | None = None, lo_open=False) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad(name, "must be a number")
            v = float(v)
            setattr(self, name, v)
            if (v <= lo) if lo_open else (v < lo):
                raise bad(name, f"must be {'>' if lo_open else '>='} {lo}")
            if hi is not None and v > hi:
                raise bad(name, f"must be <= {hi}")

        # the TSN data loader reads RGB frames and flow stacks; other streams extract only
        trainable = tuple(s for s, spec in STREAM_SPECS.items() if spec.tsn_trainable)
        if self.stream not in trainable:
            raise bad("stream", f"must be one of {trainable}")
        if self.arch not in ARCHS:
            raise bad("arch", f"must be one of {tuple(ARCHS)}")
        if not isinstance(self.arch_kwargs, dict):
            raise bad("arch_kwargs", "must be a mapping")
        for name, lo in (
            ("num_segments", 1),
            ("flow_length", 1),
            ("epochs", 1),
            ("batch_size", 1),
            ("crop_size", 8),
            ("max_distort", 0),
            ("workers", 0),
            ("seed", 0),
            ("eval_every", 1),
        ):
            check_int(name, lo)
        if self.val_segments is not None:
            check_int("val_segments", 1)
        check_float("lr", 0.0, lo_open=True)
        check_float("lr_gamma", 0.0, 1.0, lo_open=True)
        check_float("momentum", 0.0, 1.0)
        check_float("weight_decay", 0.0)
        check_float("dropout", 0.0, 0.99)
        if self.clip_gradient is not None:
            check_float("clip_gradient", 0.0, lo_open=True)
        if not isinstance(self.lr_steps, (list, tuple)) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in self.lr_steps
        ):
            raise bad("lr_steps", "must be a list of integer epochs")
        self.lr_steps = [int(s) for s in self.lr_steps]
        if any(s < 1 for s in self.lr_steps) or self.lr_steps != sorted(set(self.lr_steps)):
            raise bad("lr_steps", "must be strictly increasing epochs >= 1")
        if self.frame_size is not None:
            fs = self.frame_size
            if (
                not isinstance(fs, (list, tuple))
                or len(fs) != 2
                or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in fs)
            ):
                raise bad("frame_size", "must be null or [W, H] with positive integers")
            self.frame_size = [int(fs[0]), int(fs[1])]
            if min(self.frame_size) < self.crop_size * 0.5:
                raise bad(
                    "frame_size", f"shorter side is far smaller than crop_size={self.crop_size}"
                )
        if (
            not isinstance(self.scales, (list, tuple))
            or not self.scales
            or not all(
                isinstance(s, (int, float)) and not isinstance(s, bool) and 0 < s <= 1
                for s in self.scales
            )
        ):
            raise bad("scales", "must be a non-empty list of numbers in (0, 1]")
        self.scales = [float(s) for s in self.scales]
        for name in ("partial_bn", "tsn_lr_policy", "more_fix_crop", "flip", "amp"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "must be true or false")
        for name in ("pretrained", "dataset"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, (str, os.PathLike)):
                raise bad(name, "must be null or a string")
        if self.pretrained is not None:
            self.pretrained = str(self.pretrained)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (YAML/JSON/``torch.save(weights_only)``-safe)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "config") -> TSNConfig:
        """Build a config from a mapping (:func:`frame_select_env.core.config.from_dict`).

        :param data: field values
        :param source: name used in error messages (e.g. the YAML file)
        :return: the validated config
        :raises ConfigError: not a mapping, an unknown key or a bad value; the message names
            ``source``
        """
        try:
            return from_dict(cls, data, where=source, error=ConfigError)
        except ConfigError as e:
            if str(e).startswith(f"{source}: "):  # the mapping's own error names it already
                raise
            raise ConfigError(f"{source}: {e}") from None  # a bad value (validate)

    def replace(self, **changes: Any) -> TSNConfig:
        """Copy with some fields changed (``None`` values are ignored), validated."""
        data = self.to_dict()
        data.update({k: v for k, v in changes.items() if v is not None})
        return TSNConfig.from_dict(data, source="override")


def load_config(path: str | os.PathLike, **overrides: Any) -> TSNConfig:
    """Read a TSN config from YAML.

    :param path: YAML file with TSNConfig keys, or ``builtin:NAME`` (a packaged config,
        ``builtin:tsn/ucf101_rgb.yaml``: :func:`frame_select_env.store.builtin.config_file`)
    :param overrides: field values that replace the file's (``None`` = keep the file's)
    :return: the validated config
    :raises ConfigError: unknown keys or bad values (the message names the file)
    :raises FileNotFoundError: missing file
    """
    path = config_file(path, "TSN config")
    try:
        data = load_yaml(path, "TSN config")
    except ValueError as e:  # not YAML, or not a mapping
        raise ConfigError(str(e)) from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    return TSNConfig.from_dict(data, source=str(path))
