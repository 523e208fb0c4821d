"""Atomic file writes (a file is its old version or its complete new one) and file digests.

Every checkpoint, log, table and figure of the project goes through :func:`atomic_path`: the
content is written to a temporary name in the same directory (same file system), then
``os.replace`` moves it into place in one step. An interruption leaves the old file untouched and
no temporary file behind. :func:`sha256_file` is the one digest of a file's bytes that
checkpoints, stores and the built-in classifier are identified by.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


def atomic_write_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]],
                     columns: Sequence[str], float_format: str | None = None,
                     extra_keys: str = "raise") -> Path:
    """Write dict rows as CSV (the one CSV writer of the project), atomically.

    :param path: the file.
    :param rows: the rows; a key a row lacks is an empty cell.
    :param columns: the columns, in order.
    :param float_format: a format spec for float cells (``".4f"``); ``None`` writes ``str(v)``.
    :param extra_keys: ``"raise"`` (a key outside ``columns`` is an error) or ``"ignore"``.
    :return: ``path``.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction=extra_keys)  # type: ignore[arg-type]  # a Literal at the call sites
    writer.writeheader()
    for row in rows:
        if float_format is not None:
            row = {k: (format(v, float_format) if isinstance(v, float) else v)
                   for k, v in row.items()}
        writer.writerow(row)
    return atomic_write_text(path, buf.getvalue())


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


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 hex digest of a file's bytes, read in 1 MiB blocks.

    :param path: the file.
    :return: the 64-character lowercase hex digest.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
