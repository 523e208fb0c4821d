"""Built-in baseline policies (baselines_zoo/policies.py) and agent specs (registry.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import baselines_zoo as zoo  # the package's names for the built-in policies
from baselines_zoo.policies import nested_spread_order, segment_centres
from baselines_zoo.registry import AgentSpecError, parse_agent_spec, parse_agent_specs
from frame_select_env.core.policy import policy_scores, scores_to_action
from frame_select_env.store.synthetic import make_synthetic_store

T = 25


def _obs(probs: np.ndarray) -> dict[str, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float32)
    return {"predictions": probs, "features": np.zeros((*probs.shape[:2], 4), np.float32)}


def _kept(scores: np.ndarray, m: int) -> list[int]:
    return np.flatnonzero(scores_to_action(scores, m)).tolist()


def test_random_is_seeded_and_uniform_over_frames() -> None:
    obs = _obs(np.full((4, T, 3), 1 / 3))
    a, b, c = zoo.RandomPolicy(seed=1), zoo.RandomPolicy(seed=1), zoo.RandomPolicy(seed=2)
    sa, sb, sc = a.scores(obs), b.scores(obs), c.scores(obs)
    assert sa.shape == (4, T) and sa.dtype == np.float32
    np.testing.assert_array_equal(sa, sb)
    assert not np.array_equal(sa, sc)
    assert not np.array_equal(a.scores(obs), sa)  # the generator moves on
    a.reset()
    np.testing.assert_array_equal(a.scores(obs), sa)  # ... and restarts
    # Each frame is kept with probability m / T.
    many = _obs(np.full((4000, T, 3), 1 / 3))
    freq = scores_to_action(zoo.RandomPolicy(seed=0).scores(many), 5).mean(0)
    np.testing.assert_allclose(freq, 5 / T, atol=0.03)


def test_uniform_keeps_segment_centres_for_every_m() -> None:
    assert segment_centres(25, 4).tolist() == [3, 9, 15, 21]
    assert segment_centres(25, 8).tolist() == [1, 4, 7, 10, 14, 17, 20, 23]
    assert segment_centres(10, 10).tolist() == list(range(10))
    obs = _obs(np.full((2, T, 3), 1 / 3))
    pol = zoo.UniformPolicy()
    for m in (1, 4, 8, 12, 16, 20, 25):
        expected = segment_centres(T, m).tolist()
        assert _kept(policy_scores(pol, obs, m=m)[0], m) == expected
        assert _kept(pol.for_m(m).scores(obs)[1], m) == expected
        assert _kept(pol.scores(obs, {"m": np.array([m, m])})[0], m) == expected
    # Without m: a nested order whose every prefix is spread (no two kept frames adjacent for m=4,
    # the first frame kept is the middle one).
    order = nested_spread_order(T)
    assert sorted(order.tolist()) == list(range(T)) and order[0] == 12
    kept4 = _kept(pol.scores(obs)[0], 4)
    assert kept4 == sorted(order[:4].tolist()) and np.diff(kept4).min() >= 3


def test_all_confidence_entropy_hand_cases() -> None:
    probs = np.array([[[0.6, 0.3, 0.1], [0.34, 0.33, 0.33], [0.1, 0.1, 0.8]]])
    obs = _obs(probs)
    alls = zoo.AllPolicy()
    assert alls.keeps_all and alls.scores(obs).tolist() == [[1.0, 1.0, 1.0]]
    np.testing.assert_allclose(zoo.ConfidencePolicy().scores(obs), [[0.6, 0.34, 0.8]])
    ent = -(probs * np.log(probs)).sum(-1)
    np.testing.assert_allclose(zoo.make_policy("entropy").scores(obs), -ent, rtol=1e-5)
    assert _kept(zoo.ConfidencePolicy().scores(obs)[0], 2) == [0, 2]
    with pytest.raises(ValueError, match="needs obs\\['predictions'\\]"):
        zoo.ConfidencePolicy().scores({"features": np.zeros((1, 3, 2))})
    with pytest.raises(ValueError, match="measure must be one of"):
        zoo.ConfidencePolicy("nope")


def test_oracles_read_ground_truth() -> None:
    probs = np.array([[[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.5, 0.4]],
                      [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.5, 0.4]]])
    obs = _obs(probs)
    oracle = zoo.OraclePolicy()
    assert oracle.uses_label
    np.testing.assert_allclose(oracle.scores(obs, {"label": np.array([2, 0])}),
                               [[0.1, 0.1, 0.4], [0.6, 0.2, 0.1]])
    with pytest.raises(ValueError, match="info\\['label'\\]"):
        oracle.scores(obs)
    rel = zoo.RelevanceOraclePolicy()
    relevance = np.array([[0, 1, 1], [1, 0, 0]])
    s = rel.scores(obs, {"relevance": relevance})
    assert rel.uses_label
    assert _kept(s[0], 2) == [1, 2] and _kept(s[1], 1) == [0]
    with pytest.raises(ValueError, match="relevance"):
        rel.scores(obs, {"label": np.array([0, 0])})


def test_oracle_is_an_upper_bound_on_a_synthetic_store(tmp_path: Path) -> None:
    """With the shared evaluation, no policy beats the oracle by more than noise."""
    from frame_select_env.evaluation import evaluate_policies

    store = make_synthetic_store(tmp_path / "s.h5", num_videos=300, seed=3)
    names = ["random", "uniform", "confidence", "entropy", "oracle", "relevance-oracle"]
    policies = {n: {"rgb": zoo.make_policy(n)} for n in names}
    rows = evaluate_policies(policies, store, "test", streams=("rgb",), ms=(4, 8, 16),
                             include_all=False)
    acc = {(r["agent"], r["scheme"], r["m"]): r["accuracy"] for r in rows}
    for scheme in ("frame", "region"):
        for m in (4, 8, 16):
            others = {n: acc[(n, scheme, m)] for n in names if n != "oracle"}
            assert acc[("oracle", scheme, m)] >= max(others.values()) - 2.0, (scheme, m, acc)
            assert acc[("oracle", scheme, m)] > others["random"] + 10, (scheme, m, acc)
            assert others["relevance-oracle"] > others["random"], (scheme, m, acc)


def test_agent_specs_and_errors(tmp_path: Path) -> None:
    entries = parse_agent_specs(["random", "uniform", "oracle", "best=confidence"])
    assert [e.name for e in entries] == ["random", "uniform", "oracle", "best"]
    assert [e.uses_label for e in entries] == [False, False, True, False]
    pols = entries[0].policies(["rgb", "flow"], seed=4)
    assert set(pols) == {"rgb", "flow"} and pols["rgb"].seed == 4
    user = tmp_path / "mine.py"
    user.write_text("import numpy as np\n"
                    "def mine(obs):\n    return obs['predictions'].max(-1)\n")
    e = parse_agent_spec(f"{user}:mine")
    assert e.kind == "user" and e.name == "mine"
    for bad, why in [("randum", "did you mean 'random'"), ("as:/no/such.pt", "does not exist"),
                     ("ppo:/no/model.zip", "does not exist"), (f"{user}:nothing", "no attribute"),
                     ("nomodule_xyz:Policy", "not found"), ("ppo:", "nothing after")]:
        with pytest.raises(AgentSpecError, match=why) as err:
            parse_agent_spec(bad)
        assert "accepted agent specs" in str(err.value)
        assert "relevance-oracle" in str(err.value)
    with pytest.raises(AgentSpecError, match="already used"):
        parse_agent_specs(["random", "random"])


def test_as_checkpoints_per_stream_and_single(tmp_path: Path) -> None:
    from agents.as_agent import ASAgent, ASAgentConfig, save_agent, save_agents

    cfg = ASAgentConfig(feature_dim=16, num_classes=5, proj_dim=8, hidden_size=8)
    run = tmp_path / "run"
    save_agent(run / "agent_rgb.pt", ASAgent(cfg), {"stream": "rgb"})
    save_agent(run / "agent_flow.pt", ASAgent(cfg), {"stream": "flow"})
    save_agent(tmp_path / "single.pt", ASAgent(cfg), {"stream": "flow"})
    save_agents(tmp_path / "multi.pt", {"rgb": ASAgent(cfg), "flow": ASAgent(cfg)})
    shapes = {s: {"features": (25, 16), "predictions": (25, 5)} for s in ("rgb", "flow")}
    streams = ["rgb", "flow"]
    for spec in (f"as:{run}", f"as:{run}/agent_{{stream}}.pt", f"as:{tmp_path / 'multi.pt'}"):
        entry = parse_agent_spec(spec)
        pols = entry.policies(streams, input_shapes=shapes)
        assert set(pols) == {"rgb", "flow"} and pols["rgb"] is not pols["flow"], spec
        assert not entry.cross_stream_used
    single = parse_agent_spec(f"mine=as:{tmp_path / 'single.pt'}")
    assert single.name == "mine"
    pols = single.policies(streams, input_shapes=shapes)
    assert pols["rgb"] is pols["flow"] and single.cross_stream_used  # one model, both streams
    own = parse_agent_spec(f"as:{tmp_path / 'single.pt'}").policies(streams, cross_stream=False)
    assert set(own) == {"flow"}
    # A model whose input size does not fit the other stream only scores its own stream.
    other = {"rgb": {"features": (25, 32), "predictions": (25, 5)}, "flow": shapes["flow"]}
    assert set(parse_agent_spec(f"as:{tmp_path / 'single.pt'}").policies(
        streams, input_shapes=other)) == {"flow"}
    obs = {"features": np.zeros((3, 25, 16), np.float32),
           "predictions": np.full((3, 25, 5), 0.2, np.float32)}
    scores = policy_scores(pols["rgb"], obs)
    assert scores.shape == (3, 25) and ((scores > 0) & (scores < 1)).all()


def test_sb3_spec_with_stream_template(tmp_path: Path) -> None:
    from baselines_zoo.sb3.train import train_sb3

    store = make_synthetic_store(tmp_path / "s.h5", num_videos=40)
    for stream in ("rgb", "flow"):
        train_sb3("a2c", policy="mlp", n_timesteps=16, out=tmp_path / f"run_{stream}",
                  store=store, stream=stream, progress_bar=False, overrides={"n_envs": 2})
    entry = parse_agent_spec(f"a2c:{tmp_path}/run_{{stream}}")
    pols = entry.policies(["rgb", "flow"])
    assert pols["rgb"] is not pols["flow"] and not entry.cross_stream_used
    single = parse_agent_spec(f"sb3:{tmp_path}/run_flow")  # algorithm from config.yaml
    assert set(single.policies(["rgb", "flow"], cross_stream=False)) == {"flow"}


def test_seed_templates_pick_one_checkpoint_per_seed(tmp_path: Path) -> None:
    from agents.as_agent import ASAgent, ASAgentConfig, save_agent

    cfg = ASAgentConfig(feature_dim=4, num_classes=3, proj_dim=4, hidden_size=4)
    for seed in (0, 1):
        save_agent(tmp_path / f"s{seed}" / "agent_rgb.pt", ASAgent(cfg), {"stream": "rgb"})
    save_agent(tmp_path / "run" / "agent_rgb.pt", ASAgent(cfg), {"stream": "rgb"})
    save_agent(tmp_path / "run" / "seed_1" / "agent_rgb.pt", ASAgent(cfg), {"stream": "rgb"})
    for spec in (f"as:{tmp_path}/s{{seed}}", f"as:{tmp_path}/run"):
        entry = parse_agent_spec(spec)
        p0 = entry.policies(["rgb"], seed=0)["rgb"]
        p1 = entry.policies(["rgb"], seed=1)["rgb"]
        assert p0 is not p1 and p0 is entry.policies(["rgb"], seed=0)["rgb"]  # cached per seed
        w0, w1 = (next(p.agent.parameters()).detach() for p in (p0, p1))
        assert not np.allclose(w0.numpy(), w1.numpy())  # different checkpoints
