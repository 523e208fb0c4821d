"""Atomic file writes (a file is its old version or its complete new one) and file digests.

Every checkpoint, log, table and figure of the project goes through :func:`atomic_path`: the
content is written to a temporary name in the same directory (same file system), then
``os.replace`` moves it into place in one step. An interruption leaves the old file untouched and
no temporary file behind. A temporary is named ``.NAME.<pid>.tmp.SUFFIX`` (feature stores:
``.NAME.h5.<pid>.tmp``); one that a killed process (SIGKILL, power loss) left behind is removed by
:func:`remove_stale_temporaries` when the next run writes the same target, which every writer
calls first. :func:`ensure_free_space` and :func:`reserve_space` make a writer that cannot
survive a full disk (HDF5) fail before it starts. :func:`sha256_file` is the one digest of a
file's bytes that checkpoints, stores and the built-in classifier are identified by.
"""

from __future__ import annotations

import csv
import ctypes
import errno
import hashlib
import io
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# ``.<target stem>.<pid>.tmp<target suffix>`` (atomic_path) and ``.<target name>.<pid>.tmp``
# (StoreWriter): in both the target's name is base + suffix.
_TEMP_NAME = re.compile(r"\.(?P<base>.+)\.(?P<pid>[0-9]{1,10})\.tmp(?P<suffix>(\.[^.]*)?)")
# Temporaries seen in a directory the first time this process wrote there, by target name:
# (pid, directory) -> {target name: [temporary names]}. Listing once per directory keeps the
# check cheap for folders of 100k parts; a temporary made later belongs to a live process anyway.
_TEMPS_SEEN: dict[tuple[int, str], dict[str, list[str]]] = {}


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts as alive)."""
    if pid == os.getpid():
        return True  # this process: the temporary may be in use by another thread
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or a number no pid can be: leave it
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``path`` whose writing process no longer exists.

    A SIGKILL skips every cleanup, so a killed writer leaves its ``.NAME.<pid>.tmp...`` file;
    the next run of the same job calls this when it starts writing the same target. Only
    temporaries of this target whose pid is not a live process on this machine are touched, so
    the shards of a job sharing a folder never remove each other's files.

    :param path: the target file.
    :return: the removed temporaries.
    """
    path = Path(path)
    key = (os.getpid(), os.path.abspath(path.parent))
    seen = _TEMPS_SEEN.get(key)
    if seen is None:
        seen = {}
        try:
            names = [e.name for e in os.scandir(path.parent) if e.name.startswith(".")]
        except OSError:  # no folder yet: nothing stale in it
            names = []
        for name in names:
            m = _TEMP_NAME.fullmatch(name)
            if m is not None:
                seen.setdefault(m["base"] + m["suffix"], []).append(name)
        _TEMPS_SEEN[key] = seen
    removed = []
    for name in seen.pop(path.name, []):
        m = _TEMP_NAME.fullmatch(name)
        assert m is not None
        if int(m["pid"]) > 0 and not _pid_alive(int(m["pid"])):
            (path.parent / name).unlink(missing_ok=True)
            removed.append(path.parent / name)
    return removed


def no_space_error(path: str | os.PathLike, detail: str) -> OSError:
    """An ``OSError`` with ``errno.ENOSPC`` naming ``path`` (the one form of a full-disk error).

    :param path: the file that could not be written.
    :param detail: what was needed, or the underlying error.
    """
    # str() of it reads "[Errno 28] No space left on device (detail): 'path'"
    return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({detail})", os.fspath(path))


def is_no_space(err: BaseException) -> bool:
    """Whether an error is a full disk (an ``OSError`` ENOSPC, or HDF5's message of one)."""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return True
    text = str(err)
    return "errno = 28" in text or "No space left on device" in text


_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 1, 2


def _fallocate(fd: int, mode: int, offset: int, length: int) -> int:
    """Linux ``fallocate(2)``: 0, or the errno (ENOTSUP where the call or file system lacks it)."""
    try:
        call = ctypes.CDLL(None, use_errno=True).fallocate
    except (AttributeError, OSError):
        return errno.ENOTSUP
    call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    call.restype = ctypes.c_int
    return 0 if call(fd, mode, offset, length) == 0 else ctypes.get_errno()


def ensure_free_space(directory: str | os.PathLike, nbytes: int,
                      shown: str | os.PathLike) -> None:
    """Raise ``OSError`` (``ENOSPC``) naming ``shown`` unless ``nbytes`` are free in ``directory``.

    :param directory: where the file will be written.
    :param nbytes: its estimated size.
    :param shown: the file, for the message.
    """
    free = shutil.disk_usage(directory).free
    if free < nbytes:
        raise no_space_error(shown, f"needs about {nbytes / 2**20:.2f} MiB, "
                                    f"{free / 2**20:.2f} MiB free")


def reserve_space(path: str | os.PathLike, nbytes: int, shown: str | os.PathLike | None = None
                  ) -> bool:
    """Allocate the first ``nbytes`` of a file's blocks now, where the file system can.

    HDF5 cannot fail cleanly on a full disk (h5py 3.16 / HDF5 2.0 segfault while closing the
    file), so a store writer reserves the blocks of its estimated size before HDF5 writes:
    the file's size stays as it is (``FALLOC_FL_KEEP_SIZE``) while HDF5's later writes land in
    blocks the file already owns. Where ``fallocate`` is missing (not Linux, or a file system
    without it) nothing is reserved and only :func:`ensure_free_space` guards the writer.

    :param path: an existing file (the writer's temporary).
    :param nbytes: bytes to reserve from offset 0.
    :param shown: the name for the error (the final path); default ``path``.
    :return: whether the blocks were reserved (then :func:`release_reserved` after writing).
    :raises OSError: ``ENOSPC`` naming ``shown`` when the space is not there.
    """
    shown = path if shown is None else shown
    fd = os.open(path, os.O_RDWR)
    try:
        code = _fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, nbytes)
    finally:
        os.close(fd)
    if code == errno.ENOSPC:
        raise no_space_error(shown, f"could not reserve {nbytes / 2**20:.2f} MiB")
    return code == 0


def release_reserved(path: str | os.PathLike) -> None:
    """Give back the blocks :func:`reserve_space` reserved past the end of a finished file."""
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        # free the blocks past the end; shrinking from one byte more does it where punching
        # holes is not supported (a truncate to the same size frees nothing on tmpfs)
        if _fallocate(fd, _FALLOC_FL_KEEP_SIZE | _FALLOC_FL_PUNCH_HOLE, size, 1 << 62) != 0:
            os.ftruncate(fd, size + 1)
            os.ftruncate(fd, size)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed.

    The temporary name keeps the suffix of ``path`` (some writers, e.g. matplotlib and SB3,
    choose the format from it). Temporaries of ``path`` left by killed processes are removed
    first; a full disk raises ``OSError`` (``ENOSPC``) naming ``path``.

    :param path: the final file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        if err.errno == errno.ENOSPC and not err.filename:  # a bare write error names no file
            raise no_space_error(path, str(err)) from err
        raise
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_failures(out: str | os.PathLike, failures: Sequence[tuple[str, str]]) -> Path:
    """List the inputs that failed beside a store: ``<out>.failures.txt``, ``path<TAB>reason``.

    Written atomically; with no failures an old list is removed (a rerun that read them all).

    :param out: the store the list belongs to.
    :param failures: ``(path, reason)`` pairs.
    :return: the list's path (it exists only when there were failures).
    """
    path = Path(f"{out}.failures.txt")
    if failures:
        atomic_write_text(path, "".join(f"{p}\t{why}\n" for p, why in failures))
    else:
        path.unlink(missing_ok=True)
    return path


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
