"""The selection-policy protocol: anything that scores frames can be evaluated and compared.

A selection policy maps a batch of observations (the env's ``Dict`` observation with a leading
batch axis) to per-frame importance scores of shape (B, T); higher means "keep". Top-m selection,
frame/region-based schemes and the α variant are applied afterwards by the shared functions in
:mod:`frame_select_env.core.selection`, so every policy is judged by exactly the same
rule.

Adapters in this module turn other things into policies and policies into env actions:

* :func:`as_policy`: a policy object, a policy class, a plain function ``f(obs[, info])`` or a
  Stable-Baselines3 model -> a :class:`SelectionPolicy`;
* :class:`SB3ScoresPolicy`: an SB3 model -> scores (Bernoulli keep-probabilities for a
  ``MultiBinary`` policy, the deterministic action for a ``Box`` one);
* :func:`load_policy_spec`: ``"my_module:MyPolicy"`` or ``"path/to/file.py:MyPolicy"`` -> policy;
* :func:`policy_scores`: call a policy (passing ``m`` to policies that take it) and check the
  result; :func:`scores_to_action` / :class:`ActionAdapter`: scores -> a ``MultiBinary`` action
  keeping the top-m frames, for ``env.step``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from frame_select_env.core.selection import topm_mask

Observation = Mapping[str, np.ndarray]


@runtime_checkable
class SelectionPolicy(Protocol):
    """Scores frames for selection.

    :attr name: short name used in tables and plots.
    :attr uses_label: True for oracles that read the true label (they are upper bounds, and every
        table and plot marks them so).

    Optional extras understood by :func:`policy_scores` and the comparison script:

    * ``scores(obs, info=None, m=None)``: a policy whose choice depends on how many frames will be
      kept may take ``m`` (e.g. ``uniform``);
    * ``for_m(m) -> SelectionPolicy``: a copy bound to one m;
    * ``keeps_all = True``: the policy means "keep every frame" (evaluated at m = T);
    * ``reset(seed)``: restart the policy's own random generator.
    """

    name: str
    uses_label: bool

    def scores(self, obs: Observation, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Per-frame importance.

        :param obs: ``{"features": (B, T, D), "predictions": (B, T, C)}`` (keys present depend on
            the env's ``state``).
        :param info: per-video extras as arrays of length B: ``label`` (only oracles may read it),
            ``relevance`` (B, T) where the store has it, ``video_id``, ``view``.
        :return: (B, T) float scores.
        """
        ...


@runtime_checkable
class SequentialPolicy(Protocol):
    """Chooses the next action of ``FrameSelectionSeq-v0`` episodes: a frame to pay for, or stop.

    :attr name: short name used in tables and plots.

    Optional extras understood by the sequential evaluation
    (:func:`frame_select_env.evaluation.sequential.evaluate_sequential`):

    * ``env_kwargs``: the ``FrameSelectionSeq-v0`` options the policy was made for (e.g.
      ``{"max_frames": 8}``); the evaluation builds its env with them;
    * ``macs_per_decision(num_frames) -> float``: the policy's own MACs for one ``act`` call
      on one episode (a learned agent's network); the evaluation adds it once per decision
      taken, the final stop included;
    * ``reset(seed)``: restart the policy's own random generator.
    """

    name: str

    def act(self, obs: Observation, action_masks: np.ndarray) -> np.ndarray:
        """The next action of each episode.

        :param obs: the batched observation (B, ...) of
        :meth:`frame_select_env.envs.sequential.core.SeqCore.
            observe`: ``cheap_*``, ``expensive_*`` (zero where unpaid), ``paid``, ``prediction``,
            ``budget``.
        :param action_masks: (B, T + 1) bool, the unpaid frames and stop.
        :return: (B,) ints in ``[0, T]`` (T = stop).
        """
        ...


def without_stop(action_masks: np.ndarray) -> np.ndarray:
    """``FrameSelectionSeq-v0`` action masks with stop hidden wherever a frame can be paid.

    A sequential policy acting on them pays its whole budget (``max_frames``): the sequential
    form of the paper's test-time top-m.

    :param action_masks: (B, T + 1) bool, the env's (column T is stop).
    :return: a copy; stop stays allowed only where every frame is paid.
    """
    masks = np.array(action_masks, dtype=bool, copy=True)
    masks[:, -1] = ~masks[:, :-1].any(-1)
    return masks


def _accepts_kwarg(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _num_positional(fn: Callable[..., Any]) -> int:
    """How many positional arguments ``fn`` accepts (a large number for ``*args``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 99
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _batch_shape(obs: Observation) -> tuple[int, int]:
    if not obs:
        raise ValueError("empty observation: expected keys 'features' and/or 'predictions'")
    first = np.asarray(next(iter(obs.values())))
    if first.ndim != 3:
        raise ValueError(f"observations must be batched (B, T, X), got shape {first.shape}")
    return int(first.shape[0]), int(first.shape[1])


def check_scores(scores: Any, batch: int, num_frames: int, who: str) -> np.ndarray:
    """Validate a policy's output and return it as a float32 (B, T) array.

    :param scores: what the policy returned (numpy array, torch tensor or list).
    :param batch: B.
    :param num_frames: T.
    :param who: the policy's name, for the error message.
    """
    if type(scores).__module__.startswith("torch"):
        scores = scores.detach().cpu().numpy()
    arr = np.asarray(scores, dtype=np.float32)
    if arr.shape != (batch, num_frames):
        raise ValueError(
            f"policy {who!r} returned scores of shape {arr.shape}; expected "
            f"(B, T) = ({batch}, {num_frames})"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"policy {who!r} returned NaN or infinite scores")
    return arr


def policy_scores(
    policy: SelectionPolicy,
    obs: Observation,
    info: Mapping[str, Any] | None = None,
    m: int | None = None,
) -> np.ndarray:
    """Call ``policy.scores`` and check its output.

    ``m`` is passed on only to policies whose ``scores`` accepts it; the others ignore it.

    :param policy: any :class:`SelectionPolicy`.
    :param obs: a batch of observations (B, T, ...).
    :param info: per-video extras (``label``, ``relevance``, ...).
    :param m: the number of frames that will be kept, if known.
    :return: (B, T) float32 scores.
    """
    batch, num_frames = _batch_shape(obs)
    name = getattr(policy, "name", type(policy).__name__)
    # The protocol's scores() has no ``m``; policies that accept it are detected at run time.
    scores: Callable[..., Any] = policy.scores
    if m is not None and _accepts_kwarg(scores, "m"):
        out = scores(obs, info, m=m)
    else:
        out = scores(obs, info)
    return check_scores(out, batch, num_frames, name)


def scores_to_action(scores: Any, m: int) -> np.ndarray:
    """Keep the top-``m`` frames: (..., T) scores -> (..., T) int8 ``MultiBinary`` action.

    :param scores: per-frame scores, numpy or torch.
    :param m: frames to keep (ties go to the earlier frame, as in :func:`topm_mask`).
    """
    if type(scores).__module__.startswith("torch"):
        scores = scores.detach().cpu().numpy()
    return topm_mask(np.asarray(scores), m).astype(np.int8)


class ActionAdapter:
    """Turns a scores policy into something that acts in ``FrameSelection-v0``.

    >>> adapter = ActionAdapter(policy, m=8)
    >>> obs, info = env.reset()
    >>> obs, reward, *_ = env.step(adapter(obs, info))

    Single-env observations (T, X) get a batch axis and the action loses it again; batched
    observations (from a vector env) give (N, T) actions.

    :param policy: a scores policy (or anything :func:`as_policy` accepts).
    :param m: frames to keep.
    """

    def __init__(self, policy: Any, m: int) -> None:
        if int(m) < 1:
            raise ValueError(f"ActionAdapter: m must be >= 1, got {m}")
        self.policy = as_policy(policy)
        self.m = int(m)

    def __call__(self, obs: Observation, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """The ``MultiBinary`` action that keeps the policy's top-m frames.

        :param obs: one observation (T, X) per key, or a batch (N, T, X) from a vector env.
        :param info: the matching per-video extras (unbatched for a single observation).
        :return: (T,) int8 action for a single observation, (N, T) for a batch.
        """
        single = np.asarray(next(iter(obs.values()))).ndim == 2
        if single:
            obs = {k: np.asarray(v)[None] for k, v in obs.items()}
            info = None if info is None else {k: np.asarray(v)[None] for k, v in info.items()}
        scores = policy_scores(self.policy, obs, info, m=self.m)
        action = scores_to_action(scores, self.m)
        return action[0] if single else action


class FunctionPolicy:
    """A plain function ``f(obs)`` or ``f(obs, info)`` returning (B, T) scores, as a policy.

    :param fn: the scoring function.
    :param name: display name (defaults to the function's name).
    :param uses_label: set True when ``fn`` reads ``info["label"]`` or relevance (an oracle).
    """

    def __init__(
        self, fn: Callable[..., Any], name: str | None = None, uses_label: bool = False
    ) -> None:
        if not callable(fn):
            raise TypeError(f"FunctionPolicy: {fn!r} is not callable")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "function")
        self.uses_label = bool(uses_label)
        self._with_info = _num_positional(fn) >= 2
        self._with_m = _accepts_kwarg(fn, "m")

    def scores(
        self, obs: Observation, info: Mapping[str, Any] | None = None, m: int | None = None
    ) -> np.ndarray:
        """Call the wrapped function with the arguments it accepts.

        :param obs: a batch of observations (B, T, ...).
        :param info: per-video extras; passed only when ``fn`` takes a second argument.
        :param m: frames that will be kept; passed only when ``fn`` takes ``m``.
        :return: what ``fn`` returns, (B, T) scores.
        """
        kwargs = {"m": m} if self._with_m else {}
        return self.fn(obs, info, **kwargs) if self._with_info else self.fn(obs, **kwargs)


class _NamedPolicy:
    """Gives a policy object without ``name`` / ``uses_label`` the protocol's attributes."""

    def __init__(self, policy: Any, name: str, uses_label: bool) -> None:
        self.policy, self.name, self.uses_label = policy, name, uses_label
        self.keeps_all = bool(getattr(policy, "keeps_all", False))

    def scores(
        self, obs: Observation, info: Mapping[str, Any] | None = None, m: int | None = None
    ) -> np.ndarray:
        return policy_scores(self.policy, obs, info, m=m)

    def __getattr__(self, item: str) -> Any:  # reset, for_m, ... of the wrapped policy
        return getattr(self.__dict__["policy"], item)


def _is_sb3_model(obj: Any) -> bool:
    try:
        from stable_baselines3.common.base_class import BaseAlgorithm
    except ImportError:  # pragma: no cover - SB3 is a dependency
        return False
    return isinstance(obj, BaseAlgorithm)


class SB3ScoresPolicy:
    """A Stable-Baselines3 model as a scores policy.

    * ``MultiBinary`` action space (PPO, A2C on ``FrameSelection-v0``): the scores are the
      Bernoulli keep-probabilities, ``model.policy.get_distribution(obs).distribution.probs``,
      in [0, 1].
    * ``Box`` action space (SAC, TD3 behind :class:`baselines_zoo.sb3.wrappers.TopMScoresWrapper`):
      the deterministic action, i.e. the continuous per-frame scores.

    Observation keys the model was not trained on are dropped, so a ``state="both"`` evaluation
    can score a model trained on ``state="features"``.

    :param model: a trained SB3 algorithm (``PPO.load(...)``).
    :param name: display name.
    :param batch_size: videos per forward pass (bounds memory on big stores).
    """

    uses_label = False
    #: Per-frame input sizes the model was trained on (observation key -> trailing shape), set by
    #: :mod:`baselines_zoo.registry` when it loads a checkpoint so a store can be checked to fit.
    input_shapes: dict[str, tuple[int, ...]]

    def __init__(self, model: Any, name: str | None = None, batch_size: int = 4096) -> None:
        from gymnasium import spaces

        if not _is_sb3_model(model):
            raise TypeError(
                f"SB3ScoresPolicy: expected a stable_baselines3 model, got {type(model).__name__}"
            )
        self.model = model
        self.name = name or type(model).__name__.lower()
        self.batch_size = int(batch_size)
        space = model.observation_space
        self.keys = list(space.spaces) if isinstance(space, spaces.Dict) else None
        self.binary = isinstance(model.action_space, spaces.MultiBinary)
        if not self.binary and not isinstance(model.action_space, spaces.Box):
            raise TypeError(
                f"SB3ScoresPolicy: model {self.name!r} has action space "
                f"{model.action_space}; expected MultiBinary(T) or Box(T)"
            )

    def _check_obs(self, obs: Observation) -> dict[str, np.ndarray]:
        space = self.model.observation_space
        if self.keys is None:
            raise TypeError(f"SB3ScoresPolicy: model {self.name!r} does not take Dict observations")
        missing = [k for k in self.keys if k not in obs]
        if missing:
            raise ValueError(
                f"model {self.name!r} needs observation keys {missing}; got {sorted(obs)}"
            )
        out = {}
        for k in self.keys:
            arr = np.asarray(obs[k], dtype=np.float32)
            if arr.shape[1:] != space[k].shape:
                raise ValueError(
                    f"model {self.name!r} was trained on obs[{k!r}] of shape {space[k].shape} "
                    f"(T, X) but got {arr.shape[1:]}: a different stream, store or num_frames?"
                )
            out[k] = arr
        return out

    def scores(self, obs: Observation, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Per-frame scores of the model: keep-probabilities or deterministic Box actions.

        :param obs: a batch of observations (B, T, ...); keys the model was not trained on are
            dropped.
        :param info: unused (the model never reads the label).
        :return: (B, T) float32 scores.
        :raises TypeError: the model does not take ``Dict`` observations.
        :raises ValueError: a key the model needs is missing or has another shape.
        """
        import torch

        obs = self._check_obs(obs)
        batch = len(next(iter(obs.values())))
        policy = self.model.policy
        policy.set_training_mode(False)
        chunks = []
        with torch.no_grad():
            for start in range(0, batch, self.batch_size):
                part = {k: v[start : start + self.batch_size] for k, v in obs.items()}
                obs_t, _ = policy.obs_to_tensor(part)
                if self.binary:
                    dist = policy.get_distribution(obs_t)
                    chunks.append(dist.distribution.probs.float().cpu().numpy())
                else:
                    # Box policies: the deterministic action in the policy's own [-1, 1] scale.
                    chunks.append(policy._predict(obs_t, deterministic=True).float().cpu().numpy())
        return np.concatenate(chunks, axis=0).reshape(batch, -1)


def as_policy(obj: Any, name: str | None = None, uses_label: bool | None = None) -> Any:
    """Turn ``obj`` into a :class:`SelectionPolicy`.

    Accepted: an object with a ``scores`` method (returned as is, or given ``name`` /
    ``uses_label`` if it lacks them); a class with such a method (instantiated without
    arguments); a Stable-Baselines3 model (:class:`SB3ScoresPolicy`); a plain function
    ``f(obs)`` / ``f(obs, info)`` (:class:`FunctionPolicy`).

    :param obj: the thing to adapt.
    :param name: display name (overrides the object's own).
    :param uses_label: mark it as an oracle (defaults to the object's attribute, else False).
    """
    if inspect.isclass(obj):
        if not callable(getattr(obj, "scores", None)):
            raise TypeError(
                f"class {obj.__name__} has no scores(obs, info) method, so it is not "
                f"a selection policy"
            )
        try:
            obj = obj()
        except TypeError as err:
            raise TypeError(
                f"could not instantiate policy class {obj.__name__} without "
                f"arguments ({err}); pass an instance instead"
            ) from err
    if _is_sb3_model(obj):
        return SB3ScoresPolicy(obj, name=name)
    if callable(getattr(obj, "scores", None)):
        has_attrs = hasattr(obj, "name") and hasattr(obj, "uses_label")
        if has_attrs and name is None and uses_label is None:
            return obj
        return _NamedPolicy(
            obj,
            name if name else getattr(obj, "name", type(obj).__name__),
            bool(getattr(obj, "uses_label", False) if uses_label is None else uses_label),
        )
    if callable(obj):
        return FunctionPolicy(obj, name=name, uses_label=bool(uses_label))
    raise TypeError(
        f"cannot use {type(obj).__name__} as a selection policy: expected an object "
        f"or class with scores(obs, info), a function f(obs[, info]) -> (B, T) "
        f"scores, or a stable_baselines3 model"
    )


def _import_module(module: str) -> Any:
    """Import a dotted module name or a ``.py`` file path."""
    looks_like_file = module.endswith(".py") or os.sep in module or "/" in module
    if looks_like_file:
        path = Path(module).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"policy file {str(path)!r} not found")
        mod_name = f"_user_policy_{path.stem}_{abs(hash(str(path))) % 10**8}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import policy file {str(path)!r}")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = mod  # dataclasses and pickling look the module up here
        try:
            spec.loader.exec_module(mod)
        except Exception:
            sys.modules.pop(mod_name, None)
            raise
        return mod
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        # A module next to the working directory is the common case for user policies.
        if os.getcwd() not in sys.path and Path(f"{module.replace('.', '/')}.py").is_file():
            sys.path.insert(0, os.getcwd())
            return importlib.import_module(module)
        raise ModuleNotFoundError(
            f"policy module {module!r} not found ({err}); give a module "
            f"on sys.path or a file path like path/to/file.py"
        ) from err


def load_policy_spec(spec: str, name: str | None = None, **kwargs: Any) -> Any:
    """Load a user policy from ``"module:Attr"`` or ``"path/to/file.py:Attr"``.

    ``Attr`` may be a policy class (instantiated with ``kwargs``), a policy instance, a factory
    function returning one, or a scoring function ``f(obs[, info])``.

    :param spec: ``MODULE:ATTR`` (``MODULE`` is a dotted module name or a ``.py`` path).
    :param name: display name (default: ``ATTR``'s own name).
    :param kwargs: constructor arguments for a class.
    :return: a :class:`SelectionPolicy`.
    """
    module, sep, attr = spec.rpartition(":")
    if not sep or not module or not attr:
        raise ValueError(
            f"policy spec {spec!r} must look like 'my_module:MyPolicy' or "
            f"'path/to/file.py:MyPolicy'"
        )
    mod = _import_module(module)
    if not hasattr(mod, attr):
        public = sorted(k for k in vars(mod) if not k.startswith("_"))
        raise AttributeError(
            f"policy spec {spec!r}: module {module!r} has no attribute {attr!r} (it has {public})"
        )
    obj = getattr(mod, attr)
    if inspect.isclass(obj):
        obj = obj(**kwargs)
    elif kwargs:
        raise TypeError(
            f"policy spec {spec!r}: constructor arguments given but {attr!r} is not a class"
        )
    elif inspect.isfunction(obj) and _num_positional(obj) == 0:
        obj = obj()  # a zero-argument factory
    if name is None and not hasattr(obj, "name") and not inspect.isfunction(obj):
        name = attr
    return as_policy(obj, name=name)


__all__ = [
    "ActionAdapter",
    "FunctionPolicy",
    "Observation",
    "SB3ScoresPolicy",
    "SelectionPolicy",
    "as_policy",
    "check_scores",
    "load_policy_spec",
    "policy_scores",
    "scores_to_action",
]
