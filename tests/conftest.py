"""Shared fixtures: small feature stores written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from frame_select_env.store.synthetic import make_synthetic_store

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"

@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 videos, T=25, 3 views, D=16, 6 classes, rgb + flow, with relevance."""
    return make_synthetic_store(
        tmp_path_factory.mktemp("stores") / "small.h5", num_videos=120, num_views=3,
        feature_dim=16, num_classes=6, seed=0,
    )
