"""The SB3 VecEnv adapters over the native vector envs equal DummyVecEnv step for step."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecNormalize

import frame_select_env  # noqa: F401  (registers the envs)
from baselines_zoo.sb3.sequential import SEQ_ENV_ID, BudgetEndIsTerminal
from baselines_zoo.sb3.train import make_env
from baselines_zoo.sb3.vec_env import NativeVecEnv, make_native_vec_env
from baselines_zoo.sb3.wrappers import TopMScoresWrapper

T = 25
ONE = frame_select_env.ENV_ID


def _assert_same_obs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def _compare(env_id: str, kw: dict[str, Any], steps: int, actions: Any, wrapper: Any = None,
             wrapper_kwargs: Any = None, top_m: Any = None) -> int:
    """Step DummyVecEnv and the adapter with the same actions; the number of episode ends."""
    n = 3
    dummy = make_vec_env(env_id, n_envs=n, seed=3, env_kwargs=kw, wrapper_class=wrapper,
                         wrapper_kwargs=wrapper_kwargs)
    native = make_native_vec_env(env_id, n, seed=3, env_kwargs=kw, top_m=top_m)
    assert native.observation_space == dummy.observation_space
    assert native.action_space == dummy.action_space
    _assert_same_obs(dummy.reset(), native.reset())
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(steps):
        act = actions(rng, n)
        obs_d, rew_d, done_d, info_d = dummy.step(act)
        obs_n, rew_n, done_n, info_n = native.step(act)
        _assert_same_obs(obs_d, obs_n)
        np.testing.assert_array_equal(rew_d, rew_n)
        np.testing.assert_array_equal(done_d, done_n)
        for i in range(n):
            assert info_n[i]["TimeLimit.truncated"] == info_d[i]["TimeLimit.truncated"]
            assert ("terminal_observation" in info_n[i]) == bool(done_d[i])
            if done_d[i]:
                ends += 1
                _assert_same_obs(info_d[i]["terminal_observation"],
                                 info_n[i]["terminal_observation"])
                for key in ("r", "l"):  # Monitor's episode return and length
                    assert info_n[i]["episode"][key] == info_d[i]["episode"][key]
                assert info_n[i]["index"] == info_d[i]["index"]
    dummy.close()
    native.close()
    return ends


def test_seq_adapter_equals_dummy_vec_env_step_for_step() -> None:
    ends = _compare(SEQ_ENV_ID, {"max_frames": 4, "cost_weight": 1.0}, 40,
                    lambda rng, n: rng.choice(np.r_[np.arange(T), T, 0], size=n),
                    wrapper=BudgetEndIsTerminal)
    assert ends >= 15  # stops, budget ends and repeats all occurred


def test_one_step_adapter_equals_dummy_vec_env_step_for_step() -> None:
    assert _compare(ONE, {}, 6, lambda rng, n: rng.integers(0, 2, (n, T))) == 18


def test_top_m_adapter_equals_the_wrapped_single_envs() -> None:
    # m drawn per episode from each sub-env's generator, after its video and view
    ends = _compare(ONE, {}, 6, lambda rng, n: rng.uniform(-1, 1, (n, T)).astype(np.float32),
                    wrapper=TopMScoresWrapper, wrapper_kwargs={"m": [4, 8, 12]},
                    top_m=[4, 8, 12])
    assert ends == 18
    env = make_native_vec_env(ONE, 2, seed=0, top_m=[4, 8])
    env.reset()
    ms = env.get_attr("m")
    assert [i["m"] for i in env.reset_infos] == ms and set(ms) <= {4, 8}
    _, _, _, infos = env.step(np.linspace(-1, 1, 2 * T).reshape(2, T))
    assert [int(i["num_selected"]) for i in infos] == ms  # exactly the episode's top-m kept
    env.close()


def test_make_env_default_is_the_adapter_with_the_training_wrappers() -> None:
    env = make_env(None, "rgb", "ppo", 2, 0, {"max_frames": 2}, env_id=SEQ_ENV_ID)
    assert isinstance(env, NativeVecEnv)
    assert env.env_is_wrapped(Monitor) == [True, True]
    assert env.env_is_wrapped(BudgetEndIsTerminal) == [True, True]
    assert env.env_is_wrapped(TopMScoresWrapper) == [False, False]
    assert env.get_attr("render_mode") == ["rgb_array"] * 2
    assert env.get_attr("observation_space", 1)[0] == env.observation_space
    dummy = make_env(None, "rgb", "sac", 2, 0, {}, vec_env="dummy")
    assert not isinstance(dummy, NativeVecEnv) and dummy.action_space.shape == (T,)
    with pytest.raises(ValueError, match="vec_env must be 'native'"):
        make_env(None, "rgb", "ppo", 2, 0, {}, vec_env="subproc")
    with pytest.raises(AttributeError, match="no per-sub-env method"):
        env.env_method("reset")
    with pytest.raises(ValueError, match="set it for all of them"):
        env.set_attr("render_mode", None, indices=[0])
    env.reset()
    images = env.get_images()
    assert len(images) == 2 and images[0].ndim == 3 and images[0].shape[-1] == 3
    env.close()
    dummy.close()


def test_maskable_ppo_reads_masks_through_the_adapter_and_trains() -> None:
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

    env = make_native_vec_env(SEQ_ENV_ID, 4, seed=0, env_kwargs={"max_frames": 3})
    env.reset()
    assert is_masking_supported(env)
    env.step(np.array([3, 5, 5, T]))
    masks = get_action_masks(env)
    assert masks.shape == (4, T + 1)
    assert not masks[0, 3] and not masks[1, 5] and not masks[2, 5]
    assert masks[3].all() and masks[:, T].all()  # sub-env 3 stopped and restarted
    np.testing.assert_array_equal(masks.sum(1), [T, T, T, T + 1])
    model = MaskablePPO("MultiInputPolicy", env, n_steps=64, batch_size=64, n_epochs=1,
                        seed=0, device="cpu")
    model.learn(256)
    assert model.num_timesteps == 256
    # every episode the learner saw ended: Monitor-style returns reached SB3's buffer
    assert len(model.ep_info_buffer) > 0 and all(e["l"] <= 4 for e in model.ep_info_buffer)
    # the masked policy never pays a frame twice
    env.seed(1)
    obs = env.reset()
    for _ in range(8):
        act, _ = model.predict(obs, action_masks=get_action_masks(env))
        masks = get_action_masks(env)
        assert masks[np.arange(4), act].all()
        obs, _, _, _ = env.step(act)
    env.close()


def test_vec_normalize_on_top_normalizes_obs_rewards_and_terminal_obs() -> None:
    raw = make_native_vec_env(SEQ_ENV_ID, 4, seed=0, env_kwargs={"max_frames": 2})
    env = VecNormalize(raw, norm_obs_keys=["cheap_predictions", "prediction"], clip_obs=5.0)
    obs = env.reset()
    rng = np.random.default_rng(0)
    seen = []
    for _ in range(30):
        obs, rew, dones, infos = env.step(rng.integers(0, T + 1, 4))
        seen.append(env.get_original_obs()["prediction"])
        assert np.abs(obs["prediction"]).max() <= 5.0
        for i in np.flatnonzero(dones):
            assert np.abs(infos[i]["terminal_observation"]["prediction"]).max() <= 5.0
    stats = env.obs_rms["prediction"]
    assert stats.count > 100  # reset and 30 steps x 4 envs
    # the running mean is the mean of the raw observations it saw (within its prior's weight)
    np.testing.assert_allclose(stats.mean, np.concatenate(seen).mean(0), atol=0.05)
    # unnormalized parts pass through unchanged
    np.testing.assert_array_equal(obs["paid"], env.get_original_obs()["paid"])
    env.close()
