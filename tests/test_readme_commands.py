"""Every command in README.md, the docs site's pages and examples/README.md, run as typed.

The commands are read out of the documents' ``bash`` and ``python`` code blocks, so a documented
command that breaks fails this test, and a command added to a README is run without anyone
editing this file. They run in document order in one scratch project directory (links to the
repository's ``scripts/``, ``examples/``, the package and ``.venv``, a fresh ``runs/``), so chained
commands use each other's real outputs (``runs/as`` from training feeds the comparison).

Three things differ from a user's terminal, all on purpose and listed here:

* ``SMALL_SIZE`` flags are appended to a script's command line so the suite stays fast on 2 CPU
  cores (argparse keeps the last value, so the typed command is otherwise unchanged); the bare
  ``bash scripts/quickstart.sh`` runs as its explicit form ``bash scripts/quickstart.sh train``
  with ``scripts/train_reinforce.py``'s flags;
* in ``python`` blocks, the sizes of ``SMALL_PYTHON`` are replaced (``builtin:test``, 250
  videos to generate on a fresh machine, becomes its first four videos);
  ``README_FULL_SIZE=1 python -m pytest -s tests/test_readme_commands.py`` runs every command
  exactly as typed, at its documented size, and prints what each took;
* files that a user brings (``my_features.npz``) are made by :func:`user_files` first.

``bash scripts/quickstart.sh test`` is not run here: it is the command that runs this suite.
Commands reading ``../shared/realdata`` skip, with the reason, when that folder is absent, and
so do those of ``docs/REPRODUCE.md``, which read the full datasets under ``/data/``
(``tests/test_reproduce.py`` runs ``scripts/reproduce.sh`` on a stand-in for them). A command
typed on several pages (the quick start's, for one) runs once, where it first appears.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REALDATA

REPO = Path(__file__).resolve().parents[1]
#: in the order a chain needs (the store import before training on it, the runs before the
#: comparisons that read them); every page of the docs site is listed (tests/test_docs.py checks)
DOCS = ("README.md", "docs/quickstart.md", "docs/install.md", "docs/envs.md",
        "docs/feature-stores.md", "docs/agents.md", "docs/comparisons.md", "docs/cost.md",
        "docs/extraction.md", "docs/online.md", "docs/errors.md", "docs/benchmarks.md",
        "docs/REPRODUCE.md",
        "docs/development.md", "docs/layout.md", "docs/index.md", "examples/README.md")
LINKED = ("scripts", "examples", "frame_select_env", "agents", "baselines_zoo", "pyproject.toml")

#: appended to each script's documented command line to keep the suite small
SMALL_SIZE: dict[str, list[str]] = {
    "scripts/train_reinforce.py": ["--epochs", "3", "--seeds", "1", "--eval-m", "4,8"],
    "scripts/train_sb3.py": ["--n-timesteps", "256", "--eval-split", "", "--set", "n_envs=2"],
    "scripts/compare_agents.py": ["--seeds", "1", "--ms", "4", "8"],
    "scripts/extract_features.py": ["--num-frames", "5", "--size", "128", "96", "--crop", "96",
                                    "--arch", "small"],
    "scripts/compare_cost.py": ["--seeds", "1", "--epochs", "3", "--ms", "4", "8"],
    "scripts/train_selector.py": ["--set", "epochs=2"],
    "scripts/compare_field.py": ["--seeds", "1", "--epochs", "2", "--ms", "4,8", "--views", "1"],
    "scripts/train_seq_agent.py": ["--epochs", "1", "--seeds", "1", "--budgets", "4", "--set",
                                   "num_episodes=2", "hidden_size=16", "proj_dim=16"],
}
#: the quick start's command without a subcommand trains AS: it gets train_reinforce.py's flags
QUICKSTART = "scripts/quickstart.sh"
#: replaced in ``python`` blocks to keep the suite small (typed text -> the text run)
SMALL_PYTHON = {'videos="builtin:test",': 'videos="builtin:test:4",',
                "n_steps=256).learn(2_048)": "n_steps=256).learn(512)"}
#: documented commands this test does not run, with the reason
NOT_RUN = {
    "bash scripts/quickstart.sh test": "it runs this test suite (CI runs it)",
}
#: pages whose commands need the full datasets, with the reason
FULL_DATA_DOCS = {
    "docs/REPRODUCE.md": "it reads the full UCF101/HMDB51 under /data/ (tests/test_reproduce.py "
                         "runs scripts/reproduce.sh on a stand-in of the same layout)",
}
#: files a command must leave behind (prefix of the typed command -> paths)
EXPECTED_OUTPUTS = {
    "python scripts/import_features.py my_features.npz my_store.h5": ["my_store.h5"],
    "python scripts/train_reinforce.py --out runs/as": [
        "runs/as/results.csv", "runs/as/agent_rgb.pt", "runs/as/accuracy_vs_m.png"],
    "python scripts/train_sb3.py --algo ppo": ["runs/ppo/model.zip"],
    "python scripts/compare_agents.py": ["runs/compare/table.md", "runs/compare/results.csv",
                                         "runs/compare/accuracy_vs_m.png"],
    "python scripts/extract_features.py --list examples/ucf101_clips.txt": [],
    "python scripts/merge_stores.py runs/clips.h5.shard0": ["runs/clips_merged.h5"],
    "python scripts/train_selector.py --method frameexit": ["runs/frameexit/frameexit.pt"],
    "python scripts/train_seq_agent.py --out runs/seq_as": [
        "runs/seq_as/results.csv", "runs/seq_as/seed_0/seq_agent.pt", "runs/seq_as/table.md"],
    "python scripts/compare_field.py --out runs/field": [
        "runs/field/table.md", "runs/field/results.csv", "runs/field/accuracy_vs_gmacs.png"],
}


def _merged_equals_unsharded(project: Path) -> None:
    from frame_select_env.store import FeatureStore

    whole, merged = FeatureStore(project / "runs/clips.h5"), FeatureStore(
        project / "runs/clips_merged.h5")
    assert len(whole) == len(merged) == 9
    order = [whole.index_of(v) for v in merged.video_ids]
    for stream in ("rgb", "flow"):
        np.testing.assert_array_equal(merged.features(stream, np.arange(9)),
                                      whole.features(stream, np.array(order)))


def _trained_agent_beats_random(project: Path) -> None:
    import csv

    with open(project / "runs/as/results_mean.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["stream"] == "fused" and r["m"] == "8"]
    acc = {r["agent"]: float(r["accuracy"]) for r in rows if r["scheme"] == "frame"}
    assert acc["as"] > acc["random"], acc


#: checks of what a command computed (prefix of the typed command -> check)
CHECKS = {
    "python scripts/merge_stores.py runs/clips.h5.shard0": _merged_equals_unsharded,
    "python scripts/train_reinforce.py --out runs/as": _trained_agent_beats_random,
}


@dataclass
class Command:
    doc: str
    line: int
    kind: str  # "bash" or "python"
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def _blocks(doc: str) -> list[tuple[int, str, list[str]]]:
    lines = (REPO / doc).read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = re.match(r"^```(\w+)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        out.append((start + 1, m.group(1), body))
        i += 1
    return out


def documented_commands() -> list[Command]:
    """The shell commands (continuations joined, comments dropped) and python blocks, in order;
    a command typed on several pages is kept where it first appears."""
    cmds: list[Command] = []
    seen: set[tuple[str, str]] = set()
    for doc in DOCS:
        imports: list[str] = []  # a reader runs a document's snippets in one session
        for first, lang, body in _blocks(doc):
            if lang == "python":
                cmds.append(Command(doc, first, "python", "\n".join(imports + body)))
                imports += [x for x in body if x.startswith(("import ", "from "))]
                continue
            if lang not in ("bash", "sh", "shell"):
                continue
            pending, at = "", first
            for k, raw in enumerate(body):
                line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
                if not pending:
                    at = first + k
                if line.endswith("\\"):
                    pending += line[:-1] + " "
                    continue
                text = (pending + line).strip()
                pending = ""
                if text:
                    cmds.append(Command(doc, at, "bash", " ".join(text.split())))
    unique = []
    for cmd in cmds:
        if (cmd.kind, cmd.text) not in seen:
            seen.add((cmd.kind, cmd.text))
            unique.append(cmd)
    return unique


COMMANDS = documented_commands()


def user_files(project: Path) -> None:
    """What a user brings to the documented commands: ``my_features.npz`` (README, feature
    import), written from the built-in store in the documented layout."""
    from frame_select_env.store import FeatureStore
    from frame_select_env.store.builtin import builtin_store_path

    store = FeatureStore(builtin_store_path())
    rows = np.concatenate([store.indices(s)[:n] for s, n in
                           (("train", 60), ("val", 20), ("test", 40))])
    feats, logits = store.features("rgb", rows), store.logits("rgb", rows)
    np.savez(project / "my_features.npz", features=feats, logits=logits,
             labels=store.labels[rows], split=np.asarray(store.splits)[rows].astype(str),
             video_ids=np.asarray(store.video_ids)[rows].astype(str),
             class_names=np.asarray(store.class_names, dtype=str))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("newcomer")
    proj = root / "project"
    proj.mkdir()
    for name in LINKED:
        (proj / name).symlink_to(REPO / name)
    (proj / ".venv").symlink_to(Path(sys.prefix))
    if REALDATA.is_dir():
        (root / "shared").symlink_to(REALDATA.parent)  # ../shared from the project
    user_files(proj)
    return proj


#: ``--out`` of the commands skipped so far -> that command's id: a later command that reads one
#: of them (a chain) is skipped too, rather than failing on a missing input
SKIPPED_OUTPUTS: dict[str, str] = {}


def _skip_with_outputs(cmd: Command, reason: str) -> None:
    words = shlex.split(cmd.text)
    for flag, value in zip(words, words[1:], strict=False):
        if flag == "--out":
            SKIPPED_OUTPUTS[value] = cmd.id
    pytest.skip(reason)


def argv_of(cmd: Command) -> list[str]:
    words = shlex.split(cmd.text)
    if words[0] == "python":
        words[0] = sys.executable  # the venv's python, as after `source .venv/bin/activate`
    if os.environ.get("README_FULL_SIZE"):
        return words
    if words[1:] in ([QUICKSTART], [QUICKSTART, "train"]):
        return [*words[:2], "train", *SMALL_SIZE["scripts/train_reinforce.py"]]
    if len(words) > 1 and words[1] in SMALL_SIZE:
        words += SMALL_SIZE[words[1]]
    return words


def code_of(cmd: Command) -> str:
    """A ``python`` block's code as run: ``SMALL_PYTHON``'s sizes replaced."""
    if os.environ.get("README_FULL_SIZE"):
        return cmd.text
    code = cmd.text
    for typed, small in SMALL_PYTHON.items():
        code = code.replace(typed, small)
    return code


def test_readme_commands_were_found() -> None:
    # Guards the parser: the documents hold these, so finding fewer means it broke.
    texts = [c.text for c in COMMANDS]
    assert "bash scripts/quickstart.sh" in texts
    assert any(t.startswith("python scripts/train_sb3.py --algo ppo") for t in texts)
    assert any(t.startswith("python scripts/compare_agents.py") for t in texts)
    assert sum(c.kind == "python" for c in COMMANDS) >= 3
    for prefix in EXPECTED_OUTPUTS:
        assert any(t.startswith(prefix) for t in texts), f"no documented command {prefix!r}"
    for typed in SMALL_PYTHON:  # a size replaced in no block is a stale entry
        assert any(typed in c.text for c in COMMANDS if c.kind == "python"), typed
    quick = next(c for c in COMMANDS if c.text == f"bash {QUICKSTART}")
    assert argv_of(quick)[2:4] == ["train", "--epochs"] or os.environ.get("README_FULL_SIZE")


@pytest.mark.slow
@pytest.mark.parametrize("cmd", COMMANDS, ids=[c.id for c in COMMANDS])
def test_documented_command_runs(cmd: Command, project: Path) -> None:
    if cmd.text in NOT_RUN:
        pytest.skip(f"{cmd.text!r}: {NOT_RUN[cmd.text]}")
    needs = [out for out in SKIPPED_OUTPUTS if out in shlex.split(cmd.text)]
    if needs:
        _skip_with_outputs(cmd, f"it reads {needs[0]}, the output of the skipped "
                                f"{SKIPPED_OUTPUTS[needs[0]]}")
    if "../shared/realdata" in cmd.text and not REALDATA.is_dir():
        _skip_with_outputs(cmd, f"{REALDATA} is absent (the real clips and split files)")
    if cmd.doc in FULL_DATA_DOCS:
        _skip_with_outputs(cmd, FULL_DATA_DOCS[cmd.doc])
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    env.pop("FRAME_SELECT_ENV_STORE", None)
    if cmd.text.startswith("bash scripts/quickstart.sh"):
        # quickstart's own mark of a finished set-up for this pyproject.toml; without it the
        # command would start installing, which is the set-up CI has just done.
        digest = hashlib.sha1((REPO / "pyproject.toml").read_bytes()).hexdigest()[:12]
        if not (Path(sys.prefix) / f".installed-{digest}").is_file():
            pytest.skip(f"{sys.prefix} was not set up by scripts/quickstart.sh for this "
                        f"pyproject.toml")
    if cmd.kind == "python":
        argv = [sys.executable, "-c", code_of(cmd)]  # -c: the project directory is on sys.path
    else:
        argv = argv_of(cmd)
    start = time.perf_counter()
    out = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True,
                         timeout=None if os.environ.get("README_FULL_SIZE") else 600)
    took = time.perf_counter() - start
    print(f"{cmd.id} ({took:.1f}s): {cmd.text[:120]}")
    assert out.returncode == 0, (
        f"{cmd.id}: `{cmd.text}` exited {out.returncode}\n--- stdout\n{out.stdout[-3000:]}"
        f"\n--- stderr\n{out.stderr[-3000:]}"
    )
    for prefix, paths in EXPECTED_OUTPUTS.items():
        if cmd.text.startswith(prefix):
            missing = [p for p in paths if not (project / p).is_file()]
            assert not missing, f"{cmd.id}: `{cmd.text}` did not write {missing}"
    for prefix, check in CHECKS.items():
        if cmd.text.startswith(prefix):
            check(project)
