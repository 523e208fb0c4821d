"""``FrameSelection-v0``: the paper's one-step MDP (keep a subset of T frames, Eq. 4 reward).

:mod:`.env` is the single env, :mod:`.vector_env` its native batched version.
"""
