"""Pure numpy image helpers behind the viewer: false colour, label colours, patches, click → pixel.

Kept free of Plotly and Streamlit so the pixel mapping the app relies on is unit-testable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ssan.data.scene import SceneError

# Percentiles are estimated on at most this many pixels (a fixed stride, so results are reproducible).
_STRETCH_SAMPLE = 100_000


def band_for_wavelength(wavelengths: np.ndarray, nm: float) -> int:
    """Index of the band whose centre is nearest `nm` (the first one on a tie)."""
    wl = np.asarray(wavelengths, dtype=np.float64)
    if wl.ndim != 1 or wl.size == 0:
        raise SceneError(
            f"wavelengths must be a non-empty 1-D array of band centres (nm); got shape {wl.shape}."
        )
    return int(np.argmin(np.abs(wl - float(nm))))


def false_colour(
    cube: np.ndarray,
    wavelengths: np.ndarray,
    rgb_nm: tuple[float, float, float] = (640.0, 550.0, 470.0),
    stretch: tuple[float, float] = (2.0, 98.0),
) -> np.ndarray:
    """uint8 (H, W, 3) composite of the bands nearest `rgb_nm`, each channel stretched between two percentiles."""
    if cube.ndim != 3:
        raise SceneError(f"false_colour needs a (rows, cols, bands) cube; got shape {cube.shape}.")
    if np.asarray(wavelengths).shape != (cube.shape[2],):
        raise SceneError(
            f"false_colour: {np.asarray(wavelengths).shape} wavelengths for {cube.shape[2]} bands."
        )
    lo_pct, hi_pct = (float(p) for p in stretch)
    if not 0.0 <= lo_pct < hi_pct <= 100.0:
        raise SceneError(
            f"stretch must be two percentiles with 0 <= lower < upper <= 100; got {stretch}."
        )
    bands = [band_for_wavelength(wavelengths, nm) for nm in rgb_nm]
    rgb = cube[..., bands].astype(np.float32)
    flat = rgb.reshape(-1, 3)
    sample = flat[:: max(1, flat.shape[0] // _STRETCH_SAMPLE)]
    lo, hi = np.percentile(sample, [lo_pct, hi_pct], axis=0)
    span = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
    scaled = np.clip((rgb - lo.astype(np.float32)) / span, 0.0, 1.0)
    return np.rint(scaled * 255.0).astype(np.uint8)


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """(r, g, b) 0..255 of a '#rrggbb' or '#rgb' colour."""
    text = colour.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    try:
        if len(text) != 6:
            raise ValueError
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        raise SceneError(
            f"colour {colour!r} is not a hex colour; expected '#rrggbb' or '#rgb'."
        ) from None


def colorize_labels(
    labels: np.ndarray,
    colors: Sequence[str],
    background: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """uint8 (H, W, 3) image of a label map: class k (1..C) gets colors[k-1], 0 gets `background`."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise SceneError(f"colorize_labels needs a 2-D label map; got shape {labels.shape}.")
    n = len(colors)
    if labels.size and (labels.min() < 0 or labels.max() > n):
        raise SceneError(
            f"colorize_labels: labels span {labels.min()}..{labels.max()} but {n} class colours were given; "
            f"labels must lie in 0..{n}."
        )
    lut = np.array([background, *(hex_to_rgb(c) for c in colors)], dtype=np.uint8)
    return lut[labels.astype(np.intp)]


def blend(rgb: np.ndarray, overlay_rgb: np.ndarray, mask: np.ndarray, opacity: float) -> np.ndarray:
    """uint8 copy of `rgb` with `overlay_rgb` mixed in at `opacity`, only where `mask` is True."""
    if rgb.shape != overlay_rgb.shape or rgb.shape[:2] != mask.shape:
        raise SceneError(
            f"blend: image {rgb.shape}, overlay {overlay_rgb.shape} and mask {mask.shape} must cover the same pixels."
        )
    if not 0.0 <= opacity <= 1.0:
        raise SceneError(f"blend: opacity must lie in 0..1; got {opacity}.")
    out = np.array(rgb, dtype=np.uint8, copy=True)
    mixed = (1.0 - opacity) * rgb[mask].astype(np.float32) + opacity * overlay_rgb[mask].astype(
        np.float32
    )
    out[mask] = np.rint(mixed).astype(np.uint8)
    return out


def patch_around(image: np.ndarray, row: int, col: int, size: int) -> np.ndarray:
    """size×size crop centred on (row, col), zero-padded past the border; the pixel sits at [size//2, size//2]."""
    h, w = image.shape[:2]
    if size < 1:
        raise SceneError(f"patch size must be a positive integer; got {size}.")
    if not (0 <= row < h and 0 <= col < w):
        raise SceneError(f"pixel (row {row}, col {col}) lies outside the {h}x{w} image.")
    half = size // 2
    out = np.zeros((size, size, *image.shape[2:]), dtype=image.dtype)
    r0, c0 = row - half, col - half
    src_r = slice(max(r0, 0), min(r0 + size, h))
    src_c = slice(max(c0, 0), min(c0 + size, w))
    dst_r = slice(src_r.start - r0, src_r.stop - r0)
    dst_c = slice(src_c.start - c0, src_c.stop - c0)
    out[dst_r, dst_c] = image[src_r, src_c]
    return out


def grid_axes(shape: tuple[int, int], grid_step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the clickable grid: every `grid_step`-th pixel, centred in its step×step block.

    The grid's point k is (rows[k // len(cols)], cols[k % len(cols)]); at step 1 that is k = row * W + col.
    """
    if grid_step < 1:
        raise SceneError(f"grid_step must be a positive integer; got {grid_step}.")
    h, w = shape
    offset = grid_step // 2
    rows = np.minimum(np.arange(0, h, grid_step) + offset, h - 1)
    cols = np.minimum(np.arange(0, w, grid_step) + offset, w - 1)
    return rows.astype(np.int32), cols.astype(np.int32)


def _as_int(value: Any) -> int | None:
    """Nearest int of a finite real number, else None (bools and strings are not coordinates)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    if not np.isfinite(value):
        return None
    return int(round(float(value)))


def _clamp(row: int, col: int, shape: tuple[int, int]) -> tuple[int, int]:
    return min(max(row, 0), shape[0] - 1), min(max(col, 0), shape[1] - 1)


def pixel_from_selection(
    selection: dict | None, shape: tuple[int, int], grid_step: int = 1
) -> tuple[int, int] | None:
    """(row, col) of the first point in a Streamlit Plotly selection state, clamped into the image; None if none.

    Accepts {"selection": {"points": [...]}} (the widget state) or the inner {"points": [...]}.
    A point's x/y are pixel coordinates; a point with only "point_index" is mapped through `grid_axes`.
    """
    try:
        inner = selection["selection"] if "selection" in selection else selection
        point = inner["points"][0]
    except (TypeError, KeyError, IndexError):
        return None
    if not hasattr(point, "get"):
        return None
    row, col = _as_int(point.get("y")), _as_int(point.get("x"))
    if row is None or col is None:
        index = _as_int(point.get("point_index"))
        rows, cols = grid_axes(shape, grid_step)
        if index is None or not 0 <= index < rows.size * cols.size:
            return None
        row, col = int(rows[index // cols.size]), int(cols[index % cols.size])
    return _clamp(row, col, shape)


def pixel_from_click(
    click: dict | None,
    shape: tuple[int, int],
    displayed_width: int | None = None,
    displayed_height: int | None = None,
) -> tuple[int, int] | None:
    """(row, col) of a streamlit-image-coordinates click given in displayed pixels; None if there is none.

    The displayed size defaults to the click's own "width"/"height".
    """
    try:
        x, y = float(click["x"]), float(click["y"])
        width = float(displayed_width if displayed_width is not None else click["width"])
        height = float(displayed_height if displayed_height is not None else click["height"])
    except (TypeError, KeyError, ValueError):
        return None
    if not (width > 0 and height > 0 and np.isfinite([x, y, width, height]).all()):
        return None
    h, w = shape
    return _clamp(int(y * h / height), int(x * w / width), shape)
