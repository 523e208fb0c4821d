"""The docs site: ``mkdocs build --strict`` passes offline, every page is in the nav and its
commands are run by tests/test_readme_commands.py, and the README stays short."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_readme_commands import DOCS

REPO = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250


def _nav_files(nav: list) -> list[str]:
    out: list[str] = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        out += _nav_files(value) if isinstance(value, list) else [value]
    return out


def _pages() -> set[str]:
    docs = REPO / "docs"
    return {str(p.relative_to(docs)) for p in docs.rglob("*.md")
            if not p.relative_to(docs).parts[0].startswith("_")}


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocstrings_handlers.python")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                          "--site-dir", str(tmp_path / "site")], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    site = tmp_path / "site"
    # the API reference is built from the docstrings: one page per layer, roles rendered
    core = (site / "api" / "core" / "index.html").read_text(encoding="utf-8")
    assert "selection_reward" in core and ":class:`" not in core and ":func:`" not in core
    for page in ("envs", "store", "pipeline", "evaluation", "agents", "baselines"):
        assert (site / "api" / page / "index.html").is_file(), page
    # a role naming another layer's object is a link to that page (here :mod:`...sequential.core`)
    assert 'href="../envs/#frame_select_env.envs.sequential.core"' in core
    # offline: no page asks for remote fonts
    assert "fonts.googleapis.com" not in (site / "index.html").read_text(encoding="utf-8")
    assert not (site / "_notes").exists()


def test_every_page_is_in_the_nav_and_its_commands_are_tested() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    nav = set(_nav_files(config["nav"]))
    assert _pages() == nav, (sorted(_pages() - nav), sorted(nav - _pages()))
    tested = {d.removeprefix("docs/") for d in DOCS if d.startswith("docs/")}
    assert {p for p in _pages() if not p.startswith("api/")} == tested, sorted(_pages() ^ tested)


def test_readme_is_short_and_its_table_is_the_docs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    for cmd in ("bash scripts/quickstart.sh", "bash scripts/quickstart.sh test"):
        assert re.search(rf"^{re.escape(cmd)}\s", readme, flags=re.MULTILINE), cmd
    # every figure of the README's results table is one of docs/cost.md's measured figures
    cost = (REPO / "docs" / "cost.md").read_text(encoding="utf-8")
    table = readme.split("## Results", 1)[1].split("\n\n")[2]
    figures = re.findall(r"\d+\.\d+(?: ± \d+\.\d+)?", table)
    assert len(figures) >= 15, table
    missing = [f for f in figures if f not in cost and f.split(" ±")[0] not in cost]
    assert not missing, missing
