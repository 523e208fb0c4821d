"""The policy protocol adapters in frame_select_env/core/policy.py and the example user policy."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import frame_select_env  # noqa: F401  (registers the env)
from frame_select_env.core.policy import (
    ActionAdapter,
    FunctionPolicy,
    SelectionPolicy,
    as_policy,
    load_policy_spec,
    policy_scores,
    scores_to_action,
)
from frame_select_env.store.synthetic import make_synthetic_store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_store(tmp_path_factory.mktemp("policy") / "syn.h5", num_videos=40)


def _obs(probs: list) -> dict[str, np.ndarray]:
    p = np.asarray(probs, dtype=np.float32)
    return {"predictions": p, "features": np.zeros((*p.shape[:2], 3), np.float32)}


def test_scores_to_action_hand_cases() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.9], [4.0, 3.0, 2.0, 1.0]])
    np.testing.assert_array_equal(scores_to_action(scores, 2), [[0, 1, 0, 1], [1, 1, 0, 0]])
    # A tie at the cut goes to the earlier frame.
    np.testing.assert_array_equal(scores_to_action(np.array([1.0, 2.0, 1.0, 1.0]), 2),
                                  [1, 1, 0, 0])
    # m larger than T keeps everything; the result is an int8 MultiBinary action.
    action = scores_to_action(np.array([0.3, 0.2]), 5)
    assert action.dtype == np.int8 and action.tolist() == [1, 1]
    with pytest.raises(ValueError, match="m must be >= 1"):
        scores_to_action(scores, 0)


def test_action_adapter_acts_in_the_env(store: Path) -> None:
    env = gym.make("FrameSelection-v0", store=store, split="test", view="center")
    adapter = ActionAdapter(lambda obs: obs["predictions"].max(-1), m=5)
    obs, info = env.reset(seed=0)
    action = adapter(obs, info)
    assert action.shape == (25,) and action.sum() == 5
    # It is exactly the five most confident frames of this video.
    expected = np.sort(np.argsort(-obs["predictions"].max(-1), kind="stable")[:5])
    np.testing.assert_array_equal(np.flatnonzero(action), expected)
    _, reward, terminated, _, step_info = env.step(action)
    assert terminated and step_info["num_selected"] == 5
    # Batched observations give batched actions.
    batch = {k: np.stack([v, v]) for k, v in obs.items()}
    assert adapter(batch).shape == (2, 25)


def test_function_and_class_adapters() -> None:
    obs = _obs([[[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]]])
    one_arg = as_policy(lambda o: o["predictions"][..., 0])
    two_arg = as_policy(lambda o, info: o["predictions"][..., 0] * info["k"], name="scaled")
    assert isinstance(one_arg, FunctionPolicy) and not one_arg.uses_label
    np.testing.assert_allclose(policy_scores(one_arg, obs), [[0.7, 0.4]])
    np.testing.assert_allclose(policy_scores(two_arg, obs, {"k": 2.0}), [[1.4, 0.8]])
    assert two_arg.name == "scaled"

    class Bare:  # no name / uses_label: the adapter adds them
        def scores(self, obs, info=None):
            return obs["predictions"][..., 1]

    pol = as_policy(Bare)
    assert isinstance(pol, SelectionPolicy)
    assert pol.name == "Bare" and pol.uses_label is False
    np.testing.assert_allclose(policy_scores(pol, obs), [[0.2, 0.35]])

    with pytest.raises(TypeError, match="cannot use int as a selection policy"):
        as_policy(3)
    with pytest.raises(ValueError, match=r"returned scores of shape \(2,\)"):
        policy_scores(as_policy(lambda o: np.zeros(2)), obs)
    with pytest.raises(ValueError, match="NaN"):
        policy_scores(as_policy(lambda o: np.full((1, 2), np.nan)), obs)


def test_m_is_passed_only_to_policies_that_take_it() -> None:
    obs = _obs(np.full((1, 4, 2), 0.5))
    seen = {}

    def with_m(o, info=None, m=None):
        seen["m"] = m
        return np.zeros((1, 4))

    policy_scores(as_policy(with_m), obs, m=3)
    assert seen["m"] == 3
    policy_scores(as_policy(lambda o: np.zeros((1, 4))), obs, m=3)  # no error


def test_load_policy_spec_from_file_and_module(tmp_path: Path) -> None:
    path = tmp_path / "my_policies.py"
    path.write_text(
        "import numpy as np\n"
        "class LastFrames:\n"
        "    name = 'last'\n"
        "    uses_label = False\n"
        "    def __init__(self, boost=1.0):\n"
        "        self.boost = boost\n"
        "    def scores(self, obs, info=None):\n"
        "        b, t = obs['predictions'].shape[:2]\n"
        "        return np.tile(np.arange(t, dtype=np.float32) * self.boost, (b, 1))\n"
        "def first_frames(obs):\n"
        "    b, t = obs['predictions'].shape[:2]\n"
        "    return np.tile(-np.arange(t, dtype=np.float32), (b, 1))\n"
    )
    obs = _obs(np.full((2, 6, 3), 1 / 3))
    last = load_policy_spec(f"{path}:LastFrames", boost=2.0)
    assert last.name == "last" and last.boost == 2.0
    np.testing.assert_array_equal(scores_to_action(policy_scores(last, obs), 2)[0],
                                  [0, 0, 0, 0, 1, 1])
    first = load_policy_spec(f"{path}:first_frames")
    assert first.name == "first_frames"
    np.testing.assert_array_equal(scores_to_action(policy_scores(first, obs), 2)[1],
                                  [1, 1, 0, 0, 0, 0])
    # A module on sys.path works the same way.
    sys.path.insert(0, str(tmp_path))
    try:
        assert load_policy_spec("my_policies:LastFrames").name == "last"
    finally:
        sys.path.remove(str(tmp_path))
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        load_policy_spec(f"{path}:Nope")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_policy_spec(f"{tmp_path / 'missing.py'}:X")
    with pytest.raises(ValueError, match="must look like"):
        load_policy_spec("no_colon_here")


def test_example_confident_policy(store: Path) -> None:
    pol = load_policy_spec(f"{ROOT / 'examples' / 'confident_policy.py'}:ConfidentPolicy")
    assert pol.name == "confident-margin" and pol.uses_label is False
    obs = _obs([[[0.7, 0.2, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8]]])
    np.testing.assert_allclose(pol.scores(obs), [[0.5, 0.05, 0.7]], atol=1e-6)
    np.testing.assert_array_equal(scores_to_action(pol.scores(obs), 2), [[1, 0, 1]])
    # In the env: keeping its 8 best frames changes rewards, and it runs on real observations.
    env = gym.make("FrameSelection-v0", store=store, split="test", view="center")
    act = ActionAdapter(pol, m=8)
    obs, info = env.reset(seed=1)
    _, _, _, _, step_info = env.step(act(obs, info))
    assert step_info["num_selected"] == 8
