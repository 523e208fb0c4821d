"""What pyproject.toml installs matches the tree: every package, a console command per script."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SCRIPTS_PACKAGE = "frame_select_scripts"


def test_every_package_is_installed() -> None:
    found = {SCRIPTS_PACKAGE}
    for top in ("frame_select_env", "agents", "baselines_zoo"):
        for init in (REPO / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(REPO).parts))
    listed = set(PROJECT["tool"]["setuptools"]["packages"])
    assert listed == found, (f"pyproject.toml [tool.setuptools] packages: missing "
                             f"{sorted(found - listed)}, stale {sorted(listed - found)}")
    assert PROJECT["tool"]["setuptools"]["package-dir"] == {SCRIPTS_PACKAGE: "scripts"}


def _commands() -> dict[str, str]:
    return PROJECT["project"]["scripts"]


def test_a_command_per_script() -> None:
    scripts = {p.stem for p in (REPO / "scripts").glob("*.py") if p.stem != "__init__"}
    targets = {}
    for name, target in _commands().items():
        module, _, func = target.partition(":")
        package, _, stem = module.partition(".")
        assert (package, func) == (SCRIPTS_PACKAGE, "main"), target
        assert name == "fse-" + stem.replace("_", "-"), (name, target)
        targets[stem] = name
    assert set(targets) == scripts


@pytest.mark.parametrize("stem", sorted(p.stem for p in (REPO / "scripts").glob("*.py")
                                        if p.stem != "__init__"))
def test_script_help(stem: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each script parses its flags with frame_select_env.cli and answers --help."""
    spec = importlib.util.spec_from_file_location(f"_help_{stem}", REPO / "scripts" / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    assert hasattr(module, "Args"), f"scripts/{stem}.py has no Args dataclass"
    with pytest.raises(SystemExit) as err:
        module.main(["--help"])
    assert err.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_installed_command_runs() -> None:
    """The console command is what `pip install -e .` made (skipped outside such a venv)."""
    exe = Path(sys.executable).parent / "fse-merge-stores"
    if not exe.exists():
        pytest.skip(f"{exe} is not installed (run `pip install -e .`)")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "merged store" in out.stdout
