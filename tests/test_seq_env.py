"""FrameSelectionSeq-v0 and its vector env: reward, budget, masks, checkers, autoreset."""

from __future__ import annotations

import json
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from gymnasium.vector import AutoresetMode

import frame_select_env  # noqa: F401  (registers the envs)
from frame_select_env.core.selection import softmax
from frame_select_env.store import FeatureStore
from frame_select_env.store.builtin import builtin_store_path

T = 25
COST = json.loads((builtin_store_path().parent / "sparse_actions_cost.json").read_text())
FLOW_GMACS = COST["streams"]["flow"]["macs_per_crop"] / 1e9
RGB_MACS = COST["streams"]["rgb"]["macs_per_crop"]


def _hand_probs(index: int, view: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The store's rgb and flow probabilities (T, C) of one train video and view, and its label."""
    fs = FeatureStore(builtin_store_path())
    row = fs.indices("train")[index]
    out = []
    for s in ("rgb", "flow"):
        logits = fs.to_float32(fs.logits(s, np.array([row]), np.array([view])))[0]
        out.append(softmax(logits))
    return out[0], out[1], int(fs.labels[row])


def _eq4(before: np.ndarray, after: np.ndarray, label: int, omega: float) -> float:
    """Eq. 4 between two predictions, written out independently of reward.py."""
    right_b, right_a = before.argmax() == label, after.argmax() == label
    if right_a and not right_b:
        return omega
    if right_b and not right_a:
        return -omega
    d = after[label] - before[label]
    return 0.0 if abs(d) <= T * 2.0**-23 * max(after[label], before[label]) else float(np.sign(d))


def test_scripted_episode_rewards_match_a_hand_computation() -> None:
    env = gym.make("FrameSelectionSeq-v0", cost_weight=2.0, omega=10.0)
    _, info = env.reset(seed=1, options={"index": 7, "view": 3})
    rgb, flow, label = _hand_probs(7, 3)
    assert info["label"] == label and info["macs"] == pytest.approx(T * RGB_MACS)
    before = rgb.mean(0)  # nothing paid: the cheap stream over all T
    paid: list[int] = []
    rewards, expected = [], []
    for frame in (4, 12, 20, 4):
        obs, r, term, trunc, info = env.step(frame)
        repeat = frame in paid
        if not repeat:
            paid.append(frame)
        after = (rgb[paid].mean(0) + flow[paid].mean(0)) / 2
        expected.append(_eq4(before, after, label, 10.0) - 2.0 * FLOW_GMACS)
        rewards.append(r)
        before = after
        np.testing.assert_allclose(obs["prediction"], after, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(obs["expensive_predictions"][paid], flow[paid], rtol=1e-5)
        assert not obs["expensive_predictions"][[i for i in range(T) if i not in paid]].any()
        assert not term and not trunc
    np.testing.assert_allclose(rewards, expected, rtol=1e-5, atol=1e-6)
    # the repeat was charged (cost only, the prediction did not move) and counted
    assert rewards[-1] == pytest.approx(-2.0 * FLOW_GMACS)
    assert info["paid_frames"] == [4, 12, 20] and info["steps"] == 4
    assert info["macs"] == pytest.approx(T * RGB_MACS + 4 * FLOW_GMACS * 1e9)
    assert info["prediction"] == int(before.argmax())
    assert info["cheap_prediction"] == int(rgb.mean(0).argmax())
    _, r, term, trunc, info = env.step(T)  # stop
    assert (r, term, trunc, info["cost"]) == (0.0, True, False, 0.0)
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(0)


def test_budget_truncation_max_frames_and_gmacs() -> None:
    env = gym.make("FrameSelectionSeq-v0", max_frames=3)
    env.reset(seed=0)
    truncs = [env.step(i)[3] for i in range(3)]
    assert truncs == [False, False, True]
    # the budget fits the cheap pass and exactly two flow frames
    budget = (T * RGB_MACS + 2.5 * FLOW_GMACS * 1e9) / 1e9
    env = gym.make("FrameSelectionSeq-v0", budget_gmacs=budget)
    obs, _ = env.reset(seed=0)
    assert obs["budget"][0] == 1.0
    _, _, _, trunc1, _ = env.step(0)
    obs, _, _, trunc2, info = env.step(1)
    assert (trunc1, trunc2) == (False, True) and info["macs"] <= budget * 1e9
    with pytest.raises(ValueError, match="budget_gmacs=0.01 is below the cheap pass"):
        gym.make("FrameSelectionSeq-v0", budget_gmacs=0.01)
    env = gym.make("FrameSelectionSeq-v0")  # no budget: truncated when every frame is paid
    env.reset(seed=0)
    assert [env.step(i)[3] for i in range(T)] == [False] * (T - 1) + [True]


def test_action_masks_and_bad_arguments() -> None:
    env = gym.make("FrameSelectionSeq-v0")
    env.reset(seed=0)
    assert env.unwrapped.action_masks().tolist() == [True] * (T + 1)
    env.step(5)
    env.step(9)
    mask = env.unwrapped.action_masks()
    assert mask.shape == (T + 1,) and not mask[5] and not mask[9] and mask.sum() == T - 1
    with pytest.raises(ValueError, match=r"out of range \[0, 25\]"):
        env.step(T + 1)
    with pytest.raises(ValueError, match="cost_unit must be one of"):
        gym.make("FrameSelectionSeq-v0", cost_unit="joules")
    with pytest.raises(ValueError, match="max_frames must be an int >= 1"):
        gym.make("FrameSelectionSeq-v0", max_frames=0)
    with pytest.raises(ValueError, match="predict does not apply"):
        gym.make("FrameSelectionSeq-v0", predict="fused")


def test_seconds_cost_unit() -> None:
    env = gym.make("FrameSelectionSeq-v0", cost_unit="seconds", cost_weight=1.0)
    env.reset(seed=0)
    _, _, _, _, info = env.step(0)
    secs = COST["seconds"]
    pair = secs["flow_seconds_per_pair"][secs["size_key"]][COST["flow_method"]]
    per_frame = (COST["streams"]["flow"]["seconds_per_crop"] + COST["flow_length"] * pair
                 + (COST["flow_length"] + 1) * secs["decode"]["retrieve_seconds_per_frame"])
    assert info["cost"] == pytest.approx(per_frame)


def _rollout_actions(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
    # mostly pays, sometimes stops, sometimes repeats frame 0
    return rng.choice(np.r_[np.arange(T), T, 0, 0], size=(steps, n))


def test_vector_env_equals_single_envs_step_for_step() -> None:
    n, steps = 3, 40
    venv = gym.make_vec("FrameSelectionSeq-v0", num_envs=n, max_frames=6, cost_weight=1.0)
    envs = [gym.make("FrameSelectionSeq-v0", max_frames=6, cost_weight=1.0) for _ in range(n)]
    vobs, vinfo = venv.reset(seed=5)
    sobs = [e.reset(seed=5 + i) for i, e in enumerate(envs)]
    for i in range(n):
        assert vinfo["index"][i] == sobs[i][1]["index"]
    acts = _rollout_actions(np.random.default_rng(0), n, steps)
    ends = 0
    for a in acts:
        vobs, vr, vterm, vtrunc, vinfo = venv.step(a)
        for i, e in enumerate(envs):
            obs, r, term, trunc, info = e.step(int(a[i]))
            assert vr[i] == pytest.approx(r) and vterm[i] == term and vtrunc[i] == trunc
            final = vinfo["final_obs"][i] if (term or trunc) else None
            got = final if final is not None else {k: v[i] for k, v in vobs.items()}
            for k in obs:
                np.testing.assert_array_equal(got[k], obs[k])
            if term or trunc:
                ends += 1
                assert vinfo["final_info"]["macs"][i] == info["macs"]
                _, info2 = e.reset()
                assert vinfo["index"][i] == info2["index"]  # same draw from the same generator
    assert ends > 5


@pytest.mark.parametrize("mode", ["same_step", "next_step", "disabled"])
def test_vector_autoreset_modes(mode: str) -> None:
    venv = gym.make_vec("FrameSelectionSeq-v0", num_envs=2, autoreset_mode=mode)
    assert venv.metadata["autoreset_mode"] == AutoresetMode(
        {"same_step": "SameStep", "next_step": "NextStep", "disabled": "Disabled"}[mode])
    venv.reset(seed=0)
    obs, r, term, trunc, info = venv.step(np.array([T, 3]))  # env 0 stops, env 1 pays
    assert term.tolist() == [True, False] and r[0] == 0.0
    if mode == "same_step":
        assert info["_final_obs"].tolist() == [True, False] and obs["paid"][0].sum() == 0
        assert info["final_obs"][0]["paid"].sum() == 0 and obs["paid"][1][3] == 1
    elif mode == "next_step":
        obs, r, term, trunc, info = venv.step(np.array([7, 8]))  # env 0 resets, ignores 7
        assert r[0] == 0.0 and not term[0] and obs["paid"][0].sum() == 0
        assert obs["paid"][1][[3, 8]].tolist() == [1, 1]
    else:
        with pytest.raises(RuntimeError, match=r"sub-envs \[0\] ended"):
            venv.step(np.array([1, 2]))
        obs, _ = venv.reset(options={"reset_mask": np.array([True, False])})
        assert obs["paid"][0].sum() == 0 and obs["paid"][1][3] == 1
        venv.step(np.array([1, 2]))


def test_vector_reset_indices_and_rollout_match_single_env_episodes() -> None:
    from frame_select_env.envs.sequential.rollout import rollout

    venv = gym.make_vec("FrameSelectionSeq-v0", num_envs=3, max_frames=4, cost_weight=1.0,
                        view="center", autoreset_mode="disabled")
    _, info = venv.reset(options={"indices": np.array([5, 0, 5])})
    assert info["index"].tolist() == [5, 0, 5]
    _, info = venv.reset(options={"reset_mask": np.array([False, True, False]),
                                  "indices": np.array([9, 2, 9])})
    assert info["index"].tolist() == [5, 2, 5]  # only the masked row took its given index
    for bad, match in (({"indices": np.array([0, 1])}, r"shape \(3,\)"),
                       ({"indices": np.array([0, 1, 10_000])}, "out of range"),
                       ({"indices": np.array([0.0, 1.0, 2.0])}, "must be integers"),
                       ({"indices": np.array([0, 1, 2]), "views": np.array([0, 0, 0])},
                        "needs view='random'"),
                       ({"index": 3}, "unknown options")):
        with pytest.raises(ValueError, match=match):
            venv.reset(options=bad)

    # a scripted policy: pays frames 3, 3 (a repeat), 17, then stops (or is truncated)
    script = [3, 3, 17, T, T]

    class Scripted:
        name = "scripted"
        calls: list[int] = []

        def act(self, obs, masks):
            self.calls.append(len(obs["paid"]))
            return np.full(len(obs["paid"]), script[len(self.calls) - 1])

    policy = Scripted()
    core = venv.unwrapped.core
    out = rollout(core, policy, np.array([7, 11]))
    env = gym.make("FrameSelectionSeq-v0", max_frames=4, cost_weight=1.0, view="center")
    for row, index in enumerate((7, 11)):
        env.reset(options={"index": index})
        rewards = [env.step(a)[1] for a in script[:4]]
        assert out.rewards[:4, row].tolist() == pytest.approx(rewards)
    assert out.actions[:, 0].tolist() == [3, 3, 17, T]
    assert out.decisions.tolist() == [4, 4] and out.info["num_paid"].tolist() == [2, 2]
    assert out.returns == pytest.approx(out.rewards.sum(0))
    with pytest.raises(ValueError, match="out of range"):
        rollout(core, policy, np.array([core.num_videos]))


def test_env_checkers_pickle_spec_render() -> None:
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = gym.make("FrameSelectionSeq-v0", render_mode="rgb_array")
    gym_check(env.unwrapped, skip_render_check=True)
    sb3_check(env.unwrapped, warn=True)
    env.reset(seed=3)
    env.step(2)
    env.step(0)
    img = env.render()
    assert img.shape == (240, 480, 3) and img.dtype == np.uint8
    text_env = gym.make("FrameSelectionSeq-v0", render_mode="ansi")
    text_env.reset(seed=3)
    text_env.step(2)
    text_env.step(0)
    assert "paid: 2 0" in text_env.render()
    clone = pickle.loads(pickle.dumps(env.unwrapped))
    assert clone.reset(seed=3)[1]["index"] == env.reset(seed=3)[1]["index"]
    spec = EnvSpec.from_json(env.spec.to_json())
    again = gym.make(spec)
    assert again.unwrapped.options.render_mode == "rgb_array"
    venv = gym.make_vec("FrameSelectionSeq-v0", num_envs=2, render_mode="rgb_array")
    venv.reset(seed=0)
    assert [f.shape for f in venv.render()] == [(240, 480, 3)] * 2


def test_sb3_ppo_runs() -> None:
    from stable_baselines3 import PPO

    env = gym.make("FrameSelectionSeq-v0", max_frames=4, cost_weight=1.0)
    model = PPO("MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0,
                device="cpu")
    model.learn(128)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert 0 <= int(action) <= T


def test_store_mode_seq_env_imports_neither_torch_nor_cv2() -> None:
    import subprocess
    import sys
    from pathlib import Path

    # a fresh interpreter: the seq envs in store mode must stay out of the pipeline
    code = (
        "import sys, gymnasium as gym, frame_select_env\n"
        "env = gym.make('FrameSelectionSeq-v0', render_mode='ansi', cost_weight=1.0)\n"
        "env.reset(seed=0); env.step(3); env.render(); env.close()\n"
        "envs = gym.make_vec('FrameSelectionSeq-v0', num_envs=3)\n"
        "envs.reset(seed=0); envs.step([0, 1, 25]); envs.close()\n"
        "heavy = sorted(m for m in ('torch', 'cv2') if m in sys.modules)\n"
        "pipeline = sorted(m for m in sys.modules if m.startswith(("
        "'frame_select_env.pipeline', 'frame_select_env.evaluation')))\n"
        "print('HEAVY', heavy, 'PIPELINE', pipeline)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "HEAVY [] PIPELINE []" in out.stdout, out.stdout


def test_per_episode_budgets_single_vector_and_rollout() -> None:
    from frame_select_env.envs.sequential.rollout import rollout

    env = gym.make("FrameSelectionSeq-v0", view="center", max_frames=8)
    obs, info = env.reset(options={"index": 0, "max_frames": 2})
    assert info["max_frames"] == 2 and obs["budget"][0] == 1.0
    obs, _, _, truncated, _ = env.step(0)
    assert obs["budget"][0] == 0.5 and not truncated
    _, _, _, truncated, _ = env.step(1)
    assert truncated  # the episode's own budget, not the env's 8
    _, info = env.reset(options={"index": 0})
    assert info["max_frames"] == 8
    for bad in (0, 1.5, [2, 3]):
        with pytest.raises(ValueError, match="options\\['max_frames'\\]"):
            env.reset(options={"max_frames": bad})
    venv = gym.make_vec("FrameSelectionSeq-v0", num_envs=2, view="center", max_frames=8,
                        autoreset_mode="disabled")
    _, info = venv.reset(seed=0, options={"max_frames": np.array([1, 3])})
    assert info["max_frames"].tolist() == [1, 3]

    def pay_first_unpaid(obs, masks):
        return np.argmax(masks, axis=1)  # never stops: the budget ends every episode

    out = rollout(env.unwrapped.core, pay_first_unpaid, np.array([0, 1, 2]),
                  max_frames=np.array([1, 3, 2]))
    assert out.decisions.tolist() == [1, 3, 2] and out.info["num_paid"].tolist() == [1, 3, 2]
    assert out.actions.shape[0] == 3  # the longest budget bounds the rollout
    env.close()
    venv.close()
