"""Hyperparameter search for the field's learned selectors and the AS agents on a store's val split.

Every learned row of the field table (OCSampler, LiteEval, FrameExit, the paper's AS and AS
observing RGB) is tuned the same way, through the shared Optuna core
(:mod:`baselines_zoo.tuning`: seeded TPE, median pruner, resumable storage) with the same
:class:`~baselines_zoo.tuning.TuningBudget` (trials and wall-clock):

* a trial draws the method's hyperparameters from its space (:data:`SPACES`) on top of a base
  config (the method's defaults, or the REINFORCE YAML for the AS agents, with ``--epochs`` and
  ``--set`` applied), trains on the **train** split with one seed, and scores the **val**
  split: fused top-1, frame-based, every view, averaged over the budgets ``ms``
  (:func:`val_accuracy`, the evaluation of the table itself); a field selector observes
  ``observe`` (RGB by default, or the store's preview), an AS agent what its name says
  (:data:`AS_OBSERVES`);
* intermediate values go to the pruner: OCSampler's val top-1 of each epoch, LiteEval's val
  top-1 of its own classifier, the AS agents' :func:`val_accuracy` every quarter of their
  epochs; FrameExit (full-batch, seconds per run) reports only its final value;
* the best trial's whole config is written as YAML (:func:`write_tuned`, ``METHOD: {config}``
  plus a ``tuning:`` record), which ``train_selector.py --config`` and ``compare_field.py`` read
  back (:func:`read_tuned`).

The test split is never read. Usage::

    from baselines_zoo.field.search import base_config, tune, write_tuned
    from baselines_zoo.tuning import TuningBudget

    result = tune("ocsampler", "my_store.h5", TuningBudget(n_trials=10, timeout_s=600),
                  base=base_config("ocsampler"), ms=(8,))
    write_tuned("runs/ocs/tuned.yaml", result, command="...")
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from baselines_zoo.field import get_method
from baselines_zoo.tuning import TuningBudget, report, run_study, study_summary
from frame_select_env.core.config import from_dict
from frame_select_env.core.constants import STREAMS
from frame_select_env.evaluation.results import Tuning
from frame_select_env.evaluation.runner import (
    ObservingPolicy,
    SplitData,
    evaluate_policies,
    load_split,
)
from frame_select_env.store.atomic import atomic_write_text

#: The AS agents of the field table: the paper's (one agent per stream, each observing its own
#: stream on every frame), AS observing RGB and AS observing the preview (one agent reading that
#: stream, rewarded on the fused prediction of its kept frames: select-before-compute).
AS_AGENTS = ("as", "as_rgb_only", "as_preview")
#: The stream each AS agent observes (``None``: the paper's, each stream its own).
AS_OBSERVES: dict[str, str | None] = {"as": None, "as_rgb_only": "rgb", "as_preview": "preview"}
#: Everything :func:`tune` tunes: the field's learned selectors and the AS agents.
TUNABLE = ("ocsampler", "liteeval", "frameexit", *AS_AGENTS)
#: What each method's training optimises (the ``reward`` tuning column); OCSampler: its config's.
TRAINED_ON = {"liteeval": "cross_entropy", "frameexit": "cross_entropy",
              **{a: "eq4" for a in AS_AGENTS}}

Report = Callable[[int, float], None]


# ----------------------------------------------------------------------------- search spaces


def _ocsampler(trial: optuna.Trial) -> dict[str, Any]:
    return {"lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
            "entropy_weight": trial.suggest_float("entropy_weight", 1e-3, 0.3, log=True),
            "hidden": trial.suggest_categorical("hidden", [32, 64, 128]),
            "kernel": trial.suggest_categorical("kernel", [1, 3, 5]),
            "inputs": trial.suggest_categorical("inputs", ["both", "features"]),
            "reward": trial.suggest_categorical("reward", ["confidence", "true_class"]),
            "samples": trial.suggest_categorical("samples", [2, 4, 8])}


def _liteeval(trial: optuna.Trial) -> dict[str, Any]:
    coarse = trial.suggest_categorical("coarse_hidden", [16, 32, 64])
    return {"lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
            "coarse_hidden": coarse,
            # fine_hidden >= coarse_hidden (the coarse state is copied into the fine one)
            "fine_hidden": coarse * trial.suggest_categorical("fine_factor", [1, 2, 4]),
            "target_skip": trial.suggest_float("target_skip", 0.3, 0.9),
            "skip_weight": trial.suggest_float("skip_weight", 0.5, 16.0, log=True),
            "tau_end": trial.suggest_float("tau_end", 0.1, 1.0, log=True),
            "gate_reads_fine": trial.suggest_categorical("gate_reads_fine", [True, False])}


def _frameexit(trial: optuna.Trial) -> dict[str, Any]:
    return {"lr": trial.suggest_float("lr", 1e-3, 5e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
            "gate_weight": trial.suggest_float("gate_weight", 0.1, 10.0, log=True),
            "gate_target": trial.suggest_categorical("gate_target", ["head", "predict"]),
            "epochs": trial.suggest_int("epochs", 100, 600, step=100)}


def _as(trial: optuna.Trial) -> dict[str, Any]:
    return {"lr": trial.suggest_float("lr", 1e-4, 5e-3, log=True),
            "beta": trial.suggest_float("beta", 0.01, 1.0, log=True),
            "omega": trial.suggest_categorical("omega", [2.0, 5.0, 10.0, 20.0]),
            "num_episodes": trial.suggest_categorical("num_episodes", [4, 8, 16]),
            "hidden_size": trial.suggest_categorical("hidden_size", [32, 64, 128]),
            "baseline_mode": trial.suggest_categorical("baseline_mode",
                                                       ["moving_average", "episode_mean"])}


#: method -> its search space: a trial -> config entries drawn (on top of the base config).
SPACES: dict[str, Callable[[optuna.Trial], dict[str, Any]]] = {
    "ocsampler": _ocsampler, "liteeval": _liteeval, "frameexit": _frameexit,
    **{a: _as for a in AS_AGENTS},
}


def _check(method: str) -> None:
    if method not in TUNABLE:
        raise ValueError(f"no search space for {method!r}; tunable: {list(TUNABLE)}")


def observing_as(observe: str) -> str:
    """The AS agent of the field table that observes ``observe`` (``as_rgb_only``, ...).

    :param observe: the stream the field's selectors observe.
    :raises ValueError: no AS agent observes it.
    """
    for name, stream in AS_OBSERVES.items():
        if stream == observe:
            return name
    raise ValueError(f"no AS agent of the field table observes {observe!r}; they observe "
                     f"{[s for s in AS_OBSERVES.values() if s]}")


def split_streams(observe: str | None) -> list[str]:
    """The streams a split is loaded with: both fused ones, and ``observe`` when it is another.

    :param observe: the stream the selectors read (``None``: the fused streams only).
    """
    return list(dict.fromkeys([*STREAMS, *([observe] if observe else [])]))


# ----------------------------------------------------------------------------- configs


def base_config(method: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A field method's default config as a dict, with ``overrides`` applied and validated.

    :param method: a learned method of :data:`baselines_zoo.field.METHODS`.
    :param overrides: config entries to change.
    :raises ValueError: an unknown or invalid entry (the message names the method).
    """
    return dataclasses.asdict(build_config(method, {
        **dataclasses.asdict(get_method(method).default_config()), **(overrides or {})}))


def build_config(method: str, values: Mapping[str, Any]) -> Any:
    """The validated config object of ``method`` from a dict.

    :param method: one of :data:`TUNABLE`.
    :param values: the config's entries (the REINFORCE options for the AS agents).
    :return: the method's config dataclass, or a ``ReinforceConfig``.
    :raises ValueError: an unknown key or a bad value.
    """
    _check(method)
    if method in AS_AGENTS:
        from agents.reinforce import ReinforceConfig

        return ReinforceConfig.from_dict(dict(values), where=f"{method} config")
    return from_dict(type(get_method(method).default_config()), dict(values),
                     where=f"{method} config")


def train_budget(method: str, config: Mapping[str, Any]) -> tuple[int, str]:
    """``(length, unit)`` of one training run of ``method`` with ``config`` (epochs)."""
    return int(config["epochs"]), "epochs"


def tuning_record(method: str, config: Mapping[str, Any], trials: int = 0,
                  search_seconds: float = 0.0, train_seconds: float = float("nan")) -> Tuning:
    """The :class:`~frame_select_env.evaluation.results.Tuning` columns of a trained method.

    :param method: one of :data:`TUNABLE`.
    :param config: the config it was trained with.
    :param trials: finished trials of its search (0: untuned).
    :param search_seconds: the search's wall-clock.
    :param train_seconds: this run's training wall-clock.
    """
    budget, unit = train_budget(method, config)
    reward = str(config.get("reward", "")) if method == "ocsampler" else TRAINED_ON[method]
    return Tuning(trials, search_seconds, budget, unit, train_seconds, reward)


# ----------------------------------------------------------------------------- train and score


def as_policies(method: str, agents: Mapping[str, Any]) -> dict[str, Any]:
    """The selection policy per stream of trained AS agents (``as``: one per stream; else one).

    :param method: one of :data:`AS_AGENTS`.
    :param agents: stream -> trained ``ASAgent`` (``as``: each fused stream's; else the observed
        stream's).
    """
    from agents.as_agent import ASPolicy

    observe = AS_OBSERVES[method]
    if observe is None:
        return {s: ASPolicy(agents[s]) for s in STREAMS}
    cross = ObservingPolicy(ASPolicy(agents[observe], name=method), observe)
    return {s: cross for s in STREAMS}


def _train_as(method: str, store: Any, config: Mapping[str, Any], seed: int,
              on_report: Report | None, val: SplitData | None, ms: Sequence[int]
              ) -> dict[str, Any]:
    """Train the AS agent(s) of ``method``; report :func:`val_accuracy` each quarter of epochs."""
    from agents.reinforce import ReinforceConfig, ReinforceTrainer

    observe = AS_OBSERVES[method]
    extra = {} if observe is None else {"observe": observe, "predict": "fused"}
    cfg = ReinforceConfig.from_dict({**config, "seed": seed, "tensorboard": False, **extra},
                                    where=f"{method} config")
    streams = STREAMS if observe is None else (observe,)
    trainers = {s: ReinforceTrainer(store, s, cfg) for s in streams}
    step = max(1, cfg.epochs // 4) if on_report is not None and val is not None else cfg.epochs
    done = 0
    while done < cfg.epochs:
        done = min(cfg.epochs, done + max(step, 1))
        for trainer in trainers.values():
            trainer.train(until_epoch=done)
        if on_report is not None and val is not None and done < cfg.epochs:
            on_report(done, val_accuracy(as_policies(method, {s: t.agent for s, t in
                                                              trainers.items()}), val, ms))
    return as_policies(method, {s: t.agent.cpu().eval() for s, t in trainers.items()})


def train_learned(method: str, store: Any, config: Mapping[str, Any], seed: int = 0, *,
                  on_report: Report | None = None, val: SplitData | None = None,
                  ms: Sequence[int] = (8,), observe: str = "rgb"
                  ) -> tuple[dict[str, Any], float]:
    """Train one learned method on the train split: its policies per stream, and the seconds.

    :param method: one of :data:`TUNABLE`.
    :param store: the store's path.
    :param config: the whole config (:func:`base_config`, or the REINFORCE options for AS).
    :param seed: the training seed.
    :param on_report: called with ``(epoch, value)`` during training (the pruner's input).
    :param val: the val split, for the AS agents' intermediate :func:`val_accuracy`.
    :param ms: the budgets of that intermediate value.
    :param observe: the stream a field selector observes (``rgb``, ``preview``); the AS agents
        observe what their name says (:data:`AS_OBSERVES`).
    :return: ``({stream: policy}, training seconds)``; a field selector's policy is the same
        object for both streams (it observes ``observe`` and predicts fused).
    """
    start = time.perf_counter()
    if method in AS_AGENTS:
        policies = _train_as(method, store, config, seed, on_report, val, ms)
        return policies, time.perf_counter() - start
    spec = get_method(method)
    kwargs: dict[str, Any] = {"on_epoch": on_report} if on_report and method != "frameexit" else {}
    policy = spec.train(store, build_config(method, config), observe=observe, predict="fused",
                        seed=seed, **kwargs)
    policy.name = method
    return {s: policy for s in STREAMS}, time.perf_counter() - start


def val_accuracy(policies: Mapping[str, Any], val: SplitData, ms: Sequence[int]) -> float:
    """Fused top-1 (%) on the val split, frame-based, every view, averaged over ``ms``.

    :param policies: stream -> policy (one method).
    :param val: :func:`load_split` of the val split with both streams (and any stream the
        policies observe, :func:`split_streams`).
    :param ms: the budgets (top-m; the budget knob of adaptive methods).
    """
    ms = [m for m in ms if m <= val.num_frames]
    if not ms:
        raise ValueError(f"no budget of {list(ms)} fits the store's T = {val.num_frames}")
    rows = evaluate_policies({"tuned": dict(policies)}, val.store, streams=STREAMS, ms=ms,
                             schemes=("frame",), include_all=False, data=val, cost=None)
    fused = [float(r["accuracy"]) for r in rows if r["stream"] == "fused"]
    return sum(fused) / len(fused)


# ----------------------------------------------------------------------------- the search


@dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` found.

    :param method: the tuned method.
    :param config: the best trial's whole config (train with it).
    :param summary: :func:`baselines_zoo.tuning.study_summary` of the study.
    :param ms: the budgets the val accuracy averaged.
    :param store: the store tuned on.
    :param seed: the training seed of every trial.
    :param observe: the stream the tuned method observed (``None``: the paper's AS, each agent
        its own stream).
    """

    method: str
    config: dict[str, Any]
    summary: dict[str, Any]
    ms: tuple[int, ...]
    store: str
    seed: int
    observe: str | None = "rgb"

    @property
    def trials(self) -> int:
        """Finished trials (completed or pruned) of the study."""
        return int(self.summary["n_complete"] + self.summary["n_pruned"])

    @property
    def seconds(self) -> float:
        """The study's wall-clock (every session)."""
        return float(self.summary["wall_clock_s"])


def tune(method: str, store: str | Path, budget: TuningBudget, *, base: Mapping[str, Any],
         ms: Sequence[int] = (8,), seed: int = 0, storage: str | None = None,
         study_name: str | None = None, observe: str = "rgb") -> TuneResult:
    """Tune ``method`` on ``store``'s val split within ``budget``.

    :param method: one of :data:`TUNABLE`.
    :param store: the store (it needs a val split and both streams).
    :param budget: trials, wall-clock, sampler seed (the same for every method of a table).
    :param base: the config a trial's draws override (:func:`base_config`; the REINFORCE
        options for the AS agents).
    :param ms: the budgets the objective averages.
    :param seed: the training seed of every trial.
    :param storage: Optuna storage URL to resume from (``sqlite:///study.db``).
    :param study_name: the study's name in ``storage`` (default: ``method``).
    :param observe: the stream a field selector observes (:func:`train_learned`).
    :return: the best config and the study's summary.
    :raises ValueError: no val split, or an unknown method.
    :raises RuntimeError: no trial completed.
    """
    _check(method)
    build_config(method, base)  # a bad base fails here, not as a failed trial
    path = str(store)
    val = load_split(path, "val", split_streams(AS_OBSERVES.get(method, observe)),
                     num_frames=base.get("num_frames"))
    if len(val.labels) == 0:
        raise ValueError(f"{path}: no val split to tune {method} on (the test split is never "
                         f"used for tuning); write a store with a val split")

    def objective(trial: optuna.Trial) -> float:
        values = {**base, **SPACES[method](trial)}
        trial.set_user_attr("config", dataclasses.asdict(build_config(method, values))
                            if method not in AS_AGENTS else values)
        policies, seconds = train_learned(
            method, path, values, seed, on_report=lambda step, v: report(trial, step, v),
            val=val, ms=ms, observe=observe)
        trial.set_user_attr("train_seconds", round(seconds, 2))
        return val_accuracy(policies, val, ms)

    study = run_study(objective, budget, storage=storage, study_name=study_name or method)
    summary = study_summary(study, budget)
    if summary["best_params"] is None:
        raise RuntimeError(f"tuning {method}: no trial completed ({summary['n_trials']} trials, "
                           f"{summary['n_pruned']} pruned, {summary['n_failed']} failed)")
    config = dict(study.best_trial.user_attrs["config"])
    return TuneResult(method, config, summary, tuple(int(m) for m in ms), path, seed,
                      AS_OBSERVES.get(method, observe))


# ----------------------------------------------------------------------------- tuned YAML files


def write_tuned(path: str | Path, result: TuneResult, command: str = "") -> Path:
    """Write the best config as YAML (``METHOD: {config}`` and a ``tuning:`` record), atomically.

    :param path: the YAML file.
    :param result: :func:`tune`'s result.
    :param command: the command that produced it (recorded).
    :return: ``path``.
    """
    s = result.summary
    record = {"store": result.store, "split": "val", "objective": "fused top-1, frame-based, "
              f"mean over m in {list(result.ms)}", "ms": list(result.ms), "seed": result.seed,
              "trials": result.trials, "complete": s["n_complete"], "pruned": s["n_pruned"],
              "failed": s["n_failed"], "seconds": result.seconds, "best_value": s["best_value"],
              "best_trial": s["best_trial"], "budget": s["budget"], "observe": result.observe,
              "command": command}
    head = (f"# {result.method} tuned on {Path(result.store).name}'s val split: {result.trials} "
            f"trials, {result.seconds:.0f} s, best val {s['best_value']:.2f}\n"
            + (f"# made by: {command}\n" if command else ""))
    text = head + yaml.safe_dump({result.method: result.config, "tuning": record},
                                 sort_keys=False)
    atomic_write_text(path, text)
    return Path(path)


def read_tuned(path: str | Path, method: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config and the ``tuning:`` record of a YAML :func:`write_tuned` wrote.

    A hand-written YAML with just ``METHOD: {entries}`` is read too (its record is empty).

    :param path: the YAML file.
    :param method: the method whose entry is read.
    :return: ``(config entries, tuning record)``.
    :raises FileNotFoundError: no such file.
    :raises ValueError: not a mapping, or no ``method`` entry.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"tuned config {p} does not exist (write one with "
                                f"train_selector.py --optimize)")
    data = yaml.safe_load(p.read_text())
    if not isinstance(data, dict) or not isinstance(data.get(method), dict):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{p}: expected a mapping with a {method!r} entry of config values "
                         f"(as train_selector.py --optimize writes), found {keys}")
    record = data.get("tuning")
    return dict(data[method]), dict(record) if isinstance(record, dict) else {}


__all__ = ["AS_AGENTS", "AS_OBSERVES", "SPACES", "TRAINED_ON", "TUNABLE", "TuneResult",
           "as_policies", "base_config", "build_config", "observing_as", "read_tuned",
           "split_streams", "train_budget", "train_learned", "tune", "tuning_record",
           "val_accuracy", "write_tuned"]
