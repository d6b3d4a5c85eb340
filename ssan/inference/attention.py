"""Attention read-outs: what SSAN looked at, per pixel and per class.

Spectral attention is α, one weight per band summing to 1; spatial attention is the
patch mask in (0, 1) that multiplies the PCA patch around the pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ssan.data.preprocess import PixelSampler

if TYPE_CHECKING:
    from ssan.models.fitted import FittedModel


@dataclass(frozen=True, eq=False)
class PixelAttention:
    """Attention and prediction for n pixels: `pixels` (n, 2) their (row, col), `probabilities` (n, C),
    `spectral` the α (n, B) over bands and `spatial` the (n, p, p) patch mask (None for a model without it)."""

    pixels: np.ndarray
    probabilities: np.ndarray
    spectral: np.ndarray | None
    spatial: np.ndarray | None

    @property
    def predicted(self) -> np.ndarray:
        """(n,) predicted class ids (1..C)."""
        return self.probabilities.argmax(axis=1) + 1


def pixel_attention(
    fitted: FittedModel, sampler: PixelSampler, pixels: np.ndarray, batch_size: int = 512
) -> PixelAttention:
    """Probabilities, spectral α (n, B) and spatial mask (n, p, p) for the given flat pixel indices.

    A model without an attention of either kind gives None for it (RNN, CNN, KNN, SVM).
    """
    pixels = np.atleast_1d(np.asarray(pixels, dtype=np.int64))
    rows_cols = np.column_stack(np.divmod(pixels, sampler.shape[1]))
    if not fitted.is_neural:
        return PixelAttention(rows_cols, fitted.scores_at(sampler, pixels), None, None)
    probs, spectral, spatial = fitted.forward_at(sampler, pixels, batch_size, attention=True)
    return PixelAttention(rows_cols, probs, spectral, spatial)


def class_mean_attention(
    fitted: FittedModel,
    sampler: PixelSampler,
    pixels: np.ndarray,
    targets: np.ndarray,
    kind: str = "spectral",
    max_per_class: int | None = 500,
    seed: int = 0,
) -> np.ndarray:
    """Mean attention per class over the given pixels: (C, B) spectral or (C, p, p) spatial.

    Up to `max_per_class` pixels per class (seeded sample) keep this quick on large scenes;
    a class with no pixel gives a row of NaN.
    """
    if kind not in ("spectral", "spatial"):
        raise ValueError(f"kind must be 'spectral' or 'spatial'; got {kind!r}")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(1, fitted.n_classes + 1):
        idx = pixels[targets == c]
        if max_per_class is not None and idx.size > max_per_class:
            idx = rng.choice(idx, max_per_class, replace=False)
        chosen.append(idx)
    att = pixel_attention(fitted, sampler, np.concatenate(chosen))
    values = att.spectral if kind == "spectral" else att.spatial
    if values is None:
        raise ValueError(f"{fitted.model_name.upper()} has no {kind} attention")
    out = np.full((fitted.n_classes, *values.shape[1:]), np.nan, dtype=np.float32)
    start = 0
    for c, idx in enumerate(chosen):
        if idx.size:
            out[c] = values[start : start + idx.size].mean(axis=0)
        start += idx.size
    return out


def planted_band_ratio(class_attention: np.ndarray, band_mask: np.ndarray) -> float:
    """Mean attention inside the marked bands over mean attention outside them (1 = no preference)."""
    return float(
        np.nanmean(class_attention[..., band_mask]) / np.nanmean(class_attention[..., ~band_mask])
    )


def peak_share(spectral_attention: np.ndarray, band_mask: np.ndarray) -> float:
    """Share of pixels (rows of (n, B) attention) whose highest-attention band is one of the marked bands."""
    return float(band_mask[spectral_attention.argmax(axis=1)].mean())
