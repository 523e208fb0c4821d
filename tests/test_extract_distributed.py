"""``torchrun`` extraction (2 CPU processes, gloo) against the single-process store, bit for bit.

One list of small generated videos (with a corrupt one in rank 1's shard) is extracted once by a
single process and twice under ``torchrun --nproc-per-node 2``: the first time rank 1 cannot
write its shard (a directory is in the way), so the run must name rank 1 and its error, merge
nothing and keep rank 0's work; the rerun must reuse every finished part and merge a store equal
to the single-process one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from scripts import extract_features

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "extract_features.py"
CLASSES = ("left", "down", "diagonal")
#: list order is not id order, so that a merge by id or by shard would show
NAMES = ("m_left", "c_down", "x_diag", "bad", "a_left", "q_down", "b_diag")
FLAGS = ["--num-frames", "4", "--size", "64", "48", "--crop", "48", "--arch", "small",
         "--random-init", "--device", "cpu", "--no-progress", "--seed", "5", "--workers", "0"]


def _write_video(path: Path, cls: int, seed: int, n: int = 12, size=(64, 48)) -> None:
    rng = np.random.default_rng(seed)
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, size)
    assert writer.isOpened(), "cv2.VideoWriter cannot write MJPG .avi here"
    vx, vy = [(3, 0), (0, 3), (-3, -3)][cls]
    x0, y0 = int(rng.integers(10, 40)), int(rng.integers(10, 25))
    for t in range(n):
        img = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
        x, y = (x0 + vx * t) % (w - 10), (y0 + vy * t) % (h - 10)
        img[y : y + 10, x : x + 10] = (255, 60 * cls, 0)
        writer.write(img)
    writer.release()


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("dist_videos")
    lines = []
    for k, name in enumerate(NAMES):
        if name == "bad":  # list entry 3: rank 1's shard under 2 processes
            (root / "bad.avi").write_bytes(np.random.default_rng(1).bytes(5000))
            lines.append("bad.avi 0 test")
            continue
        cls = [c[:4] for c in CLASSES].index(name.split("_")[1][:4])
        _write_video(root / f"{name}.avi", cls, seed=k)
        lines.append(f"{name}.avi {cls} {'train' if k % 2 else 'test'}")
    lst, classes = root / "list.txt", root / "classes.txt"
    lst.write_text("\n".join(lines) + "\n")
    classes.write_text("\n".join(CLASSES) + "\n")
    return root, lst, classes


def _argv(videos: tuple[Path, Path, Path], out: Path) -> list[str]:
    root, lst, classes = videos
    return ["--list", str(lst), "--classes", str(classes), "--root", str(root),
            "--out", str(out), *FLAGS]


def _torchrun(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", str(SCRIPT), *argv]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240, env=env)


def _contents(path: Path) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Every dataset of a store file, and its attributes (metadata decoded)."""
    data: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: data.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
        attrs = {k: f.attrs[k] for k in f.attrs}
    attrs["metadata"] = json.loads(attrs["metadata"])
    return data, attrs


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:RANDOM-INIT")
def test_torchrun_matches_single_process_and_resumes_a_failed_rank(videos, tmp_path):
    import torch

    module = extract_features
    ref = tmp_path / "single" / "feats.h5"
    threads = torch.get_num_threads()
    # the threads each of the 2 ranks gets (its half of the cores, no decode workers): float
    # results may depend on the thread count, the ranks' shards must not
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // 2))
    try:
        assert module.main(_argv(videos, ref)) == 1  # the corrupt video failed
    finally:
        torch.set_num_threads(threads)

    out = tmp_path / "dist" / "feats.h5"
    argv = _argv(videos, out)
    (tmp_path / "dist" / "feats.h5.shard1of2.h5").mkdir(parents=True)  # rank 1 cannot write
    first = _torchrun(argv, tmp_path)
    log = first.stdout + first.stderr
    assert first.returncode != 0, log[-3000:]
    named = [line for line in log.splitlines() if " FAILED: " in line]
    assert len(named) == 1 and named[0].startswith("rank 1/2 "), log[-3000:]  # rank 1 only
    assert "IsADirectoryError" in named[0] and "feats.h5.shard1of2.h5" in named[0]
    assert "nothing was merged" in log and f"{out}.parts" in log
    assert not out.exists()
    assert (tmp_path / "dist" / "feats.h5.shard0of2.h5").is_file()  # rank 0's shard is kept
    parts = sorted((tmp_path / "dist" / "feats.h5.parts").glob("*.npz"))
    # list entries 0, 2, 4, 6 (rank 0) and 1, 5 (rank 1; 3 is the corrupt video)
    assert [int(p.name[:7]) for p in parts] == [0, 1, 2, 4, 5, 6]
    stamps = {p.name: p.stat().st_mtime_ns for p in parts}

    (tmp_path / "dist" / "feats.h5.shard1of2.h5").rmdir()
    second = _torchrun(argv, tmp_path)
    log = second.stdout + second.stderr
    assert second.returncode == 1, log[-3000:]  # the corrupt video, as in the single process
    assert "[rank 0/2] done: 4/4 videos stored (4 resumed)" in log, log[-3000:]
    assert "[rank 1/2] done: 2/3 videos stored (2 resumed)" in log, log[-3000:]
    assert "done: 6/7 videos stored (6 resumed), 1 failed" in log, log[-3000:]
    assert {p.name: p.stat().st_mtime_ns for p in parts} == stamps  # nothing was recomputed
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "feats.h5", "feats.h5.failures.txt", "feats.h5.parts"]  # the shards were merged away
    assert (Path(f"{out}.failures.txt").read_text()
            == Path(f"{ref}.failures.txt").read_text())
    assert str(videos[0] / "bad.avi") in Path(f"{out}.failures.txt").read_text()

    (a, attrs_a), (b, attrs_b) = _contents(ref), _contents(out)
    assert sorted(a) == sorted(b) and len(a) >= 9  # classes, videos/*, 2 streams x 2
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
        if a[name].dtype == object:  # strings
            assert list(a[name]) == list(b[name]), name
        else:
            assert a[name].tobytes() == b[name].tobytes(), name
    assert [v.decode() for v in b["videos/id"]] == [n for n in NAMES if n != "bad"]
    meta_a, meta_b = attrs_a.pop("metadata"), attrs_b.pop("metadata")
    assert sorted(attrs_a) == sorted(attrs_b)
    assert all(np.array_equal(attrs_a[k], attrs_b[k]) for k in attrs_a)
    # merge_stores' bookkeeping instead of the single run's shard; everything else is the same
    assert meta_a.pop("shard") == [0, 1] and len(meta_b.pop("merged_from")) == 2
    assert meta_a == meta_b and meta_b["num_failed"] == 1 and len(meta_b["video_frames"]) == 6


def test_shard_flag_and_failed_rank_are_reported(videos, tmp_path, capsys):
    # in-process: the checks before the process group and rank 0's verdict on the reports
    module = extract_features
    out = tmp_path / "feats.h5"
    args = module.parse(module.Args, [*_argv(videos, out), "--shard", "0/2"])
    with pytest.raises(SystemExit, match="--shard splits the list by hand"):
        module.run_torchrun(args, 2, 0, 0)
    args.shard = None
    ok = {"rank": 0, "host": "node1", "error": None, "code": 0, "store": None, "done": 0,
          "skipped": 0, "failures": [], "seconds": 0.0, "video_ids": []}
    bad = {"rank": 1, "host": "node2", "error": "OSError: [Errno 28] No space left on device"}
    assert module.finish_torchrun(args, [ok, bad]) == 1
    err = capsys.readouterr().err
    assert "rank 1/2 (node2) FAILED: OSError: [Errno 28] No space left on device" in err
    assert "rank 0/2" not in err and "1 of 2 ranks failed, nothing was merged" in err
    assert not out.exists()
    assert module.rank_store(out, 1, 2) == tmp_path / "feats.h5.shard1of2.h5"
