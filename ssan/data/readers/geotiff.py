"""GeoTIFF (and plain multi-page TIFF) cubes and label masks through tifffile.

A multi-band GeoTIFF stores bands either as planes (bands, rows, cols) or interleaved
(rows, cols, bands); tifffile names the axes of the series, and the cube is returned as
(rows, cols, bands). Band centres are read from GDAL's metadata when it lists them.
"""

from __future__ import annotations

import contextlib
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tifffile

from ssan.data.readers.matfile import check_declared, max_scene_bytes
from ssan.data.scene import SceneError
from ssan.data.sensors import check_band_centres

SUFFIXES = (".tif", ".tiff")
# Pages of a multi-page TIFF: one per band, and hyperspectral sensors have a few hundred; tifffile's series
# detection grows with the square of the page count (1,000 pages 0.5 s, 20,000 pages a minute).
MAX_PAGES = 1024
HELP = "Expected a GeoTIFF or TIFF: a cube with its bands as planes or samples, or a single-band label mask."


def read_tiff(
    path: str | Path, shape: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The image as (rows, cols) or (rows, cols, bands), and band centres (nm) when GDAL metadata gives them.
    With `shape` (a label mask's cube), an image of another size is refused before it is decoded."""
    path = Path(path)
    if not path.is_file():
        raise SceneError(f"{path}: {'is a folder' if path.is_dir() else 'does not exist'}. {HELP}")
    try:
        with _tifffile_quiet(), tifffile.TiffFile(path) as tif:
            if (
                len(tif.pages) > MAX_PAGES
            ):  # counted from the page offsets: finding the series takes minutes
                raise SceneError(
                    f"{path}: the TIFF has {len(tif.pages):,} pages; a cube has at most {MAX_PAGES:,} (one per "
                    f"band). {HELP}"
                )
            series = tif.series[0]
            # the declared size is checked before anything is decompressed
            check_declared(
                path,
                {path.name: (tuple(series.shape), series.dtype.itemsize)},
                max_scene_bytes(),
                kind="image",
            )
            if series.dtype.kind == "c":
                raise SceneError(
                    f"{path}: the TIFF holds complex values ({series.dtype}); a reflectance or radiance "
                    "cube is real. Export its magnitude or real part as a real type."
                )
            if shape is not None:
                _check_mask_size(path, series, shape)
            axes, data = series.axes, series.asarray()
            gdal = tif.pages[0].tags.get("GDAL_METADATA")
            gdal_xml = gdal.value if gdal is not None else None
    except SceneError:
        raise
    except (
        Exception
    ) as err:  # tifffile raises several types for damaged files; all mean the same here
        size = path.stat().st_size
        raise SceneError(
            f"{path}: not a readable TIFF ({size:,} bytes; {type(err).__name__}: {err}). {HELP} "
            "It may be truncated; copy or export it again."
        ) from err
    data = _rows_cols_bands(np.asarray(data), axes, path)
    bands = data.shape[2] if data.ndim == 3 else 1
    return data, _gdal_wavelengths(gdal_xml, bands, path)


@contextlib.contextmanager
def _tifffile_quiet() -> Iterator[None]:
    """tifffile logs what it finds wrong in a damaged file; the one SceneError says it instead."""
    log = logging.getLogger("tifffile")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _check_mask_size(path: Path, series, shape: tuple[int, int]) -> None:
    """Refuse a mask whose rows x cols (from the TIFF's tags) differ from the cube's."""
    axes, dims = series.axes, tuple(series.shape)
    if "Y" in axes and "X" in axes:
        found = (dims[axes.index("Y")], dims[axes.index("X")])
        if found != tuple(shape):
            raise SceneError(
                f"{path}: the label map is {found[0]}x{found[1]} but the cube is {shape[0]}x{shape[1]} pixels; "
                "cube and labels must cover the same pixels. Use the mask made for this cube."
            )


def _rows_cols_bands(data: np.ndarray, axes: str, path: Path) -> np.ndarray:
    """Move tifffile's Y and X axes to the front; the one other axis (bands) goes last."""
    if "Y" not in axes or "X" not in axes:
        raise SceneError(f"{path}: the TIFF's axes are {axes!r}, with no rows and columns. {HELP}")
    if len(axes) != data.ndim:  # a damaged file whose tags disagree with its data
        raise SceneError(
            f"{path}: the TIFF's tags name {len(axes)} axes ({axes}) but its data has {data.ndim}; the file "
            "is damaged. Copy or export it again."
        )
    order = [axes.index("Y"), axes.index("X")] + [i for i, a in enumerate(axes) if a not in "YX"]
    data = np.transpose(data, order)
    extra = data.shape[2:]
    if len(extra) > 1:
        if sum(n > 1 for n in extra) > 1:
            raise SceneError(
                f"{path}: the TIFF has {data.ndim} dimensions ({axes}: "
                f"{'x'.join(map(str, data.shape))}); expected rows x cols x bands. {HELP}"
            )
        data = data.reshape(data.shape[:2] + (int(np.prod(extra)),))
    return data


def _gdal_wavelengths(xml: str | None, n_bands: int, path: Path) -> np.ndarray | None:
    """Band centres from GDAL_METADATA items named "wavelength" (per sample), µm turned into nm."""
    if not xml:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    found: dict[int, float] = {}
    for item in root.iter("Item"):
        sample = (item.get("sample") or "").strip()
        if (item.get("name") or "").lower() in (
            "wavelength",
            "central_wavelength",
        ) and sample.isdigit():
            match = re.search(r"[-+]?\d+(\.\d+)?", item.text or "")
            if match:
                found[int(sample)] = float(match.group())
    if sorted(found) != list(range(n_bands)):
        return None
    values = np.array([found[i] for i in range(n_bands)], dtype=np.float64)
    if values.max() < 30:
        values = values * 1000.0
    if values.min() < 200 or values.max() > 16000:
        return None
    return check_band_centres(values, f"{path}: the GDAL metadata's wavelengths")
