"""What pyproject.toml installs matches the tree: every package, a console command per script."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SCRIPTS_PACKAGE = "frame_select_scripts"


def _folders() -> dict[str, Path]:
    """Every folder of the package trees that holds a file: a package, or a folder of data."""
    found = {}
    for top in ("frame_select_env", "agents", "baselines_zoo"):
        for folder in [REPO / top, *(REPO / top).rglob("*")]:
            if (folder.is_dir() and "__pycache__" not in folder.parts
                    and any(f.is_file() for f in folder.iterdir())):
                found[".".join(folder.relative_to(REPO).parts)] = folder
    return found


def test_every_package_is_installed() -> None:
    found = {SCRIPTS_PACKAGE, *_folders()}
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


def test_every_data_file_ships() -> None:
    # A file that is not a module must match its folder's package-data, or the wheel lacks it.
    data = PROJECT["tool"]["setuptools"]["package-data"]
    missing = []
    for name, folder in _folders().items():
        for f in folder.iterdir():
            if f.is_file() and f.suffix not in (".py", ".pyc") and not any(
                    fnmatch.fnmatch(f.name, pat) for pat in data.get(name, [])):
                missing.append(str(f.relative_to(REPO)))
    assert not missing, f"pyproject.toml [tool.setuptools.package-data] misses {missing}"


def test_one_version() -> None:
    import frame_select_env

    assert "version" in PROJECT["project"]["dynamic"] and "version" not in PROJECT["project"]
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "frame_select_env.__version__"}
    heads = re.findall(r"^## (\S+)", (REPO / "CHANGELOG.md").read_text(), flags=re.M)
    assert heads and heads[0] == frame_select_env.__version__, heads
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", h) for h in heads), heads
    assert len(set(heads)) == len(heads), heads


def test_config_option_values() -> None:
    from frame_select_env.store.builtin import builtin_config_names, config_file, configs_dir

    names = builtin_config_names()
    assert {"as_paper.yaml", "as_sparse_actions.yaml", "seq_as_sparse_actions.yaml",
            "tsn/ucf101_rgb.yaml"} <= set(names)
    assert config_file("builtin:as_paper") == configs_dir() / "as_paper.yaml"
    assert config_file("builtin:tsn/ucf101_rgb.yaml").read_text().startswith("#")
    # a path the user names wins, even one named like a packaged config
    mine = REPO / "pyproject.toml"
    assert config_file(str(mine)) == mine
    # the checkout's old configs/ paths: an error that names the packaged one, no fallback
    with pytest.raises(FileNotFoundError, match=r"'configs/as_paper.yaml' does not exist "
                                                r"\(configs/ moved .* builtin:as_paper.yaml\)"):
        config_file("configs/as_paper.yaml")
    with pytest.raises(FileNotFoundError, match="no packaged config 'nope.yaml'.*as_paper.yaml"):
        config_file("builtin:nope", "--as-config")
