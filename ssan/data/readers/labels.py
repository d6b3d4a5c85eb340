"""Label maps and class names from the files people keep them in.

A label map (0 = unlabelled, 1..C) may be a .mat variable, an ENVI classification file (whose
header names the classes), a single-band GeoTIFF or a PNG mask (greyscale or palette: the
pixel values are the class ids). Class names may come from a text file, a comma-separated
list typed in, a names variable in the .mat, or the ENVI header.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ssan.data.readers import envi, geotiff
from ssan.data.readers.matfile import names_variable, pick_labels, read_mat
from ssan.data.scene import SceneError
from ssan.data.sensors import read_text_file

LABEL_FORMATS = (
    ".mat, an ENVI classification file (.hdr), a single-band GeoTIFF (.tif) or a PNG mask (.png)"
)


def read_labels(
    path: str | Path, shape: tuple[int, int], gt_var: str | None = None
) -> tuple[np.ndarray, tuple[str, ...] | None, str]:
    """(label map, class names by id 1..C or None, what was read) from a label file of any supported format."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        variables = read_mat(path)
        var, labels = pick_labels(variables, path, gt_var, shape)
        return labels, names_variable(variables), f"variable '{var}'"
    if gt_var is not None:
        raise SceneError(
            f"{path}: --gt-var names a variable in a .mat label file; this is not one. Leave it out."
        )
    if (
        suffix in geotiff.SUFFIXES
    ):  # TIFF and PNG before ENVI: a mask.tif beside a mask.hdr is still the TIFF
        data, _ = geotiff.read_tiff(path, shape)
        if data.ndim != 2:
            raise SceneError(
                f"{path}: a label mask has one band; this TIFF has {data.shape[2]}. "
                f"Expected {LABEL_FORMATS}."
            )
        return data, None, "TIFF mask"
    if suffix == ".png":
        return _png_mask(path, shape), None, "PNG mask"
    if envi.is_envi(path):
        image = envi.read_envi(path)
        if image.data.shape[2] != 1:
            raise SceneError(
                f"{image.header}: a label map has one band; this ENVI image has {image.data.shape[2]}. "
                f"Give the classification file (expected: {LABEL_FORMATS})."
            )
        names = image.class_names[1:] if image.class_names and len(image.class_names) > 1 else None
        return (
            image.data[:, :, 0],
            names,
            "ENVI classification" if image.classification else "ENVI image",
        )
    raise SceneError(
        f"{path}: labels cannot be read from a '{suffix or 'no'}' file. Expected {LABEL_FORMATS}."
    )


def _png_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A greyscale or palette PNG whose pixel values are class ids (an RGB picture is refused). Its size is
    checked against the cube's from the PNG header, before a single pixel is decoded."""
    if not path.is_file():
        raise SceneError(
            f"{path}: {'is a folder' if path.is_dir() else 'does not exist'}. Expected {LABEL_FORMATS}."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", Image.DecompressionBombWarning
            )  # its size is checked below
            image = Image.open(path)
        with image:
            mode = image.mode
            if mode not in ("L", "P", "I", "I;16", "1"):
                raise SceneError(
                    f"{path}: a {mode} picture, not a label mask. Expected one channel whose values are class ids "
                    "(0 = unlabelled): save the mask as greyscale ('L') or with a palette ('P'), not as colours."
                )
            width, height = image.size
            if (height, width) != tuple(shape):
                raise SceneError(
                    f"{path}: the label map is {height}x{width} but the cube is {shape[0]}x{shape[1]} pixels; "
                    "cube and labels must cover the same pixels. Use the mask made for this cube."
                )
            return np.asarray(image).astype(np.int64)
    except Image.DecompressionBombError as err:
        raise SceneError(
            f"{path}: the PNG declares more pixels than any scene ({err}). Export the mask again."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        if isinstance(err, SceneError):
            raise
        raise SceneError(f"{path}: not a readable PNG ({err}). Export the mask again.") from err


def read_class_names(given: str | Path | Sequence[str]) -> tuple[str, ...]:
    """Class names in class id order from what the user gave: typed text (one per line, or comma-separated
    when on one line), a list, or an explicit `Path` to a text file with one name per line.

    Text is never tried as a path: only a `Path` reads a file, so a typed name cannot read a server file."""
    if isinstance(given, Path):
        names = [line.strip() for line in read_text_file(given, "class names").splitlines()]
        source = str(given)
    elif isinstance(given, str):
        text = given.strip()
        names = [part.strip() for part in (text.splitlines() if "\n" in text else text.split(","))]
        source = f"class names {_short(given)!r}"
    else:
        names = [str(name).strip() for name in given]
        source = "class names"
    names = [name for name in names if name]
    if not names:
        raise SceneError(
            f"{source}: none given. Give the names in class id order, comma-separated or one per line, "
            "or a text file with one name per line."
        )
    return tuple(names)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
