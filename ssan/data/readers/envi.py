"""ENVI images through Spectral Python: a `.hdr` header beside a binary cube (or classification map).

The header carries what a .mat file rarely does: the band centres ("wavelength", with
"wavelength units") and, in a classification file, the class names. Damaged headers, missing
or truncated data files become a `SceneError` saying what was found and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import spectral.io.envi as envi

from ssan.data.readers.matfile import check_declared, max_scene_bytes
from ssan.data.scene import SceneError
from ssan.data.sensors import check_band_centres

INTERLEAVES = ("bsq", "bil", "bip")
DATA_SUFFIXES = ("", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip", ".bin")
HELP = (
    "An ENVI image is a text header (.hdr) beside a binary data file of the same name (.img, .dat, .raw, "
    ".bsq, .bil, .bip or no extension); give the path of either."
)
_UNIT_SCALE = {
    "nanometers": 1.0,
    "nanometer": 1.0,
    "nm": 1.0,
    "micrometers": 1000.0,
    "micrometer": 1000.0,
    "microns": 1000.0,
    "um": 1000.0,
    "µm": 1000.0,
    "millimeters": 1e6,
    "mm": 1e6,
}


@dataclass(frozen=True)
class EnviImage:
    """The pixels (rows, cols, bands) and what the header says about them."""

    data: np.ndarray
    header: Path
    data_file: Path
    wavelengths: np.ndarray | None
    wavelength_note: str | None
    class_names: tuple[str, ...] | None  # a classification file's names, index = class id (0 first)
    classification: bool


def header_of(path: str | Path) -> Path | None:
    """The .hdr of an ENVI image given by its header or data file; None when there is none."""
    path = Path(path)
    if path.suffix.lower() == ".hdr":
        return path
    for candidate in (path.with_suffix(".hdr"), path.with_name(path.name + ".hdr")):
        if candidate.is_file():
            return candidate
    return None


def is_envi(path: str | Path) -> bool:
    """Whether `path` names an ENVI image (a header, or a data file with a header beside it)."""
    return header_of(path) is not None


def read_envi(path: str | Path) -> EnviImage:
    """Read an ENVI image fully into memory, checked against its header."""
    path = Path(path)
    header = header_of(path)
    if header is None or not header.is_file():
        raise SceneError(
            f"{path}: no ENVI header found ({path.with_suffix('.hdr').name} is missing). {HELP}"
        )
    try:
        image = envi.open(str(header), None if path.suffix.lower() == ".hdr" else str(path))
    except envi.EnviDataFileNotFoundError:
        raise SceneError(
            f"{header}: the header has no data file beside it (looked for "
            f"{', '.join(header.stem + s for s in DATA_SUFFIXES if s)}). {HELP}"
        ) from None
    except (
        Exception
    ) as err:  # Spectral raises several types for a damaged header; all mean the same here
        raise SceneError(
            f"{header}: not a readable ENVI header ({type(err).__name__}: {err}). {HELP}"
        ) from err
    meta = image.metadata
    data_file = Path(image.filename)
    _check_layout(header, meta, np.dtype(image.dtype))
    expected = int(image.offset) + int(np.prod(image.shape)) * int(image.sample_size)
    actual = data_file.stat().st_size
    if actual < expected:
        raise SceneError(
            f"{data_file}: {actual:,} bytes, but its header ({header.name}: {image.shape[0]} lines x "
            f"{image.shape[1]} samples x {image.shape[2]} bands of {image.sample_size} bytes) needs {expected:,}. "
            "The file is truncated or belongs to another header; copy or export it again."
        )
    check_declared(
        header,
        {header.name: (tuple(image.shape), int(image.sample_size))},
        max_scene_bytes(),
        kind="image",
    )
    try:
        data = np.asarray(image.load())
    except Exception as err:  # noqa: BLE001 - same message for any unreadable data file
        raise SceneError(
            f"{data_file}: the data could not be read ({type(err).__name__}: {err}). {HELP}"
        ) from err
    classification = "classification" in str(meta.get("file type", "")).lower()
    names = meta.get("class names")
    wavelengths, note = _wavelengths(meta, data.shape[2], header)
    return EnviImage(
        data,
        header,
        data_file,
        wavelengths,
        note,
        tuple(str(n).strip() for n in names) if names else None,
        classification,
    )


def _check_layout(header: Path, meta: dict, dtype: np.dtype) -> None:
    """Refuse what Spectral would read as something else: complex values (cast to real with a warning) and
    an interleave it does not know (read as BSQ)."""
    interleave = str(meta.get("interleave", "bsq")).strip().lower()
    if interleave not in INTERLEAVES:
        raise SceneError(
            f"{header}: interleave = {interleave} is not an ENVI layout; expected bsq, bil or bip. "
            "Fix the header's interleave line (or export the image again)."
        )
    if dtype.kind == "c":
        raise SceneError(
            f"{header}: the image holds complex values (ENVI data type {meta.get('data type')}); a "
            "reflectance or radiance cube is real. Export its magnitude or real part as a real type."
        )


def _wavelengths(meta: dict, n_bands: int, header: Path) -> tuple[np.ndarray | None, str | None]:
    """Band centres in nm from the header's "wavelength" list and "wavelength units"."""
    raw = meta.get("wavelength")
    if not raw:
        return None, None
    try:
        values = np.array([float(v) for v in raw], dtype=np.float64)
    except ValueError:
        return None, f"{header.name}: the wavelength list is not numbers and was ignored."
    if values.size != n_bands:
        return None, f"{header.name}: {values.size} wavelengths for {n_bands} bands; ignored."
    units = str(meta.get("wavelength units", "")).strip().lower()
    scale = _UNIT_SCALE.get(units)
    if scale is None:  # no or unknown units: micrometres when the values are that small
        scale = 1000.0 if values.max() < 30 else 1.0
    values = values * scale
    if not np.isfinite(values).all():
        check_band_centres(values, f"{header}: the header's wavelength list")
    if values.min() < 200 or values.max() > 16000:
        return (
            None,
            f"{header.name}: the wavelengths ({units or 'no units'}) are not plausible band centres; ignored.",
        )
    check_band_centres(values, f"{header}: the header's wavelength list")
    return values, f"Wavelengths from the ENVI header {header.name}."
