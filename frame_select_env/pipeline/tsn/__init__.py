"""TSN two-stream baseline training (Wang et al., 2016): config, raw-frame input, trainer."""

from frame_select_env.pipeline.tsn.config import ConfigError, TSNConfig, load_config
from frame_select_env.pipeline.tsn.data import (
    TSNDataset,
    fixed_crop_positions,
    multiscale_crop_sizes,
    sample_multiscale_crop,
    train_offsets,
)
from frame_select_env.pipeline.tsn.model import build_model, param_groups
from frame_select_env.pipeline.tsn.trainer import (
    evaluate,
    load_training_checkpoint,
    read_log,
    train_tsn,
)

__all__ = [
    "ConfigError",
    "TSNConfig",
    "TSNDataset",
    "build_model",
    "evaluate",
    "fixed_crop_positions",
    "load_config",
    "load_training_checkpoint",
    "multiscale_crop_sizes",
    "param_groups",
    "read_log",
    "sample_multiscale_crop",
    "train_offsets",
    "train_tsn",
]
