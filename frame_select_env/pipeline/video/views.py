"""Spatial test-time views: centre crop (V = 1) and TSN ten-crop (V = 10).

View order for V = 10 (fixed, so that view 0 is the centre crop for both V = 1 and V = 10):
``centre, top-left, top-right, bottom-left, bottom-right`` followed by the horizontal flips of the
same five crops in the same order. Flipping a flow view negates its x channels (a field that
points right points left in the mirrored image).
"""

from __future__ import annotations

import numpy as np

VIEW_NAMES_10 = (
    "centre", "top_left", "top_right", "bottom_left", "bottom_right",
    "centre_flip", "top_left_flip", "top_right_flip", "bottom_left_flip", "bottom_right_flip",
)


def _spatial_axes(layout: str, ndim: int) -> tuple[int, int]:
    if layout == "hwc":  # (..., H, W, C)
        return ndim - 3, ndim - 2
    if layout == "chw":  # (..., C, H, W)
        return ndim - 2, ndim - 1
    raise ValueError(f"layout must be 'hwc' or 'chw', got {layout!r}")


def crop_offsets(height: int, width: int, crop: int) -> list[tuple[int, int]]:
    """(top, left) of the five TSN crops: centre, top-left, top-right, bottom-left, bottom-right.

    :param height: image height
    :param width: image width
    :param crop: square crop side
    """
    if crop > height or crop > width:
        raise ValueError(f"crop {crop} is larger than the image ({width}x{height})")
    dh, dw = height - crop, width - crop
    return [(dh // 2, dw // 2), (0, 0), (0, dw), (dh, 0), (dh, dw)]


def crop(x: np.ndarray, top: int, left: int, size: int, layout: str = "hwc") -> np.ndarray:
    """Square crop of ``x`` at (top, left).

    :param x: array with spatial axes per ``layout``
    :param top: first row
    :param left: first column
    :param size: crop side
    :param layout: ``hwc`` (..., H, W, C) or ``chw`` (..., C, H, W)
    """
    ah, aw = _spatial_axes(layout, x.ndim)
    sl = [slice(None)] * x.ndim
    sl[ah] = slice(top, top + size)
    sl[aw] = slice(left, left + size)
    return x[tuple(sl)]


def hflip(x: np.ndarray, layout: str = "hwc", is_flow: bool = False) -> np.ndarray:
    """Horizontal flip; for flow (channels x1, y1, x2, y2, ...) the x channels are negated.

    :param x: array with spatial axes per ``layout``
    :param layout: ``hwc`` or ``chw``
    :param is_flow: negate the even (x) channels; the data must be signed (e.g. [-1, 1] float)
    """
    _, aw = _spatial_axes(layout, x.ndim)
    out = np.flip(x, axis=aw).copy()
    if is_flow:
        if not np.issubdtype(out.dtype, np.signedinteger) and not np.issubdtype(
            out.dtype, np.floating
        ):
            raise ValueError(f"flow flip needs signed values, got dtype {out.dtype}")
        ac = x.ndim - 1 if layout == "hwc" else x.ndim - 3
        sl = [slice(None)] * x.ndim
        sl[ac] = slice(0, None, 2)
        out[tuple(sl)] *= -1
    return out


def make_views(
    x: np.ndarray,
    num_views: int = 1,
    crop_size: int = 224,
    layout: str = "hwc",
    is_flow: bool = False,
) -> np.ndarray:
    """Test-time views of one image / stack (or a batch sharing the same geometry).

    :param x: e.g. RGB (T, H, W, 3) with ``layout='hwc'`` or flow (T, 2L, H, W) with
        ``layout='chw'``
    :param num_views: 1 (centre crop) or 10 (TSN ten-crop)
    :param crop_size: square crop side (224 default)
    :param layout: ``hwc`` or ``chw``
    :param is_flow: whether flips negate x channels
    :return: (V, *x.shape with H, W replaced by crop_size)
    """
    if num_views not in (1, 10):
        raise ValueError(f"num_views must be 1 or 10, got {num_views}")
    return np.stack([view_at(x, v, crop_size, layout, is_flow) for v in range(num_views)])


def view_at(
    x: np.ndarray, view: int, crop_size: int = 224, layout: str = "hwc", is_flow: bool = False
) -> np.ndarray:
    """One view of :func:`make_views` (index 0..9 in the documented order), contiguous.

    Lets callers build views one at a time, e.g. to bound memory for ten-crop flow.

    :param x: see :func:`make_views`
    :param view: view index in [0, 10)
    :param crop_size: square crop side
    :param layout: ``hwc`` or ``chw``
    :param is_flow: whether flips negate x channels
    """
    if not 0 <= view < 10:
        raise ValueError(f"view index must be in [0, 10), got {view}")
    ah, aw = _spatial_axes(layout, x.ndim)
    top, left = crop_offsets(x.shape[ah], x.shape[aw], crop_size)[view % 5]
    out = crop(x, top, left, crop_size, layout)
    if view >= 5:
        return hflip(out, layout, is_flow)
    return np.ascontiguousarray(out)
