"""Datasets: video lists (UCF101, HMDB51, plain lists) and the procedural SparseActions set.

:mod:`.lists` reads the lists (re-exported here); the SparseActions generator, writer and
measuring harness live in the :mod:`.sparse_actions` subpackage
(``frame_select_env.pipeline.datasets.sparse_actions``).
"""

from frame_select_env.pipeline.datasets.lists import (
    ListFormatError,
    VideoRecord,
    load_dataset,
    read_class_names,
    read_hmdb51_split,
    read_plain_list,
    read_ucf101_classes,
    read_ucf101_list,
)

__all__ = [
    "ListFormatError",
    "VideoRecord",
    "load_dataset",
    "read_class_names",
    "read_hmdb51_split",
    "read_plain_list",
    "read_ucf101_classes",
    "read_ucf101_list",
]
