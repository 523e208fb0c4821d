#!/usr/bin/env python
r"""The field's selectors against AS on one store: accuracy against GMACs per video, one command.

Every method of :mod:`baselines_zoo.field` (OCSampler, LiteEval, FrameExit, SCSampler, MGSampler)
observes a cheap stream on every frame (``--observe``: ``rgb``, the default, or the store's
``preview``) and predicts with the fused two-stream classifier (rgb + flow) on the frames it
chooses; beside them ``all`` (both streams on every frame, the plain TSN), ``uniform`` (TSN's m
segment centres), the paper's AS (an agent per stream, both streams on every frame) and AS
observing that cheap stream only (``as_rgb_only``, or ``as_preview`` with ``--observe preview``;
REINFORCE rewarded on the fused prediction). Each learned
method is trained per seed on the train split with its default config (the tuned one with
``--tune``); all are evaluated on the test split, frame-based, at m in {4, 8, 12, 16, 20} (for
LiteEval and FrameExit, ``m`` is their
budget knob and ``frames`` the frames they really used), in two settings: 1 view (the centre
crop, as OCSampler and FrameExit test) and 10 views (TSN's ten crops).

Cost per video (:mod:`frame_select_env.pipeline.cost`): GMACs of the CNNs on every crop computed
(the observed stream on every frame a method reads, its own crops: the preview has one; rgb and
flow on the chosen frames only, unless observed) plus the selector's own MACs; seconds of
decoding, flow, CNNs and the selector's measured time. Every row says what it observed (the
``observe`` column of ``results.csv``, ``observes`` in the table). Writes to
``--out``: ``results.csv`` (every row and seed, with a ``views`` column), ``table.md`` (fused, mean
± std over seeds), ``accuracy_vs_gmacs.png`` (1 view) and ``accuracy_vs_gmacs_10view.png``, and,
to resume, ``models/`` (each trained selector) and ``rows/seed<k>.csv`` (a finished seed is
read back, not rerun)::

    python scripts/compare_field.py --out runs/field
    python scripts/compare_field.py --out runs/field_mine --store my_store.h5 --seeds 1
    python scripts/compare_field.py --out runs/field_preview --observe preview

Use one ``--out`` per ``--observe``: a folder's rows of another observation are rerun, not mixed.

``--tune TRIALS`` first tunes every learned row (OCSampler, LiteEval, FrameExit, AS, AS
observing RGB) on the store's val split with the same budget: ``TRIALS`` Optuna trials within
``--tune-timeout`` seconds each, the objective the val fused top-1 averaged over ``--ms``
(:mod:`baselines_zoo.field.search`); the studies (``OUT/tuning/<name>.db``, resumable), the best
configs (``OUT/tuning/<name>.yaml``) and summaries (``.json``) are kept. Every row of
``results.csv`` and the table carry how it was tuned: ``tuning_trials``, ``tuning_seconds``,
``train_budget`` + ``train_unit`` (epochs), ``train_seconds`` (this seed), ``reward``::

    python scripts/compare_field.py --out runs/field_tuned --store my_store.h5 --seeds 1 \
        --tune 8 --tune-timeout 300
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# compare_cost.py's AS training and config are reused, not copied: the installed package
# frame_select_scripts is scripts/, so the sibling imports the same way from every entry point
from frame_select_scripts.compare_cost import DEFAULT_CONFIG, load_config

from baselines_zoo.field import METHODS, get_method, script_store
from baselines_zoo.field.search import (
    AS_AGENTS,
    AS_OBSERVES,
    observing_as,
    read_tuned,
    split_streams,
    train_learned,
    tuning_record,
)
from baselines_zoo.policies import UniformPolicy
from frame_select_env.cli import entry, option, parse
from frame_select_env.cli.overrides import parse_overrides
from frame_select_env.core.config import from_dict
from frame_select_env.core.constants import STREAMS
from frame_select_env.evaluation import (
    SplitData,
    evaluate_policies,
    load_split,
    plot_accuracy_vs_cost,
    read_csv,
    summarize,
    tuning_table,
    with_tuning,
    write_csv,
)
from frame_select_env.pipeline.cost import parse_arch, table_cost
from frame_select_env.store import FeatureStore
from frame_select_env.store.atomic import atomic_write_text

MS = (4, 8, 12, 16, 20)
VIEWS = (1, 10)
AGENT_ORDER = ("all", "uniform", *METHODS, *AS_AGENTS)


@dataclass
class Args:
    """The arguments of ``compare_field.py``."""

    out: str = option(help="output directory")
    store: str | None = option(None, "feature store (default: the built-in one)")
    seeds: int = option(3, "seeds 0..n-1 (training and random draws)", ge=1)
    ms: list[int] = option(list(MS), "budgets m (top-m; the budget knob of adaptive methods)",
                           ge=1)
    views: list[int] = option(list(VIEWS), "test settings: 1 (the centre crop) and/or 10 (every "
                                                "crop of the store; the built-in has 10)",
                                 choices=VIEWS)
    methods: list[str] = option(list(METHODS), "the field's methods", choices=tuple(METHODS))
    as_agents: bool = option(True, "also train and evaluate AS (paper) and AS observing RGB")
    as_config: str = option(DEFAULT_CONFIG, "REINFORCE config YAML of the AS agents, a path or "
                                            "builtin:NAME")
    epochs: int | None = option(None, "override the epochs of every learned method and AS",
                               ge=0)
    set: list[str] = option([], "override a method's config, e.g. --set frameexit.lr=0.005",
                            nargs="*", metavar="METHOD.KEY=VALUE")
    resume: bool = option(True, "reuse finished seeds and trained selectors in --out")
    tune: int = option(0, "tune every learned method and AS with this many Optuna trials on the "
                          "val split first (0: default configs)", ge=0)
    tune_timeout: float | None = option(None, "--tune: wall-clock limit of each method's "
                                              "search in seconds (the same for every method)")
    threads: int = option(1, "torch CPU threads", ge=1)
    observe: str = option("rgb", "the stream the field's selectors read on every frame: rgb, or "
                                 "an observe-only stream of the store (the built-in's preview); "
                                 "the prediction stays rgb + flow fused on the kept frames")
    arch: list[str] = option([], "a store without a cost record: the CNN that made its features, "
                                 "NAME for every stream or STREAM=NAME, to count GMACs (the "
                                 "store's own record wins)", nargs="*", metavar="[STREAM=]NAME")
    crop: int = option(224, "--arch: the CNN's input side in pixels", ge=1)
    flow_length: int = option(5, "--arch: the flow fields L a flow stream stacks", ge=1)

    def __post_init__(self) -> None:
        parse_arch(self.arch)  # the names, at parse time (the streams with the store)
        if self.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {self.seeds}")
        if any(m < 1 for m in self.ms):
            raise ValueError(f"--ms must be >= 1, got {self.ms}")
        if any(v not in VIEWS for v in self.views):
            raise ValueError(f"--views must be among {VIEWS}, got {self.views}")


def as_agents(args: Args) -> tuple[str, ...]:
    """The AS rows of this run: the paper's and AS observing ``--observe`` (or none).

    ``--no-as-agents`` runs none.

    :raises ValueError: no AS agent observes ``--observe`` (the message says what to do).
    """
    if not args.as_agents:
        return ()
    try:
        return ("as", observing_as(args.observe))
    except ValueError as err:
        raise ValueError(f"--observe {args.observe}: {err}; add --no-as-agents") from None


def observation(agent: str, observe: str) -> str:
    """What a row's agent computes on every frame before it chooses (its ``observe`` column).

    :param agent: the row's agent.
    :param observe: ``--observe``, what the field's selectors read.
    """
    if agent == "all" or AS_OBSERVES.get(agent, "") is None:  # every stream on every frame
        return "rgb + flow"
    if agent == "uniform":
        return "nothing"
    return str(AS_OBSERVES.get(agent) or observe)


def tuning_name(name: str, observe: str) -> str:
    """The file stem of a method's study, tuned YAML and checkpoints (``ocsampler_preview``).

    A field selector observing another stream than RGB is another search; an AS agent's name
    says what it observes.
    """
    return name if observe == "rgb" or name in AS_AGENTS else f"{name}_{observe}"


def method_configs(args: Args) -> dict[str, Any]:
    """Each learned method's config: its defaults, ``--epochs``, then ``--set METHOD.KEY=VALUE``.

    :param args: the command line.
    :return: method -> config dataclass (learned methods in ``--methods`` only).
    :raises ValueError: an override for a method not run, or an unknown config key.
    """
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in parse_overrides(args.set).items():
        method, dot, field = key.partition(".")
        if not dot or method not in args.methods or get_method(method).builtin:
            raise ValueError(f"--set {key}=...: expected METHOD.KEY with METHOD a learned method "
                             f"of --methods {[m for m in args.methods if not METHODS[m].builtin]}")
        overrides.setdefault(method, {})[field] = value
    out = {}
    for name in args.methods:
        spec = get_method(name)
        if spec.builtin:
            continue
        base = dataclasses.asdict(spec.default_config())
        if args.epochs is not None and "epochs" in base:
            base["epochs"] = int(args.epochs)
        out[name] = from_dict(type(spec.default_config()), {**base, **overrides.get(name, {})},
                              where=f"--set for {name}")
    return out


def centre_view(data: SplitData) -> SplitData:
    """The split with only the centre crop (view 0 by the store's convention, or its metadata's).

    :param data: a :func:`load_split` result with every view.
    :return: the same videos, (B, T, 1, X) observations.
    """
    centre = int(getattr(data.store, "metadata", {}).get("center_view", 0))
    obs = {s: {k: x[:, :, centre:centre + 1] for k, x in o.items()} for s, o in data.obs.items()}
    return dataclasses.replace(data, obs=obs)


def tune_all(args: Args, store: Path, configs: dict[str, Any], as_base: dict[str, Any],
             out: Path) -> dict[str, tuple[int, float]]:
    """``--tune``: tune every learned method and AS with one budget; update their configs.

    :param args: the command line.
    :param store: the store (its val split is tuned on).
    :param configs: method -> config dict (updated in place with the best ones; the AS agents'
        REINFORCE options under ``as`` and ``as_rgb_only``).
    :param as_base: the REINFORCE options the AS searches draw on top of.
    :param out: the output directory (``tuning/`` is written in it).
    :return: name -> (finished trials, search seconds).
    """
    import sys

    from baselines_zoo.field.search import tune, write_tuned
    from baselines_zoo.tuning import TuningBudget, write_summary

    budget = TuningBudget(args.tune, args.tune_timeout)
    folder = out / "tuning"
    folder.mkdir(parents=True, exist_ok=True)
    command = "python scripts/compare_field.py " + " ".join(sys.argv[1:])
    done: dict[str, tuple[int, float]] = {}
    for name in list(configs):
        base = as_base if name in AS_AGENTS else configs[name]
        stem = tuning_name(name, args.observe)
        written = folder / f"{stem}.yaml"
        if args.resume and written.is_file():
            # a search that ended (trials done or time up) wrote its YAML: a rerun must not give
            # a timed-out method a second wall-clock budget; an interrupted one has none, resumes
            config, record = read_tuned(written, name)
            observed = AS_OBSERVES.get(name, args.observe)
            if (record.get("budget") == dataclasses.asdict(budget)
                    and record.get("observe", AS_OBSERVES.get(name, "rgb")) == observed):
                configs[name] = config
                done[name] = (int(record["trials"]), float(record["seconds"]))
                print(f"tuned {name}: read back from {written}", flush=True)
                continue
        result = tune(name, store, budget, base=base, ms=args.ms,
                      storage=f"sqlite:///{(folder / f'{stem}.db').resolve()}", study_name=stem,
                      observe=args.observe)
        write_tuned(written, result, command)
        write_summary(folder / f"{stem}.json", result.summary)
        configs[name] = result.config
        done[name] = (result.trials, result.seconds)
        print(f"tuned {name}: {result.trials} trials, {result.seconds:.0f} s, best val "
              f"{result.summary['best_value']:.1f}", flush=True)
    return done


def learned(name: str, cfg: dict[str, Any], store: Path, seed: int, models: Path,
            resume: bool, observe: str = "rgb") -> tuple[dict[str, Any], float]:
    """A learned method's policies for one seed: its checkpoint in ``models``, or trained.

    A field selector's checkpoint is reused only when its record (``.yaml`` beside it) holds the
    same config and observation; the AS agents are always trained.

    :param observe: the stream a field selector observes.
    :return: ``(stream -> policy, training seconds)``.
    """
    import yaml

    ckpt = models / f"{tuning_name(name, observe)}_seed{seed}.pt"
    record = ckpt.with_suffix(".yaml")
    if name not in AS_AGENTS and resume and ckpt.is_file() and record.is_file():
        old = yaml.safe_load(record.read_text())
        if (isinstance(old, dict) and old.get("config") == cfg
                and old.get("observe", "rgb") == observe):
            policy = get_method(name).load(ckpt)
            policy.name = name
            return {s: policy for s in STREAMS}, float(old.get("seconds", float("nan")))
    policies, seconds = train_learned(name, store, cfg, seed, observe=observe)
    if name not in AS_AGENTS:
        get_method(name).save(policies["rgb"], ckpt)
        atomic_write_text(record, yaml.safe_dump({"config": cfg, "observe": observe,
                                                  "seconds": seconds}))
    return policies, seconds


def run_seed(args: Args, seed: int, store: Path, fs: FeatureStore, settings: dict[int, Any],
             configs: dict[str, Any], models: Path
             ) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Train what seed ``seed`` needs and evaluate every agent in every view setting."""
    trained: dict[str, float] = {}
    policies: dict[str, dict[str, Any]] = {"uniform": {s: UniformPolicy() for s in STREAMS}}
    for name in args.methods:
        if get_method(name).builtin:
            pol = get_method(name).make(observe=args.observe)
            pol.name = name
            policies[name] = {s: pol for s in STREAMS}
    for name, cfg in configs.items():  # the learned methods, then AS
        policies[name], trained[name] = learned(name, cfg, store, seed, models, args.resume,
                                                args.observe)
    rows: list[dict[str, Any]] = []
    for views, (data, cost) in settings.items():
        ms = [m for m in args.ms if m <= data.num_frames]
        for row in evaluate_policies(policies, fs, streams=STREAMS, ms=ms, schemes=("frame",),
                                     seed=seed, data=data, cost=cost):
            rows.append({"views": views, "observe": observation(row["agent"], args.observe),
                         **row})
    return rows, trained


def field_table(rows: list[dict[str, Any]]) -> str:
    """Markdown tables (fused, frame-based), one per view setting, mean ± std over seeds.

    :param rows: the evaluation rows with ``views``.
    :return: the Markdown text.
    """
    fused = [r for r in rows if r["stream"] == "fused" and r["scheme"] == "frame"]
    summary = summarize(fused, ("views", "agent", "m"))
    order = {a: i for i, a in enumerate(AGENT_ORDER)}
    summary.sort(key=lambda e: (e["views"], order.get(e["agent"], 99), e["m"]))
    observes = {r["agent"]: str(r.get("observe", "")) for r in fused}
    head = ["agent", "observes", "budget", "top-1 (%)", "mean class acc. (%)", "frames",
            "GMACs / video", "s / video"]
    out: list[str] = []
    for views in dict.fromkeys(e["views"] for e in summary):
        what = "centre crop" if views == 1 else f"{views} crops"
        out += [f"### {views} view{'s' if views > 1 else ''} ({what}), fused, frame-based", "",
                "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        shown_all = False
        for e in (e for e in summary if e["views"] == views):
            budget = f"m={e['m']}"
            if e["agent"] == "all":  # the same every-frame prediction at every m: one line
                if shown_all:
                    continue
                budget, shown_all = "all frames", True
            out.append("| " + " | ".join([
                e["agent"], observes.get(e["agent"], ""), budget,
                f"{e['accuracy']:.1f} ± {e['accuracy_std']:.1f}",
                f"{e['mean_class_accuracy']:.1f} ± {e['mean_class_accuracy_std']:.1f}",
                f"{e['frames']:.1f}", f"{e['gmacs']:.3f}", f"{e['seconds']:.3f}"]) + " |")
        out.append("")
    return "\n".join(out)


@entry
def main(argv: list[str] | None = None) -> int:
    """Train, evaluate and cost the field's selectors and AS; the exit status."""
    args = parse(Args, argv, description=__doc__)
    try:
        store = script_store(args.store, args.threads, args.observe)
        configs = {k: dataclasses.asdict(v) for k, v in method_configs(args).items()}
        ases = as_agents(args)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"compare_field.py: error: {err}") from None
    fs = FeatureStore(store)
    if not set(STREAMS) <= set(fs.streams):
        raise SystemExit(f"--store {str(store)!r} needs streams {list(STREAMS)} (the cheap one "
                         f"observed, both fused), has {fs.streams}")
    out = Path(args.out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    (out / "rows").mkdir(exist_ok=True)
    as_base = load_config(args.as_config, args.epochs) if args.as_agents else {}
    configs.update({a: dict(as_base) for a in ases})
    # the store's cost record, else GMACs counted from --arch (seconds unknown), else none
    cost, unknown_cost = table_cost(fs, args.arch, args.crop, args.flow_length,
                                    split_streams(args.observe))
    if cost is not None and args.observe not in cost["streams"]:
        unknown_cost = (f"cost unknown for {store.name}: its cost record has no stream "
                        f"{args.observe!r} (--observe; it has {sorted(cost['streams'])}), so the "
                        f"GMACs and seconds columns are NaN; accuracy and frames are measured")
        cost = None
    if unknown_cost:
        print(f"warning: {unknown_cost}", file=sys.stderr)
    searched = tune_all(args, store, configs, as_base, out) if args.tune else {}
    data = load_split(fs, "test", split_streams(args.observe),
                      num_frames=as_base.get("num_frames"))
    settings: dict[int, tuple[SplitData, Any]] = {}
    for views in dict.fromkeys(args.views):
        if views == 1:
            settings[1] = (centre_view(data), None if cost is None else {**cost, "num_views": 1})
        else:  # every crop the store has (TSN's 10 in the built-in one), named by its count
            settings[int(data.obs["rgb"]["predictions"].shape[2])] = (data, cost)
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for seed in range(args.seeds):
        part = out / "rows" / f"seed{seed}.csv"
        if args.resume and part.is_file():
            old = read_csv(part)
            trials = {r["agent"]: r.get("tuning_trials") for r in old}
            wanted = (*args.methods, *ases, "all", "uniform")
            if {(r["agent"], int(r["views"])) for r in old} >= {
                    (a, v) for a in (*args.methods, *ases) for v in settings} and all(
                    trials.get(a) == searched.get(a, (0,))[0] for a in configs) and all(
                    r.get("observe") == observation(r["agent"], args.observe)
                    for r in old if r["agent"] in wanted):
                rows += [{**r, "views": int(r["views"])} for r in old
                         if r["agent"] in wanted and int(r["views"]) in settings]
                print(f"seed {seed}: read back from {part}")
                continue
        t0 = time.perf_counter()
        seed_rows, trained = run_seed(args, seed, store, fs, settings, configs,
                                      out / "models")
        seed_rows = with_tuning(seed_rows, {
            (a, seed): tuning_record(a, configs[a], *searched.get(a, (0, 0.0)), trained[a])
            for a in configs})
        write_csv(part, seed_rows, kind="cost")
        rows += seed_rows
        took = ", ".join(f"{k} {v:.0f} s" for k, v in trained.items() if v > 0)
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s (training: {took or 'none'})")
    order = {a: i for i, a in enumerate(AGENT_ORDER)}
    rows.sort(key=lambda r: (r["views"], order.get(r["agent"], 99), r["stream"], r["m"],
                             r["seed"]))
    write_csv(out / "results.csv", rows, kind="cost")
    table = field_table(rows) + "\n" + tuning_table(rows)
    note = (f"Store {store.name}, test split ({len(data.labels)} videos, {data.num_frames} "
            f"frames), mean ± std over {args.seeds} seed(s). Every field selector observes "
            f"{args.observe} and predicts fused (rgb + flow on its frames); `observes` is what a "
            f"row computes on every frame before choosing. GMACs: CNN MACs on every crop computed "
            f"(the observed stream on every frame it reads, its own crops; rgb and flow on the "
            f"chosen frames) + the selector's. Seconds: "
            f"decode + flow + CNN + selector, on the machine the store's cost records."
            + (f" **{unknown_cost[0].upper()}{unknown_cost[1:]}.**" if unknown_cost else ""))
    atomic_write_text(out / "table.md", f"# The field's selectors\n\n{note}\n\n{table}")
    for views in settings:
        chosen = [r for r in rows if r["views"] == views]
        name = "accuracy_vs_gmacs.png" if views == 1 else f"accuracy_vs_gmacs_{views}view.png"
        if all(r["gmacs"] != r["gmacs"] for r in chosen):  # NaN everywhere: no cost recorded
            continue
        plot_accuracy_vs_cost(chosen, out / name, costs=(("gmacs", "GMACs per video"),),
                              stream="fused", scheme="frame",
                              title=f"Fused accuracy vs GMACs per video, {views} view(s)")
    print(table)
    print(f"total {time.perf_counter() - start:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
