"""The SB3 hyperparameter search (``train_sb3.py --optimize``) and the Optuna core it runs on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest

import frame_select_env  # noqa: F401  (registers the envs)
from baselines_zoo.sb3.scoring import RecurrentSB3SeqPolicy, load_seq_sb3
from baselines_zoo.sb3.train import load_hyperparams, train_sb3
from baselines_zoo.tuning import TuningBudget, report, run_study, study_summary, write_summary

SEQ = "FrameSelectionSeq-v0"
# a tiny search: 2 envs x 32 steps per update, 2 evaluations of 128 steps each
TINY = ["--env", SEQ, "--algo", "maskable_ppo", "--optimize", "--n-timesteps", "128",
        "--n-evaluations", "2", "--n-startup-trials", "1", "--set", "n_envs=2",
        "--threads", "1"]


def _quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    for step in range(3):
        report(trial, step, -(x - 1.0) ** 2)
    return -(x - 1.0) ** 2


def test_run_study_resumes_and_counts_finished_trials(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    first = run_study(_quadratic, TuningBudget(3, None, n_startup_trials=1), storage=storage,
                      study_name="q")
    assert len(first.trials) == 3
    again = run_study(_quadratic, TuningBudget(3, None, n_startup_trials=1), storage=storage,
                      study_name="q")
    assert len(again.trials) == 3  # the budget was spent: nothing rerun
    more = run_study(_quadratic, TuningBudget(5, None, n_startup_trials=1), storage=storage,
                     study_name="q")
    assert len(more.trials) == 5
    assert [t.number for t in more.trials] == [0, 1, 2, 3, 4]
    summary = study_summary(more)
    assert summary["n_complete"] + summary["n_pruned"] == 5
    # the best value is the best completed trial's objective, computed by hand from its x
    complete = [t for t in more.trials if t.state.name == "COMPLETE"]
    best = max(complete, key=lambda t: -(t.params["x"] - 1.0) ** 2)
    assert summary["best_value"] == pytest.approx(-(best.params["x"] - 1.0) ** 2)
    write_summary(tmp_path / "summary.json", summary)
    assert json.loads((tmp_path / "summary.json").read_text())["n_trials"] == 5


def test_report_prunes_nan_and_budget_refuses_nonsense() -> None:
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned):
        report(trial, 0, float("nan"))
    with pytest.raises(ValueError, match="n_trials"):
        TuningBudget(0, None)
    with pytest.raises(ValueError, match="timeout_s"):
        TuningBudget(1, 0.0)


def test_optimize_writes_a_loadable_yaml_and_resumes(tmp_path: Path) -> None:
    from scripts.train_sb3 import main

    out = tmp_path / "search"
    assert main([*TINY, "--n-trials", "2", "--out", str(out)]) == 0
    summary = json.loads((out / "study_summary.json").read_text())
    assert summary["n_trials"] == 2 and summary["n_complete"] >= 1
    # every val accuracy is a share of the 50 val videos of the built-in store
    for t in summary["trials"]:
        if t["value"] is not None:
            assert 0.0 <= t["value"] <= 100.0 and (t["value"] * 50 / 100) == pytest.approx(
                round(t["value"] * 50 / 100))
    yml = out / "maskable_ppo.yml"
    assert "--optimize" in yml.read_text().split(f"\n{SEQ}:\n")[0]  # the command, as a comment
    params = load_hyperparams("maskable_ppo", yml, SEQ)
    best = summary["best_params"]
    assert params["learning_rate"] == pytest.approx(best["learning_rate"])
    assert params["env_kwargs"]["cost_weight"] == best["env_kwargs.cost_weight"]
    assert params["env_kwargs"]["max_frames"] == 8  # the base entry's keys are kept
    assert params["batch_size"] <= params["n_steps"] * params["n_envs"]
    # the normal training path reads it
    run = train_sb3("maskable_ppo", env_id=SEQ, hyperparams=yml, n_timesteps=64,
                    out=tmp_path / "run", progress_bar=False)
    policy = load_seq_sb3(run)
    assert policy.env_kwargs["cost_weight"] == best["env_kwargs.cost_weight"]
    # resumed from its storage: the two trials stay, one more runs
    assert main([*TINY, "--n-trials", "3", "--out", str(out)]) == 0
    resumed = json.loads((out / "study_summary.json").read_text())
    assert [t["number"] for t in resumed["trials"]] == [0, 1, 2]
    assert resumed["trials"][:2] == summary["trials"]


def test_recurrent_policy_follows_its_episodes(tmp_path: Path) -> None:
    """Rolled out in a batch, RecurrentPPO acts as it does on each episode alone."""
    import gymnasium as gym

    from frame_select_env.envs.sequential.rollout import rollout

    run = train_sb3("recurrent_ppo", env_id=SEQ, n_timesteps=64, out=tmp_path / "rppo",
                    overrides={"n_envs": 2, "n_steps": 32, "batch_size": 64,
                               "policy_kwargs": {"lstm_hidden_size": 8}},
                    progress_bar=False)
    policy = load_seq_sb3(run)
    assert isinstance(policy, RecurrentSB3SeqPolicy)
    kwargs = {k: v for k, v in policy.env_kwargs.items() if k != "stream"}
    env = gym.make(SEQ, split="val", view="mean", **kwargs)
    core = env.unwrapped.core
    idx = np.arange(6)
    batch = rollout(core, policy, idx)
    for i in idx:
        policy.reset()
        alone = rollout(core, policy, [i])
        steps = int(alone.active[:, 0].sum())
        assert (batch.actions[:steps, i] == alone.actions[:steps, 0]).all()
    env.close()
