"""The package as a user installs it: built, installed from its wheel, run outside the checkout.

``python -m build`` makes the sdist and, from it, the wheel (no warnings, ``twine check`` passes);
the wheel is installed with ``--no-deps`` into a fresh virtualenv whose ``.pth`` file lists the
test environment's site-packages, so the dependencies are reused (no network) but not its
``.pth`` files: the project's editable install there is never imported. Everything then runs in a
folder outside the checkout, with no ``PYTHONPATH``, and checks that it ran the wheel's copy.
"""

from __future__ import annotations

import csv
import os
import re
import site
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE makes setuptools warn (byte-compiling disabled); PYTHONPATH
    # would put the checkout back on the path.
    drop = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1"}


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300
         ) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, cwd=cwd, env=env or _env(), capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, f"{cmd}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the freshly built wheel installed; its ``bin`` folder."""
    pytest.importorskip("build", reason="`python -m build` is in the dev extra: "
                                        "pip install -e '.[dev]'")
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    built = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist),
                  str(REPO)], cwd=root)
    log = built.stdout + built.stderr
    warnings = re.findall(r"(?im)^.*\bwarning\b.*$", log)
    assert not warnings, warnings
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(dist.iterdir())
    if importlib_util_has("twine"):
        checked = _run([sys.executable, "-m", "twine", "check", *map(str, wheels + sdists)],
                       cwd=root)
        assert checked.stdout.count("PASSED") == 2, checked.stdout
    env_dir = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], cwd=root)
    python = env_dir / "bin" / "python"
    # installed before the test env's packages are visible, so pip sees (and touches) nothing
    # of the test env: it installs into the new venv only
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--no-index", "--disable-pip-version-check", str(wheels[0])], cwd=root)
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   cwd=root).stdout.strip()
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "_test_env_deps.pth").write_text("".join(f"{p}\n" for p in deps))
    return env_dir / "bin"


def importlib_util_has(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("user")


def test_wheel_imports_its_own_copy_and_makes_both_envs(venv: Path, outside: Path) -> None:
    import frame_select_env

    code = (
        "import json, importlib.metadata as md, numpy as np, gymnasium as gym\n"
        "import frame_select_env, agents, baselines_zoo, frame_select_scripts\n"
        "out = {'files': [m.__file__ for m in (frame_select_env, agents, baselines_zoo, "
        "frame_select_scripts)], 'version': frame_select_env.__version__, "
        "'meta': md.version('frame-select-env'), 'rewards': {}}\n"
        "for env_id in ('FrameSelection-v0', 'FrameSelectionSeq-v0'):\n"
        "    env = gym.make(env_id)\n"
        "    obs, _ = env.reset(seed=0)\n"
        "    r = env.step(env.action_space.sample())[1]\n"
        "    out['rewards'][env_id] = float(r)\n"
        "from importlib.resources import files\n"
        "configs = files('frame_select_env') / 'configs'\n"
        "out['configs'] = sorted(p.name for p in configs.iterdir())\n"
        "print(json.dumps(out))\n"
    )
    res = _run([str(venv / "python"), "-c", code], cwd=outside)
    out = yaml.safe_load(res.stdout.strip().splitlines()[-1])
    prefix = str(venv.parent)
    assert all(f.startswith(prefix) for f in out["files"]), out["files"]
    assert out["version"] == out["meta"] == frame_select_env.__version__
    # one-step reward (Eq. 4) is +-1 or 0 on the built-in store; the sequential one is bounded
    assert out["rewards"]["FrameSelection-v0"] in (-1.0, 0.0, 1.0)
    assert abs(out["rewards"]["FrameSelectionSeq-v0"]) <= 1.0 + 10.0
    assert {"as_paper.yaml", "as_sparse_actions.yaml", "seq_as_sparse_actions.yaml",
            "tsn"} <= set(out["configs"])


def test_every_console_command_answers_help(venv: Path, outside: Path) -> None:
    # Every entry point of the installed distribution, in one interpreter (imports once), and
    # the wrapper pip wrote for each in bin/.
    code = (
        "import contextlib, io, importlib.metadata as md\n"
        "eps = md.distribution('frame-select-env').entry_points\n"
        "for ep in sorted(eps, key=lambda e: e.name):\n"
        "    buf = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buf):\n"
        "        try:\n"
        "            ep.load()(['--help'])\n"
        "            code = None\n"
        "        except SystemExit as e:\n"
        "            code = e.code\n"
        "    print(ep.name, code, 'usage:' in buf.getvalue())\n"
    )
    res = _run([str(venv / "python"), "-c", code], cwd=outside)
    rows = [line.split() for line in res.stdout.strip().splitlines()]
    import tomllib

    commands = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert [r[0] for r in rows] == sorted(commands)
    assert all(r[1:] == ["0", "True"] for r in rows), rows
    for name in commands:
        wrapper = venv / name
        assert wrapper.is_file() and wrapper.read_text().startswith(f"#!{venv / 'python'}")


def _default_run(venv: Path, outside: Path, command: str, config: str) -> Path:
    """Run ``command`` on its defaults (one epoch, one seed); check it read the packaged config."""
    out = outside / command
    _run([str(venv / command), "--epochs", "1", "--seeds", "1", "--out", str(out),
          "--no-progress"], cwd=outside)
    training = yaml.safe_load((out / "config.yaml").read_text())["training"]
    want = yaml.safe_load((REPO / "frame_select_env" / "configs" / config).read_text())
    assert training["epochs"] == 1  # the command line over the packaged config
    differ = sorted(k for k, v in want.items() if k != "epochs" and training.get(k) != v)
    assert not differ, differ
    return out


def test_train_reinforce_runs_with_its_defaults(venv: Path, outside: Path) -> None:
    out = _default_run(venv, outside, "fse-train-reinforce", "as_sparse_actions.yaml")
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {"as", "random"} <= {r["agent"] for r in rows}
    assert all(0.0 <= float(r["accuracy"]) <= 100.0 for r in rows)


def test_train_seq_agent_runs_with_its_defaults(venv: Path, outside: Path) -> None:
    out = _default_run(venv, outside, "fse-train-seq-agent", "seq_as_sparse_actions.yaml")
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(0.0 <= float(r["accuracy"]) <= 100.0 for r in rows)
