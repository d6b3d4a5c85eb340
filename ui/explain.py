"""What the attention pages say in words and export: what α is, planted-band verdicts, the pixel CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ssan.data.scene import Scene
from ssan.inference.attention import planted_band_ratio

FOUND, WEAK = 1.5, 1.1  # attention ratio inside/outside the planted bands


def planted_verdict(scene: Scene, class_attention: np.ndarray) -> str | None:
    """What the class-mean attention says about the planted bands, in sentences a student can read aloud:
    per planted class pair, how many times more attention a planted band gets than another band, then the
    verdict. None off the demo."""
    if scene.planted is None or not scene.planted.spectral_pairs:
        return None
    wl = scene.wavelengths
    sentences, ratios = [], []
    for a, b, lo, hi in scene.planted.spectral_pairs:
        mask = scene.planted.bands_for_class(a, scene.n_bands)
        ratio = planted_band_ratio(class_attention[[a - 1, b - 1]], mask)
        ratios.append(ratio)
        times = "less than a tenth of" if ratio < 0.1 else f"{ratio:.1f} times"
        sentences.append(
            f"“{scene.class_names[a - 1]}” and “{scene.class_names[b - 1]}” differ mainly in bands {lo} to {hi - 1} "
            f"({wl[lo]:.0f} to {wl[hi - 1]:.0f} nm); on average, the model gives each of those bands {times} "
            "the attention it gives any other band."
        )
    best = max(ratios)
    if min(ratios) >= FOUND:
        verdict = "So attention found the planted bands of every pair."
    elif best >= FOUND:
        verdict = "So attention found the planted bands of one pair, but not those of the other."
    elif best >= WEAK:
        verdict = "So attention leans only slightly towards the planted bands."
    else:
        verdict = "So attention did not concentrate on the planted bands."
    return " ".join(sentences) + f" **{verdict}**"


SEED_NOTE = (
    "Attention differs from one training run to the next: the same model trained with another seed can "
    "give a very different ratio (several times higher or lower) while classifying as well. Compare a few "
    "seeds before reading much into one."
)
ALPHA_NOTE = (
    "α is where the network *reads* the evidence, not necessarily where the evidence *lies*. The GRU runs "
    "along the bands in both directions, so its state at band i already summarises the bands before i (and, "
    "from the other direction, after i); attention picks the states worth reading. A peak in α can therefore "
    "sit just after the bands that matter, at the point where the GRU has finished reading them."
)
EXPLAIN_PAGE = Path(__file__).resolve().parents[1] / "pages" / "5_Does_attention_explain.py"


def explain_link() -> None:
    """A link to the page that tests whether attention explains the model's decisions (when it is installed)."""
    if EXPLAIN_PAGE.is_file():
        st.page_link(
            "pages/5_Does_attention_explain.py",
            label="Does attention explain the decision? Test it",
            icon=":material/science:",
        )


def pixel_table(
    scene: Scene, row: int, col: int, scaled: np.ndarray, attention: np.ndarray | None
) -> pd.DataFrame:
    """Per band: index, wavelength, the stored value, the model's scaled input, and attention α."""
    table = pd.DataFrame(
        {
            "band": np.arange(scene.n_bands),
            "wavelength_nm": np.round(scene.wavelengths, 3),
            "value": scene.cube[row, col],
            "scaled_input": scaled,
        }
    )
    if attention is not None:
        table["attention"] = attention
    if scene.planted is not None:
        table["planted"] = scene.planted.band_mask(scene.n_bands)
    return table
