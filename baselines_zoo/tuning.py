"""Hyperparameter search shared by every tuned comparator (Optuna, as RL Baselines3 Zoo does it).

One budget (:class:`TuningBudget`), one study runner (:func:`run_study`: a seeded TPE sampler, a
median pruner on the values a trial reports, resumable from an Optuna storage), one way to report
intermediate values (:func:`report`) and one summary (:func:`study_summary`,
:func:`write_summary`). SB3 (:mod:`baselines_zoo.sb3.search`), the field's selectors and the AS
agents all tune through it, so "equal tuning" means the same ``n_trials`` and ``timeout_s``.

Usage::

    from baselines_zoo.tuning import TuningBudget, report, run_study, study_summary

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-5, 1e-2, log=True)
        for step in range(4):
            value = train_a_bit_and_evaluate(lr)
            report(trial, step, value)      # raises optuna.TrialPruned when pruned
        return value

    study = run_study(objective, TuningBudget(n_trials=20, timeout_s=3600),
                      storage="sqlite:///study.db", study_name="ppo-seq")
    print(study_summary(study))

A study in a storage resumes: the trials already finished (completed or pruned) count toward
``n_trials``, so a rerun after an interruption runs only the remaining ones. A trial that was
running when the process died stays ``RUNNING`` in the storage; it is marked failed on resume
(it is not counted) and its parameters are not retried.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from frame_select_env.store.atomic import atomic_write_text

PRUNERS = ("median", "none")
# Trials that used up part of the budget: they count toward n_trials when a study resumes.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuningBudget:
    """How much search a comparator gets: the same for every tuned row of a table.

    :param n_trials: trials to finish (completed or pruned), resumed studies included.
    :param timeout_s: wall-clock limit of this session of the study in seconds (``None``: none);
        the trial running when it passes is finished, then the study stops.
    :param n_startup_trials: random trials before TPE models the results; also the trials the
        median pruner waits for before it prunes anything.
    :param seed: seed of the sampler (one seed makes the sequence of proposals reproducible).
    :param n_warmup_steps: reports of a trial the pruner ignores (a trial is never pruned on its
        first evaluations, when every run is still poor).
    """

    n_trials: int
    timeout_s: float | None
    n_startup_trials: int = 5
    seed: int = 0
    n_warmup_steps: int = 0

    def __post_init__(self) -> None:
        """Refuse a budget no study can run."""
        if self.n_trials < 1:
            raise ValueError(f"n_trials must be >= 1, got {self.n_trials}")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 seconds or None, got {self.timeout_s}")
        if self.n_startup_trials < 0 or self.n_warmup_steps < 0:
            raise ValueError("n_startup_trials and n_warmup_steps must be >= 0, got "
                             f"{self.n_startup_trials} and {self.n_warmup_steps}")


def make_pruner(name: str, budget: TuningBudget) -> optuna.pruners.BasePruner:
    """The pruner called ``name`` (``median`` or ``none``), sized by ``budget``.

    :param name: one of :data:`PRUNERS`.
    :param budget: its ``n_startup_trials`` and ``n_warmup_steps`` set the median pruner.
    :raises ValueError: an unknown name.
    """
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=budget.n_startup_trials,
                                           n_warmup_steps=budget.n_warmup_steps)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {name!r}; choose from {PRUNERS}")


def n_finished(study: optuna.Study) -> int:
    """Trials of ``study`` that count toward the budget (completed or pruned)."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def _fail_orphans(study: optuna.Study) -> int:
    """Mark the trials a killed process left ``RUNNING`` as failed; return how many.

    Only called before this process starts trials, so no trial of it is touched; another process
    optimizing the same study at the same time would lose its running trials, which is why a
    study is run by one process at a time.
    """
    storage = study._storage  # noqa: SLF001 - Optuna has no public way to close a dead trial
    orphans = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in orphans:
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # noqa: SLF001
    return len(orphans)


def _progress(n_trials: int) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """A callback printing one line per finished trial: count, state, value, best so far."""
    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        try:
            best = f"{study.best_value:.4g} (trial {study.best_trial.number})"
        except ValueError:  # no completed trial yet
            best = "-"
        value = "-" if trial.value is None else f"{trial.value:.4g}"
        print(f"[tuning] {study.study_name}: trial {trial.number} {trial.state.name.lower()} "
              f"value={value} ({n_finished(study)}/{n_trials} finished) best={best}",
              file=sys.stderr, flush=True)
    return callback


def run_study(objective: Callable[[optuna.Trial], float], budget: TuningBudget, *,
              direction: str = "maximize", storage: str | None = None,
              study_name: str | None = None, pruner: str = "median") -> optuna.Study:
    """Run (or resume) an Optuna study of ``objective`` within ``budget``.

    The sampler is TPE seeded with ``budget.seed`` plus the number of trials already in the
    study, so a resumed study proposes new points rather than replaying the first ones, and a
    fresh study with one seed proposes the same sequence every time. A study found in
    ``storage`` under ``study_name`` is continued: its finished trials count toward
    ``budget.n_trials``. Exceptions other than pruning fail the trial and are re-raised only when
    no trial of the session completes (so one bad corner of the space does not end a search).

    :param objective: returns the value of one trial; calls :func:`report` to be pruned.
    :param budget: trials, time, startup trials, seed.
    :param direction: ``maximize`` or ``minimize``.
    :param storage: an Optuna storage URL (``sqlite:///study.db``); ``None``: in memory only.
    :param study_name: the study's name in ``storage`` (required to resume).
    :param pruner: one of :data:`PRUNERS`.
    :return: the study (all its trials, the resumed ones included).
    :raises ValueError: a bad direction or pruner, or a storage without a study name.
    """
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    if storage is not None and study_name is None:
        raise ValueError(f"storage {storage!r} needs a study_name to resume the study by")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress line replaces its log
    study = optuna.create_study(storage=storage, study_name=study_name,
                                direction="maximize" if direction == "maximize" else "minimize",
                                pruner=make_pruner(pruner, budget), load_if_exists=True)
    if study.direction.name.lower() != direction:
        raise ValueError(f"study {study.study_name!r} in {storage} is to "
                         f"{study.direction.name.lower()}, not {direction}; use another name")
    orphans = _fail_orphans(study)
    done = n_finished(study)
    study.sampler = optuna.samplers.TPESampler(n_startup_trials=budget.n_startup_trials,
                                               seed=budget.seed + len(study.trials))
    remaining = budget.n_trials - done
    print(f"[tuning] {study.study_name}: {done} trial(s) finished before"
          + (f", {orphans} interrupted one(s) marked failed" if orphans else "")
          + f"; running {max(remaining, 0)} more (budget {budget.n_trials}"
          + (f", {budget.timeout_s:g} s" if budget.timeout_s else "") + ")",
          file=sys.stderr, flush=True)
    if remaining <= 0:
        return study
    n_before = len(study.trials)
    errors: list[Exception] = []

    def recorded(trial: optuna.Trial) -> float:
        try:
            return objective(trial)
        except optuna.TrialPruned:
            raise
        except Exception as err:  # Optuna fails the trial and goes on; keep the first error
            errors.append(err)
            raise

    study.optimize(recorded, n_trials=remaining, timeout=budget.timeout_s,
                   catch=(Exception,), gc_after_trial=True,
                   callbacks=[optuna.study.MaxTrialsCallback(budget.n_trials, states=FINISHED),
                              _progress(budget.n_trials)])
    session = study.get_trials(deepcopy=False)[n_before:]
    if session and errors and all(t.state == TrialState.FAIL for t in session):
        raise RuntimeError(f"every trial of study {study.study_name!r} failed this session; the "
                           f"first error: {errors[0]!r}") from errors[0]
    return study


def report(trial: optuna.Trial, step: int, value: float) -> None:
    """Report ``value`` at ``step`` to the pruner; raise ``optuna.TrialPruned`` if pruned.

    :param trial: the running trial.
    :param step: the evaluation's step (environment steps, epochs: increasing).
    :param value: the intermediate objective (a NaN prunes the trial: it cannot be compared).
    :raises optuna.TrialPruned: the pruner stops this trial.
    """
    if math.isnan(value):
        raise optuna.TrialPruned(f"value at step {step} is NaN")
    trial.report(value, step)
    if trial.should_prune():
        raise optuna.TrialPruned(f"pruned at step {step} with value {value:.4g}")


def _importances(study: optuna.Study) -> dict[str, float] | None:
    """PED-ANOVA importances of the parameters, or ``None`` when too few trials make them moot.

    PED-ANOVA needs no scikit-learn (fANOVA does) and takes milliseconds for a few dozen trials.
    """
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2 or not any(t.params for t in complete):
        return None
    try:
        imp = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    # e.g. every trial with the same parameter values: no variance to split
    except (ValueError, RuntimeError, ImportError, ZeroDivisionError) as err:
        _log.info("no parameter importances: %s", err)
        return None
    return {k: round(float(v), 4) for k, v in imp.items()}


def study_summary(study: optuna.Study, budget: TuningBudget | None = None) -> dict[str, Any]:
    """What a study did and found, as plain JSON-able values.

    :param study: a finished (or resumed) study.
    :param budget: the budget it ran with, recorded when given.
    :return: ``study_name``, ``direction``, trial counts (``n_trials``, ``n_complete``,
        ``n_pruned``, ``n_failed``), ``best_value``, ``best_params``, ``best_trial``,
        ``wall_clock_s`` (summed over the trials, so it covers every session of a resumed study),
        ``importances`` (PED-ANOVA; ``None`` under two completed trials), ``budget``.
    """
    trials = study.get_trials(deepcopy=False)
    counts = {s: sum(t.state == s for t in trials) for s in TrialState}
    wall = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials
               if t.datetime_complete is not None and t.datetime_start is not None)
    complete = counts[TrialState.COMPLETE] > 0
    return {
        "study_name": study.study_name,
        "direction": study.direction.name.lower(),
        "n_trials": len(trials),
        "n_complete": counts[TrialState.COMPLETE],
        "n_pruned": counts[TrialState.PRUNED],
        "n_failed": counts[TrialState.FAIL],
        "best_value": study.best_value if complete else None,
        "best_params": dict(study.best_params) if complete else None,
        "best_trial": study.best_trial.number if complete else None,
        "best_user_attrs": dict(study.best_trial.user_attrs) if complete else None,
        "wall_clock_s": round(wall, 2),
        "importances": _importances(study),
        "budget": asdict(budget) if budget is not None else None,
        "trials": [{"number": t.number, "state": t.state.name.lower(), "value": t.value,
                    "params": t.params, "last_step": t.last_step} for t in trials],
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_summary(path: str | os.PathLike, summary: dict[str, Any]) -> None:
    """Write ``summary`` as indented JSON, atomically (the old file or the complete new one).

    :param path: the JSON file.
    :param summary: from :func:`study_summary` (anything ``json`` can write).
    """
    atomic_write_text(path, json.dumps(summary, indent=2, sort_keys=False, default=str) + "\n")
