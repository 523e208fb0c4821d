"""The backbone registry: every architecture a stream network can use, declared once.

Each entry names a builder and a one-line description;
:func:`~frame_select_env.pipeline.models.build_backbone`,
:class:`~frame_select_env.pipeline.tsn.TSNConfig` and the ``--arch`` choices and help of the
scripts all read :data:`ARCHS`. The builders import torch only when called, so listing the
architectures (a ``--help``, a config check) costs no torch import.

A new backbone is one :func:`register_backbone` call: a callable ``(in_channels, **kwargs) ->
nn.Module`` whose ``forward`` returns pooled features ``(B, D)`` and which has ``.feature_dim``
and ``.in_channels``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BackboneSpec:
    """One registered backbone.

    :param name: the ``arch`` name used in configs, checkpoints and ``--arch``
    :param build: ``(in_channels, **kwargs) -> nn.Module`` returning pooled features
    :param help: one line for ``--help`` and error messages
    """

    name: str
    build: Callable[..., Any]
    help: str = ""


#: name -> spec, in registration order (the order of ``--arch`` choices)
ARCHS: dict[str, BackboneSpec] = {}


def register_backbone(
    name: str, build: Callable[..., Any], help: str = "", *, replace: bool = False
) -> BackboneSpec:
    """Add a backbone to :data:`ARCHS`.

    :param name: the ``arch`` name
    :param build: ``(in_channels, **kwargs) -> nn.Module``
    :param help: one-line description
    :param replace: allow redefining an existing name (else that is an error, so two modules
        cannot silently fight over one name)
    :return: the registered spec
    :raises ValueError: ``name`` is empty or already registered
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"register_backbone: name must be a non-empty string, got {name!r}")
    if name in ARCHS and not replace:
        raise ValueError(f"register_backbone: arch {name!r} is already registered "
                         "(pass replace=True to redefine it)")
    spec = BackboneSpec(name, build, help)
    ARCHS[name] = spec
    return spec


def arch_names() -> tuple[str, ...]:
    """The registered architecture names (for ``choices=`` and messages)."""
    return tuple(ARCHS)


def arch_help() -> str:
    """``"small (...), resnet18 (...), ..."``: the ``--arch`` help generated from the registry."""
    return ", ".join(f"{s.name} ({s.help})" if s.help else s.name for s in ARCHS.values())


def _lazy(target: str, *args: Any) -> Callable[..., Any]:
    """A builder that imports ``"module:Class"`` when called (so listing needs no torch).

    The class is named by a string, as Gymnasium's entry points are: the models import this
    registry, and the registry must not import them back.
    """

    def build(in_channels: int, **kwargs: Any) -> Any:
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)(*args, in_channels, **kwargs)

    return build


_MODELS = "frame_select_env.pipeline.models"
register_backbone("small", _lazy(f"{_MODELS}.small_cnn:SmallCNN"),
                  "a small CNN for CPU runs and the built-in data")
register_backbone("resnet18", _lazy(f"{_MODELS}.resnet:ResNet", 18), "ResNet-18")
register_backbone("resnet50", _lazy(f"{_MODELS}.resnet:ResNet", 50), "ResNet-50")
register_backbone("bninception", _lazy(f"{_MODELS}.bninception:BNInception"),
                  "BN-Inception, TSN's backbone")
