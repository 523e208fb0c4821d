"""Standard Gymnasium and SB3 helpers used unchanged: render modes, autoreset modes, wrappers,
``make_vec_env``, and the action types a policy hands in."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

import frame_select_env  # noqa: F401  (registers the env)
from frame_select_env.envs.one_step.vector_env import FrameSelectionVectorEnv
from frame_select_env.envs.render import IMAGE_SHAPE
from tests.test_reward import reference_reward

T = 25


def keep_first(k: int, n: int | None = None) -> np.ndarray:
    a = np.zeros(T if n is None else (n, T), dtype=np.int64)
    a[..., :k] = 1
    return a


# ----------------------------------------------------------------------------- render


def test_rgb_array_render_shows_selection_and_probabilities(small_store: Path) -> None:
    env = gym.make("FrameSelection-v0", store=small_store, render_mode="rgb_array", view="center")
    obs, info = env.reset(seed=0)
    before = env.render()
    assert before.shape == IMAGE_SHAPE and before.dtype == np.uint8
    env.step(keep_first(5))
    after = env.render()
    assert after.shape == IMAGE_SHAPE
    # Kept frames are drawn green, dropped ones grey: both colours now appear, and only green
    # bars existed for no frame before the action.
    green = np.all(after == (46, 160, 67), axis=-1)
    grey = np.all(after == (170, 170, 170), axis=-1)
    assert green.any() and grey.any()
    assert not np.all(before == (46, 160, 67), axis=-1).any()
    # The kept cells sit over the first 5 of 25 frame slots: green stays in the left fifth.
    cols = np.flatnonzero(green.any(0))
    assert cols.max() < IMAGE_SHAPE[1] * 0.3
    # Bar heights follow the true-class probabilities: a taller bar for a likelier frame.
    p = obs["predictions"][:, info["label"]]
    heights = [(green | grey)[:, c].sum() for c in
               [int(36 + (i + 0.5) * (IMAGE_SHAPE[1] - 46) / T) for i in range(T)]]
    order = np.argsort(p)
    assert heights[order[-1]] >= heights[order[0]]


def test_vector_render_returns_one_frame_per_env(small_store: Path) -> None:
    envs = gym.make_vec("FrameSelection-v0", num_envs=3, store=small_store,
                        render_mode="rgb_array")
    envs.reset(seed=0)
    frames = envs.render()
    assert len(frames) == 3 and all(f.shape == IMAGE_SHAPE for f in frames)
    envs.step(keep_first(4, 3))
    frames = envs.render()
    assert all(np.all(f == (46, 160, 67), axis=-1).any() for f in frames)
    text = gym.make_vec("FrameSelection-v0", num_envs=2, store=small_store, render_mode="ansi")
    text.reset(seed=0)
    text.step(keep_first(3, 2))
    assert all("[###......................] 3/25" in t for t in text.render())


def test_bad_render_mode_is_named(small_store: Path) -> None:
    with pytest.raises(ValueError, match="render_mode must be None or one of"):
        gym.make("FrameSelection-v0", store=small_store, render_mode="video")


# ----------------------------------------------------------------------------- autoreset


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_every_autoreset_mode_scores_eq4(small_store: Path, mode: AutoresetMode) -> None:
    envs = FrameSelectionVectorEnv(4, store=small_store, view="center", autoreset_mode=mode.value)
    assert envs.metadata["autoreset_mode"] == mode
    obs, info = envs.reset(seed=1)
    rng = np.random.default_rng(0)
    scored = 0
    for _ in range(6):
        actions = rng.integers(0, 2, (4, T))
        next_obs, rewards, term, trunc, step_info = envs.step(actions)
        if mode == AutoresetMode.NEXT_STEP and not term.any():
            # The reset step: actions ignored, reward 0, the new videos.
            assert (rewards == 0).all() and not trunc.any()
            obs, info = next_obs, step_info
            continue
        assert term.all()
        ended = step_info["final_info"] if mode == AutoresetMode.SAME_STEP else step_info
        for i in range(4):
            label = int(ended["label"][i])
            assert label == int(info["label"][i])
            assert rewards[i] == reference_reward(obs["predictions"][i],
                                                  actions[i].astype(bool), label, 10.0)
        scored += 1
        if mode == AutoresetMode.DISABLED:
            next_obs, step_info = envs.reset()
        elif mode == AutoresetMode.NEXT_STEP:
            # The terminal observations are the ones acted on.
            np.testing.assert_array_equal(next_obs["features"], obs["features"])
        obs, info = next_obs, step_info
    assert scored == (3 if mode == AutoresetMode.NEXT_STEP else 6)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_record_episode_statistics(small_store: Path, mode: AutoresetMode) -> None:
    from gymnasium.wrappers.vector import RecordEpisodeStatistics

    envs = RecordEpisodeStatistics(
        gym.make_vec("FrameSelection-v0", num_envs=4, store=small_store, autoreset_mode=mode)
    )
    envs.reset(seed=0)
    returns = []
    for _ in range(6):
        _, rewards, term, _, info = envs.step(keep_first(6, 4))
        if term.any():
            # Every episode is one step long and its return is that step's reward.
            np.testing.assert_array_equal(info["episode"]["l"], np.ones(4))
            np.testing.assert_allclose(info["episode"]["r"], rewards)
            returns.extend(rewards.tolist())
    assert len(envs.return_queue) == len(returns) > 0
    np.testing.assert_allclose(list(envs.return_queue), returns)


def test_vector_observation_wrappers_next_step(small_store: Path) -> None:
    from gymnasium.wrappers.vector import FlattenObservation, NormalizeObservation

    raw = gym.make_vec("FrameSelection-v0", num_envs=4, store=small_store, view="center",
                       autoreset_mode="next_step")
    envs = NormalizeObservation(FlattenObservation(raw))
    d = raw.single_observation_space["features"].shape[1]
    c = raw.single_observation_space["predictions"].shape[1]
    # A twin env with the same seed yields the same raw observations: the reference.
    twin = gym.make_vec("FrameSelection-v0", num_envs=4, store=small_store, view="center",
                        autoreset_mode="next_step")
    space = twin.single_observation_space

    def flat(batch: dict) -> np.ndarray:
        return np.stack([gym.spaces.flatten(space, {k: v[i] for k, v in batch.items()})
                         for i in range(4)])

    obs, _ = envs.reset(seed=0)
    seen = [flat(twin.reset(seed=0)[0])]
    assert obs.shape == (4, T * (d + c))
    for _ in range(40):
        obs, *_ = envs.step(keep_first(8, 4))
        seen.append(flat(twin.step(keep_first(8, 4))[0]))
    assert np.isfinite(obs).all()
    assert abs(float(envs.obs_rms.mean.mean())) > 0  # it learnt statistics
    assert envs.obs_rms.count > 40
    # The running statistics are those of every raw observation seen, and the returned
    # observation is the last raw one normalised by them.
    raw_all = np.concatenate(seen).astype(np.float64)
    np.testing.assert_allclose(envs.obs_rms.mean, raw_all.mean(0), atol=1e-4)
    np.testing.assert_allclose(envs.obs_rms.var, raw_all.var(0), rtol=1e-3, atol=1e-5)
    want = (seen[-1] - envs.obs_rms.mean) / np.sqrt(envs.obs_rms.var + 1e-8)
    np.testing.assert_allclose(obs, want, rtol=1e-4, atol=1e-4)


def test_single_env_wrappers(small_store: Path) -> None:
    from gymnasium.wrappers import FlattenObservation, NormalizeObservation, RecordEpisodeStatistics

    env = RecordEpisodeStatistics(NormalizeObservation(FlattenObservation(
        gym.make("FrameSelection-v0", store=small_store))))
    obs, _ = env.reset(seed=0)
    assert obs.ndim == 1 and env.observation_space.contains(obs.astype(np.float32))
    for _ in range(5):
        obs, reward, term, _, info = env.step(keep_first(10))
        assert term and info["episode"]["r"] == reward and info["episode"]["l"] == 1
        env.reset()


def test_sb3_make_vec_env_dummy_with_its_defaults(small_store: Path) -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    env = make_vec_env("FrameSelection-v0", n_envs=2, seed=0,
                       env_kwargs={"store": str(small_store)})
    assert isinstance(env, DummyVecEnv)
    env.reset()
    frames = env.get_images()  # SB3 asked for render_mode="rgb_array"
    assert len(frames) == 2 and frames[0].shape == IMAGE_SHAPE
    _, rewards, dones, infos = env.step(np.stack([keep_first(7), keep_first(7)]))
    assert dones.all() and all("terminal_observation" in i for i in infos)
    assert set(rewards.tolist()) <= {-10.0, -1.0, 0.0, 1.0, 10.0}
    model = PPO("MultiInputPolicy", env, n_steps=32, batch_size=32, n_epochs=1, seed=0,
                device="cpu")
    model.learn(64)
    assert model.num_timesteps == 64


SUBPROC_SCRIPT = """
import sys
import numpy as np
import frame_select_env  # noqa: F401  (registers FrameSelection-v0)
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv

if __name__ == "__main__":
    # SB3's defaults: forkserver workers, render_mode="rgb_array"; they re-import this script.
    env = make_vec_env("FrameSelection-v0", n_envs=2, seed=0, vec_env_cls=SubprocVecEnv,
                       env_kwargs={"store": sys.argv[1]})
    env.reset()
    keep = np.zeros((2, 25)); keep[:, :7] = 1
    _, rewards, dones, infos = env.step(keep)
    print("OK", env.get_images()[0].shape, dones.tolist(), rewards.tolist())
    env.close()
"""


def test_sb3_make_vec_env_subproc_from_a_user_script(small_store: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "user_script.py"
    script.write_text(SUBPROC_SCRIPT)
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(script), str(small_store)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(repo)})
    assert out.returncode == 0, out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("OK (240, 480, 3) [True, True]"), out.stdout


# ----------------------------------------------------------------------------- actions


def test_action_types(small_store: Path) -> None:
    env = gym.make("FrameSelection-v0", store=small_store, view="center")
    env.reset(seed=0)
    ref = env.step(keep_first(9))[1]
    net = torch.nn.Linear(1, T)
    # A policy's output: a float tensor that requires grad, thresholded to 0/1 in the graph.
    logits = net(torch.ones(1)) * 0 + torch.as_tensor(keep_first(9), dtype=torch.float32)
    assert logits.requires_grad
    actions = [
        keep_first(9).tolist(),
        keep_first(9).astype(bool),
        keep_first(9).astype(np.float32),
        torch.as_tensor(keep_first(9)),
        logits,
    ]
    if torch.cuda.is_available():
        actions.append(torch.as_tensor(keep_first(9), device="cuda"))
    for action in actions:
        env.reset(seed=0)
        assert env.step(action)[1] == ref, type(action)
    envs = FrameSelectionVectorEnv(2, store=small_store, view="center")
    envs.reset(seed=0)
    envs.step(torch.as_tensor(keep_first(9, 2), dtype=torch.float32).requires_grad_())


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.full(T, 0.5), "must be 0 or 1"),
        (torch.full((T,), 2.0, requires_grad=True), "must be 0 or 1"),
        (np.ones(T - 1), "must have shape"),
        ([[1, 0], [1]], "must be an array of 0/1 values"),
        (np.array(["a"] * T), "numeric"),
    ],
)
def test_bad_actions_get_a_clear_error(small_store: Path, action, message: str) -> None:
    env = gym.make("FrameSelection-v0", store=small_store)
    env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's ragged-array warning on old versions
        with pytest.raises(ValueError, match=message):
            env.step(action)


def test_sb3_progress_bar_degrades_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from baselines_zoo.sb3 import train

    assert train.progress_bar_available()  # rich and tqdm are dependencies
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "rich" else real(name, *a))
    with pytest.warns(UserWarning, match="no SB3 progress bar: rich not installed"):
        assert not train.progress_bar_available()
