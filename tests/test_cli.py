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
