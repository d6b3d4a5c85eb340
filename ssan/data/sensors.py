"""Band centres when a file has none: a guess from the band count, or the user's own list or range.

A cube without wavelengths still needs an axis. The band count often names the sensor: ROSIS
scenes have 102, 103 or 115 bands (430–860 nm), AVIRIS scenes 200, 204, 220 or 224
(400–2500 nm; Indian Pines, Salinas, Kennedy Space Center). The guess is always reported as a
guess, and `parse_wavelengths` takes the real values when the user has them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssan.data.scene import ROSIS_RANGE_NM, SceneError

AVIRIS_RANGE_NM = (400.0, 2500.0)
SENSORS = {  # band count -> (sensor, range)
    **{n: ("ROSIS", ROSIS_RANGE_NM) for n in (102, 103, 115)},
    **{n: ("AVIRIS", AVIRIS_RANGE_NM) for n in (200, 204, 220, 224)},
}
MAX_TEXT_BYTES = 1_000_000  # a text file of class names or wavelengths
HELP = (
    "Give the band centres in nm as START-END (spread evenly), as a comma-separated list, or as a text file "
    "with one value per band."
)


def guess_wavelengths(n_bands: int) -> tuple[np.ndarray, str]:
    """Evenly spread band centres for `n_bands` and a sentence saying they are a guess, and from what."""
    sensor, (lo, hi) = SENSORS.get(n_bands, ("", ROSIS_RANGE_NM))
    values = np.linspace(lo, hi, n_bands).astype(np.float64)
    if sensor:
        why = f"a guess from the band count: {n_bands} bands is typical of {sensor}, so {lo:.0f}–{hi:.0f} nm"
    else:
        why = (
            f"a guess: {n_bands} bands matches no sensor this program knows, so the ROSIS range "
            f"{lo:.0f}–{hi:.0f} nm is assumed"
        )
    return (
        values,
        f"band centres are estimates, {why}, spread evenly. Give the real ones with --wavelengths.",
    )


def parse_wavelengths(spec: str | Path, n_bands: int) -> np.ndarray:
    """Band centres (nm) from typed text ("400-2500" or "430, 434, …") or an explicit `Path` to a text file
    of numbers; exactly `n_bands` values. Text is never tried as a path."""
    if isinstance(spec, Path):
        text, source = read_text_file(spec, "wavelengths"), str(spec)
    else:
        text = spec.strip()
        source = f"wavelengths {text if len(text) <= 80 else text[:79] + '…'!r}"
    parts = [p for p in text.replace(",", " ").replace(";", " ").split() if p]
    lo, dash, hi = text.partition("-")
    try:
        if len(parts) == 1 and dash and lo.strip():
            values = np.linspace(float(lo), float(hi), n_bands)
        else:
            values = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        raise SceneError(f"{source}: not numbers. {HELP}") from None
    if values.size != n_bands:
        raise SceneError(f"{source}: {values.size} value(s) for a cube of {n_bands} bands. {HELP}")
    return check_band_centres(values, source)


def check_band_centres(values: np.ndarray, source: str) -> np.ndarray:
    """`values` when they are band centres in nm a plot can use: finite, 200–16000 nm, strictly increasing;
    else a SceneError naming `source` (a file's list is held to the same rule as one typed in)."""
    if not np.isfinite(values).all() or values.min() < 200 or values.max() > 16000:
        raise SceneError(
            f"{source}: band centres must be numbers between 200 and 16000 nm (micrometres? multiply by "
            f"1000). {HELP}"
        )
    if np.any(np.diff(values) <= 0):
        raise SceneError(
            f"{source}: band centres must increase from band to band (no repeats). {HELP}"
        )
    return values


def read_text_file(path: Path, what: str) -> str:
    """A small text file the user named explicitly (class names, wavelengths), at most MAX_TEXT_BYTES."""
    path = path.expanduser()
    if not path.is_file():
        where = "is a folder" if path.is_dir() else "does not exist"
        raise SceneError(f"{path}: {where}. Expected a text file of {what}; check the path.")
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise SceneError(
            f"{path}: {size:,} bytes, more than {MAX_TEXT_BYTES:,} for a file of {what}. "
            "Expected a short text file (one value per line)."
        )
    return path.read_text(errors="replace")
