"""Sequential agents evaluated into the one-step rows: values, cost accounting, agent specs."""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import frame_select_env  # noqa: F401  (registers the envs)
from baselines_zoo.registry import AgentSpecError, parse_seq_agent_specs
from baselines_zoo.seq_policies import (
    SeqConfidencePolicy,
    SeqRandomPolicy,
    SeqRelevanceOracle,
    SeqStopPolicy,
    SeqUniformPolicy,
)
from frame_select_env.envs.sequential.core import SeqCore
from frame_select_env.evaluation import (
    ROW_COLUMNS,
    cost_table,
    evaluate_policies,
    evaluate_sequential,
    plot_accuracy_vs_cost,
    read_csv,
    run_episodes,
    write_csv,
)
from frame_select_env.pipeline.cost import CostModel
from frame_select_env.store import FeatureStore
from frame_select_env.store.builtin import builtin_store_path

T, V = 25, 10
COST = json.loads((builtin_store_path().parent / "sparse_actions_cost.json").read_text())
RGB_FRAME = V * COST["streams"]["rgb"]["macs_per_crop"]  # one frame, 10 crops
FLOW_FRAME = V * COST["streams"]["flow"]["macs_per_crop"]


@pytest.fixture(scope="module")
def test_split() -> dict[str, Any]:
    """The built-in test split read straight from the store: probabilities (B, T, V, C)."""
    fs = FeatureStore(builtin_store_path())
    rows = fs.indices("test")
    out: dict[str, Any] = {"labels": fs.labels[rows], "relevance": fs.relevance(rows)}
    for s in ("rgb", "flow"):
        logits = fs.to_float32(fs.logits(s, rows)).astype(np.float64)
        e = np.exp(logits - logits.max(-1, keepdims=True))
        out[s] = e / e.sum(-1, keepdims=True)
    return out


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, Any]]:
    """One evaluation of the comparators on the built-in test split, by agent and m."""
    policies = {"stop": SeqStopPolicy(), "uniform": [SeqUniformPolicy(4), SeqUniformPolicy(8)],
                "random": SeqRandomPolicy(4), "confidence": SeqConfidencePolicy(4),
                "oracle": SeqRelevanceOracle(4)}
    out = evaluate_sequential(policies, None, "test", seed=0, seconds_flow_methods=("tvl1",))
    return {f"{r['agent']}@{r['m']}": r for r in out}


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return 100.0 * float(np.mean(probs.argmax(-1) == labels))


def test_rows_have_the_evaluation_schema(rows: dict[str, dict[str, Any]]) -> None:
    for row in rows.values():
        assert list(row) == [*ROW_COLUMNS, "seconds_tvl1"]
        assert (row["scheme"], row["stream"], row["alpha"]) == ("frame", "fused", 0.0)
        assert math.isnan(row["threshold"])
    assert rows["uniform@8"]["m"] == 8 and rows["stop@25"]["m"] == T
    assert rows["oracle@4"]["uses_label"] and not rows["random@4"]["uses_label"]


def test_stop_policy_is_the_rgb_stream_alone(rows: dict[str, dict[str, Any]],
                                             test_split: dict[str, Any]) -> None:
    row = rows["stop@25"]
    rgb_all = _accuracy(test_split["rgb"].mean((1, 2)), test_split["labels"])
    assert rgb_all == pytest.approx(74.0)
    assert row["accuracy"] == pytest.approx(rgb_all)
    assert row["frames"] == 0.0 and math.isnan(row["precision"])  # nothing paid
    assert row["gmacs"] * 1e9 == pytest.approx(T * RGB_FRAME, rel=1e-12)


def test_uniform_rows_equal_a_hand_computation(rows: dict[str, dict[str, Any]],
                                               test_split: dict[str, Any]) -> None:
    for k in (4, 8):
        row = rows[f"uniform@{k}"]
        frames = (np.arange(k) * T / k + T / (2 * k)).astype(int)  # TSN segment centres
        fused = (test_split["rgb"][:, frames].mean((1, 2))
                 + test_split["flow"][:, frames].mean((1, 2))) / 2
        assert row["accuracy"] == pytest.approx(_accuracy(fused, test_split["labels"]))
        assert row["precision"] == pytest.approx(100 * test_split["relevance"][:, frames].mean())
        assert row["frames"] == k
        # the cheap pass on all T frames, plus exactly k flow frames of 10 crops
        assert row["gmacs"] * 1e9 == pytest.approx(T * RGB_FRAME + k * FLOW_FRAME, rel=1e-12)
    assert rows["uniform@8"]["seconds"] > rows["uniform@4"]["seconds"]


def test_paying_k_frames_costs_k_flow_frames(rows: dict[str, dict[str, Any]]) -> None:
    stop = rows["stop@25"]["gmacs"]
    for name in ("random@4", "confidence@4", "uniform@4"):
        assert rows[name]["frames"] == 4
        assert (rows[name]["gmacs"] - stop) * 1e9 == pytest.approx(4 * FLOW_FRAME, rel=1e-9)
    oracle = rows["oracle@4"]  # stops early on videos with fewer relevant frames
    assert (oracle["gmacs"] - stop) * 1e9 == pytest.approx(oracle["frames"] * FLOW_FRAME,
                                                           rel=1e-9)


def test_oracle_beats_random_and_pays_only_relevant_frames(rows: dict[str, dict[str, Any]]
                                                           ) -> None:
    assert rows["oracle@4"]["precision"] == 100.0
    assert rows["oracle@4"]["accuracy"] > rows["random@4"]["accuracy"] + 10
    assert rows["confidence@4"]["precision"] > rows["random@4"]["precision"]


def test_oracle_needs_the_relevance() -> None:
    obs = {"paid": np.zeros((2, T), np.float32)}
    masks = np.ones((2, T + 1), bool)
    with pytest.raises(ValueError, match="relevance"):
        SeqRelevanceOracle(3).act(obs, masks)
    rel = np.zeros((2, T), bool)
    rel[0, [3, 9]] = True
    # relevant frames first, then stop; a video without any relevant frame stops at once
    assert SeqRelevanceOracle(3).act(obs, masks, info={"relevance": rel}).tolist()[1] == T
    assert SeqRelevanceOracle(3).act(obs, masks, info={"relevance": rel})[0] in (3, 9)


def test_comparators_act_within_their_budget() -> None:
    env = gym.make("FrameSelectionSeq-v0", split="test", view="mean", max_frames=3)
    core: SeqCore = env.unwrapped.core  # type: ignore[attr-defined]
    for policy in (SeqRandomPolicy(3), SeqUniformPolicy(3), SeqConfidencePolicy(3)):
        done = run_episodes(core, policy)
        assert (done.paid.sum(1) == 3).all() and (done.decisions == 3).all()  # truncated
    conf = run_episodes(core, SeqConfidencePolicy(3))
    state = core.start(np.arange(core.num_videos), None)
    top3 = np.argsort(-state.cheap["predictions"].max(-1), axis=1, kind="stable")[:, :3]
    assert (np.sort(np.flatnonzero(conf.paid[0])) == np.sort(top3[0])).all()
    uni = run_episodes(core, SeqUniformPolicy(3))
    assert np.flatnonzero(uni.paid[0]).tolist() == [4, 12, 20]
    a, b = run_episodes(core, SeqRandomPolicy(3, seed=5)), run_episodes(core, SeqRandomPolicy(3,
                                                                                        seed=5))
    assert (a.paid == b.paid).all()
    env.close()


def test_env_macs_equal_the_cost_model_macs() -> None:
    env = gym.make("FrameSelectionSeq-v0", split="test", view="mean", max_frames=7)
    core: SeqCore = env.unwrapped.core  # type: ignore[attr-defined]
    done = run_episodes(core, SeqRandomPolicy(7, seed=1))
    model = CostModel(COST, core.cheap.rows, core.cheap.frames)
    paid = np.broadcast_to(done.paid[:, :, None], (*done.paid.shape, V))
    macs = model.video_cost({"rgb": None, "flow": paid}).macs
    np.testing.assert_allclose(done.env_macs, macs, rtol=1e-12)
    np.testing.assert_allclose(done.env_macs, T * RGB_FRAME + 7 * FLOW_FRAME, rtol=1e-12)
    env.close()


def test_drifting_env_accounting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong(cost: Any, src: Any) -> tuple[float, float]:
        return 1.0, float("nan")  # e.g. one crop counted instead of ten

    monkeypatch.setattr(SeqCore, "_frame_cost", staticmethod(wrong))
    with pytest.raises(RuntimeError, match="drifted apart"):
        evaluate_sequential({"u": SeqUniformPolicy(2)}, None)


class _PaysTwo:
    """Pays frames 0 and 1, then stops: a rule, free like the one-step rules."""

    name = "rule"
    env_kwargs = {"max_frames": 3}

    def act(self, obs: dict[str, np.ndarray], action_masks: np.ndarray) -> np.ndarray:
        paid = obs["paid"].sum(-1).astype(np.int64)
        return np.where(paid < 2, paid, T)


class _Learned(_PaysTwo):
    """The same choices, from an agent that declares its own MACs per decision."""

    def macs_per_decision(self, num_frames: int) -> float:
        return 1e6 * num_frames


def test_a_learned_policy_adds_its_macs_per_decision_and_time() -> None:
    learned, rule = evaluate_sequential({"l": _Learned(), "r": _PaysTwo()}, None)
    assert learned["m"] == 3 and learned["frames"] == 2  # pay, pay, stop: 3 decisions
    assert rule["gmacs"] * 1e9 == pytest.approx(T * RGB_FRAME + 2 * FLOW_FRAME, rel=1e-12)
    assert (learned["gmacs"] - rule["gmacs"]) * 1e9 == pytest.approx(3 * 1e6 * T, rel=1e-9)
    # the same cost model's seconds, plus the measured act time (whatever it is, not negative)
    assert learned["seconds"] >= rule["seconds"]
    assert learned["accuracy"] == rule["accuracy"]


def test_env_options_the_evaluation_sets_are_refused() -> None:
    with pytest.raises(ValueError, match="view"):
        evaluate_sequential({"s": SeqStopPolicy()}, None, env_kwargs={"view": "center"})


def test_seq_rows_sit_beside_one_step_rows(tmp_path: Path,
                                           rows: dict[str, dict[str, Any]]) -> None:
    from baselines_zoo.policies import UniformPolicy

    one_step = evaluate_policies({"uniform": {s: UniformPolicy() for s in ("rgb", "flow")}},
                                 builtin_store_path(), ms=[4], schemes=("frame",),
                                 include_all=False,
                                 seconds_flow_methods=("tvl1",))
    fused = next(r for r in one_step if r["stream"] == "fused")
    seq = rows["uniform@4"]
    # the same frames: the same prediction; the cheap stream costs all T frames instead of 4
    assert seq["accuracy"] == pytest.approx(fused["accuracy"])
    assert seq["frames"] == fused["frames"] == 4
    assert (seq["gmacs"] - fused["gmacs"]) * 1e9 == pytest.approx((T - 4) * RGB_FRAME, rel=1e-9)
    both = one_step + list(rows.values())
    path = write_csv(tmp_path / "results.csv", both, kind="cost")
    back = read_csv(path)
    assert [r["agent"] for r in back][-1] == "oracle" and back[-1]["uses_label"]
    table = cost_table(both, "fused", "frame", extra=("seconds_tvl1",))
    assert "| stop | m=25 | 74.0 ± 0.0 | 0.0 | 1.066 |" in table
    plot_accuracy_vs_cost(both, tmp_path / "accuracy_vs_cost.png", stream="fused",
                          scheme="frame")
    assert (tmp_path / "accuracy_vs_cost.png").stat().st_size > 0


# ---------------------------------------------------------------------------- agent specs


def test_builtin_specs_give_one_policy_per_budget() -> None:
    entries = parse_seq_agent_specs(["seq-random", "seq-uniform", "seq-confidence", "seq-stop",
                                     "best=seq-oracle"])
    assert [e.name for e in entries] == ["seq-random", "seq-uniform", "seq-confidence",
                                         "seq-stop", "best"]
    assert [e.uses_label for e in entries] == [False, False, False, False, True]
    random = entries[0].policies(budgets=[4, 8, 12], seed=2)
    assert [p.env_kwargs for p in random] == [{"max_frames": b} for b in (4, 8, 12)]
    assert all(p.seed == 2 for p in random)
    assert len(entries[3].policies(budgets=[4, 8])) == 1
    oracle = entries[4].policies(budgets=[4])
    assert isinstance(oracle[0], SeqRelevanceOracle) and oracle[0].name == "best"
    with pytest.raises(AgentSpecError, match="budget"):
        entries[1].policies(budgets=[])


@pytest.mark.parametrize(("spec", "problem"), [
    ("seq-randm", "did you mean 'seq-random'"),
    ("", "empty spec"),
    ("seq-random:3", "takes no ':'"),
    ("seq-as:/no/such/agent.pt", "does not exist"),
    ("maskable_ppo:/no/such/run", "does not exist"),
    ("ppo:", "nothing after"),
    ("no_such_module_xyz:Policy", "could not load user policy"),
])
def test_bad_seq_specs_name_the_problem_and_the_accepted_specs(spec: str, problem: str) -> None:
    with pytest.raises(AgentSpecError, match="accepted sequential agent specs") as err:
        parse_seq_agent_specs([spec])
    assert problem in str(err.value)


def test_duplicate_display_names_are_refused() -> None:
    with pytest.raises(AgentSpecError, match="already used"):
        parse_seq_agent_specs(["seq-stop", "seq-stop"])


def test_learned_specs_load_lazily_once_per_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []

    class Fake:
        def __init__(self, path: str, maskable: bool | None = None) -> None:
            self.path, self.name, self.env_kwargs = path, "fake", {"max_frames": 5}
            if maskable is not None:
                self.maskable = maskable

        def act(self, obs: Any, masks: np.ndarray) -> np.ndarray:
            return np.full(len(masks), masks.shape[1] - 1)

    def load_seq_policies(path: str, seed: int | None = None, stop: bool = True) -> list[Fake]:
        loaded.append(path)
        fake = Fake(path)
        fake.stop = stop  # type: ignore[attr-defined]
        return [fake]

    def load_seq_sb3(path: str) -> Fake:
        return Fake(path, maskable="maskable" in path)

    monkeypatch.setitem(sys.modules, "agents.seq_agent",
                        types.SimpleNamespace(load_seq_policies=load_seq_policies))
    monkeypatch.setitem(sys.modules, "baselines_zoo.sb3.scoring",
                        types.SimpleNamespace(load_seq_sb3=load_seq_sb3))
    seq_as, mppo, ppo = parse_seq_agent_specs(["mine=seq-as:runs/s{seed}/seq_agent.pt",
                                               "maskable_ppo:runs/maskable_{seed}",
                                               "ppo:runs/maskable_{seed}"])
    assert seq_as.name == "mine" and seq_as.kind == "seq-as"
    for _ in range(2):  # budgets are ignored: evaluated at the agent's own env_kwargs
        policies = seq_as.policies(budgets=[4, 8], seed=1)
    assert len(policies) == 1 and policies[0].name == "mine"
    assert loaded == ["runs/s1/seq_agent.pt"]
    assert policies[0].stop is False  # seq-as pays its whole budget; seq-as-stop stops itself
    (own_stop,) = parse_seq_agent_specs(["seq-as-stop:runs/s{seed}/seq_agent.pt"])
    assert own_stop.name == "seq-as-stop" and own_stop.policies(seed=2)[0].stop is True
    assert mppo.policies(seed=0)[0].path == "runs/maskable_0"
    with pytest.raises(AgentSpecError, match="MaskablePPO model, not ppo"):
        ppo.policies(seed=0)


def test_user_specs(tmp_path: Path) -> None:
    path = tmp_path / "my_seq.py"
    path.write_text(
        "import numpy as np\n"
        "class Greedy:\n"
        "    name = 'greedy'\n"
        "    def __init__(self, budget=2):\n"
        "        self.env_kwargs = {'max_frames': budget}\n"
        "    def act(self, obs, masks):\n"
        "        return np.argmax(masks, axis=1)\n"
        "class NoAct:\n"
        "    pass\n"
        "def needs_args(x):\n"
        "    return x\n")
    (entry,) = parse_seq_agent_specs([f"{path}:Greedy"])
    assert entry.name == "greedy" and entry.kind == "user"
    policies = entry.policies(budgets=[3, 6])
    assert [p.env_kwargs["max_frames"] for p in policies] == [3, 6]
    out = evaluate_sequential({entry.name: policies[0]}, None)
    assert out[0]["frames"] == 3 and out[0]["m"] == 3
    for attr, problem in (("NoAct", "no act"), ("needs_args", "with arguments"),
                          ("Missing", "has no attribute")):
        with pytest.raises(AgentSpecError, match=problem):
            parse_seq_agent_specs([f"{path}:{attr}"])


def test_a_store_without_cost_gives_nan_cost_columns(small_store: Path) -> None:
    (row,) = evaluate_sequential({"c": SeqConfidencePolicy(3)}, small_store, "test")
    assert row["frames"] == 3 and math.isnan(row["gmacs"]) and math.isnan(row["seconds"])
    assert 0.0 <= row["accuracy"] <= 100.0 and 0.0 <= row["precision"] <= 100.0


def test_recurrent_and_a2c_specs_check_the_run_algorithm(monkeypatch: pytest.MonkeyPatch) -> None:
    class Named:
        def __init__(self, path: str) -> None:
            self.path, self.env_kwargs = path, {"max_frames": 5}
            self.name = "recurrent_ppo" if "lstm" in path else "a2c"

    monkeypatch.setitem(sys.modules, "baselines_zoo.sb3.scoring",
                        types.SimpleNamespace(load_seq_sb3=Named))
    lstm, a2c, wrong = parse_seq_agent_specs(["recurrent_ppo:runs/lstm_{seed}",
                                              "a2c:runs/a2c_{seed}", "mine=a2c:runs/lstm_{seed}"])
    assert lstm.policies(seed=0)[0].name == "recurrent_ppo"
    assert a2c.policies(seed=1)[0].path == "runs/a2c_1"
    with pytest.raises(AgentSpecError, match="holds a recurrent_ppo model, not a2c"):
        wrong.policies(seed=0)
