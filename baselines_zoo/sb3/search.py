"""Hyperparameter search of the SB3 comparators, as RL Baselines3 Zoo does it (Optuna).

``train_sb3.py --optimize`` runs :func:`optimize_sb3`: a TPE sampler proposes hyperparameters
(:func:`sample_params`, the search spaces below), each trial trains the algorithm for
``n_timesteps`` with :func:`baselines_zoo.sb3.train.train_sb3` and is evaluated on the store's
``val`` split ``n_evaluations`` times (:class:`ValEvalCallback`); the median pruner stops a trial
whose validation accuracy is below the median of the earlier trials at the same step. The study
lives in an Optuna storage (default ``OUT/study.db``), so an interrupted search resumes
(:mod:`baselines_zoo.tuning`). The best trial's hyperparameters are written as a YAML in the
layout of ``baselines_zoo/sb3/hyperparams/`` (keyed by the env id, the producing command as a
comment), which ``train_sb3.py --hyperparams`` reads like the shipped ones, and a study summary.

The objective is what the comparison tables report:

* ``FrameSelectionSeq-v0``: the accuracy of the deterministic policy on every ``val`` video,
  all crops averaged, fused prediction, at the run's ``max_frames``
  (:func:`frame_select_env.evaluation.evaluate_sequential`); the frames paid and GMACs per
  video are recorded with each evaluation.
* ``FrameSelection-v0``: the frame-based top-m accuracy (m = the YAML's ``top_m``, 8) on the
  run's stream (:func:`frame_select_env.evaluation.evaluate_policies`).

Search spaces (a parameter's Optuna name is its YAML key, nested keys joined by ``.``):

* PPO, MaskablePPO, RecurrentPPO: ``learning_rate`` (log 1e-5..3e-3), ``n_steps``,
  ``batch_size`` (at most ``n_steps x n_envs``), ``n_epochs``, ``ent_coef`` (log 1e-6..0.03),
  ``clip_range``, ``max_grad_norm``, ``vf_coef``; RecurrentPPO also
  ``policy_kwargs.lstm_hidden_size`` and ``policy_kwargs.enable_critic_lstm``.
* A2C: ``learning_rate``, ``n_steps``, ``ent_coef``, ``vf_coef``, ``max_grad_norm``,
  ``normalize_advantage``.
* Sequential env only (episodes of several steps): ``gamma``, ``gae_lambda``,
  ``env_kwargs.cost_weight`` and, where the env has it, ``env_kwargs.reward`` (the pay step's
  reward rule, :data:`frame_select_env.envs.sequential.core.REWARDS`).
* Networks: ``bilstm`` policies ``extractor_kwargs.proj_dim`` and
  ``extractor_kwargs.hidden_size`` in {32, 64} (small, so a decision costs far less than a flow
  frame); ``mlp`` policies ``policy_kwargs.net_arch`` in :data:`MLP_ARCHS`.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from stable_baselines3.common.callbacks import BaseCallback

from baselines_zoo.sb3.scoring import EVAL_CHOSEN, seq_policy_of
from baselines_zoo.sb3.sequential import SEQ_ENV_ID
from baselines_zoo.sb3.train import (
    ENV_ID,
    check_algo_env,
    env_make_kwargs,
    load_hyperparams,
    train_sb3,
)
from baselines_zoo.tuning import TuningBudget, report, run_study, study_summary, write_summary
from frame_select_env.store.atomic import atomic_write_text
from frame_select_env.store.builtin import store_or_builtin

#: the SB3 algorithms with a search space here
SEARCH_ALGOS = ("ppo", "a2c", "maskable_ppo", "recurrent_ppo")
#: the split every trial is evaluated on (never the test split)
VAL_SPLIT = "val"
#: the ``mlp`` policies' hidden layers searched (Optuna's choices are the names)
MLP_ARCHS = {"64x64": (64, 64), "256x256": (256, 256)}


def _reward_choices() -> tuple[str, ...]:
    """The seq env's reward rules, or ``()`` for an env without the option."""
    from frame_select_env.envs.sequential import core

    return tuple(getattr(core, "REWARDS", ()))


def sample_params(trial: optuna.Trial, algo: str, env_id: str,
                  base: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters for one trial: the YAML entry ``base`` with the sampled keys replaced.

    :param trial: the Optuna trial (its parameters are named by YAML key, nested with ``.``).
    :param algo: one of :data:`SEARCH_ALGOS`.
    :param env_id: the env (the sequential one adds its discounting, cost and reward keys).
    :param base: the YAML entry the trial starts from (not changed).
    :return: the complete entry for :func:`train_sb3` (``overrides`` of every top-level key).
    :raises ValueError: an algorithm without a search space.
    """
    if algo not in SEARCH_ALGOS:
        raise ValueError(f"no search space for {algo!r}; --optimize tunes {SEARCH_ALGOS}")
    seq = env_id == SEQ_ENV_ID
    n_envs = int(base.get("n_envs", 1))
    params = copy.deepcopy(base)
    env_kwargs = params.setdefault("env_kwargs", {})
    params["learning_rate"] = trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True)
    params["ent_coef"] = trial.suggest_float("ent_coef", 1e-6, 0.03, log=True)
    params["max_grad_norm"] = trial.suggest_categorical("max_grad_norm", [0.5, 1.0, 5.0])
    params["vf_coef"] = trial.suggest_categorical("vf_coef", [0.25, 0.5, 1.0])
    if algo == "a2c":
        params["n_steps"] = trial.suggest_categorical("n_steps", [5, 8, 16, 32])
        params["normalize_advantage"] = trial.suggest_categorical("normalize_advantage",
                                                                  [False, True])
    else:
        params["n_steps"] = trial.suggest_categorical("n_steps", [32, 64, 128, 256])
        batch = trial.suggest_categorical("batch_size", [64, 128, 256, 512])
        # PPO splits n_steps x n_envs samples into minibatches; a bigger one is the whole rollout
        params["batch_size"] = min(int(batch), int(params["n_steps"]) * n_envs)
        params["n_epochs"] = trial.suggest_categorical("n_epochs", [3, 5, 10])
        params["clip_range"] = trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3])
    if algo == "recurrent_ppo":
        policy_kwargs = params.setdefault("policy_kwargs", {})
        policy_kwargs["lstm_hidden_size"] = trial.suggest_categorical(
            "policy_kwargs.lstm_hidden_size", [32, 64, 128])
        policy_kwargs["enable_critic_lstm"] = trial.suggest_categorical(
            "policy_kwargs.enable_critic_lstm", [False, True])
    if seq:
        params["gamma"] = trial.suggest_categorical("gamma", [0.9, 0.99, 1.0])
        params["gae_lambda"] = trial.suggest_categorical("gae_lambda", [0.8, 0.9, 0.95, 1.0])
        env_kwargs["cost_weight"] = trial.suggest_categorical("env_kwargs.cost_weight",
                                                              [0.0, 1.0, 3.0, 10.0])
        rewards = _reward_choices()
        if rewards:
            env_kwargs["reward"] = trial.suggest_categorical("env_kwargs.reward", list(rewards))
    if str(params.get("policy", "bilstm")) == "mlp":
        # SB3's default MLP is 64x64; the flattened seq observation is ~2k wide, so try wider
        arch = trial.suggest_categorical("policy_kwargs.net_arch", list(MLP_ARCHS))
        params.setdefault("policy_kwargs", {})["net_arch"] = list(MLP_ARCHS[arch])
        params.pop("extractor_kwargs", None)  # the BiLSTM extractor's: no part of an MLP
    if str(params.get("policy", "bilstm")).startswith("bilstm"):
        extractor = params.setdefault("extractor_kwargs", {})
        for key in ("proj_dim", "hidden_size"):
            extractor[key] = trial.suggest_categorical(f"extractor_kwargs.{key}", [32, 64])
    return params


def val_accuracy(model: Any, env_id: str, env_kwargs: dict[str, Any], store: Any,
                 stream: str, top_m: int = 8) -> dict[str, float]:
    """The trial's objective for a model in training (see the module docstring).

    :param model: the SB3 algorithm.
    :param env_id: its env.
    :param env_kwargs: the run's ``gym.make`` arguments (:func:`env_make_kwargs`).
    :param store: the store path (``None``: the built-in one).
    :param stream: the run's stream.
    :param top_m: frames kept, ``FrameSelection-v0``.
    :return: ``accuracy`` (%), and for the sequential env ``frames`` paid and ``gmacs`` per video.
    :raises ValueError: a ``fused`` one-step run (its frame-based accuracy is per stream) or a
        store without ``val`` videos.
    """
    from frame_select_env.store import FeatureStore

    path = store_or_builtin(store)
    fs = FeatureStore(path)
    try:
        if len(fs.indices(VAL_SPLIT)) == 0:
            raise ValueError(f"store {str(path)!r} has no {VAL_SPLIT!r} videos; the search "
                             f"evaluates every trial on them (never on test)")
    finally:
        fs.close()
    if env_id == SEQ_ENV_ID:
        from frame_select_env.evaluation import evaluate_sequential

        kwargs = {k: v for k, v in env_kwargs.items() if k not in EVAL_CHOSEN}
        policy = seq_policy_of(model, name="trial", env_kwargs=kwargs)
        was_training = model.policy.training
        try:
            row = evaluate_sequential({"trial": policy}, path, VAL_SPLIT, env_kwargs=kwargs)[0]
        finally:
            model.policy.set_training_mode(was_training)
        return {"accuracy": float(row["accuracy"]), "frames": float(row["frames"]),
                "gmacs": float(row["gmacs"])}
    if stream == "fused":
        raise ValueError("tuning on FrameSelection-v0 scores frames per stream; use --stream "
                         "rgb or flow")
    from frame_select_env.core.policy import SB3ScoresPolicy
    from frame_select_env.evaluation import evaluate_policies

    scores = SB3ScoresPolicy(model, name="trial")
    rows = evaluate_policies({"trial": {stream: scores}}, path, split=VAL_SPLIT,
                             streams=(stream,), ms=(int(top_m),), schemes=("frame",),
                             include_all=False)
    return {"accuracy": float(rows[0]["accuracy"])}


class ValEvalCallback(BaseCallback):
    """Evaluates the model on ``val`` every ``eval_freq`` steps and reports it to the pruner.

    A pruned trial stops training (``_on_step`` returns ``False``); :attr:`pruned` says so and
    :attr:`history` holds ``(step, metrics)`` of every evaluation.

    :param trial: the Optuna trial.
    :param eval_freq: environment steps between evaluations.
    :param evaluate: ``model -> metrics`` with an ``accuracy`` (:func:`val_accuracy`, bound).
    """

    def __init__(self, trial: optuna.Trial, eval_freq: int, evaluate: Any) -> None:
        super().__init__()
        self.trial, self.eval_freq, self.evaluate = trial, max(int(eval_freq), 1), evaluate
        self.last = 0
        self.pruned = False
        self.history: list[tuple[int, dict[str, float]]] = []

    def run_eval(self) -> float:
        """Evaluate now, record it and report it; return the accuracy.

        :raises optuna.TrialPruned: the pruner stops the trial.
        """
        self.last = int(self.num_timesteps)
        metrics = self.evaluate(self.model)
        self.history.append((self.last, metrics))
        report(self.trial, self.last, metrics["accuracy"])
        return metrics["accuracy"]

    def _on_step(self) -> bool:
        if self.num_timesteps - self.last < self.eval_freq:
            return True
        try:
            self.run_eval()
        except optuna.TrialPruned:
            self.pruned = True
            return False
        return True


@dataclass
class SearchResult:
    """What :func:`optimize_sb3` wrote.

    :param study: the Optuna study.
    :param hyperparams: the best hyperparameters' YAML (``None``: no trial completed).
    :param summary: the study summary's JSON.
    """

    study: optuna.Study
    hyperparams: Path | None
    summary: Path


def _trial_objective(algo: str, env_id: str, base: dict[str, Any], out: Path, *,
                     policy: str | None, n_timesteps: int, n_evaluations: int, seed: int,
                     store: Any, stream: str, device: str, num_threads: int | None) -> Any:
    """The Optuna objective: train one sampled configuration, return its final val accuracy."""
    def objective(trial: optuna.Trial) -> float:
        params = sample_params(trial, algo, env_id, base)
        trial.set_user_attr("hyperparams", json.loads(json.dumps(params)))
        store_path = None if store is None else str(Path(store).resolve())
        kwargs = env_make_kwargs(store_path, stream, dict(params.get("env_kwargs") or {}))
        evaluate = lambda model: val_accuracy(  # noqa: E731 - bound arguments, one use
            model, env_id, kwargs, store_path, stream, int(params.get("top_m", 8)))
        callback = ValEvalCallback(trial, n_timesteps // max(n_evaluations, 1), evaluate)
        start = time.perf_counter()
        train_sb3(algo, policy=policy, n_timesteps=n_timesteps, seed=seed,
                  out=out / "trials" / f"trial_{trial.number}", store=store, stream=stream,
                  overrides=params, progress_bar=False, save_freq=max(n_timesteps, 1) * 2,
                  device=device, num_threads=num_threads, env_id=env_id, callback=callback)
        trial.set_user_attr("train_s", round(time.perf_counter() - start, 1))
        if callback.pruned:
            step, metrics = callback.history[-1]
            trial.set_user_attr("last_eval", {"step": step, **metrics})
            raise optuna.TrialPruned(f"pruned at step {step}: val accuracy "
                                     f"{metrics['accuracy']:.1f}%")
        if not callback.history or callback.history[-1][0] < callback.num_timesteps:
            try:
                callback.run_eval()  # the final model: what the trial's value describes
            except optuna.TrialPruned:
                pass  # its last report is the trial's value; completing it keeps the record
        step, metrics = callback.history[-1]
        trial.set_user_attr("last_eval", {"step": step, **metrics})
        return metrics["accuracy"]

    return objective


def best_hyperparams_yaml(study: optuna.Study, env_id: str, header: list[str]) -> str:
    """The best trial's hyperparameters as a ``baselines_zoo/sb3/hyperparams/`` YAML.

    :param study: a study with a completed trial.
    :param env_id: the top-level key.
    :param header: comment lines written above it (without ``#``).
    """
    params = dict(study.best_trial.user_attrs["hyperparams"])
    body = yaml.safe_dump({env_id: params}, sort_keys=False)
    return "".join(f"# {line}\n" if line else "#\n" for line in header) + body


def optimize_sb3(
    algo: str,
    out: str | os.PathLike,
    *,
    env_id: str = ENV_ID,
    n_trials: int = 10,
    n_timesteps: int | None = None,
    n_evaluations: int = 4,
    timeout_s: float | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    seed: int = 0,
    n_startup_trials: int = 5,
    pruner: str = "median",
    policy: str | None = None,
    store: str | os.PathLike | None = None,
    stream: str = "rgb",
    hyperparams: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    device: str = "cpu",
    num_threads: int | None = 1,
    command: str | None = None,
) -> SearchResult:
    """Search the hyperparameters of ``algo`` on ``env_id``; write the best as YAML.

    :param algo: one of :data:`SEARCH_ALGOS`.
    :param out: directory of the study: ``study.db`` (default storage), ``trials/trial_N/``
        (each trial's run), ``<algo>.yml`` (the best hyperparameters), ``study_summary.json``.
    :param env_id: ``FrameSelection-v0`` or ``FrameSelectionSeq-v0``.
    :param n_trials: trials to finish, counting those a resumed study already has.
    :param n_timesteps: environment steps per trial (default: the YAML's ``n_timesteps``).
    :param n_evaluations: val evaluations per trial (the pruner's reports).
    :param timeout_s: wall-clock limit of this session in seconds.
    :param storage: Optuna storage URL (default ``sqlite:///OUT/study.db``).
    :param study_name: the study's name in the storage (default ``<algo>-<env id>``).
    :param seed: seed of the sampler and of every trial's training.
    :param n_startup_trials: random trials before TPE, and trials before pruning starts.
    :param pruner: ``median`` or ``none``.
    :param policy: network (default: the YAML's).
    :param store: feature store (default: the built-in one).
    :param stream: the stream the agent reads (the cheap one for the sequential env).
    :param hyperparams: the YAML the trials start from (default: the shipped one).
    :param overrides: entries replacing the YAML's before sampling (e.g. ``{"n_envs": 4}``).
    :param device: torch device.
    :param num_threads: torch CPU threads.
    :param command: the command line that runs this search, recorded in the YAML.
    :return: the study and the files written.
    :raises ValueError: an algorithm the env cannot train or that has no search space, or a
        bad budget.
    """
    check_algo_env(algo, env_id)
    if algo not in SEARCH_ALGOS:
        raise ValueError(f"--optimize tunes {', '.join(SEARCH_ALGOS)}, not {algo!r}")
    if n_evaluations < 1:
        raise ValueError(f"n_evaluations must be >= 1, got {n_evaluations}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = load_hyperparams(algo, hyperparams, env_id)
    base.update(copy.deepcopy(overrides or {}))
    if policy is not None:  # the trials' network: what the search space and the YAML follow
        base["policy"] = policy
    steps = int(n_timesteps if n_timesteps is not None else base.get("n_timesteps", 1e5))
    if steps < 1:
        raise ValueError(f"n_timesteps must be >= 1, got {steps}")
    base["n_timesteps"] = steps
    budget = TuningBudget(n_trials=n_trials, timeout_s=timeout_s,
                          n_startup_trials=n_startup_trials, seed=seed,
                          n_warmup_steps=steps // 3)
    storage = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    study_name = study_name or f"{algo}-{env_id}"
    objective = _trial_objective(algo, env_id, base, out, policy=policy, n_timesteps=steps,
                                 n_evaluations=n_evaluations, seed=seed, store=store,
                                 stream=stream, device=device, num_threads=num_threads)
    study = run_study(objective, budget, direction="maximize", storage=storage,
                      study_name=study_name, pruner=pruner)
    summary = study_summary(study, budget)
    summary.update(algo=algo, env_id=env_id, n_timesteps=steps, n_evaluations=n_evaluations,
                   store=None if store is None else str(store), stream=stream, storage=storage,
                   command=command, objective=f"{VAL_SPLIT} accuracy (%)")
    yaml_path: Path | None = None
    if summary["n_complete"]:
        best = study.best_trial
        last = best.user_attrs.get("last_eval", {})
        reward = (best.user_attrs["hyperparams"].get("env_kwargs") or {}).get("reward")
        header = [
            f"{algo} on {env_id}: the best of an Optuna search (baselines_zoo/sb3/search.py),",
            f"study {study_name!r}: {summary['n_complete']} complete, {summary['n_pruned']} "
            f"pruned, {summary['n_failed']} failed of {summary['n_trials']} trials, "
            f"{steps} steps each, seed {seed},",
            f"{summary['wall_clock_s']:.0f} s of trials; best trial {best.number}: "
            f"{VAL_SPLIT} accuracy {best.value:.1f}%"
            + (f", {last['frames']:.2f} frames paid, {last['gmacs']:.3f} GMACs per video"
               if "frames" in last else "")
            + (f", reward={reward}" if reward else "") + ".",
            "Produced by:",
            f"  {command or 'optimize_sb3(...)'}",
            "",
        ]
        yaml_path = out / f"{algo}.yml"
        atomic_write_text(yaml_path, best_hyperparams_yaml(study, env_id, header))
        summary["hyperparams_yaml"] = str(yaml_path)
    summary_path = out / "study_summary.json"
    write_summary(summary_path, summary)
    return SearchResult(study, yaml_path, summary_path)


def format_command(argv: list[str]) -> str:
    """The ``train_sb3.py`` command line of ``argv``, quoted for a shell."""
    return "python scripts/train_sb3.py " + shlex.join(argv)


__all__ = ["SEARCH_ALGOS", "SearchResult", "ValEvalCallback",
           "best_hyperparams_yaml", "format_command", "optimize_sb3", "sample_params",
           "val_accuracy"]
