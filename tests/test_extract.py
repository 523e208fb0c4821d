"""Feature extraction end to end on the nine real UCF101 clips (+ a corrupt and a missing file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frame_select_env.pipeline.datasets.lists import VideoRecord
from frame_select_env.pipeline.extract import (
    ExtractConfig,
    classify_video,
    extract_features,
    parse_shard,
    prepare_video,
)
from frame_select_env.pipeline.models.classifier import TwoStreamClassifier
from frame_select_env.store import FeatureStore, validate_store
from scripts import extract_features as extract_script
from scripts import merge_stores

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO.parent / "shared" / "realdata" / "ucf101_clips"
pytestmark = pytest.mark.skipif(
    not CLIPS.is_dir() or len(list(CLIPS.glob("*.mp4"))) < 9,
    reason=f"the nine real clips are not at {CLIPS}",
)
SMALL = ["--num-frames", "5", "--size", "128", "96", "--crop", "96", "--arch", "small",
         "--random-init", "--device", "cpu", "--no-progress", "--seed", "3"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Video root: symlinks to the real clips, a corrupt file; the list also names a missing one."""
    root = tmp_path_factory.mktemp("videos")
    clips = sorted(CLIPS.glob("*.mp4"))
    classes = sorted({c.name.split("_")[1] for c in clips})
    lines = []
    for c in clips:
        (root / c.name).symlink_to(c)
        lines.append(f"{c.name} {classes.index(c.name.split('_')[1])} test")
    (root / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(20000))
    lines.insert(4, "corrupt.mp4 0 test")
    lines.append("missing.mp4 1 test")
    lst = root.parent / "list.txt"
    lst.write_text("\n".join(lines) + "\n")
    cls = root.parent / "classes.txt"
    cls.write_text("\n".join(classes) + "\n")
    return root, lst, cls, classes, clips


@pytest.mark.filterwarnings("ignore:RANDOM-INIT")
def test_end_to_end_failures_resume_and_values(data, tmp_path, capsys):
    root, lst, cls, classes, clips = data
    out = tmp_path / "feats.h5"
    main = extract_script.main
    argv = ["--list", str(lst), "--classes", str(cls), "--root", str(root), "--out", str(out),
            "--workers", "1", *SMALL]
    assert main(argv) == 1  # two videos failed
    text = capsys.readouterr().out
    assert "9/11 videos stored" in text and "2 failed" in text
    fails = dict(line.split("\t") for line in (tmp_path / "feats.h5.failures.txt")
                 .read_text().splitlines())
    assert set(fails) == {str(root / "corrupt.mp4"), str(root / "missing.mp4")}
    assert fails[str(root / "missing.mp4")] == "missing file"
    assert "cannot open" in fails[str(root / "corrupt.mp4")] or "no decodable" in fails[
        str(root / "corrupt.mp4")]

    info = validate_store(out)
    assert info["num_videos"] == 9 and info["num_frames"] == 5
    store = FeatureStore(out)
    assert list(store.video_ids) == [c.stem for c in clips]
    assert [store.class_names[i] for i in store.labels] == [c.name.split("_")[1] for c in clips]
    assert set(store.splits) == {"test"} and store.streams == ["rgb", "flow"]
    assert store.relevance(0) is None
    feats = store.features("flow", np.arange(9))
    assert feats.shape[:3] == (9, 5, 1) and np.isfinite(feats).all()
    assert np.abs(np.diff(feats.astype(np.float32), axis=0)).max() > 0  # videos differ

    # the stored numbers are the classifier's outputs on the sampled views
    cfg = ExtractConfig(num_frames=5, size=(128, 96), crop=96)
    clf = TwoStreamClassifier.random_init("small", len(classes), 5, seed=3, device="cpu",
                                          class_names=classes)
    ref = classify_video(clf, prepare_video(clips[2], cfg), cfg)
    for s in ("rgb", "flow"):
        np.testing.assert_allclose(store.features(s, 2), ref[f"{s}_features"], rtol=2e-2,
                                   atol=2e-3)
        np.testing.assert_allclose(store.logits(s, 2), ref[f"{s}_logits"], rtol=2e-2, atol=2e-3)

    # a rerun resumes: no video is decoded again and no model is even built
    parts = sorted((tmp_path / "feats.h5.parts").glob("*.npz"))
    mtimes = [p.stat().st_mtime_ns for p in parts]
    assert len(parts) == 9
    assert main(argv) == 1
    assert "(9 resumed)" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in parts] == mtimes
    FeatureStore(out).features("rgb", 0)  # still valid and readable


def test_relevance_callback_and_shards_merge(data, tmp_path):
    root, _, _, classes, clips = data
    recs = [VideoRecord(c.name, classes.index(c.name.split("_")[1]), "train") for c in clips[:3]]
    cfg = ExtractConfig(num_frames=4, size=(128, 96), crop=96)

    def factory():
        return TwoStreamClassifier.random_init("small", len(classes), 5, seed=1, device="cpu",
                                               class_names=classes)

    def relevance(rec, idx, n):  # second half of every video counts as relevant
        return (idx >= n // 2).astype(np.uint8)

    full = extract_features(recs, root, tmp_path / "full.h5", factory, classes, cfg,
                            classifier_id="r1", relevance_fn=relevance, progress=False)
    assert full.num_done == 3 and not full.failures
    store = FeatureStore(full.store_path)
    rel = store.relevance(np.arange(3))
    assert rel.shape == (3, 4) and rel[:, 0].sum() == 0 and rel[:, -1].sum() == 3

    def boom():
        raise AssertionError("a finished run must not rebuild the classifier")

    again = extract_features(recs, root, tmp_path / "full.h5", boom, classes, cfg,
                             classifier_id="r1", relevance_fn=relevance, progress=False)
    assert again.num_skipped == 3 and again.num_done == 3

    shards = []
    for i in range(2):
        res = extract_features(recs, root, tmp_path / f"s{i}.h5", factory, classes, cfg,
                               classifier_id="r1", relevance_fn=relevance, shard=(i, 2),
                               progress=False)
        shards.append(str(res.store_path))
    assert len(FeatureStore(shards[0])) == 2 and len(FeatureStore(shards[1])) == 1
    merge = merge_stores.main
    assert merge([*shards, "--out", str(tmp_path / "merged.h5"), "--sort-ids"]) == 0
    merged = FeatureStore(tmp_path / "merged.h5")
    assert sorted(merged.video_ids) == list(merged.video_ids) == sorted(store.video_ids)
    for vid in store.video_ids:
        a, b = store.index_of(vid), merged.index_of(vid)
        np.testing.assert_array_equal(store.features("flow", a), merged.features("flow", b))
        np.testing.assert_array_equal(store.relevance(a), merged.relevance(b))
    # stores of another config do not merge
    other = extract_features(recs[:1], root, tmp_path / "o.h5", factory, classes,
                             ExtractConfig(num_frames=3, size=(128, 96), crop=96),
                             classifier_id="r1", progress=False)
    assert merge([shards[0], str(other.store_path), "--out", str(tmp_path / "bad.h5")]) == 2
    assert not (tmp_path / "bad.h5").exists()


def test_parse_shard():
    assert parse_shard("1/4") == (1, 4) and parse_shard(None) == (0, 1)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


def test_list_paths_find_rawframe_folders(tmp_path: Path) -> None:
    from frame_select_env.pipeline.extract import video_location

    (tmp_path / "Class" / "v_x").mkdir(parents=True)
    assert video_location(tmp_path, "Class/v_x.avi") == tmp_path / "Class" / "v_x"
    (tmp_path / "Class" / "v_y.avi").write_bytes(b"\0")
    assert video_location(tmp_path, "Class/v_y.avi") == tmp_path / "Class" / "v_y.avi"
    # Neither exists: the listed path is kept, so the failure report names it.
    assert video_location(tmp_path, "Class/v_z.avi") == tmp_path / "Class" / "v_z.avi"
