"""A user's own videos in a plain list: readable ids, the same from any working folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from frame_select_env.pipeline.datasets.sparse_actions import CLASS_NAMES, builtin_videos
from frame_select_env.pipeline.online.videos import resolve_videos
from tests.conftest import REALDATA

CLIPS = REALDATA / "ucf101_clips"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three built-in test videos, in a folder of their own (``.../data/test/<name>.avi``)."""
    root = tmp_path_factory.mktemp("own") / "data"
    builtin_videos("test", root, workers=1, limit=3)
    return sorted(root.rglob("*.avi"))


def _ids(list_file: Path, cwd: Path, **kw: object) -> tuple[Path, list[str]]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        root, recs, _, _ = resolve_videos(str(list_file), CLASS_NAMES, "test", **kw)
    finally:
        os.chdir(old)
    return root, [r.video_id for r in recs]


def _label(path: Path) -> int:
    return next(i for i, n in enumerate(CLASS_NAMES) if path.stem.startswith(n + "_"))


def test_absolute_paths_outside_the_list_folder(clips: list[Path], tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    listing = lists / "list.txt"
    listing.write_text("".join(f"{p} {_label(p)} test\n" for p in clips))
    elsewhere = tmp_path / "a" / "b"
    elsewhere.mkdir(parents=True)
    root, ids = _ids(listing, tmp_path)
    # below the videos' common folder (data/test): the file names, without '..'
    assert root == clips[0].parent.resolve()
    assert ids == [p.stem for p in clips]
    assert _ids(listing, elsewhere) == (root, ids)
    # a root the user gives: ids below it; a root that is not above the videos is refused
    assert _ids(listing, elsewhere, video_root=clips[0].parents[1])[1] == [
        f"test/{p.stem}" for p in clips]
    with pytest.raises(ValueError, match="is not below video_root"):
        _ids(listing, tmp_path, video_root=lists)


def test_relative_paths_below_the_list_folder(clips: list[Path], tmp_path: Path) -> None:
    listing = clips[0].parents[1] / "rel.txt"
    listing.write_text("".join(f"test/{p.name} {_label(p)} test\n" for p in clips))
    here = tmp_path / "x"
    here.mkdir()
    root, ids = _ids(listing, here)
    assert root == listing.parent.resolve()
    assert ids == [f"test/{p.stem}" for p in clips]
    assert _ids(listing, tmp_path) == (root, ids)


def test_paths_with_spaces(clips: list[Path], tmp_path: Path) -> None:
    spaced = tmp_path / "my clips"
    spaced.mkdir()
    copies = [spaced / f"clip {i} {p.name}" for i, p in enumerate(clips)]
    for src, dst in zip(clips, copies, strict=True):
        shutil.copyfile(src, dst)
    listing = tmp_path / "lists" / "spaces.txt"
    listing.parent.mkdir()
    lines = [f"{copies[0]}\t{_label(clips[0])} test", f'"{copies[1]}" {_label(clips[1])} test',
             f"'{copies[2]}' {_label(clips[2])} test"]
    listing.write_text("\n".join(lines) + "\n")
    root, ids = _ids(listing, tmp_path)
    assert root == spaced.resolve()
    assert ids == [c.stem for c in copies] and not any(".." in i for i in ids)
    assert _ids(listing, listing.parent) == (root, ids)


def test_real_clips_listed_by_absolute_path(tmp_path: Path) -> None:
    if not CLIPS.is_dir():
        pytest.skip(f"{CLIPS} is absent (the real UCF101 clips of ../shared/realdata)")
    files = sorted(CLIPS.glob("*.mp4"))[:3]
    names = ["Basketball", *CLASS_NAMES[1:]]  # labels by index: the ids are what is checked
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{p} 0 test\n" for p in files))
    old = os.getcwd()
    try:
        for cwd in (tmp_path, CLIPS.parent):
            os.chdir(cwd)
            root, recs, _, _ = resolve_videos(str(listing), names, "test")
            assert root == CLIPS.resolve()
            assert [r.video_id for r in recs] == [p.stem for p in files]
    finally:
        os.chdir(old)


def _listing(clips: list[Path], folder: Path) -> Path:
    listing = folder / "list.txt"
    listing.write_text("".join(f"{p} {_label(p)} test\n" for p in clips))
    return listing


def test_empty_split_names_the_list_and_the_fix(clips: list[Path], tmp_path: Path) -> None:
    import gymnasium as gym

    import frame_select_env  # noqa: F401

    listing = _listing(clips, tmp_path)
    cache = tmp_path / "c.h5"
    with pytest.raises(ValueError) as err:
        gym.make("FrameSelection-v0", videos=str(listing), classifier="builtin", cache=str(cache))
    msg = str(err.value)
    assert msg.startswith(f"videos={str(listing)!r} (online mode, cached in {str(cache)!r}) "
                          f"has no videos in split 'train' (it has test: {len(clips)}); "
                          f"pass split='test'"), msg


def test_empty_split_of_a_store_has_the_same_wording(tmp_path: Path) -> None:
    import gymnasium as gym

    import frame_select_env  # noqa: F401
    from frame_select_env.store.synthetic import make_synthetic_store

    store = make_synthetic_store(tmp_path / "s.h5", num_videos=5, num_views=1, feature_dim=4,
                                 num_classes=2, seed=0, split_fractions=(0.0, 0.0, 1.0))
    with pytest.raises(ValueError) as err:
        gym.make("FrameSelection-v0", store=str(store), split="val")
    assert str(err.value) == (
        f"feature store {str(store)!r} has no videos in split 'val' (it has test: 5); pass "
        f"split='test' (the env's split=, a script's --split), or give videos of split 'val'")


def test_cache_reused_from_another_folder_and_old_ids_refused(clips: list[Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    import h5py

    from frame_select_env.pipeline.online import materialize
    from frame_select_env.pipeline.online.store import OnlineStore
    from frame_select_env.store import FeatureStore, StoreError

    lists = tmp_path / "lists"
    lists.mkdir()
    listing = _listing(clips[:1], lists)
    cache = tmp_path / "c.h5"
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    materialize(str(listing), "builtin", cache=str(cache), views=1,
                options={"workers": 0, "progress": False})
    ids = list(FeatureStore(cache).video_ids)
    assert ids == [clips[0].stem]

    def no_decoding(self, rows):  # the second pass must find every video in the cache
        raise AssertionError(f"decoded rows {rows} again")

    monkeypatch.setattr(OnlineStore, "_compute", no_decoding)
    monkeypatch.chdir(second)
    materialize(str(listing), "builtin", cache=str(cache), views=1,
                options={"workers": 0, "progress": False})
    assert list(FeatureStore(cache).video_ids) == ids  # reused, not doubled
    # a cache written with the old ids ('..' parts) is refused, not doubled
    with h5py.File(cache, "r+") as f:
        f["videos/id"][0] = f"../../{ids[0]}"
    with pytest.raises(StoreError, match=r"old ids \('\.\./\.\./"):
        materialize(str(listing), "builtin", cache=str(cache), views=1,
                options={"workers": 0, "progress": False})
