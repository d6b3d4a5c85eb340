"""Deletion curves: remove the inputs a ranking calls most important first and watch the prediction fall.

For each ranking of the bands (or of the patch's neighbours) the top-k inputs of every pixel
are replaced by the baseline (the training pixels' mean), k = 0 … all in steps; each step is
one batched forward pass over all pixels. Spectral deletions leave the patch as it is, spatial
deletions leave the spectrum as it is. What is recorded per pixel and step: the probability of
the class predicted before any deletion, and whether the prediction still matches the ground
truth. A ranking is faithful to the extent that its curve falls fast: a small area under it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import bootstrap
from torch import nn

from ssan.explain.forwards import spatial_forward, spectral_forward
from ssan.explain.inputs import Baseline, PixelBatch

RANDOM = "random"
STEPS = 10  # deletion steps from nothing to everything deleted
N_RANDOM = 3  # random orders averaged into the "random" ranking
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class AreaEstimate:
    """Mean area under the per-pixel deletion curves, with a 95% bootstrap interval over pixels."""

    mean: float
    low: float
    high: float

    def to_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high}


@dataclass(frozen=True, eq=False)
class DeletionCurves:
    """Per-pixel deletion curves of several rankings over one input ("spectral" bands or "spatial" neighbours)."""

    kind: str
    counts: np.ndarray  # (K,) inputs deleted at each step
    total: int  # bands, or neighbours in the patch
    probability: dict[
        str, np.ndarray
    ]  # ranking -> (n, K) probability of the originally predicted class
    correct: dict[str, np.ndarray]  # ranking -> (n, K) share of random draws (or 0/1) still correct
    n_random: int

    @property
    def fractions(self) -> np.ndarray:
        """Share of the inputs deleted at each step, 0 … 1."""
        return self.counts / self.total

    @property
    def rankings(self) -> list[str]:
        return list(self.probability)

    def mean_probability(self, ranking: str) -> np.ndarray:
        return self.probability[ranking].mean(axis=0)

    def accuracy(self, ranking: str) -> np.ndarray:
        return self.correct[ranking].mean(axis=0)

    def pixel_areas(self, ranking: str) -> np.ndarray:
        """(n,) area under each pixel's probability curve over the deleted fraction (0 … 1)."""
        return np.trapezoid(self.probability[ranking], self.fractions, axis=1)

    def area(self, ranking: str, seed: int = 0) -> AreaEstimate:
        """Mean area over pixels with its 95% percentile-bootstrap interval."""
        return mean_with_interval(self.pixel_areas(ranking), seed)

    def area_difference(self, ranking: str, reference: str, seed: int = 0) -> AreaEstimate:
        """Paired per-pixel difference of areas, `ranking` minus `reference`, with its interval."""
        return mean_with_interval(self.pixel_areas(ranking) - self.pixel_areas(reference), seed)

    def to_dict(self, seed: int = 0) -> dict:
        return {
            "kind": self.kind,
            "counts": self.counts.tolist(),
            "total": self.total,
            "n_random": self.n_random,
            "n_pixels": int(next(iter(self.probability.values())).shape[0]),
            "curves": {
                name: {
                    "mean_probability": self.mean_probability(name).round(5).tolist(),
                    "accuracy": self.accuracy(name).round(5).tolist(),
                    "area": self.area(name, seed).to_dict(),
                }
                for name in self.rankings
            },
        }


def mean_with_interval(values: np.ndarray, seed: int = 0) -> AreaEstimate:
    """The mean of `values` and its 95% percentile-bootstrap interval (scipy.stats.bootstrap, seeded)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if values.size < 2 or np.ptp(values) == 0:
        return AreaEstimate(mean, mean, mean)
    ci = bootstrap(
        (values,),
        np.mean,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return AreaEstimate(mean, float(ci.low), float(ci.high))


def deletion_counts(total: int, steps: int) -> np.ndarray:
    """k = 0 … total in about `steps` equal steps (distinct integers)."""
    return np.unique(np.linspace(0, total, max(1, steps) + 1).round().astype(int))


def band_deletion_curves(
    net: nn.Module,
    batch: PixelBatch,
    baseline: Baseline,
    scores: dict[str, np.ndarray],
    steps: int = STEPS,
    n_random: int = N_RANDOM,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> DeletionCurves:
    """Deletion curves over the bands for each ranking's (n, B) scores (highest deleted first), plus random."""
    spectral = spectral_forward(net, batch)

    def forward(delete: torch.Tensor) -> torch.Tensor:
        return spectral(torch.where(delete, baseline.spectra, batch.spectra))

    return _curves(
        "spectral", forward, batch, scores, batch.spectra.shape[1], steps, n_random, seed, progress
    )


def neighbour_deletion_curves(
    net: nn.Module,
    batch: PixelBatch,
    baseline: Baseline,
    scores: dict[str, np.ndarray],
    steps: int = STEPS,
    n_random: int = N_RANDOM,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> DeletionCurves:
    """Deletion curves over the patch's neighbours (all components at once) for each ranking's (n, p, p) scores."""
    n, _, p, _ = batch.patches.shape

    spatial = spatial_forward(net, batch)

    def forward(delete: torch.Tensor) -> torch.Tensor:
        return spatial(torch.where(delete.view(n, 1, p, p), baseline.patches, batch.patches))

    flat = {name: s.reshape(n, p * p) for name, s in scores.items()}
    return _curves("spatial", forward, batch, flat, p * p, steps, n_random, seed, progress)


def _curves(
    kind: str,
    forward: Callable[[torch.Tensor], torch.Tensor],
    batch: PixelBatch,
    scores: dict[str, np.ndarray],
    total: int,
    steps: int,
    n_random: int,
    seed: int,
    progress: Callable[[float], None] | None,
) -> DeletionCurves:
    n = batch.pixels.size
    counts = deletion_counts(total, steps)
    rng = np.random.default_rng(seed)
    plans = [(name, s) for name, s in scores.items()] + [
        (RANDOM, rng.random((n, total))) for _ in range(n_random)
    ]
    target = batch.target
    labels = torch.from_numpy(batch.labels - 1)
    probability, correct = {}, {}
    ends = {}  # k = 0 and k = total delete the same inputs whatever the ranking: one pass each
    done, todo = 0, len(plans) * max(counts.size - 2, 0) + 2

    def evaluate(delete: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        nonlocal done
        probs = torch.softmax(forward(delete).float(), dim=1)
        done += 1
        if progress is not None:
            progress(min(1.0, done / todo))
        return probs.gather(1, target[:, None]).squeeze(1).numpy(), (
            probs.argmax(dim=1) == labels
        ).numpy()

    with torch.inference_mode():
        for k in (0, total):
            ends[k] = evaluate(torch.full((n, total), k > 0))
        for name, s in plans:
            order = np.argsort(-np.asarray(s, dtype=np.float64), axis=1, kind="stable")
            rank = torch.from_numpy(
                np.argsort(order, axis=1)
            )  # rank[i, j]: position of input j in pixel i's order
            prob, ok = np.empty((n, counts.size)), np.empty((n, counts.size))
            for j, k in enumerate(counts):
                prob[:, j], ok[:, j] = ends[int(k)] if int(k) in ends else evaluate(rank < int(k))
            if name == RANDOM:  # the mean over the random draws
                probability[name] = probability.get(name, 0) + prob / n_random
                correct[name] = correct.get(name, 0) + ok / n_random
            else:
                probability[name], correct[name] = prob, ok
    return DeletionCurves(kind, counts, total, probability, correct, n_random)
