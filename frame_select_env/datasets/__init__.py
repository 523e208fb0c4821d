"""Dataset lists (UCF101, HMDB51, plain lists)."""

from frame_select_env.datasets.lists import (
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
