"""Bring your own features: several streams, per-video folders, a fitted head (issue 22)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from frame_select_env.core.sampling import segment_centres
from frame_select_env.pipeline.feature_import import import_store, read_folder, read_video_table
from frame_select_env.pipeline.models.head import apply_head, fit_head, pooled
from frame_select_env.store import FeatureStore, write_store
from scripts.import_features import main

N, T, C = 12, 6, 3
SPLIT = np.array(["train"] * 6 + ["val"] * 2 + ["test"] * 4)


def _arrays(seed: int, d: int, v: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, T, v, d)).astype(np.float32),
            rng.normal(size=(N, T, v, C)).astype(np.float32))


def _common() -> dict[str, np.ndarray]:
    return {"labels": np.arange(N) % C, "split": SPLIT,
            "video_ids": np.array([f"v{i:02d}" for i in range(N)]),
            "class_names": np.array(["run", "jump", "swim"])}


def _store_arrays(path: Path) -> dict[str, object]:
    s = FeatureStore(path)
    rows = np.arange(len(s))
    out: dict[str, object] = {"ids": list(s.video_ids), "labels": s.labels.tolist(),
                              "splits": list(s.splits), "classes": s.class_names,
                              "streams": sorted(s.streams)}
    for name in s.streams:
        out[f"{name}_f"], out[f"{name}_l"] = s.features(name, rows), s.logits(name, rows)
    return out


def test_two_stream_import_equals_write_store(tmp_path: Path) -> None:
    (rf, rl), (ff, fl) = _arrays(0, 5), _arrays(1, 7, v=2)  # D and V differ per stream
    np.savez(tmp_path / "a.npz", features=rf[:, :, 0], logits=rl[:, :, 0], **_common())
    np.savez(tmp_path / "b.npz", features=ff, logits=fl, **_common())
    assert main(["--stream", "rgb", str(tmp_path / "a.npz"), "--stream", "flow",
                 str(tmp_path / "b.npz"), str(tmp_path / "cli.h5")]) == 0
    c = _common()
    write_store(tmp_path / "ref.h5", features={"rgb": rf, "flow": ff},
                logits={"rgb": rl, "flow": fl}, labels=c["labels"],
                video_ids=list(c["video_ids"]), splits=list(SPLIT),
                class_names=list(c["class_names"]))
    ref = _store_arrays(tmp_path / "ref.h5")
    # one .npz with <stream>_features / <stream>_logits is the same import
    np.savez(tmp_path / "both.npz", rgb_features=rf, rgb_logits=rl, flow_features=ff,
             flow_logits=fl, **_common())
    import_store(tmp_path / "one.h5", npz=[(None, str(tmp_path / "both.npz"))])
    for got in (_store_arrays(tmp_path / "cli.h5"), _store_arrays(tmp_path / "one.h5")):
        assert got.keys() == ref.keys()
        for key, value in ref.items():
            np.testing.assert_array_equal(got[key], value, err_msg=key)
    meta = FeatureStore(tmp_path / "cli.h5").metadata
    assert meta["probabilities"] == {"rgb": "given", "flow": "given"}
    assert meta["inputs"] == ["a.npz", "b.npz"]


@pytest.mark.parametrize("what, change, message", [
    ("ids", lambda c: c["video_ids"].__setitem__(4, "v99"),
     r"disagree at video row 4 \('v04'\): id 'v99' vs 'v04'"),
    ("labels", lambda c: c["labels"].__setitem__(7, 0), r"row 7 \('v07'\): label 0 vs 1"),
    ("splits", lambda c: c["split"].__setitem__(9, "val"), r"row 9 \('v09'\): split 'val' vs "
                                                           r"'test'"),
])
def test_streams_that_disagree_are_refused_naming_the_first_mismatch(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str, change, message: str
) -> None:
    f, lg = _arrays(0, 4)
    np.savez(tmp_path / "rgb.npz", features=f, logits=lg, **_common())
    other = _common()
    other["split"] = other["split"].copy()
    change(other)
    if what == "ids":  # a second mismatch further down: the first one is named
        other["video_ids"][10] = "v98"
    np.savez(tmp_path / "flow.npz", features=f, logits=lg, **other)
    assert main(["--stream", "rgb", str(tmp_path / "rgb.npz"), "--stream", "flow",
                 str(tmp_path / "flow.npz"), str(tmp_path / "out.h5")]) == 2
    err = capsys.readouterr().err
    assert "flow.npz" in err and "rgb.npz" in err
    assert re.search(message, err), err
    assert not (tmp_path / "out.h5").exists()


def test_streams_with_different_t_are_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    f, lg = _arrays(0, 4)
    np.savez(tmp_path / "rgb.npz", features=f, logits=lg, **_common())
    np.savez(tmp_path / "flow.npz", features=f[:, :4], logits=lg[:, :4], **_common())
    assert main(["--stream", "rgb", str(tmp_path / "rgb.npz"), "--stream", "flow",
                 str(tmp_path / "flow.npz"), str(tmp_path / "out.h5")]) == 2
    assert "have T=4 and T=6 frames per video" in capsys.readouterr().err


def test_folder_import_samples_segment_centres_lists_failures_and_resumes(
        tmp_path: Path) -> None:
    root = tmp_path / "feats"
    lengths = {"a": 6, "b": 17, "c": 40, "d": 3}  # d is shorter than T: frames repeat
    for stream, d in (("rgb", 4), ("flow", 2)):
        (root / stream).mkdir(parents=True)
        for k, (vid, n) in enumerate(lengths.items()):
            # each frame holds its own index, so the stored values say which frames were taken
            frames = np.arange(n, dtype=np.float32)[:, None] + np.zeros((1, d), np.float32) + k
            np.save(root / stream / f"{vid}.npy", frames)
    np.save(root / "flow" / "e.npy", np.zeros((9, 2)))  # e has no rgb file
    (root / "rgb" / "f.npy").write_bytes(b"not numpy")
    np.save(root / "flow" / "f.npy", np.zeros((9, 2)))
    listing = tmp_path / "videos.csv"
    listing.write_text("video_id,label,split\na,0,train\nb,1,train\nc,1,val\nd,0,test\n"
                       "e,1,train\nf,0,train\n")
    records = read_video_table(listing)
    out = tmp_path / "store.h5"
    got = read_folder(root, records, 5, out)
    assert got.reused == 0 and got.videos.video_ids == ["a", "b", "c", "d"]
    failures = (tmp_path / "store.h5.failures.txt").read_text().splitlines()
    assert failures[0] == f"{root / 'rgb' / 'e.npy'}\tfile not found"
    assert failures[1].startswith(f"{root / 'rgb' / 'f.npy'}\tnot a readable .npy")
    assert len(failures) == 2
    # a rerun reads the parts, not the files
    assert read_folder(root, records, 5, out).reused == 4
    logits_head = {"rgb": {"weight": torch.eye(3, 4), "bias": torch.zeros(3)},
                   "flow": {"weight": torch.ones(3, 2), "bias": torch.zeros(3)}}
    torch.save(logits_head, tmp_path / "head.pt")
    # videos that could not be read: a nonzero status, as extract_features.py (issue 28)
    assert main(["--folder", str(root), "--list", str(listing), "--num-frames", "5",
                 "--logits-from", str(tmp_path / "head.pt"), str(out)]) == 1
    assert main(["--folder", str(root), "--list", str(listing), "--num-frames", "5",
                 "--logits-from", str(tmp_path / "head.pt"), str(out),
                 "--allow-failures"]) == 0
    store = FeatureStore(out)
    for k, (vid, n) in enumerate(lengths.items()):
        want = segment_centres(n, 5).astype(np.float32) + k
        row = store.index_of(vid)
        np.testing.assert_array_equal(store.features("rgb", row)[:, 0, 0], want)
        np.testing.assert_array_equal(store.features("flow", row)[:, 0, 1], want)
    assert segment_centres(17, 5).tolist() == [1, 5, 8, 11, 15]  # the documented frames
    meta = store.metadata
    assert meta["source_frames"]["rgb"] == {"a": 6, "b": 17, "c": 40, "d": 3}
    assert meta["probabilities"] == {"rgb": "user_head", "flow": "user_head"}
    np.testing.assert_allclose(store.logits("rgb", 1)[:, 0], store.features("rgb", 1)[:, 0, :3])
    assert not Path(f"{out}.parts").exists()  # the store holds them now


def _separable(seed: int, n: int, t: int = 8, d: int = 6, c: int = 4
               ) -> tuple[np.ndarray, np.ndarray]:
    """Videos whose class shows in 2 of t frames (a class mean), plus noise."""
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(99).normal(size=(c, d)) * 3
    labels = np.arange(n) % c
    feats = rng.normal(size=(n, t, 1, d))
    for i, y in enumerate(labels):
        feats[i, rng.choice(t, 2, replace=False), 0] += means[y]
    return feats.astype(np.float32), labels


def _numpy_logistic_regression(x: np.ndarray, y: np.ndarray, c: int, l2: float,
                               steps: int = 3000, lr: float = 0.5) -> np.ndarray:
    """Softmax regression by full-batch gradient descent; returns (D+1, C) weights."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros((xb.shape[1], c))
    onehot = np.eye(c)[y]
    for _ in range(steps):
        z = xb @ w
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        grad = xb.T @ (p - onehot) / len(x)
        grad[:-1] += 2 * l2 * w[:-1]
        w -= lr * grad
    return w


def test_fitted_head_reaches_logistic_regression_accuracy(tmp_path: Path) -> None:
    feats, labels = _separable(0, 400)
    tr, va, te = np.arange(0, 240), np.arange(240, 300), np.arange(300, 400)
    fit = fit_head(feats[tr], labels[tr], feats[va], labels[va], 4, seed=0)
    pred = apply_head(fit.weight, fit.bias, feats[te]).mean(axis=(1, 2)).argmax(1)
    acc = float(np.mean(pred == labels[te]))
    w = _numpy_logistic_regression(pooled(feats[tr]), labels[tr], 4, l2=1e-4)
    ref = float(np.mean((np.hstack([pooled(feats[te]), np.ones((len(te), 1))]) @ w).argmax(1)
                        == labels[te]))
    assert ref > 0.8  # the set is separable enough that the comparison means something
    assert acc >= ref - 0.01, (acc, ref)
    assert fit_head(feats[tr], labels[tr], feats[va], labels[va], 4, seed=0).weight.tobytes() \
        == fit.weight.tobytes()  # seeded: the same head again
    # the same through the import: features only -> fitted head, recorded in the store
    split = np.array(["train"] * 240 + ["val"] * 60 + ["test"] * 100)
    np.savez(tmp_path / "mine.npz", features=feats[:, :, 0], labels=labels, split=split)
    assert main([str(tmp_path / "mine.npz"), str(tmp_path / "out.h5"), "--dtype",
                 "float32"]) == 0
    store = FeatureStore(tmp_path / "out.h5")
    meta = store.metadata
    assert meta["probabilities"] == {"rgb": "fitted_head"}
    assert meta["head"]["file"] == "out.h5.head.pt"
    assert meta["head"]["rgb"]["train_accuracy"] == pytest.approx(fit.train_accuracy)
    head = torch.load(tmp_path / "out.h5.head.pt", weights_only=True)
    np.testing.assert_allclose(store.logits("rgb", 5), apply_head(
        head["rgb"]["weight"].numpy(), head["rgb"]["bias"].numpy(), store.features("rgb", 5)),
        rtol=1e-5, atol=1e-5)
    # a head of the wrong size is refused naming the file
    torch.save({"weight": torch.zeros(4, 9), "bias": torch.zeros(4)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"bad.pt.*'rgb' weight \(4, 9\).*size 6"):
        import_store(tmp_path / "x.h5", npz=[(None, str(tmp_path / "mine.npz"))],
                     head_file=str(tmp_path / "bad.pt"))
    assert json.loads(json.dumps(meta))  # the metadata is plain JSON
