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


def parse_wavelengths(spec: str, n_bands: int) -> np.ndarray:
    """Band centres (nm) from "400-2500", "430,434,…" or a text file of numbers; exactly `n_bands` values."""
    text = spec.strip()
    source = f"wavelengths {spec!r}"
    path = Path(text).expanduser()
    if text and path.is_file():
        text, source = path.read_text(errors="replace"), f"{path}"
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
    if not np.isfinite(values).all() or values.min() < 200 or values.max() > 16000:
        raise SceneError(
            f"{source}: band centres must lie between 200 and 16000 nm (micrometres? multiply by 1000). "
            f"{HELP}"
        )
    if np.any(np.diff(values) <= 0):
        raise SceneError(f"{source}: band centres must increase from band to band. {HELP}")
    return values
