"""Reading options: YAML files (``yaml.safe_load``) and dicts into validated dataclasses.

Also the one error type of a mistake the user can fix (:class:`UserError`: a file, option or
value named with what to do), and the one range check of numbers (:class:`Range`), shared by the
command line (:func:`frame_select_env.cli.option`) and the config dataclasses.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class UserError(ValueError):
    """A mistake the user can act on: a bad option, value, file or combination of them.

    The message names the culprit (the option, file, row or key and the value) and what to do.
    Every script prints one ``error: ...`` line for it and exits with status 2 (as argparse does
    for a bad argument) instead of a traceback (:func:`frame_select_env.cli.entry`). It is a
    ``ValueError``, so code that catches bad values keeps catching it.
    """


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclasses.dataclass(frozen=True)
class Range:
    """The numbers an option or config key accepts: bounds, finiteness and integrality.

    :param ge: the smallest value (inclusive).
    :param gt: exclusive lower bound.
    :param le: the largest value (inclusive).
    :param lt: exclusive upper bound.
    :param finite: refuse NaN and infinities (every float option and key: a NaN weight makes
        every comparison false and the results silently wrong).
    :param integer: only whole numbers (``int``, not ``bool``).
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    finite: bool = True
    integer: bool = False

    def describe(self) -> str:
        """The accepted values in words: ``"an integer >= 1"``, ``"a finite number in [0, 1]"``."""
        kind = "an integer" if self.integer else "a finite number" if self.finite else "a number"
        low = (f"[{_number(self.ge)}" if self.ge is not None else
               f"({_number(self.gt)}" if self.gt is not None else None)
        high = (f"{_number(self.le)}]" if self.le is not None else
                f"{_number(self.lt)})" if self.lt is not None else None)
        if low and high:
            return f"{kind} in {low}, {high}"
        if low:
            return f"{kind} {'>=' if self.ge is not None else '>'} {low[1:]}"
        if high:
            return f"{kind} {'<=' if self.le is not None else '<'} {high[:-1]}"
        return kind

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a number of this range (``bool`` is not a number here)."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.integer and not isinstance(value, numbers.Integral):
            return False
        v = float(value)
        if math.isnan(v) or (self.finite and math.isinf(v)):
            return False
        return ((self.ge is None or v >= self.ge) and (self.gt is None or v > self.gt)
                and (self.le is None or v <= self.le) and (self.lt is None or v < self.lt))

    def check(self, name: str, value: Any, where: str | None = None) -> None:
        """Raise :class:`UserError` unless ``value`` (or each item of a list or tuple) fits.

        :param name: the option or key, for the message (``--alpha``, ``lr``).
        :param value: a number, a list or tuple of numbers, or ``None`` (always accepted: an
            optional value left unset).
        :param where: where the value came from (``config 'x.yaml'``), for the message.
        :raises UserError: ``"<where>: <name> must be <range>, got <value>"``.
        """
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if item is not None and not self.accepts(item):
                prefix = f"{where}: " if where else ""
                shown = f"{item!r} in {list(value)}" if items is value else repr(item)
                raise UserError(f"{prefix}{name} must be {self.describe()}, got {shown}")


def check_ranges(obj: Any, ranges: Mapping[str, Range], where: str | None = None) -> None:
    """Check fields of the dataclass ``obj`` against their :class:`Range` (its ``__post_init__``).

    :param obj: a config dataclass.
    :param ranges: field name -> its range.
    :param where: what the object is, for the messages (default its class name).
    :raises UserError: the first field out of its range, named with the value.
    """
    for name, rng in ranges.items():
        rng.check(name, getattr(obj, name), where or type(obj).__name__)


def _numeric_kind(tp: Any) -> type | None:
    """``int`` or ``float`` for a field typed ``int``, ``float`` (or ``X | None``), else None."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = rest[0] if len(rest) == 1 else None
    return tp if tp in (int, float) else None


def _check_numbers(cls: type, data: dict[str, Any], where: str, error: type[Exception]) -> None:
    """Refuse a value of the wrong kind for an ``int`` or ``float`` field, and NaN or inf.

    A YAML 1.1 float without a dot (``3e-3``, which PyYAML reads as a string) is taken as the
    float it means; anything else that is not a number is an error naming the key.
    """
    module = sys.modules.get(cls.__module__)
    try:
        hints = typing.get_type_hints(cls, globalns=vars(module) if module else {}, localns={})
    except (NameError, TypeError):  # an annotation this module cannot resolve: no type checks
        return
    for key, value in list(data.items()):
        kind = _numeric_kind(hints.get(key))
        if kind is None or value is None:
            continue
        if kind is float and isinstance(value, str):
            try:
                value = data[key] = float(value)
            except ValueError:
                pass
        if not Range(integer=kind is int).accepts(value):
            what = "an integer" if kind is int else "a finite number"
            raise error(f"{where}: {key} must be {what}, got {value!r}")


def load_yaml(path: str | os.PathLike, what: str = "config") -> dict[str, Any]:
    """A YAML file holding a mapping (an empty file is ``{}``), read with ``yaml.safe_load``.

    :param path: the file.
    :param what: what the file is, for the errors (``config``, ``--config``, ``hyperparameters``).
    :raises FileNotFoundError: the file does not exist.
    :raises UserError: it is not valid YAML, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as err:
        # one line: PyYAML's message spans several (the mark and its context)
        detail = " ".join(str(err).split())
        raise UserError(f"{what} {str(path)!r} is not valid YAML: {detail}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{what} {str(path)!r}: expected a mapping of options, got "
                        f"{type(data).__name__}")
    return data


def unknown_keys(cls: type, data: Mapping[str, Any]) -> list[str]:
    """The keys of ``data`` that are not fields of the dataclass ``cls``, sorted."""
    known = {f.name for f in dataclasses.fields(cls)}
    return sorted(set(data) - known)


def from_dict(cls: type[T], data: Mapping[str, Any], where: str | None = None,
              error: type[Exception] = UserError, what: str | None = None) -> T:
    """Build the dataclass ``cls`` from a mapping; an unknown key is an error naming it.

    Fields typed ``int`` or ``float`` (or ``None`` with them) must hold such a number, finite;
    the class's own ``__post_init__`` checks the ranges.

    :param cls: a dataclass whose ``__post_init__`` validates the values.
    :param data: field values (e.g. a YAML mapping).
    :param where: where the values came from (a file, ``config``), for the error; default the
        class name.
    :param error: the exception class to raise.
    :param what: what the keys are, for the error (default ``"<class name> keys"``).
    :raises error: ``data`` is not a mapping, has unknown keys or a key holds no number of its
        kind.
    """
    where = where or cls.__name__
    if not isinstance(data, Mapping):
        raise error(f"{where}: expected a mapping of {cls.__name__} fields, got "
                    f"{type(data).__name__}")
    unknown = unknown_keys(cls, data)
    if unknown:
        known = sorted(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        raise error(f"{where}: unknown {what or cls.__name__ + ' keys'} {unknown} "
                    f"(known: {known})")
    values = dict(data)
    _check_numbers(cls, values, where, error)
    try:
        return cls(**values)
    except UserError:
        raise
    except ValueError as err:  # __post_init__'s checks: the values came from ``where``
        if error is ValueError or isinstance(err, error):
            raise
        text = str(err)
        raise error(text if text.startswith(where) else f"{where}: {text}") from None
