"""Names shared by the env, the store, the agents and the evaluation, defined once."""

from __future__ import annotations

#: The two streams of the two-stream classifier, as the store names them (the built-in ones;
#: :data:`frame_select_env.pipeline.streams.STREAM_SPECS` describes them and any stream registered
# later).
STREAMS: tuple[str, ...] = ("rgb", "flow")
#: What an env, agent or evaluation can read: a stream, or both fused (Sec. 4, "late fusion").
STREAM_CHOICES: tuple[str, ...] = (*STREAMS, "fused")
#: The state variants of the paper's Table 2.
STATES: tuple[str, ...] = ("both", "features", "predictions")
#: How an episode picks the crop it reads (besides an integer view index).
VIEW_MODES: tuple[str, ...] = ("random", "center", "mean")
#: Frame-based (one selection for all crops) or region-based (each crop its own) selection.
SCHEMES: tuple[str, ...] = ("frame", "region")
#: The splits a store can hold.
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: The m values every evaluation reports by default (the paper's Fig. 3 range, T = 25).
DEFAULT_MS: tuple[int, ...] = (4, 8, 12, 16, 20, 25)
