"""Atomic file writes: a file is either its old version or its complete new one, never half.

Every checkpoint, log, table and figure of the project goes through :func:`atomic_path`: the
content is written to a temporary name in the same directory (same file system), then
``os.replace`` moves it into place in one step. An interruption leaves the old file untouched and
no temporary file behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed.

    The temporary name keeps the suffix of ``path`` (some writers, e.g. matplotlib and SB3,
    choose the format from it).

    :param path: the final file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` atomically (checkpoints survive a kill at any moment)."""
    import torch

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        # A file object, not the path: torch.save names the zip records after a path's stem,
        # which here holds the pid, so the same checkpoint would get different bytes each run.
        torch.save(obj, f)
    return Path(path)


def atomic_savefig(fig: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kwargs)
    plt.close(fig)
    return Path(path)
