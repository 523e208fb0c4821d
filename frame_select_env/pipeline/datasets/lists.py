"""Video lists: official UCF101 / HMDB51 split files and a plain list format.

Labels are 0-based everywhere in this package (UCF101's ``classInd.txt`` is 1-based; the parser
subtracts one). Paths are relative to a video root folder, e.g. ``ApplyEyeMakeup/v_x.avi``.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from frame_select_env.core.config import UserError

#: the subsets of the official UCF101 / HMDB51 split files
OFFICIAL_SPLITS = ("train", "test")


@dataclass(frozen=True)
class VideoRecord:
    """One video of a list.

    :param path: path relative to the video root (file or raw-frame folder)
    :param label: 0-based class index, or None when unknown
    :param split: ``train``, ``test`` (or any tag from a plain list), or None
    """

    path: str
    label: int | None = None
    split: str | None = None

    @property
    def video_id(self) -> str:
        """Path without extension, used as the id in feature stores."""
        return str(Path(self.path).with_suffix("")).replace(os.sep, "/")


class ListFormatError(UserError):
    """A malformed line of a list file; the message names the file and the line number."""

    def __init__(self, path: str | os.PathLike, line_no: int | None, msg: str) -> None:
        where = f"{path}" if line_no is None else f"{path}:{line_no}"
        super().__init__(f"{where}: {msg}")


def _lines(path: str | os.PathLike) -> list[tuple[int, str]]:
    """Non-empty stripped lines with their 1-based numbers (CRLF and BOM tolerant)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"list file not found: {p}")
    text = p.read_text(encoding="utf-8-sig")
    return [(i, s.strip()) for i, s in enumerate(text.splitlines(), 1) if s.strip()]


# ---------------------------------------------------------------- UCF101
def read_ucf101_classes(class_ind: str | os.PathLike) -> list[str]:
    """Class names in label order from ``classInd.txt`` ("1 ApplyEyeMakeup" per line)."""
    names: dict[int, str] = {}
    for no, line in _lines(class_ind):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ListFormatError(class_ind, no, f"expected '<index> <ClassName>', got {line!r}")
        idx = int(parts[0])
        if idx in names:
            raise ListFormatError(class_ind, no, f"duplicate class index {idx}")
        names[idx] = parts[1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise ListFormatError(class_ind, None, "class indices are not 1..N without gaps")
    return [names[i] for i in range(1, len(names) + 1)]


def read_ucf101_list(
    list_file: str | os.PathLike, class_names: list[str], split: str
) -> list[VideoRecord]:
    """``trainlist0k.txt`` ("Class/v_x.avi 1", 1-based) or ``testlist0k.txt`` ("Class/v_x.avi").

    The label of a test line comes from its class folder; a train line's label must agree with it.

    :param list_file: split list
    :param class_names: from :func:`read_ucf101_classes`
    :param split: tag stored in the records (``train`` / ``test``)
    """
    index = {c: i for i, c in enumerate(class_names)}
    out = []
    for no, line in _lines(list_file):
        parts = line.split()
        if len(parts) not in (1, 2):
            raise ListFormatError(
                list_file, no, f"expected '<Class>/<video> [label]', got {line!r}"
            )
        rel = parts[0]
        cls = rel.split("/")[0] if "/" in rel else None
        if cls is None or cls not in index:
            raise ListFormatError(list_file, no, f"unknown class folder in {rel!r}")
        label = index[cls]
        if len(parts) == 2:
            if not parts[1].isdigit():
                raise ListFormatError(list_file, no, f"label {parts[1]!r} is not an integer")
            if int(parts[1]) - 1 != label:
                raise ListFormatError(
                    list_file, no, f"label {parts[1]} disagrees with class folder {cls!r}"
                )
        out.append(VideoRecord(rel, label, split))
    return out


# ---------------------------------------------------------------- HMDB51
_HMDB_RE = re.compile(r"^(?P<cls>.+)_test_split(?P<k>\d+)\.txt$")


def read_hmdb51_split(
    splits_dir: str | os.PathLike, split: int
) -> tuple[list[VideoRecord], list[str]]:
    """HMDB51 ``<class>_test_split<k>.txt`` files ("<video>.avi <flag>", 1 train, 2 test, 0 unused).

    :param splits_dir: folder with the 153 split files
    :param split: k in 1..3
    :return: (train + test records, class names sorted alphabetically)
    """
    d = Path(splits_dir)
    files = {}
    for p in sorted(d.iterdir()) if d.is_dir() else []:
        m = _HMDB_RE.match(p.name)
        if m and int(m.group("k")) == split:
            files[m.group("cls")] = p
    if not files:
        raise FileNotFoundError(f"no HMDB51 files '*_test_split{split}.txt' in {d}")
    class_names = sorted(files)
    out = []
    for label, cls in enumerate(class_names):
        for no, line in _lines(files[cls]):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ListFormatError(
                    files[cls], no, f"expected '<video>.avi <0|1|2>', got {line!r}"
                )
            flag = parts[1]
            if flag == "0":
                continue
            out.append(VideoRecord(f"{cls}/{parts[0]}", label, "train" if flag == "1" else "test"))
    return out, class_names


# ---------------------------------------------------------------- plain lists
_SPACES = " (a path with spaces needs quotes, or a tab after it)"


def _plain_fields(list_file: str | os.PathLike, no: int, line: str) -> list[str]:
    """The fields of one plain-list line: ``path [label] [split]`` (see :func:`read_plain_list`)."""
    if "\t" in line:  # tab-separated: the path is everything before the first tab
        path, _, rest = line.partition("\t")
        path, rest = path.strip(), rest.split("#", 1)[0]
        return ([path] if path else []) + rest.split()
    if '"' in line or "'" in line:  # shell-style quoting: "my clips/a b.avi" 3 train
        try:
            return shlex.split(line, comments=True)
        except ValueError as err:  # an unclosed quote
            raise ListFormatError(list_file, no, f"{err} in {line!r}") from None
    return line.split("#", 1)[0].split()


def check_unique_ids(records: list[VideoRecord], where: str | os.PathLike,
                     lines: list[int] | None = None) -> None:
    """Refuse two records with one video id (``x.avi`` and ``x.mp4`` are both ``x``).

    The id names a video in feature stores and caches, so two videos with one id would collide
    there, found only after the whole extraction; a list is checked when it is read.

    :param records: the records, in list order.
    :param where: the list file (or a description of the source) for the message.
    :param lines: the records' 1-based line numbers, when they come from a file.
    :raises ListFormatError: naming both paths (and lines) and the list.
    """
    first: dict[str, int] = {}
    for k, rec in enumerate(records):
        vid = rec.video_id
        if vid not in first:
            first[vid] = k
            continue
        j = first[vid]
        at = "" if lines is None else f" (line {lines[j]})"
        raise ListFormatError(
            where, None if lines is None else lines[k],
            f"{rec.path!r} and {records[j].path!r}{at} have the same video id {vid!r} (the path "
            f"without its extension, which names the video in feature stores); rename one")


def read_plain_list(list_file: str | os.PathLike) -> list[VideoRecord]:
    """Plain list: one ``relative/path [label] [split]`` per line; ``#`` starts a comment.

    ``label`` is a 0-based integer or ``-`` (unknown). A path with spaces is written in quotes
    (``"my clips/a b.avi" 3 train``, shell rules) or followed by a tab (``my clips/a b.avi<TAB>3
    train``: everything before the first tab is the path). Two paths with the same video id
    (``x.avi`` and ``x.mp4``) are an error naming both.
    """
    out, line_nos = [], []
    for no, line in _lines(list_file):
        parts = _plain_fields(list_file, no, line)
        if not parts:
            continue
        if len(parts) > 3:
            raise ListFormatError(list_file, no,
                                  f"expected 'path [label] [split]', got {line!r}{_SPACES}")
        label = None
        if len(parts) >= 2 and parts[1] != "-":
            try:
                label = int(parts[1])
            except ValueError:
                raise ListFormatError(
                    list_file, no, f"label {parts[1]!r} is not an integer{_SPACES}"
                ) from None
            if label < 0:
                raise ListFormatError(list_file, no, f"negative label {label}")
        split = parts[2] if len(parts) == 3 else None
        out.append(VideoRecord(parts[0], label, split))
        line_nos.append(no)
    check_unique_ids(out, list_file, line_nos)
    return out


def read_class_names(path: str | os.PathLike) -> list[str]:
    """One class name per line (or ``classInd.txt`` style "<1-based index> <name>")."""
    lines = _lines(path)
    if lines and all(len(s.split()) == 2 and s.split()[0].isdigit() for _, s in lines):
        return read_ucf101_classes(path)
    return [s for _, s in lines]


# ---------------------------------------------------------------- entry point
def _find(splits_dir: Path, marker: str, sub: tuple[str, ...]) -> Path:
    """Accept the folder itself or a parent that holds one of the usual sub-folders."""
    if any(splits_dir.glob(marker)):
        return splits_dir
    for s in sub:
        if any((splits_dir / s).glob(marker)):
            return splits_dir / s
    raise FileNotFoundError(f"no {marker} under {splits_dir} (or {', '.join(sub)})")


def load_dataset(
    name: str, splits_dir: str | os.PathLike, split: int = 1, subset: str | None = None
) -> tuple[list[VideoRecord], list[str]]:
    """Records and class names of an official split.

    :param name: ``ucf101`` or ``hmdb51``
    :param splits_dir: folder with the split files, or a parent holding ``ucfTrainTestlist`` /
        ``hmdb51_splits`` (or ``ucf101_splits``)
    :param split: split number 1..3
    :param subset: ``train``, ``test`` or None for both (train first)
    :return: (records, class_names); labels are 0-based indices into class_names
    """
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3, got {split}")
    if subset not in (None, *OFFICIAL_SPLITS):
        raise ValueError(f"subset must be 'train', 'test' or None, got {subset!r}")
    name = name.lower()
    d = Path(splits_dir)
    if name == "ucf101":
        d = _find(d, "classInd.txt", ("ucfTrainTestlist", "ucf101_splits"))
        classes = read_ucf101_classes(d / "classInd.txt")
        recs = read_ucf101_list(d / f"trainlist0{split}.txt", classes, "train")
        recs += read_ucf101_list(d / f"testlist0{split}.txt", classes, "test")
    elif name == "hmdb51":
        d = _find(d, f"*_test_split{split}.txt", ("hmdb51_splits", "testTrainMulti_7030_splits"))
        recs, classes = read_hmdb51_split(d, split)
        recs = [r for r in recs if r.split == "train"] + [r for r in recs if r.split == "test"]
    else:
        raise ValueError(f"unknown dataset {name!r}; choose 'ucf101' or 'hmdb51'")
    if subset is not None:
        recs = [r for r in recs if r.split == subset]
    return recs, classes
