"""The evaluation rows as data: their columns, the results CSV files and the mean over seeds.

* :data:`ROW_COLUMNS` is the one row schema (what :func:`~frame_select_env.evaluation.runner.
  evaluate_policies` returns, then any ``seconds_<flow method>`` columns);
* :data:`CSV_FORMATS` names each kind of results file the scripts write, with its columns and
  float format, so every file keeps its exact bytes:

  ========== ======================================================= ========================
  kind       columns                                                 written by
  ========== ======================================================= ========================
  rows       the first row's keys, in order; floats ``.4f``          ``train_reinforce.py``:
                                                                     ``results.csv``,
                                                                     ``results_mean.csv``,
                                                                     ``train_log.csv``
  comparison :data:`COMPARISON_COLUMNS` (with ``alpha``); ``.4f``    ``compare_agents.py``:
                                                                     ``results.csv``
  cost       the first row's keys, in order; floats ``.6g``          ``compare_cost.py``:
                                                                     ``results.csv``
  ========== ======================================================= ========================

* :data:`TUNING_COLUMNS` say how a row's agent was tuned and trained (:class:`Tuning`,
  :func:`with_tuning`): the comparison scripts add them to every row;
* :func:`write_csv` / :func:`read_csv` write and read them;
* :func:`summarize` is the mean and std over seeds of every metric, per group of rows;
  :func:`metric_by_m` reshapes it per agent, scheme and stream for the tables and figures.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from frame_select_env.evaluation.costing import COST_METRICS
from frame_select_env.store.atomic import atomic_write_csv

#: The columns of an evaluation row, in file order.
ROW_COLUMNS: tuple[str, ...] = (
    "agent", "scheme", "m", "stream", "seed", "alpha", "accuracy", "mean_class_accuracy",
    "precision", "uses_label", "threshold", "frames", "gmacs", "seconds")
#: The columns of ``compare_agents.py``'s ``results.csv``: the row columns, ``alpha`` (the Eq. 10
#: weight each row was scored with) included.
COMPARISON_COLUMNS: tuple[str, ...] = ROW_COLUMNS
#: The accuracy-like metrics of a row (percent).
ACCURACY_METRICS: tuple[str, ...] = ("accuracy", "mean_class_accuracy", "precision")
#: Columns :func:`read_csv` always returns as floats (NaN when empty or absent).
FLOAT_COLUMNS: tuple[str, ...] = (*ACCURACY_METRICS, "threshold", *COST_METRICS)
#: How a row's agent was tuned and trained (:class:`Tuning`), in file order.
TUNING_COLUMNS: tuple[str, ...] = (
    "tuning_trials", "tuning_seconds", "train_budget", "train_unit", "train_seconds", "reward")
#: Columns :func:`read_csv` returns as integers when present.
INT_COLUMNS: tuple[str, ...] = ("m", "seed", "num_seeds", "tuning_trials", "train_budget")
#: Columns :func:`read_csv` returns as floats when present (NaN when empty).
OPTIONAL_FLOAT_COLUMNS: tuple[str, ...] = ("tuning_seconds", "train_seconds")


@dataclass(frozen=True)
class Tuning:
    """How one agent of a comparison was tuned and trained: its :data:`TUNING_COLUMNS`.

    :param trials: finished trials of its hyperparameter search (completed or pruned; 0: it ran
        with its default or given config).
    :param search_seconds: wall-clock of that search in seconds (every session of a resumed one).
    :param budget: training length of one run in ``unit`` (0: training-free).
    :param unit: ``epochs`` or ``timesteps`` (empty for a training-free agent).
    :param train_seconds: wall-clock of this seed's training run (NaN: not measured, e.g. a
        checkpoint read back without its record).
    :param reward: what training optimised (``eq4``, ``delta``, ``terminal``, ``confidence``,
        ``true_class``, ``cross_entropy``; empty for a training-free agent).
    """

    trials: int = 0
    search_seconds: float = 0.0
    budget: int = 0
    unit: str = ""
    train_seconds: float = field(default=float("nan"))
    reward: str = ""

    def columns(self) -> dict[str, Any]:
        """The :data:`TUNING_COLUMNS` cells of a row."""
        return {"tuning_trials": int(self.trials), "tuning_seconds": float(self.search_seconds),
                "train_budget": int(self.budget), "train_unit": self.unit,
                "train_seconds": float(self.train_seconds), "reward": self.reward}


#: A training-free agent (a heuristic, ``all``, ``uniform``).
TRAINING_FREE = Tuning()


def with_tuning(rows: Sequence[Mapping[str, Any]], tuning: Mapping[Any, Tuning]
                ) -> list[dict[str, Any]]:
    """The rows with their agent's :data:`TUNING_COLUMNS` appended.

    :param rows: evaluation rows.
    :param tuning: ``agent`` or ``(agent, seed)`` -> its :class:`Tuning` (the pair wins; an agent
        in neither is :data:`TRAINING_FREE`).
    :return: new rows, the tuning columns last.
    """
    out = []
    for r in rows:
        t = tuning.get((r.get("agent"), r.get("seed")), tuning.get(r.get("agent"), TRAINING_FREE))
        out.append({**r, **t.columns()})
    return out


@dataclass(frozen=True)
class CsvFormat:
    """How one kind of results file is written.

    :param columns: the columns, in order; ``None`` = the first row's keys.
    :param float_format: the format spec of float cells (other cells are written as they are).
    """

    columns: tuple[str, ...] | None
    float_format: str


#: Each kind of results file (see the module docstring).
CSV_FORMATS: dict[str, CsvFormat] = {
    "rows": CsvFormat(None, ".4f"),
    "comparison": CsvFormat(COMPARISON_COLUMNS, ".4f"),
    "cost": CsvFormat(None, ".6g"),
}


def _csv_format(kind: str) -> CsvFormat:
    if kind not in CSV_FORMATS:
        raise ValueError(f"unknown results file kind {kind!r} (known: {sorted(CSV_FORMATS)})")
    return CSV_FORMATS[kind]


def csv_columns(rows: Sequence[Mapping[str, Any]], kind: str = "rows") -> list[str]:
    """The columns of a results file of ``kind`` holding ``rows``.

    :param rows: the rows to write.
    :param kind: a key of :data:`CSV_FORMATS`.
    :return: the column names, in file order.
    :raises ValueError: for an unknown kind.
    """
    columns = _csv_format(kind).columns
    if columns is not None:
        return list(columns)
    return list(rows[0]) if rows else []


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], kind: str = "rows"
              ) -> Path:
    """Write rows as a results file of ``kind``, atomically.

    With a fixed column list (``comparison``) other keys of a row are left out; otherwise every
    row must have only the first row's keys (a missing one is an empty cell).

    :param path: the CSV file.
    :param rows: the rows (dicts).
    :param kind: a key of :data:`CSV_FORMATS`.
    :return: ``path``.
    :raises ValueError: for an unknown kind, or (first-row columns) a row with another key.
    """
    fmt = _csv_format(kind)
    return atomic_write_csv(path, rows, csv_columns(rows, kind), fmt.float_format,
                            extra_keys="raise" if fmt.columns is None else "ignore")


def _float_cell(text: str | None) -> float:
    return float(text) if text not in ("", "nan", None) else float("nan")


def read_csv(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a results file back with its numeric and boolean columns parsed.

    :data:`FLOAT_COLUMNS` are always floats (NaN when empty or absent); ``alpha``,
    ``seconds_<method>``, ``<metric>_std`` and :data:`OPTIONAL_FLOAT_COLUMNS` columns are floats
    and :data:`INT_COLUMNS` integers when present; ``uses_label`` is a bool.

    :param path: the CSV file.
    :return: the rows.
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in INT_COLUMNS:
            if k in r:
                r[k] = int(r[k])
        for k in FLOAT_COLUMNS:
            r[k] = _float_cell(r.get(k))
        for k in OPTIONAL_FLOAT_COLUMNS:
            if k in r:
                r[k] = _float_cell(r[k])
        for k in list(r):
            if isinstance(k, str) and (k == "alpha" or k.startswith("seconds_")
                                       or k.endswith("_std")):
                r[k] = _float_cell(r[k])
        if "uses_label" in r:
            r["uses_label"] = r["uses_label"] in ("True", "true", "1")
    return rows


def is_finite(value: Any) -> bool:
    """Whether a cell is a finite number (``None``, NaN and text are not).

    :param value: any cell.
    :return: ``True`` for a finite number.
    """
    try:
        return value is not None and bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def summarize(rows: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None
              ) -> list[dict[str, Any]]:
    """Mean and std over seeds of accuracy, mean class accuracy, precision and cost per ``keys``.

    :param rows: evaluation rows.
    :param keys: grouping columns; default ``agent, scheme, m, stream``, plus ``threshold`` when
        some row has one (an adaptive budget).
    :return: one entry per group: the keys, ``num_seeds``, then ``<metric>`` and
        ``<metric>_std`` of every metric (NaN where no row has a finite value); a missing or NaN
        ``threshold`` key is ``None``.
    """
    if keys is None:
        keys = ("agent", "scheme", "m", "stream")
        if any(is_finite(r.get("threshold")) for r in rows):
            keys = (*keys, "threshold")
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        # NaN never equals itself: a missing threshold groups as None
        key = tuple(row.get(k) if k != "threshold" or is_finite(row.get(k)) else None
                    for k in keys)
        groups.setdefault(key, []).append(row)
    metrics = [*ACCURACY_METRICS, *COST_METRICS]
    metrics += sorted({k for r in rows for k in r if str(k).startswith("seconds_")})
    out = []
    for key, group in groups.items():
        entry = dict(zip(keys, key, strict=False))
        entry["num_seeds"] = len({r.get("seed") for r in group})
        for metric in metrics:
            vals = np.array([float(r[metric]) if is_finite(r.get(metric)) else np.nan
                             for r in group], float)
            finite = vals[np.isfinite(vals)]
            entry[metric] = float(finite.mean()) if len(finite) else float("nan")
            entry[f"{metric}_std"] = float(finite.std()) if len(finite) else float("nan")
        out.append(entry)
    return out


def metric_by_m(rows: Sequence[Mapping[str, Any]], metric: str = "accuracy"
                ) -> dict[tuple[str, str, str], dict[int, tuple[float, float, int]]]:
    """(agent, scheme, stream) -> m -> (mean, std, number of seeds) of ``metric``.

    :func:`summarize` of the top-m rows, reshaped for the tables and the accuracy-vs-m figure;
    adaptive-budget (threshold) rows have no m and are left out.

    :param rows: evaluation rows.
    :param metric: a metric column.
    :return: the nested mapping, m in increasing order.
    """
    out: dict[tuple[str, str, str], dict[int, tuple[float, float, int]]] = defaultdict(dict)
    topm = [r for r in rows if not is_finite(r.get("threshold"))]
    for e in summarize(topm, ("agent", "scheme", "m", "stream")):
        out[(e["agent"], e["scheme"], e["stream"])][int(e["m"])] = (
            float(e[metric]), float(e[f"{metric}_std"]), int(e["num_seeds"]))
    return {k: dict(sorted(v.items())) for k, v in out.items()}
