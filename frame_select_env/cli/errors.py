"""Usage errors of the scripts: one ``error:`` line instead of tyro's error box.

:func:`tyro_cli` runs ``tyro.cli`` with a parse-error hook that turns tyro's errors (an invalid
choice, a value that is not a number, a missing or unknown option) into one line naming the
option, the value and what is accepted; :func:`usage_error` prints it. Under
:func:`frame_select_env.cli.entry` (every script) the line is ``error: ...``, like every other
user error, with exit status 2.
"""

from __future__ import annotations

import contextvars
import re
import sys
import typing
from collections.abc import Sequence
from typing import Any

import tyro

#: set by :func:`entry` while a script's ``main`` runs: usage errors are then one ``error:`` line
IN_ENTRY: contextvars.ContextVar[bool] = contextvars.ContextVar("fse_cli_entry", default=False)


def usage_error(prog: str, message: str) -> typing.NoReturn:
    """Print a bad argument's message and exit with status 2 (as argparse does).

    In a script (under :func:`entry`) it is one line ``error: ...``, like every other user
    error; a bare :func:`parse` call prints argparse's two lines (usage, ``prog: error: ...``).
    """
    text = " ".join(message.split())
    if IN_ENTRY.get():
        print(f"error: {text}", file=sys.stderr)
    else:
        print(f"usage: {prog} [-h] [OPTIONS]\n{prog}: error: {text}", file=sys.stderr)
    raise SystemExit(2)


class _ParseFailure(Exception):
    """Raised from tyro's parse-error hook: one line saying what was wrong."""


def _tyro_failure(event: Any, known: Sequence[str]) -> str | None:
    """One line for a tyro parse-error event (``tyro._errors``), ``None`` for an unknown kind.

    :param event: the event tyro fires before it would print its error box.
    :param known: the command's flags, for "did you mean" on an unrecognized one.
    """
    kind = type(event).__name__
    arg = getattr(event, "argument", None)
    name = arg.display_name() if arg is not None else None
    metavar = getattr(getattr(arg, "lowered", None), "metavar", None) or "a value"
    if kind == "InvalidChoice":
        choices = ", ".join(str(c) for c in event.choices)
        return f"argument {name}: invalid choice {event.value!r} (choose from {choices})"
    if kind == "InstantiationFailure":
        found = re.match(r"Could not find valid parse for arguments: (\[.*\])$", event.message)
        if found and name:
            return f"argument {name}: invalid value {found.group(1)[1:-1]} (expected {metavar})"
        return f"argument {name}: {event.message}" if name else event.message
    if kind == "BadValue":
        if event.reason == "too_few_values":
            return f"argument {name}: expected {metavar}"
        return f"argument {name}: takes no value, got {event.offending_value!r}"
    if kind == "UnrecognizedArgs":
        return _unrecognized(event.tokens, known)
    if kind == "MissingArgs":
        text = ("the following arguments are required: "
                + ", ".join(a.arg.display_name() for a in event.missing_arguments))
        if event.unrecognized_tokens:
            text += "; " + _unrecognized(event.unrecognized_tokens, known)
        return text
    if kind == "MutexConflict":
        return f"arguments {event.first_token} and {event.second_token} are not allowed together"
    return None


def _unrecognized(tokens: Sequence[str], known: Sequence[str]) -> str:
    import difflib

    text = f"unrecognized arguments: {' '.join(tokens)}"
    close = [m for t in tokens if t.startswith("--")
             for m in difflib.get_close_matches(t.partition("=")[0], known, n=1, cutoff=0.7)]
    return text + (f" (did you mean {', '.join(dict.fromkeys(close))}?)" if close else "")


def _unboxed_error(text: str) -> str | None:
    """The error box tyro printed, as one line (for an error the hook did not describe).

    :param text: what tyro printed on stderr: a box with a title and rows.
    :return: ``"Title: row row ..."`` without the borders and the help footer, or ``None``.
    """
    lines = [ln.strip() for ln in text.strip().splitlines()]
    if not lines or not lines[0].startswith("╭"):
        return None
    title = lines[0].strip("╭╮─ ")
    rows = [ln.strip("│ ") for ln in lines[1:] if not ln.startswith("╰")]
    rows = [r for r in rows if r and not r.startswith("For full helptext")
            and not r.endswith("--help") and set(r) != {"─"}]
    return f"{title}: {' '.join(rows)}" if rows else title


def tyro_cli(cls: type, tokens: list[str], prog: str, description: str,
             known: Sequence[str]) -> Any:
    """``tyro.cli`` whose parse errors become one line (:func:`usage_error`) instead of a box.

    tyro fires a hook (``tyro._errors.on_parse_error``, a private module of the tyro 1.0 this
    was written against) before it prints an error; the hook turns the error into one line
    naming the option, the value and what is accepted. An error the hook does not know (or
    cannot read: the module is private and may change), or a tyro without the hook, is read
    back from the box tyro printed. What else tyro writes on stderr (warnings) is passed on.

    :param cls: the dataclass tyro parses.
    :param tokens: the command line.
    :param prog: the program name.
    :param description: the ``--help`` text.
    :param known: the command's flags (for "did you mean").
    :return: the parsed instance; a bad command line exits with status 2.
    """
    import contextlib
    import importlib
    import io

    def hook(event: Any) -> None:
        try:
            text = _tyro_failure(event, known)
        except Exception:  # an event of another shape: tyro's box is read back instead
            text = None
        if text is not None:
            raise _ParseFailure(text)

    try:
        on_error: Any = importlib.import_module("tyro._errors").on_parse_error
    except (ImportError, AttributeError):
        on_error = None
    printed = io.StringIO()
    message: str | None = None
    try:
        with contextlib.redirect_stderr(printed), \
                on_error(hook) if on_error else contextlib.nullcontext():
            return tyro.cli(cls, args=tokens, prog=prog, description=description)
    except _ParseFailure as failure:
        message = str(failure)
    except SystemExit as exit_:
        if exit_.code in (0, None):
            raise
        message = _unboxed_error(printed.getvalue())
        if message is None:
            raise
        printed = io.StringIO()
    finally:
        sys.stderr.write(printed.getvalue())
    usage_error(prog, message)
