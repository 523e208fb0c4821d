"""Train a Stable-Baselines3 agent on ``FrameSelection-v0`` or ``FrameSelectionSeq-v0``.

``FrameSelection-v0`` (one step, ``MultiBinary(T)``): PPO, A2C, SAC, TD3.
``FrameSelectionSeq-v0`` (sequential, ``Discrete(T + 1)``): PPO and sb3-contrib's MaskablePPO
(``maskable_ppo``, which reads the env's ``action_masks``), networks from
:mod:`baselines_zoo.sb3.sequential`.

Used by ``scripts/train_sb3.py``; callable from Python for tests and notebooks::

    from baselines_zoo.sb3.train import train_sb3
    model_path = train_sb3("ppo", policy="bilstm", n_timesteps=20_000, seed=0, out="runs/ppo")
    seq_path = train_sb3("maskable_ppo", env_id="FrameSelectionSeq-v0", out="runs/mppo")

The run directory gets ``model.zip`` (the final model), ``config.yaml`` (everything needed to
rebuild the env: env id, algorithm, policy, store, stream, the env's keyword arguments,
hyperparameters), ``progress.csv`` (SB3's logger) and, while training, ``checkpoint.zip`` (saved
atomically every ``save_freq`` steps; ``resume=True`` continues from it).

Saved models are loaded without unpickling anything in them (:mod:`baselines_zoo.sb3.loading`): the
algorithm is built afresh from the run's ``config.yaml`` and only its weights, optimizer states
and step counters are read from the zip.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml

import frame_select_env
from agents.reinforce import describe_store, same_store, store_fingerprint
from baselines_zoo.sb3.loading import load_sb3_into
from baselines_zoo.sb3.policies import OFF_POLICY, ON_POLICY, policy_for
from baselines_zoo.sb3.sequential import SEQ_ALGOS, SEQ_ENV_ID, BudgetEndIsTerminal, seq_policy_for
from baselines_zoo.sb3.wrappers import TopMScoresWrapper
from frame_select_env.core.config import Range, UserError, load_yaml
from frame_select_env.store import FeatureStore
from frame_select_env.store.atomic import atomic_path, atomic_write_text

ENV_ID = frame_select_env.ENV_ID
ENV_IDS = (ENV_ID, SEQ_ENV_ID)
#: the packaged hyperparameter files (package data, so a wheel has them; an on-disk folder)
HYPERPARAMS_DIR = Path(str(resources.files("baselines_zoo.sb3") / "hyperparams"))
ALGOS = ON_POLICY + OFF_POLICY + ("maskable_ppo", "recurrent_ppo")
#: the algorithms only FrameSelectionSeq-v0 trains (it alone has action masks and episodes)
SEQ_ONLY = ("maskable_ppo", "recurrent_ppo")
# Keys of the YAML entry that are ours, not SB3 constructor arguments.
_OWN_KEYS = ("n_envs", "n_timesteps", "policy", "env_kwargs", "policy_kwargs", "extractor_kwargs",
             "top_m", "noise_type", "noise_std")


def algo_class(algo: str) -> Any:
    """The SB3 class of ``ppo``, ``a2c``, ``sac``, ``td3``, ``maskable_ppo`` or ``recurrent_ppo``.

    The last two are sb3-contrib's MaskablePPO and RecurrentPPO.
    """
    import stable_baselines3 as sb3
    from sb3_contrib import MaskablePPO, RecurrentPPO

    classes = {"ppo": sb3.PPO, "a2c": sb3.A2C, "sac": sb3.SAC, "td3": sb3.TD3,
               "maskable_ppo": MaskablePPO, "recurrent_ppo": RecurrentPPO}
    if algo not in classes:
        raise ValueError(f"unknown algorithm {algo!r}; choose from {sorted(classes)}")
    return classes[algo]


def check_algo_env(algo: str, env_id: str) -> None:
    """Refuse an algorithm the env cannot train, or an unknown env or algorithm.

    :param algo: one of :data:`ALGOS`.
    :param env_id: one of :data:`ENV_IDS`.
    :raises ValueError: what is wrong, and which choices fit.
    """
    if env_id not in ENV_IDS:
        raise ValueError(f"unknown env {env_id!r}; choose from {ENV_IDS}")
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; choose from {ALGOS}")
    if env_id == SEQ_ENV_ID and algo not in SEQ_ALGOS:
        raise ValueError(f"algorithm {algo!r} does not fit {SEQ_ENV_ID}'s Discrete(T + 1) "
                         f"actions; choose from {', '.join(SEQ_ALGOS)}")
    if env_id != SEQ_ENV_ID and algo in SEQ_ONLY:
        need = ("action masks" if algo == "maskable_ppo"
                else "episodes of several steps (an LSTM over one-step episodes sees one step)")
        raise ValueError(f"algorithm {algo!r} needs {need}, which only {SEQ_ENV_ID} has, not "
                         f"{env_id}; train it on {SEQ_ENV_ID} (--env / env_id=) or choose from "
                         f"{', '.join(ON_POLICY + OFF_POLICY)}")


#: the numbers of our own hyperparameter keys (SB3's own are checked by SB3, finite here)
_OWN_RANGES = {"n_envs": Range(ge=1, integer=True), "n_timesteps": Range(ge=1),
               "top_m": Range(ge=1, integer=True), "noise_std": Range(ge=0)}
# SB3 constructor arguments train_sb3 passes itself: not hyperparameters
_GIVEN = {"self", "policy", "env", "seed", "device", "verbose", "policy_kwargs",
          "_init_setup_model", "tensorboard_log"}


def check_hyperparams(algo: str, params: dict[str, Any], where: str = "hyperparameters") -> None:
    """Refuse keys the algorithm does not take and numbers out of range, before any env is made.

    :param algo: one of :data:`ALGOS`.
    :param params: the YAML entry after ``--set`` overrides.
    :param where: where the values came from, for the message.
    :raises UserError: an unknown key (named, with the known ones), ``n_envs`` < 1, NaN, ...
    """
    import inspect

    known = (set(inspect.signature(algo_class(algo).__init__).parameters) - _GIVEN) | set(
        _OWN_KEYS)
    unknown = sorted(set(params) - known)
    if unknown:
        raise UserError(f"{where}: {algo} takes no hyperparameter {unknown} (known: "
                        f"{sorted(known)})")
    for key, value in params.items():
        rng = _OWN_RANGES.get(key, Range())
        if key in _OWN_RANGES or isinstance(value, float):
            rng.check(key, value, where)


def load_hyperparams(algo: str, path: str | os.PathLike | None = None,
                     env_id: str = ENV_ID) -> dict[str, Any]:
    """Read the YAML hyperparameters of ``algo`` for ``env_id`` (``yaml.safe_load``).

    :param algo: algorithm name.
    :param path: a YAML file; defaults to the packaged ``baselines_zoo/sb3/hyperparams/<algo>.yml``.
    :param env_id: the top-level key.
    :return: the entry's hyperparameters.
    :raises FileNotFoundError: the file does not exist.
    :raises ValueError: it is not a YAML mapping, has no ``env_id`` entry, or a ``*_kwargs``
        entry is not a mapping.
    """
    path = Path(path) if path is not None else HYPERPARAMS_DIR / f"{algo}.yml"
    data = load_yaml(path, "hyperparameter file")
    if env_id not in data:
        raise ValueError(f"hyperparameter file {str(path)!r} has no entry for {env_id!r} "
                         f"(found {sorted(data)})")
    params = dict(data[env_id] or {})
    for key in ("env_kwargs", "policy_kwargs", "extractor_kwargs"):
        if not isinstance(params.get(key, {}), dict):
            raise ValueError(f"{str(path)!r}: {env_id}.{key} must be a mapping")
    return params


def env_make_kwargs(store: str | os.PathLike | None, stream: str, env_kwargs: dict[str, Any],
                    split: str = "train") -> dict[str, Any]:
    """The ``gym.make`` keyword arguments of a run's env (what ``config.yaml`` records).

    :param store: feature store; ``None`` = the built-in one.
    :param stream: the stream the agent reads (the cheap stream of ``FrameSelectionSeq-v0``).
    :param env_kwargs: the YAML's ``env_kwargs``.
    :param split: the training split.
    """
    return {"store": None if store is None else str(store), "split": split, "stream": stream,
            **env_kwargs}


def make_env(store: str | os.PathLike | None, stream: str, algo: str, n_envs: int, seed: int,
             env_kwargs: dict[str, Any], top_m: Any = 8, split: str = "train",
             env_id: str = ENV_ID, vec_env: str = "native") -> Any:
    """The SB3 vector env of ``n_envs`` episodes of ``env_id``.

    SAC and TD3 get :class:`TopMScoresWrapper` (continuous scores -> top-m);
    ``FrameSelectionSeq-v0`` gets :class:`~baselines_zoo.sb3.sequential.BudgetEndIsTerminal`.
    ``vec_env="native"`` (the default) is the adapter over the env's native vector env
    (:func:`baselines_zoo.sb3.vec_env.make_native_vec_env`), which applies both wrappers on the
    batched arrays and gives the same transitions as ``vec_env="dummy"``: ``make_vec_env``'s
    ``DummyVecEnv`` of wrapped single envs. Both give MaskablePPO the ``action_masks``.

    :raises ValueError: ``vec_env`` is neither ``native`` nor ``dummy``.
    """
    from stable_baselines3.common.env_util import make_vec_env

    from baselines_zoo.sb3.vec_env import make_native_vec_env

    kwargs = env_make_kwargs(store, stream, env_kwargs, split)
    if vec_env == "native":
        m = top_m if env_id != SEQ_ENV_ID and algo in OFF_POLICY else None
        return make_native_vec_env(env_id, n_envs, seed, kwargs, top_m=m)
    if vec_env != "dummy":
        raise ValueError(f"vec_env must be 'native' (the adapter over gym.make_vec) or 'dummy' "
                         f"(DummyVecEnv), got {vec_env!r}")
    wrapper: Any = None
    wrapper_kwargs = None
    if env_id == SEQ_ENV_ID:
        wrapper = BudgetEndIsTerminal
    elif algo in OFF_POLICY:
        wrapper, wrapper_kwargs = TopMScoresWrapper, {"m": top_m}
    return make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=kwargs,
                        wrapper_class=wrapper, wrapper_kwargs=wrapper_kwargs)


def build_model(algo: str, policy: str, params: dict[str, Any], env: Any, seed: int | None = None,
                device: str = "cpu", verbose: int = 0, training: bool = True,
                env_id: str = ENV_ID) -> Any:
    """A fresh SB3 algorithm for ``env`` from a run's hyperparameters (training and loading).

    :param algo: ``ppo``, ``a2c``, ``sac``, ``td3`` or (``FrameSelectionSeq-v0``)
        ``maskable_ppo``.
    :param policy: ``mlp``, ``bilstm`` or ``bilstm-flat``.
    :param params: the hyperparameters (a YAML entry after overrides, as ``config.yaml`` records).
    :param env: the vector env (its spaces shape the networks).
    :param seed: seeds SB3, torch, numpy and the env (``None``: not seeded).
    :param device: torch device.
    :param verbose: SB3 verbosity.
    :param training: ``False`` for a model only loaded to score: SAC / TD3 then get a one-step
        replay buffer instead of allocating ``buffer_size`` observations they never store.
    :param env_id: the env the networks are for (:func:`baselines_zoo.sb3.sequential.seq_policy_for`
        for ``FrameSelectionSeq-v0``).
    :raises ValueError: an unsupported ``noise_type``.
    """
    from stable_baselines3.common.noise import NormalActionNoise

    pick = seq_policy_for if env_id == SEQ_ENV_ID else policy_for
    policy_cls, policy_kwargs = pick(algo, policy, params.get("extractor_kwargs"))
    policy_kwargs.update(params.get("policy_kwargs") or {})
    sb3_kwargs = {k: v for k, v in params.items() if k not in _OWN_KEYS}
    if algo == "td3" and params.get("noise_type"):
        if params["noise_type"] != "normal":
            raise ValueError(f"noise_type {params['noise_type']!r} is not supported (use normal)")
        dim = env.action_space.shape[0]
        sb3_kwargs["action_noise"] = NormalActionNoise(
            np.zeros(dim), float(params.get("noise_std", 0.1)) * np.ones(dim))
    if not training and algo in OFF_POLICY:
        sb3_kwargs["buffer_size"] = env.num_envs
    return algo_class(algo)(policy_cls, env, seed=seed, device=device, verbose=verbose,
                            policy_kwargs=policy_kwargs, **sb3_kwargs)


def _atomic_save(model: Any, path: Path) -> None:
    with atomic_path(path) as tmp:  # keeps the .zip suffix, so SB3 adds none
        model.save(tmp)


def _checkpoint_callback(path: Path, every: int) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class _Checkpoint(BaseCallback):
        """Saves the model atomically every ``every`` environment steps."""

        def __init__(self) -> None:
            super().__init__()
            self.last = 0

        def _on_step(self) -> bool:
            if self.num_timesteps - self.last >= every:
                self.last = self.num_timesteps
                _atomic_save(self.model, path)
            return True

    return _Checkpoint()


def progress_bar_available() -> bool:
    """Whether SB3's progress bar can be drawn (it imports tqdm and rich); warns when not."""
    missing = [m for m in ("tqdm", "rich") if importlib.util.find_spec(m) is None]
    if missing:
        warnings.warn(f"no SB3 progress bar: {' and '.join(missing)} not installed "
                      f"(pip install {' '.join(missing)})", stacklevel=2)
    return not missing


def train_sb3(
    algo: str,
    policy: str | None = None,
    n_timesteps: int | None = None,
    seed: int = 0,
    out: str | os.PathLike = "runs/sb3",
    store: str | os.PathLike | None = None,
    stream: str = "rgb",
    hyperparams: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    progress_bar: bool = True,
    save_freq: int = 10_000,
    resume: bool = False,
    device: str = "cpu",
    verbose: int = 0,
    num_threads: int | None = 1,
    env_id: str = ENV_ID,
    callback: Any = None,
    vec_env: str = "native",
) -> Path:
    """Train and save an SB3 agent; returns the path of ``model.zip``.

    :param algo: ``ppo``, ``a2c``, ``sac`` or ``td3``; ``ppo``, ``a2c``, ``maskable_ppo`` or
        ``recurrent_ppo`` for ``FrameSelectionSeq-v0``.
    :param policy: ``mlp``, ``bilstm`` or ``bilstm-flat`` (default: the YAML's ``policy``).
    :param n_timesteps: environment steps (= videos seen for ``FrameSelection-v0``, decisions
        for ``FrameSelectionSeq-v0``); default: the YAML's ``n_timesteps``.
    :param seed: seeds SB3, torch, numpy and the envs.
    :param out: run directory.
    :param store: feature store; ``None`` = the built-in one.
    :param stream: ``rgb``, ``flow`` or ``fused``; for ``FrameSelectionSeq-v0`` the cheap
        stream, observed on every frame (the other one is paid for frame by frame).
    :param hyperparams: YAML file (default the packaged
        ``baselines_zoo/sb3/hyperparams/<algo>.yml``), read at the ``env_id`` key.
    :param overrides: entries replacing the YAML's (e.g. ``{"n_envs": 2, "n_steps": 32}``).
    :param progress_bar: show SB3's progress bar (it needs tqdm and rich; without them training
        goes on without a bar and says so once).
    :param save_freq: checkpoint every this many steps.
    :param resume: continue from ``out/checkpoint.zip`` when it exists; a ``config.yaml``
        already in ``out`` must describe this same run (:func:`check_same_run`).
    :param device: torch device.
    :param verbose: SB3 verbosity.
    :param num_threads: torch CPU threads (1 is fastest for these small networks, and far faster
        on a busy machine); ``None`` leaves torch's default.
    :param env_id: ``FrameSelection-v0`` or ``FrameSelectionSeq-v0``.
    :param callback: an SB3 callback run beside the checkpoints (e.g. the periodic validation
        of :mod:`baselines_zoo.sb3.search`); when it stops training (``_on_step`` returns
        ``False``) the model is still saved.
    :param vec_env: ``native`` (the SB3 adapter over the env's native vector env, the default)
        or ``dummy`` (SB3's ``DummyVecEnv`` over single envs); both give the same transitions.
    :raises ValueError: an algorithm the env cannot train (:func:`check_algo_env`), bad
        hyperparameters, or a resume into another run.
    """
    from stable_baselines3.common.logger import configure

    check_algo_env(algo, env_id)
    if num_threads is not None:
        import torch

        torch.set_num_threads(int(num_threads))
    params = load_hyperparams(algo, hyperparams, env_id)
    params.update(overrides or {})
    check_hyperparams(algo, params, "--set / hyperparameters" if overrides else "hyperparameters")
    policy = policy or params.get("policy", "bilstm")
    n_timesteps = int(n_timesteps if n_timesteps is not None else params.get("n_timesteps", 1e5))
    n_envs = int(params.get("n_envs", 1))
    env_kwargs = dict(params.get("env_kwargs") or {})
    top_m = params.get("top_m", 8)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    env = make_env(store, stream, algo, n_envs, seed, env_kwargs, top_m, env_id=env_id,
                   vec_env=vec_env)
    store_path = None if store is None else str(Path(store).resolve())
    config = {
        "env_id": env_id, "algo": algo, "policy": policy, "n_timesteps": n_timesteps,
        "seed": seed, "stream": stream, "store": store_path,
        **_env_record(env, env_id),
        # gym.make's arguments, so an evaluation can rebuild the env (split and view its own)
        "env_kwargs": env_make_kwargs(store_path, stream, env_kwargs),
        "hyperparams": params,
    }
    if resume and (out / "config.yaml").is_file():  # before config.yaml is rewritten
        check_same_run(out / "config.yaml", config)
    model = build_model(algo, policy, params, env, seed=seed, device=device, verbose=verbose,
                        env_id=env_id)
    checkpoint = out / "checkpoint.zip"
    if resume and checkpoint.is_file():
        load_sb3_into(model, checkpoint)  # weights, optimizer states, step counters only
        remaining = max(n_timesteps - int(model.num_timesteps), 0)
        reset = False
    else:
        remaining, reset = n_timesteps, True
    model.set_logger(configure(str(out), ["csv"]))
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config, sort_keys=False))

    if remaining > 0:
        callbacks = [_checkpoint_callback(checkpoint, save_freq)]
        model.learn(remaining, callback=callbacks + ([callback] if callback is not None else []),
                    progress_bar=progress_bar and progress_bar_available(),
                    reset_num_timesteps=reset)
    final = out / "model.zip"
    _atomic_save(model, final)
    checkpoint.unlink(missing_ok=True)
    env.close()
    return final


def _env_record(env: Any, env_id: str) -> dict[str, Any]:
    """What ``config.yaml`` records of the training env: its store's contents and its sizes.

    ``store_fingerprint`` lets a resume on another store be refused (:func:`check_same_run`);
    the sizes (and, for ``FrameSelectionSeq-v0``, the observation space itself) let
    :func:`load_sb3` rebuild the spaces without the store.
    """
    unwrapped = env.envs[0].unwrapped
    source = unwrapped.core.cheap if env_id == SEQ_ENV_ID else unwrapped.source
    store = getattr(source, "store", None)
    record: dict[str, Any] = {
        "store_fingerprint": (store_fingerprint(store) if isinstance(store, FeatureStore)
                              else None),
        "num_frames": int(source.num_frames), "feature_dim": int(source.feature_dim),
        "num_classes": int(source.num_classes),
    }
    if env_id == SEQ_ENV_ID:
        core = unwrapped.core
        record.update(expensive_feature_dim=int(core.expensive.feature_dim), pay=core.pay_name,
                      observation_space=space_record(env.observation_space))
    return record


def space_record(space: gym.spaces.Dict) -> dict[str, dict[str, Any]]:
    """A ``Dict`` of ``Box`` spaces as plain YAML: ``{key: {shape, low, high}}``.

    :param space: a ``Dict`` space whose ``Box`` parts each have one lower and one upper bound.
    :raises ValueError: a part that is not such a ``Box``.
    """
    out = {}
    for key, box in space.spaces.items():
        if not isinstance(box, gym.spaces.Box) or np.unique(box.low).size != 1 \
                or np.unique(box.high).size != 1:
            raise ValueError(f"space_record: observation part {key!r} is not a Box with one "
                             f"bound each side: {box}")
        out[key] = {"shape": [int(n) for n in box.shape], "low": float(box.low.flat[0]),
                    "high": float(box.high.flat[0])}
    return out


def space_from_record(record: Any, where: str) -> gym.spaces.Dict:
    """The ``Dict`` space :func:`space_record` wrote (float32 boxes).

    :param record: the recorded mapping.
    :param where: the file it comes from, for the errors.
    :raises ValueError: a record that is not ``{key: {shape: [ints >= 1], low: x, high: y}}``.
    """
    if not isinstance(record, dict) or not record:
        raise ValueError(f"{where}: observation_space must be a mapping of observation parts, "
                         f"got {record!r}")
    parts: dict[str, gym.spaces.Space] = {}
    for key, box in record.items():
        ok = isinstance(box, dict) and isinstance(box.get("shape"), list) and all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in box["shape"]
        ) and all(isinstance(box.get(b), (int, float)) and not isinstance(box.get(b), bool)
                  for b in ("low", "high"))
        if not ok or not box["low"] <= box["high"]:
            raise ValueError(f"{where}: observation_space[{key!r}] must be {{shape: [ints >= 1], "
                             f"low: number, high: number}} with low <= high, got {box!r}")
        parts[str(key)] = gym.spaces.Box(float(box["low"]), float(box["high"]),
                                         tuple(box["shape"]), np.float32)
    return gym.spaces.Dict(parts)


#: config.yaml entries a resumed run may change: the step target (train on to a new total)
_RESUMABLE = ("n_timesteps",)


def check_same_run(path: Path, config: dict[str, Any]) -> None:
    """Refuse ``--resume`` into a run directory whose ``config.yaml`` describes another run.

    The env, algorithm, policy, seed, stream, store (by contents, so a moved store is the
    same), observation sizes and hyperparameters must be the recorded ones; only
    ``n_timesteps`` may change.

    :param path: the run's ``config.yaml``.
    :param config: the config the resumed run would record.
    :raises UserError: a difference; the message names the file and both values.
    """
    old = load_yaml(path, "run config")
    # compare as YAML would store it (tuples become lists, floats stay floats)
    new = yaml.safe_load(yaml.safe_dump(config))
    old_fp, new_fp = old.get("store_fingerprint"), new.get("store_fingerprint")
    if isinstance(old_fp, dict) and isinstance(new_fp, dict):
        if not same_store(old_fp, new_fp):
            raise UserError(f"--resume: {str(path)!r} records the run's feature store "
                             f"{describe_store(old_fp)}, not {describe_store(new_fp)}; resume "
                             f"with that store or use a new --out")
    elif old.get("store") != new.get("store"):  # run directories from before the fingerprint
        raise UserError(f"--resume: {str(path)!r} records the run's feature store "
                         f"{old.get('store')!r}, not {new.get('store')!r}; resume with that "
                         f"store or use a new --out")
    hyper = "hyperparams"
    for key in ("env_id", "algo", "policy", "seed", "stream", "num_frames", "feature_dim",
                "expensive_feature_dim", "num_classes", hyper):
        was, now = old.get(key), new.get(key)
        if key == hyper and isinstance(was, dict) and isinstance(now, dict):
            was = {k: v for k, v in was.items() if k not in _RESUMABLE}
            now = {k: v for k, v in now.items() if k not in _RESUMABLE}
        if was != now:
            raise UserError(f"--resume: {str(path)!r} records {key}={was!r}, but this run has "
                             f"{key}={now!r}; resume with the same options or use a new --out")


class _SpacesOnlyEnv(gym.Env):
    """An env that only has the spaces of a trained model: what SB3 needs to build it."""

    def __init__(self, observation_space: Any, action_space: Any) -> None:
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Not available: the model was loaded to score observations, not to train."""
        raise RuntimeError("a model loaded with load_sb3 scores observations; it has no env")

    def step(self, action: Any) -> Any:
        """Not available: the model was loaded to score observations, not to train."""
        raise RuntimeError("a model loaded with load_sb3 scores observations; it has no env")


def load_sb3(path: str | os.PathLike, algo: str | None = None, device: str = "cpu") -> Any:
    """Load a model saved by :func:`train_sb3`, running no code stored in it.

    The algorithm is built afresh from the run's ``config.yaml`` (algorithm, policy,
    hyperparameters, observation sizes); the zip gives only its weights and counters
    (:func:`baselines_zoo.sb3.loading.load_sb3_into`). A zip without that ``config.yaml`` is
    refused.

    :param path: ``model.zip`` (or its run directory).
    :param algo: ``ppo``, ``a2c``, ``sac``, ``td3``, ``maskable_ppo``, checked against
        ``config.yaml``; ``None`` takes it from there.
    :param device: torch device.
    :raises FileNotFoundError: no such model.
    :raises ValueError: no usable ``config.yaml``, another algorithm, or a zip that
        :mod:`baselines_zoo.sb3.loading` refuses; the message names the file.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv

    from frame_select_env.envs.one_step.env import make_spaces

    path = Path(path)
    if path.is_dir():
        path = path / "model.zip"
    if not path.is_file():
        raise FileNotFoundError(f"SB3 model {str(path)!r} not found")
    config = read_run_config(path)
    cfg_path = str(path.parent / "config.yaml")
    env_id = config.get("env_id", ENV_ID)
    needed: tuple[str, ...] = ("algo", "policy", "num_frames", "feature_dim", "num_classes",
                               "hyperparams")
    if env_id == SEQ_ENV_ID:
        needed += ("observation_space",)
    missing = [k for k in needed if k not in config]
    if missing:
        raise ValueError(f"cannot load SB3 model {str(path)!r}: it is rebuilt from the "
                         f"config.yaml train_sb3 writes next to it, and {cfg_path!r} "
                         f"{'is missing' if not config else f'lacks {missing}'} (models are "
                         f"never unpickled, so a zip alone cannot be loaded)")
    if algo is not None and algo != config["algo"]:
        raise ValueError(f"SB3 model {str(path)!r} is a {config['algo']} model ({cfg_path!r}), "
                         f"not {algo}; use '{config['algo']}:{path}' or 'sb3:{path}'")
    algo = str(config["algo"])
    try:
        check_algo_env(algo, str(env_id))
    except ValueError as err:
        raise ValueError(f"{cfg_path!r}: {err}") from None
    params = config["hyperparams"]
    if not isinstance(params, dict):
        raise ValueError(f"{cfg_path!r}: hyperparams must be a mapping")
    num_frames = int(config["num_frames"])
    obs_space: gym.spaces.Dict
    act_space: gym.spaces.Space
    if env_id == SEQ_ENV_ID:
        # The seq env's spaces as recorded: T + 1 actions (pay for a frame, or stop).
        obs_space = space_from_record(config["observation_space"], cfg_path)
        act_space = gym.spaces.Discrete(num_frames + 1)
    else:
        # The spaces the env had in training (FrameSelection-v0, top-m scores for SAC / TD3).
        state = (params.get("env_kwargs") or {}).get("state", "both")
        obs_space = make_spaces(num_frames, int(config["feature_dim"]),
                                int(config["num_classes"]), state)
        act_space = (gym.spaces.Box(-1.0, 1.0, (num_frames,), np.float32) if algo in OFF_POLICY
                     else gym.spaces.MultiBinary(num_frames))
    n_envs = int(params.get("n_envs", 1))
    env = DummyVecEnv([lambda: _SpacesOnlyEnv(obs_space, act_space)] * n_envs)
    model = build_model(algo, str(config["policy"]), params, env, device=device, training=False,
                        env_id=str(env_id))
    return load_sb3_into(model, path)


def read_run_config(model_path: str | os.PathLike) -> dict[str, Any]:
    """The ``config.yaml`` written next to a model by :func:`train_sb3` (``{}`` if absent).

    :param model_path: ``model.zip`` (or any file of the run directory).
    :return: the run's config.
    :raises ValueError: the file is not a YAML mapping.
    """
    cfg = Path(model_path).parent / "config.yaml"
    return load_yaml(cfg, "run config") if cfg.is_file() else {}
