"""``FrameSelectionSeq-v0``: sequential, budgeted selection (pay the expensive stream per frame).

:mod:`.core` holds the options and the batched step both versions share, :mod:`.env` the single
env, :mod:`.vector_env` the native vector env and :mod:`.rollout` whole episodes of given videos.
"""
