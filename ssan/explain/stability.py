"""Seed stability: do two trainings of the same model on the same split attend to the same bands?

Accuracy can agree while attention does not. For every pair of checkpoints (same model,
scene and split, different training seeds) on the same held-out pixels: the per-pixel
Spearman correlation of α, the correlation of the class-mean α per class, and the
difference in accuracy on those pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ssan.data.scene import Scene
from ssan.explain.agreement import rank_correlation
from ssan.explain.inputs import ExplainError, pixel_batch
from ssan.models.fitted import FittedModel

SAME_ACCURACY = 0.02  # accuracies within 2 points count as agreeing
ATTENTION_AGREES = (
    0.5  # a median per-pixel Spearman of α below this counts as attention disagreeing
)


@dataclass(frozen=True)
class SeedPair:
    """Agreement of α between the checkpoints trained with seeds a and b."""

    seeds: tuple[int, int]
    pixel_correlation: np.ndarray  # (n,) per pixel
    class_correlation: np.ndarray  # (C,) of the class-mean α; NaN for a class without pixels
    accuracy: tuple[float, float]

    @property
    def accuracy_difference(self) -> float:
        return abs(self.accuracy[0] - self.accuracy[1])

    @property
    def median_pixel_correlation(self) -> float:
        finite = self.pixel_correlation[np.isfinite(self.pixel_correlation)]
        return float(np.median(finite)) if finite.size else float("nan")

    @property
    def accuracy_agrees_attention_does_not(self) -> bool:
        """The case the test exists to show: the same accuracy, different attention."""
        return (
            self.accuracy_difference <= SAME_ACCURACY
            and not self.median_pixel_correlation >= ATTENTION_AGREES
        )

    def sentence(self) -> str:
        """The pair's finding in words."""
        a, b = self.seeds
        text = (
            f"Seeds {a} and {b}: accuracy {100 * self.accuracy[0]:.1f}% vs {100 * self.accuracy[1]:.1f}%, "
            f"median per-pixel rank correlation of α {self.median_pixel_correlation:.2f}"
        )
        if self.accuracy_agrees_attention_does_not:
            return text + ": the accuracy agrees while the attention does not."
        return text + "."

    def to_dict(self) -> dict:
        finite = self.pixel_correlation[np.isfinite(self.pixel_correlation)]
        return {
            "seeds": list(self.seeds),
            "accuracy": list(self.accuracy),
            "accuracy_difference": self.accuracy_difference,
            "accuracy_agrees_attention_does_not": self.accuracy_agrees_attention_does_not,
            "pixel_correlation_median": float(np.median(finite)) if finite.size else None,
            "pixel_correlation_quartiles": np.percentile(finite, [25, 75]).tolist()
            if finite.size
            else None,
            "class_correlation": [
                None if np.isnan(v) else float(v) for v in self.class_correlation
            ],
        }


def check_same_setting(models: list[FittedModel]) -> None:
    """Refuse checkpoints that differ in model, scene or training pixels, or that share a seed."""
    first = models[0]
    for other in models[1:]:
        differences = []
        if other.model_name != first.model_name:
            differences.append(f"model {first.model_name.upper()} vs {other.model_name.upper()}")
        if other.scene.name != first.scene.name or tuple(other.scene.shape) != tuple(
            first.scene.shape
        ):
            differences.append(f"scene {first.scene.name} vs {other.scene.name}")
        if not np.array_equal(np.sort(other.split.train), np.sort(first.split.train)):
            differences.append("their training pixels (another split protocol or split seed)")
        if differences:
            raise ExplainError(
                "seed stability compares checkpoints of the same model, scene and split; these differ "
                "in " + "; ".join(differences) + "."
            )
    seeds = [m.seed for m in models]
    if len(set(seeds)) < len(seeds):
        raise ExplainError(
            f"seed stability needs checkpoints trained with different seeds; got seeds {seeds}."
        )


def seed_stability(models: list[FittedModel], scene: Scene, pixels: np.ndarray) -> list[SeedPair]:
    """α agreement for every pair of `models` on `pixels` (all of the same model, scene and split)."""
    if len(models) < 2:
        raise ExplainError(
            "seed stability needs at least two checkpoints (give --checkpoint twice or more)."
        )
    check_same_setting(models)
    if not all(m.has_spectral_attention for m in models):
        raise ExplainError(
            f"{models[0].model_name.upper()} has no spectral attention α to compare between seeds."
        )
    batches = [pixel_batch(m, m.sampler(scene), scene, pixels) for m in models]
    labels = batches[0].labels
    n_classes = models[0].n_classes
    pairs = []
    for (ma, a), (mb, b) in combinations(zip(models, batches), 2):
        class_means = [_class_means(x.alpha, labels, n_classes) for x in (a, b)]
        pairs.append(
            SeedPair(
                (ma.seed, mb.seed),
                rank_correlation(a.alpha, b.alpha),
                rank_correlation(*class_means),
                (float((a.predicted == labels).mean()), float((b.predicted == labels).mean())),
            )
        )
    return pairs


def _class_means(alpha: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, B) mean α per class; a row of NaN for a class without pixels."""
    return np.array(
        [
            alpha[labels == c].mean(axis=0)
            if (labels == c).any()
            else np.full(alpha.shape[1], np.nan)
            for c in range(1, n_classes + 1)
        ]
    )
