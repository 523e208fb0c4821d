"""The one-step agent specs (``FrameSelection-v0``): parsed into entries that make policies.

See :mod:`baselines_zoo.registry` for the specs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines_zoo.policies import BUILTIN_POLICIES, make_policy
from baselines_zoo.registry import common
from baselines_zoo.registry.common import AgentSpecError, SpecEntry

SB3_PREFIXES = ("ppo", "a2c", "sac", "td3", "sb3")
@dataclass
class AgentEntry(SpecEntry):
    """A parsed agent spec (the fields of :class:`~baselines_zoo.registry.common.SpecEntry`).

    ``kind`` is ``builtin``, ``as``, ``sb3``, ``field`` (:mod:`baselines_zoo.field`; ``algo`` is
    the method) or ``user``; ``target`` the baseline name, checkpoint / model path, or
    ``MODULE:ATTR``; ``algo`` for ``sb3`` the SB3 algorithm (``None`` = read from
    ``config.yaml``).

    :param cross_stream_used: set once a single-stream learned agent scored another stream.
    """

    cross_stream_used: bool = False

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
                shapes = (input_shapes or {}).get(s)
                if not _fits(out[s], shapes):  # refused here, not deep in the evaluation
                    want = {k: v[-1] for k, v in out[s].input_shapes.items()}
                    have = {k: v[-1] for k, v in (shapes or {}).items()}
                    raise AgentSpecError(self.spec, f"its {s} agent reads sizes {want}, the "
                                                    f"store's {s} stream has {have}: it was "
                                                    f"trained on another store; evaluate it on "
                                                    f"that store (--store)")
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
        return common._target_for_seed(self.target, seed)

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


def parse_agent_spec(spec: str) -> AgentEntry:
    """Parse one ``--agents`` entry (see the module docstring); raises :class:`AgentSpecError`.

    :param spec: e.g. ``random``, ``as:runs/as/agent.pt``, ``ppo_50k=ppo:runs/ppo/model.zip``,
        ``my_policies.py:Confident``.
    """
    original = spec
    name, spec = common.split_spec(spec, AgentSpecError)
    if spec in BUILTIN_POLICIES:
        return AgentEntry(original, name or spec, "builtin", spec,
                          uses_label=bool(getattr(make_policy(spec), "uses_label", False)))
    from baselines_zoo.field import METHODS as FIELD_METHODS

    if spec in FIELD_METHODS and FIELD_METHODS[spec].builtin:
        return AgentEntry(original, name or spec, "field", spec, algo=spec)
    prefix, target = common.split_kind(original, spec, BUILTIN_POLICIES, "baseline", 3,
                                       AgentSpecError)
    if prefix in FIELD_METHODS:
        if FIELD_METHODS[prefix].builtin:
            raise AgentSpecError(original, f"{prefix!r} is training-free: use {prefix!r} "
                                           f"without ':PATH'")
        common.check_exists(original, target, f"{prefix} checkpoint", AgentSpecError)
        return AgentEntry(original, name or prefix, "field", target, algo=prefix,
                          explicit_name=name is not None)
    if prefix == "as":
        common.check_exists(original, target, "AS checkpoint", AgentSpecError)
        return AgentEntry(original, name or "as", "as", target, explicit_name=name is not None)
    if prefix in SB3_PREFIXES:
        common.check_exists(original, target, "SB3 model", AgentSpecError)
        algo = None if prefix == "sb3" else prefix
        return AgentEntry(original, name or prefix, "sb3", target, algo=algo,
                          explicit_name=name is not None)
    entry = AgentEntry(original, name or target.rsplit(".", 1)[-1], "user", spec,
                       explicit_name=name is not None)
    policy = common.load_user_code(entry._user_policy, original, AgentSpecError)
    entry.uses_label = bool(getattr(policy, "uses_label", False))
    if name is None:
        entry.name = getattr(policy, "name", entry.name)
    return entry


def parse_agent_specs(specs: Sequence[str]) -> list[AgentEntry]:
    """Parse many specs; display names must be unique (use ``NAME=SPEC`` to rename)."""
    return common.unique_names([parse_agent_spec(s) for s in specs], AgentSpecError)
