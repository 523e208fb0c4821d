"""Baselines for both envs: simple selection policies, the field's selectors and SB3 agents.

* :mod:`baselines_zoo.policies`: ``random``, ``uniform``, ``all``, ``confidence``, ``oracle``,
  ``relevance-oracle`` (scores policies, see :class:`frame_select_env.core.policy.SelectionPolicy`).
* :mod:`baselines_zoo.sb3.policies`: BiLSTM features extractor and per-frame Bernoulli head.
* :mod:`baselines_zoo.sb3.wrappers`: the top-m scores action wrapper (for SAC / TD3).
* :mod:`baselines_zoo.registry`: agent specs (``random``, ``as:RUN/agent.pt``, ``my_mod:Policy``;
  for ``FrameSelectionSeq-v0``: ``seq-confidence``, ``seq-as:RUN``, ``maskable_ppo:RUN``).
* :mod:`baselines_zoo.field`: OCSampler, LiteEval, FrameExit, SCSampler, MGSampler.
* ``FrameSelectionSeq-v0``: :mod:`baselines_zoo.seq_policies` (stop, random, uniform, rgb
  confidence, relevance oracle) and :mod:`baselines_zoo.sb3.sequential` (PPO and MaskablePPO
  networks,
  loading without unpickling).
"""

from baselines_zoo.policies import (
    BUILTIN_POLICIES,
    AllPolicy,
    ConfidencePolicy,
    OraclePolicy,
    RandomPolicy,
    RelevanceOraclePolicy,
    UniformPolicy,
    make_policy,
)

__all__ = [
    "AllPolicy", "BUILTIN_POLICIES", "ConfidencePolicy", "OraclePolicy", "RandomPolicy",
    "RelevanceOraclePolicy", "UniformPolicy", "make_policy",
]
