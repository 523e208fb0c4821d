"""Worker processes and threads: the one place every pool of the package is made.

Two rules, kept here so that every pool follows them:

* **A worker process dies with its parent.** A spawned worker blocks on a queue whose write end
  it holds itself, so it never sees the parent go; a ``kill -9`` of the parent used to leave
  the workers (and, through them, multiprocessing's resource tracker) alive indefinitely.
  :class:`DieWithParent` is the initializer of every process pool (``ProcessPoolExecutor``'s
  ``initializer=``, a ``DataLoader``'s ``worker_init_fn=``, chaining the pool's own
  initializer): on Linux it asks the kernel for ``SIGKILL`` when the parent goes
  (``prctl(PR_SET_PDEATHSIG)``), then checks ``os.getppid()`` against the parent it was made
  by, in case the parent died before ``prctl`` ran; elsewhere a daemon thread polls
  ``os.getppid()``. The resource tracker exits by itself once no process holds its pipe. The
  kernel sends the signal when the *thread* that started the worker ends, so pools are started
  from the thread that uses them (the ones here are).
* **Processes only where they can start.** A spawned child re-imports the main module; a script
  without ``if __name__ == "__main__":`` then re-runs its own code in the child, which dies with
  multiprocessing's "bootstrapping phase" error, and a daemonic process (an SB3
  ``SubprocVecEnv`` worker) may not have children at all. Code that must work as typed in any
  script, notebook or worker (the online env) uses :func:`thread_pool`: OpenCV releases the GIL
  while it decodes, resizes and computes flow, so threads run the decode work in parallel
  (``benchmarks/bench_online.py`` measures threads against processes). :func:`process_pool`
  refuses, in the parent and with a message that says why, where a process cannot be started
  (a pool started from the main script's top-level code outside the guard is named with the
  script's line), instead of starting workers that die with the reason on their own stderr.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

#: Linux ``prctl`` option: the signal this process gets when its parent (thread) exits
PR_SET_PDEATHSIG = 1
#: seconds between two ``os.getppid()`` checks where ``prctl`` is not available
POLL_SECONDS = 1.0


def _set_parent_death_signal(sig: int) -> bool:
    """Ask the Linux kernel for ``sig`` when the parent exits; False where that is impossible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):  # no libc / no prctl symbol: use the polling thread
        return False


def _poll_parent(parent_pid: int) -> None:
    """Exit this process as soon as ``parent_pid`` is no longer its parent (daemon thread)."""
    while os.getppid() == parent_pid:
        time.sleep(POLL_SECONDS)
    os._exit(1)


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Make this worker process exit when ``parent_pid``, its parent, dies.

    ``SIGKILL``: a worker holds nothing to clean up (the parent writes every result atomically),
    and it must not be able to ignore the signal.

    :param parent_pid: the pid of the process that started this worker
    :param sig: the signal the kernel sends on the parent's death (Linux)
    """
    watched = _set_parent_death_signal(sig)
    if os.getppid() != parent_pid:  # the parent died before the kernel was watching
        os._exit(1)
    if not watched:
        threading.Thread(target=_poll_parent, args=(parent_pid,), daemon=True,
                         name="die-with-parent").start()


class DieWithParent:
    """Picklable worker initializer: :func:`die_with_parent`, then the pool's own initializer.

    Made in the parent (it records the parent's pid). As ``ProcessPoolExecutor(initializer=
    DieWithParent(fn, args))`` it calls ``fn(*args)``; as ``DataLoader(worker_init_fn=
    DieWithParent(fn))`` it calls ``fn(worker_id)``.

    :param then: the initializer to chain, or None
    :param args: leading arguments of ``then``
    """

    def __init__(self, then: Callable[..., Any] | None = None, args: Sequence[Any] = ()) -> None:
        self.parent_pid = os.getpid()
        self.then, self.args = then, tuple(args)

    def __call__(self, *call_args: Any) -> None:
        """Run in the worker: watch the parent, then chain the initializer."""
        die_with_parent(self.parent_pid)
        if self.then is not None:
            self.then(*self.args, *call_args)


GUARD = 'if __name__ == "__main__":'


def _guarded_lines(path: str) -> list[tuple[int, int]] | None:
    """Line ranges of the top-level ``if`` blocks of ``path`` that test ``__name__``.

    :return: ``(first, last)`` per block, or ``None`` when the file cannot be read or parsed.
    """
    import ast

    try:
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None
    return [(node.lineno, node.end_lineno or node.lineno) for node in tree.body
            if isinstance(node, ast.If) and any(
                isinstance(n, ast.Name) and n.id == "__name__" for n in ast.walk(node.test))]


def main_guard_problem(started_here: bool = True) -> str | None:
    """Why spawned workers would die re-running the main script, or None.

    A spawned child imports the main script again (as ``__mp_main__``); code outside an
    ``if __name__ == "__main__":`` guard then runs once more in the child, reaches the pool
    again, and the child dies, with the reason only on its own stderr.

    :param started_here: the caller is about to start the workers: the main script's line
        that got here (its module-level frame on this call's stack) is told, when it is outside
        every ``__name__`` guard; ``False`` (the workers already died): the script has no such
        guard at all.
    :return: the reason, naming the script (and line), or ``None`` (a guarded script, a
        notebook, ``python -c``, a main module that is not a ``.py`` file).
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or not str(path).endswith(".py"):
        return None
    path = os.path.abspath(path)
    guarded = _guarded_lines(path)
    if guarded is None:
        return None
    if not started_here:
        return None if guarded else (f"the main script {path!r} has no `{GUARD}` guard, so "
                                     f"every spawned worker re-ran it and died (its error is "
                                     f"on the workers' stderr): put the script's code under "
                                     f"that guard")
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and not (
            frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__"
            and os.path.abspath(frame.f_code.co_filename) == path):
        frame = frame.f_back
    if frame is None:
        return None
    line = frame.f_lineno
    if any(first <= line <= last for first, last in guarded):
        return None
    return (f"the main script {path!r} starts them from its line {line}, outside an `{GUARD}` "
            f"guard, so every spawned worker would re-run the script and die there: put that "
            f"code under the guard")


def process_start_problem() -> str | None:
    """Why this process cannot start worker processes now, or None when it can."""
    me = mp.current_process()
    if getattr(me, "_inheriting", False):
        return ("this process is itself a spawned child still importing the main module (the "
                f"main script has no `{GUARD}` guard)")
    if me.daemon:
        return (f"this process ({me.name}) is daemonic, e.g. a Stable-Baselines3 SubprocVecEnv "
                "worker, and daemonic processes may not have children")
    return main_guard_problem()


def process_pool(max_workers: int, initializer: Callable[..., Any] | None = None,
                 initargs: Sequence[Any] = (), *, what: str = "worker pool") -> ProcessPoolExecutor:
    """A spawn ``ProcessPoolExecutor`` whose workers die with this process.

    Spawn, not fork: a fork after OpenCV's or torch's thread pools ran can deadlock the child.

    :param max_workers: worker processes
    :param initializer: the workers' own initializer (chained after :func:`die_with_parent`)
    :param initargs: its arguments
    :param what: names the pool in the error
    :raises RuntimeError: this process cannot start processes (:func:`process_start_problem`)
    """
    if problem := process_start_problem():
        raise RuntimeError(f"{what}: cannot start worker processes: {problem}; use threads "
                           f"(the default) or workers=0")
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=mp.get_context("spawn"),
                               initializer=DieWithParent(initializer, initargs))


def thread_pool(max_workers: int, name: str = "fse-worker") -> ThreadPoolExecutor:
    """A thread pool (works in any script, notebook or daemonic process; ends with it).

    :param max_workers: threads
    :param name: thread name prefix (shows in tracebacks and ``py-spy``)
    """
    return ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)

