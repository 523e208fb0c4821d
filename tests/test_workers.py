"""Worker lifecycle: workers die with their parent, pools are rebuilt, close() shuts everything.

The online env decodes in threads by default, so it works as typed in a script without a
``__main__`` guard; its ``pool="process"`` workers, the extractor's DataLoader workers and the
other process pools die with their parent (``frame_select_env.pipeline.workers``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import frame_select_env  # noqa: F401  (registers the env)
from frame_select_env.pipeline.datasets.sparse_actions import builtin_videos
from frame_select_env.store.builtin import PACKAGED_STORE

ROOT = Path(__file__).resolve().parents[1]
SPEC = "builtin:test:2"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
#: bound of every wait for processes to go (never reached when they do)
WAIT_S = 90.0


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workers_videos")
    builtin_videos("test", root, workers=1, limit=2)
    return root


def _online(videos: Path, **options: object) -> dict:
    return dict(videos=SPEC, classifier="builtin", device="cpu", split="test", view="center",
                views=1, online_options={"video_root": videos, **options})


def _state(pid: int) -> str | None:
    """The /proc state letter of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0]
    except OSError:
        return None


def _alive(pid: int) -> bool:
    # a zombie has exited: only a reaper that never reaps (PID 1 of a container) keeps it
    return _state(pid) not in (None, "Z", "X")


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (scanning /proc for parent links)."""
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    parent[int(name)] = int(fh.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier]
        out += kids
        frontier = kids
    return sorted(p for p in out if _alive(p))


def _wait_gone(pids: list[int]) -> list[int]:
    """Wait (bounded) until every pid has exited; the ones still alive."""
    deadline = time.monotonic() + WAIT_S
    while (left := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _kill_all(pids: list[int]) -> None:
    """Clean up after a failing test: the processes this test started."""
    for p in pids:
        if _alive(p):
            os.kill(p, signal.SIGKILL)


needs_proc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

ONLINE_SCRIPT = textwrap.dedent("""
    import sys

    import gymnasium as gym

    import frame_select_env  # noqa: F401


    def main() -> None:
        env = gym.make_vec("FrameSelection-v0", num_envs=2, videos="builtin:test:2",
                           classifier="builtin", device="cpu", split="test", view="center",
                           views=1, online_options={"video_root": sys.argv[1], "workers": 1,
                                                    "pool": "process"})
        env.reset(options={"indices": [0, 1]})
        store = env.unwrapped.source.store
        print("READY", " ".join(map(str, store.worker_pids())), flush=True)
        sys.stdin.read()  # until killed


    if __name__ == "__main__":
        main()
""")


@needs_proc
def test_killed_online_script_leaves_no_process(videos: Path, tmp_path: Path) -> None:
    """The online env's worker processes (``pool="process"``; the default, threads, has none:
    see :func:`test_plain_script_without_main_guard`) and the resource tracker."""
    script = tmp_path / "online.py"
    script.write_text(ONLINE_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(videos)], env=ENV,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    started: list[int] = []
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY"), proc.communicate(timeout=60)[1][-3000:]
        workers = [int(p) for p in line.split()[1:]]
        started = _descendants(proc.pid)  # the worker and multiprocessing's resource tracker
        assert len(workers) == 1 and set(workers) < set(started), (workers, started)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert _wait_gone(started) == [], f"left behind after SIGKILL: {started}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill_all(started)


@needs_proc
def test_killed_extraction_leaves_no_worker(videos: Path, tmp_path: Path) -> None:
    """``extract_features.py --workers 2`` killed while its workers start up (the worst case:
    torch's own watchdog would take the reaper for its parent)."""
    listed = tmp_path / "videos.txt"
    listed.write_text("".join(f"{p.relative_to(videos)} 0 test\n"
                              for p in sorted(videos.rglob("*.avi"))))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "extract_features.py"), "--list", str(listed),
         "--root", str(videos), "--out", str(tmp_path / "x.h5"), "--classifier", "builtin",
         "--device", "cpu", "--workers", "2", "--no-progress"],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + WAIT_S
        # kill as soon as both DataLoader workers exist (still importing, before their loop)
        while len([p for p in seen if _is_spawned(p)]) < 2:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the DataLoader workers never started"
            seen.update(_descendants(proc.pid))
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert _wait_gone(sorted(seen)) == [], f"left behind after SIGKILL: {sorted(seen)}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill_all(sorted(seen))


def _is_spawned(pid: int) -> bool:
    """Whether ``pid`` is a multiprocessing spawn child (not the resource tracker)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"spawn_main" in fh.read()
    except OSError:
        return False


PLAIN_SCRIPT = textwrap.dedent("""
    # the README's online snippet as typed into a file: no `if __name__ == "__main__":`
    import multiprocessing
    import sys

    import gymnasium as gym

    import frame_select_env  # noqa: F401

    videos = sys.argv[1]
    kw = dict(videos="builtin:test:2", classifier="builtin", device="cpu", views=1,
              online_options={"video_root": videos})
    env = gym.make("FrameSelection-v0", **kw)
    obs, info = env.reset(options={"index": 1})
    obs, reward, *_ = env.step(env.action_space.sample())
    env.close()
    envs = gym.make_vec("FrameSelection-v0", num_envs=2, **kw)
    envs.reset(seed=0, options={"indices": [0, 1]})
    rewards = envs.step(envs.action_space.sample())[1]
    children = multiprocessing.active_children()  # decoding in threads: no process to orphan
    envs.close()
    print("finished", info["video_id"], len(rewards), len(children))
""")


def test_plain_script_without_main_guard(tmp_path: Path) -> None:
    script = tmp_path / "plain.py"
    script.write_text(PLAIN_SCRIPT)
    fresh = tmp_path / "videos"  # empty: the script generates the builtin videos too
    proc = subprocess.run([sys.executable, str(script), str(fresh)], env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "bootstrapping" not in proc.stderr and "BrokenProcessPool" not in proc.stderr
    words = proc.stdout.split()
    assert words[0] == "finished" and words[2:] == ["2", "0"], proc.stdout
    assert len(list(fresh.rglob("*.avi"))) == 2


class _KillsItsWorker:
    """A job whose unpickling in the worker exits the worker (stands in for a decoder crash)."""

    def __reduce__(self) -> tuple:
        return os._exit, (3,)

    def __call__(self, *args: object) -> None:  # pragma: no cover - runs in no process
        raise AssertionError("a job runs in a worker")


def test_dead_worker_pool_is_rebuilt_and_close_shuts_it(videos: Path) -> None:
    from frame_select_env.pipeline.online import open_online_store

    envs = gym.make_vec("FrameSelection-v0", num_envs=1,
                        **_online(videos, workers=1, pool="process"))
    store = envs.unwrapped.source.store
    envs.reset(options={"indices": [0]})
    (worker,) = store.worker_pids()
    os.kill(worker, signal.SIGKILL)
    assert _wait_gone([worker]) == []
    # the next video needs a worker: the pool is rebuilt instead of raising BrokenProcessPool
    obs, _ = envs.reset(options={"indices": [1]})
    (new,) = store.worker_pids()
    assert new != worker
    ref, _ = open_online_store(SPEC, "builtin", device="cpu", views=1,
                               options={"video_root": videos, "workers": 0})
    np.testing.assert_array_equal(store.ensure([1])[1]["rgb_features"],
                                  ref.ensure([1])[1]["rgb_features"])
    envs.close()
    assert _wait_gone([new]) == [] and store.worker_pids() == []
    envs.close()  # twice is fine
    ref.close()


def test_worker_dying_twice_names_the_video(videos: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import frame_select_env.pipeline.online.store as online_store

    env = gym.make("FrameSelection-v0", **_online(videos, workers=1, pool="process"))
    monkeypatch.setattr(online_store, "prepare_item", _KillsItsWorker())
    video = env.unwrapped.source.store.records[0].path
    with pytest.raises(RuntimeError, match=rf"died twice while preparing .*{video}"):
        env.reset(options={"index": 0})
    env.close()


def test_close_shuts_threads_and_files(videos: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.h5"
    env = gym.make("FrameSelection-v0", cache=cache, **_online(videos, workers=2))
    store = env.unwrapped.source.store
    env.reset(options={"index": 0})  # one video: computed, saved as a part
    decoding = [t for t in threading.enumerate() if t.name.startswith("fse-online-decode")]
    assert decoding and store._new_parts
    env.close()
    assert not any(t.is_alive() for t in decoding)
    assert not store._new_parts and cache.is_file()  # folded into the cache store
    assert store._cached_store is not None and store._cached_store._file is None
    env.close()  # twice is fine

    for make in (lambda: gym.make("FrameSelection-v0", store=PACKAGED_STORE, split="test",
                                  max_memory_bytes=0),
                 lambda: gym.make_vec("FrameSelection-v0", num_envs=2, store=PACKAGED_STORE,
                                      split="test", max_memory_bytes=0)):
        e = make()
        e.reset(seed=0)  # read from the HDF5 file (not held in memory)
        fs = e.unwrapped.source.store
        assert fs._file is not None
        e.close()
        assert fs._file is None  # the HDF5 file is closed
        e.close()


def _online_in_this_process(videos: str) -> tuple[str | None, tuple[int, ...], float]:
    """In a daemonic worker: the error of a process pool, and one online episode."""
    from frame_select_env.pipeline.workers import process_pool

    try:
        process_pool(1, what="test pool").shutdown()
        refused = None
    except RuntimeError as e:
        refused = str(e)
    env = gym.make("FrameSelection-v0", **_online(Path(videos), workers=2))
    obs, _ = env.reset(options={"index": 0})
    reward = env.step(np.ones(env.unwrapped.num_frames, np.int8))[1]
    env.close()
    return refused, obs["features"].shape, float(reward)


def test_online_env_in_a_daemonic_process(videos: Path) -> None:
    """As in an SB3 ``SubprocVecEnv`` worker: threads decode; a process pool is refused."""
    import multiprocessing as mp

    from frame_select_env.pipeline.workers import process_pool, process_start_problem

    assert process_start_problem() is None
    with mp.get_context("spawn").Pool(1) as pool:  # pool workers are daemonic, as SB3's are
        refused, shape, reward = pool.apply(_online_in_this_process, (str(videos),))
    assert refused is not None and refused.startswith("test pool: cannot start worker processes")
    assert "daemonic" in refused
    assert shape[0] == 25 and reward in (-10.0, -1.0, 0.0, 1.0, 10.0)
    process_pool(1).shutdown()  # here (not daemonic) a pool starts
