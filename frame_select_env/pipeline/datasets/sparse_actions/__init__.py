"""SparseActions: a procedural video dataset whose class evidence is sparse in time.

The paper's premise is that only a few frames of a real video carry the action; the rest is
background, camera motion or unrelated activity that can mislead a classifier averaging all
frames. This generator makes that explicit and measurable:

* Each of the 10 classes has its own **appearance** (shape, colour, texture of a sprite) and its
  own **motion** (translation direction/speed, rotation, oscillation, orbit, pulsing, ...), so
  both the RGB and the optical-flow stream carry evidence.
* The action occupies **one random window** covering a minority of the frames
  (``window_frac``, default 15-35%). Only those frames are marked relevant.
* All frames hold **clutter**: a textured, slowly panning background, sensor noise, brightness
  flicker and desaturated blobs moving in random straight lines.
* Outside the window there are **distractors**: weaker (smaller, semi-transparent) renderings of
  OTHER classes, each with its own class motion, sometimes appearance-only (a distractor sprite
  moving like clutter) or motion-only (a clutter-coloured blob moving like a distractor class).
  They are what misleads an all-frames average.

The generator (:mod:`.generator`) is a pure function of ``(seed, video index)``; the writer
(:mod:`.writer`) stores its videos and their ground truth; the harness (:mod:`.harness`)
measures a feature store extracted from them.
"""

from frame_select_env.pipeline.datasets.sparse_actions.generator import (
    CLASS_NAMES,
    GeneratedVideo,
    SparseActionsConfig,
    VideoRecord,
    class_motion,
    class_sprite,
    generate_video,
    plan_dataset,
    video_length_and_window,
)
from frame_select_env.pipeline.datasets.sparse_actions.harness import (
    MEASURE_M,
    fit_relevance_probe,
    measure_store,
    probe_scores,
)
from frame_select_env.pipeline.datasets.sparse_actions.writer import (
    builtin_videos,
    generate_videos,
    sampled_relevance,
    save_annotations,
    truth_relevance,
    write_avi,
)

__all__ = [
    "CLASS_NAMES",
    "MEASURE_M",
    "GeneratedVideo",
    "SparseActionsConfig",
    "VideoRecord",
    "class_motion",
    "builtin_videos",
    "class_sprite",
    "fit_relevance_probe",
    "generate_video",
    "generate_videos",
    "measure_store",
    "plan_dataset",
    "probe_scores",
    "sampled_relevance",
    "save_annotations",
    "truth_relevance",
    "video_length_and_window",
    "write_avi",
]
