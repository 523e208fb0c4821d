"""The env's observation source in online mode: the ``online`` state source."""

from __future__ import annotations

import numpy as np

from frame_select_env.envs.observations import DEFAULT_MAX_MEMORY_BYTES, ObservationSource
from frame_select_env.envs.sources import EnvOptions, source_kwargs
from frame_select_env.pipeline.online.open_store import open_online_store


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


def online_source(options: EnvOptions) -> OnlineSource:
    """Online mode: the ``online`` state source (:data:`frame_select_env.envs.sources.SOURCES`).

    ``videos="builtin:<split>"`` fixes the split to ``<split>``; videos that carry no split get
    ``split`` (``test`` for ``None``). The options are the env's
    (:class:`~frame_select_env.envs.sources.EnvOptions`); see :func:`open_online_store` for the
    online ones.

    :param options: the env's options, with ``videos`` given.
    :return: an :class:`OnlineSource`.
    :raises ValueError: both ``store`` and ``videos``.
    """
    if options.store is not None:
        raise ValueError("give store= (a feature store) or videos= (online mode), not both")
    online, fixed = open_online_store(
        options.videos, "builtin" if options.classifier is None else options.classifier,
        device=options.device, flow=options.flow, views=options.views, cache=options.cache,
        skip_bad=options.skip_bad, default_split=options.split or "test",
        options=options.online_options,
    )
    kw = source_kwargs(options)
    kw["split"] = fixed or options.split
    kw.setdefault("max_memory_bytes", DEFAULT_MAX_MEMORY_BYTES)
    return OnlineSource(online, **kw)
