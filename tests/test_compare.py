"""scripts/compare_agents.py end to end on a small synthetic store."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from frame_select_env.evaluation import read_csv
from frame_select_env.store.synthetic import make_synthetic_store

ROOT = Path(__file__).resolve().parents[1]
MAIN = runpy.run_path(str(ROOT / "scripts" / "compare_agents.py"),
                      run_name="compare_agents")["main"]

USER_POLICY = '''
import numpy as np


class PeakPolicy:
    """Keeps frames whose top class has the highest probability (a user-written policy)."""

    name = "peak"
    uses_label = False

    def scores(self, obs, info=None):
        return np.asarray(obs["predictions"]).max(-1)
'''


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_store(tmp_path_factory.mktemp("cmp") / "syn.h5", num_videos=160, seed=5)


def test_compare_agents_end_to_end(store: Path, tmp_path: Path, capsys) -> None:
    user = tmp_path / "user_policies.py"
    user.write_text(USER_POLICY)
    out = tmp_path / "out"
    rc = MAIN(["--store", str(store), "--agents", "random", "uniform", "confidence", "oracle",
               "relevance-oracle", f"{user}:PeakPolicy", "--seeds", "2", "--out", str(out),
               "--ms", "4", "8", "25", "--no-progress"])
    assert rc == 0
    for name in ("results.csv", "table.md", "accuracy_vs_m.png", "selections.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    rows = read_csv(out / "results.csv")
    agents = {r["agent"] for r in rows}
    assert agents == {"all", "random", "uniform", "confidence", "oracle", "relevance-oracle",
                      "peak"}
    # Tidy: one row per agent x scheme x m x stream (rgb, flow, fused) x seed.
    assert len(rows) == 7 * 2 * 3 * 3 * 2
    assert {r["stream"] for r in rows} == {"rgb", "flow", "fused"}
    acc = {(r["agent"], r["scheme"], r["m"], r["stream"], r["seed"]): r["accuracy"] for r in rows}
    for r in rows:
        assert 0.0 <= r["accuracy"] <= 100.0 and 0.0 <= r["mean_class_accuracy"] <= 100.0
        assert r["uses_label"] == (r["agent"] in ("oracle", "relevance-oracle"))
    for scheme in ("frame", "region"):
        for stream in ("rgb", "flow", "fused"):
            for seed in (0, 1):
                key = (scheme, 4, stream, seed)
                assert acc[("oracle", *key)] >= acc[("random", *key)]
                assert acc[("oracle", *key)] >= acc[("confidence", *key)] - 2.0
                # The user policy is the built-in confidence rule: same numbers.
                assert acc[("peak", *key)] == acc[("confidence", *key)]
            # At m = T every policy keeps every frame: identical to 'all'.
            for agent in agents:
                assert acc[(agent, scheme, 25, stream, 0)] == acc[("all", scheme, 25, stream, 0)]
    # Deterministic agents give the same numbers for every seed.
    assert acc[("uniform", "frame", 4, "rgb", 0)] == acc[("uniform", "frame", 4, "rgb", 1)]
    # The relevance oracle keeps only relevant frames when m <= the relevant count (>= 3 here).
    prec = {(r["agent"], r["m"]): r["precision"] for r in rows
            if r["scheme"] == "frame" and r["stream"] == "rgb"}
    assert prec[("relevance-oracle", 4)] > 90.0 > prec[("random", 4)]

    table = (out / "table.md").read_text()
    assert "## fused stream, frame-based selection" in table
    assert "oracle †" in table and "*upper bounds" in table
    # The oracle block comes after every non-oracle row of the first table.
    first = table.split("## ")[1]
    assert first.index("| peak") < first.index("*upper bounds") < first.index("| oracle †")
    # The best non-oracle entry of the m=4 column is in bold and is the confidence/peak value.
    best = max(np.mean([acc[(a, "frame", 4, "rgb", s)] for s in (0, 1)])
               for a in ("random", "uniform", "confidence", "peak", "all"))
    assert f"**{best:.1f} ± " in first
    assert "results.csv" in capsys.readouterr().out


def test_bad_agent_spec_is_a_clear_error(store: Path, tmp_path: Path, capsys) -> None:
    rc = MAIN(["--store", str(store), "--agents", "random", "ppo:/does/not/exist.zip",
               "--out", str(tmp_path / "x"), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "bad agent spec 'ppo:/does/not/exist.zip'" in err and "does not exist" in err
    assert "accepted agent specs" in err and "as:PATH" in err and "MODULE:ATTR" in err
    assert not (tmp_path / "x" / "results.csv").exists()


def test_builtin_store_is_the_default(tmp_path: Path) -> None:
    from frame_select_env.store.builtin import PACKAGED_STORE

    if not PACKAGED_STORE.is_file():
        pytest.skip("the built-in store frame_select_env/data/sparse_actions.h5 is not built")
    out = tmp_path / "builtin"
    rc = MAIN(["--agents", "random", "confidence", "oracle", "--seeds", "1", "--ms", "4",
               "--schemes", "frame", "--out", str(out), "--no-progress"])
    assert rc == 0
    rows = read_csv(out / "results.csv")
    acc = {(r["agent"], r["stream"]): r["accuracy"] for r in rows}
    for stream in ("rgb", "flow", "fused"):
        assert acc[("oracle", stream)] >= acc[("confidence", stream)] >= acc[("random", stream)]
        assert acc[("oracle", stream)] > acc[("all", stream)]
