"""The docs' layout page matches the tree: every module listed, nothing listed is gone."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("frame_select_env", "agents", "baselines_zoo")


def _layout_paths() -> set[str]:
    text = (REPO / "docs" / "layout.md").read_text()
    block = text.split("```", 2)[1]
    paths: set[str] = set()
    stack: list[str] = []
    for line in block.splitlines():
        if not line.strip() or line.strip().startswith("#"):  # blank, or a layer's heading
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        names = re.split(r"\s{3,}", line.strip(), maxsplit=1)[0].split()
        del stack[depth:]
        for name in names:
            paths.add("/".join([*stack, name.rstrip("/")]))
        if len(names) == 1 and names[0].endswith("/") and names[0] != "data/":
            stack.append(names[0].rstrip("/"))
    return paths


def test_every_listed_path_exists() -> None:
    missing = sorted(p for p in _layout_paths() if not (REPO / p).exists())
    assert not missing, f"docs/layout.md lists paths that do not exist: {missing}"


def test_every_module_is_listed() -> None:
    listed = _layout_paths()
    modules = {str(p.relative_to(REPO)) for top in PACKAGES for p in (REPO / top).rglob("*.py")
               if p.name != "__init__.py" or p.parent.name == "frame_select_env"}
    assert not sorted(modules - listed), (
        f"docs/layout.md misses modules: {sorted(modules - listed)}")
    tops = {p.name for p in REPO.iterdir() if p.is_dir() and not p.name.startswith(".")
            and p.name not in ("runs", "build", "dist", "venv") and not p.name.endswith(".egg-info")
            and any(p.rglob("*.*"))}
    assert not sorted(tops - {p.split("/")[0] for p in listed}), sorted(tops)
