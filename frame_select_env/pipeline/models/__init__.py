"""Backbones, per-stream TSN models, checkpoints and the frozen two-stream classifier."""

from frame_select_env.pipeline.models.backbones import (
    ARCHS,
    adapt_first_conv,
    build_backbone,
    first_conv,
    set_partial_bn,
    tsn_param_groups,
)
from frame_select_env.pipeline.models.bninception import BNInception
from frame_select_env.pipeline.models.checkpoints import (
    CHECKPOINT_FORMAT,
    TWO_STREAM_FORMAT,
    load_stream_model,
    read_stream_checkpoint,
    read_two_stream_checkpoint,
    save_stream_checkpoint,
    save_two_stream_checkpoint,
    stream_checkpoint_dict,
    stream_model_from_checkpoint,
)
from frame_select_env.pipeline.models.classifier import TwoStreamClassifier
from frame_select_env.pipeline.models.resnet import ResNet
from frame_select_env.pipeline.models.small_cnn import SmallCNN
from frame_select_env.pipeline.models.stream_model import (
    INPUT_NORMS,
    StreamModel,
    build_stream_model,
    preprocess_views,
    stream_model_from_public,
)
from frame_select_env.pipeline.models.weights import (
    detect_source,
    load_pretrained,
    load_state_dict_file,
    load_torch_file,
    map_state_dict,
)
from frame_select_env.pipeline.streams import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "ARCHS",
    "CHECKPOINT_FORMAT",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INPUT_NORMS",
    "TWO_STREAM_FORMAT",
    "BNInception",
    "ResNet",
    "SmallCNN",
    "StreamModel",
    "TwoStreamClassifier",
    "adapt_first_conv",
    "build_backbone",
    "build_stream_model",
    "first_conv",
    "load_stream_model",
    "preprocess_views",
    "read_stream_checkpoint",
    "read_two_stream_checkpoint",
    "save_stream_checkpoint",
    "save_two_stream_checkpoint",
    "set_partial_bn",
    "tsn_param_groups",
    "stream_checkpoint_dict",
    "stream_model_from_checkpoint",
    "stream_model_from_public",
    "detect_source",
    "load_pretrained",
    "load_state_dict_file",
    "load_torch_file",
    "map_state_dict",
]
