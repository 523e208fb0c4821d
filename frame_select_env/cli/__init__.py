"""The command-line convention of every script: flags parsed by tyro from an arguments dataclass.

Each script declares one dataclass of its arguments (CleanRL style) and calls :func:`parse`::

    @dataclass
    class Args:
        store: str | None = option(None, "feature store (default: the built-in one)")
        ms: list[int] = option(DEFAULT_MS, "top-m budgets")
        progress: bool = option(True, "progress bars")

    args = parse(Args, argv, description=__doc__)

The rules, the same for every script:

* a field ``foo_bar`` is the flag ``--foo-bar`` (or a positional argument with
  ``positional=True``); a field without a default is required;
* ``int``, ``float``, ``str`` and ``Path`` fields take one value, ``X | None`` fields too;
* ``list[X]`` fields take one or more space-separated values (``--ms 4 8``; numbers may also
  be comma-separated, ``--ms 4,8``; a repeated flag adds to the list); ``tuple[X, X]`` fields
  take exactly that many;
* ``bool`` fields are switches with a negative form (``--resume`` / ``--no-resume``);
* ``Literal[...]`` fields, and fields given ``choices=``, accept only those values;
* ``--help`` shows each field's help and default (``none`` for an empty list, or the field's
  ``default_text``);
* a ``ValueError`` from the dataclass's ``__post_init__`` (cross-field checks) is reported like
  any other bad argument: the message and exit status 2;
* numbers are range-checked before anything runs: ``option(0.0, ..., ge=0, le=1)`` (also
  ``gt``, ``lt``); a float option is always finite (``--alpha nan`` is refused), and a list's
  bounds hold for every item.

Every script's ``main`` is wrapped by :func:`entry`: a mistake the user can act on
(:class:`~frame_select_env.core.config.UserError` and the errors deriving from it, a missing or
unreadable file, a full disk) is printed as one ``error: ...`` line with exit status 2 (a full
disk: 1), without a traceback; anything else is a bug and keeps its traceback. ``FSE_TRACEBACK=1``
shows the traceback of user errors too.

The parsing and the help are ``tyro``'s (:func:`tyro.cli`). :func:`option` keeps the scripts'
declarations short: its keywords are turned into ``tyro.conf`` annotations on a copy of the
dataclass without ``__post_init__``, and the script's own class is then built from the parsed
values, so that its checks run here and come out as usage errors. Two rules tyro has no
setting for are kept by a small rewrite of the command line before tyro sees it
(:func:`_merge_list_flags`): comma-separated numbers, and a repeated list flag that adds.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import tyro

from frame_select_env.cli.errors import IN_ENTRY, tyro_cli, usage_error
from frame_select_env.core.config import Range, UserError

T = TypeVar("T")

_MISSING: Any = dataclasses.MISSING


def option(default: Any = _MISSING, help: str = "", *, choices: Sequence[Any] | None = None,
           positional: bool = False, flag: str | None = None,
           metavar: str | tuple[str, ...] | None = None,
           group: str | None = None, nargs: str | None = None,
           default_text: str | None = None, ge: float | None = None, gt: float | None = None,
           le: float | None = None, lt: float | None = None, unbounded: bool = False) -> Any:
    """A dataclass field that :func:`parse` turns into a command-line argument.

    :param default: the default value (lists and dicts are copied per instance); omit it for a
        required argument.
    :param help: the text ``--help`` shows.
    :param choices: the values accepted.
    :param positional: a positional argument instead of a ``--flag``.
    :param flag: the flag's name without ``--`` when it is not the field name in kebab case.
    :param metavar: the value's name in ``--help``.
    :param group: the heading the argument is listed under in ``--help``.
    :param nargs: for a list field, ``"*"`` to accept the flag with no value (an empty list);
        the default is ``"+"``, one or more.
    :param default_text: what ``--help`` shows as the default, when the value alone would not
        say it (e.g. ``"the config's"`` for a ``None`` that keeps a config file's value).
    :param ge: the smallest value a number (or each number of a list) may take.
    :param gt: an exclusive lower bound.
    :param le: the largest value.
    :param lt: an exclusive upper bound.
    :param unbounded: a number option that needs no bounds (a seed may be any int); stated, so
        that ``tests/test_user_errors.py`` can require bounds of every other number option.
    :return: a :func:`dataclasses.field`.
    """
    bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt}
    meta = {"help": help, "choices": choices, "positional": positional, "flag": flag,
            "metavar": metavar, "group": group, "nargs": nargs, "default_text": default_text,
            "range": Range(ge=ge, gt=gt, le=le, lt=lt) if any(
                v is not None for v in bounds.values()) else None,
            "unbounded": unbounded}
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _hints(cls: type) -> dict[str, Any]:
    """The field types of ``cls``, resolved in its module.

    The class namespace is left out: a field named ``list`` or ``set`` must not shadow the
    builtin in the other fields' annotations.
    """
    module = sys.modules.get(cls.__module__)
    return typing.get_type_hints(cls, globalns=vars(module) if module else {}, localns={})


def _strip_optional(tp: Any) -> Any:
    """``X | None`` -> ``X``."""
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else tp
    return tp


def _is_optional(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not _MISSING:
        return f.default
    factory: Any = f.default_factory
    return _MISSING if factory is _MISSING else factory()


def _hint(help_text: str, default: Any, default_text: str | None) -> str | None:
    """What ``--help`` shows after ``help_text`` instead of tyro's ``(default: ...)``.

    ``None`` keeps tyro's own hint (the default value, or ``(required)``).
    """
    if default is _MISSING:
        return None
    if default_text is not None:
        return f"(default: {default_text})"
    if "default" in help_text.lower():  # the help already explains it in its own words
        return ""
    if isinstance(default, (list, tuple)) and not default:  # tyro would print "(default: )"
        return "(default: none)"
    return None


@dataclasses.dataclass(frozen=True)
class _ListFlag:
    """A list option as :func:`_merge_list_flags` sees it."""

    name: str
    numeric: bool
    empty_ok: bool


def _tyro_type(f: dataclasses.Field[Any], tp: Any) -> tuple[Any, _ListFlag | None]:
    """The annotation tyro parses field ``f`` (of resolved type ``tp``) with.

    :return: the annotated type and, for a list flag, what the command-line rewrite needs.
    """
    meta = dict(f.metadata)
    inner = _strip_optional(tp)
    origin = typing.get_origin(inner)
    choices = meta.get("choices")
    list_flag = None
    name = meta.get("flag") or f.name.replace("_", "-")
    if origin is list:
        (item,) = typing.get_args(inner)
        item = _strip_optional(item)
        if choices is not None:
            item = Literal[tuple(choices)]
        inner = list[item]  # type: ignore[valid-type]
        if not meta.get("positional"):
            kind = type(typing.get_args(item)[0]) if typing.get_origin(item) is Literal else item
            list_flag = _ListFlag(f"--{name}", kind in (int, float), meta.get("nargs") == "*")
    elif choices is not None:
        inner = Literal[tuple(choices)]
    if tp is bool and meta.get("positional"):
        raise TypeError(f"cli: a bool field cannot be positional ({f.name})")
    out: Any = inner | None if _is_optional(tp) else inner
    metavar = meta.get("metavar")
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    help_text = meta.get("help") or ""
    conf = tyro.conf.arg(name=meta.get("flag"), metavar=metavar, help=help_text,
                         help_behavior_hint=_hint(help_text, _default(f),
                                                  meta.get("default_text")))
    markers: list[Any] = [conf]
    if meta.get("positional"):
        markers.append(tyro.conf.Positional)
    return Annotated[tuple([out, *markers])], list_flag  # type: ignore[return-value]


@functools.cache
def _for_tyro(cls: type) -> tuple[type, tuple[_ListFlag, ...]]:
    """A copy of the dataclass ``cls`` that tyro parses, and its list flags.

    The copy has the same fields and defaults, annotated with :mod:`tyro.conf` markers from
    the :func:`option` keywords, and no ``__post_init__``: ``cls`` itself is built from the
    parsed values (:func:`parse`), so that its checks become usage errors. Fields given a
    ``group`` are listed under that heading, as a nested dataclass whose flags keep their plain
    names (``tyro.conf.OmitArgPrefixes``), which is how tyro makes headings.
    """
    hints = _hints(cls)
    top: list[tuple[str, Any, Any]] = []
    groups: dict[str, list[tuple[str, Any, Any]]] = {}
    flags = []
    for f in dataclasses.fields(cls):
        tp, list_flag = _tyro_type(f, hints[f.name])
        if list_flag is not None:
            flags.append(list_flag)
        if f.default is not _MISSING:
            spec = dataclasses.field(default=f.default)
        elif f.default_factory is not _MISSING:
            spec = dataclasses.field(default_factory=f.default_factory)
        else:
            spec = dataclasses.field()
        group = f.metadata.get("group")
        (groups.setdefault(group, []) if group else top).append((f.name, tp, spec))
    # keyword-only: required fields may follow defaulted ones, so --help keeps the class's order
    for number, (title, members) in enumerate(groups.items()):
        sub = dataclasses.make_dataclass(f"{cls.__name__}_group{number}", members, kw_only=True)
        sub.__doc__ = ""  # tyro would show make_dataclass's signature docstring
        required = any(m[2].default is _MISSING and m[2].default_factory is _MISSING
                       for m in members)
        # a group of fields that all have defaults gets a default of its own
        spec = dataclasses.field() if required else dataclasses.field(default_factory=sub)
        top.append((f"_group_{number}",  # the title may be any text, the name may not
                    Annotated[sub, tyro.conf.OmitArgPrefixes, tyro.conf.arg(name=title)], spec))
    copy = dataclasses.make_dataclass(f"{cls.__name__}_cli", top, kw_only=True)
    copy.__doc__ = ""
    return copy, tuple(flags)


_NUMBER = re.compile(r"^-(\d|\.\d)")


def _is_flag(token: str) -> bool:
    """Whether ``token`` starts another option (``-5`` and ``-.5`` are values, as in argparse)."""
    return token.startswith("-") and len(token) > 1 and not _NUMBER.match(token)


def _merge_list_flags(argv: list[str], flags: Sequence[_ListFlag]) -> list[str]:
    """``argv`` with each list flag once, its values split at commas for numbers.

    tyro keeps the last use of a repeated flag and takes ``4,8`` as one (bad) number; the
    README's rules are that a repeated flag adds to its first use (never to the default) and
    that numbers may be comma-separated, so the values of every use are gathered here and given
    to tyro at the first one.

    :raises ValueError: a list flag that needs a value was given none (naming the flag).
    """
    by_name = {f.name: f for f in flags}
    out: list[str | list[str]] = []  # a list flag's values: one list shared by all its uses
    values: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":  # everything after it is positional
            out.extend(argv[i:])
            break
        name, eq, inline = token.partition("=")
        flag = by_name.get(name) if name.startswith("--") else None
        if flag is None:
            out.append(token)
            i += 1
            continue
        given = [inline] if eq else []
        i += 1
        while not eq and i < len(argv) and not _is_flag(argv[i]):
            given.append(argv[i])
            i += 1
        if flag.numeric:
            given = [part.strip() for v in given for part in v.split(",") if part.strip()]
        if not given and not flag.empty_ok:
            raise ValueError(f"argument {flag.name}: expected at least one value")
        if flag.name not in values:
            values[flag.name] = []
            out += [flag.name, values[flag.name]]
        values[flag.name].extend(given)
    return [t for item in out for t in ([item] if isinstance(item, str) else item)]


def parse(cls: type[T], argv: Sequence[str] | None = None, description: str | None = None,
          prog: str | None = None) -> T:
    """Parse ``argv`` (default ``sys.argv[1:]``) into an instance of the dataclass ``cls``.

    :param cls: the arguments dataclass.
    :param argv: the arguments; ``None`` reads the command line.
    :param description: shown by ``--help`` (e.g. the script's ``__doc__``).
    :param prog: the program name.
    :return: ``cls(**parsed)``; a bad argument, or a ``ValueError`` raised by the dataclass's
        ``__post_init__``, exits with status 2 and its message.
    """
    prog = prog or Path(sys.argv[0]).name  # as argparse names it (tyro would show the path)
    copy, flags = _for_tyro(typing.cast(type, cls))
    tokens = list(sys.argv[1:] if argv is None else argv)
    try:
        tokens = _merge_list_flags(tokens, flags)
    except ValueError as err:
        usage_error(prog, str(err))
    parsed: Any = tyro_cli(copy, tokens, prog, description or "", _flag_names(cls))
    values: dict[str, Any] = {}
    for f in dataclasses.fields(parsed):  # type: ignore[arg-type]
        value = getattr(parsed, f.name)
        if f.name.startswith("_group_"):
            values.update({g.name: getattr(value, g.name) for g in dataclasses.fields(value)})
        else:
            values[f.name] = value
    try:
        check_numbers(cls, values)
        return cls(**values)
    except ValueError as err:  # __post_init__ validation: a usage error naming the argument
        usage_error(prog, str(err))


def _flag_names(cls: type) -> list[str]:
    """The flags of ``cls``'s fields (``--foo-bar``, and ``--no-foo`` for a switch)."""
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.metadata.get("positional"):
            name = f.metadata.get("flag") or f.name.replace("_", "-")
            out += [f"--{name}", *([f"--no-{name}"] if hints[f.name] is bool else [])]
    return out


def check_numbers(cls: type, values: dict[str, Any]) -> None:
    """Check every number option of ``cls`` in ``values`` against its bounds (and finiteness).

    :param cls: the arguments dataclass.
    :param values: field name -> parsed value.
    :raises UserError: ``"--alpha must be a finite number in [0, 1], got nan"``.
    """
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        rng, kind = f.metadata.get("range"), _number_kind(hints[f.name])
        if rng is None and kind is float:
            rng = Range()  # any float option: NaN and inf are never meant
        if rng is not None and kind is int:
            rng = dataclasses.replace(rng, integer=True)
        if rng is not None and f.name in values:
            rng.check(f"--{f.metadata.get('flag') or f.name.replace('_', '-')}", values[f.name])


def _number_kind(tp: Any) -> type | None:
    """``int`` or ``float`` for a number field (``X``, ``X | None``, ``list[X]``, ``tuple``)."""
    inner = _strip_optional(tp)
    if typing.get_origin(inner) in (list, tuple):
        args = [a for a in typing.get_args(inner) if a is not Ellipsis]
        inner = _strip_optional(args[0]) if args else None
    return inner if inner in (int, float) else None


def check_out_dir(out: str | os.PathLike, markers: Sequence[str], resume: bool,
                  overwrite: bool) -> Path:
    """Refuse to start a run in ``--out`` over another one, unless ``--resume`` or ``--overwrite``.

    Called before anything is written, so a refused command leaves the old run as it was.

    :param out: the output directory.
    :param markers: glob patterns of the files a run leaves (``config.yaml``, ``agent*.pt``).
    :param resume: ``--resume`` was given (continue the run: the caller checks it matches).
    :param overwrite: ``--overwrite`` was given (replace the run's files).
    :return: ``out`` as a path.
    :raises UserError: ``--out`` is a file, both flags were given, or ``--out`` holds a run and
        neither was given; the message names the files found.
    """
    path = Path(out)
    if resume and overwrite:
        raise UserError("--resume continues the run in --out, --overwrite replaces it: give one")
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {str(path)!r} is a file, not a directory: choose another --out")
    if path.is_dir() and not resume and not overwrite:
        found = sorted({p.name for pattern in markers for p in path.glob(pattern)})
        if found:
            shown = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
            raise UserError(f"--out {str(path)!r} already holds a run ({shown}): pass --resume "
                            f"to continue it, --overwrite to replace it, or choose another --out")
    return path


TRACEBACK_ENV = "FSE_TRACEBACK"
#: OSErrors that come from the user's paths or disk, not from a bug
_USER_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR,
                errno.EEXIST, errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.ENAMETOOLONG}


def user_message(err: BaseException) -> str | None:
    """The one-line message of an error the user can act on; ``None`` for a bug.

    :param err: the exception a script's ``main`` raised.
    :return: ``str(err)`` of a :class:`~frame_select_env.core.config.UserError` (and the errors
        deriving from it: ``StoreError``, ``ConfigError``, ``ListFormatError``, ...), or the
        file and reason of an ``OSError`` about a path or the disk; ``None`` otherwise.
    """
    text: str | None
    if isinstance(err, UserError):
        text = str(err)
    elif isinstance(err, OSError) and err.errno in _USER_ERRNOS:
        text = str(err) if err.filename is None or str(err.filename) in str(err) else (
            f"{err.strerror}: {str(err.filename)!r}")
        if err.errno == errno.ENOSPC:
            text += " (free some space and run the same command again: finished work is kept)"
    elif isinstance(err, FileNotFoundError):  # raised with a message only, no errno
        text = str(err)
    else:
        return None
    # the first line is the error; more lines (a list of what is accepted) follow it as they are
    return text.strip() or type(err).__name__


def entry(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap a script's ``main(argv)``: user errors become one ``error:`` line and a status.

    The status is 2 for a user mistake (as argparse exits for a bad argument) and 1 for a full
    disk; a ``SystemExit`` with a message (``raise SystemExit("...")``) is printed the same way
    with status 2. Any other exception is a bug and propagates with its traceback, as do all of
    them when the environment variable ``FSE_TRACEBACK`` is set to anything but ``0``.

    :param main: the script's ``main``; it returns the exit status.
    :return: the wrapped ``main`` (``main.__wrapped__`` is the original).
    """

    @functools.wraps(main)
    def wrapped(argv: Sequence[str] | None = None) -> int:
        show = os.environ.get(TRACEBACK_ENV, "0") not in ("", "0")
        token = IN_ENTRY.set(True)
        try:
            return main(argv)
        except SystemExit as exit_:
            if not isinstance(exit_.code, str):
                raise  # argparse's usage errors and sys.exit(n): already reported
            text = " ".join(exit_.code.split())
            # old forms of the message: "error: ..." and "script.py: error: ..."
            text = re.sub(r"^(\S+\.py: )?error: ", "", text)
            print(f"error: {text}", file=sys.stderr)
            return 2
        except Exception as err:
            message = user_message(err)
            if message is None or show:
                raise
            print(f"error: {message}", file=sys.stderr)
            disk = isinstance(err, OSError) and err.errno == errno.ENOSPC
            return 1 if disk else 2
        finally:
            IN_ENTRY.reset(token)

    wrapped.__dict__["user_errors"] = True  # tests/test_user_errors.py checks every script
    return wrapped


def as_dict(args: Any) -> dict[str, Any]:
    """The parsed arguments as plain values (``Path`` as ``str``), for a run's config file."""
    out = {}
    for key, value in dataclasses.asdict(args).items():
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, (list, tuple)):
            value = [str(v) if isinstance(v, Path) else v for v in value]
        out[key] = value
    return out
