"""OCSampler-style sampler: exact set probabilities, the draws, the reward, training and files."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from baselines_zoo.field import ocsampler as oc
from baselines_zoo.policies import RandomPolicy
from frame_select_env.evaluation.runner import evaluate_policies, load_split
from frame_select_env.store.builtin import builtin_store_path

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _torch_brute_force(logits: torch.Tensor, subset: tuple[int, ...]) -> torch.Tensor:
    """P(set) summed over every order, in torch (for gradients)."""
    pi = torch.softmax(logits, 0)
    total = logits.new_zeros(())
    for order in itertools.permutations(subset):
        p, left = logits.new_ones(()), logits.new_ones(())
        for i in order:
            p = p * pi[i] / left
            left = left - pi[i]
        total = total + p
    return total


def test_set_probabilities_sum_to_one_and_match_every_order():
    """T = 6, m = 3: the subset DP equals the sum over the 3! orders; the 20 sets sum to 1."""
    torch.manual_seed(0)
    logits = torch.randn(6, dtype=torch.float64) * 1.5
    subsets = list(itertools.combinations(range(6), 3))
    # each subset given in a shuffled order: the set probability must not depend on it
    rng = np.random.default_rng(0)
    given = torch.tensor([list(rng.permutation(s)) for s in subsets])
    logp = oc.set_log_prob(logits.expand(len(subsets), 6), given)
    pi = torch.softmax(logits, 0).numpy()
    brute = np.array([oc.brute_force_set_prob(pi, s) for s in subsets])
    np.testing.assert_allclose(logp.exp().numpy(), brute, rtol=1e-12, atol=0)
    assert logp.exp().sum().item() == pytest.approx(1.0, abs=1e-12)
    # a hand computation of one set, {0, 1} of T = 3 with pi = (.5, .3, .2):
    # .5 * .3 / .5 + .3 * .5 / .7 = 0.3 + 0.2142857...
    hand = oc.set_log_prob(torch.log(torch.tensor([[0.5, 0.3, 0.2]], dtype=torch.float64)),
                           torch.tensor([[1, 0]])).exp().item()
    assert hand == pytest.approx(0.3 + 0.15 / 0.7, abs=1e-12)


def test_set_probability_gradient_matches_brute_force():
    """The DP is differentiable and its gradient is the brute-force sum's."""
    torch.manual_seed(1)
    logits = torch.randn(7, dtype=torch.float64, requires_grad=True)
    subset = (5, 1, 3, 6)
    oc.set_log_prob(logits[None], torch.tensor([subset]))[0].backward()
    ours = logits.grad.clone()
    logits.grad = None
    torch.log(_torch_brute_force(logits, subset)).backward()
    np.testing.assert_allclose(ours.numpy(), logits.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert ours.abs().sum() > 0.1


def test_edge_sizes_and_the_sequential_approximation_above_exact_max_m():
    """m = 1 is pi itself, m = T is certain; above exact_max_m the ordered draw's probability."""
    logits = torch.tensor([[0.2, -1.0, 0.7, 0.0, 1.3]], dtype=torch.float64)
    pi = torch.softmax(logits, 1)
    for i in range(5):
        assert oc.set_log_prob(logits, torch.tensor([[i]])).exp().item() == pytest.approx(
            pi[0, i].item(), abs=1e-12)
    assert oc.set_log_prob(logits, torch.tensor([[4, 0, 1, 3, 2]])).item() == 0.0
    # ordered draw (2, 0): pi_2 * pi_0 / (1 - pi_2), by hand
    order = torch.tensor([[2, 0]])
    hand = math.log(pi[0, 2].item() * pi[0, 0].item() / (1 - pi[0, 2].item()))
    assert oc.sequence_log_prob(logits, order).item() == pytest.approx(hand, abs=1e-12)
    assert oc.draw_log_prob(logits, order, exact_max_m=1).item() == pytest.approx(hand)
    exact = oc.draw_log_prob(logits, order, exact_max_m=8).item()
    assert exact == pytest.approx(math.log(oc.brute_force_set_prob(pi[0].numpy(), (2, 0))))
    with pytest.raises(ValueError, match="sequence_log_prob"):
        oc.set_log_prob(torch.zeros(1, 20), torch.arange(17)[None])


def test_gumbel_top_k_draws_follow_the_set_probabilities():
    """20 000 draws of 2 of 5 frames: empirical set frequencies = the exact probabilities."""
    logits = torch.tensor([1.0, 0.0, -0.5, 0.5, -1.0], dtype=torch.float64)
    n = 20_000
    drawn = oc.sample_without_replacement(logits.expand(n, 5), 2, torch.Generator().manual_seed(0))
    assert (drawn[:, 0] != drawn[:, 1]).all()
    sets = [tuple(sorted(r)) for r in drawn.tolist()]
    subsets = list(itertools.combinations(range(5), 2))
    freq = np.array([sets.count(s) / n for s in subsets])
    exact = oc.set_log_prob(logits.expand(len(subsets), 5), torch.tensor(subsets)).exp().numpy()
    # binomial standard error <= 0.0036: 0.015 is > 4 sigma
    np.testing.assert_allclose(freq, exact, atol=0.015)


def test_reward_label_free_and_true_class_by_hand():
    """Confidence on the drawn frames minus on the reference subset; true-class variant."""
    probs = np.zeros((1, 4, 3), np.float32)
    probs[0, 0] = [0.9, 0.1, 0.0]
    probs[0, 1] = [0.7, 0.2, 0.1]
    probs[0, 2] = [0.1, 0.1, 0.8]
    probs[0, 3] = [0.2, 0.6, 0.2]
    drawn, ref = np.array([[0, 1]]), np.array([[2, 3]])
    # drawn mean (0.8, 0.15, 0.05) -> top 0.8; reference mean (0.15, 0.35, 0.5) -> top 0.5
    r = oc._rewards(probs, np.array([1]), drawn, ref, "confidence")
    assert r[0] == pytest.approx(0.8 - 0.5)
    # true class 1: 0.15 - 0.35
    r = oc._rewards(probs, np.array([1]), drawn, ref, "true_class")
    assert r[0] == pytest.approx(0.15 - 0.35)


def test_tsn_reference_subsets_take_one_frame_per_segment():
    """T = 25, m = 4: segments of 6 frames, one random frame in each."""
    idx = oc.tsn_subsets(500, 25, 4, np.random.default_rng(0))
    assert idx.shape == (500, 4)
    for k in range(4):
        assert idx[:, k].min() == 6 * k and idx[:, k].max() == 6 * k + 5


def test_config_errors_name_the_field():
    """A bad hyperparameter is named."""
    with pytest.raises(ValueError, match="scorer"):
        oc.OCSamplerConfig(scorer="tsm")
    with pytest.raises(ValueError, match="kernel"):
        oc.OCSamplerConfig(kernel=2)
    with pytest.raises(ValueError, match="m = 30 exceeds"):
        oc.train(None, oc.OCSamplerConfig(m=30, epochs=1))


def test_trains_on_the_builtin_store_and_beats_random_on_val():
    """Default config, seed 0: top-8 of pi beats random-8 on val (fused prediction)."""
    policy = oc.train(None, oc.OCSamplerConfig(epochs=15))
    assert policy.observes == ("rgb",) and policy.predict == "fused" and not policy.uses_label
    val = load_split(builtin_store_path(), "val")
    ours = oc.validation_accuracy(policy, val, 8, "rgb", "fused")
    rand = oc.validation_accuracy(RandomPolicy(0), val, 8, "rgb", "fused")
    assert ours >= rand + 10, (ours, rand)
    assert max(r["val_accuracy"] for r in policy.train_log) == ours  # the kept epoch


def test_runs_on_a_user_store_saves_loads_and_is_costed(small_store, tmp_path):
    """A synthetic store: train, save, load (same scores), and the evaluation counts its MACs."""
    policy = oc.train(small_store, oc.OCSamplerConfig(epochs=2, m=6, scorer="mlp"), seed=3)
    path = oc.save(policy, tmp_path / "oc.pt")
    again = oc.load(path)
    data = load_split(small_store, "test")
    obs = {k: v[:, :, 0] for k, v in data.obs["rgb"].items()}
    np.testing.assert_array_equal(policy.scores(obs), again.scores(obs))
    assert again.config == policy.config and again.train_log == policy.train_log
    # MACs by hand: 1x1 convs = per-frame MLP, (16 + 6) -> 64 -> 1 on 25 frames
    assert again.macs_per_view(25) == 25 * (22 * 64 + 64)
    rows = evaluate_policies({"ocsampler": {"rgb": again, "flow": again}}, small_store,
                             split="test", data=data, ms=[4], schemes=["frame"], cost=None)
    fused = [r for r in rows if r["agent"] == "ocsampler" and r["stream"] == "fused"]
    assert fused and fused[0]["frames"] == 4.0
    bad = tmp_path / "other.pt"
    torch.save({"method": "liteeval"}, bad)
    with pytest.raises(ValueError, match=r"other\.pt: not an OCSampler checkpoint"):
        oc.load(bad)
    with pytest.raises(ValueError, match="trained on features"):
        again.scores({"features": np.zeros((2, 25, 5)), "predictions": obs["predictions"][:2]})
