"""Compare frame-selection agents on the same test videos (used by ``scripts/compare_agents.py``).

Every agent (see :mod:`baselines_zoo.registry` for the specs) is evaluated by
:func:`frame_select_env.evaluation.evaluate_policies`, the one evaluation of the project, at
every m, both schemes (frame- and region-based), per stream and fused, for several seeds.
This module only turns agent specs into policies and writes the comparison; the tables, files
and figures are the evaluation's (:mod:`frame_select_env.evaluation`). Outputs:

* ``results.csv``: tidy rows ``agent,scheme,m,stream,seed,accuracy,mean_class_accuracy``, plus
  ``precision`` (percent of kept frames that show the action; NaN without relevance),
  ``uses_label`` (oracle) and the cost columns (the ``comparison`` kind of
  :func:`~frame_select_env.evaluation.write_csv`);
* ``table.md``: mean ± std over seeds per agent and m, best non-oracle entry per column in bold,
  oracle rows (they read the label: upper bounds) in their own block below
  (:func:`~frame_select_env.evaluation.markdown_table`), and the accuracy-and-cost table;
* ``accuracy_vs_m.png``: accuracy against m, one line per agent with a mean ± std band;
* ``accuracy_vs_cost.png``: fused (else per-stream) accuracy against GMACs and seconds per video
  (the cost columns ``frames, gmacs, seconds``; the store's cost dict,
  :mod:`frame_select_env.pipeline.cost`);
* ``selections.png``: which frames each agent keeps on a few test videos.

Policies whose choice depends on m are handled by the evaluation: a policy with ``for_m(m)``
(``uniform``) is asked once per m, and one with ``keeps_all`` (``all``) keeps every frame.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines_zoo.registry import AgentEntry, parse_agent_specs
from frame_select_env.core.config import UserError
from frame_select_env.core.constants import DEFAULT_MS, SCHEMES, STREAMS
from frame_select_env.evaluation.plots import (
    plot_accuracy_vs_cost,
    plot_accuracy_vs_m,
    save_figure,
)
from frame_select_env.evaluation.results import COMPARISON_COLUMNS, write_csv
from frame_select_env.evaluation.runner import evaluate_policies, load_split
from frame_select_env.evaluation.tables import cost_table, display_name, markdown_table
from frame_select_env.store import FeatureStore
from frame_select_env.store.atomic import atomic_write_text


def _input_shapes(store: FeatureStore, streams: Sequence[str]) -> dict[str, dict[str, tuple]]:
    """Per stream, the (T, X) shapes of the observations a learned agent is built for."""
    return {s: {"features": (store.num_frames, store.feature_dim(s)),
                "predictions": (store.num_frames, store.num_classes)} for s in streams}


def evaluate_agents(
    entries: Sequence[AgentEntry],
    store: str | os.PathLike,
    seeds: int | Sequence[int] = 3,
    ms: Sequence[int] = DEFAULT_MS,
    schemes: Sequence[str] = SCHEMES,
    streams: Sequence[str] = STREAMS,
    split: str = "test",
    alpha: float = 0.0,
    fusion_weights: dict[str, float] | None = None,
    cross_stream: bool = True,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate parsed agents; returns the tidy rows (``results.csv``'s content).

    The split is read once (:func:`frame_select_env.evaluation.load_split`) and every seed
    evaluates all agents in one :func:`frame_select_env.evaluation.evaluate_policies` call.

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
    :return: the rows, with the :data:`~frame_select_env.evaluation.COMPARISON_COLUMNS`.
    :raises ValueError: if the store lacks one of ``streams``.
    """
    from tqdm.auto import tqdm

    fs = FeatureStore(store)
    missing = [s for s in streams if s not in fs.streams]
    if missing:
        raise ValueError(f"feature store {str(store)!r} has no stream(s) {missing} (it has "
                         f"{fs.streams})")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    shapes = _input_shapes(fs, streams)
    data = None
    rows: list[dict[str, Any]] = []
    for seed in tqdm(seed_list, desc="seeds", disable=not progress):
        policies = {e.name: e.policies(streams, seed=seed, cross_stream=cross_stream,
                                       input_shapes=shapes) for e in entries}
        if data is None:  # read the split once, with the streams the policies observe
            data = load_split(fs, split, [*streams, *_observed_streams(policies, streams, fs)])
        rows += evaluate_policies(policies, fs, split=split, streams=tuple(streams), ms=ms,
                                  schemes=schemes, alpha=alpha, fusion_weights=fusion_weights,
                                  seed=seed, include_all=False, data=data)
    label_of = {e.name: e.uses_label for e in entries}
    tidy: list[dict[str, Any]] = []
    for r in rows:
        row: dict[str, Any] = {k: r.get(k) for k in COMPARISON_COLUMNS}
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


def _observed_streams(policies: dict[str, Any], streams: Sequence[str],
                      fs: FeatureStore) -> list[str]:
    """The streams the policies observe besides ``streams`` (e.g. a selector on the preview).

    :raises UserError: a policy observes a stream the store lacks.
    """
    observed = {getattr(p, "observe", None) for per in policies.values() for p in per.values()}
    extra = sorted(str(s) for s in observed if s and s not in streams)
    for name in extra:
        if name not in fs.all_streams:
            raise UserError(f"an agent observes stream {name!r}, which feature store "
                             f"{fs.path!s} lacks (it has {fs.all_streams}); evaluate it on the "
                             f"store it was trained on (--store)")
    return extra


def plot_selections(entries: Sequence[AgentEntry], store: str | os.PathLike,
                    path: str | os.PathLike, stream: str = "rgb", m: int = 8,
                    num_videos: int = 4, split: str = "test", seed: int = 0,
                    cross_stream: bool = True) -> list[int]:
    """Which frames each agent keeps (top-m, centre view) on a few test videos.

    Half of the videos are ones the all-frames prediction gets wrong (where selection matters).
    Rows: each agent's kept frames, then the true-class probability of every frame and, when
    the store records it, the ground-truth relevance.

    :param entries: parsed agent specs.
    :param store: the feature store.
    :param path: the PNG to write.
    :param stream: the stream whose selections are shown.
    :param m: frames kept.
    :param num_videos: videos shown.
    :param split: the split they come from.
    :param seed: the policies' seed.
    :param cross_stream: let single-stream learned agents score the other stream too.
    :return: the split positions of the videos shown.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from frame_select_env.core.policy import policy_scores, scores_to_action
    from frame_select_env.envs.observations import ObservationSource

    src = ObservationSource(store, split, stream, view="center")
    if src.num_frames is None:  # ObservationSource sets it to the number of kept frames
        raise RuntimeError(f"plot_selections: {src.summary()} did not resolve num_frames")
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
    save_figure(fig, path)
    return picks.tolist()


def compare_agents(
    specs: Sequence[str],
    out: str | os.PathLike,
    store: str | os.PathLike | None = None,
    seeds: int = 3,
    ms: Sequence[int] = DEFAULT_MS,
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
        from frame_select_env.store.builtin import builtin_store_path

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
    write_csv(paths["results"], rows, kind="comparison")
    title = f"Agent comparison on {Path(store).name} ({split} split)"
    cross = [e.name for e in entries if e.cross_stream_used]
    text = markdown_table(rows, cross, "accuracy", title)
    text += "\n" + markdown_table(rows, cross, "mean_class_accuracy", "Mean class accuracy")
    if any(np.isfinite(r["precision"]) for r in rows):
        text += "\n" + markdown_table(rows, cross, "precision",
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
