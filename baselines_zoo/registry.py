"""Agent specs: the strings ``scripts/compare_agents.py --agents`` accepts.

=================================  ==============================================================
spec                               agent
=================================  ==============================================================
``random`` ``uniform`` ``all``     built-in baselines (:mod:`baselines_zoo.policies`)
``confidence`` ``entropy``
``oracle`` ``relevance-oracle``    upper bounds: they read the label / ground-truth relevance
``as:PATH``                        the paper's agent: a checkpoint of ``agents.as_agent``, a
                                   multi-stream checkpoint, or a run directory holding
                                   ``agent_rgb.pt`` / ``agent_flow.pt`` (or ``agent.pt``);
                                   ``PATH`` may contain ``{stream}``
``ppo:PATH`` ``a2c:PATH``          a Stable-Baselines3 model (``model.zip`` or its run directory;
``sac:PATH`` ``td3:PATH``          a directory may hold ``model_rgb.zip`` / ``model_flow.zip``)
``sb3:PATH``                       same, the algorithm read from the run's ``config.yaml``;
                                   ``PATH`` may contain ``{stream}`` (one run per stream)
``scsampler`` ``mgsampler``        the field's training-free selectors (:mod:`baselines_zoo.field`)
``ocsampler:PATH`` ``liteeval:PATH``  the field's learned selectors: a checkpoint of
``frameexit:PATH``                 ``scripts/train_selector.py`` (or its ``--out`` directory)
``MODULE:ATTR``                    your policy: a class, instance or function in an importable
``path/to/file.py:ATTR``           module or a Python file (``frame_select_env.core.policy``)
``NAME=SPEC``                      any of the above, shown as ``NAME`` in tables and plots
=================================  ==============================================================

**Sequential agents** (``FrameSelectionSeq-v0``, :func:`parse_seq_agent_specs`, evaluated by
:func:`frame_select_env.evaluation.sequential.evaluate_sequential`):

====================================  ===========================================================
spec                                  agent
====================================  ===========================================================
``seq-random`` ``seq-uniform``        the comparators of :mod:`baselines_zoo.seq_policies`, one
``seq-confidence`` ``seq-stop``       per budget the caller gives (``seq-stop``: one; it pays
``seq-oracle``                        nothing); ``seq-oracle`` reads the relevance (upper bound)
``seq-as:PATH``                       the sequential AS agent (``agents.seq_agent``) paying its
                                      whole budget (the paper's test-time top-m, carried over)
``seq-as-stop:PATH``                  the same agent stopping on its own (an adaptive budget)
``maskable_ppo:PATH`` ``ppo:PATH``    a sequential SB3 run (``baselines_zoo.sb3.sequential``)
``MODULE:ATTR``                       your :class:`~frame_select_env.core.policy.SequentialPolicy`:
a
``path/to/file.py:ATTR``              class (one per budget when it takes ``budget``), an
                                      instance or a zero-argument factory
``NAME=SPEC``                         any of the above, shown as ``NAME``
====================================  ===========================================================

Learned sequential agents (``seq-as``, SB3) are evaluated at the env options they were trained
with (their ``env_kwargs``; a ``seq-as`` agent trained for several budgets, at each of them);
``{seed}`` in their ``PATH`` and ``seed_<k>/`` run directories work as below.

**Seeds.** ``PATH`` may contain ``{seed}``: evaluation seed k then uses the model trained with
seed k, so the spread over seeds in the table includes training variance (e.g.
``ppo:runs/ppo_s{seed}/model_{stream}``). A run directory with ``seed_<k>/`` sub-directories
(``scripts/train_reinforce.py --seeds N``) is used the same way; otherwise one checkpoint serves
every seed and its spread is 0.

**Streams.** An agent trained on one stream (an AS checkpoint or SB3 model with one stream in its
config) scores that stream. With ``cross_stream=True`` (the default) it also scores the other
stream when the input sizes match, so it gets a row for every stream and for the fused
prediction; the table then shows it as ``NAME*`` ("one model used for both streams"). With
``cross_stream=False`` it only gets rows for its own stream. Per-stream checkpoints
(``agent_rgb.pt`` + ``agent_flow.pt``) always use the matching agent per stream.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baselines_zoo.policies import BUILTIN_POLICIES, make_policy
from baselines_zoo.seq_policies import SEQ_BUILTIN, make_seq_policies

SB3_PREFIXES = ("ppo", "a2c", "sac", "td3", "sb3")
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


class AgentSpecError(ValueError):
    """An ``--agents`` entry that cannot be used; the message lists what is accepted.

    :param spec: the entry.
    :param problem: what is wrong with it.
    :param accepted: the list of accepted specs shown (the one-step ones by default;
        :data:`SEQ_ACCEPTED` for sequential specs).
    """

    def __init__(self, spec: str, problem: str, accepted: str = ACCEPTED) -> None:
        super().__init__(f"bad agent spec {spec!r}: {problem}\n{accepted}")
        self.spec = spec


@dataclass
class AgentEntry:
    """A parsed agent spec.

    :param spec: the original string.
    :param name: display name.
    :param kind: ``builtin``, ``as``, ``sb3``, ``field`` (:mod:`baselines_zoo.field`; ``algo``
        is the method) or ``user``.
    :param target: baseline name, checkpoint / model path, or ``MODULE:ATTR``.
    :param algo: the SB3 algorithm (``None`` = read from ``config.yaml``).
    """

    spec: str
    name: str
    kind: str
    target: str
    algo: str | None = None
    uses_label: bool = False
    explicit_name: bool = False
    cross_stream_used: bool = False
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ----------------------------------------------------------------------------------------
    def policies(self, streams: Sequence[str], seed: int = 0, cross_stream: bool = True,
                 input_shapes: dict[str, dict[str, tuple[int, ...]]] | None = None
                 ) -> dict[str, Any]:
        """One selection policy per stream this agent can score.

        :param streams: the streams being evaluated (``rgb``, ``flow``).
        :param seed: seed of this evaluation run (for ``random`` and user policies with
            ``reset(seed)``).
        :param cross_stream: let a single-stream learned agent score the other streams too.
        :param input_shapes: stream -> observation key -> (T, X), to check a learned agent fits.
        :return: stream -> policy (a stream is missing when the agent cannot score it).
        """
        if self.kind == "builtin":
            policy = make_policy(self.target, seed=seed)
            policy.name = self.name
            return {s: policy for s in streams}
        if self.kind == "field":  # observes its cheap stream, selects for every stream
            key = f"field:{self.target_for_seed(seed)}"
            if key not in self._cache:
                from baselines_zoo.field import load_method

                target = None if self.target == self.algo else self.target_for_seed(seed)
                try:
                    self._cache[key] = load_method(str(self.algo), target)
                except (OSError, ValueError) as err:
                    raise AgentSpecError(self.spec, str(err)) from err
                self._cache[key].name = self.name
            return {s: self._cache[key] for s in streams}
        if self.kind == "user":
            policy = self._user_policy()
            if callable(getattr(policy, "reset", None)):
                policy.reset(seed)
            return {s: policy for s in streams}
        per_stream = self._learned(streams, seed)
        out: dict[str, Any] = {}
        for s in streams:
            if s in per_stream["by_stream"]:
                out[s] = per_stream["by_stream"][s]
            elif cross_stream and per_stream["single"] is not None and _fits(
                    per_stream["single"], (input_shapes or {}).get(s)):
                out[s] = per_stream["single"]
                self.cross_stream_used = True
        if not out:
            trained = sorted(per_stream["by_stream"]) or per_stream.get("trained_on")
            hint = (" Models trained on stream='fused' see both streams at once and cannot be "
                    "scored per stream; train one model per stream instead."
                    if per_stream.get("trained_on") == "fused" else "")
            raise AgentSpecError(self.spec, f"the model was trained on stream {trained}, not on "
                                            f"any of {list(streams)}, and its input sizes do not "
                                            f"fit them (or cross-stream use is off).{hint}")
        return out

    def _user_policy(self) -> Any:
        from frame_select_env.core.policy import load_policy_spec

        if "policy" not in self._cache:
            self._cache["policy"] = load_policy_spec(
                self.target, name=self.name if self.explicit_name else None)
        return self._cache["policy"]

    def target_for_seed(self, seed: int) -> str:
        """The checkpoint path used for evaluation seed ``seed``.

        ``{seed}`` in the path is replaced by the seed; a run directory with a ``seed_<seed>``
        sub-directory (``scripts/train_reinforce.py --seeds N`` writes one per extra seed) uses
        it. Otherwise every seed uses the same checkpoint.
        """
        return _target_for_seed(self.target, seed)

    def _learned(self, streams: Sequence[str], seed: int = 0) -> dict[str, Any]:
        target = self.target_for_seed(seed)
        key = f"learned:{target}"
        if key not in self._cache:
            loader = _load_as if self.kind == "as" else _load_sb3
            try:
                self._cache[key] = loader(self, streams, target)
            except AgentSpecError:
                raise
            except (ValueError, FileNotFoundError) as err:
                # an unreadable or refused file (named in the message): a bad spec, not a crash
                raise AgentSpecError(self.spec, str(err)) from err
        return self._cache[key]


def _target_for_seed(target: str, seed: int) -> str:
    """``{seed}`` replaced, or the run directory's ``seed_<seed>`` sub-directory if it has one."""
    if "{seed}" in target:
        return target.replace("{seed}", str(seed))
    sub = Path(target) / f"seed_{seed}"
    return str(sub) if "{stream}" not in target and sub.is_dir() else target


def _fits(policy: Any, shapes: dict[str, tuple[int, ...]] | None) -> bool:
    """Whether a learned policy can read observations of the given shapes."""
    if shapes is None:
        return True
    want = getattr(policy, "input_shapes", None)
    if not want:
        return True
    return all(k in shapes and tuple(shapes[k][-1:]) == tuple(v[-1:]) for k, v in want.items())


def _load_as(entry: AgentEntry, streams: Sequence[str], target: str) -> dict[str, Any]:
    """AS checkpoints: per-stream files, a multi-stream file or one single-stream file."""
    try:
        from agents.as_agent import MULTI_CHECKPOINT_FORMAT, ASPolicy, load_agent
    except ImportError as err:
        raise AgentSpecError(entry.spec, f"agents.as_agent is not available ({err})") from err
    from frame_select_env.pipeline.models.weights import load_torch_file

    def policy_of(path: Path, stream: str | None = None) -> tuple[Any, dict[str, Any]]:
        agent, config = load_agent(path, stream=stream)
        pol = ASPolicy(agent, name=entry.name)
        pol.input_shapes = {"features": (agent.config.feature_dim,),
                            "predictions": (agent.config.num_classes,)}
        return pol, config

    by_stream: dict[str, Any] = {}
    single, trained_on = None, None
    files: dict[str | None, Path] = {}
    if "{stream}" in target:
        files = {s: Path(target.replace("{stream}", s)) for s in streams
                 if Path(target.replace("{stream}", s)).is_file()}
    elif Path(target).is_dir():
        files = {s: Path(target) / f"agent_{s}.pt" for s in streams
                 if (Path(target) / f"agent_{s}.pt").is_file()}
        if not files and (Path(target) / "agent.pt").is_file():
            files = {None: Path(target) / "agent.pt"}
    elif Path(target).is_file():
        files = {None: Path(target)}
    if not files:
        raise AgentSpecError(entry.spec, f"no AS checkpoint found at {target!r} (expected a .pt "
                                         f"file or a directory with agent_<stream>.pt or agent.pt)")
    for stream, path in files.items():
        if stream is not None:
            by_stream[stream], _ = policy_of(path, stream=None)
            continue
        ckpt = load_torch_file(path, "AS checkpoint")
        if isinstance(ckpt, dict) and ckpt.get("format") == MULTI_CHECKPOINT_FORMAT:
            for s in ckpt["agents"]:
                by_stream[s], _ = policy_of(path, stream=s)
            continue
        pol, config = policy_of(path)
        trained_on = config.get("stream")
        if trained_on is not None and trained_on in streams:
            by_stream[trained_on] = pol
        single = pol
    return {"by_stream": by_stream, "single": single, "trained_on": trained_on}


def _load_sb3(entry: AgentEntry, streams: Sequence[str], target_str: str) -> dict[str, Any]:
    from baselines_zoo.sb3.train import load_sb3, read_run_config
    from frame_select_env.core.policy import SB3ScoresPolicy

    target = Path(target_str)
    by_stream: dict[str, Any] = {}
    single = None

    def policy_of(path: Path) -> tuple[Any, dict[str, Any]]:
        model = load_sb3(path, algo=entry.algo)
        pol = SB3ScoresPolicy(model, name=entry.name)
        pol.input_shapes = {k: tuple(model.observation_space[k].shape)
                            for k in (pol.keys or [])}
        return pol, read_run_config(path)

    if "{stream}" in target_str:
        for s in streams:
            path = Path(target_str.replace("{stream}", s))
            path = path / "model.zip" if path.is_dir() else path
            if path.is_file():
                by_stream[s], _ = policy_of(path)
        if not by_stream:
            raise AgentSpecError(entry.spec, f"no model found for any of {list(streams)} at "
                                             f"{target_str!r}")
        return {"by_stream": by_stream, "single": None}
    if target.is_dir() and not (target / "model.zip").is_file():
        for s in streams:
            if (target / f"model_{s}.zip").is_file():
                by_stream[s], _ = policy_of(target / f"model_{s}.zip")
        if not by_stream:
            raise AgentSpecError(entry.spec, f"directory {str(target)!r} has no model.zip or "
                                             f"model_<stream>.zip")
        return {"by_stream": by_stream, "single": None}
    path = target / "model.zip" if target.is_dir() else target
    if not path.is_file():
        raise AgentSpecError(entry.spec, f"SB3 model {str(path)!r} not found")
    single, config = policy_of(path)
    if config.get("stream") in streams:
        by_stream[config["stream"]] = single
    return {"by_stream": by_stream, "single": single, "trained_on": config.get("stream")}


def split_display_name(spec: str) -> tuple[str | None, str]:
    """``NAME=SPEC`` as ``(NAME, SPEC)``; a spec without a display name as ``(None, spec)``.

    Shared by the one-step and the sequential specs. An ``=`` that does not follow a plain name
    (letters, digits, ``_ . + -``) belongs to the spec (e.g. a path).
    """
    head, eq, rest = spec.partition("=")
    if eq and _NAME_RE.match(head) and rest:
        return head, rest
    return None, spec


def parse_agent_spec(spec: str) -> AgentEntry:
    """Parse one ``--agents`` entry (see the module docstring); raises :class:`AgentSpecError`.

    :param spec: e.g. ``random``, ``as:runs/as/agent.pt``, ``ppo_50k=ppo:runs/ppo/model.zip``,
        ``my_policies.py:Confident``.
    """
    original = spec
    name, spec = split_display_name(spec)
    if not spec:
        raise AgentSpecError(original, "empty spec")
    if spec in BUILTIN_POLICIES:
        return AgentEntry(original, name or spec, "builtin", spec,
                          uses_label=bool(getattr(make_policy(spec), "uses_label", False)))
    from baselines_zoo.field import METHODS as FIELD_METHODS

    if spec in FIELD_METHODS and FIELD_METHODS[spec].builtin:
        return AgentEntry(original, name or spec, "field", spec, algo=spec)
    prefix, colon, target = spec.partition(":")
    if colon and prefix in FIELD_METHODS and target:
        if FIELD_METHODS[prefix].builtin:
            raise AgentSpecError(original, f"{prefix!r} is training-free: use {prefix!r} "
                                           f"without ':PATH'")
        if "{" not in target and not os.path.exists(target):
            raise AgentSpecError(original, f"{prefix} checkpoint {target!r} does not exist")
        return AgentEntry(original, name or prefix, "field", target, algo=prefix,
                          explicit_name=name is not None)
    if not colon:
        close = [b for b in BUILTIN_POLICIES if b.startswith(spec[:3])]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AgentSpecError(original, f"not a built-in baseline and not of the form "
                                       f"KIND:PATH or MODULE:ATTR{hint}")
    if not target:
        raise AgentSpecError(original, f"nothing after {prefix + ':'!r}")
    if prefix == "as":
        if "{" not in target and not os.path.exists(target):
            raise AgentSpecError(original, f"AS checkpoint {target!r} does not exist")
        return AgentEntry(original, name or "as", "as", target, explicit_name=name is not None)
    if prefix in SB3_PREFIXES:
        if "{" not in target and not os.path.exists(target):
            raise AgentSpecError(original, f"SB3 model {target!r} does not exist")
        algo = None if prefix == "sb3" else prefix
        return AgentEntry(original, name or prefix, "sb3", target, algo=algo,
                          explicit_name=name is not None)
    entry = AgentEntry(original, name or target.rsplit(".", 1)[-1], "user", spec,
                       explicit_name=name is not None)
    try:
        policy = entry._user_policy()
    except Exception as err:  # noqa: BLE001 - any failure while importing the user's code
        raise AgentSpecError(original, f"could not load user policy "
                                       f"({type(err).__name__}: {err})") from err
    entry.uses_label = bool(getattr(policy, "uses_label", False))
    if name is None:
        entry.name = getattr(policy, "name", entry.name)
    return entry


def parse_agent_specs(specs: Sequence[str]) -> list[AgentEntry]:
    """Parse many specs; display names must be unique (use ``NAME=SPEC`` to rename)."""
    entries = [parse_agent_spec(s) for s in specs]
    seen: dict[str, str] = {}
    for e in entries:
        if e.name in seen:
            raise AgentSpecError(e.spec, f"display name {e.name!r} is already used by "
                                         f"{seen[e.name]!r}; rename one with NAME=SPEC")
        seen[e.name] = e.spec
    return entries


# ------------------------------------------------------------------------ sequential agents

#: The prefixes of sequential SB3 runs (``baselines_zoo.sb3.sequential``).
SEQ_SB3_PREFIXES = ("maskable_ppo", "ppo")
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
class SeqAgentEntry:
    """A parsed sequential agent spec.

    :param spec: the original string.
    :param name: display name.
    :param kind: ``builtin`` (:mod:`baselines_zoo.seq_policies`), ``seq-as``, ``sb3`` or ``user``.
    :param target: comparator name, checkpoint / run path, or ``MODULE:ATTR``.
    :param algo: the spec's prefix: the SB3 algorithm (``maskable_ppo`` or ``ppo``) for ``sb3``;
        ``seq-as`` (pays its whole budget) or ``seq-as-stop`` (stops on its own) for ``seq-as``.
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
        target = _target_for_seed(self.target, seed)
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
    name, spec = split_display_name(spec)
    if not spec:
        raise _seq_error(original, "empty spec")
    if spec in SEQ_BUILTIN:
        return SeqAgentEntry(original, name or spec, "builtin", spec,
                             uses_label=spec == "seq-oracle", explicit_name=name is not None)
    prefix, colon, target = spec.partition(":")
    if not colon:
        close = [b for b in SEQ_BUILTIN if b.startswith(spec[:5])]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _seq_error(original, f"not a built-in comparator and not of the form KIND:PATH "
                                   f"or MODULE:ATTR{hint}")
    if not target:
        raise _seq_error(original, f"nothing after {prefix + ':'!r}")
    if prefix in SEQ_BUILTIN:
        raise _seq_error(original, f"{prefix!r} takes no ':'; its budgets come from the caller")
    if prefix in SEQ_AS_PREFIXES or prefix in SEQ_SB3_PREFIXES:
        if "{" not in target and not os.path.exists(target):
            raise _seq_error(original, f"{prefix} run {target!r} does not exist")
        kind = "seq-as" if prefix in SEQ_AS_PREFIXES else "sb3"
        # algo: the SB3 algorithm, or for seq-as whether the agent stops on its own
        return SeqAgentEntry(original, name or prefix, kind, target, algo=prefix,
                             explicit_name=name is not None)
    entry = SeqAgentEntry(original, name or target.rsplit(".", 1)[-1], "user", spec,
                          explicit_name=name is not None)
    try:
        obj = entry._user_object()
    except Exception as err:  # noqa: BLE001 - any failure while importing the user's code
        raise _seq_error(original, f"could not load user policy "
                                   f"({type(err).__name__}: {err})") from err
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
    entries = [parse_seq_agent_spec(s) for s in specs]
    seen: dict[str, str] = {}
    for e in entries:
        if e.name in seen:
            raise _seq_error(e.spec, f"display name {e.name!r} is already used by "
                                     f"{seen[e.name]!r}; rename one with NAME=SPEC")
        seen[e.name] = e.spec
    return entries
