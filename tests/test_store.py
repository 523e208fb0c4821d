"""The HDF5 store: round trip, atomic writes, validation errors and the npz import."""

from __future__ import annotations

import contextlib
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

from frame_select_env.pipeline.feature_import import import_features
from frame_select_env.store import (
    FeatureStore,
    StoreError,
    StoreWriter,
    validate_store,
    write_store,
)

ROOT = Path(__file__).resolve().parents[1]


def arrays(n=6, t=4, v=2, d=3, c=5, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        features={"rgb": rng.normal(size=(n, t, v, d)).astype(np.float32)},
        logits={"rgb": rng.normal(size=(n, t, v, c)).astype(np.float32)},
        labels=rng.integers(0, c, n),
        video_ids=[f"v{i}" for i in range(n)],
        splits=["train", "train", "val", "test", "test", "test"][:n],
        class_names=[f"c{i}" for i in range(c)],
    )


def test_round_trip_and_lazy_pickle(tmp_path: Path) -> None:
    a = arrays()
    path = write_store(tmp_path / "s.h5", **a, dtype="float32", relevance=np.ones((6, 4)))
    store = FeatureStore(path)
    assert store.num_frames == 4 and store.streams == ["rgb"] and store.num_classes == 5
    assert store.indices("test").tolist() == [3, 4, 5]
    np.testing.assert_array_equal(store.features("rgb", [5, 3]), a["features"]["rgb"][[5, 3]])
    np.testing.assert_array_equal(store.logits("rgb", 2), a["logits"]["rgb"][2])
    assert store.index_of("v4") == 4 and store.relevance([0]).shape == (1, 4)
    clone = pickle.loads(pickle.dumps(store))  # no open h5py handle travels
    np.testing.assert_array_equal(clone.features("rgb", [1]), a["features"]["rgb"][[1]])
    with pytest.raises(KeyError, match="stream 'flow'"):
        store.features("flow", 0)


def test_float16_storage_is_half_size(tmp_path: Path) -> None:
    a = arrays(n=6, d=64)
    p16 = write_store(tmp_path / "a.h5", **a, dtype="float16")
    p32 = write_store(tmp_path / "b.h5", **a, dtype="float32")
    assert FeatureStore(p16).nbytes("rgb") * 2 == FeatureStore(p32).nbytes("rgb")


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda f: f.attrs.__setitem__("schema_version", 99), "schema version 99"),
        (lambda f: f.__delitem__("streams/rgb/logits"), "missing dataset '/streams/rgb/logits'"),
        (lambda f: f["streams/rgb/features"].__setitem__((4, 0, 0, 0), np.nan),
         r"dataset '/streams/rgb/features' has NaN/inf at row 4 \(video 'v4'\)"),
        (lambda f: f["videos/label"].__setitem__(2, 7), "label 7 of video row 2 is out of range"),
        (lambda f: f["videos/written"].__setitem__(1, False), "never written"),
    ],
)
def test_validator_names_the_problem(tmp_path: Path, corrupt, message: str) -> None:
    path = write_store(tmp_path / "s.h5", **arrays(), dtype="float32")
    with h5py.File(path, "a") as f:
        corrupt(f)
    with pytest.raises(StoreError, match=message) as err:
        validate_store(path)
    assert "s.h5" in str(err.value)


def test_shape_mismatch_is_rejected(tmp_path: Path) -> None:
    path = write_store(tmp_path / "s.h5", **arrays(), dtype="float32")
    with h5py.File(path, "a") as f:
        del f["streams/rgb/logits"]
        f.create_dataset("streams/rgb/logits", data=np.zeros((6, 4, 2, 9)))
    with pytest.raises(StoreError, match="logits' has shape"):
        validate_store(path)


@contextlib.contextmanager
def _first_row_only(path: Path) -> Iterator[StoreWriter]:
    """A writer of a 2-video store at ``path`` that has written video 0 only (closed after)."""
    with StoreWriter(path, 2, 4, {"rgb": (2, 3)}, ["a", "b"]) as w:
        w.write(0, video_id="x", label=0, split="train", features={"rgb": np.zeros((4, 2, 3))},
                logits={"rgb": np.zeros((4, 2, 2))})
        yield w


def test_failed_write_leaves_previous_store_untouched(tmp_path: Path) -> None:
    path = write_store(tmp_path / "s.h5", **arrays(), dtype="float32")
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with _first_row_only(path):
            raise RuntimeError("killed")
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    # An unfinished store (row 1 never written) is refused, and nothing replaces the old one.
    with pytest.raises(StoreError, match="never written"):
        with _first_row_only(path):
            pass
    assert path.read_bytes() == before


def test_import_features_function_and_script(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n, t, d, c = 10, 8, 4, 3
    npz = tmp_path / "mine.npz"
    np.savez(
        npz,
        features=rng.normal(size=(n, t, d)),
        logits=rng.normal(size=(n, t, c)),
        labels=rng.integers(0, c, n),
        split=np.array(["train"] * 5 + ["test"] * 5),
        class_names=np.array(["run", "jump", "swim"]),
        stream="flow",
    )
    store = FeatureStore(import_features(npz, tmp_path / "out.h5"))
    assert store.streams == ["flow"] and store.class_names == ["run", "jump", "swim"]
    assert store.features("flow", 0).shape == (t, 1, d)  # (N,T,D) gets a single view
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "import_features.py"),
            str(npz),
            str(tmp_path / "cli.h5"),
            "--stream",
            "rgb",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "10 videos" in out.stdout
    assert FeatureStore(tmp_path / "cli.h5").streams == ["rgb"]
    bad = tmp_path / "bad.npz"
    np.savez(bad, features=np.zeros((2, 3, 4)), labels=np.zeros(2), split=np.array(["a", "b"]))
    with pytest.raises(ValueError, match="has no array 'logits'"):
        import_features(bad, tmp_path / "x.h5")
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "import_features.py"),
            str(bad),
            str(tmp_path / "x.h5"),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0 and "bad.npz" in res.stderr


def test_import_features_names_an_object_array(tmp_path: Path) -> None:
    from frame_select_env.pipeline.feature_import import import_features

    path = tmp_path / "mine.npz"
    np.savez(path, features=np.zeros((2, 3, 4), np.float32), logits=np.zeros((2, 3, 5)),
             labels=np.array([0, 1]), split=np.array(["train", "test"]),
             video_ids=np.array(["a", None], dtype=object))
    with pytest.raises(ValueError, match=r"mine.npz.*'video_ids' is a Python-object array"):
        import_features(path, tmp_path / "out.h5")
