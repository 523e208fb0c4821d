"""One style and clean types: ruff (pydocstyle rules included) and mypy, per pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    exe = Path(sys.executable).parent / name
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def test_ruff_clean() -> None:
    out = subprocess.run([_tool("ruff"), "check", "."], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


@pytest.mark.slow
def test_mypy_clean() -> None:
    out = subprocess.run([_tool("mypy")], cwd=REPO, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def _layer_modules() -> set[str]:
    """Every module named in the layers contract of pyproject.toml."""
    import tomllib  # Python >= 3.11 (the caller skips on 3.10)

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in cfg["contracts"] if c["type"] == "layers")["layers"]
    return {m.strip() for layer in layers for m in layer.replace("|", ":").split(":")}


def test_import_layers_kept() -> None:
    # import-linter is in the dev extra, like ruff and mypy: the contracts always run.
    exe = Path(sys.executable).parent / "lint-imports"
    assert exe.exists(), f"{exe} is missing: pip install -e '.[dev]' (import-linter)"
    out = subprocess.run([str(exe)], cwd=REPO, capture_output=True, text=True, timeout=300)
    report = out.stdout[-4000:] + out.stderr[-2000:]
    assert out.returncode == 0, report
    assert "0 broken" in report and "pipeline > envs > store > core" in report


def test_every_package_module_is_in_a_layer() -> None:
    # A module left out of the layers contract would escape it: a new top-level module or
    # subpackage of frame_select_env must be placed in the core or the pipeline.
    pytest.importorskip("tomllib")
    named = _layer_modules()
    pkg = REPO / "frame_select_env"
    here = {f"frame_select_env.{p.stem}" for p in pkg.glob("*.py") if p.stem != "__init__"}
    here |= {f"frame_select_env.{p.parent.name}" for p in pkg.glob("*/__init__.py")}
    assert here - named == set(), f"not in any layer of [tool.importlinter]: {here - named}"
    assert {"agents", "baselines_zoo", "frame_select_scripts"} <= named


def test_store_mode_imports_neither_torch_nor_cv2() -> None:
    # A fresh interpreter: the env in store mode (single and vector, reset, step, ansi render)
    # must not pull in the pipeline's heavy dependencies.
    code = (
        "import sys, gymnasium as gym, frame_select_env\n"
        "env = gym.make('FrameSelection-v0', render_mode='ansi')\n"
        "env.reset(seed=0); env.step(env.action_space.sample()); env.render(); env.close()\n"
        "envs = gym.make_vec('FrameSelection-v0', num_envs=4)\n"
        "envs.reset(seed=0); envs.step(envs.action_space.sample()); envs.close()\n"
        "heavy = sorted(m for m in ('torch', 'cv2') if m in sys.modules)\n"
        "pipeline = sorted(m for m in sys.modules if m.startswith(("
        "'frame_select_env.pipeline', 'frame_select_env.evaluation')))\n"
        "print('HEAVY', heavy, 'PIPELINE', pipeline)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "HEAVY [] PIPELINE []" in out.stdout, out.stdout


def test_import_graph_of_the_files_has_no_circle() -> None:
    # The contracts forbid cycles between siblings and imports up the layers; this checks the
    # whole graph with files (modules) as nodes, imports inside functions included.
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("frame_select_env", "agents", "baselines_zoo", "frame_select_scripts")
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    # Tarjan's strongly connected components, iteratively (no recursion limit to hit)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    assert not circles, f"import circles between files: {circles}"


def test_no_module_over_600_lines() -> None:
    sizes = {str(p.relative_to(REPO)): len(p.read_text().splitlines())
             for top in ("frame_select_env", "agents", "baselines_zoo", "scripts", "benchmarks")
             for p in (REPO / top).rglob("*.py")}
    over = {path: n for path, n in sizes.items() if n > 600}
    assert not over, f"modules over 600 lines (split them by job): {over}"
