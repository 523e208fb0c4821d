"""Files from elsewhere: no code runs from a model file, and unreadable checkpoints say why.

* An SB3 ``model.zip`` whose ``data`` holds a pickle (``":serialized:"``) that would run a shell
  command when unpickled is refused by the comparison (``ppo:PATH``), by
  ``train_sb3(resume=True)`` and, for a ``FrameSelectionSeq-v0`` model, by ``load_seq_sb3``,
  naming the file, and the command never runs.
* Truncated, empty, garbage and code-holding torch files give one ``ValueError`` naming the file
  and the problem, from the REINFORCE resume, the ``as:`` agent spec and ``load_agent``.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shlex
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.as_agent import ASAgent, ASAgentConfig, load_agent, save_agent
from agents.reinforce import ReinforceConfig, ReinforceTrainer
from baselines_zoo.registry import AgentSpecError, parse_agent_spec
from baselines_zoo.sb3.train import load_sb3, train_sb3
from frame_select_env.store.synthetic import make_synthetic_store

TINY_PPO = {"n_envs": 2, "n_steps": 8, "batch_size": 16, "n_epochs": 1}


class _Touch:
    """Unpickling this runs ``touch PATH``: the payload of a hostile model file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {shlex.quote(str(self.path))}",)


def _payload(marker: Path) -> str:
    return base64.b64encode(pickle.dumps(_Touch(marker))).decode()


def _rewrite_data(src: Path, dst: Path, edit) -> Path:
    """Copy an SB3 zip, passing its JSON ``data`` entry through ``edit``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            raw = zin.read(name)
            if name == "data":
                data = json.loads(raw)
                edit(data)
                raw = json.dumps(data).encode()
            zout.writestr(name, raw)
    return dst


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_store(tmp_path_factory.mktemp("untrusted") / "s.h5", num_videos=40,
                                num_classes=4, feature_dim=8, num_views=1, streams=("rgb",))


@pytest.fixture(scope="module")
def ppo_run(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ppo")
    train_sb3("ppo", policy="mlp", n_timesteps=16, out=out, store=store, progress_bar=False,
              overrides=TINY_PPO)
    return out


def test_hostile_sb3_zip_is_refused_and_runs_nothing(ppo_run: Path, store: Path,
                                                     tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    shutil.copytree(ppo_run, run)

    def bare_policy_class(data: dict) -> None:  # the zip
        data["policy_class"] = {":serialized:": _payload(marker)}

    def extra_entry(data: dict) -> None:  # a pickle under a name SB3 never writes
        data["innocent"] = {":type:": "<class 'int'>", ":serialized:": _payload(marker)}

    for edit, problem in ((bare_policy_class, "'policy_class' is a pickle not in the layout"),
                          (extra_entry, "pickled (':serialized:') entries ['innocent']")):
        hostile = _rewrite_data(ppo_run / "model.zip", run / "model.zip", edit)
        # the comparison: compare_agents.py --agents ppo:PATH loads through the registry
        entry = parse_agent_spec(f"ppo:{hostile}")
        with pytest.raises(AgentSpecError) as err:
            entry.policies(["rgb"])
        assert str(hostile) in str(err.value) and problem in str(err.value)
        # train_sb3.py --resume
        shutil.copy(hostile, run / "checkpoint.zip")
        with pytest.raises(ValueError) as err:
            train_sb3("ppo", policy="mlp", n_timesteps=32, out=run, store=store,
                      progress_bar=False, overrides=TINY_PPO, resume=True)
        assert str(run / "checkpoint.zip") in str(err.value) and problem in str(err.value)
        assert not marker.exists(), "a pickle from the model file was run"
    assert json.loads(zipfile.ZipFile(run / "checkpoint.zip").read("data"))["num_timesteps"] == 16


def test_hostile_seq_sb3_zip_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    from baselines_zoo.sb3.scoring import load_seq_sb3

    marker = tmp_path / "PWNED"
    run = tmp_path / "seq"
    train_sb3("maskable_ppo", env_id="FrameSelectionSeq-v0", policy="bilstm", n_timesteps=16,
              out=run, progress_bar=False,
              overrides={**TINY_PPO, "extractor_kwargs": {"proj_dim": 4, "hidden_size": 4}})
    good = load_seq_sb3(run)  # the untouched model loads

    def bare_policy_class(data: dict) -> None:
        data["policy_class"] = {":serialized:": _payload(marker)}

    hostile = _rewrite_data(run / "model.zip", tmp_path / "hostile.zip", bare_policy_class)
    shutil.move(hostile, run / "model.zip")
    with pytest.raises(ValueError) as err:
        load_seq_sb3(run / "model.zip")
    assert str(run / "model.zip") in str(err.value)
    assert "'policy_class' is a pickle not in the layout" in str(err.value)
    assert not marker.exists(), "a pickle from the model file was run"
    assert good.name == "maskable_ppo"


def test_forged_sb3_entries_are_dropped_unread(ppo_run: Path, tmp_path: Path) -> None:
    """A pickle made to look like SB3's own policy class is rebuilt from config.yaml instead."""
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    shutil.copytree(ppo_run, run)

    def forged(data: dict) -> None:
        for key in ("policy_class", "observation_space", "lr_schedule"):
            data[key] = {**data[key], ":serialized:": _payload(marker)}

    _rewrite_data(ppo_run / "model.zip", run / "model.zip", forged)
    model, reference = load_sb3(run / "model.zip"), load_sb3(ppo_run / "model.zip")
    assert not marker.exists()
    for k, v in reference.policy.state_dict().items():
        assert torch.equal(model.policy.state_dict()[k], v), k
    assert model.num_timesteps == 16 and type(model.policy) is type(reference.policy)
    # the schedule is the config's, not the (forged) pickle's
    assert model.lr_schedule(1.0) == pytest.approx(3e-4)


def test_sb3_zip_needs_its_config_and_the_right_algorithm(ppo_run: Path, tmp_path: Path) -> None:
    alone = tmp_path / "alone" / "model.zip"
    alone.parent.mkdir()
    shutil.copy(ppo_run / "model.zip", alone)
    with pytest.raises(ValueError, match=r"config\.yaml.*is missing") as err:
        load_sb3(alone, algo="ppo")
    assert str(alone) in str(err.value)
    with pytest.raises(ValueError, match="is a ppo model") as err:
        load_sb3(ppo_run / "model.zip", algo="a2c")
    assert str(ppo_run / "model.zip") in str(err.value)
    broken = tmp_path / "broken" / "model.zip"
    broken.parent.mkdir()
    shutil.copy(ppo_run / "config.yaml", broken.parent / "config.yaml")
    broken.write_bytes((ppo_run / "model.zip").read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable zip archive") as err:
        load_sb3(broken)
    assert str(broken) in str(err.value)


# --------------------------------------------------------------------- unreadable checkpoints

def _bad_files(tmp_path: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what the message must say)."""
    raw = good.read_bytes()
    files = {
        "truncated": (raw[: len(raw) // 2], "truncated"),
        "empty": (b"", "empty (0 bytes)"),
        "garbage": (b"these are not the weights you are looking for" * 8, "not a torch.save file"),
    }
    out = {}
    for name, (content, says) in files.items():
        path = tmp_path / f"{name}.pt"
        path.write_bytes(content)
        out[name] = (path, says)
    code = tmp_path / "code.pt"
    torch.save({"format": "as_agent/1", "x": _Touch(tmp_path / "PWNED")}, code)
    out["code"] = (code, "run code for (posix.system")
    return out


def test_unreadable_checkpoints_name_the_file_and_the_problem(store: Path,
                                                             tmp_path: Path) -> None:
    cfg = ReinforceConfig(epochs=1, batch_size=8, num_episodes=2, proj_dim=4, hidden_size=4,
                          tensorboard=False)
    (tmp_path / "train").mkdir()
    trainer = ReinforceTrainer(store, "rgb", cfg, out_dir=tmp_path / "train")
    agent = ASAgent(ASAgentConfig(feature_dim=8, num_classes=4, proj_dim=4, hidden_size=4))
    good = save_agent(tmp_path / "good.pt", agent, {"stream": "rgb"})
    for name, (path, says) in _bad_files(tmp_path, good).items():
        # REINFORCE resume: train_reinforce.py --resume reads checkpoint_<tag>.pt
        shutil.copy(path, trainer.checkpoint_path)
        with pytest.raises(ValueError) as err:
            trainer.load_checkpoint()
        messages = [str(err.value)]
        # the comparison's as:PATH spec
        with pytest.raises(AgentSpecError) as err:
            parse_agent_spec(f"as:{path}").policies(["rgb"])
        messages.append(str(err.value))
        with pytest.raises(ValueError) as err:
            load_agent(path)
        messages.append(str(err.value))
        for where, msg in zip((trainer.checkpoint_path, path, path), messages, strict=True):
            assert str(where) in msg and says in msg, (name, msg)
            assert "weights_only=False" not in msg and "`weights_only` set to `False`" not in msg
    assert not (tmp_path / "PWNED").exists()
    # a good file still loads
    loaded, meta = load_agent(good)
    obs = {"features": np.zeros((2, 25, 8), np.float32),
           "predictions": np.full((2, 25, 4), 0.25, np.float32)}
    assert meta == {"stream": "rgb"} and torch.equal(loaded(obs), agent.eval()(obs))
