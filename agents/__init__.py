"""Agents for ``FrameSelection-v0``: the paper's AS agent.

What every evaluated policy is (:class:`~frame_select_env.core.policy.SelectionPolicy`) is part of
the
env's core, :mod:`frame_select_env.core.policy`.

* :mod:`agents.as_agent`: the attention-aware sampling BiLSTM (:class:`ASAgent`, :class:`ASPolicy`,
  :func:`save_agent`, :func:`load_agent`).
* :mod:`agents.reinforce`: its REINFORCE training (Algorithm 1; :class:`ReinforceTrainer`).

The test procedure (Algorithm 2) that evaluates every policy is
:mod:`frame_select_env.evaluation`.

Names are imported lazily, so ``import agents`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ASAgent": "agents.as_agent",
    "ASAgentConfig": "agents.as_agent",
    "ASPolicy": "agents.as_agent",
    "load_agent": "agents.as_agent",
    "save_agent": "agents.as_agent",
    "ReinforceConfig": "agents.reinforce",
    "ReinforceTrainer": "agents.reinforce",
    "train_agent": "agents.reinforce",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
