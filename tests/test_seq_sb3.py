"""SB3 PPO and sb3-contrib MaskablePPO on FrameSelectionSeq-v0 (baselines_zoo.sb3.sequential).

Short trainings on the built-in store's train split, evaluated deterministically on its test
split with ``rollout`` (all crops averaged) against a uniformly random sequential policy under
the same env options.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml

import frame_select_env  # noqa: F401  (registers the envs)
from baselines_zoo.sb3.scoring import SB3SeqPolicy, load_seq_sb3
from baselines_zoo.sb3.sequential import (
    MaskableSeqActorCriticPolicy,
    SeqActorCriticPolicy,
    SeqExtractor,
    SeqHead,
)
from baselines_zoo.sb3.train import load_hyperparams, train_sb3
from frame_select_env.envs.sequential.rollout import rollout

SEQ = "FrameSelectionSeq-v0"
TRAIN_KWARGS = {"state": "both", "view": "random", "omega": 10.0, "max_frames": 8,
                "cost_weight": 10.0}
EVAL_KWARGS = {**TRAIN_KWARGS, "view": "mean"}
SHORT = {"n_envs": 8, "n_steps": 64, "batch_size": 128, "n_epochs": 4, "learning_rate": 3e-3,
         "ent_coef": 0.0, "env_kwargs": TRAIN_KWARGS,
         "extractor_kwargs": {"proj_dim": 16, "hidden_size": 16}}
STEPS = 4096
TINY = ["n_envs=2", "n_steps=16", "batch_size=16", "n_epochs=1",
        "extractor_kwargs={proj_dim: 4, hidden_size: 4}"]
ALGOS = ("ppo", "maskable_ppo")


def random_seq(seed: int):
    """A uniformly random allowed action (an unpaid frame, or stop) per episode."""
    rng = np.random.default_rng(seed)

    def act(obs, masks):
        return (rng.random(masks.shape) * masks).argmax(1)

    return act


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.set_num_threads(1)
    out = {}
    for algo in ALGOS:
        path = tmp_path_factory.mktemp(algo)
        train_sb3(algo, env_id=SEQ, n_timesteps=STEPS, seed=0, out=path, progress_bar=False,
                  overrides=SHORT)
        out[algo] = path
    return out


@pytest.fixture(scope="module")
def eval_core():
    env = gym.make(SEQ, split="test", **EVAL_KWARGS)
    yield env.unwrapped.core
    env.close()


def test_hyperparams_have_a_seq_entry() -> None:
    for algo in ALGOS:
        params = load_hyperparams(algo, env_id=SEQ)
        kwargs = params["env_kwargs"]
        assert kwargs["view"] == "random" and kwargs["max_frames"] == 8
        assert kwargs["cost_weight"] > 0 and params["policy"] == "bilstm"
    with pytest.raises(ValueError, match="no entry for 'FrameSelection-v0'"):
        load_hyperparams("maskable_ppo")


@pytest.mark.parametrize("algo", ALGOS)
def test_learns_above_random(runs: dict[str, Path], eval_core, algo: str) -> None:
    """A deterministic policy well above a random one on the test split, all crops averaged.

    Seeds 0-4 of both algorithms at 6144 steps gave a mean return of -0.1 to 0.3 against
    -14.2 for random and an accuracy of 73.6-81.6% against 70.7% (the cheap stream alone:
    74.0%); seeds 0-1 at these 4096 steps gave -0.16 to 0.0 and 73.2-74.0%, seed 0 paying 6
    (PPO) and 13 (MaskablePPO) flow frames over the 250 test videos. This short, the agents
    mostly learn when not to pay (a random frame lowers the true-class probability more often
    than not); the longer runs learn which frame to pay.
    """
    idx = np.arange(eval_core.num_videos)
    policy = load_seq_sb3(runs[algo])
    # the training options less those the evaluation sets (store, split, view)
    assert policy.name == algo and policy.env_kwargs == {
        "stream": "rgb", **{k: v for k, v in TRAIN_KWARGS.items() if k != "view"}}
    learned = rollout(eval_core, policy, idx)
    rand = [rollout(eval_core, random_seq(s), idx) for s in range(5)]
    rand_return = np.mean([r.returns.mean() for r in rand])
    rand_acc = np.mean([r.info["correct"].mean() for r in rand])
    assert learned.returns.mean() > rand_return + 5.0
    assert learned.info["correct"].mean() > rand_acc
    # the deterministic policy never pays a frame twice (and pays some: the check is not empty)
    np.testing.assert_array_equal(learned.info["num_paid"], learned.info["steps"])
    assert learned.info["num_paid"].sum() > 0


def test_training_env_gives_masks_and_ends_at_the_budget() -> None:
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

    from baselines_zoo.sb3.train import make_env

    venv = make_env(None, "rgb", "maskable_ppo", 2, 0, {"max_frames": 2, "view": "random"},
                    env_id=SEQ)
    venv.reset()
    # MaskablePPO asks the DummyVecEnv, which reaches through the wrappers
    assert is_masking_supported(venv) and get_action_masks(venv).shape == (2, 26)
    venv.step(np.array([3, 3]))
    assert not get_action_masks(venv)[:, 3].any() and get_action_masks(venv)[:, 4].all()
    _, _, dones, infos = venv.step(np.array([4, 4]))  # the budget's end
    # an end, not a time limit: SB3 adds no bootstrapped value to the last reward
    assert dones.all() and not any(i["TimeLimit.truncated"] for i in infos)
    assert all("terminal_observation" in i for i in infos)
    venv.close()


class _StrictMasks(gym.Wrapper):
    """Fails the step that takes an action the env's mask hides."""

    def step(self, action):
        masks = self.env.unwrapped.action_masks()
        assert masks[int(action)], f"masked action {action} taken; mask {masks.astype(int)}"
        return self.env.step(action)


def test_maskable_ppo_never_takes_a_masked_action(runs: dict[str, Path]) -> None:
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    # in training: every sampled action goes through the strict wrapper
    env = DummyVecEnv([lambda: _StrictMasks(gym.make(SEQ, max_frames=25, view="random"))] * 2)
    model = MaskablePPO(MaskableSeqActorCriticPolicy, env, n_steps=64, batch_size=64,
                        n_epochs=1, seed=0, policy_kwargs={"features_extractor_kwargs": {
                            "proj_dim": 4, "hidden_size": 4}})
    model.learn(256)
    assert model.num_timesteps == 256
    # the trained model acting, sampled and deterministic, on long episodes (max_frames = T)
    trained = load_seq_sb3(runs["maskable_ppo"]).model
    single = _StrictMasks(gym.make(SEQ, max_frames=25, view="random", split="val"))
    obs, _ = single.reset(seed=0)
    for step in range(300):
        masks = single.unwrapped.action_masks()
        action, _ = trained.predict(obs, action_masks=masks, deterministic=step % 2 == 0)
        obs, _, terminated, truncated, _ = single.step(action)
        if terminated or truncated:
            obs, _ = single.reset()


def _states(core, num: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Observations after 0-8 random pay steps, with random extra masks (stop always allowed)."""
    rng = np.random.default_rng(seed)
    state = core.start(np.arange(num) % core.num_videos, None)
    for _ in range(int(rng.integers(0, 9))):
        actions = (rng.random((num, core.num_frames)) * core.action_masks(state)[:, :-1])
        core.step(state, actions.argmax(1))
    masks = core.action_masks(state) & (rng.random((num, core.num_frames + 1)) < 0.5)
    masks[:, -1] = True
    return core.observe(state), masks


@pytest.mark.parametrize("algo", ALGOS)
def test_load_round_trip_acts_like_the_saved_model(runs: dict[str, Path], algo: str) -> None:
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    # the reference: SB3's own loader (it unpickles; fine for a file this test wrote)
    reference = (MaskablePPO if algo == "maskable_ppo" else PPO).load(runs[algo] / "model.zip")
    loaded = load_seq_sb3(runs[algo] / "model.zip")
    cls = MaskableSeqActorCriticPolicy if algo == "maskable_ppo" else SeqActorCriticPolicy
    assert type(loaded.model.policy) is cls and type(reference.policy) is cls
    for k, v in reference.policy.state_dict().items():
        assert torch.equal(loaded.model.policy.state_dict()[k], v), k
    env = gym.make(SEQ, split="val", view="center", max_frames=8)
    core = env.unwrapped.core
    ref = SB3SeqPolicy(reference)
    for seed in range(4):
        obs, masks = _states(core, 40, seed)
        actions = loaded.act(obs, masks)
        np.testing.assert_array_equal(actions, ref.act(obs, masks))
        assert actions.dtype == np.int64 and masks[np.arange(40), actions].all()
        if algo == "maskable_ppo":  # SB3's own deterministic masked action
            sb3_actions, _ = reference.predict(obs, action_masks=masks, deterministic=True)
            np.testing.assert_array_equal(actions, sb3_actions)
    # small batches give the same actions
    loaded.batch_size = 7
    np.testing.assert_array_equal(loaded.act(obs, masks), actions)
    with pytest.raises(ValueError, match="action_masks must be"):
        loaded.act(obs, masks[:, :-1])
    with pytest.raises(ValueError, match="was trained on obs"):
        loaded.act({**obs, "paid": obs["paid"][:, :5]}, masks)


def test_networks_and_macs(runs: dict[str, Path]) -> None:
    policy = load_seq_sb3(runs["maskable_ppo"])
    net = policy.model.policy
    assert isinstance(net.features_extractor, SeqExtractor) and isinstance(net.action_net,
                                                                           SeqHead)
    opt = {id(p) for g in net.optimizer.param_groups for p in g["params"]}
    assert all(id(p) in opt for p in net.action_net.parameters())
    # logit t is the shared linear layer on frame t's BiLSTM output; the last one is stop
    env = gym.make(SEQ, split="val", view="center", max_frames=8)
    obs, masks = _states(env.unwrapped.core, 5, 0)
    obs_t, _ = net.obs_to_tensor(obs)
    with torch.no_grad():
        frames, glob = net.features_extractor.frames_and_globals(obs_t)
        expected = net.action_net.frame(frames).squeeze(-1)
        logits = net.action_net(net.extract_features(obs_t))
    torch.testing.assert_close(logits[:, :-1], expected)
    assert logits.shape == (5, 26) and glob.shape == (5, 11)
    # MACs of one decision: at least the BiLSTM's (2 directions x 25 steps x 4 gates)
    in_dim, h = 6 * 16, 16
    macs = policy.macs_per_decision(25)
    assert macs >= 2 * 25 * 4 * h * (in_dim + h)
    assert policy.macs_per_decision(25) == macs
    with pytest.raises(ValueError, match="decides over 25 frames"):
        policy.macs_per_decision(8)


def test_train_sb3_script_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from scripts.train_sb3 import main

    out = tmp_path / "run"
    argv = ["--env", SEQ, "--algo", "maskable_ppo", "--out", str(out), "--n-timesteps", "64",
            "--save-freq", "32", "--no-progress", "--set", *TINY]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "val accuracy, maskable_ppo" in printed and "flow frames paid" in printed
    assert "rgb alone on all frames: 70.0%" in printed
    assert (out / "model.zip").is_file() and not (out / "checkpoint.zip").exists()
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["env_id"] == SEQ and config["algo"] == "maskable_ppo"
    assert config["env_kwargs"]["split"] == "train" and config["env_kwargs"]["max_frames"] == 8
    assert config["observation_space"]["paid"]["shape"] == [25]
    assert config["pay"] == "flow" and config["expensive_feature_dim"] == 24
    # --resume from a checkpoint continues to the new total
    shutil.copy(out / "model.zip", out / "checkpoint.zip")
    assert main([*argv[:7], "96", *argv[8:], "--resume", "--eval-split", ""]) == 0
    data = json.loads(zipfile.ZipFile(out / "model.zip").read("data"))
    assert data["num_timesteps"] == 96
    # ... but not into another run
    assert main([*argv, "n_epochs=2", "--resume"]) == 2  # one "error:" line, status 2
    # a config.yaml of another env is refused by the seq loader
    other = tmp_path / "other"
    shutil.copytree(out, other)
    (other / "config.yaml").write_text(yaml.safe_dump({**config, "env_id": "FrameSelection-v0"}))
    with pytest.raises(ValueError, match="was trained on 'FrameSelection-v0'"):
        load_seq_sb3(other)


def test_maskable_ppo_needs_the_seq_env(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from scripts.train_sb3 import main

    with pytest.raises(ValueError, match="'maskable_ppo' needs action masks, which only "
                                         "FrameSelectionSeq-v0 has"):
        train_sb3("maskable_ppo", out=tmp_path)
    with pytest.raises(ValueError, match="does not fit FrameSelectionSeq-v0"):
        train_sb3("sac", env_id=SEQ, out=tmp_path)
    with pytest.raises(SystemExit) as err:
        main(["--algo", "maskable_ppo", "--out", str(tmp_path)])
    assert err.value.code == 2
    assert "needs action masks" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("algo,policy", [("ppo", "mlp"), ("maskable_ppo", "mlp"),
                                         ("maskable_ppo", "bilstm-flat")])
def test_other_networks_train_and_load(tmp_path: Path, algo: str, policy: str) -> None:
    train_sb3(algo, env_id=SEQ, policy=policy, n_timesteps=32, out=tmp_path, progress_bar=False,
              overrides={"n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 1,
                         "policy_kwargs": {"net_arch": [8]},
                         "extractor_kwargs": {"proj_dim": 4, "hidden_size": 4}})
    loaded = load_seq_sb3(tmp_path)
    extractor = loaded.model.policy.features_extractor
    assert isinstance(extractor, SeqExtractor) == (policy == "bilstm-flat")
    env = gym.make(SEQ, split="val", view="center", max_frames=8)
    obs, masks = _states(env.unwrapped.core, 6, 1)
    actions = loaded.act(obs, masks)
    assert masks[np.arange(6), actions].all() and loaded.macs_per_decision(25) > 0
