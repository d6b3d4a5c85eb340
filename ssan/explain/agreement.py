"""Does attention rank the inputs as the attributions do, and as the planted truth says?

Agreement is the per-pixel Spearman rank correlation between attention and an attribution
(scipy.stats: ranks, then Pearson along each row). Planted precision@k asks, for the demo
scene's planted class pairs, how many of a ranking's top-k bands lie in the planted range,
k being the planted width: 1 = all found, width / B = what a random ranking finds. It ranks
by magnitude (evidence for or against the class both count as found), while deletion and
agreement use the signed attributions (evidence for the predicted class first).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import ConstantInputWarning, pearsonr, rankdata

from ssan.data.scene import PlantedTruth


def rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) Spearman correlation between the rows of `a` and `b` (n, F); NaN where a row is constant."""
    a, b = np.asarray(a, float).reshape(len(a), -1), np.asarray(b, float).reshape(len(b), -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        return np.asarray(
            pearsonr(rankdata(a, axis=1), rankdata(b, axis=1), axis=1).statistic, dtype=float
        )


def per_class(values: np.ndarray, classes: np.ndarray, n_classes: int) -> list[np.ndarray]:
    """The finite values of each class 1..C (an empty array for a class without pixels)."""
    return [values[(classes == c) & np.isfinite(values)] for c in range(1, n_classes + 1)]


@dataclass(frozen=True)
class PlantedPrecision:
    """Precision@k of one ranking on one planted class pair's pixels."""

    pair: tuple[int, int]
    bands: tuple[int, int]  # half-open planted band range
    ranking: str
    precision: float
    chance: float
    n_pixels: int

    def to_dict(self) -> dict:
        return {
            "pair": list(self.pair),
            "bands": list(self.bands),
            "ranking": self.ranking,
            "precision": self.precision,
            "chance": self.chance,
            "n_pixels": self.n_pixels,
        }


def planted_precision(
    planted: PlantedTruth | None, labels: np.ndarray, scores: dict[str, np.ndarray]
) -> list[PlantedPrecision]:
    """For each planted spectral pair and ranking, the mean share of the top-k bands (by magnitude) inside the
    planted range over the pixels of the pair's two classes (by ground truth); empty off the demo scene."""
    if planted is None:
        return []
    out = []
    for a, b, lo, hi in planted.spectral_pairs:
        chosen = np.isin(labels, (a, b))
        if not chosen.any():
            continue
        width = hi - lo
        for name, s in scores.items():
            top = np.argsort(-np.abs(np.asarray(s[chosen], float)), axis=1, kind="stable")[
                :, :width
            ]
            hits = ((top >= lo) & (top < hi)).mean(axis=1)
            out.append(
                PlantedPrecision(
                    (a, b),
                    (lo, hi),
                    name,
                    float(hits.mean()),
                    width / s.shape[1],
                    int(chosen.sum()),
                )
            )
    return out
