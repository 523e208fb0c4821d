"""Inputs that used to be accepted (or failed late, or without naming the culprit) are refused.

Issue 18, item 9: env arguments and reset options of the wrong type or range, a second ``step``
after the one-step episode ended, ``import_features`` labels and float16 overflow, duplicate video
ids and paths with spaces in plain lists, and ``skip_bad`` with a corrupt JPEG in a raw-frame
folder.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import frame_select_env  # noqa: F401  (registers the env)
from frame_select_env.envs.one_step.env import FrameSelectionEnv
from frame_select_env.envs.one_step.vector_env import FrameSelectionVectorEnv
from frame_select_env.pipeline.datasets.lists import ListFormatError, read_plain_list
from frame_select_env.pipeline.feature_import import import_features
from frame_select_env.store import FeatureStore


# ----------------------------------------------------------------------------- env arguments
@pytest.mark.parametrize("kwargs, needle", [
    ({"num_frames": 2.5}, "num_frames must be None or an int >= 1, got 2.5"),
    ({"num_frames": True}, "num_frames must be None or an int >= 1, got True"),
    ({"num_frames": 0}, "num_frames must be None or an int >= 1, got 0"),
    ({"omega": float("nan")}, "omega must be a finite number >= 0, got nan"),
    ({"omega": float("inf")}, "omega must be a finite number >= 0, got inf"),
    ({"omega": -1.0}, "omega must be a finite number >= 0, got -1.0"),
    ({"omega": "10"}, "omega must be a finite number >= 0, got '10'"),
])
def test_env_arguments_are_checked(small_store: Path, kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        FrameSelectionEnv(small_store, **kwargs)
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        FrameSelectionVectorEnv(2, store=small_store, **kwargs)


def test_env_accepts_valid_numbers(small_store: Path) -> None:
    env = FrameSelectionEnv(small_store, num_frames=np.int64(5), omega=0)
    assert env.num_frames == 5 and env.omega == 0.0
    envs = FrameSelectionVectorEnv(np.int64(3), store=small_store, omega=np.float32(2.5))
    assert envs.num_envs == 3 and envs.omega == 2.5


@pytest.mark.parametrize("num_envs", [2.5, True, 0, "2"])
def test_make_vec_num_envs_must_be_a_positive_int(small_store: Path, num_envs) -> None:
    with pytest.raises(ValueError, match=f"num_envs must be an int >= 1, got {num_envs!r}"):
        gym.make_vec("FrameSelection-v0", num_envs=num_envs, store=small_store)


@pytest.mark.parametrize("index", [1.5, True, np.float64(2.0), "1"])
def test_reset_index_must_be_an_int(small_store: Path, index) -> None:
    env = FrameSelectionEnv(small_store, split=None)
    with pytest.raises(ValueError, match=r"reset: options\['index'\] must be an int, got"):
        env.reset(options={"index": index})
    _, info = env.reset(options={"index": np.int64(3)})  # numpy ints are ints
    assert info["index"] == 3


def test_reset_view_option_is_checked(small_store: Path) -> None:
    env = FrameSelectionEnv(small_store)  # 3 views, view="random"
    with pytest.raises(ValueError, match=r"options\['view'\] must be an int, got 1.5"):
        env.reset(options={"index": 0, "view": 1.5})
    with pytest.raises(ValueError, match=r"options\['view'\] 3 out of range \[0, 3\)"):
        env.reset(options={"index": 0, "view": 3})
    assert env.reset(options={"index": 0, "view": 2})[1]["view"] == 2


@pytest.mark.parametrize("indices, needle", [
    ([1.5, 2], "must be integers, got dtype float64"),
    ([True, False], "must be integers, got dtype bool"),
])
def test_vector_reset_indices_must_be_integers(small_store: Path, indices, needle) -> None:
    envs = FrameSelectionVectorEnv(2, store=small_store)
    with pytest.raises(ValueError, match=rf"options\['indices'\] {needle}"):
        envs.reset(options={"indices": indices})
    _, info = envs.reset(options={"indices": [1, 2]})
    assert info["index"].tolist() == [1, 2]


# ----------------------------------------------------------------------------- step after the end
def test_second_step_after_terminated_raises(small_store: Path) -> None:
    for env in (FrameSelectionEnv(small_store), gym.make("FrameSelection-v0", store=small_store)):
        env.reset(seed=0)
        keep = np.ones(25, np.int8)
        _, reward, terminated, truncated, _ = env.step(keep)
        assert terminated and not truncated and np.isfinite(reward)
        with pytest.raises(RuntimeError, match=r"after the episode ended .*call reset\(\) "
                                               r"before step\(\)"):
            env.step(keep)
        env.reset()  # a reset starts the next episode, and step works again
        assert env.step(keep)[2]


def test_vector_autoreset_modes_still_step_on(small_store: Path) -> None:
    """The single env's refusal does not touch the vector env's own autoreset conventions."""
    keep = np.ones((2, 25), np.int8)
    same = FrameSelectionVectorEnv(2, store=small_store, autoreset_mode="same_step")
    same.reset(seed=0)
    for _ in range(3):  # every step scores a fresh batch
        assert same.step(keep)[2].all()
    nxt = FrameSelectionVectorEnv(2, store=small_store, autoreset_mode="next_step")
    nxt.reset(seed=0)
    assert nxt.step(keep)[2].all()
    _, reward, term, _, _ = nxt.step(keep)  # the reset step: reward 0, not terminated
    assert not term.any() and (reward == 0).all()
    off = FrameSelectionVectorEnv(2, store=small_store, autoreset_mode="disabled")
    off.reset(seed=0)
    off.step(keep)
    with pytest.raises(RuntimeError, match="called before reset"):
        off.step(keep)


# ----------------------------------------------------------------------------- import_features
def _npz(path: Path, labels, scale: float = 1.0) -> Path:
    n = len(labels)
    np.savez(path, features=np.full((n, 4, 5), scale, np.float32),
             logits=np.zeros((n, 4, 3), np.float32), labels=np.asarray(labels),
             split=np.array(["train", "val", "test"][:n]))
    return path


def test_import_refuses_fractional_labels(tmp_path: Path) -> None:
    src = _npz(tmp_path / "frac.npz", [0.2, 1.7, 2.9])
    with pytest.raises(ValueError, match=r"frac.npz.*'labels' must hold integer class indices, "
                                         r"got non-integer values \[0.2, 1.7, 2.9\]"):
        import_features(src, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()
    whole = _npz(tmp_path / "whole.npz", [0.0, 2.0, 1.0])  # whole-number floats are fine
    assert FeatureStore(import_features(whole, tmp_path / "ok.h5")).labels.tolist() == [0, 2, 1]


def test_import_string_labels_name_file_and_key(tmp_path: Path) -> None:
    src = _npz(tmp_path / "names.npz", ["walk", "run", "jump"])
    with pytest.raises(ValueError, match=r"names.npz.*array 'labels' must hold integer class "
                                         r"indices, got dtype <U4"):
        import_features(src, tmp_path / "out.h5")


def test_import_float16_overflow_hints_at_float32(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from scripts.import_features import main

    src = _npz(tmp_path / "big.npz", [0, 1, 2], scale=1e5)
    assert main([str(src), str(tmp_path / "out.h5")]) == 2
    err = capsys.readouterr().err
    assert "big.npz" in err and "features reach 100000, beyond the range of float16" in err
    assert "--dtype float32" in err and "NaN or inf" not in err
    assert main([str(src), str(tmp_path / "out.h5"), "--dtype", "float32"]) == 0
    assert float(FeatureStore(tmp_path / "out.h5").features("rgb", 0).max()) == 1e5


# ----------------------------------------------------------------------------- plain lists
def test_duplicate_ids_name_both_paths_and_the_list(tmp_path: Path) -> None:
    listed = tmp_path / "videos.txt"
    listed.write_text("a/x.avi 0 train\nb/y.avi 1\na/x.mp4 0 test\n")
    with pytest.raises(ListFormatError) as err:
        read_plain_list(listed)
    msg = str(err.value)
    assert msg.startswith(f"{listed}:3:")
    assert "'a/x.mp4' and 'a/x.avi' (line 1) have the same video id 'a/x'" in msg


def test_duplicate_ids_in_a_videos_sequence(tmp_path: Path) -> None:
    from frame_select_env.pipeline.online import resolve_videos

    for name in ("x.avi", "x.mp4"):
        (tmp_path / name).write_bytes(b"\0")
    with pytest.raises(ValueError, match=r"'x.mp4' and 'x.avi' have the same video id 'x'"):
        resolve_videos([(str(tmp_path / "x.avi"), 0), (str(tmp_path / "x.mp4"), 0)],
                       ["a", "b"], "test")


def test_plain_list_paths_with_spaces(tmp_path: Path) -> None:
    listed = tmp_path / "spaces.txt"
    listed.write_text('"my clips/a b.avi" 3 train   # quoted\n'
                      '"it\'s a.avi" - test\n'
                      "other clips/c d.avi\t2 val\n"
                      "plain.avi 1\n")
    recs = read_plain_list(listed)
    assert [(r.path, r.label, r.split) for r in recs] == [
        ("my clips/a b.avi", 3, "train"), ("it's a.avi", None, "test"),
        ("other clips/c d.avi", 2, "val"), ("plain.avi", 1, None)]
    assert recs[0].video_id == "my clips/a b"
    bad = tmp_path / "bad.txt"
    bad.write_text('ok.avi 0\n"open.avi 1\n')
    with pytest.raises(ListFormatError, match=rf"{bad}:2: No closing quotation"):
        read_plain_list(bad)
    unquoted = tmp_path / "unquoted.txt"
    unquoted.write_text("my clips/a b.avi 3 train\n")
    with pytest.raises(ListFormatError, match=r"unquoted.txt:1: .*needs quotes, or a tab"):
        read_plain_list(unquoted)


# ----------------------------------------------------------------------------- skip_bad
def test_skip_bad_leaves_out_a_rawframe_folder_with_a_corrupt_jpg(tmp_path: Path) -> None:
    from frame_select_env.pipeline.datasets.sparse_actions import builtin_videos
    from frame_select_env.pipeline.video.rawframes import extract_rawframes

    builtin_videos("test", tmp_path / "avi", workers=1, limit=2)
    folders = []
    for avi in sorted((tmp_path / "avi" / "test").glob("*.avi")):
        folders.append(tmp_path / "frames" / avi.stem)
        extract_rawframes(avi, folders[-1], "dis", size=None)
    bad = folders[1]
    (bad / "img_00005.jpg").write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.warns(UserWarning, match=rf"{bad.name}: cannot read frame file img_00005.jpg"):
        env = gym.make("FrameSelection-v0", videos=[str(f) for f in folders],
                       classifier="builtin", device="cpu", views=1, split="test",
                       view="center", skip_bad=True, online_options={"workers": 0})
    store = env.unwrapped.source.store
    assert [Path(p).name for p, _ in store.skipped] == [bad.name]
    assert list(store.video_ids) == [folders[0].name]
    for seed in range(4):  # every reset draws the good folder; none raises
        _, info = env.reset(seed=seed)
        assert info["video_id"] == folders[0].name
        env.step(np.ones(25, np.int8))
    env.close()
