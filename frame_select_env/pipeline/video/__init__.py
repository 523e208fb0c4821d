"""Video input (OpenCV / raw-frame folders), optical flow, test-time views, raw-frame export."""

from frame_select_env.pipeline.video.decode import (
    DEFAULT_SIZE,
    VideoReadError,
    count_frames,
    load_flow_segments,
    load_segments,
    read_frames,
    sample_indices,
)
from frame_select_env.pipeline.video.flow import (
    BOUND,
    FLOW_METHODS,
    compute_flow,
    dequantize_flow,
    flow_stack,
    quantize_flow,
    scale_flow,
    video_flow_stacks,
)
from frame_select_env.pipeline.video.views import hflip, make_views, view_at

__all__ = [
    "BOUND",
    "DEFAULT_SIZE",
    "FLOW_METHODS",
    "VideoReadError",
    "compute_flow",
    "count_frames",
    "dequantize_flow",
    "flow_stack",
    "hflip",
    "load_flow_segments",
    "load_segments",
    "make_views",
    "quantize_flow",
    "read_frames",
    "sample_indices",
    "scale_flow",
    "video_flow_stacks",
    "view_at",
]
