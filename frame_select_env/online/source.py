"""The env's observation source in online mode, and the choice between store and online mode."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from frame_select_env.observations import ObservationSource
from frame_select_env.online.store import open_online_store


class OnlineSource(ObservationSource):
    """:class:`ObservationSource` over an :class:`OnlineStore`: batched, lazily computed.

    ``max_memory_bytes`` is the budget of store mode's in-memory gather, taken as soon as every
    video of the split has states (at once for a full cache).
    """

    def __post_init__(self) -> None:
        budget = self.max_memory_bytes
        self.max_memory_bytes = 0  # nothing is computed while the env is being built
        super().__post_init__()
        self.max_memory_bytes = budget
        self._maybe_in_memory()

    def _maybe_in_memory(self) -> None:
        store = self.store
        used = dict.fromkeys(list(self.streams) + list(getattr(self, "predict_streams", [])))
        split_bytes = sum(store.nbytes(s) for s in used) * len(self.rows) // len(store)
        if split_bytes * 2 <= self.max_memory_bytes and store.is_ready(self.rows):
            self._cache = self._read(self.rows)
            self.in_memory = True

    def gather(self, idx: np.ndarray, views: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """As :meth:`ObservationSource.gather`, computing the whole batch's videos at once."""
        if not self.in_memory:
            before = self.store.num_computed
            self.store.ensure(self.rows[np.asarray(idx)])  # the whole batch at once
            if self.store.num_computed != before:
                self._maybe_in_memory()
        return super().gather(idx, views)

    def close(self) -> None:
        """Close the online store (folds the cache, stops the workers, closes the cache file)."""
        self.store.close()

    def summary(self) -> str:
        """The store mode's summary, plus the cache."""
        return super().summary() + f" online cache={self.store.cache}"


def make_source(
    store: Any,
    split: str | None,
    stream: str,
    num_frames: int | None,
    state: str,
    view: str | int,
    max_memory_bytes: int | None = None,
    *,
    videos: Any = None,
    classifier: Any = None,
    device: str = "auto",
    flow: str | None = None,
    views: int | None = None,
    cache: str | os.PathLike | None = None,
    skip_bad: bool = False,
    online_options: Mapping[str, Any] | None = None,
    **source_kw: Any,
) -> ObservationSource:
    """The env's observation source: store mode, or online mode when ``videos`` is given.

    ``videos="builtin:<split>"`` fixes the split to ``<split>``; videos that carry no split get
    ``split`` (``test`` for ``None``). Parameters: see the env and :func:`open_online_store`;
    ``source_kw`` go to the :class:`ObservationSource` either way.

    :return: an :class:`ObservationSource`, or an :class:`OnlineSource` in online mode.
    :raises ValueError: online-only arguments without ``videos``, or both ``store`` and
        ``videos``.
    """
    from frame_select_env.observations import DEFAULT_MAX_MEMORY_BYTES

    kw: dict[str, Any] = {} if max_memory_bytes is None else {"max_memory_bytes": max_memory_bytes}
    kw.update(source_kw)
    if videos is None:
        given = {"classifier": classifier, "cache": cache, "flow": flow, "views": views,
                 "online_options": online_options, "skip_bad": skip_bad or None}
        if used := [k for k, v in given.items() if v is not None]:
            raise ValueError(f"{', '.join(used)} only apply to online mode: pass videos=LIST, "
                             f"a folder, or 'builtin:test'")
        from frame_select_env.builtin import store_or_builtin

        return ObservationSource(store_or_builtin(store), split, stream, num_frames, state, view,
                                 **kw)
    if store is not None:
        raise ValueError("give store= (a feature store) or videos= (online mode), not both")
    online, fixed = open_online_store(
        videos, "builtin" if classifier is None else classifier, device=device, flow=flow,
        views=views, cache=cache, skip_bad=skip_bad, default_split=split or "test",
        options=online_options,
    )
    kw.setdefault("max_memory_bytes", DEFAULT_MAX_MEMORY_BYTES)
    return OnlineSource(online, fixed or split, stream, num_frames, state, view, **kw)
