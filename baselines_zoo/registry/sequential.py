"""The sequential agent specs (``FrameSelectionSeq-v0``): parsed into entries that make policies.

See :mod:`baselines_zoo.registry` for the specs.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from baselines_zoo.registry import common
from baselines_zoo.registry.common import AgentSpecError, SpecEntry
from baselines_zoo.seq_policies import SEQ_BUILTIN, make_seq_policies

#: The prefixes of sequential SB3 runs (``baselines_zoo.sb3.sequential``).
#: the algorithms train_sb3 trains on FrameSelectionSeq-v0 (baselines_zoo.sb3.sequential.SEQ_ALGOS,
#: not imported here: the registry parses specs without importing SB3)
SEQ_SB3_PREFIXES = ("maskable_ppo", "ppo", "recurrent_ppo", "a2c")
#: The prefixes of the sequential AS agent: paying its whole budget, or stopping on its own.
SEQ_AS_PREFIXES = ("seq-as", "seq-as-stop")

SEQ_ACCEPTED = (
    "accepted sequential agent specs (FrameSelectionSeq-v0):\n"
    f"  built-in comparators: {', '.join(SEQ_BUILTIN)} (one per budget; seq-stop pays "
    "nothing; seq-oracle reads the relevance)\n"
    "  seq-as:PATH        the sequential AS agent paying its whole budget "
    "(agents.seq_agent.load_seq_policies; a file, or a train_seq_agent.py run directory)\n"
    "  seq-as-stop:PATH   the same agent stopping on its own\n"
    f"  {':PATH '.join(SEQ_SB3_PREFIXES)}:PATH   a sequential Stable-Baselines3 run "
    "(baselines_zoo.sb3.scoring.load_seq_sb3)\n"
    "  MODULE:ATTR or path/to/file.py:ATTR           your own SequentialPolicy class (one per "
    "budget when it takes budget=), instance or factory\n"
    "  NAME=SPEC          any of the above, displayed as NAME\n"
    "  a learned agent's PATH may contain {seed} (one training run per evaluation seed)"
)


def _seq_error(spec: str, problem: str) -> AgentSpecError:
    return AgentSpecError(spec, problem, SEQ_ACCEPTED)


@dataclass
class SeqAgentEntry(SpecEntry):
    """A parsed sequential agent spec (the fields of :class:`~.common.SpecEntry`).

    ``kind`` is ``builtin`` (:mod:`baselines_zoo.seq_policies`), ``seq-as``, ``sb3`` or
    ``user``; ``target`` the comparator name, checkpoint / run path, or ``MODULE:ATTR``;
    ``algo`` the spec's prefix: the SB3 algorithm (``maskable_ppo`` or ``ppo``) for ``sb3``,
    ``seq-as`` (pays its whole budget) or ``seq-as-stop`` (stops on its own) for ``seq-as``.
    """

    def policies(self, budgets: Sequence[int] = (), seed: int = 0) -> list[Any]:
        """The sequential policies of this agent: one per budget, or one at its own budget.

        :param budgets: budgets (the most frames paid) for the comparators and for user classes
            that take ``budget``; learned agents (``seq-as``, SB3) ignore them and are evaluated
            at their own ``env_kwargs``.
        :param seed: seed of this evaluation run (``seq-random``; ``{seed}`` in a ``PATH``; a
            policy's ``reset(seed)``).
        :return: the policies, each named :attr:`name`.
        :raises AgentSpecError: the agent cannot be loaded, or needs a budget and got none.
        """
        if self.kind == "builtin":
            try:
                out = make_seq_policies(self.target, list(budgets), seed=seed)
            except ValueError as err:
                raise _seq_error(self.spec, str(err)) from err
        elif self.kind == "user":
            out = self._user_policies(budgets)
        else:
            out = list(self._learned(seed))
        for policy in out:
            policy.name = self.name
            if callable(getattr(policy, "reset", None)):
                policy.reset(seed)
        return out

    def _learned(self, seed: int) -> list[Any]:
        """The ``seq-as`` or SB3 policies of the run for ``seed`` (loaded once per path).

        A ``seq-as`` run directory gives one agent per budget it trained
        (:func:`agents.seq_agent.load_seq_policies`); an SB3 run gives one model.
        """
        target = common._target_for_seed(self.target, seed)
        key = f"learned:{target}"
        if key in self._cache:
            return list(self._cache[key])
        policies: list[Any]
        try:
            if self.kind == "seq-as":
                from agents.seq_agent import load_seq_policies

                policies = load_seq_policies(target, seed=seed, stop=self.algo == "seq-as-stop")
            else:
                from baselines_zoo.sb3.scoring import load_seq_sb3

                # the algorithm is read from the run's config
                policies = [load_seq_sb3(target)]
        except ImportError as err:
            raise _seq_error(self.spec, f"the loader of {self.kind!r} runs is not available "
                                        f"({err})") from err
        except (ValueError, FileNotFoundError) as err:
            # an unreadable or refused file (named in the message): a bad spec, not a crash
            raise _seq_error(self.spec, str(err)) from err
        for policy in policies:
            maskable = getattr(policy, "maskable", None)
            if maskable is not None and maskable != (self.algo == "maskable_ppo"):
                raise _seq_error(self.spec, f"{target!r} holds a "
                                            f"{'MaskablePPO' if maskable else 'PPO'} model, not "
                                            f"{self.algo}")
            # an SB3 policy is named after the algorithm its run's config.yaml records
            name = getattr(policy, "name", None)
            if self.kind == "sb3" and name in SEQ_SB3_PREFIXES and name != self.algo:
                raise _seq_error(self.spec, f"{target!r} holds a {name} model, not {self.algo}")
        self._cache[key] = policies
        return list(policies)

    def _user_policies(self, budgets: Sequence[int]) -> list[Any]:
        """The user's policy: one per budget for a class taking ``budget``, else one."""
        obj: Any = self._user_object()
        make: Any = obj  # a class or factory, called below
        if inspect.isclass(obj) and _takes_kwarg(obj, "budget") and budgets:
            out = [make(budget=int(b)) for b in budgets]
        elif inspect.isclass(obj) or inspect.isfunction(obj):
            out = [make()]  # a class without a budget, or a zero-argument factory
        else:
            out = [obj]
        for policy in out:
            if not callable(getattr(policy, "act", None)):
                raise _seq_error(self.spec, f"{type(policy).__name__} has no act(obs, "
                                            f"action_masks), so it is not a sequential policy")
        return out

    def _user_object(self) -> Any:
        """``ATTR`` of the user's module (imported once)."""
        from frame_select_env.core.policy import _import_module

        if "object" not in self._cache:
            module, _, attr = self.target.rpartition(":")
            mod = _import_module(module)
            if not hasattr(mod, attr):
                public = sorted(k for k in vars(mod) if not k.startswith("_"))
                raise AttributeError(f"module {module!r} has no attribute {attr!r} (it has "
                                     f"{public})")
            self._cache["object"] = getattr(mod, attr)
        return self._cache["object"]


def _takes_kwarg(fn: Any, name: str) -> bool:
    """Whether ``fn`` (a function or a class's constructor) takes the keyword ``name``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def parse_seq_agent_spec(spec: str) -> SeqAgentEntry:
    """Parse one sequential agent spec (see the module docstring).

    :param spec: e.g. ``seq-uniform``, ``seq-as:runs/seq/agent.pt``,
        ``mppo=maskable_ppo:runs/mppo_s{seed}``, ``my_policies.py:Greedy``.
    :return: the entry.
    :raises AgentSpecError: listing the accepted sequential specs.
    """
    original = spec
    name, spec = common.split_spec(spec, _seq_error)
    if spec in SEQ_BUILTIN:
        return SeqAgentEntry(original, name or spec, "builtin", spec,
                             uses_label=spec == "seq-oracle", explicit_name=name is not None)
    prefix, target = common.split_kind(original, spec, SEQ_BUILTIN, "comparator", 5, _seq_error)
    if prefix in SEQ_BUILTIN:
        raise _seq_error(original, f"{prefix!r} takes no ':'; its budgets come from the caller")
    if prefix in SEQ_AS_PREFIXES or prefix in SEQ_SB3_PREFIXES:
        common.check_exists(original, target, f"{prefix} run", _seq_error)
        kind = "seq-as" if prefix in SEQ_AS_PREFIXES else "sb3"
        # algo: the SB3 algorithm, or for seq-as whether the agent stops on its own
        return SeqAgentEntry(original, name or prefix, kind, target, algo=prefix,
                             explicit_name=name is not None)
    entry = SeqAgentEntry(original, name or target.rsplit(".", 1)[-1], "user", spec,
                          explicit_name=name is not None)
    obj = common.load_user_code(entry._user_object, original, _seq_error)
    if inspect.isfunction(obj) and len(inspect.signature(obj).parameters):
        raise _seq_error(original, f"{target!r} is a function with arguments; give a "
                                   f"SequentialPolicy class, instance or zero-argument factory")
    if not inspect.isfunction(obj) and not callable(getattr(obj, "act", None)):
        raise _seq_error(original, f"{target!r} has no act(obs, action_masks), so it is not a "
                                   f"sequential policy")
    entry.uses_label = bool(getattr(obj, "uses_label", False))
    if name is None and isinstance(getattr(obj, "name", None), str):
        entry.name = obj.name
    return entry


def parse_seq_agent_specs(specs: Sequence[str]) -> list[SeqAgentEntry]:
    """Parse many sequential specs; display names must be unique (use ``NAME=SPEC``).

    :param specs: the specs.
    :return: the entries, in order.
    :raises AgentSpecError: a bad spec or a repeated display name.
    """
    return common.unique_names([parse_seq_agent_spec(s) for s in specs], _seq_error)
