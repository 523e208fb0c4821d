"""Online mode: FrameSelection-v0 computing its states from videos with the frozen classifier.

Tolerance (documented in the README section of this feature): online states equal
``extract_features``'s on the same videos bit for bit (the same functions, the same float16
rounding), compared here with zero tolerance. Against the shipped store they are equal bit for bit
with the OpenCV of the store's build (5.0.0); with another OpenCV (5.1.0 measured on all 250 test
videos) the mean absolute logit difference is 0.00002 (rgb) / 0.001 (flow), the per-frame argmax
agrees on 99.98% of the frames and every video-level accuracy is the same.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np
import pytest

import frame_select_env  # noqa: F401  (registers the env)
from frame_select_env.pipeline.datasets.sparse_actions import builtin_videos
from frame_select_env.pipeline.video.decode import VideoReadError
from frame_select_env.store import FeatureStore, StoreError, validate_store
from frame_select_env.store.builtin import PACKAGED_STORE, builtin_summary

N_VIDEOS = 4
SPEC = f"builtin:test:{N_VIDEOS}"


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sa_videos")
    builtin_videos("test", root, workers=1, limit=N_VIDEOS)
    return root


@pytest.fixture(scope="module")
def extracted(videos: Path, tmp_path_factory) -> Path:
    """The same videos through ``extract_features`` with the built-in classifier (the store
    path), as the reference of the online states."""
    from frame_select_env.pipeline.extract import ExtractConfig, extract_features
    from frame_select_env.pipeline.online import resolve_classifier, resolve_videos

    clf, clf_id, rec = resolve_classifier("builtin", device="cpu")
    root, records, rel, _ = resolve_videos(SPEC, clf.class_names, "test", videos)
    cfg = ExtractConfig(**{k: rec[k] for k in ("num_frames", "flow_length", "num_views",
                                                "size", "crop", "dtype")},
                        flow_method=rec["flow_method"])
    out = tmp_path_factory.mktemp("extracted") / "ref.h5"
    res = extract_features(records, root, out, clf, clf.class_names, cfg, classifier_id=clf_id,
                           batch_size=rec["batch_size"], workers=0, relevance_fn=rel,
                           progress=False)
    assert res.num_done == N_VIDEOS and not res.failures
    return out


def _online(videos: Path, **kw):
    opts = {"video_root": videos, "workers": 0, **kw.pop("online_options", {})}
    return dict(videos=kw.pop("spec", SPEC), classifier="builtin", device="cpu",
                online_options=opts, **kw)


def test_builtin_classifier_is_packaged_and_hashed() -> None:
    from frame_select_env.pipeline.models import read_two_stream_checkpoint
    from frame_select_env.store.builtin import builtin_classifier_path

    path = builtin_classifier_path()  # verifies the sha256 recorded in sparse_actions.json
    obj = read_two_stream_checkpoint(path)  # torch.load(weights_only=True)
    assert sorted(obj["streams"]) == ["flow", "rgb"]
    assert obj["extra"]["extraction"]["num_views"] == builtin_summary()["extraction"]["num_views"]
    want = builtin_summary()["classifier"]["sha256"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == want


def test_online_states_equal_extracted_store(videos: Path, extracted: Path) -> None:
    from frame_select_env.pipeline.online import open_online_store

    store, split = open_online_store(SPEC, "builtin", device="cpu",
                                     options={"video_root": videos, "workers": 0})
    assert split == "test" and len(store) == N_VIDEOS
    ref = FeatureStore(extracted)
    got = store.ensure(range(N_VIDEOS))
    assert len({int(v) for v in store.labels}) == N_VIDEOS  # spread over the classes
    for r in range(N_VIDEOS):
        i = ref.index_of(store.video_ids[r])
        for s in ("rgb", "flow"):
            np.testing.assert_array_equal(got[r][f"{s}_features"], ref.features(s, i))
            np.testing.assert_array_equal(got[r][f"{s}_logits"], ref.logits(s, i))
        np.testing.assert_array_equal(got[r]["relevance"], ref.relevance(i))
    store.close()


def test_online_states_match_shipped_store(videos: Path) -> None:
    info = builtin_summary()["classifier"]
    shipped = hashlib.sha256(PACKAGED_STORE.read_bytes()).hexdigest()
    if info.get("store_sha256") != shipped:
        pytest.skip("the packaged classifier did not make the shipped store "
                    f"(sparse_actions.json: {info.get('note', '')[:120]}...)")
    from frame_select_env.pipeline.online import open_online_store

    store, _ = open_online_store(SPEC, "builtin", device="cpu",
                                 options={"video_root": videos, "workers": 0})
    ref = FeatureStore(PACKAGED_STORE)
    got = store.ensure(range(N_VIDEOS))
    exact = cv2.__version__ == builtin_summary()["machine"]["opencv"]
    for r in range(N_VIDEOS):
        i = ref.index_of(store.video_ids[r])
        for s in ("rgb", "flow"):
            a = got[r][f"{s}_logits"].astype(np.float32)
            b = ref.logits(s, i).astype(np.float32)
            if exact:  # the OpenCV of the build: the same pixels, the same states
                np.testing.assert_array_equal(a, b)
                continue
            # Another OpenCV decodes/estimates flow a little differently (README, "Online
            # mode"): small mean differences, the same per-frame and per-video decisions.
            assert np.abs(a - b).mean() <= 0.02, (s, np.abs(a - b).mean())
            assert (a.argmax(-1) == b.argmax(-1)).mean() >= 0.98
            assert a.mean((0, 1)).argmax() == b.mean((0, 1)).argmax()
    store.close()


# ----------------------------------------------------------------------------- helpers

ROOT = Path(__file__).resolve().parents[1]


def _actions(num_frames: int) -> list[np.ndarray]:
    """A few fixed actions: all frames, none, every third, a seeded random half."""
    rng = np.random.default_rng(7)
    return [np.ones(num_frames, np.int8), np.zeros(num_frames, np.int8),
            (np.arange(num_frames) % 3 == 0).astype(np.int8),
            rng.integers(0, 2, num_frames).astype(np.int8)]


def _assert_obs_equal(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _assert_rows_equal(store: FeatureStore, ref: FeatureStore, relevance: bool = True) -> None:
    """Every row of ``store`` holds exactly ``ref``'s states of the same video."""
    for r, vid in enumerate(store.video_ids):
        i = ref.index_of(str(vid))
        assert int(store.labels[r]) == int(ref.labels[i]) and store.splits[r] == ref.splits[i]
        for s in ("rgb", "flow"):
            np.testing.assert_array_equal(store.features(s, r), ref.features(s, i))
            np.testing.assert_array_equal(store.logits(s, r), ref.logits(s, i))
        if relevance:
            np.testing.assert_array_equal(store.relevance(r), ref.relevance(i))


def _class_names() -> list[str]:
    return FeatureStore(PACKAGED_STORE).class_names


# ----------------------------------------------------------------------------- env level


def test_env_online_equals_store_mode(videos: Path, extracted: Path) -> None:
    online = gym.make("FrameSelection-v0", **_online(videos, split="test", view="center"))
    stored = gym.make("FrameSelection-v0", store=extracted, split="test", view="center")
    src_on, src_st = online.unwrapped.source, stored.unwrapped.source
    assert list(src_on.video_ids) == list(src_st.video_ids)
    np.testing.assert_array_equal(src_on.labels, src_st.labels)
    assert online.observation_space == stored.observation_space
    ids = list(src_st.video_ids)
    rewards = []
    for i in range(N_VIDEOS):
        # by index and by id, alternately
        opts = {"index": i} if i % 2 == 0 else {"video_id": ids[i]}
        obs_on, info_on = online.reset(options=opts)
        obs_st, info_st = stored.reset(options=opts)
        _assert_obs_equal(obs_on, obs_st)
        assert info_on == info_st and info_on["video_id"] == ids[i]
        for action in _actions(stored.unwrapped.num_frames):
            o_on, r_on, term_on, trunc_on, i_on = online.step(action)
            o_st, r_st, term_st, trunc_st, i_st = stored.step(action)
            _assert_obs_equal(o_on, o_st)
            assert (r_on, term_on, trunc_on) == (r_st, term_st, trunc_st)
            for k in ("video_id", "label", "index", "p0", "p1", "correct_before",
                      "correct_after", "num_selected", "pred_before", "pred_after"):
                assert i_on[k] == i_st[k], (i, k, i_on[k], i_st[k])
            np.testing.assert_array_equal(i_on["action"], i_st["action"])
            rewards.append(r_on)
            online.reset(options=opts)  # one-step episodes: the next action needs a reset
            stored.reset(options=opts)
    assert len(set(rewards)) > 1  # the actions are told apart, not all one value
    # each video was computed once, the repeats came from memory
    assert src_on.store.num_computed == N_VIDEOS
    online.close()
    stored.close()


def test_seq_env_online_equals_store_mode(videos: Path, extracted: Path) -> None:
    """FrameSelectionSeq-v0 in online mode: the store mode's episodes, each video computed once."""
    kw = dict(split="test", view="center", max_frames=3, cost_weight=1.0)
    online = gym.make("FrameSelectionSeq-v0", **_online(videos, **kw))
    stored = gym.make("FrameSelectionSeq-v0", store=extracted, **kw)
    assert online.observation_space == stored.observation_space
    t = stored.unwrapped.num_frames
    rewards = []
    for i in range(N_VIDEOS):
        obs_on, info_on = online.reset(options={"index": i})
        obs_st, info_st = stored.reset(options={"index": i})
        _assert_obs_equal(obs_on, obs_st)
        for action in (2 * i + 1, t - 1, 2 * i + 1, t):
            o_on, r_on, term_on, trunc_on, i_on = online.step(action)
            o_st, r_st, term_st, trunc_st, i_st = stored.step(action)
            _assert_obs_equal(o_on, o_st)
            assert (r_on, term_on, trunc_on) == (r_st, term_st, trunc_st)
            for k in ("video_id", "paid_frames", "prediction", "correct", "macs"):
                assert i_on[k] == i_st[k], (i, k)
            rewards.append(r_on)
            if term_on or trunc_on:
                break
    assert len(set(rewards)) > 1
    # both streams come from one online store: every video decoded and classified once
    assert online.unwrapped.core.expensive.store is online.unwrapped.core.cheap.store
    assert online.unwrapped.core.cheap.store.num_computed == N_VIDEOS
    online.close()
    stored.close()


def test_vector_env_batches_with_workers(videos: Path, extracted: Path, tmp_path: Path) -> None:
    from frame_select_env.pipeline.online import OPTION_KEYS

    assert "workers" in OPTION_KEYS
    cache = tmp_path / "c.h5"
    n = 3
    kw = _online(videos, split="test", view="center", cache=cache,
                 online_options={"workers": 2})
    venv = gym.make_vec("FrameSelection-v0", num_envs=n, **kw)
    ref = gym.make_vec("FrameSelection-v0", num_envs=n, store=extracted, split="test",
                       view="center")
    store = venv.unwrapped.source.store
    assert store.workers == 2
    actions = np.stack([_actions(ref.unwrapped.num_frames)[k] for k in (0, 2, 3)])
    # first batch: 3 of the 4 videos in one batch; second: the 4th plus two from memory
    for step, indices in enumerate(([2, 0, 3], [1, 2, 1])):
        obs_on, info_on = venv.reset(seed=step, options={"indices": indices})
        obs_st, info_st = ref.reset(seed=step, options={"indices": indices})
        _assert_obs_equal(obs_on, obs_st)
        np.testing.assert_array_equal(info_on["video_id"], info_st["video_id"])
        o_on, r_on, _, _, i_on = venv.step(actions)  # SAME_STEP: gathers the next videos too
        o_st, r_st, _, _, i_st = ref.step(actions)
        np.testing.assert_array_equal(r_on, r_st)
        _assert_obs_equal(o_on, o_st)
        for k in ("p0", "p1", "correct_before", "correct_after", "num_selected", "video_id"):
            np.testing.assert_array_equal(i_on["final_info"][k], i_st["final_info"][k], k)
    assert store.num_computed == N_VIDEOS  # each video once, in two batches
    venv.close()
    ref.close()

    summary = validate_store(cache)
    assert summary["num_videos"] == N_VIDEOS
    cached = FeatureStore(cache)
    ids = [str(v) for v in cached.video_ids]
    assert len(set(ids)) == len(ids) == N_VIDEOS
    assert ids == list(FeatureStore(extracted).video_ids)  # the order of the videos given
    _assert_rows_equal(cached, FeatureStore(extracted))
    assert not list(store.parts_dir.glob("*.npz"))  # every part folded
    stat = cache.stat()

    # a second env on the full cache reads it, computes nothing and rewrites nothing
    again = gym.make_vec("FrameSelection-v0", num_envs=N_VIDEOS,
                         **_online(videos, split="test", view="center", cache=cache))
    ref = gym.make_vec("FrameSelection-v0", num_envs=N_VIDEOS, store=extracted, split="test",
                       view="center")
    src = again.unwrapped.source
    assert src.in_memory  # a full cache: store mode's in-memory gather from the start
    obs_on, _ = again.reset(seed=5, options={"indices": [3, 1, 0, 2]})
    obs_st, _ = ref.reset(seed=5, options={"indices": [3, 1, 0, 2]})
    _assert_obs_equal(obs_on, obs_st)
    assert src.store.num_computed == 0
    again.close()
    ref.close()
    assert (cache.stat().st_ino, cache.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    assert not list(store.parts_dir.glob("*.npz"))


def test_cache_of_another_setting_is_refused(videos: Path, tmp_path: Path) -> None:
    cache = tmp_path / "v1.h5"
    one = "builtin:test:1"  # the first test video, one of `videos`
    env = gym.make("FrameSelection-v0", **_online(videos, spec=one, split="test", view="center",
                                                  views=1, cache=cache))
    obs, _ = env.reset(options={"index": 0})
    env.close()
    assert validate_store(cache)["num_videos"] == 1
    cached = FeatureStore(cache)
    assert cached.num_views("rgb") == 1 and cached.metadata["config"]["num_views"] == 1
    np.testing.assert_array_equal(obs["features"],
                                  cached.features("rgb", 0)[:, 0].astype(obs["features"].dtype))
    before = cache.read_bytes()
    for other in ({"views": 10}, {"views": 1, "flow": "farneback"},
                  {"views": 1, "online_options": {"frames": 10}}):
        with pytest.raises(StoreError, match="another classifier or extraction setting") as e:
            gym.make("FrameSelection-v0", **_online(videos, spec=one, split="test",
                                                    cache=cache, **other))
        assert str(cache) in str(e.value), other
    assert cache.read_bytes() == before  # refused, not overwritten
    # the same setting opens it and computes nothing
    env = gym.make("FrameSelection-v0", **_online(videos, spec=one, split="test",
                                                  view="center", views=1, cache=cache))
    obs2, _ = env.reset(options={"index": 0})
    _assert_obs_equal(obs, obs2)
    assert env.unwrapped.source.store.num_computed == 0
    env.close()


KILL_SCRIPT = textwrap.dedent("""
    import sys

    import gymnasium as gym

    import frame_select_env  # noqa: F401


    def main() -> None:
        videos, cache, spec, flush_every = sys.argv[1:5]
        order = [int(i) for i in sys.argv[5].split(",")]
        env = gym.make("FrameSelection-v0", videos=spec, classifier="builtin", device="cpu",
                       split="test", view="center", cache=cache,
                       online_options={"video_root": videos, "workers": 0,
                                       "flush_every": int(flush_every)})
        for i in order:  # one reset at a time: one video computed (or read) per reset
            env.reset(options={"index": i})
        env.close()
        print("finished")


    if __name__ == "__main__":
        main()
""")


def _cache_contents(cache: Path) -> tuple[list[str], list[str]]:
    """(video ids in the cache store, video ids in readable parts) of a cache at rest."""
    in_store = [str(v) for v in FeatureStore(cache).video_ids] if cache.is_file() else []
    in_parts = []
    for p in sorted(Path(f"{cache}.parts").glob("*.npz")):
        try:
            with np.load(p) as z:
                in_parts.append(str(z["video_id"]))
        except Exception:  # a torn temporary part: the next run drops it
            pass
    return in_store, in_parts


def _num_cached(cache: Path) -> int:
    """Videos in the cache (store or parts) while a run may be writing it."""
    try:
        in_store, in_parts = _cache_contents(cache)
    except (OSError, StoreError):  # replaced while being opened: look again
        return -1
    return len(set(in_store) | set(in_parts))


def test_killed_cached_run_loses_and_doubles_nothing(videos: Path, extracted: Path,
                                                     tmp_path: Path) -> None:
    from frame_select_env.pipeline.online import open_online_store

    script = tmp_path / "fill_cache.py"
    script.write_text(KILL_SCRIPT)
    cache = tmp_path / "killed.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(20240611)
    # flush_every: 64 leaves parts only (no store before the end); 1 folds after every video,
    # so the second run folds the first's parts, then rewrites the store under the kill
    runs = [("64", "0,1,2,3"), ("1", "3,2,1,0")]
    done: set[str] = set()
    killed = 0
    for flush_every, order in runs:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(videos), str(cache), SPEC, flush_every, order],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 50
            # wait until this run has computed a video (a new part or store row), or ended
            while proc.poll() is None and _num_cached(cache) <= len(done):
                assert time.monotonic() < deadline, "the fill script wrote nothing"
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, 0.9))  # then kill it at a random moment
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
        if cache.is_file():
            validate_store(cache)  # never torn, whenever the kill came
        in_store, in_parts = _cache_contents(cache)
        assert len(set(in_store)) == len(in_store)  # nothing doubled in the store
        now = set(in_store) | set(in_parts)
        assert done <= now, "a finished video was lost"
        done = now
    assert killed >= 1  # at least one run died mid-way
    assert 0 < len(done) <= N_VIDEOS

    # a new run folds what the killed ones left and computes only the rest
    store, _ = open_online_store(SPEC, "builtin", device="cpu", cache=cache,
                                 options={"video_root": videos, "workers": 0})
    assert set(str(v) for v in store._cached_rows) == done  # every part folded at open
    store.ensure(range(N_VIDEOS))
    assert store.num_computed == N_VIDEOS - len(done)
    store.close()
    summary = validate_store(cache)
    assert summary["num_videos"] == N_VIDEOS
    cached = FeatureStore(cache)
    ids = [str(v) for v in cached.video_ids]
    assert len(set(ids)) == N_VIDEOS
    assert ids == list(FeatureStore(extracted).video_ids)
    _assert_rows_equal(cached, FeatureStore(extracted))
    assert not list(Path(f"{cache}.parts").glob("*.npz"))


# ----------------------------------------------------------------------------- bad input


def test_bad_video_error_names_the_file(videos: Path, tmp_path: Path) -> None:
    cls = _class_names()[0]
    folder = tmp_path / "clips"
    folder.mkdir()
    broken = folder / "broken.avi"
    broken.write_bytes(np.random.default_rng(0).bytes(4096))
    good = sorted((videos / "test").glob(f"{cls}_*.avi"))[0]
    (folder / good.name).write_bytes(good.read_bytes())
    # (path, label) pairs: a folder spec is not scanned (see test_video_folder_is_scanned)
    listed = [(str(broken), cls), (str(folder / good.name), 0)]
    no_root = {"video_root": None}  # paths relative to their common folder, not to `videos`

    env = gym.make("FrameSelection-v0", **_online(videos, spec=listed, split="test",
                                                  view="center", views=1,
                                                  online_options=no_root))
    store = env.unwrapped.source.store
    ids = list(store.video_ids)
    assert ids == ["broken", good.stem]  # nothing is opened before it is needed
    with pytest.raises(VideoReadError, match="broken.avi") as e:
        env.reset(options={"video_id": "broken"})
    assert e.value.path == str(broken) and "cannot open" in e.value.reason
    obs, _ = env.reset(options={"video_id": good.stem})  # the good one still works
    assert np.isfinite(obs["features"]).all()
    env.close()

    # in a batch the good video is kept, the error names the bad one
    venv = gym.make_vec("FrameSelection-v0", num_envs=2,
                        **_online(videos, spec=listed, split="test", view="center", views=1,
                                  online_options=no_root))
    store = venv.unwrapped.source.store
    with pytest.raises(VideoReadError, match="broken.avi"):
        venv.reset(options={"indices": [1, 0]})
    assert store.is_ready([1]) and not store.is_ready([0])
    assert [Path(p).name for p, _ in store.failures] == ["broken.avi"]
    venv.close()

    # a missing file in a list: refused when the env is made, naming it
    missing = tmp_path / "nowhere" / "missing.avi"
    with pytest.raises(VideoReadError, match="missing.avi") as e:
        gym.make("FrameSelection-v0", **_online(videos, spec=[(str(missing), 0)],
                                                split="test", views=1))
    assert e.value.reason == "missing file"
    # and in a plain list file
    list_file = tmp_path / "list.txt"
    list_file.write_text(f"{good.name} 0 test\ngone.avi 0 test\n")
    with pytest.raises(VideoReadError, match="gone.avi"):
        gym.make("FrameSelection-v0", **_online(videos, spec=list_file, split="test", views=1,
                                                online_options={"video_root": folder}))


def test_skip_bad_reports_and_skips(videos: Path, extracted: Path, tmp_path: Path) -> None:
    names = _class_names()
    folder = tmp_path / "mixed"
    folder.mkdir()
    goods = [sorted((videos / "test").glob(f"{c}_*.avi"))[0] for c in (names[0], names[3])]
    for g in goods:  # label from the <class>_<k> name; no sidecar needed (no relevance)
        (folder / g.name).write_bytes(g.read_bytes())
    (folder / "broken.avi").write_bytes(np.random.default_rng(1).bytes(4096))
    # the folder's files as a list (a folder spec is not scanned: test_video_folder_is_scanned)
    listed = [str(folder / g.name) for g in goods] + [(str(folder / "broken.avi"), names[0])]

    cache = tmp_path / "skip.h5"
    with pytest.warns(UserWarning, match="broken.avi"):
        env = gym.make("FrameSelection-v0", **_online(
            videos, spec=listed, split="test", view="center", cache=cache, skip_bad=True,
            online_options={"video_root": None}))  # ids relative to the folder
    store = env.unwrapped.source.store
    assert len(store) == 2 and [Path(p).name for p, _ in store.skipped] == ["broken.avi"]
    assert list(store.video_ids) == [g.stem for g in goods]
    failures = Path(f"{cache}.failures.txt").read_text()
    assert "broken.avi" in failures and "cannot open" in failures
    stored = gym.make("FrameSelection-v0", store=extracted, split="test", view="center")
    for i in range(2):  # the rows left are the good videos, with their own labels and states
        obs, info = env.reset(options={"index": i})
        want, want_info = stored.reset(options={"video_id": f"test/{info['video_id']}"})
        assert info["label"] == want_info["label"]
        _assert_obs_equal(obs, want)
    stored.close()
    env.close()
    cached = FeatureStore(cache)
    assert validate_store(cache)["num_videos"] == 2 and not cached.has_relevance
    ref = FeatureStore(extracted)
    for r, vid in enumerate(cached.video_ids):
        i = ref.index_of(f"test/{vid}")
        for s in ("rgb", "flow"):
            np.testing.assert_array_equal(cached.logits(s, r), ref.logits(s, i))


def test_video_folder_is_scanned(videos: Path, tmp_path: Path) -> None:
    """README: ``videos`` may be a folder, labels from ``<class>_<k>`` names or class folders."""
    from frame_select_env.pipeline.online import resolve_videos

    names = _class_names()
    folder = tmp_path / "clips"
    (folder / names[3]).mkdir(parents=True)
    good = sorted((videos / "test").glob(f"{names[0]}_*.avi"))[0]
    (folder / good.name).write_bytes(good.read_bytes())
    (folder / names[3] / "v_1.avi").write_bytes(good.read_bytes())
    root, records, _, _ = resolve_videos(folder, names, "test")
    assert root == folder
    assert sorted((r.path, r.label) for r in records) == sorted(
        [(f"{names[3]}/v_1.avi", 3), (good.name, 0)])


def test_online_arguments_are_checked(videos: Path) -> None:
    def make(**kw):
        return gym.make("FrameSelection-v0", **_online(videos, split="test", **kw))

    with pytest.raises(ValueError, match=r"online_options: unknown keys \['wrokers'\]"):
        make(online_options={"wrokers": 2})
    with pytest.raises(ValueError, match="num_views must be 1 or 10, got 3"):
        make(views=3)
    with pytest.raises(ValueError, match="flow method must be one of .* got 'optical'"):
        make(flow="optical")
    with pytest.raises(ValueError, match="give store=.* or videos=.*not both"):
        make(store=PACKAGED_STORE)
    with pytest.raises(ValueError, match="unknown split 'nosuchsplit'"):
        make(spec="builtin:nosuchsplit")
    with pytest.raises(ValueError, match=r"expected 'builtin:<split>\[:<count>\]'"):
        make(spec="builtin:test:many")
    with pytest.raises(ValueError, match="cache, views only apply to online mode"):
        gym.make("FrameSelection-v0", store=PACKAGED_STORE, cache="x.h5", views=10)
    with pytest.raises(FileNotFoundError, match="nosuch_rgb.pt"):
        gym.make("FrameSelection-v0", videos=SPEC, device="cpu",
                 classifier={"rgb": videos / "nosuch_rgb.pt", "flow": videos / "f.pt"},
                 online_options={"video_root": videos, "workers": 0})


# ----------------------------------------------------------------------------- the script


def test_extract_script_accepts_builtin_classifier(videos: Path, extracted: Path,
                                                   tmp_path: Path) -> None:
    ref = FeatureStore(extracted)
    listed = tmp_path / "videos.txt"
    listed.write_text("".join(f"{vid}.avi {int(lab)} {split}\n" for vid, lab, split
                              in zip(ref.video_ids, ref.labels, ref.splits, strict=True)))
    out = tmp_path / "script.h5"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "extract_features.py"), "--list", str(listed),
         "--root", str(videos), "--out", str(out), "--classifier", "builtin", "--device", "cpu",
         "--workers", "0", "--no-progress"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"done: {N_VIDEOS}/{N_VIDEOS} videos stored" in proc.stdout
    validate_store(out)
    got = FeatureStore(out)
    assert list(got.video_ids) == list(ref.video_ids)
    assert got.class_names == ref.class_names
    # the builtin classifier's recorded settings and id, as extract_features got them
    assert got.metadata["config"] == ref.metadata["config"]
    assert got.metadata["classifier"] == ref.metadata["classifier"]
    _assert_rows_equal(got, ref, relevance=False)  # the script has no relevance source
