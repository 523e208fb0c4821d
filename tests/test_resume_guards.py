"""``--resume`` continues the same run or refuses: another store or fewer epochs are errors.

A resume on another feature store (other videos) used to carry on silently and rewrite the run's
``config.yaml`` with the new store; a resume with ``--epochs`` below the checkpoint's epoch used to
record that smaller number in ``config.yaml`` and the agents. Both are refused now, before
anything in the run directory is rewritten; a store moved to another path is the same store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from agents.as_agent import load_agent
from agents.reinforce import ReinforceConfig, ReinforceTrainer
from baselines_zoo.sb3.train import train_sb3
from frame_select_env.store.synthetic import make_synthetic_store
from scripts import train_reinforce as script

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``big`` (60 videos), ``small`` (40, same sizes) and ``moved`` (a copy of ``big``)."""
    root = tmp_path_factory.mktemp("guards")
    kw = dict(num_views=1, feature_dim=8, num_classes=4, streams=("rgb",), seed=3)
    big = make_synthetic_store(root / "big.h5", num_videos=60, **kw)
    small = make_synthetic_store(root / "small.h5", num_videos=40, **kw)
    (root / "elsewhere").mkdir()
    moved = Path(shutil.copy(big, root / "elsewhere" / "big.h5"))
    return {"big": big, "small": small, "moved": moved}


def _config(**kw) -> ReinforceConfig:
    base = dict(epochs=2, batch_size=16, num_episodes=2, proj_dim=4, hidden_size=4,
                tensorboard=False)
    base.update(kw)
    return ReinforceConfig(**base)


def test_trainer_refuses_another_store_and_a_checkpoint_past_epochs(stores, tmp_path) -> None:
    ReinforceTrainer(stores["big"], "rgb", _config(), out_dir=tmp_path).train()
    other = ReinforceTrainer(stores["small"], "rgb", _config(), out_dir=tmp_path)
    with pytest.raises(ValueError, match="was trained on the feature store") as err:
        other.load_checkpoint()
    msg = str(err.value)
    assert str(tmp_path / "checkpoint_rgb.pt") in msg
    assert f"{str(stores['big'])!r} (60 videos" in msg
    assert f"{str(stores['small'])!r} (40 videos" in msg
    # the same store under another path (a moved checkout) continues
    moved = ReinforceTrainer(stores["moved"], "rgb", _config(epochs=3), out_dir=tmp_path)
    assert moved.load_checkpoint() and moved.epoch == 2
    # a checkpoint already past the target is refused, not recorded as fewer epochs
    fewer = ReinforceTrainer(stores["big"], "rgb", _config(epochs=1), out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"has already trained 2 epochs, more than epochs=1"):
        fewer.load_checkpoint()


def _refused(capsys: pytest.CaptureFixture[str], rc: int) -> str:
    """The one ``error:`` line of a refused command (status 2, no traceback)."""
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    return line


def test_train_reinforce_resume_keeps_the_recorded_store_and_epochs(stores, tmp_path,
                                                                    capsys) -> None:
    out = tmp_path / "run"
    common = ["--out", str(out), "--seeds", "1", "--stream", "rgb", "--eval-m", "4",
              "--no-progress", "--threads", "1"]
    assert script.main(["--store", str(stores["big"]), "--epochs", "2", *common]) == 0
    recorded = (out / "config.yaml").read_text()
    capsys.readouterr()

    line = _refused(capsys, script.main(["--store", str(stores["small"]), "--epochs", "2",
                                         "--resume", *common]))
    assert "records the run's feature store" in line
    assert str(out / "config.yaml") in line and "(40 videos" in line
    line = _refused(capsys, script.main(["--store", str(stores["big"]), "--epochs", "1",
                                         "--resume", *common]))
    assert "has already trained 2 epochs, more than epochs=1" in line
    # without --resume (or --overwrite) the finished run is not written over
    line = _refused(capsys, script.main(["--store", str(stores["big"]), "--epochs", "2",
                                         *common]))
    assert f"--out {str(out)!r} already holds a run (" in line and "agent_rgb.pt" in line
    assert "pass --resume to continue it, --overwrite to replace it" in line
    # none of the refusals rewrote the run's record
    assert (out / "config.yaml").read_text() == recorded
    _, meta = load_agent(out / "agent_rgb.pt")
    assert meta["epochs"] == 2 and meta["store"] == str(stores["big"])

    # the moved store is the same one: the run resumes (nothing left to train) and records it
    script.main(["--store", str(stores["moved"]), "--epochs", "2", "--resume", *common])
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["store"] == str(stores["moved"]) and config["training"]["epochs"] == 2


def test_train_sb3_resume_refuses_another_store_or_hyperparameters(stores, tmp_path) -> None:
    kw = dict(policy="mlp", n_timesteps=16, out=tmp_path, progress_bar=False,
              overrides={"n_envs": 2})
    train_sb3("a2c", store=stores["big"], **kw)
    recorded = (tmp_path / "config.yaml").read_text()
    with pytest.raises(ValueError, match="records the run's feature store") as err:
        train_sb3("a2c", store=stores["small"], resume=True, **kw)
    assert str(tmp_path / "config.yaml") in str(err.value)
    assert "(60 videos" in str(err.value) and "(40 videos" in str(err.value)
    with pytest.raises(ValueError, match="records hyperparams=") as err:
        train_sb3("a2c", store=stores["big"], resume=True,
                  **{**kw, "overrides": {"n_envs": 2, "learning_rate": 0.5}})
    assert (tmp_path / "config.yaml").read_text() == recorded


def test_resume_refuses_a_store_with_one_value_changed(stores, tmp_path,
                                                       capsys) -> None:
    """Issue 28, item 3: the same ids, labels and sizes, one feature changed, is another store."""
    import h5py

    from agents.reinforce import same_store, store_fingerprint
    from frame_select_env.store import FeatureStore

    edited = Path(shutil.copy(stores["big"], tmp_path / "edited.h5"))
    with h5py.File(edited, "r+") as f:
        f["streams/rgb/features"][3, 0, 0, 0] += 1.0
    a, b = store_fingerprint(FeatureStore(stores["big"])), store_fingerprint(FeatureStore(edited))
    assert {k: v for k, v in a.items() if k not in ("path", "sha256")} == {
        k: v for k, v in b.items() if k not in ("path", "sha256")}  # ids and sizes agree
    assert not same_store(a, b)
    assert same_store(a, store_fingerprint(FeatureStore(stores["moved"])))  # a copy is the same
    old = {k: v for k, v in a.items() if k != "sha256"}  # a run recorded before the digest
    assert same_store(old, b)

    out = tmp_path / "run"
    common = ["--out", str(out), "--seeds", "1", "--stream", "rgb", "--eval-m", "4",
              "--no-progress", "--threads", "1", "--epochs", "1"]
    assert script.main(["--store", str(stores["big"]), *common]) == 0
    recorded = (out / "config.yaml").read_text()
    capsys.readouterr()
    line = _refused(capsys, script.main(["--store", str(edited), "--resume", *common]))
    assert "records the run's feature store" in line
    assert f"sha256 {a['sha256'][:12]}" in line and f"sha256 {b['sha256'][:12]}" in line
    assert str(stores["big"]) in line and str(edited) in line
    assert (out / "config.yaml").read_text() == recorded
    # --overwrite replaces the run (on the edited store); --resume with it is refused
    line = _refused(capsys, script.main(["--store", str(edited), "--resume", "--overwrite",
                                         *common]))
    assert "give one" in line
    assert script.main(["--store", str(edited), "--overwrite", *common]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["store"] == str(edited)
