"""The HDF5 feature store: what the frozen two-stream classifier says about every sampled frame.

Schema (version 1)::

    /                         attrs: schema_version=1, num_frames=T, streams=JSON list,
                                     metadata=JSON (extractor and classifier config, ...)
    /classes                  (C,)        utf-8 class names
    /videos/id                (N,)        utf-8 video ids (unique)
    /videos/label             (N,)        int64 in [0, C)
    /videos/split             (N,)        utf-8 in {"train", "val", "test"}
    /videos/written           (N,)        bool, every row True in a finished store
    /streams/<s>/features     (N, T, V, D) float16 or float32, chunked one view of one video
                                          per chunk (1, T, 1, D); stores written before are
                                          chunked one video per chunk (1, T, V, D)
    /streams/<s>/logits       (N, T, V, C) same dtype and chunking
    /relevance                (N, T)      uint8, optional: 1 where a sampled frame shows the action
                                          (ground truth, for analysis only; never given to agents)

``<s>`` is a stream name (``rgb``, ``flow``, ...); V is the number of views (crops) and may
differ per stream; D may differ per stream; C is shared.

Observe-only streams (root attribute ``observe_only_streams``, a JSON list, optional): groups
``/streams/<s>`` of the same layout that are not in ``streams``, so not in the two-stream fusion
(``stream="fused"``): a cheap preview an agent observes before it pays for the others
(``observe="preview"``). A reader that does not know the attribute sees the same store as
before.

Writers (:class:`StoreWriter`, :func:`write_store`) build the file under a temporary name in the
same directory and rename it into place only after validation, so an interrupted write never
leaves a half-written store at the final path. :class:`FeatureStore` opens the file lazily (an
open h5py handle cannot be pickled, and vector envs live in other processes).
"""

from __future__ import annotations

import os

import h5py

from frame_select_env.core.config import UserError

SCHEMA_VERSION = 1
#: root attribute listing the observe-only streams (JSON), absent when there are none
OBSERVE_ONLY_ATTR = "observe_only_streams"
#: chunk layouts of the big arrays (:class:`StoreWriter`'s ``layout``)
LAYOUTS = ("view", "video")
_STR = h5py.string_dtype("utf-8")
# The value scan reads blocks of whole chunks of about this size, so that huge stores never sit
# in RAM.
_SCAN_BYTES = 32 << 20
# What a full disk HDF5 reported is called (its own message is a page of driver detail).
_HDF5_FULL = "the disk filled while HDF5 wrote the store; it was estimated to fit"


class StoreError(UserError):
    """A feature store is missing, malformed or inconsistent. The message names the file."""


def _fail(path: str | os.PathLike, msg: str) -> StoreError:
    return StoreError(f"feature store {os.fspath(path)!r}: {msg}")
