"""REINFORCE (Algorithm 1): the losses, the baseline, the schedule, learning and exact resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agents.as_agent import ASPolicy
from agents.reinforce import ReinforceConfig, ReinforceTrainer, reinforce_losses
from frame_select_env.evaluation import evaluate_policies
from frame_select_env.store.synthetic import make_synthetic_store

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def toy_store(tmp_path_factory):
    """Sparse relevant frames, one stream, two views: 300 train and 200 test videos."""
    path = tmp_path_factory.mktemp("toy") / "toy.h5"
    return make_synthetic_store(path, num_videos=500, num_views=2, feature_dim=16, streams=("rgb",),
                          split_fractions=(0.6, 0.0, 0.4), seed=1)


def _config(**kw) -> ReinforceConfig:
    base = dict(epochs=2, lr=3e-3, batch_size=16, num_episodes=4, proj_dim=16, hidden_size=16,
                baseline_init="first", tensorboard=False)
    base.update(kw)
    return ReinforceConfig(**base)


def test_losses_by_hand() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)], [math.log(1 / 3), 0.0]])  # p = .5 .75 / .25 .5
    actions = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    advantage = torch.tensor([2.0, -1.0])
    lp0 = math.log(0.5) + math.log(0.25)  # keep (p=.5), drop (1-.75)
    lp1 = math.log(0.75) + math.log(0.5)  # drop (1-.25), keep (p=.5)
    pg, samp = reinforce_losses(logits, actions, advantage, beta=0.1, target=0.4)
    assert pg.item() == pytest.approx(-(2.0 * lp0 - 1.0 * lp1) / 2, rel=1e-5)
    # Eq. 9 per episode: |mean_t p - m/T|: |0.625 - 0.4| and |0.375 - 0.4|
    assert samp.item() == pytest.approx(0.1 * (0.225 + 0.025) / 2, rel=1e-5)
    pg_mean, _ = reinforce_losses(logits, actions, advantage, reduce="mean")
    assert pg_mean.item() == pytest.approx(pg.item() / 2, rel=1e-5)
    # Padding episodes (weight 0) do not count.
    pg_w, samp_w = reinforce_losses(logits, actions, advantage, torch.tensor([1.0, 0.0]),
                                    beta=0.1, target=0.4)
    assert pg_w.item() == pytest.approx(-2.0 * lp0, rel=1e-5)
    assert samp_w.item() == pytest.approx(0.1 * 0.225, rel=1e-5)


def test_sampling_loss_gradient_pushes_towards_target() -> None:
    logits = torch.zeros(4, 10, requires_grad=True)  # p = 0.5 > target 0.2
    _, samp = reinforce_losses(logits, torch.zeros(4, 10), torch.zeros(4), beta=0.1, target=0.2)
    samp.backward()
    assert torch.all(logits.grad > 0)  # gradient descent lowers p


def test_baseline_update_and_episode_layout(toy_store) -> None:
    trainer = ReinforceTrainer(toy_store, "rgb", _config(baseline_init="zero", num_episodes=3))
    videos = np.array([4, 9, 2])
    calls = {}
    original = trainer.env.step

    def spy(actions):
        out = original(actions)
        calls["reward"], calls["index"], calls["view"] = out[1], out[4]["index"], out[4]["view"]
        return out

    trainer.env.step = spy
    trainer.train_step(videos)
    # N episodes per video, padded to batch_size videos with copies of the first.
    assert calls["index"].tolist() == np.repeat(np.r_[videos, [4] * 13], 3).tolist()
    # The N episodes of a video share its (random) view.
    assert (calls["view"].reshape(16, 3) == calls["view"][::3, None]).all()
    mean_r = calls["reward"].reshape(16, 3)[:3].mean(1)
    np.testing.assert_allclose(trainer.baselines[videos], 0.1 * mean_r)  # 0.9 * 0 + 0.1 * mean
    assert trainer.baselines[np.setdiff1d(np.arange(trainer.num_videos), videos)].max() == 0


def test_scheduler_steps(toy_store) -> None:
    trainer = ReinforceTrainer(toy_store, "rgb", _config(epochs=4, lr=1e-2, lr_milestones=(1, 3)))
    log = trainer.train()
    assert [row["lr"] for row in log] == pytest.approx([1e-2, 1e-3, 1e-3, 1e-4])
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert trainer.scheduler.last_epoch == 4


def test_learns_to_pick_relevant_frames(toy_store) -> None:
    cfg = _config(epochs=25, lr=3e-3, num_episodes=8, lr_milestones=(20,), seed=0,
                  baseline_mode="episode_mean")
    trainer = ReinforceTrainer(toy_store, "rgb", cfg)
    log = trainer.train()
    assert log[-1]["reward"] > log[0]["reward"] + 1.0
    assert log[-1]["accuracy"] > log[0]["accuracy"] + 10  # train accuracy after selection
    rows = evaluate_policies({"as": {"rgb": ASPolicy(trainer.agent.cpu())}}, toy_store,
                             streams=("rgb",), ms=(8, 25), schemes=("frame",))
    acc = {(r["agent"], r["m"]): r for r in rows}
    all_frames = acc[("all", 8)]["accuracy"]
    assert all_frames < 75  # the toy store misleads the all-frames average
    assert acc[("as", 8)]["accuracy"] >= all_frames + 6
    # It keeps the frames that show the action (about 25 % of the frames are relevant).
    assert acc[("as", 8)]["precision"] > 50 > 30 > acc[("all", 8)]["precision"]
    assert acc[("as", 25)]["accuracy"] == pytest.approx(all_frames)  # m = T keeps everything


def test_seeded_runs_are_identical(toy_store) -> None:
    a = ReinforceTrainer(toy_store, "rgb", _config(seed=3))
    b = ReinforceTrainer(toy_store, "rgb", _config(seed=3))
    a.train(), b.train()
    for (k, va), vb in zip(a.agent.state_dict().items(), b.agent.state_dict().values(),
                           strict=True):
        assert torch.equal(va, vb), k
    assert [r["reward"] for r in a.log] == [r["reward"] for r in b.log]


def test_resume_equals_uninterrupted(toy_store, tmp_path) -> None:
    cfg = _config(epochs=4, dropout=0.2, lr_milestones=(2,))  # dropout: the torch RNG matters
    full = ReinforceTrainer(toy_store, "rgb", cfg)
    full.train()

    first = ReinforceTrainer(toy_store, "rgb", cfg, out_dir=tmp_path)
    first.train(until_epoch=2)  # "interrupted" after epoch 2
    assert (tmp_path / "checkpoint_rgb.pt").is_file()
    assert (tmp_path / "train_log_rgb.csv").read_text().count("\n") == 3
    torch.manual_seed(123), np.random.seed(5)  # disturb global RNGs: the checkpoint restores
    resumed = ReinforceTrainer(toy_store, "rgb", cfg, out_dir=tmp_path)
    assert resumed.load_checkpoint() and resumed.epoch == 2
    resumed.train()
    assert resumed.epoch == 4
    for (k, va), vb in zip(full.agent.state_dict().items(), resumed.agent.state_dict().values(),
                           strict=True):
        assert torch.equal(va, vb), k
    np.testing.assert_array_equal(full.baselines, resumed.baselines)
    assert [r["reward"] for r in full.log] == [r["reward"] for r in resumed.log]
    assert resumed.scheduler.last_epoch == full.scheduler.last_epoch == 4


def test_resume_with_other_config_fails(toy_store, tmp_path) -> None:
    ReinforceTrainer(toy_store, "rgb", _config(epochs=1), out_dir=tmp_path).train()
    other = ReinforceTrainer(toy_store, "rgb", _config(epochs=1, lr=0.5), out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"different config \(differs in \['lr'\]\)"):
        other.load_checkpoint()


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="unknown training options"):
        ReinforceConfig.from_dict({"learning_rate": 1.0}, where="my.yaml")
    with pytest.raises(ValueError, match="baseline_init"):
        ReinforceConfig(baseline_init="mean")


def test_per_episode_views_and_bad_views(toy_store) -> None:
    trainer = ReinforceTrainer(toy_store, "rgb", _config(shared_view=False, num_episodes=4))
    seen = {}
    original = trainer.env.step

    def spy(actions):
        out = original(actions)
        seen["view"] = out[4]["view"]
        return out

    trainer.env.step = spy
    trainer.train_step(np.arange(16))
    views = seen["view"].reshape(16, 4)
    assert (views != views[:, :1]).any()  # episodes draw their own views
    with pytest.raises(ValueError, match=r"options\['views'\] out of range"):
        trainer.env.reset(options={"indices": np.zeros(64, int), "views": np.full(64, 5)})
