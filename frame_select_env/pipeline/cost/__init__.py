"""Compute cost of recognising a video: counted multiply-accumulates and measured seconds.

Units, used everywhere in the project:

* **MACs** (multiply-accumulates). ``torch.utils.flop_counter.FlopCounterMode`` counts FLOPs of
  the matrix products and convolutions a forward pass runs, with one multiply-add = 2 FLOPs;
  :func:`count_macs` divides by 2. Element-wise work (BatchNorm, ReLU, pooling, softmax) is not
  counted, as in the MAC figures of the literature (OCSampler, AR-Net, FrameExit report
  "GFLOPs" that are in fact GMACs). Tables give GMACs (1e9 MACs) per video.
* **seconds**: wall-clock seconds on one core of the machine recorded in the cost dict
  (``machine``), measured, never assumed: decoding (grab and retrieve + resize per frame),
  optical flow per frame pair of each method (``dis``, ``farneback``, ``tvl1``), and each
  stream's CNN per crop. The agent's seconds are measured where it runs (the evaluation).

The *cost dict* (:func:`build_cost`) is what extraction stores in the store's metadata under
``"cost"``; :func:`store_cost` reads it back (or, for the built-in store, whose metadata predates
it, the shipped ``data/sparse_actions_cost.json``). :class:`CostModel` turns "which (frame, crop)
pairs of which stream were computed" into per-video MACs and seconds. A stream the agent observes
is computed on all T frames; a stream it only predicts with is computed on the kept frames only
(select-before-compute). Flow stacks of neighbouring sampled frames overlap on short videos, and
the extractor computes each frame pair once, so flow seconds count *distinct* frame pairs, from
the video's frame count where known.

Modules: :mod:`.macs` (counting), :mod:`.timing` (measuring), :mod:`.model` (the cost dict and
:class:`CostModel`), :mod:`.builtin` (the built-in store's cost dict), :mod:`.from_arch` (the
MACs of a store that records no cost, from ``--arch``); ``python -m
frame_select_env.pipeline.cost`` re-measures the latter.
"""

from frame_select_env.pipeline.cost.builtin import (
    builtin_architecture,
    builtin_cost,
    sparse_actions_frame_counts,
)
from frame_select_env.pipeline.cost.from_arch import architecture_cost, parse_arch, table_cost
from frame_select_env.pipeline.cost.macs import (
    agent_macs_per_sequence,
    classifier_architecture,
    count_macs,
    stream_macs_per_crop,
)
from frame_select_env.pipeline.cost.model import (
    ARCHITECTURE_FILE,
    COST_FORMAT,
    MAC_UNIT,
    SECONDS_UNIT,
    CostModel,
    VideoCost,
    build_cost,
    cost_summary,
    extraction_metadata,
)
from frame_select_env.pipeline.cost.timing import (
    FLOW_METHODS,
    machine_info,
    measure_cnn_seconds_per_crop,
    measure_decode_seconds,
    measure_flow_seconds,
    measure_seconds,
)
from frame_select_env.store.cost_record import BUILTIN_COST_JSON, compose_cost, store_cost

__all__ = [
    "ARCHITECTURE_FILE",
    "BUILTIN_COST_JSON",
    "COST_FORMAT",
    "FLOW_METHODS",
    "MAC_UNIT",
    "SECONDS_UNIT",
    "CostModel",
    "VideoCost",
    "agent_macs_per_sequence",
    "architecture_cost",
    "build_cost",
    "builtin_architecture",
    "builtin_cost",
    "classifier_architecture",
    "compose_cost",
    "cost_summary",
    "count_macs",
    "extraction_metadata",
    "machine_info",
    "measure_cnn_seconds_per_crop",
    "measure_decode_seconds",
    "measure_flow_seconds",
    "measure_seconds",
    "parse_arch",
    "sparse_actions_frame_counts",
    "store_cost",
    "stream_macs_per_crop",
    "table_cost",
]
