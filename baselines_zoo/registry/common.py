"""What the one-step and the sequential agent specs share.

The error, the parsed entry's fields (:class:`SpecEntry`), the parsing steps
(:func:`split_spec`, :func:`split_kind`, :func:`check_exists`), display names, seeds and user code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from baselines_zoo.policies import BUILTIN_POLICIES
from frame_select_env.core.config import UserError

_NAME_RE = re.compile(r"^[A-Za-z0-9_.+\-]+$")

ACCEPTED = (
    "accepted agent specs:\n"
    f"  built-in baselines: {', '.join(sorted(BUILTIN_POLICIES))}\n"
    "  as:PATH            the paper's AS agent (checkpoint file, or run dir with agent_rgb.pt / "
    "agent_flow.pt / agent.pt)\n"
    "  ppo:PATH a2c:PATH sac:PATH td3:PATH sb3:PATH   a Stable-Baselines3 model.zip (or its run "
    "dir)\n"
    "  scsampler mgsampler; ocsampler:PATH liteeval:PATH frameexit:PATH   the field's "
    "selectors (baselines_zoo.field; PATH from scripts/train_selector.py)\n"
    "  MODULE:ATTR or path/to/file.py:ATTR           your own policy class, instance or function\n"
    "  NAME=SPEC          any of the above, displayed as NAME\n"
    "  a learned agent's PATH may contain {stream} (one model per stream) and {seed} (one "
    "training run per evaluation seed)"
)


class AgentSpecError(UserError):
    """An ``--agents`` entry that cannot be used; the message lists what is accepted.

    :param spec: the entry.
    :param problem: what is wrong with it.
    :param accepted: the list of accepted specs shown (the one-step ones by default;
        :data:`~baselines_zoo.registry.sequential.SEQ_ACCEPTED` for sequential specs).
    """

    def __init__(self, spec: str, problem: str, accepted: str = ACCEPTED) -> None:
        super().__init__(f"bad agent spec {spec!r}: {problem}\n{accepted}")
        self.spec = spec


def split_display_name(spec: str) -> tuple[str | None, str]:
    """``NAME=SPEC`` as ``(NAME, SPEC)``; a spec without a display name as ``(None, spec)``.

    Shared by the one-step and the sequential specs. An ``=`` that does not follow a plain name
    (letters, digits, ``_ . + -``) belongs to the spec (e.g. a path).
    """
    head, eq, rest = spec.partition("=")
    if eq and _NAME_RE.match(head) and rest:
        return head, rest
    return None, spec


#: builds the error of a spec and a problem (it lists the accepted specs of its kind)
SpecError = Callable[[str, str], AgentSpecError]


@dataclass
class SpecEntry:
    """What a parsed agent spec of either kind holds (the base of both entries).

    :param spec: the original string.
    :param name: display name.
    :param kind: how the agent is made (the subclass's kinds).
    :param target: a built-in name, a checkpoint or run path, or ``MODULE:ATTR``.
    :param algo: the spec's prefix where it says more than ``kind`` (an SB3 algorithm, ...).
    :param uses_label: the agent reads the ground truth (an upper bound).
    :param explicit_name: the name came from ``NAME=SPEC``.
    """

    spec: str
    name: str
    kind: str
    target: str
    algo: str | None = None
    uses_label: bool = False
    explicit_name: bool = False
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)


def split_spec(spec: str, error: SpecError) -> tuple[str | None, str]:
    """``NAME=SPEC`` as ``(NAME, SPEC)`` (:func:`split_display_name`), refusing an empty SPEC.

    :param spec: the entry as given.
    :param error: builds the error (its kind's).
    :raises AgentSpecError: nothing to parse.
    """
    name, rest = split_display_name(spec)
    if not rest:
        raise error(spec, "empty spec")
    return name, rest


def split_kind(original: str, spec: str, builtins: Collection[str], what: str, similar: int,
               error: SpecError) -> tuple[str, str]:
    """``KIND:TARGET`` of a spec that names no built-in agent, both parts non-empty.

    :param original: the entry as given, for the error.
    :param spec: the spec without its display name.
    :param builtins: the built-in names (one sharing the first ``similar`` characters is
        suggested).
    :param what: what a built-in is, for the error (``baseline``, ``comparator``).
    :param similar: how many leading characters a suggestion shares.
    :param error: builds the error (its kind's).
    :return: ``(KIND, TARGET)``.
    :raises AgentSpecError: no ``:``, or nothing after it.
    """
    prefix, colon, target = spec.partition(":")
    if not colon:
        close = [b for b in builtins if b.startswith(spec[:similar])]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise error(original, f"not a built-in {what} and not of the form KIND:PATH or "
                              f"MODULE:ATTR{hint}")
    if not target:
        raise error(original, f"nothing after {prefix + ':'!r}")
    return prefix, target


def check_exists(original: str, target: str, what: str, error: SpecError) -> None:
    """Refuse a ``PATH`` that does not exist (one with ``{seed}`` or ``{stream}``: when loaded).

    :param original: the entry as given, for the error.
    :param target: the path.
    :param what: what it should be, for the error (``AS checkpoint``, ``SB3 model``).
    :param error: builds the error (its kind's).
    :raises AgentSpecError: ``"<what> <target> does not exist"``.
    """
    if "{" not in target and not os.path.exists(target):
        raise error(original, f"{what} {target!r} does not exist")


def _target_for_seed(target: str, seed: int) -> str:
    """``{seed}`` replaced, or the run directory's ``seed_<seed>`` sub-directory if it has one."""
    if "{seed}" in target:
        return target.replace("{seed}", str(seed))
    sub = Path(target) / f"seed_{seed}"
    return str(sub) if "{stream}" not in target and sub.is_dir() else target


class _Named(Protocol):
    name: str
    spec: str


_E = TypeVar("_E", bound=_Named)


def unique_names(entries: Sequence[_E], error: SpecError) -> list[_E]:
    """The entries, checked for a repeated display name (both kinds of spec).

    :param entries: parsed entries (``name``, ``spec``).
    :param error: builds the error of a spec and a problem (it lists the accepted specs).
    :return: the entries, in order.
    :raises AgentSpecError: two entries share a display name.
    """
    seen: dict[str, str] = {}
    for e in entries:
        if e.name in seen:
            raise error(e.spec, f"display name {e.name!r} is already used by "
                                f"{seen[e.name]!r}; rename one with NAME=SPEC")
        seen[e.name] = e.spec
    return list(entries)


def load_user_code(load: Callable[[], Any], original: str, error: SpecError) -> Any:
    """Run ``load`` (it imports the user's ``MODULE:ATTR``); any failure is a bad spec.

    :param load: imports and returns the user's object.
    :param original: the spec, named in the error.
    :param error: builds the error of a spec and a problem.
    :return: what ``load`` returned.
    :raises AgentSpecError: ``load`` raised (its type and message are in the error).
    """
    try:
        return load()
    except Exception as err:  # noqa: BLE001 - any failure while importing the user's code
        raise error(original, f"could not load user policy "
                              f"({type(err).__name__}: {err})") from err
