"""A classification map as a PNG with a legend, drawn with Pillow (no plotting library).

Small scenes are upscaled by an integer factor (nearest neighbour, so pixels stay square and
sharp); the legend on the right pairs each class colour with its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ssan.render.imaging import colorize_labels

TARGET_SIDE = 600  # small maps are upscaled until their long side reaches about this
MAX_SCALE = 8
BACKGROUND = (255, 255, 255)
UNCLASSIFIED = (0, 0, 0)
_SWATCH = 14
_PAD = 10
_LINE = 20
_FONT_SIZE = 13


def scale_factor(shape: tuple[int, int], target: int = TARGET_SIDE) -> int:
    """Integer upscaling that brings the long side near `target` px (1 for large scenes)."""
    return int(np.clip(target // max(max(shape), 1), 1, MAX_SCALE))


def render_map(
    class_map: np.ndarray,
    class_names: Sequence[str],
    class_colors: Sequence[str],
    title: str | None = None,
    scale: int | None = None,
) -> Image.Image:
    """RGB image of a (H, W) map of class ids (0 = not classified) with a legend on the right."""
    class_map = np.asarray(class_map)
    if len(class_names) != len(class_colors):
        raise ValueError(
            f"{len(class_names)} class names but {len(class_colors)} colours; give one colour per class."
        )
    scale = scale or scale_factor(class_map.shape)
    rgb = colorize_labels(class_map, class_colors, background=UNCLASSIFIED)
    picture = Image.fromarray(rgb, "RGB").resize(
        (class_map.shape[1] * scale, class_map.shape[0] * scale), Image.Resampling.NEAREST
    )
    font = ImageFont.load_default(size=_FONT_SIZE)
    entries = [(c, name) for c, name in zip(class_colors, class_names)]
    if (class_map == 0).any():
        entries.append(("#000000", "not classified"))
    lines = ([title] if title else []) + [name for _, name in entries]
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_width = max(measure.textlength(line, font=font) for line in lines)
    legend_width = int(_PAD + _SWATCH + _PAD + text_width + _PAD)
    legend_height = _PAD + _LINE * len(lines) + _PAD
    image = Image.new(
        "RGB", (picture.width + legend_width, max(picture.height, legend_height)), BACKGROUND
    )
    image.paste(picture, (0, 0))
    draw = ImageDraw.Draw(image)
    x, y = picture.width + _PAD, _PAD
    if title:
        draw.text((x, y), title, fill=(0, 0, 0), font=font)
        y += _LINE
    for colour, name in entries:
        draw.rectangle([x, y, x + _SWATCH, y + _SWATCH], fill=colour, outline=(80, 80, 80))
        draw.text((x + _SWATCH + _PAD, y + 1), name, fill=(0, 0, 0), font=font)
        y += _LINE
    return image


def save_map(
    path: str | Path,
    class_map: np.ndarray,
    class_names: Sequence[str],
    class_colors: Sequence[str],
    title: str | None = None,
    scale: int | None = None,
) -> Path:
    """Render the map (see `render_map`) and write it as PNG to `path`; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_map(class_map, class_names, class_colors, title, scale).save(path, format="PNG")
    return path
