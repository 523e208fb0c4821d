"""The command-line convention of every script: flags generated from an arguments dataclass.

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
* ``--help`` shows each field's help and default (``none`` for ``None`` or an empty list,
  or the field's ``default_text``);
* a ``ValueError`` from the dataclass's ``__post_init__`` (cross-field checks) is reported like
  any other bad argument: the message and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING: Any = dataclasses.MISSING


def option(default: Any = _MISSING, help: str = "", *, choices: Sequence[Any] | None = None,
           positional: bool = False, flag: str | None = None,
           metavar: str | tuple[str, ...] | None = None,
           group: str | None = None, nargs: str | None = None,
           default_text: str | None = None) -> Any:
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
    :return: a :func:`dataclasses.field`.
    """
    meta = {"help": help, "choices": choices, "positional": positional, "flag": flag,
            "metavar": metavar, "group": group, "nargs": nargs, "default_text": default_text}
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class _ListAction(argparse.Action):
    """Collect one or more values; numbers also split at commas (``4,8`` is ``4 8``)."""

    def __init__(self, *args: Any, convert: Callable[[str], Any] = str, **kwargs: Any) -> None:
        self.convert = convert
        self._given: set[int] = set()
        super().__init__(*args, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        out = []
        for value in values:
            # numbers may also be comma-separated (--ms 4,8); text never is (paths, KEY=[1, 2])
            parts = str(value).split(",") if self.convert in (int, float) else [str(value)]
            for part in parts:
                if not part.strip():
                    continue
                try:
                    item = self.convert(part.strip())
                except (TypeError, ValueError):
                    parser.error(f"argument {option_string or self.dest}: invalid value "
                                 f"{part.strip()!r}")
                if self.choices is not None and item not in self.choices:
                    parser.error(f"argument {option_string or self.dest}: {item!r} is not one "
                                 f"of {list(self.choices)}")
                out.append(item)
        # a repeated flag adds to its first use (--set a=1 --set b=2), never to the default
        if id(namespace) in self._given:
            out = [*getattr(namespace, self.dest), *out]
        self._given.add(id(namespace))
        setattr(namespace, self.dest, out)


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


def _converter(tp: Any) -> Callable[[str], Any]:
    if tp in (int, float, str, Path):
        return tp
    if typing.get_origin(tp) is typing.Literal:
        values = typing.get_args(tp)
        kind = type(values[0])
        return kind
    raise TypeError(f"cli: unsupported field type {tp!r}")


def _with_default(help_text: str, has_default: bool, default: Any, is_switch: bool,
                  default_text: str | None) -> str:
    """``help_text`` with the default appended, so that ``--help`` shows every default.

    ``None`` and empty lists used to show nothing, which left most flags of a script whose
    options default to "keep the config's value" without a default; now they read ``none``
    unless ``default_text`` (or the help text itself, "... (default: ...)") says more.
    """
    if not has_default:  # required: nothing to show
        return help_text
    if default_text is not None:
        shown = default_text
    elif is_switch:
        shown = "on" if default else "off"
    elif "default" in help_text.lower():  # the help already explains it in its own words
        return help_text
    elif default is None or (isinstance(default, (list, tuple)) and not default):
        shown = "none"
    elif isinstance(default, (list, tuple)):
        shown = " ".join(map(str, default))
    else:
        shown = str(default)
    return f"{help_text} (default: {shown})".strip()


def build_parser(cls: type, description: str | None = None,
                 epilog: str | None = None, prog: str | None = None) -> argparse.ArgumentParser:
    """The :mod:`argparse` parser of the arguments dataclass ``cls``.

    :param cls: a dataclass whose fields are made with :func:`option` (plain fields work too).
    :param description: the text above the arguments in ``--help`` (e.g. the script's
        docstring).
    :param epilog: the text below them.
    :param prog: the program name.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    hints = _hints(cls)
    groups: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        meta = dict(f.metadata)
        group_name = meta.get("group")
        target: Any = parser
        if group_name:
            target = groups.setdefault(group_name, parser.add_argument_group(group_name))
        tp = _strip_optional(hints[f.name])
        origin = typing.get_origin(tp)
        has_default = f.default is not _MISSING or f.default_factory is not _MISSING
        default: Any = None
        if f.default is not _MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        help_text = _with_default(meta.get("help") or "", has_default, default, tp is bool,
                                  meta.get("default_text"))
        choices = meta.get("choices")
        if origin is typing.Literal:
            choices = list(typing.get_args(tp))
        kwargs: dict[str, Any] = {"help": help_text}
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        name = meta.get("flag") or f.name.replace("_", "-")
        if meta.get("positional"):
            names: list[str] = [f.name]
            if has_default:
                kwargs["nargs"] = "?"
                kwargs["default"] = default
        else:
            names = [f"--{name}"]
            kwargs["dest"] = f.name
            if has_default:
                kwargs["default"] = default
            else:
                kwargs["required"] = True
        if tp is bool:
            if meta.get("positional"):
                raise TypeError(f"cli: a bool field cannot be positional ({f.name})")
            kwargs["action"] = argparse.BooleanOptionalAction
        elif origin in (list, tuple):
            items = typing.get_args(tp)
            if origin is tuple and Ellipsis not in items:
                kwargs["type"] = _converter(items[0])
                kwargs["nargs"] = len(items)
                if choices is not None:
                    kwargs["choices"] = choices
            else:
                kwargs["action"] = _ListAction
                kwargs["convert"] = _converter(_strip_optional(items[0]))
                kwargs["nargs"] = meta.get("nargs") or "+"
                if choices is not None:
                    kwargs["choices"] = choices
        else:
            kwargs["type"] = _converter(tp)
            if choices is not None:
                kwargs["choices"] = choices
        target.add_argument(*names, **kwargs)
    return parser


def parse(cls: type[T], argv: Sequence[str] | None = None, description: str | None = None,
          epilog: str | None = None, prog: str | None = None) -> T:
    """Parse ``argv`` (default ``sys.argv[1:]``) into an instance of the dataclass ``cls``.

    :param cls: the arguments dataclass.
    :param argv: the arguments; ``None`` reads the command line.
    :param description: shown by ``--help`` (e.g. the script's ``__doc__``).
    :param epilog: shown below the arguments.
    :param prog: the program name.
    :return: ``cls(**parsed)``; a bad argument, or a ``ValueError`` raised by the dataclass's
        ``__post_init__``, exits with status 2 and its message.
    """
    parser = build_parser(cls, description=description, epilog=epilog, prog=prog)
    namespace = parser.parse_args(None if argv is None else list(argv))
    values = vars(namespace)
    hints = _hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # argparse gives lists
        origin = typing.get_origin(_strip_optional(hints[f.name]))
        if origin is tuple and isinstance(values.get(f.name), list):
            values[f.name] = tuple(values[f.name])
    try:
        return cls(**values)
    except ValueError as err:  # __post_init__ validation: a usage error naming the argument
        parser.error(str(err))


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
