"""Which branch decided: SSAN's fused prediction with one branch's class scores neutralised.

Neutralising a branch replaces its C class scores by their mean over the training pixels,
so the fusion sees "an average pixel" from that branch. Per pixel: "either" if the prediction
survives whichever branch is neutralised, "spectral" if it survives only without the spatial
branch (so the spectral branch carries it), "spatial" likewise, "both" if it needs both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ssan.data.preprocess import PixelSampler
from ssan.explain.inputs import ExplainError
from ssan.models.fitted import FittedModel, network_inputs

DECIDERS = ("both", "spectral", "spatial", "either")  # codes 0..3 in a BranchDecision
CHUNK = 2048


@dataclass(frozen=True, eq=False)
class BranchDecision:
    """Per pixel: the prediction, the predictions with each branch neutralised, and who decided (index into DECIDERS)."""

    pixels: np.ndarray
    predicted: np.ndarray
    without_spectral: np.ndarray
    without_spatial: np.ndarray

    @property
    def decider(self) -> np.ndarray:
        spectral_alone = self.without_spatial == self.predicted
        spatial_alone = self.without_spectral == self.predicted
        return np.select(
            [spectral_alone & spatial_alone, spectral_alone, spatial_alone], [3, 1, 2], default=0
        )

    def shares(self, classes: np.ndarray, n_classes: int) -> np.ndarray:
        """(C, 4) share of each class's pixels (by `classes`, 1..C) decided by each of DECIDERS; NaN for no pixel."""
        decider = self.decider
        out = np.full((n_classes, len(DECIDERS)), np.nan)
        for c in range(1, n_classes + 1):
            mine = decider[classes == c]
            if mine.size:
                out[c - 1] = np.bincount(mine, minlength=len(DECIDERS)) / mine.size
        return out

    def overall(self) -> np.ndarray:
        """(4,) share of all pixels decided by each of DECIDERS."""
        return np.bincount(self.decider, minlength=len(DECIDERS)) / max(self.decider.size, 1)

    def as_map(self, shape: tuple[int, int]) -> np.ndarray:
        """(H, W) decider codes 0..3 at the pixels, -1 elsewhere."""
        out = np.full(shape[0] * shape[1], -1, dtype=np.int8)
        out[self.pixels] = self.decider
        return out.reshape(shape)


def _branch_scores(
    fitted: FittedModel,
    sampler: PixelSampler,
    pixels: np.ndarray,
    progress: Callable[[float], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    net = fitted.cpu_network()
    spectral, spatial = [], []
    with torch.inference_mode():
        for start in range(0, pixels.size, CHUNK):
            spec, patch = network_inputs(
                net, sampler, pixels[start : start + CHUNK], torch.device("cpu")
            )
            spectral.append(net.spectral(spec)[0].float())
            spatial.append(net.spatial(patch)[0].float())
            if progress is not None:
                progress(min(1.0, (start + CHUNK) / pixels.size))
    return torch.cat(spectral), torch.cat(spatial)


def branch_decision(
    fitted: FittedModel,
    sampler: PixelSampler,
    pixels: np.ndarray,
    progress: Callable[[float], None] | None = None,
) -> BranchDecision:
    """Who decided each pixel's prediction; SSAN only (the only model with two branches fused late)."""
    net = fitted.network
    if net is None or not all(hasattr(net, part) for part in ("spectral", "spatial", "fusion")):
        raise ExplainError(
            f"{fitted.model_name.upper()} has a single branch; which branch decided is asked of SSAN, "
            "which fuses a spectral and a spatial branch."
        )
    train = fitted.split.train
    if train.size == 0:
        raise ExplainError(
            "the checkpoint records no training pixels, so the branches' mean scores are unknown."
        )
    pixels = np.asarray(pixels, dtype=np.int64)
    mean_spectral, mean_spatial = (
        s.mean(dim=0, keepdim=True) for s in _branch_scores(fitted, sampler, train)
    )
    spectral, spatial = _branch_scores(fitted, sampler, pixels, progress)
    fusion = fitted.cpu_network().fusion
    with torch.inference_mode():
        fuse = lambda a, b: fusion(a, b).argmax(dim=1).numpy() + 1
        return BranchDecision(
            pixels,
            fuse(spectral, spatial),
            fuse(mean_spectral.expand_as(spectral), spatial),
            fuse(spectral, mean_spatial.expand_as(spatial)),
        )
