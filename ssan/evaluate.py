"""Honest metrics on the test pixels, and whole-scene classification maps.

OA, AA, Cohen's kappa, per-class accuracy and the confusion matrix come from scikit-learn;
the test pixels are the split's, never the training or validation ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from .fitted import FittedModel
from .preprocess import PixelSampler
from .scene import Scene
from .splits import Split


@dataclass(frozen=True, eq=False)
class Metrics:
    """Overall accuracy, average (per-class) accuracy, kappa, per-class accuracy, confusion matrix."""

    oa: float
    aa: float
    kappa: float
    per_class: np.ndarray
    confusion: np.ndarray
    n_pixels: int

    def to_dict(self) -> dict:
        """JSON-ready; classes with no test pixel have per-class accuracy None."""
        return {
            "oa": self.oa, "aa": self.aa, "kappa": self.kappa, "n_pixels": self.n_pixels,
            "per_class": [None if np.isnan(a) else float(a) for a in self.per_class],
            "confusion": self.confusion.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Metrics":
        per_class = np.array([np.nan if a is None else a for a in d["per_class"]], dtype=float)
        return cls(d["oa"], d["aa"], d["kappa"], per_class, np.asarray(d["confusion"], dtype=np.int64), d["n_pixels"])


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> Metrics:
    """Metrics from true and predicted class ids (1..C); AA averages the classes present."""
    classes = np.arange(1, n_classes + 1)
    cm = confusion_matrix(y_true, y_pred, labels=classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(cm) / support, np.nan)
    kappa = cohen_kappa_score(y_true, y_pred, labels=classes) if len(np.unique(np.r_[y_true, y_pred])) > 1 else 1.0
    return Metrics(
        oa=float(np.trace(cm) / max(cm.sum(), 1)),
        aa=float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan"),
        kappa=float(kappa),
        per_class=per_class,
        confusion=cm,
        n_pixels=int(cm.sum()),
    )


def evaluate(fitted: FittedModel, scene: Scene, split: Split, sampler: PixelSampler | None = None,
             pixels: np.ndarray | None = None, progress: Callable[[int, int], None] | None = None,
             batch_size: int = 4096) -> Metrics:
    """Metrics of `fitted` on the split's test pixels (or the given pixels of the split's label map);
    `progress(done, total)` after each batch of `batch_size` pixels scored."""
    sampler = sampler or fitted.sampler(scene)
    pixels = np.asarray(split.test if pixels is None else pixels)
    predicted = np.empty(pixels.size, dtype=np.int64)
    if progress is not None:
        progress(0, pixels.size)
    for start in range(0, pixels.size, batch_size):
        chunk = pixels[start : start + batch_size]
        predicted[start : start + chunk.size] = fitted.predict(sampler, chunk, batch_size=min(batch_size, 1024))
        if progress is not None:
            progress(start + chunk.size, pixels.size)
    return compute_metrics(split.targets(pixels), predicted, fitted.n_classes)


def predict_map(fitted: FittedModel, scene: Scene, sampler: PixelSampler | None = None, *,
                labelled_only: bool = False, batch_size: int = 4096,
                progress: Callable[[int], None] | None = None) -> np.ndarray:
    """(H, W) predicted class ids for every pixel (borders included), 0 where not predicted.

    Prediction runs in batches, so memory stays bounded even for Pavia Centre (784k pixels);
    `progress` is told how many pixels each batch classified.
    """
    sampler = sampler or fitted.sampler(scene)
    pixels = scene.labelled_pixels() if labelled_only else np.arange(scene.shape[0] * scene.shape[1])
    out = np.zeros(scene.shape[0] * scene.shape[1], dtype=np.int32)
    out[pixels] = predict_pixels(fitted, sampler, pixels, batch_size=batch_size, progress=progress)
    return out.reshape(scene.shape)


def predict_pixels(fitted: FittedModel, sampler: PixelSampler, pixels: np.ndarray, *, batch_size: int = 4096,
                   device: str | None = None, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Predicted class ids of the sampler's flat `pixels`, in batches of `batch_size` (the map's batching)."""
    out = np.zeros(pixels.size, dtype=np.int32)
    for start in range(0, pixels.size, batch_size):
        chunk = pixels[start : start + batch_size]
        out[start : start + chunk.size] = fitted.predict(sampler, chunk, batch_size=min(batch_size, 1024),
                                                         device=device)
        if progress is not None:
            progress(chunk.size)
    return out
