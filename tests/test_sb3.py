"""Stable-Baselines3 on FrameSelection-v0: networks, the top-m wrapper, training and the adapter."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import frame_select_env  # noqa: F401  (registers the env)
from baselines_zoo.sb3.policies import BiLSTMExtractor, PerFrameActorCriticPolicy, PerFrameHead
from baselines_zoo.sb3.train import load_hyperparams, load_sb3, read_run_config, train_sb3
from baselines_zoo.sb3.wrappers import TopMScoresWrapper
from frame_select_env.core.policy import SB3ScoresPolicy, as_policy, policy_scores
from frame_select_env.envs.observations import ObservationSource
from frame_select_env.store.synthetic import make_synthetic_store

SMALL_NET = {"proj_dim": 32, "hidden_size": 32}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_store(tmp_path_factory.mktemp("sb3") / "syn.h5", num_videos=400,
                                num_classes=5, feature_dim=16, num_views=2, distractor=1.0)


@pytest.fixture(scope="module")
def ppo_run(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ppo_run")
    train_sb3("ppo", policy="bilstm", n_timesteps=3072, seed=0, out=out, store=store,
              progress_bar=False, overrides={
                  "n_envs": 4, "n_steps": 64, "batch_size": 64, "n_epochs": 4,
                  "learning_rate": 1e-3, "extractor_kwargs": SMALL_NET})
    return out


def test_hyperparams_are_keyed_by_env_id() -> None:
    for algo in ("ppo", "a2c", "sac", "td3"):
        params = load_hyperparams(algo)
        assert params["n_timesteps"] > 0 and params["env_kwargs"]["omega"] == 10.0
    assert load_hyperparams("sac")["top_m"] == [4, 8, 12, 16, 20]


def test_top_m_wrapper_keeps_exactly_m_frames(store: Path) -> None:
    env = TopMScoresWrapper(gym.make("FrameSelection-v0", store=store), m=[4, 8, 12])
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (25,), np.float32)
    rng = np.random.default_rng(0)
    seen_m = set()
    for episode in range(60):
        _, info = env.reset(seed=episode)
        scores = rng.uniform(-1, 1, 25).astype(np.float32)
        _, _, _, _, step_info = env.step(scores)
        assert step_info["num_selected"] == info["m"]
        # The kept frames are the m highest scores.
        np.testing.assert_array_equal(np.flatnonzero(step_info["action"]),
                                      np.sort(np.argsort(-scores)[:info["m"]]))
        seen_m.add(info["m"])
    assert seen_m == {4, 8, 12}
    with pytest.raises(ValueError, match="m must be in"):
        TopMScoresWrapper(gym.make("FrameSelection-v0", store=store), m=30)


def test_per_frame_head_scores_each_frame_from_its_own_output(store: Path) -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("FrameSelection-v0", n_envs=1,
                       env_kwargs={"store": str(store), "render_mode": None})
    model = PPO(PerFrameActorCriticPolicy, env, n_steps=16, batch_size=16, device="cpu",
                policy_kwargs={"features_extractor_kwargs": SMALL_NET})
    policy = model.policy
    assert isinstance(policy.features_extractor, BiLSTMExtractor)
    assert isinstance(policy.action_net, PerFrameHead)
    assert sum(p.numel() for p in policy.action_net.parameters()) == 2 * 32 + 1  # shared Linear
    # The optimizer holds the per-frame head's parameters (it was rebuilt after the swap).
    opt_params = {id(p) for g in policy.optimizer.param_groups for p in g["params"]}
    assert all(id(p) in opt_params for p in policy.action_net.parameters())
    # Logit t is the head applied to BiLSTM output t.
    obs = ObservationSource(store, "test", "rgb", view="center").gather(np.arange(3))
    obs_t, _ = policy.obs_to_tensor(obs)
    with torch.no_grad():
        frames = policy.features_extractor.frames(obs_t)  # (3, T, 64)
        expected = policy.action_net.linear(frames).squeeze(-1)
        logits = policy.get_distribution(obs_t).distribution.logits
    torch.testing.assert_close(logits, expected)


def test_ppo_trains_and_adapter_gives_probabilities(store: Path, ppo_run: Path) -> None:
    assert (ppo_run / "model.zip").is_file() and not (ppo_run / "checkpoint.zip").exists()
    config = read_run_config(ppo_run / "model.zip")
    assert config["algo"] == "ppo" and config["stream"] == "rgb" and config["n_timesteps"] == 3072
    log = np.genfromtxt(ppo_run / "progress.csv", delimiter=",", names=True)
    assert log["timetotal_timesteps"][-1] == 3072
    model = load_sb3(ppo_run / "model.zip")
    policy = as_policy(model)
    assert isinstance(policy, SB3ScoresPolicy) and policy.binary and not policy.uses_label
    src = ObservationSource(store, "test", "rgb", view="center")
    obs = src.gather(np.arange(src.num_videos))
    probs = policy_scores(policy, obs)
    assert probs.shape == (src.num_videos, 25)
    assert probs.min() >= 0.0 and probs.max() <= 1.0
    # Matches SB3's own Bernoulli probabilities, in small batches too.
    policy.batch_size = 7
    np.testing.assert_allclose(policy_scores(policy, obs), probs, atol=1e-6)
    # After a short budget the agent already prefers the frames that show the action.
    rel = src.store.relevance(src.rows).astype(bool)
    assert probs[rel].mean() > probs[~rel].mean() + 0.02
    # A model trained on rgb refuses observations of another size with a clear error.
    with pytest.raises(ValueError, match="was trained on obs"):
        policy.scores({"features": obs["features"][:, :, :5], "predictions": obs["predictions"]})


def test_sac_trains_through_the_wrapper_and_resumes(store: Path, tmp_path: Path) -> None:
    small = {"learning_starts": 50, "batch_size": 32, "policy_kwargs": {"net_arch": [32]},
             "top_m": [4, 8]}
    path = train_sb3("sac", policy="mlp", n_timesteps=120, out=tmp_path, store=store,
                     progress_bar=False, overrides=small)
    policy = as_policy(load_sb3(path))
    assert not policy.binary
    obs = ObservationSource(store, "test", "rgb", view="center").gather(np.arange(5))
    scores = policy_scores(policy, obs)
    assert scores.shape == (5, 25) and np.abs(scores).max() <= 1.0
    # Resume: a checkpoint with fewer steps is continued up to the requested total.
    from stable_baselines3 import SAC

    model = SAC.load(path)
    model.save(tmp_path / "checkpoint.zip")
    path = train_sb3("sac", policy="mlp", n_timesteps=180, out=tmp_path, store=store,
                     progress_bar=False, overrides=small, resume=True)
    assert SAC.load(path).num_timesteps == 180
