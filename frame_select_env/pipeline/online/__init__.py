"""Online states: ``FrameSelection-v0`` straight from videos through the frozen classifier.

``gym.make("FrameSelection-v0", videos=..., classifier=...)`` needs no feature store: when an
episode needs a video, it is decoded, its optical flow computed and both streams of the frozen
two-stream classifier run on its T frames x V crops, by the very functions the extractor uses
(:func:`frame_select_env.pipeline.extract.prepare_item`,
:func:`~frame_select_env.pipeline.extract.classify_videos`,
:func:`~frame_select_env.pipeline.extract.video_part`). The states are rounded to the store dtype,
so an
episode sees bit-for-bit what store mode shows for a store extracted with the same settings.

:class:`OnlineStore` is a lazy :class:`~frame_select_env.store.FeatureStore`: every consumer of a
store (the env's :class:`~frame_select_env.envs.observations.ObservationSource`, the evaluation's
``load_split``) works on it unchanged, and the observation, reward and info code is the store
mode's own. :class:`OnlineSource` adds what online needs: the N videos of a vector-env step are
computed in one batch (decoding in worker threads overlapping the classifier; :mod:`.store` says
why threads), and once every video of the split has states it switches to store mode's in-memory
gather.

Modules: :mod:`.classifier` (the frozen classifier and its id), :mod:`.videos` (the ``videos``
argument as records), :mod:`.store` (:class:`OnlineStore` and its cache; :mod:`.parts`, the
fold's lock), :mod:`.open_store` (:func:`open_online_store`, :func:`materialize`),
:mod:`.source` (:class:`OnlineSource`, :func:`online_source`: the ``online`` state source of
:mod:`frame_select_env.envs.sources`). See :mod:`.store` for the caching.
"""

from frame_select_env.pipeline.online.classifier import resolve_classifier
from frame_select_env.pipeline.online.open_store import materialize, open_online_store
from frame_select_env.pipeline.online.source import OnlineSource, online_source
from frame_select_env.pipeline.online.store import (
    DEFAULT_FLUSH_EVERY,
    DEFAULT_LRU_BYTES,
    OPTION_KEYS,
    OnlineStore,
)
from frame_select_env.pipeline.online.videos import VIDEO_SUFFIXES, resolve_videos

__all__ = [
    "DEFAULT_FLUSH_EVERY",
    "DEFAULT_LRU_BYTES",
    "OPTION_KEYS",
    "VIDEO_SUFFIXES",
    "OnlineSource",
    "OnlineStore",
    "materialize",
    "online_source",
    "open_online_store",
    "resolve_classifier",
    "resolve_videos",
]
