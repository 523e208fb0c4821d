"""Shared fixtures: small feature stores written by the tests themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from frame_select_env.store.synthetic import make_synthetic_store

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
#: the longest test files, started first so that two workers (``-n 2 --dist loadfile``) end
#: together: the documented commands run in one file, in order, and take a third of the suite
SLOW_FIRST = ("test_readme_commands.py", "test_wheel.py", "test_reproduce.py",
              "test_extract_distributed.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put :data:`SLOW_FIRST`'s files first, keeping every file's own order of tests."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # a stable sort


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a test module (small networks: fastest on a busy machine), restored
    after it. A module asks for it with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 videos, T=25, 3 views, D=16, 6 classes, rgb + flow, with relevance."""
    return make_synthetic_store(
        tmp_path_factory.mktemp("stores") / "small.h5", num_videos=120, num_views=3,
        feature_dim=16, num_classes=6, seed=0,
    )
