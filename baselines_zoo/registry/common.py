"""What the one-step and the sequential agent specs share: the error, names, seeds, user code."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
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


def unique_names(entries: Sequence[_E], error: Callable[[str, str], AgentSpecError]) -> list[_E]:
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


def load_user_code(load: Callable[[], Any], original: str,
                   error: Callable[[str, str], AgentSpecError]) -> Any:
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
