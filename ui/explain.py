"""What the attention pages say in words and export: planted-band verdicts, the pixel CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssan.attention import planted_band_ratio
from ssan.scene import Scene

FOUND, WEAK = 1.5, 1.1  # attention ratio inside/outside the planted bands


def planted_verdict(scene: Scene, class_attention: np.ndarray) -> str | None:
    """One line: for each planted class pair, how much more class-mean attention its planted bands get
    than the other bands, and whether that counts as attention having found them. None off the demo."""
    if scene.planted is None or not scene.planted.spectral_pairs:
        return None
    wl = scene.wavelengths
    parts, ratios = [], []
    for a, b, lo, hi in scene.planted.spectral_pairs:
        mask = scene.planted.bands_for_class(a, scene.n_bands)
        ratio = planted_band_ratio(class_attention[[a - 1, b - 1]], mask)
        ratios.append(ratio)
        shown = "<0.1" if ratio < 0.1 else f"{ratio:.1f}"
        parts.append(f"{shown}× for “{scene.class_names[a - 1]}” vs “{scene.class_names[b - 1]}” "
                     f"(bands {lo}–{hi - 1}, {wl[lo]:.0f}–{wl[hi - 1]:.0f} nm)")
    best = max(ratios)
    if min(ratios) >= FOUND:
        verdict = "attention found the planted bands"
    elif best >= FOUND:
        verdict = "attention found the planted bands of one pair, not of the other"
    elif best >= WEAK:
        verdict = "attention leans only slightly towards the planted bands"
    else:
        verdict = "attention did not concentrate on the planted bands"
    return f"Planted bands get {'; '.join(parts)} the mean attention of the other bands: **{verdict}**."


def pixel_table(scene: Scene, row: int, col: int, scaled: np.ndarray, attention: np.ndarray | None) -> pd.DataFrame:
    """Per band: index, wavelength, the stored value, the model's scaled input, and attention α."""
    table = pd.DataFrame({
        "band": np.arange(scene.n_bands),
        "wavelength_nm": np.round(scene.wavelengths, 3),
        "value": scene.cube[row, col],
        "scaled_input": scaled,
    })
    if attention is not None:
        table["attention"] = attention
    if scene.planted is not None:
        table["planted"] = scene.planted.band_mask(scene.n_bands)
    return table
