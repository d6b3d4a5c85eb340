"""What every explanation test starts from: which models can be tested, the held-out pixels, the
baseline input (the training pixels' mean), and one batch of network inputs with α, mask and prediction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ssan.data.preprocess import PixelSampler
from ssan.data.scene import Scene
from ssan.models.fitted import FittedModel, network_inputs

BASELINE_MAX_PIXELS = (
    2000  # training pixels averaged into the baseline (a seeded sample beyond that)
)


class ExplainError(ValueError):
    """A model or request the explanation tests cannot serve (no gradients, no attention, no pixels)."""


def require_explainable(fitted: FittedModel) -> None:
    """Refuse models the tests cannot compare with attention, saying why and what to load instead."""
    name = fitted.model_name.upper()
    if not fitted.is_neural:
        raise ExplainError(
            f"{name} is refused: it is a scikit-learn model on spectra with neither attention to test nor gradients "
            "for Integrated Gradients. Load an SSAN, ARNN or ACNN checkpoint."
        )
    if not (fitted.has_spectral_attention or fitted.has_spatial_attention):
        branch = "spectral BiGRU" if fitted.network.uses_spectra else "spatial CNN"
        raise ExplainError(
            f"{name} has no attention: its {branch} pools without weights, so there is no α or mask to test against "
            "attributions. Load an SSAN (both attentions), ARNN (spectral) or ACNN (spatial) checkpoint."
        )


def held_out_pixels(fitted: FittedModel, scene: Scene) -> np.ndarray:
    """Labelled pixels the model never trained or validated on (flat indices, sorted)."""
    seen = np.concatenate([fitted.split.train, fitted.split.val])
    return np.setdiff1d(scene.labelled_pixels(), seen)


def sample_pixels(fitted: FittedModel, scene: Scene, n: int, seed: int = 0) -> np.ndarray:
    """A seeded sample of `n` held-out pixels (all of them when there are fewer), sorted."""
    pool = held_out_pixels(fitted, scene)
    if pool.size == 0:
        raise ExplainError(
            f"scene '{scene.name}' has no labelled pixel outside the model's training and validation "
            "pixels to explain."
        )
    if n < 1:
        raise ExplainError(f"the number of pixels must be at least 1; got {n}")
    chosen = np.random.default_rng(seed).choice(pool, min(n, pool.size), replace=False)
    return np.sort(chosen)


@dataclass(frozen=True, eq=False)
class Baseline:
    """The "absent" input: the mean scaled spectrum (B,) and mean PCA patch (k, p, p) of the training pixels."""

    spectra: torch.Tensor
    patches: torch.Tensor
    n_pixels: int


def training_baseline(fitted: FittedModel, sampler: PixelSampler, seed: int = 0) -> Baseline:
    """Mean network input over the model's training pixels (up to BASELINE_MAX_PIXELS, seeded)."""
    train = fitted.split.train
    if train.size == 0:
        raise ExplainError(
            "the checkpoint records no training pixels, so the baseline (their mean input) is unknown."
        )
    if train.size > BASELINE_MAX_PIXELS:
        train = np.sort(
            np.random.default_rng(seed).choice(train, BASELINE_MAX_PIXELS, replace=False)
        )
    spectra = torch.from_numpy(sampler.spectra(train).mean(axis=0))
    patches = (
        torch.from_numpy(sampler.patches(train).mean(axis=0))
        if fitted.network.uses_patches
        else torch.empty(0)
    )
    return Baseline(spectra, patches, int(train.size))


@dataclass(frozen=True, eq=False)
class PixelBatch:
    """Network inputs for a set of pixels, with the model's prediction, α and mask on them."""

    pixels: np.ndarray
    labels: np.ndarray  # ground truth, 1..C
    spectra: torch.Tensor  # (n, B), empty when the network ignores spectra
    patches: torch.Tensor  # (n, k, p, p), empty when the network ignores patches
    probabilities: np.ndarray  # (n, C)
    alpha: np.ndarray | None  # (n, B)
    mask: np.ndarray | None  # (n, p, p)

    @property
    def predicted(self) -> np.ndarray:
        """Predicted class ids 1..C."""
        return self.probabilities.argmax(axis=1) + 1

    @property
    def target(self) -> torch.Tensor:
        """The predicted class as 0-based indices, the class every attribution explains."""
        return torch.from_numpy(self.probabilities.argmax(axis=1))


def pixel_batch(
    fitted: FittedModel, sampler: PixelSampler, scene: Scene, pixels: np.ndarray
) -> PixelBatch:
    """Inputs, probabilities, α and mask for `pixels` (one forward pass, on the CPU)."""
    require_explainable(fitted)
    pixels = np.asarray(pixels, dtype=np.int64)
    net = fitted.cpu_network()
    spectra, patches = network_inputs(net, sampler, pixels, torch.device("cpu"))
    with torch.inference_mode():
        logits, att = net(spectra, patches, return_attention=True)
    numpy = lambda t: None if t is None else t.float().numpy()
    return PixelBatch(
        pixels,
        scene.labels.ravel()[pixels],
        spectra,
        patches,
        torch.softmax(logits.float(), dim=1).numpy(),
        numpy(att["spectral"]),
        numpy(att["spatial"]),
    )
