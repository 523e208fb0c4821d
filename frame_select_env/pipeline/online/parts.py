"""What folding the cache's part files needs: a lock beside the cache, a store row as a part."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from frame_select_env.store import FeatureStore


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside the cache, so two processes never fold parts at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _StoreRow(Mapping):
    """One row of a store as a read-on-demand part (folding never loads a whole store)."""

    def __init__(self, store: FeatureStore, row: int) -> None:
        self.store, self.row = store, row

    def __getitem__(self, key: str) -> np.ndarray:
        if key == "relevance":
            rel = self.store.relevance(self.row)
            if rel is None:
                raise KeyError(key)
            return rel
        stream, _, what = key.partition("_")
        return self.store.features(stream, self.row) if what == "features" else (
            self.store.logits(stream, self.row))

    def __iter__(self) -> Iterator[str]:
        keys = [f"{s}_{k}" for s in self.store.streams for k in ("features", "logits")]
        return iter(keys + (["relevance"] if self.store.has_relevance else []))

    def __len__(self) -> int:
        return len(list(iter(self)))
