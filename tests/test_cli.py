"""The one command-line convention (frame_select_env.cli): flags generated from a dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from frame_select_env.cli import as_dict, build_parser, option, parse


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


def test_help_shows_help_and_defaults() -> None:
    text = build_parser(Args, description="demo").format_help()
    assert "budgets (default: 4 8)" in text
    assert "--progress, --no-progress" in text and "(default: on)" in text
    assert "--all, --no-all" in text
    assert "{rgb,flow}" in text


def test_as_dict_is_plain() -> None:
    args = parse(Args, ["x.h5", "--out", "o"])
    assert as_dict(args)["inputs"] == ["x.h5"]


def test_help_shows_none_and_default_text() -> None:
    @dataclass
    class Demo:
        epochs: int | None = option(None, "epochs")
        lr: float | None = option(None, "learning rate", default_text="the config's")
        store: str | None = option(None, "store (default: the built-in one)")
        extra: list[str] = option([], "extra items")

    by_dest = {a.dest: a.help for a in build_parser(Demo)._actions}
    assert by_dest["epochs"] == "epochs (default: none)"
    assert by_dest["lr"] == "learning rate (default: the config's)"
    assert by_dest["store"] == "store (default: the built-in one)"  # not said twice
    assert by_dest["extra"] == "extra items (default: none)"


REPO = Path(__file__).resolve().parents[1]
#: every command-line entry point built with frame_select_env.cli
COMMANDS = sorted(
    [p for p in (REPO / "scripts").glob("*.py") if p.stem != "__init__"]
    + list((REPO / "benchmarks").glob("bench_*.py"))
    + [REPO / "frame_select_env" / "cost" / "__main__.py"]
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
    parser = build_parser(module.Args)
    missing = [a.option_strings[0] for a in parser._actions
               if a.option_strings and a.dest != "help" and not a.required
               and "default" not in (a.help or "").lower()]
    assert not missing, f"{path.relative_to(REPO)}: --help shows no default for {missing}"
    with pytest.raises(SystemExit) as err:  # and the printed help is this parser's
        module.main(["--help"])
    assert err.value.code == 0
    # argparse wraps lines at spaces and hyphens: compare without any whitespace
    printed = "".join(capsys.readouterr().out.split())
    for a in parser._actions:
        if a.option_strings and a.dest != "help":
            assert "".join(a.help.split()) in printed, (path.name, a.option_strings[0])


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
