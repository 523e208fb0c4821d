"""LiteEval-style gated recurrence: the Gumbel gate, the recurrence, the loss, budgets and files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines_zoo.field import liteeval as le
from baselines_zoo.field.ocsampler import predict_probs
from baselines_zoo.policies import RandomPolicy
from frame_select_env.evaluation.runner import (
    evaluate_importance,
    evaluate_policies,
    load_split,
    policy_importance,
)
from frame_select_env.store.builtin import builtin_store_path

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def trained():
    """LiteEval on the built-in store, 8 epochs (seed 0), and the val split."""
    return le.train(None, le.LiteEvalConfig(epochs=8)), load_split(builtin_store_path(), "val")


def _net(reads_fine=True, seed=0):
    torch.manual_seed(seed)
    cfg = le.LiteEvalConfig(coarse_hidden=4, fine_hidden=6, gate_reads_fine=reads_fine)
    return le.LiteEvalNet(3, 5, 2, cfg), cfg


def test_gumbel_gate_is_exactly_binary_forward_with_gradients_flowing():
    """Forward: exactly 0.0 or 1.0; backward: the softmax's (non-zero) gradient."""
    logits = torch.randn(64, 2, requires_grad=True)
    gen = torch.Generator().manual_seed(0)
    g = le.st_gumbel_gate(logits, tau=1.0, generator=gen)
    assert set(g.detach().unique().tolist()) == {0.0, 1.0}
    (g * torch.arange(1.0, 65.0)).sum().backward()  # every row weighted
    assert logits.grad is not None and (logits.grad.abs().sum(1) > 0).all()
    # the straight-through gradient is the soft sample's: d soft_1 / d l_1 = soft_0 soft_1 / tau
    logits2 = torch.tensor([[0.3, -0.2]], requires_grad=True)
    g2 = le.st_gumbel_gate(logits2, tau=2.0, generator=torch.Generator().manual_seed(5))
    g2.sum().backward()
    u = torch.rand((1, 2), generator=torch.Generator().manual_seed(5)).clamp(1e-20, 1.0)
    soft = torch.softmax((logits2.detach() - torch.log(-torch.log(u))) / 2.0, -1)[0]
    expect = float(soft[0] * soft[1] / 2.0)
    assert logits2.grad[0, 1].item() == pytest.approx(expect, rel=1e-5)
    assert logits2.grad[0, 0].item() == pytest.approx(-expect, rel=1e-5)


def test_training_forward_gates_are_binary_and_the_loss_reaches_the_gate():
    """In the recurrence: 0/1 gates; CE + skip loss gives the gate's weights a gradient."""
    net, cfg = _net()
    coarse, fine = torch.randn(8, 10, 3), torch.randn(8, 10, 5)
    logits, gates, _ = net(coarse, fine, tau=1.0, generator=torch.Generator().manual_seed(0))
    assert set(gates.detach().unique().tolist()) <= {0.0, 1.0}
    loss, ce, skip = le.liteeval_loss(logits, torch.zeros(8, dtype=torch.long), gates, cfg)
    # by hand: skip ratio = share of zeros; loss = CE + 4 (skip - 0.6)^2
    assert skip.item() == pytest.approx(float((gates == 0).float().mean()))
    assert loss.item() == pytest.approx(ce.item() + 4.0 * (skip.item() - 0.6) ** 2)
    loss.backward()
    assert net.gate.weight.grad is not None and net.gate.weight.grad.abs().sum() > 0
    assert net.fine.weight_ih.grad.abs().sum() > 0


def test_a_shut_gate_synchronises_and_never_reads_the_fine_features():
    """Gates shut everywhere: the fine state is the coarse state padded with zeros; masks do not
    depend on the fine features of frames whose gate is shut."""
    net, _ = _net()
    coarse, fine = torch.randn(4, 7, 3), torch.randn(4, 7, 5)
    with torch.no_grad():
        logits, gates, _ = net(coarse, fine, threshold=2.0)  # nothing reaches 2
        assert gates.sum() == 0
        c_in, _ = net.standardise(coarse, fine)
        h = c = torch.zeros(4, 4)
        for t in range(7):
            h, c = net.coarse(c_in[:, t], (h, c))
        hand = net.classifier(torch.cat([h, torch.zeros(4, 2)], -1))
        torch.testing.assert_close(logits, hand)
        _, gates, _ = net(coarse, fine, threshold=0.5)
        shut = gates == 0
        assert shut.any() and (~shut).any()
        changed = fine.clone()
        changed[shut] = 1e3  # only frames whose gate stayed shut
        _, gates2, _ = net(coarse, changed, threshold=0.5)
        torch.testing.assert_close(gates, gates2)


def test_temperature_is_annealed_exponentially():
    """tau_start at the first epoch, tau_end at the last, a constant ratio between epochs."""
    cfg = le.LiteEvalConfig(epochs=5, tau_start=4.0, tau_end=0.25)
    taus = [cfg.temperature(e) for e in range(5)]
    assert taus[0] == pytest.approx(4.0) and taus[-1] == pytest.approx(0.25)
    np.testing.assert_allclose(np.diff(np.log(taus)), np.log(0.25 / 4.0) / 4)


def test_config_errors_name_the_field():
    """A bad hyperparameter is named."""
    with pytest.raises(ValueError, match="fine_hidden"):
        le.LiteEvalConfig(coarse_hidden=64, fine_hidden=32)
    with pytest.raises(ValueError, match="target_skip"):
        le.LiteEvalConfig(target_skip=1.0)


def test_budget_knob_and_both_accuracies_beat_random(trained):
    """for_m(m) opens ~m frames on val; the frozen fused prediction on them beats random-m; its
    own classifier's accuracy is in the training log."""
    policy, val = trained
    probs = predict_probs(val, "fused")
    rand = {m: evaluate_importance(probs, policy_importance(RandomPolicy(0), val.obs["rgb"]),
                                   val.labels, ms=[m], schemes=["frame"])[0]["accuracy"]
            for m in (4, 8, 12)}
    for m in (4, 8, 12):
        got = le.split_metrics(policy.for_m(m), val)
        assert abs(got["frames"] - m) <= 1.0, (m, got)
        assert got["tsn_accuracy"] >= rand[m] + 5, (m, got, rand[m])
    final = policy.train_log[-1]
    assert final["val_own_accuracy"] >= 70 and final["val_tsn_accuracy"] >= 70
    assert all(0.0 <= r["skip_ratio"] <= 1.0 for r in policy.train_log[:-1])


def test_evaluation_uses_its_masks_and_the_expensive_features(trained):
    """Through evaluate_policies: frames = its gated frames, accuracy = split_metrics'."""
    policy, val = trained
    rows = evaluate_policies({"liteeval": {"rgb": policy, "flow": policy}}, builtin_store_path(),
                             split="val", data=val, ms=[8], schemes=["frame"])
    fused = next(r for r in rows if r["agent"] == "liteeval" and r["stream"] == "fused")
    ours = le.split_metrics(policy.for_m(8), val)
    assert fused["frames"] == pytest.approx(ours["frames"])
    assert fused["accuracy"] == pytest.approx(ours["tsn_accuracy"])
    # preview (rgb on every frame and crop) + flow on the gated frames only, + its own MACs
    assert 1.8 < fused["gmacs"] < 2.8


def test_runs_on_a_user_store_saves_loads_and_checks_its_inputs(small_store, tmp_path):
    """A synthetic store: train, save, load (same masks); missing expensive features named."""
    policy = le.train(small_store, le.LiteEvalConfig(epochs=2), seed=1)
    again = le.load(le.save(policy, tmp_path / "le.pt"))
    assert again.thresholds == policy.thresholds and len(again.thresholds) == 25
    data = load_split(small_store, "test")
    obs = {k: v[:, :, 0] for k, v in data.obs["rgb"].items()}
    fine = np.concatenate([data.obs[s]["features"][:, :, 0] for s in ("rgb", "flow")], -1)
    info = {le.PREDICT_FEATURES: fine}
    mask = again.for_m(6).masks(obs, info)
    np.testing.assert_array_equal(policy.for_m(6).masks(obs, info), mask)
    assert mask.dtype == bool and mask.any(1).all()
    with pytest.raises(ValueError, match="predict_features"):
        again.masks(obs, None)
    with pytest.raises(ValueError, match=r"le2\.pt: not a LiteEval checkpoint"):
        torch.save({"method": "ocsampler"}, tmp_path / "le2.pt")
        le.load(tmp_path / "le2.pt")
    coarse_only = le.train(small_store, le.LiteEvalConfig(epochs=1, gate_reads_fine=False))
    assert not coarse_only.needs_predict_features
    assert coarse_only.masks(obs).shape == obs["features"].shape[:2]
