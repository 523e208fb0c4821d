"""What the SB3 comparison's tuning relies on: the MLP search space, ``--vec-env``, tuned YAMLs."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch
import yaml

import frame_select_env  # noqa: F401  (registers the envs)
from baselines_zoo.sb3.scoring import load_seq_sb3
from baselines_zoo.sb3.search import MLP_ARCHS, sample_params
from baselines_zoo.sb3.train import load_hyperparams, train_sb3

SEQ = "FrameSelectionSeq-v0"
HYPERPARAMS = Path(__file__).resolve().parents[1] / "baselines_zoo" / "sb3" / "hyperparams"


def _fixed(**params: object) -> optuna.trial.FixedTrial:
    base = {"learning_rate": 1e-3, "ent_coef": 1e-4, "max_grad_norm": 0.5, "vf_coef": 0.5,
            "n_steps": 32, "batch_size": 64, "n_epochs": 3, "clip_range": 0.2, "gamma": 1.0,
            "gae_lambda": 0.95, "env_kwargs.cost_weight": 0.0, "env_kwargs.reward": "terminal"}
    base.update(params)
    return optuna.trial.FixedTrial(base)


def test_mlp_search_space_sets_the_hidden_layers_and_the_model_has_them(tmp_path: Path) -> None:
    base = load_hyperparams("maskable_ppo", None, SEQ)
    base.update(policy="mlp", n_envs=2)
    params = sample_params(_fixed(**{"policy_kwargs.net_arch": "256x256"}), "maskable_ppo",
                           SEQ, base)
    assert params["policy_kwargs"]["net_arch"] == [256, 256]
    assert "extractor_kwargs" not in params
    assert params["env_kwargs"]["reward"] == "terminal"
    assert set(MLP_ARCHS) == {"64x64", "256x256"}
    path = train_sb3("maskable_ppo", n_timesteps=64, seed=0, out=tmp_path / "run",
                     overrides=params, progress_bar=False, env_id=SEQ)
    policy = load_seq_sb3(path)  # rebuilt from config.yaml: the searched width must come back
    widths = [m.out_features for m in policy.model.policy.mlp_extractor.policy_net
              if isinstance(m, torch.nn.Linear)]
    assert widths == [256, 256]


def test_native_and_dummy_vec_env_train_the_same_weights(tmp_path: Path) -> None:
    # the adapter gives DummyVecEnv's transitions step for step, so one seed trains one model
    kw = dict(policy="mlp", n_timesteps=64, seed=3, progress_bar=False, env_id=SEQ,
              overrides={"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 2})
    native = train_sb3("maskable_ppo", out=tmp_path / "native", vec_env="native", **kw)
    dummy = train_sb3("maskable_ppo", out=tmp_path / "dummy", vec_env="dummy", **kw)
    a = load_seq_sb3(native).model.policy.state_dict()
    b = load_seq_sb3(dummy).model.policy.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)
    with pytest.raises(ValueError, match="vec_env"):
        train_sb3("maskable_ppo", out=tmp_path / "bad", vec_env="subproc", **kw)


@pytest.mark.parametrize("name", sorted(p.name for p in HYPERPARAMS.glob("*_tuned.yml")))
def test_tuned_yamls_load_and_say_how_they_were_made(name: str) -> None:
    text = (HYPERPARAMS / name).read_text(encoding="utf-8")
    assert "Produced by:" in text and "--optimize" in text
    algo = name.removesuffix("_tuned.yml")
    params = load_hyperparams(algo, HYPERPARAMS / name, SEQ)
    assert params["env_kwargs"]["max_frames"] == 8  # the comparison's budget
    assert yaml.safe_load(text)[SEQ]["env_kwargs"]["reward"] in ("eq4", "delta", "terminal")
