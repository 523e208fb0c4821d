"""Compare frame-selection agents on the same test videos (used by ``scripts/compare_agents.py``).

Every agent (see :mod:`baselines_zoo.registry` for the specs) is evaluated by
:func:`agents.evaluation.evaluate_policies`, the one evaluation of the project, at every m, both
schemes (frame- and region-based), per stream and fused, for several seeds. Outputs:

* ``results.csv``: tidy rows ``agent,scheme,m,stream,seed,accuracy,mean_class_accuracy``, plus
  ``precision`` (percent of kept frames that show the action; NaN without relevance) and
  ``uses_label`` (oracle);
* ``table.md``: mean ± std over seeds per agent and m, best non-oracle entry per column in bold,
  oracle rows (they read the label: upper bounds) in their own block below;
* ``accuracy_vs_m.png``: accuracy against m, one line per agent with a mean ± std band;
* ``accuracy_vs_cost.png``: fused (else per-stream) accuracy against GMACs and seconds per video
  (the cost columns ``frames, gmacs, seconds`` of :mod:`agents.evaluation`; the store's cost
  dict, :mod:`frame_select_env.cost`);
* ``selections.png``: which frames each agent keeps on a few test videos.

Policies whose choice depends on m are handled by the evaluation: a policy with ``for_m(m)``
(``uniform``) is asked once per m, and one with ``keeps_all`` (``all``) keeps every frame.
"""

from __future__ import annotations

import csv
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines_zoo.registry import AgentEntry, parse_agent_specs
from frame_select_env.atomic import atomic_path, atomic_savefig, atomic_write_text
from frame_select_env.store import FeatureStore

MS = (4, 8, 12, 16, 20, 25)
SCHEMES = ("frame", "region")
COLUMNS = ("agent", "scheme", "m", "stream", "seed", "accuracy", "mean_class_accuracy",
           "precision", "uses_label", "threshold", "frames", "gmacs", "seconds")
FLOAT_COLUMNS = ("accuracy", "mean_class_accuracy", "precision", "threshold", "frames", "gmacs",
                 "seconds")
METRIC_TEXT = {"accuracy": "Top-1 accuracy (%)",
               "mean_class_accuracy": "Mean class accuracy (%)",
               "precision": "Precision (% of kept frames that show the action)"}
ORACLE_MARK = "†"
CROSS_MARK = "*"


def _input_shapes(store: FeatureStore, streams: Sequence[str]) -> dict[str, dict[str, tuple]]:
    return {s: {"features": (store.num_frames, store.feature_dim(s)),
                "predictions": (store.num_frames, store.num_classes)} for s in streams}


def evaluate_agents(
    entries: Sequence[AgentEntry],
    store: str | os.PathLike,
    seeds: int | Sequence[int] = 3,
    ms: Sequence[int] = MS,
    schemes: Sequence[str] = SCHEMES,
    streams: Sequence[str] = ("rgb", "flow"),
    split: str = "test",
    alpha: float = 0.0,
    fusion_weights: dict[str, float] | None = None,
    cross_stream: bool = True,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate parsed agents; returns the tidy rows (``results.csv``'s content).

    The split is read once (:func:`agents.evaluation.load_split`) and every seed evaluates all
    agents in one :func:`agents.evaluation.evaluate_policies` call.

    :param entries: parsed agent specs (:func:`baselines_zoo.registry.parse_agent_specs`).
    :param store: the feature store.
    :param seeds: number of seeds (0..n-1) or the seeds themselves.
    :param ms: numbers of kept frames.
    :param schemes: ``frame`` and/or ``region``.
    :param streams: streams to evaluate; an agent with every stream also gets ``fused`` rows.
    :param split: the split to evaluate on.
    :param alpha: weight of the non-kept frames (Eq. 10); 0 is the paper's Algorithm 2.
    :param fusion_weights: stream weights of the fused prediction (equal by default).
    :param cross_stream: let single-stream learned agents score the other stream too.
    :param progress: show a tqdm bar over seeds.
    """
    from tqdm.auto import tqdm

    from agents.evaluation import evaluate_policies, load_split

    fs = FeatureStore(store)
    missing = [s for s in streams if s not in fs.streams]
    if missing:
        raise ValueError(f"feature store {str(store)!r} has no stream(s) {missing} (it has "
                         f"{fs.streams})")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    shapes = _input_shapes(fs, streams)
    data = load_split(fs, split, list(streams))
    rows: list[dict[str, Any]] = []
    for seed in tqdm(seed_list, desc="seeds", disable=not progress):
        policies = {e.name: e.policies(streams, seed=seed, cross_stream=cross_stream,
                                       input_shapes=shapes) for e in entries}
        rows += evaluate_policies(policies, fs, split=split, streams=tuple(streams), ms=ms,
                                  schemes=schemes, alpha=alpha, fusion_weights=fusion_weights,
                                  seed=seed, include_all=False, data=data)
    label_of = {e.name: e.uses_label for e in entries}
    tidy = []
    for r in rows:
        row = {k: r.get(k) for k in COLUMNS}
        row["seed"], row["m"] = int(r["seed"]), int(r["m"])
        row["uses_label"] = bool(label_of.get(r["agent"], False) or r.get("uses_label"))
        for k in ("precision", "threshold", "frames", "gmacs", "seconds"):
            row[k] = float("nan") if r.get(k) is None else float(r[k])
        tidy.append(row)
    order = {e.name: i for i, e in enumerate(entries)}
    stream_order = {s: i for i, s in enumerate([*streams, "fused"])}
    tidy.sort(key=lambda r: (order.get(r["agent"], 99), r["scheme"], stream_order.get(
        r["stream"], 99), r["m"], r["seed"]))
    return tidy


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Write the tidy rows atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{r[k]:.4f}" if isinstance(r[k], float) else r[k])
                             for k in COLUMNS})


def read_csv(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read ``results.csv`` back with numeric columns parsed."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["m"], r["seed"] = int(r["m"]), int(r["seed"])
        for k in FLOAT_COLUMNS:
            r[k] = float(r[k]) if r.get(k) not in ("", "nan", None) else float("nan")
        r["uses_label"] = r["uses_label"] in ("True", "true", "1")
    return rows


def summarize(rows: Sequence[dict[str, Any]], metric: str = "accuracy"
              ) -> dict[tuple[str, str, str], dict[int, tuple[float, float, int]]]:
    """(agent, scheme, stream) -> m -> (mean, std, number of seeds) of ``metric``.

    A thin reshaping of :func:`agents.evaluation.summarize` for the table and the plot.
    """
    from agents.evaluation import _finite
    from agents.evaluation import summarize as summarize_rows

    out: dict[tuple[str, str, str], dict[int, tuple[float, float, int]]] = defaultdict(dict)
    # adaptive-budget rows have no m: they belong to the cost table and plot only
    topm = [r for r in rows if not _finite(r.get("threshold"))]
    for e in summarize_rows(topm, ("agent", "scheme", "m", "stream")):
        out[(e["agent"], e["scheme"], e["stream"])][int(e["m"])] = (
            float(e[metric]), float(e[f"{metric}_std"]), int(e["num_seeds"]))
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def summary_cells(summary: dict, key: tuple[str, str], ms: Sequence[int],
                  best: dict[int, float | None], uses_label: dict[str, bool]
                  ) -> dict[str, list[str]]:
    """Formatted ``mean ± std`` cells per agent for one (scheme, stream); best ones in bold."""
    cells: dict[str, list[str]] = {}
    for (agent, scheme, stream), data in summary.items():
        if (scheme, stream) != key:
            continue
        row = []
        for m in ms:
            if m not in data:
                row.append("–")
                continue
            mean, std, _ = data[m]
            cell = f"{mean:.1f} ± {std:.1f}"
            if not uses_label[agent] and best[m] is not None and abs(mean - best[m]) < 1e-9:
                cell = f"**{cell}**"
            row.append(cell)
        cells[agent] = row
    return cells


def display_name(agent: str, uses_label: bool, cross: bool) -> str:
    return agent + (CROSS_MARK if cross else "") + (f" {ORACLE_MARK}" if uses_label else "")


def markdown_table(rows: Sequence[dict[str, Any]], agents: Sequence[AgentEntry] | None = None,
                   metric: str = "accuracy", title: str = "") -> str:
    """Markdown tables (one per stream and scheme) of mean ± std over seeds.

    The best non-oracle mean in each column is bold; oracle rows (``uses_label``) are listed
    separately below a divider row, since they read the ground truth.
    """
    summary = summarize(rows, metric)
    uses_label = {r["agent"]: bool(r["uses_label"]) for r in rows}
    cross = {e.name: e.cross_stream_used for e in agents or []}
    agent_order = list(dict.fromkeys(r["agent"] for r in rows))
    streams = list(dict.fromkeys(r["stream"] for r in rows))
    schemes = list(dict.fromkeys(r["scheme"] for r in rows))
    ms = sorted({int(r["m"]) for r in rows})
    nseeds = max((n for d in summary.values() for (_, _, n) in d.values()), default=0)
    out = [f"# {title}" if title else "",
           f"{METRIC_TEXT.get(metric, metric)}, mean ± std over {nseeds} "
           f"seed(s). **Bold**: best non-oracle agent per column. {ORACLE_MARK} oracle: reads "
           f"the ground truth (label or relevance), an upper bound, not a competitor. "
           f"{CROSS_MARK} one single-stream model scores both streams.", ""]
    for stream in streams:
        for scheme in schemes:
            present = [a for a in agent_order if (a, scheme, stream) in summary]
            if not present:
                continue
            out.append(f"## {stream} stream, {scheme}-based selection")
            out.append("")
            out.append("| agent | " + " | ".join(f"m={m}" for m in ms) + " |")
            out.append("|---|" + "---|" * len(ms))
            best = {}
            for m in ms:
                vals = [summary[(a, scheme, stream)][m][0] for a in present
                        if not uses_label[a] and m in summary[(a, scheme, stream)]]
                best[m] = max(vals) if vals else None

            cells = summary_cells(summary, (scheme, stream), ms, best, uses_label)

            def line(a: str, cells: dict = cells) -> str:
                name = display_name(a, uses_label[a], cross.get(a, False))
                return f"| {name} | " + " | ".join(cells[a]) + " |"

            out += [line(a) for a in present if not uses_label[a]]
            oracles = [a for a in present if uses_label[a]]
            if oracles:
                out.append(f"| *upper bounds ({ORACLE_MARK} use the label)* |" + " |" * len(ms))
                out += [line(a) for a in oracles]
            out.append("")
    return "\n".join(out).lstrip("\n") + "\n"


def cost_table(rows: Sequence[dict[str, Any]], stream: str | None = None,
               scheme: str | None = None, extra: Sequence[str] = ()) -> str:
    """Markdown table of accuracy and cost per agent and budget (mean over seeds).

    :param rows: evaluation rows with the cost columns.
    :param stream: stream shown (default ``fused`` when present, else the first).
    :param scheme: scheme shown (default the first).
    :param extra: more mean columns to show (e.g. ``seconds_tvl1``).
    """
    from agents.evaluation import summarize as summarize_rows

    streams = list(dict.fromkeys(r["stream"] for r in rows))
    stream = stream or ("fused" if "fused" in streams else streams[0])
    scheme = scheme or next(iter(dict.fromkeys(r["scheme"] for r in rows)))
    chosen = [r for r in rows if r["stream"] == stream and r["scheme"] == scheme]
    summary = summarize_rows(chosen, ("agent", "m", "threshold"))
    order = {a: i for i, a in enumerate(dict.fromkeys(r["agent"] for r in chosen))}
    summary.sort(key=lambda e: (order[e["agent"]], e["threshold"] is not None, e["m"],
                                e["threshold"] or 0.0))
    head = ["agent", "budget", "accuracy (%)", "frames", "GMACs / video", "s / video", *extra]
    out = [f"## Accuracy and cost per video ({stream}, {scheme}-based)", "",
           "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    shown_all = False
    for e in summary:
        budget = f"p^a >= {e['threshold']:g}" if e["threshold"] is not None else f"m={e['m']}"
        if e["agent"] == "all":  # the same every-frame prediction at every m: one line
            if shown_all:
                continue
            budget, shown_all = "all frames", True
        cells = [e["agent"], budget, f"{e['accuracy']:.1f} ± {e['accuracy_std']:.1f}",
                 f"{e['frames']:.1f}", f"{e['gmacs']:.3f}", f"{e['seconds']:.3f}",
                 *[f"{e.get(k, float('nan')):.3f}" for k in extra]]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def plot_accuracy_vs_m(rows: Sequence[dict[str, Any]], path: Path, metric: str = "accuracy"
                       ) -> None:
    """One panel per (scheme, stream); one line per agent with a mean ± std band over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(rows, metric)
    uses_label = {r["agent"]: bool(r["uses_label"]) for r in rows}
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    streams = list(dict.fromkeys(r["stream"] for r in rows))
    schemes = list(dict.fromkeys(r["scheme"] for r in rows))
    fig, axes = plt.subplots(len(schemes), len(streams), figsize=(4.2 * len(streams),
                             3.4 * len(schemes)), squeeze=False, sharey=True)
    colors = plt.get_cmap("tab10")
    for i, scheme in enumerate(schemes):
        for j, stream in enumerate(streams):
            ax = axes[i, j]
            for k, agent in enumerate(agents):
                data = summary.get((agent, scheme, stream))
                if not data:
                    continue
                m = np.array(sorted(data))
                mean = np.array([data[x][0] for x in m])
                std = np.array([data[x][1] for x in m])
                oracle = uses_label[agent]
                label = f"{agent} {ORACLE_MARK} (upper bound)" if oracle else agent
                ax.plot(m, mean, "--" if oracle else "-", marker="o", ms=3, label=label,
                        color=colors(k % 10), alpha=0.6 if oracle else 1.0)
                ax.fill_between(m, mean - std, mean + std, color=colors(k % 10), alpha=0.15)
            ax.set_title(f"{stream}, {scheme}-based")
            ax.set_xlabel("m (frames kept)")
            if j == 0:
                ax.set_ylabel(f"{metric.replace('_', ' ')} (%)")
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8)
    fig.tight_layout(rect=(0, 0.04 + 0.03 * (len(labels) // 5), 1, 1))
    _save_fig(fig, path)


def plot_accuracy_vs_cost(rows: Sequence[dict[str, Any]], path: Path,
                          costs: Sequence[tuple[str, str]] = (
                              ("gmacs", "GMACs per video"), ("seconds", "seconds per video")),
                          stream: str | None = None, scheme: str | None = None,
                          title: str = "") -> None:
    """Accuracy against cost per video, one panel per cost column, one line per agent over m.

    Points are means over seeds (error bars: std of accuracy); adaptive-budget (threshold) rows
    are drawn as stars. Costs on a log axis, since keeping all frames of both streams costs
    several times one stream's few frames.

    :param rows: evaluation rows with the cost columns.
    :param path: the PNG to write.
    :param costs: (column, axis label) per panel.
    :param stream: the stream shown (default ``fused`` when present, else the first).
    :param scheme: the scheme shown (default the first in ``rows``).
    :param title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.evaluation import summarize as summarize_rows

    streams = list(dict.fromkeys(r["stream"] for r in rows))
    stream = stream or ("fused" if "fused" in streams else streams[0])
    scheme = scheme or next(iter(dict.fromkeys(r["scheme"] for r in rows)))
    chosen = [r for r in rows if r["stream"] == stream and r["scheme"] == scheme]
    summary = summarize_rows(chosen, ("agent", "m", "threshold"))
    agents = list(dict.fromkeys(r["agent"] for r in chosen))
    uses_label = {r["agent"]: bool(r.get("uses_label")) for r in rows}
    fig, axes = plt.subplots(1, len(costs), figsize=(5.2 * len(costs), 4.2), squeeze=False)
    colors = plt.get_cmap("tab10")
    for j, (column, label) in enumerate(costs):
        ax = axes[0, j]
        for k, agent in enumerate(agents):
            pts = [e for e in summary if e["agent"] == agent and np.isfinite(e[column])]
            topm = sorted((e for e in pts if e["threshold"] is None), key=lambda e: e[column])
            if agent == "all":  # the same every-frame prediction at every m: one point
                topm = topm[:1]
            thr = [e for e in pts if e["threshold"] is not None]
            color = colors(k % 10)
            name = f"{agent} {ORACLE_MARK}" if uses_label.get(agent) else agent
            if topm:
                ax.errorbar([e[column] for e in topm], [e["accuracy"] for e in topm],
                            yerr=[e["accuracy_std"] for e in topm], marker="o", ms=3,
                            color=color, label=name, capsize=2,
                            linestyle="--" if uses_label.get(agent) else "-")
                spread = len({round(e[column], 9) for e in topm}) > 1
                for e in topm:
                    if spread:  # m labels only where the points are apart
                        ax.annotate(str(e["m"]), (e[column], e["accuracy"]), fontsize=6,
                                    xytext=(2, 2), textcoords="offset points", color=color)
            for e in thr:
                ax.errorbar([e[column]], [e["accuracy"]], yerr=[e["accuracy_std"]], marker="*",
                            ms=10, color=color, capsize=2,
                            label=f"{agent}, p>={e['threshold']:g}" if not topm else None)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(f"top-1 accuracy (%), {stream}")
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.08 + 0.04 * (len(labels) // 4), 1, 1))
    _save_fig(fig, path)


def _save_fig(fig: Any, path: Path) -> None:
    atomic_savefig(fig, path, dpi=110)


def plot_selections(entries: Sequence[AgentEntry], store: str | os.PathLike, path: Path,
                    stream: str = "rgb", m: int = 8, num_videos: int = 4, split: str = "test",
                    seed: int = 0, cross_stream: bool = True) -> list[int]:
    """Which frames each agent keeps (top-m, centre view) on a few test videos.

    Half of the videos are ones the all-frames prediction gets wrong (where selection matters).
    Rows: each agent's kept frames, then the true-class probability of every frame and, when
    the store records it, the ground-truth relevance.

    :return: the split positions of the videos shown.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.policy import policy_scores, scores_to_action
    from frame_select_env.observations import ObservationSource

    src = ObservationSource(store, split, stream, view="center")
    fs = src.store
    all_obs = src.gather(np.arange(src.num_videos))
    true_p = np.take_along_axis(all_obs["predictions"], src.labels[:, None, None], -1)[..., 0]
    wrong = np.flatnonzero(all_obs["predictions"].mean(1).argmax(-1) != src.labels)
    right = np.setdiff1d(np.arange(src.num_videos), wrong)

    def spread(candidates: np.ndarray, k: int) -> list[int]:
        # One video per class first (different actions), then the rest in order.
        first = [int(candidates[src.labels[candidates] == c][0])
                 for c in dict.fromkeys(src.labels[candidates].tolist())]
        rest = [int(v) for v in candidates if int(v) not in first]
        return (first + rest)[:k]

    n_wrong = min(num_videos // 2, len(wrong))
    picks = np.array(sorted(spread(wrong, n_wrong) + spread(right, num_videos - n_wrong)),
                     dtype=np.int64)
    obs = {k: v[picks] for k, v in all_obs.items()}
    rel = fs.relevance(src.rows[picks])
    info = {"label": src.labels[picks], "video_id": src.video_ids[picks],
            "m": np.full(len(picks), m), "relevance": rel}
    shapes = _input_shapes(fs, [stream])
    kept: dict[str, np.ndarray] = {}
    for e in entries:
        pols = e.policies([stream], seed=seed, cross_stream=cross_stream, input_shapes=shapes)
        if stream not in pols:
            continue
        pol = pols[stream]
        if getattr(pol, "keeps_all", False):
            kept[e.name] = np.ones((len(picks), src.num_frames), dtype=np.int8)
            continue
        if callable(getattr(pol, "for_m", None)):
            pol = pol.for_m(m)
        kept[e.name] = scores_to_action(policy_scores(pol, obs, info, m=m), m)
    labels_ = {e.name: display_name(e.name, e.uses_label, False) for e in entries}
    nrows = len(kept) + 1 + (rel is not None)
    fig, axes = plt.subplots(len(picks), 1, figsize=(0.32 * src.num_frames + 2.5,
                             (0.28 * nrows + 0.6) * len(picks)), squeeze=False)
    for i, v in enumerate(picks):
        ax = axes[i, 0]
        # The true-class probability, scaled to the video's maximum so it is visible.
        grid = [kept[a][i].astype(float) for a in kept] + [true_p[v] / max(true_p[v].max(), 1e-6)]
        names = [labels_[a] for a in kept] + [f"p(true) / {true_p[v].max():.2f}"]
        if rel is not None:
            grid.append(rel[i].astype(float))
            names.append("relevant (truth)")
        ax.imshow(np.stack(grid), aspect="auto", cmap="Greens", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.axhline(len(kept) - 0.5, color="black", linewidth=1.2)  # agents above, truth below
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_xticks(range(src.num_frames), [str(t) for t in range(src.num_frames)], fontsize=6)
        ax.set_xticks(np.arange(-0.5, src.num_frames), minor=True)
        ax.set_yticks(np.arange(-0.5, len(names)), minor=True)
        ax.grid(which="minor", color="white", linewidth=0.6)
        ax.tick_params(which="minor", length=0)
        verdict = "wrong" if v in set(wrong.tolist()) else "right"
        ax.set_title(f"{src.video_ids[v]}  (true: {fs.class_names[src.labels[v]]}; all frames: "
                     f"{verdict})  -  top-{m} frames, {stream}, centre view", fontsize=8)
    fig.tight_layout()
    _save_fig(fig, path)
    return picks.tolist()


def compare_agents(
    specs: Sequence[str],
    out: str | os.PathLike,
    store: str | os.PathLike | None = None,
    seeds: int = 3,
    ms: Sequence[int] = MS,
    schemes: Sequence[str] = SCHEMES,
    streams: Sequence[str] | None = None,
    split: str = "test",
    alpha: float = 0.0,
    fusion_weights: dict[str, float] | None = None,
    cross_stream: bool = True,
    selection_m: int = 8,
    selection_videos: int = 4,
    progress: bool = True,
    add_all: bool = True,
    num_threads: int | None = 1,
) -> dict[str, Path]:
    """Evaluate agent specs and write ``results.csv``, ``table.md`` and the two figures.

    :param specs: agent specs (:mod:`baselines_zoo.registry`).
    :param out: output directory.
    :param store: feature store; ``None`` = the built-in one.
    :param seeds: number of seeds.
    :param ms: numbers of kept frames.
    :param schemes: selection schemes.
    :param streams: streams (default: every stream of the store).
    :param split: evaluation split.
    :param alpha: Eq. 10's weight of the non-kept frames.
    :param fusion_weights: weights of the fused prediction.
    :param cross_stream: let a single-stream learned agent score the other stream too.
    :param selection_m: m shown in ``selections.png``.
    :param selection_videos: number of videos in ``selections.png``.
    :param progress: progress bar.
    :param add_all: add the ``all`` baseline (every frame) when it is not among ``specs``.
    :param num_threads: torch CPU threads for the learned agents (1 is fastest for these small
        networks, and far faster on a busy machine); ``None`` leaves torch's default.
    :return: name -> path of every file written.
    """
    if num_threads is not None:
        import torch

        torch.set_num_threads(int(num_threads))
    if store is None:
        from frame_select_env.builtin import builtin_store_path

        store = builtin_store_path()
    specs = list(specs)
    if add_all and "all" not in specs and not any(s.endswith("=all") for s in specs):
        # The classifier on every frame: the reference every m is read against (listed first).
        specs.insert(0, "all")
    entries = parse_agent_specs(specs)
    fs = FeatureStore(store)
    streams = list(streams or fs.streams)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = evaluate_agents(entries, store, seeds, ms, schemes, streams, split, alpha,
                           fusion_weights, cross_stream, progress)
    seconds = time.perf_counter() - start
    paths = {"results": out / "results.csv", "table": out / "table.md",
             "accuracy_vs_m": out / "accuracy_vs_m.png", "selections": out / "selections.png"}
    if any(np.isfinite(r["gmacs"]) for r in rows):
        paths["accuracy_vs_cost"] = out / "accuracy_vs_cost.png"
    write_csv(rows, paths["results"])
    title = f"Agent comparison on {Path(store).name} ({split} split)"
    text = markdown_table(rows, entries, "accuracy", title)
    text += "\n" + markdown_table(rows, entries, "mean_class_accuracy", "Mean class accuracy")
    if any(np.isfinite(r["precision"]) for r in rows):
        text += "\n" + markdown_table(rows, entries, "precision",
                                      "Precision: % of kept frames that show the action")
    if "accuracy_vs_cost" in paths:
        text += "\n" + cost_table(rows)
    text += f"\nEvaluation time: {seconds:.1f} s for {len(entries)} agents x {len(ms)} m x " \
            f"{len(schemes)} schemes x {seeds} seed(s).\n"
    atomic_write_text(paths["table"], text)
    plot_accuracy_vs_m(rows, paths["accuracy_vs_m"])
    if "accuracy_vs_cost" in paths:
        plot_accuracy_vs_cost(rows, paths["accuracy_vs_cost"])
    plot_selections(entries, store, paths["selections"], stream=streams[0], m=selection_m,
                    num_videos=selection_videos, split=split, cross_stream=cross_stream)
    return paths
