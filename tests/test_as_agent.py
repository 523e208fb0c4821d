"""The BiLSTM agent: shapes, state variants, the policy adapter and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.as_agent import (
    ASAgent,
    ASAgentConfig,
    ASPolicy,
    load_agent,
    save_agent,
    save_agents,
)
from frame_select_env.core.policy import SelectionPolicy

B, T, D, C = 3, 7, 5, 4


def _obs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    probs = rng.random((B, T, C)).astype(np.float32)
    return {"features": rng.normal(size=(B, T, D)).astype(np.float32),
            "predictions": probs / probs.sum(-1, keepdims=True)}


def _agent(state: str = "both", **kw) -> ASAgent:
    torch.manual_seed(0)
    return ASAgent(ASAgentConfig(feature_dim=D, num_classes=C, state=state, proj_dim=8,
                                 hidden_size=6, **kw)).eval()


@pytest.mark.parametrize("state", ["both", "features", "predictions"])
def test_shapes_and_range(state: str) -> None:
    agent = _agent(state)
    p = agent(_obs())
    assert p.shape == (B, T)
    assert torch.all((p > 0) & (p < 1))
    assert torch.allclose(p, torch.sigmoid(agent.logits(_obs())))


def test_state_variants_read_only_their_part() -> None:
    obs, other = _obs(0), _obs(1)
    feats_only = _agent("features")
    # Changing the predictions must not change a features-only agent, and vice versa.
    swapped = {"features": obs["features"], "predictions": other["predictions"]}
    assert torch.equal(feats_only(obs), feats_only(swapped))
    assert not torch.equal(_agent("both")(obs), _agent("both")(swapped))
    preds_only = _agent("predictions")
    assert torch.equal(preds_only(obs), preds_only({"predictions": obs["predictions"]}))
    with pytest.raises(ValueError, match="needs observation key 'features'"):
        _agent("both")({"predictions": obs["predictions"]})


def test_bad_shapes_and_config() -> None:
    obs = _obs()
    with pytest.raises(ValueError, match=r"must be \(B, T, 5\)"):
        _agent()({"features": obs["features"][..., :3], "predictions": obs["predictions"]})
    with pytest.raises(ValueError, match="state must be one of"):
        ASAgentConfig(feature_dim=D, num_classes=C, state="pixels")
    with pytest.raises(ValueError, match="unknown keys"):
        ASAgentConfig.from_dict({"feature_dim": D, "num_classes": C, "hiden": 3})


def test_bidirectional_context() -> None:
    """A BiLSTM: the first frame's score depends on the last frame, and vice versa."""
    agent = _agent()
    obs = _obs()
    changed = {k: v.copy() for k, v in obs.items()}
    changed["features"][:, -1] += 5.0
    p0, p1 = agent(obs), agent(changed)
    assert not torch.allclose(p0[:, 0], p1[:, 0])
    changed = {k: v.copy() for k, v in obs.items()}
    changed["features"][:, 0] += 5.0
    assert not torch.allclose(p0[:, -1], agent(changed)[:, -1])


def test_input_stats() -> None:
    agent = _agent()
    rng = np.random.default_rng(3)
    feats = (rng.normal(size=(50, T, 2, D)) * 4 + 7).astype(np.float32)  # (N, T, V, D) works
    agent.set_input_stats({"features": feats, "predictions": _obs()["predictions"]})
    flat = feats.reshape(-1, D)
    np.testing.assert_allclose(agent.features_mean.numpy(), flat.mean(0), rtol=1e-4)
    np.testing.assert_allclose(agent.features_std.numpy(), flat.std(0, ddof=1), rtol=1e-3)


def test_policy_adapter() -> None:
    agent = _agent()
    policy = ASPolicy(agent, batch_size=2)  # chunked forward passes
    assert isinstance(policy, SelectionPolicy)
    assert policy.name == "as" and policy.uses_label is False
    scores = policy.scores(_obs())
    assert scores.dtype == np.float32 and scores.shape == (B, T)
    np.testing.assert_allclose(scores, agent(_obs()).detach().numpy(), rtol=1e-6)


def test_save_load_roundtrip(tmp_path) -> None:
    agent = _agent(dropout=0.1, num_layers=2)
    agent.set_input_stats(_obs(2))
    path = save_agent(tmp_path / "a.pt", agent, {"lr": 1e-3, "note": "x"})
    raw = torch.load(path, weights_only=True)  # primitives and tensors only
    assert raw["agent_config"]["num_layers"] == 2
    loaded, config = load_agent(path)
    assert config == {"lr": 1e-3, "note": "x"}
    assert not loaded.training
    assert torch.equal(loaded(_obs()), agent(_obs()))
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left nothing behind


def test_multi_stream_file(tmp_path) -> None:
    a, b = _agent(), _agent("features")
    path = save_agents(tmp_path / "agent.pt", {"rgb": a, "flow": b}, {"seed": 1})
    flow, cfg = load_agent(path, stream="flow")
    assert flow.config.state == "features" and cfg == {"seed": 1}
    assert torch.equal(flow(_obs()), b(_obs()))
    with pytest.raises(ValueError, match="pass stream="):
        load_agent(path)
    with pytest.raises(KeyError, match="no agent for stream 'depth'"):
        load_agent(path, stream="depth")


def test_load_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_agent(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_agent(bad)
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an AS agent checkpoint"):
        load_agent(tmp_path / "other.pt")
