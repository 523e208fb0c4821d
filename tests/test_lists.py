"""Dataset lists: official UCF101 / HMDB51 split files (real and written) and plain lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from frame_select_env.pipeline.datasets.lists import (
    ListFormatError,
    VideoRecord,
    load_dataset,
    read_class_names,
    read_plain_list,
)

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
SPLITS = REAL / "splits"
needs_real = pytest.mark.skipif(not SPLITS.is_dir(), reason=f"real split files not at {SPLITS}")


@needs_real
def test_real_ucf101_split1():
    recs, classes = load_dataset("ucf101", SPLITS, 1)
    assert len(classes) == 101 and classes[0] == "ApplyEyeMakeup" and classes[-1] == "YoYo"
    train = [r for r in recs if r.split == "train"]
    test = [r for r in recs if r.split == "test"]
    assert (len(train), len(test)) == (9537, 3783)
    assert train[0] == VideoRecord("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 0, "train")
    assert all(classes[r.label] == r.path.split("/")[0] for r in recs)
    assert not any("\r" in r.path for r in recs)  # CRLF stripped
    only_test, _ = load_dataset("ucf101", SPLITS / "ucfTrainTestlist", 1, subset="test")
    assert only_test == test


@needs_real
def test_real_hmdb51_split1():
    recs, classes = load_dataset("hmdb51", SPLITS, 1)
    assert len(classes) == 51 and classes == sorted(classes) and "brush_hair" in classes
    assert sum(r.split == "train" for r in recs) == 3570
    assert sum(r.split == "test" for r in recs) == 1530
    r = recs[0]
    assert r.path == f"{classes[r.label]}/{Path(r.path).name}" and r.path.endswith(".avi")
    assert len({r.path for r in recs}) == len(recs)


def _ucf_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ucf"
    d.mkdir()
    (d / "classInd.txt").write_bytes(b"1 Archery\r\n2 Bowling\r\n")
    (d / "trainlist01.txt").write_bytes(
        b"Archery/v_Archery_g01_c01.avi 1\r\nBowling/v_Bowling_g02_c01.avi 2\r\n")
    (d / "testlist01.txt").write_bytes(b"Bowling/v_Bowling_g09_c03.avi\r\n\r\n")
    return d


def test_written_ucf101(tmp_path):
    recs, classes = load_dataset("ucf101", _ucf_dir(tmp_path), 1)
    assert classes == ["Archery", "Bowling"]
    assert recs == [
        VideoRecord("Archery/v_Archery_g01_c01.avi", 0, "train"),
        VideoRecord("Bowling/v_Bowling_g02_c01.avi", 1, "train"),
        VideoRecord("Bowling/v_Bowling_g09_c03.avi", 1, "test"),
    ]
    assert recs[2].video_id == "Bowling/v_Bowling_g09_c03"


def test_ucf101_errors_name_file_and_line(tmp_path):
    d = _ucf_dir(tmp_path)
    (d / "trainlist01.txt").write_text("Archery/a.avi 1\nArchery/b.avi 2\n")
    with pytest.raises(ListFormatError, match=r"trainlist01\.txt:2: label 2 disagrees"):
        load_dataset("ucf101", d, 1)
    (d / "trainlist01.txt").write_text("Archery/a.avi 1\nDancing/b.avi 2\n")
    with pytest.raises(ListFormatError, match=r"trainlist01\.txt:2: unknown class"):
        load_dataset("ucf101", d, 1)
    with pytest.raises(FileNotFoundError, match="trainlist02"):
        load_dataset("ucf101", d, 2)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("kinetics", d, 1)


def test_written_hmdb51(tmp_path):
    d = tmp_path / "hmdb"
    d.mkdir()
    (d / "wave_test_split1.txt").write_text("w1.avi 1 \nw2.avi 2 \nw3.avi 0 \n")
    (d / "clap_test_split1.txt").write_text("c1.avi 2 \n")
    (d / "clap_test_split2.txt").write_text("c1.avi 1 \n")
    recs, classes = load_dataset("hmdb51", d, 1)
    assert classes == ["clap", "wave"]
    assert recs == [
        VideoRecord("wave/w1.avi", 1, "train"),
        VideoRecord("clap/c1.avi", 0, "test"),
        VideoRecord("wave/w2.avi", 1, "test"),
    ]
    (d / "wave_test_split1.txt").write_text("w1.avi 1\nw2.avi 7\n")
    with pytest.raises(ListFormatError, match=r"wave_test_split1\.txt:2"):
        load_dataset("hmdb51", d, 1)


def test_plain_list(tmp_path):
    p = tmp_path / "list.txt"
    p.write_text("# comment\na/x.mp4 3 train\nb/y.mp4 - \nc/z 0\n\nd.avi\n")
    assert read_plain_list(p) == [
        VideoRecord("a/x.mp4", 3, "train"),
        VideoRecord("b/y.mp4", None, None),
        VideoRecord("c/z", 0, None),
        VideoRecord("d.avi", None, None),
    ]
    p.write_text("a.mp4 1\nb.mp4 one\n")
    with pytest.raises(ListFormatError, match=r"list\.txt:2: label 'one'"):
        read_plain_list(p)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_plain_list(tmp_path / "nope.txt")
    c = tmp_path / "classes.txt"
    c.write_text("run\njump\n")
    assert read_class_names(c) == ["run", "jump"]
