"""What the field's learned selectors' configs share: the optimiser options and one value check.

:class:`TrainingOptions` is the base of :class:`~baselines_zoo.field.ocsampler.OCSamplerConfig`
and :class:`~baselines_zoo.field.liteeval.LiteEvalConfig` (a config re-declares a field to
change its default); :func:`check_config` is every config's ``__post_init__`` check: number
ranges (:class:`frame_select_env.core.config.Range`), rules between fields and choices, each
failure a :class:`~frame_select_env.core.config.UserError` naming the config, field and value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from frame_select_env.core.config import Range, UserError, check_ranges
from frame_select_env.store import FeatureStore

#: What a selector's ``train`` takes as its store: a path, an open store, or ``None`` (built-in).
StoreArg = str | os.PathLike | FeatureStore | None
#: ``train``'s ``on_epoch``: called with ``(epoch, val value)`` (a search's pruner reads it).
OnEpoch = Callable[[int, float], None]

#: The accepted values of :class:`TrainingOptions`' fields.
TRAINING_RANGES: dict[str, Range] = {
    "epochs": Range(ge=0, integer=True), "batch_size": Range(ge=1, integer=True),
    "lr": Range(gt=0), "weight_decay": Range(ge=0), "grad_clip": Range(ge=0),
}


@dataclass
class TrainingOptions:
    """The optimiser options of a learned selector (mini-batch Adam with gradient clipping).

    :param epochs: passes over the training split.
    :param batch_size: videos per update.
    :param lr: Adam learning rate.
    :param weight_decay: Adam weight decay.
    :param grad_clip: max gradient norm (0 = off).
    """

    epochs: int = 20
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    grad_clip: float = 5.0

    def optimizer(self, net: nn.Module) -> torch.optim.Adam:
        """Adam over ``net``'s parameters with this ``lr`` and ``weight_decay``."""
        return torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def step(self, opt: torch.optim.Optimizer, loss: torch.Tensor, net: nn.Module) -> None:
        """One update: the gradients of ``loss``, clipped to ``grad_clip`` (0 = off), applied.

        :param opt: the optimiser (:meth:`optimizer`).
        :param loss: the batch's scalar loss.
        :param net: the network whose gradient norm is clipped.
        """
        opt.zero_grad()
        loss.backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(net.parameters(), self.grad_clip)
        opt.step()


def check_config(cfg: Any, ranges: Mapping[str, Range] | None = None,
                 rules: Mapping[str, tuple[bool, str]] | None = None,
                 choices: Mapping[str, Sequence[Any]] | None = None) -> None:
    """Check a selector config's values (its ``__post_init__``); the first bad one raises.

    :param cfg: the config dataclass (a :class:`TrainingOptions` also gets
        :data:`TRAINING_RANGES`).
    :param ranges: field -> its :class:`Range`.
    :param rules: field -> ``(holds, what it must be)`` for rules a range cannot say (``odd``,
        ``>= coarse_hidden``).
    :param choices: field -> its allowed values.
    :raises UserError: ``"<Config>: <field> must be <rule>, got <value>"``.
    """
    where = type(cfg).__name__
    base = TRAINING_RANGES if isinstance(cfg, TrainingOptions) else {}
    check_ranges(cfg, {**base, **(ranges or {})}, where)
    for name, (holds, rule) in (rules or {}).items():
        if not holds:
            raise UserError(f"{where}: {name} must be {rule}, got {getattr(cfg, name)!r}")
    for name, allowed in (choices or {}).items():
        if getattr(cfg, name) not in allowed:
            raise UserError(f"{where}: {name} must be one of {tuple(allowed)}, got "
                            f"{getattr(cfg, name)!r}")


__all__ = ["TRAINING_RANGES", "OnEpoch", "StoreArg", "TrainingOptions", "check_config"]
