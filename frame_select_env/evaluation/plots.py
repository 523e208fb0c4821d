"""The evaluation's figures: accuracy against m, and accuracy against cost per video."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from frame_select_env.evaluation.results import metric_by_m, summarize
from frame_select_env.evaluation.tables import ORACLE_MARK
from frame_select_env.store.atomic import atomic_savefig

#: Resolution of every figure written.
DPI = 110


def save_figure(fig: Any, path: str | os.PathLike) -> None:
    """Write a matplotlib figure atomically at :data:`DPI`.

    :param fig: the figure.
    :param path: the image file.
    """
    atomic_savefig(fig, path, dpi=DPI)


def plot_accuracy_vs_m(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike,
                       metric: str = "accuracy") -> None:
    """Plot a metric against m: one panel per (scheme, stream), one line per agent.

    Each line is the mean over seeds with a ± std band; oracles are dashed.

    :param rows: evaluation rows (with ``uses_label``).
    :param path: the PNG to write.
    :param metric: the metric plotted.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = metric_by_m(rows, metric)
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
    save_figure(fig, path)


def plot_accuracy_vs_cost(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike,
                          costs: Sequence[tuple[str, str]] = (
                              ("gmacs", "GMACs per video"), ("seconds", "seconds per video")),
                          stream: str | None = None, scheme: str | None = None,
                          title: str = "", sequential: Sequence[str] = ()) -> None:
    """Plot accuracy against cost per video: one panel per cost column, one line per agent.

    Points are means over seeds (error bars: std of accuracy); adaptive-budget (threshold) rows
    are drawn as stars. Costs on a log axis, since keeping all frames of both streams costs
    several times one stream's few frames.

    :param rows: evaluation rows with the cost columns.
    :param path: the PNG to write.
    :param costs: (column, axis label) per panel.
    :param stream: the stream shown (default ``fused`` when present, else the first).
    :param scheme: the scheme shown (default the first in ``rows``).
    :param title: figure title.
    :param sequential: agents of ``FrameSelectionSeq-v0`` (drawn with squares and dash-dotted
        lines, so they stand apart from the one-step methods beside them).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    streams = list(dict.fromkeys(r["stream"] for r in rows))
    stream = stream or ("fused" if "fused" in streams else streams[0])
    scheme = scheme or next(iter(dict.fromkeys(r["scheme"] for r in rows)))
    chosen = [r for r in rows if r["stream"] == stream and r["scheme"] == scheme]
    summary = summarize(chosen, ("agent", "m", "threshold"))
    seq = set(sequential)
    agents = list(dict.fromkeys(r["agent"] for r in chosen))
    uses_label = {r["agent"]: bool(r.get("uses_label")) for r in rows}
    fig, axes = plt.subplots(1, len(costs), figsize=(5.2 * len(costs), 4.2), squeeze=False)
    # ten colours while they suffice; twenty for the long tables that add sequential agents
    palette = 10 if len(agents) <= 10 else 20
    colors = plt.get_cmap(f"tab{palette}")
    for j, (column, label) in enumerate(costs):
        ax = axes[0, j]
        for k, agent in enumerate(agents):
            pts = [e for e in summary if e["agent"] == agent and np.isfinite(e[column])]
            topm = sorted((e for e in pts if e["threshold"] is None), key=lambda e: e[column])
            if agent == "all":  # the same every-frame prediction at every m: one point
                topm = topm[:1]
            thr = [e for e in pts if e["threshold"] is not None]
            color = colors(k % palette)
            name = f"{agent} {ORACLE_MARK}" if uses_label.get(agent) else agent
            if topm:
                style = "--" if uses_label.get(agent) else "-." if agent in seq else "-"
                ax.errorbar([e[column] for e in topm], [e["accuracy"] for e in topm],
                            yerr=[e["accuracy_std"] for e in topm],
                            marker="s" if agent in seq else "o", ms=3, color=color,
                            label=name, capsize=2, linestyle=style)
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
    save_figure(fig, path)
