"""Errors a user can act on (issue 28): every script refuses bad invocations with one line.

Each bad invocation is run in-process through the script's ``main`` (the ``cli.entry`` wrapper
that every console command goes through): status 2, an ``error:`` line naming the culprit, and
no traceback. Also: every number option of every script is range-checked, and ``--alpha nan``
no longer reports silently wrong accuracies.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import numpy as np
import pytest

from frame_select_env.cli import _hints, _number_kind, entry
from frame_select_env.core.config import Range, UserError, from_dict
from frame_select_env.store.synthetic import make_synthetic_store

SCRIPTS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "scripts").glob("*.py")
                 if p.stem != "__init__")


def _run(name: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    main = importlib.import_module(f"scripts.{name}").main
    try:
        rc = main(argv)
    except SystemExit as err:  # argparse-style usage errors exit from parse()
        rc = err.code
    return rc, capsys.readouterr().err


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user_errors")
    return make_synthetic_store(root / "s.h5", num_videos=24, num_frames=25, num_classes=4,
                                feature_dim=8, num_views=1)


def _cases(store: Path, tmp: Path) -> list[tuple[str, list[str], str]]:
    bad_yaml = tmp / "bad.yaml"
    bad_yaml.write_text("lr: [1, 2\n")
    unknown = tmp / "unknown.yaml"
    unknown.write_text("learning_rate: 0.1\n")
    nan_cfg = tmp / "nan.yaml"
    nan_cfg.write_text("omega: .nan\n")
    bad_list = tmp / "list.txt"
    bad_list.write_text("a.avi 0 train\nb.avi x1 test\n")
    neg = tmp / "neg.npz"
    np.savez(neg, features=np.ones((3, 4, 5), np.float32), labels=np.array([0, -3, 1]),
             split=np.array(["train", "val", "test"]))
    gap = tmp / "gap.npz"
    np.savez(gap, features=np.ones((3, 4, 5), np.float32), labels=np.array([0, 1, 99]),
             split=np.array(["train", "val", "test"]))
    a_file = tmp / "a_file"
    a_file.write_text("")
    agent_dir = tmp / "agent32"
    from agents.as_agent import ASAgent, ASAgentConfig, save_agent

    save_agent(agent_dir / "agent_rgb.pt", ASAgent(ASAgentConfig(feature_dim=32,
                                                                 num_classes=4)), {})
    s, out = str(store), str(tmp / "run")
    tr = ["--store", s, "--seeds", "1", "--stream", "rgb", "--epochs", "1", "--out", out,
          "--no-progress"]
    return [
        ("compare_agents", ["--agents", "uniform", "--alpha=nan", "--out", out], "--alpha"),
        ("compare_agents", ["--agents", "uniform", "--alpha", "-1", "--out", out], "--alpha"),
        ("compare_agents", ["--agents", "uniform", "--ms", "0", "--out", out], "--ms"),
        ("compare_agents", ["--agents", "uniform", "--out", str(a_file)], str(a_file)),
        ("compare_agents", ["--agents", f"as:{agent_dir}", "--store", s, "--streams", "rgb",
                            "--out", out, "--seeds", "1", "--no-progress"], str(agent_dir)),
        ("train_reinforce", [*tr, "--alpha", "nan"], "--alpha"),
        ("train_reinforce", [*tr, "--m", "0"], "--m"),
        ("train_reinforce", [*tr, "--m", "99"], "--m 99"),
        ("train_reinforce", [*tr, "--eval-m", "0"], "--eval-m"),
        ("train_reinforce", [*tr, "--eval-m", "30"], "--eval-m [30]"),
        ("train_reinforce", [*tr[:5], "depth", *tr[6:]], "--stream 'depth'"),
        ("train_reinforce", [*tr, "--config", str(bad_yaml)], "bad.yaml"),
        ("train_reinforce", [*tr, "--config", str(unknown)], "learning_rate"),
        ("train_reinforce", [*tr, "--config", str(nan_cfg)], "omega"),
        ("train_reinforce", [*tr, "--store", str(tmp / "missing.h5")], "missing.h5"),
        ("train_reinforce", [*tr, "--resume", "--overwrite"], "--overwrite"),
        ("train_sb3", ["--algo", "ppo", "--out", out, "--store", s, "--set", "n_envs=0"],
         "n_envs"),
        ("train_sb3", ["--algo", "ppo", "--out", out, "--store", s, "--set", "bogus=1"],
         "bogus"),
        ("train_sb3", ["--algo", "ppo", "--out", out, "--save-freq", "0"], "--save-freq"),
        ("train_seq_agent", ["--out", out, "--set", "cost_weight=nan"], "cost_weight"),
        ("train_seq_agent", ["--out", out, "--budgets", "0"], "--budgets"),
        ("compare_cost", ["--out", out, "--thresholds", "1.5"], "--thresholds"),
        ("compare_field", ["--out", out, "--seeds", "0"], "--seeds"),
        ("train_selector", ["--method", "frameexit", "--out", out, "--set", "bogus=1"],
         "bogus"),
        ("extract_features", ["--list", str(bad_list), "--root", str(tmp), "--out",
                              str(tmp / "e.h5"), "--random-init", "--no-progress"],
         "list.txt:2"),
        ("extract_features", ["--list", str(bad_list), "--root", str(tmp), "--crop", "0"],
         "--crop"),
        ("import_features", [str(neg), str(tmp / "n.h5")], "neg.npz"),
        ("import_features", [str(gap), str(tmp / "g.h5")], "--classes"),
        ("import_features", [str(neg), str(tmp / "n.h5"), "--num-frames", "0"],
         "--num-frames"),
        ("merge_stores", [str(tmp / "missing.h5"), "--out", str(tmp / "m.h5")], "missing.h5"),
        ("train_baseline", ["--config", str(unknown), "--out", out, "--frames-root", str(tmp)],
         "learning_rate"),
        ("train_baseline", ["--config", "x", "--out", out, "--frames-root", ".", "--lr", "nan"],
         "--lr"),
        ("build_sparse_actions", ["--counts", "0", "1", "1"], "--counts"),
    ]


def test_every_script_refuses_bad_invocations_with_one_error_line(store, tmp_path,
                                                                   capsys) -> None:
    cases = _cases(store, tmp_path)
    assert {c[0] for c in cases} == set(SCRIPTS)  # every script is tried
    for name, argv, culprit in cases:
        rc, err = _run(name, argv, capsys)
        assert rc == 2, (name, argv, rc, err[-2000:])
        assert "Traceback" not in err, (name, argv, err[-2000:])
        lines = [ln for ln in err.splitlines() if "error: " in ln]
        assert lines and culprit in lines[0], (name, argv, err[-2000:])
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_every_script_goes_through_the_entry_wrapper_and_bounds_its_numbers() -> None:
    for name in SCRIPTS:
        mod = importlib.import_module(f"scripts.{name}")
        assert getattr(mod.main, "user_errors", False), f"{name}.main lacks @entry"
        hints = _hints(mod.Args)
        for f in dataclasses.fields(mod.Args):
            if _number_kind(hints[f.name]) is None:
                continue
            meta = f.metadata
            assert meta.get("range") or meta.get("choices") or meta.get("unbounded") or \
                _number_kind(hints[f.name]) is float, f"{name} --{f.name} has no bounds"


def test_alpha_nan_was_silently_wrong_and_is_now_refused(store, tmp_path, capsys) -> None:
    out = tmp_path / "cmp"
    argv = ["--agents", "uniform", "--store", str(store), "--seeds", "1", "--ms", "4",
            "--schemes", "frame", "--out", str(out), "--no-progress", "--no-all"]
    rc, err = _run("compare_agents", [*argv, "--alpha=nan"], capsys)
    assert rc == 2 and "--alpha must be a finite number in [0, 1], got nan" in err
    assert not (out / "results.csv").exists()
    rc, _ = _run("compare_agents", [*argv, "--alpha=0.5"], capsys)
    assert rc == 0 and (out / "results.csv").is_file()


def test_entry_keeps_tracebacks_for_bugs_and_on_request(monkeypatch, capsys) -> None:
    @entry
    def bug(argv=None) -> int:
        raise KeyError("a bug")

    @entry
    def mistake(argv=None) -> int:
        raise UserError("--x 3: give 1..2\naccepted: 1, 2")

    with pytest.raises(KeyError):
        bug([])
    assert mistake([]) == 2
    assert capsys.readouterr().err.splitlines()[0] == "error: --x 3: give 1..2"
    monkeypatch.setenv("FSE_TRACEBACK", "1")
    with pytest.raises(UserError):
        mistake([])


def test_full_disk_is_one_line_with_status_1(capsys) -> None:
    import errno

    from frame_select_env.store.atomic import no_space_error

    @entry
    def full(argv=None) -> int:
        raise no_space_error("/data/out.h5", "needs about 3.00 MiB, 0.10 MiB free")

    assert full([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: [Errno 28]") and "out.h5" in err
    assert "run the same command again" in err and errno.ENOSPC == 28


def test_ranges_and_config_numbers() -> None:
    assert Range(ge=0, le=1).describe() == "a finite number in [0, 1]"
    assert not Range().accepts(float("inf")) and not Range(integer=True).accepts(2.5)
    assert not Range().accepts(True)
    from agents.reinforce import ReinforceConfig

    with pytest.raises(UserError, match=r"config 'x.yaml': lr must be a finite number, got 'a'"):
        from_dict(ReinforceConfig, {"lr": "a"}, where="config 'x.yaml'")
    with pytest.raises(UserError, match=r"omega must be a finite number >= 0, got -1"):
        ReinforceConfig(omega=-1)
    assert from_dict(ReinforceConfig, {"lr": "3e-3"}).lr == 0.003  # YAML 1.1's string float


@pytest.mark.parametrize("name, argv, line", [
    ("train_sb3", ["--algo", "bogus", "--out", "x"],
     "error: argument --algo: invalid choice 'bogus' (choose from ppo, a2c, sac, td3, "
     "maskable_ppo, recurrent_ppo)"),
    ("compare_agents", ["--agents", "uniform", "--out", "x", "--schemes", "frame", "bogus"],
     "error: argument --schemes: invalid choice 'bogus' (choose from frame, region)"),
    ("compare_agents", ["--agents", "uniform", "--out", "x", "--ms", "four"],
     "error: argument --ms: invalid value 'four' (expected [INT [INT ...]])"),
    ("compare_agents", ["--agents", "uniform", "--out", "x", "--seed", "3"],
     "error: unrecognized arguments: --seed 3 (did you mean --seeds?)"),
    ("train_sb3", ["--out", "x"], "error: the following arguments are required: --algo"),
    ("import_features", [], "error: expected IN.npz OUT.h5"),  # a __post_init__ check
])
def test_tyro_parse_errors_are_one_error_line(name: str, argv: list[str], line: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """tyro's error box (``╭─ Invalid choice ─...``) becomes one ``error:`` line, status 2."""
    rc, err = _run(name, argv, capsys)
    assert rc == 2 and err.count("\n") == 1 and err.startswith(line), err
    assert "╭" not in err and "usage:" not in err


def test_an_unknown_tyro_error_box_is_read_back_as_one_line() -> None:
    from frame_select_env.cli.errors import _unboxed_error

    box = ("╭─ Some new error ─────────────╮\n│ the value 'x' of --y is      │\n"
           "│ wrong.                       │\n│ ──────────────────────────── │\n"
           "│ For full helptext, run p.py --help │\n╰──────────────────────────────╯\n")
    assert _unboxed_error(box) == "Some new error: the value 'x' of --y is wrong."
    assert _unboxed_error("plain text") is None


def test_compare_agents_results_have_the_alpha_of_each_row(store, tmp_path, capsys) -> None:
    """Issue 28.1: ``results.csv`` had no alpha column, so a run's alpha could not be told."""
    from frame_select_env.evaluation import read_csv

    out = tmp_path / "cmp"
    argv = ["--agents", "uniform", "--store", str(store), "--seeds", "1", "--ms", "4",
            "--schemes", "frame", "--out", str(out), "--no-progress", "--alpha", "0.25"]
    rc, _ = _run("compare_agents", argv, capsys)
    rows = read_csv(out / "results.csv")
    assert rc == 0 and rows and "alpha" in rows[0]
    assert {r["alpha"] for r in rows} == {0.25}


NO_GUARD = """\
import sys

from frame_select_env.pipeline.online import open_online_store

store, _ = open_online_store([("a.avi", 0), ("b.avi", 1)], "builtin", device="cpu", views=1,
                             options={"video_root": sys.argv[1], "workers": 1, "pool": "process"})
store.ensure([0])
print("finished")
"""


def test_process_pool_without_main_guard_says_so_in_the_parent(tmp_path: Path) -> None:
    """``pool="process"`` from a script without the guard: the parent's error names it.

    It used to start workers that re-ran the script and died (the guard hint only on their
    stderr), then end with "a decode worker process died twice"; now the parent refuses before
    any worker starts, naming the script and its line.
    """
    import os
    import subprocess
    import sys

    script = tmp_path / "plain.py"
    script.write_text(NO_GUARD)
    for name in ("a.avi", "b.avi"):
        (tmp_path / name).write_bytes(b"")  # never decoded: the pool is refused first
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 1 and "finished" not in proc.stdout
    assert f"the main script {str(script)!r} starts them from its line 7, outside an " \
           f"`if __name__ == \"__main__\":` guard" in last, proc.stderr[-3000:]
    assert "died twice" not in proc.stderr and proc.stderr.count("Traceback") == 1


def test_main_guard_problem_reads_the_main_script(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from frame_select_env.pipeline.workers import main_guard_problem

    plain, guarded = tmp_path / "plain.py", tmp_path / "guarded.py"
    plain.write_text("import os\nresult = probe()\n")
    guarded.write_text("import os\n\nif __name__ == '__main__':\n    result = probe()\n")
    for path, hint in ((plain, True), (guarded, False)):
        monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__file__=str(path)))
        # the workers died: the script is read for a guard (a dead worker's pool is not retried)
        got = main_guard_problem(started_here=False)
        assert (got is not None) == hint and (not hint or str(path) in got), got
        # about to start them: the main script's running line is looked for (none here)
        assert main_guard_problem() is None
        scope = {"__name__": "__main__", "probe": main_guard_problem}
        exec(compile(path.read_text(), str(path), "exec"), scope)  # the script, run as main
        assert (scope["result"] is not None) == hint
        assert not hint or "starts them from its line 2, outside an" in scope["result"]
