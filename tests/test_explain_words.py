"""The attention pages' words: the planted-band verdict reads as sentences, with the right conclusion."""

from __future__ import annotations

import numpy as np
import pytest

from ui.explain import planted_verdict


def attention_with(demo, ratios: list[float]) -> np.ndarray:
    """Class-mean attention giving each planted pair's bands `ratio` times the attention of the others."""
    att = np.ones((demo.n_classes, demo.n_bands))
    for (a, b, _, _), ratio in zip(demo.planted.spectral_pairs, ratios):
        mask = demo.planted.bands_for_class(a, demo.n_bands)
        att[[a - 1, b - 1]] = np.where(mask, ratio, 1.0)
    return att / att.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    "ratios, conclusion",
    [
        ([3.0, 3.0], "So attention found the planted bands of every pair."),
        (
            [3.0, 1.0],
            "So attention found the planted bands of one pair, but not those of the other.",
        ),
        ([1.2, 1.0], "So attention leans only slightly towards the planted bands."),
        ([1.0, 0.05], "So attention did not concentrate on the planted bands."),
    ],
)
def test_the_verdict_is_sentences_ending_in_a_conclusion(demo, ratios, conclusion):
    pairs = demo.planted.spectral_pairs[: len(ratios)]
    text = planted_verdict(demo, attention_with(demo, ratios))
    assert text.endswith(f"**{conclusion}**")
    a, b, lo, hi = pairs[0]
    assert (
        f"“{demo.class_names[a - 1]}” and “{demo.class_names[b - 1]}” differ mainly in bands {lo} to {hi - 1} "
        in text
    )
    assert (
        f"gives each of those bands {ratios[0]:.1f} times the attention it gives any other band."
        in text
    )
    if ratios[-1] < 0.1:
        assert "less than a tenth of the attention" in text
