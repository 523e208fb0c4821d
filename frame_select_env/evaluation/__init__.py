"""The one evaluation of the project, used alike by the AS agent, the SB3 agents and any policy.

Along the data path:

* :mod:`~frame_select_env.core.metrics`: accuracy, mean class accuracy, precision;
* :mod:`~frame_select_env.evaluation.runner`: Algorithm 2 for selection policies on every view
  of a split (:func:`load_split`, :func:`policy_importance`, :func:`evaluate_importance`,
  :func:`evaluate_policies`);
* :mod:`~frame_select_env.evaluation.costing`: the rows' cost columns (select-before-compute);
* :mod:`~frame_select_env.evaluation.sequential`: sequential agents (``FrameSelectionSeq-v0``)
  rolled out into the same rows, costed the same way (:func:`evaluate_sequential`);
* :mod:`~frame_select_env.evaluation.results`: the row schema, the results CSV files
  (:func:`write_csv`, :func:`read_csv`) and the mean over seeds (:func:`summarize`);
* :mod:`~frame_select_env.evaluation.tables`: the Markdown and console tables;
* :mod:`~frame_select_env.evaluation.plots`: accuracy against m and against cost.

It reads top-m and threshold selection, the video-level aggregation with alpha (Eq. 10),
two-stream fusion and softmax from the core's :mod:`frame_select_env.core.selection` (the env uses
them too). Names are imported lazily, so ``from frame_select_env.evaluation import accuracy``
loads neither the runner nor matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = {
    "runner": ("ALL_AGENT", "SplitData", "ObservingPolicy", "load_split", "policy_importance",
               "policy_masks",
               "select_and_aggregate", "evaluate_importance", "evaluate_policies"),
    "costing": ("COST_METRICS", "RowCosting", "observed_streams"),
    "sequential": ("SEQ_VIEW", "SeqEpisodes", "cost_model_macs", "evaluate_sequential",
                   "has_own_cost", "run_episodes", "sequential_costing", "sequential_row",
                   "split_info"),
    "results": ("ROW_COLUMNS", "COMPARISON_COLUMNS", "CSV_FORMATS", "CsvFormat", "csv_columns",
                "write_csv", "read_csv", "is_finite", "summarize", "metric_by_m",
                "TUNING_COLUMNS", "Tuning", "TRAINING_FREE", "with_tuning"),
    "tables": ("METRIC_TEXT", "ORACLE_MARK", "CROSS_MARK", "display_name", "summary_cells",
               "markdown_table", "cost_table", "print_table", "report_best", "tuning_table"),
    "plots": ("save_figure", "plot_accuracy_vs_m", "plot_accuracy_vs_cost"),
}
_EXPORTS = {name: f"{__name__}.{module}" for module, names in _SUBMODULES.items()
            for name in names}
# the metrics are one formula each, kept in the core so the pipeline can use them too
_EXPORTS.update({name: "frame_select_env.core.metrics"
                 for name in ("accuracy", "mean_class_accuracy", "precision")})

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
