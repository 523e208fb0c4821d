"""FrameSelectionSeq-v0's reward options (eq4, delta, terminal) against hand computations."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import frame_select_env  # noqa: F401  (registers the envs)
from tests.test_seq_env import FLOW_GMACS, T, _eq4, _hand_probs

INDEX, VIEW, OMEGA, WEIGHT = 7, 3, 10.0, 2.0


def _scripted(reward: str, frames: list[int], **kwargs: object
              ) -> tuple[list[float], list[bool], list[np.ndarray]]:
    """Rewards, ends and predictions of one scripted episode of video ``INDEX``, view ``VIEW``."""
    env = gym.make("FrameSelectionSeq-v0", reward=reward, cost_weight=WEIGHT, omega=OMEGA,
                   **kwargs)
    obs, _ = env.reset(seed=1, options={"index": INDEX, "view": VIEW})
    rewards, ends, preds = [], [], [obs["prediction"]]
    for frame in frames:
        obs, r, term, trunc, _ = env.step(frame)
        rewards.append(r)
        ends.append(term or trunc)
        preds.append(obs["prediction"])
    return rewards, ends, preds


def _hand_predictions(frames: list[int]) -> tuple[list[np.ndarray], int]:
    """The prediction after each step, by hand: rgb over all T, then both fused over the paid."""
    rgb, flow, label = _hand_probs(INDEX, VIEW)
    preds, paid = [rgb.mean(0)], []
    for frame in frames:
        if frame < T and frame not in paid:
            paid.append(frame)
        preds.append((rgb[paid].mean(0) + flow[paid].mean(0)) / 2 if paid else rgb.mean(0))
    return preds, label


FRAMES = [4, 12, 20, 4, T]  # three new frames, a (charged) repeat, stop


def _cost(frames: list[int]) -> np.ndarray:
    return np.array([WEIGHT * FLOW_GMACS if f < T else 0.0 for f in frames])


def test_eq4_is_the_default_and_matches_the_hand_rule() -> None:
    preds, label = _hand_predictions(FRAMES)
    expected = np.array([(_eq4(b, a, label, OMEGA) if f < T else 0.0) for f, b, a in
                         zip(FRAMES, preds[:-1], preds[1:], strict=True)]) - _cost(FRAMES)
    rewards, ends, got = _scripted("eq4", FRAMES)
    np.testing.assert_allclose(rewards, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, preds, rtol=1e-5, atol=1e-6)
    default, _, _ = _scripted("eq4", FRAMES)
    env = gym.make("FrameSelectionSeq-v0")
    assert env.unwrapped.options.reward == "eq4" and default == rewards
    assert ends == [False, False, False, False, True]


def test_delta_pays_the_true_class_change_and_sums_to_final_minus_initial() -> None:
    preds, label = _hand_predictions(FRAMES)
    p = np.array([q[label] for q in preds])
    expected = np.diff(p) - _cost(FRAMES)
    rewards, _, _ = _scripted("delta", FRAMES)
    np.testing.assert_allclose(rewards, expected, rtol=1e-5, atol=1e-6)
    assert rewards[3] == pytest.approx(-WEIGHT * FLOW_GMACS) and rewards[4] == 0.0
    # the episode's return telescopes: final minus cheap-only, less the four pay steps' cost
    assert sum(rewards) == pytest.approx(p[-1] - p[0] - 4 * WEIGHT * FLOW_GMACS, abs=1e-6)
    # omega plays no part in delta
    env = gym.make("FrameSelectionSeq-v0", reward="delta", omega=0.0, cost_weight=WEIGHT)
    env.reset(seed=1, options={"index": INDEX, "view": VIEW})
    assert [env.step(f)[1] for f in FRAMES] == rewards


def test_terminal_pays_eq4_of_cheap_only_vs_final_once_at_the_end() -> None:
    preds, label = _hand_predictions(FRAMES)
    final = _eq4(preds[0], preds[-1], label, OMEGA)
    expected = -_cost(FRAMES)
    expected[-1] += final
    rewards, _, _ = _scripted("terminal", FRAMES)
    np.testing.assert_allclose(rewards, expected, rtol=1e-5, atol=1e-6)
    assert final != 0.0  # the script moves the true class, so the end pays something


def test_terminal_is_paid_on_the_step_that_truncates() -> None:
    frames = [4, 12, 20]
    preds, label = _hand_predictions(frames)
    rewards, ends, _ = _scripted("terminal", frames, max_frames=3)
    assert ends == [False, False, True]
    expected = -_cost(frames)
    expected[-1] += _eq4(preds[0], preds[-1], label, OMEGA)
    np.testing.assert_allclose(rewards, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reward", ["delta", "terminal"])
def test_vector_env_equals_single_envs_for_each_option(reward: str) -> None:
    n, steps = 3, 30
    kw = {"reward": reward, "max_frames": 5, "cost_weight": 1.0}
    venv = gym.make_vec("FrameSelectionSeq-v0", num_envs=n, **kw)
    envs = [gym.make("FrameSelectionSeq-v0", **kw) for _ in range(n)]
    venv.reset(seed=3)
    for i, e in enumerate(envs):
        e.reset(seed=3 + i)
    acts = np.random.default_rng(1).choice(np.r_[np.arange(T), T, T], size=(steps, n))
    total = 0.0
    for a in acts:
        _, vr, vterm, vtrunc, _ = venv.step(a)
        for i, e in enumerate(envs):
            _, r, term, trunc, _ = e.step(int(a[i]))
            assert vr[i] == pytest.approx(r, abs=1e-7)
            assert (vterm[i], vtrunc[i]) == (term, trunc)
            total += abs(r)
            if term or trunc:
                e.reset()
    assert total > 0


def test_unknown_reward_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"reward must be one of \('eq4', 'delta', 'terminal'\)"):
        gym.make("FrameSelectionSeq-v0", reward="sign")
