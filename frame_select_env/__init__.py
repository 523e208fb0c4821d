"""Key-frame selection for video action recognition as a reinforcement-learning problem.

Importing the package registers ``FrameSelection-v0`` with Gymnasium::

    import gymnasium as gym
    import frame_select_env  # noqa: F401

    env = gym.make("FrameSelection-v0")                  # the built-in SparseActions store
    envs = gym.make_vec("FrameSelection-v0", num_envs=256)  # the native batched version
"""

from gymnasium.envs.registration import register, registry

from frame_select_env.core.reward import selection_reward
from frame_select_env.store import (
    FeatureStore,
    StoreWriter,
    validate_store,
    write_store,
)
from frame_select_env.store.builtin import builtin_store_path

#: the one version (pyproject.toml reads it; CHANGELOG.md's first release heading names it)
__version__ = "0.4.0"
ENV_ID = "FrameSelection-v0"

if ENV_ID not in registry:
    # A one-step MDP: no max_episode_steps (every step terminates by itself).
    register(
        id=ENV_ID,
        entry_point="frame_select_env.envs.one_step.env:FrameSelectionEnv",
        vector_entry_point="frame_select_env.envs.one_step.vector_env:FrameSelectionVectorEnv",
    )

SEQ_ENV_ID = "FrameSelectionSeq-v0"
if SEQ_ENV_ID not in registry:
    # Episodes end by stop or budget (at most T + 1 steps): no max_episode_steps needed.
    register(
        id=SEQ_ENV_ID,
        entry_point="frame_select_env.envs.sequential.env:FrameSelectionSeqEnv",
        vector_entry_point="frame_select_env.envs.sequential.vector_env:FrameSelectionSeqVectorEnv",
    )

__all__ = [
    "ENV_ID",
    "SEQ_ENV_ID",
    "FeatureStore",
    "StoreWriter",
    "builtin_store_path",
    "selection_reward",
    "validate_store",
    "write_store",
]
