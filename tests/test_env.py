"""FrameSelection-v0 and its native vector version."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import frame_select_env  # noqa: F401  (registers the env)
from frame_select_env.envs.one_step.vector_env import FrameSelectionVectorEnv
from tests.test_reward import reference_reward


def test_checkers_pass(small_store: Path) -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unbounded feature boxes are intended
        check_env(gym.make("FrameSelection-v0", store=small_store).unwrapped)
        sb3_check_env(gym.make("FrameSelection-v0", store=small_store, stream="fused"))


def test_reward_matches_eq4_on_thousands_of_random_actions(small_store: Path) -> None:
    env = gym.make("FrameSelection-v0", store=small_store, split=None, omega=10.0)
    rng = np.random.default_rng(0)
    seen = set()
    for episode in range(2000):
        obs, info = env.reset(seed=episode)
        probs = obs["predictions"]
        np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
        action = (rng.random(25) < rng.random()).astype(np.float32)  # SB3-style floats
        _, reward, terminated, truncated, info = env.step(action)
        expected = reference_reward(probs, action.astype(bool), info["label"], 10.0)
        assert reward == expected, (episode, info)
        assert terminated and not truncated
        assert info["num_selected"] == int(action.sum())
        p0 = probs.mean(0)[info["label"]]
        assert info["p0"] == pytest.approx(p0, rel=1e-5)
        seen.add(reward)
    assert {-10.0, 10.0, 1.0, -1.0} <= seen


def test_reset_options_and_info(small_store: Path) -> None:
    env = gym.make("FrameSelection-v0", store=small_store, split="test", view="center")
    obs_a, info_a = env.reset(options={"index": 3})
    obs_b, info_b = env.reset(seed=123, options={"video_id": info_a["video_id"]})
    assert info_a["video_id"] == info_b["video_id"] and info_a["index"] == 3
    np.testing.assert_array_equal(obs_a["features"], obs_b["features"])
    _, _, _, _, info = env.step(np.ones(25, dtype=np.int64))
    for key in ("video_id", "label", "p0", "p1", "correct_before", "correct_after", "num_selected"):
        assert key in info
    assert info["p0"] == pytest.approx(info["p1"]) and info["num_selected"] == 25
    with pytest.raises(ValueError, match="video_id 'nope'"):
        env.reset(options={"video_id": "nope"})
    with pytest.raises(ValueError, match="index 999 out of range"):
        env.reset(options={"index": 999})


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.ones(24), r"shape \(25,\)"),
        (np.full(25, 2), "must be 0 or 1"),
        (np.full(25, 0.5), "must be 0 or 1"),
        (np.array(["1"] * 25), "numeric"),
    ],
)
def test_bad_actions_raise(small_store: Path, bad, message: str) -> None:
    env = gym.make("FrameSelection-v0", store=small_store)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(bad)


def test_state_variants_streams_and_views(small_store: Path) -> None:
    feats_only = gym.make("FrameSelection-v0", store=small_store, state="features")
    assert set(feats_only.observation_space.spaces) == {"features"}
    fused = gym.make("FrameSelection-v0", store=small_store, stream="fused", view="mean")
    obs, _ = fused.reset(seed=0)
    assert obs["features"].shape == (25, 16 + 16)  # both streams' features side by side
    np.testing.assert_allclose(obs["predictions"].sum(-1), 1.0, rtol=1e-5)
    sub = gym.make("FrameSelection-v0", store=small_store, num_frames=5)
    assert sub.reset(seed=0)[0]["predictions"].shape == (5, 6)
    with pytest.raises(ValueError, match="stream 'depth'"):
        gym.make("FrameSelection-v0", store=small_store, stream="depth")
    with pytest.raises(ValueError, match="view must be"):
        gym.make("FrameSelection-v0", store=small_store, view="left")


def test_render_ansi(small_store: Path) -> None:
    env = gym.make("FrameSelection-v0", store=small_store, render_mode="ansi")
    env.reset(seed=0)
    action = np.zeros(25, dtype=np.int8)
    action[:3] = 1
    env.step(action)
    text = env.render()
    assert "[###......................]" in text and "3/25" in text


def test_lazy_reads_equal_in_memory(small_store: Path) -> None:
    mem = FrameSelectionVectorEnv(8, store=small_store, view="random")
    lazy = FrameSelectionVectorEnv(8, store=small_store, view="random", max_memory_bytes=0)
    assert mem.source.in_memory and not lazy.source.in_memory
    a, _ = mem.reset(seed=5)
    b, _ = lazy.reset(seed=5)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6)


def test_native_vector_env_matches_single_env(small_store: Path) -> None:
    envs = gym.make_vec("FrameSelection-v0", num_envs=16, store=small_store, view="center")
    assert isinstance(envs.unwrapped, FrameSelectionVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    single = gym.make("FrameSelection-v0", store=small_store, view="center")
    obs, info = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        actions = rng.integers(0, 2, (16, 25))
        next_obs, rewards, term, trunc, step_info = envs.step(actions)
        assert term.all() and not trunc.any()
        ended = step_info["final_info"]  # SAME_STEP: Gymnasium puts the ended episodes here
        np.testing.assert_array_equal(ended["index"], info["index"])
        for i in range(16):
            o, _ = single.reset(options={"index": int(info["index"][i])})
            np.testing.assert_array_equal(o["predictions"], obs["predictions"][i])
            _, r, _, _, si = single.step(actions[i])
            assert r == rewards[i] and si["p1"] == pytest.approx(ended["p1"][i])
            np.testing.assert_array_equal(step_info["final_obs"][i]["features"],
                                          obs["features"][i])
        # SAME_STEP autoreset: the returned observations are new videos, described by the
        # top-level info, usable right away.
        np.testing.assert_array_equal(step_info["index"], envs.unwrapped._idx)
        obs, info = next_obs, step_info


def test_vector_env_autoreset_disabled(small_store: Path) -> None:
    envs = FrameSelectionVectorEnv(6, store=small_store, view="center", autoreset_mode="disabled")
    same = FrameSelectionVectorEnv(6, store=small_store, view="center")
    assert envs.metadata["autoreset_mode"] == AutoresetMode.DISABLED
    idx = np.array([0, 1, 2, 3, 4, 5])
    obs, _ = envs.reset(options={"indices": idx})
    same.reset(options={"indices": idx})
    actions = np.random.default_rng(1).integers(0, 2, (6, 25))
    got, reward, term, _, info = envs.step(actions)
    want, reward_same, _, _, _ = same.step(actions)
    # Same reward; the returned observations are the ones acted on, not a new batch.
    np.testing.assert_array_equal(reward, reward_same)
    assert term.all()
    np.testing.assert_array_equal(got["features"], obs["features"])
    np.testing.assert_array_equal(info["index"], idx)  # the ended episodes
    assert not np.array_equal(want["features"], obs["features"])
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(actions)
    envs.reset(options={"indices": idx})
    envs.step(actions)
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        FrameSelectionVectorEnv(2, store=small_store, autoreset_mode="sometimes")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sync_and_async_vectorization(small_store: Path, mode: str) -> None:
    vector_kwargs = {"autoreset_mode": AutoresetMode.SAME_STEP}
    if mode == "async":
        # fork() after torch/OpenCV started their thread pools can deadlock the child.
        vector_kwargs["context"] = "spawn"
    envs = gym.make_vec(
        "FrameSelection-v0",
        num_envs=3,
        vectorization_mode=mode,
        store=small_store,
        vector_kwargs=vector_kwargs,
    )
    obs, _ = envs.reset(seed=0)
    try:
        for _ in range(4):
            actions = np.ones((3, 25), dtype=np.int64)
            actions[:, ::2] = 0
            probs = obs["predictions"]
            obs, rewards, term, _, info = envs.step(actions)
            assert term.all()
            for i in range(3):
                expected = reference_reward(
                    probs[i], actions[i].astype(bool), int(info["final_info"]["label"][i]), 10.0
                )
                assert rewards[i] == expected
    finally:
        envs.close()


def test_sb3_ppo_and_random_loop_run_against_gym_make(small_store: Path) -> None:
    from stable_baselines3 import PPO

    env = gym.make("FrameSelection-v0", store=small_store, state="predictions")
    model = PPO(
        "MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu"
    )
    model.learn(total_timesteps=128)
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (25,)
    _, reward, terminated, _, _ = env.step(action)
    assert terminated and reward in (-10.0, -1.0, 0.0, 1.0, 10.0)
    total = 0.0
    env.action_space.seed(0)
    for _ in range(50):  # the plain random loop of the README
        env.reset()
        total += env.step(env.action_space.sample())[1]
    assert np.isfinite(total)
