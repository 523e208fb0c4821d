"""Atomic writes: all-or-nothing, and reproducible bytes for checkpoints."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from frame_select_env.store.atomic import atomic_torch_save, atomic_write_text


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_torch_save_bytes_do_not_depend_on_the_file_name(tmp_path: Path) -> None:
    # The built-in store's metadata names its classifier by checkpoint hashes, so a rebuild is
    # bit-for-bit only if equal checkpoints are equal files wherever they are written.
    obj = {"w": torch.arange(12.0).reshape(3, 4), "meta": {"epoch": 3, "name": "x"}}
    a = atomic_torch_save(obj, tmp_path / "a" / "model.pt")
    b = atomic_torch_save(obj, tmp_path / "checkpoint_other_name.pt")
    assert _sha(a) == _sha(b)
    loaded = torch.load(a, weights_only=True)
    assert torch.equal(loaded["w"], obj["w"]) and loaded["meta"] == obj["meta"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "f.txt", "old")
    with pytest.raises((TypeError, AttributeError)):
        atomic_torch_save({"bad": lambda: 0}, tmp_path / "f.txt")  # lambdas cannot be pickled
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temporary left behind
