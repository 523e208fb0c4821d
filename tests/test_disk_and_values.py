"""Full disks, temporaries of killed writers, and NaN/inf in feature stores (issue 18, 3-4).

The full-disk tests mount a small tmpfs (they need root, as on the test machines, and are
skipped with the reason otherwise). The writers run in a subprocess where HDF5 used to crash
(segfault, rc 139) so that a regression fails the test instead of killing the test session.
"""

from __future__ import annotations

import errno
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import gymnasium as gym
import h5py
import numpy as np
import pytest

import frame_select_env  # noqa: F401  (registers the env)
from frame_select_env.pipeline.datasets.lists import VideoRecord
from frame_select_env.pipeline.extract import ExtractConfig, _part_path, _save_part, part_key
from frame_select_env.store import FeatureStore, StoreError, validate_store
from frame_select_env.store import reader as store_module
from frame_select_env.store.atomic import atomic_torch_save
from frame_select_env.store.synthetic import make_synthetic_store
from frame_select_env.store.writer import StoreWriter, write_store

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------------------- full disks


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``mount(size)``: a tmpfs of that size (``remount`` again to resize it)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = []

    def mount(size: str) -> Path:
        opts = f"size={size}" + (",remount" if mounted else "")
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs for the full-disk test: {res.stderr.strip()}")
        mounted.append(size)
        return mnt

    yield mount
    if mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


CLASSES = ["a", "b", "c"]
CFG = ExtractConfig(num_frames=4, num_views=1, dtype="float16")


def _records(n: int) -> list[VideoRecord]:
    return [VideoRecord(f"v{i}.mp4", i % 3, "test") for i in range(n)]


def _make_parts(out: Path, n: int) -> Path:
    """Finished part files of ``n`` videos, as an extraction killed before assembly leaves."""
    parts = Path(f"{out}.parts")
    parts.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, rec in enumerate(_records(n)):
        arrays = {f"{s}_{k}": rng.normal(size=(4, 1, w)).astype(np.float16)
                  for s in ("rgb", "flow") for k, w in (("features", 8), ("logits", 3))}
        arrays.update(rgb_idx=np.arange(4), flow_idx=np.arange(4), num_frames=np.int64(40))
        _save_part(_part_path(parts, i, part_key(rec, CFG, "")), arrays)
    return parts


ASSEMBLE = textwrap.dedent("""
    import errno, sys
    sys.path.insert(0, sys.argv[3])
    from tests.test_disk_and_values import CFG, CLASSES, _records
    from frame_select_env.pipeline.extract import extract_features

    try:  # every part is done: this only assembles the store
        res = extract_features(_records(int(sys.argv[2])), "/nonexistent", sys.argv[1], None,
                               CLASSES, CFG, progress=False)
    except OSError as err:
        print("ENOSPC" if err.errno == errno.ENOSPC else "errno", err.filename, "|", err)
        sys.exit(3)
    print("stored", res.num_done)
""")


def test_extract_assembly_on_a_full_disk_raises_enospc_and_keeps_the_parts(small_disk,
                                                                          tmp_path) -> None:
    disk = small_disk("16k")  # 4 pages: the 3 parts take 3, the store (~25 KiB) cannot fit
    out = disk / "feats.h5"
    parts = _make_parts(out, 3)
    before = {p.name: p.read_bytes() for p in parts.iterdir()}
    script = tmp_path / "assemble.py"
    script.write_text(ASSEMBLE)
    for _ in range(2):  # a rerun on the still-full disk neither crashes nor piles up temporaries
        res = subprocess.run([sys.executable, str(script), str(out), "3", str(ROOT)], env=ENV,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 3, (res.returncode, res.stdout, res.stderr[-2000:])
        assert res.stdout.startswith(f"ENOSPC {out} |"), res.stdout
        assert "No space left on device" in res.stdout and str(out) in res.stdout
        assert _hidden(disk) == [] and not out.exists()  # no temporary, no half store
        assert {p.name: p.read_bytes() for p in parts.iterdir()} == before  # parts kept
    small_disk("4m")  # room again: the kept parts make the store
    res = subprocess.run([sys.executable, str(script), str(out), "3", str(ROOT)], env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "stored 3" in res.stdout, res.stderr[-2000:]
    assert validate_store(out)["num_videos"] == 3


def test_online_cache_fold_on_a_full_disk_raises_enospc_and_keeps_the_parts(small_disk,
                                                                           tmp_path) -> None:
    from frame_select_env.pipeline.online import open_online_store

    videos = tmp_path / "videos"
    opts = {"video_root": videos, "workers": 0}
    ref, _ = open_online_store("builtin:test:1", "builtin", device="cpu", views=1, options=opts)
    disk = small_disk("8k")  # 2 pages: the part takes 1, the cache store (~25 KiB) cannot fit
    cache = disk / "cache.h5"
    # the part a run left for its one video (states made up: folding never looks at values)
    ref.cache = cache
    ref._save(0, {f"{s}_{k}": np.ones((ref.num_frames, 1, w), np.float16)
                  for s in ("rgb", "flow")
                  for k, w in (("features", ref.feature_dim(s)), ("logits", ref.num_classes))})
    ref.cache = None
    part = next(Path(f"{cache}.parts").glob("*.npz"))
    data = part.read_bytes()
    with pytest.raises(OSError) as err:  # the next run folds the parts it finds, at open
        open_online_store("builtin:test:1", "builtin", device="cpu", views=1, cache=cache,
                          options=opts)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(cache)
    assert str(cache) in str(err.value)
    assert _hidden(disk) == [] and not cache.exists()
    assert part.read_bytes() == data
    small_disk("4m")
    store, _ = open_online_store("builtin:test:1", "builtin", device="cpu", views=1,
                                 cache=cache, options=opts)
    store.close()
    folded = FeatureStore(cache)
    assert list(folded.video_ids) == list(ref.video_ids) and not part.exists()
    np.testing.assert_array_equal(folded.logits("rgb", 0), np.ones((ref.num_frames, 1, 10)))


FILL_DURING_WRITE = textwrap.dedent("""
    import sys
    import numpy as np
    from pathlib import Path
    from frame_select_env.store import StoreWriter, validate_store

    disk = Path(sys.argv[1])
    n = 60
    rng = np.random.default_rng(0)
    with StoreWriter(disk / "s.h5", n, 8, {"rgb": (1, 64)}, ["a", "b", "c", "d"]) as w:
        # another program fills the disk after the writer started
        with open(disk / "filler", "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"x" * 4096)
            except OSError:
                pass
        for i in range(n):
            w.write(i, video_id=f"v{i}", label=i % 4, split="train",
                    features={"rgb": rng.normal(size=(8, 1, 64))},
                    logits={"rgb": rng.normal(size=(8, 1, 4))})
    print("videos", validate_store(disk / "s.h5")["num_videos"])
""")


def test_store_writer_survives_the_disk_filling_while_it_writes(small_disk, tmp_path) -> None:
    # the space is reserved when the writer starts, so HDF5 never meets the full disk
    disk = small_disk("1m")
    script = tmp_path / "fill.py"
    script.write_text(FILL_DURING_WRITE)
    res = subprocess.run([sys.executable, str(script), str(disk)], env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    assert "videos 60" in res.stdout
    assert _hidden(disk) == []
    # what was reserved beyond the file's end went back: the filler can grow again
    with open(disk / "filler", "ab") as fh:
        fh.write(b"x" * 4096)


def test_atomic_write_on_a_full_disk_names_the_file(small_disk) -> None:
    from frame_select_env.store.atomic import atomic_write_text

    disk = small_disk("8k")
    with pytest.raises(OSError) as err:
        atomic_write_text(disk / "table.md", "x" * 100_000)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(disk / "table.md")
    assert os.listdir(disk) == []  # the temporary went with the error


def test_size_estimate_bounds_the_written_store(tmp_path) -> None:
    rng = np.random.default_rng(0)
    for n, t, streams, rel, idlen in ((1, 1, {"rgb": (1, 1)}, False, 1),
                                      (300, 5, {"rgb": (1, 4), "flow": (3, 8)}, True, 200)):
        writer = StoreWriter(tmp_path / "s.h5", n, t, streams, CLASSES, with_relevance=rel)
        with writer as w:
            for i in range(n):  # row by row, as extraction writes (the larger file)
                w.write(i, video_id="v" * idlen + str(i), label=0, split="test",
                        features={s: rng.normal(size=(t, v, d)) for s, (v, d) in streams.items()},
                        logits={s: rng.normal(size=(t, v, 3)) for s, (v, d) in streams.items()},
                        relevance=np.ones(t) if rel else None)
        size = (tmp_path / "s.h5").stat().st_size
        assert size < writer.estimated_bytes() < 2 * size + (128 << 10), (n, size)


# ----------------------------------------------------------------------------- stale temporaries


HOLD_OPEN = textwrap.dedent("""
    import sys, time
    from contextlib import ExitStack
    from pathlib import Path
    import numpy as np
    from frame_select_env.store.atomic import atomic_path
    from frame_select_env.store import StoreWriter

    out = Path(sys.argv[1])
    with ExitStack() as stack:
        for name in ("checkpoint_rgb_0.pt", "agent.pt"):
            stack.enter_context(atomic_path(out / name)).write_bytes(b"half a checkpoint")
        w = stack.enter_context(StoreWriter(out / "s.h5", 2, 4, {"rgb": (1, 3)}, ["a", "b"]))
        w.write(0, video_id="x", label=0, split="train", features={"rgb": np.zeros((4, 1, 3))},
                logits={"rgb": np.zeros((4, 1, 2))})
        print("writing", flush=True)
        time.sleep(120)
""")


def test_temporaries_of_a_killed_run_are_removed_by_the_next_run(tmp_path) -> None:
    from frame_select_env.store.atomic import remove_stale_temporaries

    out = tmp_path / "run"
    out.mkdir()
    script = tmp_path / "hold.py"
    script.write_text(HOLD_OPEN)
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "writing", proc.stderr.read()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pid = proc.pid
    left = {f".checkpoint_rgb_0.{pid}.tmp.pt", f".agent.{pid}.tmp.pt", f".s.h5.{pid}.tmp"}
    assert set(_hidden(out)) == left  # SIGKILL skips every cleanup
    # kept: another job's temporary (the shards of a job share folders), and one whose
    # writer is still alive (this test's parent process)
    keep = {f".other.{pid}.tmp.pt", f".agent.{os.getppid()}.tmp.pt"}
    for name in keep:
        (out / name).write_bytes(b"")

    # the next run writes the same targets
    atomic_torch_save({"epoch": 1}, out / "checkpoint_rgb_0.pt")
    atomic_torch_save({"epoch": 1}, out / "agent.pt")
    with StoreWriter(out / "s.h5", 1, 4, {"rgb": (1, 3)}, ["a", "b"]) as w:
        w.write(0, video_id="x", label=0, split="train", features={"rgb": np.zeros((4, 1, 3))},
                logits={"rgb": np.zeros((4, 1, 2))})
    assert set(_hidden(out)) == keep
    assert validate_store(out / "s.h5")["num_videos"] == 1
    assert remove_stale_temporaries(out / "agent.pt") == []  # the live writer's stays


# ----------------------------------------------------------------------------- NaN / inf


def _store(path: Path, n: int = 40) -> Path:
    # 40 videos: train rows 0-23, val 24-27, test 28-39
    return make_synthetic_store(path, num_videos=n, num_frames=12, num_classes=4, feature_dim=8)


def _poison(path: Path, dataset: str, rows: list[int], value: float) -> str:
    with h5py.File(path, "r+") as f:
        for r in rows:
            f[dataset][r, 0, 0, 0] = value
        first = f["videos/id"].asstr()[rows[0]]
    st = path.stat()  # a new mtime even within the clock's granularity: a changed file
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    return first


def test_env_refuses_nan_and_inf_naming_dataset_row_and_video(tmp_path) -> None:
    path = _store(tmp_path / "nan.h5")
    vid = _poison(path, "streams/rgb/features", [17, 20], np.nan)
    with pytest.raises(StoreError) as err:
        gym.make("FrameSelection-v0", store=str(path))
    msg = str(err.value)
    assert str(path) in msg
    assert f"dataset '/streams/rgb/features' has NaN/inf at row 17 (video {vid!r})" in msg
    with pytest.raises(StoreError, match="row 17"):
        gym.make_vec("FrameSelection-v0", num_envs=2, store=str(path))

    path = _store(tmp_path / "inf.h5")
    vid = _poison(path, "streams/flow/logits", [5], -np.inf)
    with pytest.raises(StoreError, match=rf"'/streams/flow/logits' has NaN/inf at row 5 "
                                         rf"\(video '{vid}'\)"):
        gym.make("FrameSelection-v0", store=str(path), stream="fused")
    # a store that is too big for RAM is read per batch: the first reset scans and refuses
    env = gym.make("FrameSelection-v0", store=str(path), stream="flow", max_memory_bytes=0)
    with pytest.raises(StoreError, match="row 5"):
        env.reset(seed=0)


def test_train_reinforce_refuses_a_nan_store(tmp_path, capsys) -> None:
    path = _store(tmp_path / "nan.h5")
    vid = _poison(path, "streams/rgb/logits", [17], np.nan)
    from scripts.train_reinforce import main

    rc = main(["--store", str(path), "--stream", "rgb", "--epochs", "1", "--seeds", "1",
               "--m", "4", "--eval-m", "4", "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "Traceback" not in err
    assert str(path) in err
    assert f"'/streams/rgb/logits' has NaN/inf at row 17 (video {vid!r})" in err
    assert not list((tmp_path / "run").glob("checkpoint*"))


def test_compare_agents_refuses_inf_in_test_videos(tmp_path, capsys) -> None:
    path = _store(tmp_path / "inf.h5")
    vid = _poison(path, "streams/rgb/features", [30, 33, 36], np.inf)
    from scripts.compare_agents import main

    out = tmp_path / "cmp"
    rc = main(["--agents", "random", "uniform", "--store", str(path), "--seeds", "1",
               "--ms", "2", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert f"'/streams/rgb/features' has NaN/inf at row 30 (video {vid!r})" in err
    assert not (out / "results.csv").exists()  # no numbers changed by the inf were written


def test_merge_refuses_a_nan_input_naming_it(tmp_path, capsys) -> None:
    good = _store(tmp_path / "a.h5")
    bad = _store(tmp_path / "b.h5", n=4)
    with h5py.File(bad, "r+") as f:  # other ids than a.h5's, one NaN
        f["videos/id"][:] = np.array([f"b{i}" for i in range(4)], dtype=object)
    _poison(bad, "streams/flow/features", [3], np.nan)
    from scripts.merge_stores import main

    rc = main([str(good), str(bad), "--out", str(tmp_path / "m.h5")])
    err = capsys.readouterr().err
    assert rc == 2 and str(bad) in err and "'/streams/flow/features' has NaN/inf at row 3" in err
    assert not (tmp_path / "m.h5").exists()


def test_value_scan_runs_once_per_file_version(tmp_path, monkeypatch) -> None:
    calls: list[str] = []
    scan = store_module.scan_finite
    monkeypatch.setattr(store_module, "scan_finite",
                        lambda ds, *a, **k: (calls.append(ds.name), scan(ds, *a, **k))[1])
    path = write_store(tmp_path / "s.h5", features={"rgb": np.ones((3, 2, 1, 4))},
                       logits={"rgb": np.zeros((3, 2, 1, 2))}, labels=[0, 1, 0],
                       video_ids=["x", "y", "z"], splits=["train"] * 3, class_names=["a", "b"])
    calls.clear()  # the writer's own validation scanned what it wrote
    store = FeatureStore(path)
    store.features("rgb", 0)
    store.features("rgb", [1, 2])
    assert calls == ["/streams/rgb/features"]  # once, on the first read
    other = FeatureStore(path)
    other.features("rgb", 1)  # another reader of the same file: cached
    clone = pickle.loads(pickle.dumps(store))  # a vector-env worker: carried along
    clone.features("rgb", 2)
    clone.logits("rgb", 2)
    assert calls == ["/streams/rgb/features", "/streams/rgb/logits"]
    unchecked = FeatureStore(path, validate=False)
    unchecked.logits("rgb", 0)
    assert len(calls) == 2
    for s in (store, other, clone, unchecked):
        s.close()
    _poison(path, "streams/rgb/logits", [1], np.inf)  # edited in place: scanned again
    with pytest.raises(StoreError, match=r"row 1 \(video 'y'\)"):
        FeatureStore(path).logits("rgb", 0)
    with pytest.raises(StoreError, match=r"row 1 \(video 'y'\)"):
        clone.logits("rgb", 0)
