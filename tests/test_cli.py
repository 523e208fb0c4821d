"""The one command-line convention (frame_select_env.cli): flags generated from a dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from frame_select_env.cli import as_dict, option, parse


@dataclass
class Args:
    out: str = option(help="output directory")
    inputs: list[Path] = option([], "positional inputs", positional=True, nargs="*")
    ms: list[int] = option([4, 8], "budgets")
    thresholds: list[float] = option([0.5], "thresholds", nargs="*")
    set: list[str] = option([], "KEY=VALUE overrides", nargs="*", metavar="KEY=VALUE")
    size: tuple[int, int] | None = option(None, "W H", metavar=("W", "H"))
    stream: Literal["rgb", "flow"] = option("rgb", "the stream")
    scheme: str = option("frame", "selection scheme", choices=("frame", "region"))
    progress: bool = option(True, "progress bars")
    resume: bool = option(False, "continue")
    include_all: bool = option(True, "the all-frames rows", flag="all")
    epochs: int | None = option(None, "epochs")
    alpha: float = option(0.0, "Eq. 10 alpha")
    list: str | None = option(None, "a field named like a builtin")


def test_defaults_and_types() -> None:
    args = parse(Args, ["--out", "runs/x"])
    assert args == Args(out="runs/x")
    assert args.ms == [4, 8] and args.ms is not Args(out="y").ms  # lists are per instance
    args = parse(Args, ["a.h5", "b.h5", "--out", "o", "--epochs", "3", "--alpha", "0.5",
                        "--size", "160", "120", "--stream", "flow", "--scheme", "region"])
    assert args.inputs == [Path("a.h5"), Path("b.h5")]
    assert (args.epochs, args.alpha, args.size) == (3, 0.5, (160, 120))
    assert (args.stream, args.scheme) == ("flow", "region")


def test_lists_spaces_commas_repeats() -> None:
    assert parse(Args, ["--out", "o", "--ms", "4", "12", "25"]).ms == [4, 12, 25]
    assert parse(Args, ["--out", "o", "--ms", "4,12", "25"]).ms == [4, 12, 25]
    assert parse(Args, ["--out", "o", "--thresholds"]).thresholds == []
    # text is never split at commas (a YAML list value), and a repeated flag adds to it
    args = parse(Args, ["--out", "o", "--set", "lr_milestones=[20, 40]", "--set", "lr=3e-3"])
    assert args.set == ["lr_milestones=[20, 40]", "lr=3e-3"]


def test_switches() -> None:
    args = parse(Args, ["--out", "o", "--no-progress", "--resume", "--no-all"])
    assert (args.progress, args.resume, args.include_all) == (False, True, False)


@pytest.mark.parametrize("argv, needle", [
    ([], "--out"),                                     # required
    (["--out", "o", "--ms", "four"], "--ms"),          # not an int
    (["--out", "o", "--stream", "depth"], "--stream"),  # not a choice
    (["--out", "o", "--epochs", "1.5"], "--epochs"),
    (["--out", "o", "--size", "160"], "--size"),       # needs two values
])
def test_bad_input_names_the_argument(argv: list[str], needle: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        parse(Args, argv)
    assert err.value.code == 2
    assert needle in capsys.readouterr().err


def _help(cls: type, capsys: pytest.CaptureFixture[str], prog: str = "demo") -> str:
    """``--help`` as printed, without tyro's box borders."""
    with pytest.raises(SystemExit) as err:
        parse(cls, ["--help"], description="demo", prog=prog)
    assert err.value.code == 0
    return _unboxed(capsys.readouterr().out)


def _unboxed(text: str) -> str:
    """tyro's help without the box borders it draws on a terminal (none when piped)."""
    lines = []
    for line in text.splitlines():
        line = line.rstrip().rstrip("\u2502|").rstrip()
        lines.append(line.replace("\u2502", " ", 1) if line.startswith("\u2502") else line)
    return "\n".join(lines)


def _entries(text: str) -> dict[str, str]:
    """Each flag's help entry: from the line that starts with it to the next flag's line."""
    out: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if body.startswith("-") and indent <= 3 and body.strip("-\u2500"):
            current = body.split()[0].rstrip(",")
            out[current] = body
        elif current is not None and body and indent > 3:
            out[current] += " " + body
        else:
            current = None
    return {k: " ".join(v.split()) for k, v in out.items()}


def test_help_shows_help_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(Args, capsys)
    entries = _entries(text)
    assert "budgets (default: 4 8)" in entries["--ms"]
    assert entries["--progress"].startswith("--progress, --no-progress")
    assert "(default: True)" in entries["--progress"]
    assert entries["--all"].startswith("--all, --no-all")
    assert "{rgb,flow}" in entries["--stream"] and "{frame,region}" in entries["--scheme"]
    assert "--size W H" in entries["--size"] and "(required)" in entries["--out"]
    assert "usage: demo" in text


def test_as_dict_is_plain() -> None:
    args = parse(Args, ["x.h5", "--out", "o"])
    assert as_dict(args)["inputs"] == ["x.h5"]


def test_help_shows_none_and_default_text(capsys: pytest.CaptureFixture[str]) -> None:
    @dataclass
    class Demo:
        epochs: int | None = option(None, "epochs")
        lr: float | None = option(None, "learning rate", default_text="the config's")
        store: str | None = option(None, "store (default: the built-in one)")
        extra: list[str] = option([], "extra items")

    entries = _entries(_help(Demo, capsys))
    assert entries["--epochs"].endswith("epochs (default: None)")
    assert entries["--lr"].endswith("learning rate (default: the config's)")
    assert entries["--store"].endswith("store (default: the built-in one)")  # not said twice
    assert entries["--extra"].endswith("extra items (default: none)")


@dataclass
class Checked:
    seeds: int = option(1, "seeds")
    ms: list[int] = option([4], "budgets")
    stream: str = option("rgb", "stream", choices=("rgb", "flow"), group="data")
    views: list[int] = option([1], "views", choices=(1, 10), group="data")

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {self.seeds}")


def test_post_init_error_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        parse(Checked, ["--seeds", "0"], prog="demo.py")
    assert err.value.code == 2
    assert "demo.py: error: --seeds must be >= 1, got 0" in capsys.readouterr().err


def test_repeated_list_flag_never_adds_to_the_default() -> None:
    assert parse(Checked, []).ms == [4]
    assert parse(Checked, ["--ms", "8", "--seeds", "2", "--ms", "12,16"]).ms == [8, 12, 16]
    assert parse(Checked, ["--ms=8,12"]).ms == [8, 12]
    # negative numbers are values, not flags (as in argparse)
    assert parse(Args, ["--out", "o", "--ms", "-4", "8", "--alpha", "-0.5"]).ms == [-4, 8]
    # a lone "--" ends the options: what follows is positional, never merged into a list
    args = parse(Args, ["--out", "o", "--ms", "4", "--", "--ms"])
    assert args.ms == [4] and args.inputs == [Path("--ms")]


@pytest.mark.parametrize("argv, needle", [
    (["--ms"], "argument --ms: expected at least one value"),  # "+" list: needs a value
    (["--views", "5"], "--views"),                              # choices of a list
    (["--stream", "depth"], "--stream"),                        # choices of a grouped field
])
def test_list_and_choice_errors(argv: list[str], needle: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        parse(Checked, argv)
    assert err.value.code == 2
    assert needle in " ".join(_unboxed(capsys.readouterr().err).split())


def test_groups_are_headings_with_plain_flags(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(Checked, ["--stream", "flow", "--views", "1,10"])
    assert (args.stream, args.views) == ("flow", [1, 10]) and isinstance(args, Checked)
    text = _help(Checked, capsys)
    assert "data options" in text
    assert text.index("data options") < text.index("--stream") and "--data." not in text


REPO = Path(__file__).resolve().parents[1]
#: every command-line entry point built with frame_select_env.cli
COMMANDS = sorted(
    [p for p in (REPO / "scripts").glob("*.py") if p.stem != "__init__"]
    + list((REPO / "benchmarks").glob("bench_*.py"))
    + [REPO / "frame_select_env" / "pipeline" / "cost" / "__main__.py",
       REPO / "frame_select_env" / "pipeline" / "tsn" / "evaluate.py"]
)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_option_of_every_command_shows_its_default(
        path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """README: ``--help`` lists every flag with its default (required/positional ones excepted)."""
    import importlib
    import importlib.util
    import sys

    if path.parent.name == "scripts":  # a package: scripts may import their siblings
        module = importlib.import_module(f"scripts.{path.stem}")
    else:
        name = f"_defaults_{path.parent.name}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its Args dataclass looks its module up there
        spec.loader.exec_module(module)
    import dataclasses

    with pytest.raises(SystemExit) as err:
        module.main(["--help"])
    assert err.value.code == 0
    entries = _entries(_unboxed(capsys.readouterr().out))
    for f in dataclasses.fields(module.Args):
        if f.metadata.get("positional"):
            continue
        flag = "--" + (f.metadata.get("flag") or f.name.replace("_", "-"))
        assert flag in entries, (path.name, flag)
        entry = entries[flag]
        # the help text, wrapped at any space or hyphen, and the default (or "required")
        assert "".join(f.metadata.get("help", "").split()) in "".join(entry.split()), entry
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        assert ("(required)" if required else "default") in entry.lower(), (path.name, entry)


def test_train_baseline_help_names_scripts_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    from scripts.train_baseline import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    named = set(re.findall(r"scripts/(\w+\.py)", text))
    assert "extract_features.py" in named and "--rawframes-out" in text
    assert all((REPO / "scripts" / n).is_file() for n in named), named
    assert "(default: the --config file's)" in " ".join(text.split())
