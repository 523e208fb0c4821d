"""The evaluation's tables: Markdown (accuracy per m; accuracy and cost) and the console table.

* :func:`markdown_table`: mean ± std over seeds per agent and m, one table per stream and scheme,
  the best non-oracle entry per column in bold, oracle rows (they read the label: upper bounds)
  in their own block below;
* :func:`cost_table`: accuracy and cost per video per agent and budget;
* :func:`tuning_table`: how each agent was tuned and trained (the rows' tuning columns);
* :func:`print_table` / :func:`report_best`: the console summary of ``train_reinforce.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from frame_select_env.core.constants import SCHEMES
from frame_select_env.evaluation.results import is_finite, metric_by_m, summarize

METRIC_TEXT = {"accuracy": "Top-1 accuracy (%)",
               "mean_class_accuracy": "Mean class accuracy (%)",
               "precision": "Precision (% of kept frames that show the action)"}
#: Marks an oracle (reads the ground truth) in tables and figures.
ORACLE_MARK = "†"
#: Marks an agent whose one single-stream model scores both streams.
CROSS_MARK = "*"


def summary_cells(summary: dict, key: tuple[str, str], ms: Sequence[int],
                  best: dict[int, float | None], uses_label: dict[str, bool]
                  ) -> dict[str, list[str]]:
    """Formatted ``mean ± std`` cells per agent for one (scheme, stream); best ones in bold.

    :param summary: :func:`~frame_select_env.evaluation.results.metric_by_m` of the rows.
    :param key: the (scheme, stream) shown.
    :param ms: the m columns.
    :param best: m -> the best non-oracle mean (``None``: no bold cell).
    :param uses_label: agent -> it is an oracle.
    :return: agent -> cells.
    """
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
    """An agent's name in a table: ``NAME*`` when cross-stream, ``NAME †`` when an oracle.

    :param agent: the agent name.
    :param uses_label: it reads the ground truth.
    :param cross: one single-stream model scores both streams.
    :return: the display name.
    """
    return agent + (CROSS_MARK if cross else "") + (f" {ORACLE_MARK}" if uses_label else "")


def markdown_table(rows: Sequence[Mapping[str, Any]], cross_stream: Collection[str] = (),
                   metric: str = "accuracy", title: str = "") -> str:
    """Markdown tables (one per stream and scheme) of mean ± std over seeds.

    The best non-oracle mean in each column is bold; oracle rows (``uses_label``) are listed
    separately below a divider row, since they read the ground truth.

    :param rows: evaluation rows (with ``uses_label``).
    :param cross_stream: agents whose one single-stream model scores both streams (``NAME*``).
    :param metric: the metric shown.
    :param title: the heading (none when empty).
    :return: the Markdown text.
    """
    summary = metric_by_m(rows, metric)
    uses_label = {r["agent"]: bool(r["uses_label"]) for r in rows}
    cross = set(cross_stream)
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
                name = display_name(a, uses_label[a], a in cross)
                return f"| {name} | " + " | ".join(cells[a]) + " |"

            out += [line(a) for a in present if not uses_label[a]]
            oracles = [a for a in present if uses_label[a]]
            if oracles:
                out.append(f"| *upper bounds ({ORACLE_MARK} use the label)* |" + " |" * len(ms))
                out += [line(a) for a in oracles]
            out.append("")
    return "\n".join(out).lstrip("\n") + "\n"


def cost_table(rows: Sequence[Mapping[str, Any]], stream: str | None = None,
               scheme: str | None = None, extra: Sequence[str] = ()) -> str:
    """Markdown table of accuracy and cost per agent and budget (mean over seeds).

    :param rows: evaluation rows with the cost columns.
    :param stream: stream shown (default ``fused`` when present, else the first).
    :param scheme: scheme shown (default the first).
    :param extra: more mean columns to show (e.g. ``seconds_tvl1``).
    :return: the Markdown text.
    """
    streams = list(dict.fromkeys(r["stream"] for r in rows))
    stream = stream or ("fused" if "fused" in streams else streams[0])
    scheme = scheme or next(iter(dict.fromkeys(r["scheme"] for r in rows)))
    chosen = [r for r in rows if r["stream"] == stream and r["scheme"] == scheme]
    summary = summarize(chosen, ("agent", "m", "threshold"))
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


def tuning_cells(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One agent's tuning cells: search, training, seeds, s per run, reward.

    :param rows: the agent's rows (every seed), with the tuning columns.
    :return: the cells of :func:`tuning_table` after the agent's name.
    """
    first = rows[0]
    budget = int(first.get("train_budget") or 0)
    trials = int(first.get("tuning_trials") or 0)
    if budget == 0:
        search, training = "–", "training-free"
    else:
        search = (f"{trials} trials, {float(first['tuning_seconds']):.0f} s" if trials
                  else "defaults")
        training = f"{budget:g} {first.get('train_unit', '')}".strip()
    seconds = [float(r["train_seconds"]) for r in rows if is_finite(r.get("train_seconds"))]
    per_run = f"{sum(seconds) / len(seconds):.0f}" if seconds and budget else "–"
    seeds = len({r.get("seed") for r in rows})
    return [search, training, str(seeds), per_run, str(first.get("reward") or "–")]


def tuning_table(rows: Sequence[Mapping[str, Any]], title: str = "How each row was tuned"
                 ) -> str:
    """Markdown table of how each agent was tuned and trained, one line per agent.

    Read from the rows' :data:`~frame_select_env.evaluation.results.TUNING_COLUMNS`: the search
    (finished trials and its wall-clock; ``defaults`` when untuned), the training length of one
    run, the seeds trained, the mean wall-clock of one training run and the reward trained on.

    :param rows: evaluation rows with the tuning columns (rows without them are left out).
    :param title: the heading.
    :return: the Markdown text (empty when no row has the columns).
    """
    by_agent: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if "tuning_trials" in r:
            by_agent.setdefault(str(r["agent"]), []).append(r)
    if not by_agent:
        return ""
    head = ["agent", "search (trials, wall-clock)", "training / run", "seeds",
            "s / training run", "reward"]
    out = [f"## {title}", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    out += ["| " + " | ".join([agent, *tuning_cells(group)]) + " |"
            for agent, group in by_agent.items()]
    return "\n".join(out) + "\n"


def print_table(mean_rows: Sequence[Mapping[str, Any]], ms: Sequence[int],
                streams: Sequence[str], split: str = "test", num_seeds: int = 1) -> None:
    """Print the accuracy (mean over seeds) per agent, scheme, stream and m.

    A rich table when rich is installed, else plain text.

    :param mean_rows: :func:`~frame_select_env.evaluation.results.summarize` entries.
    :param ms: the m columns.
    :param streams: the streams shown, in order.
    :param split: the evaluated split (in the title).
    :param num_seeds: seeds averaged (in the title).
    """
    agents = list(dict.fromkeys(r["agent"] for r in mean_rows))
    lookup = {(r["agent"], r["scheme"], r["stream"], r["m"]): r for r in mean_rows}
    header = ["agent", "scheme", "stream", *[f"m={m}" for m in ms]]
    body = []
    for scheme in SCHEMES:
        for stream in streams:
            for agent in agents:
                cells = [lookup.get((agent, scheme, stream, m)) for m in ms]
                if all(c is None for c in cells):
                    continue
                body.append([agent, scheme, stream, *[
                    "" if c is None else f"{c['accuracy']:.1f}" for c in cells]])
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"Top-1 accuracy (%) on the {split} split, mean over {num_seeds} "
                            f"seed(s)")
        for h in header:
            table.add_column(h, justify="right" if h.startswith("m=") else "left")
        for row in body:
            table.add_row(*row)
        Console().print(table)
    except ImportError:  # plain text
        widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=False)]
        for row in [header, *body]:
            print("  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=False)))


def report_best(mean_rows: Sequence[Mapping[str, Any]], variants: Iterable[str],
                streams: Sequence[str]) -> None:
    """Print one line per variant and stream: its best m vs all frames and vs random at that m.

    :param mean_rows: :func:`~frame_select_env.evaluation.results.summarize` entries (with the
        ``all`` and ``random`` agents).
    :param variants: the agents reported (e.g. ``as``); only the keys are read.
    :param streams: the streams reported.
    """
    look = {(r["agent"], r["scheme"], r["stream"], r["m"]): r["accuracy"] for r in mean_rows}
    for variant in variants:
        for stream in streams:
            cands = [(acc, scheme, m) for (a, scheme, s, m), acc in look.items()
                     if a == variant and s == stream]
            if not cands:
                continue
            acc, scheme, m = max(cands)
            allf = look.get(("all", scheme, stream, m), float("nan"))
            rnd = look.get(("random", scheme, stream, m), float("nan"))
            print(f"{variant:12s} {stream:6s} best m={m:2d} ({scheme}): {acc:.1f}%  vs all frames "
                  f"{allf:.1f}% ({acc - allf:+.1f})  vs random m={m} {rnd:.1f}% ({acc - rnd:+.1f})")
