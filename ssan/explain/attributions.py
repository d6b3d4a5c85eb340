"""Per-pixel attributions on the same axes as attention, computed with Captum.

Each method explains the logit of the class the model predicted. The spectral attribution
(n, B) is taken with the patch held as it is, the spatial one (n, p, p) with the spectrum
held as it is, summed over the patch's principal components: the same conditions as the
deletion tests. Integrated Gradients starts from the baseline input, the training pixels'
mean (so "absent" means "an average training pixel", not black, which the scaled inputs
never are); occlusion replaces sliding windows of bands, or of neighbours, by that baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from captum.attr import InputXGradient, IntegratedGradients, Occlusion
from torch import nn

from ssan.explain.forwards import HeldForward, spatial_forward, spectral_forward
from ssan.explain.inputs import Baseline, PixelBatch
from ssan.models.fitted import on_cpu

OCCLUSION_BATCH = 1024  # pixels x windows per forward pass: larger batches run slower on a CPU
METHODS = {"ig": "Integrated Gradients", "ixg": "Input × gradient", "occlusion": "Occlusion"}


@dataclass(frozen=True)
class AttributionSettings:
    """How the attributions are computed (the defaults keep 500 pixels within seconds on a CPU)."""

    ig_steps: int = 16  # Gauss-Legendre steps of the path integral
    # Pixels x steps per forward pass of Integrated Gradients: 200 SSAN pixels of the demo took 1.8 GiB above the
    # model at 4096 and 0.6 GiB at 1024, in the same time (a server explains for a whole hall at once).
    batch_pixels: int = 1024
    band_window: int = 5  # occlusion: bands per window ...
    band_stride: int = 2  # ... and the step between windows
    neighbour_window: int = 3  # occlusion: neighbours per square window side ...
    neighbour_stride: int = 3  # ... and the step between windows


@dataclass(frozen=True, eq=False)
class Attributions:
    """Per-pixel attributions by method: spectral (n, B) and spatial (n, p, p), None for an unused input."""

    spectral: dict[str, np.ndarray] = field(default_factory=dict)
    spatial: dict[str, np.ndarray] = field(default_factory=dict)


def pixel_attributions(
    net: nn.Module,
    batch: PixelBatch,
    baseline: Baseline,
    settings: AttributionSettings = AttributionSettings(),
    progress: Callable[[str], None] | None = None,
) -> Attributions:
    """Every method's attribution of the predicted class, for the inputs the network has attention over (on the
    CPU: `net` itself when it is there in eval mode, else a copy)."""
    net = on_cpu(net)
    spectral, spatial = {}, {}
    if net.has_spectral_attention:
        spectral = _attribute(
            spectral_forward(net, batch),
            batch.spectra,
            baseline.spectra,
            batch.target,
            settings,
            (settings.band_window,),
            (settings.band_stride,),
            progress,
            "bands",
        )
    if net.has_spatial_attention:
        k = batch.patches.shape[1]
        found = _attribute(
            spatial_forward(net, batch),
            batch.patches,
            baseline.patches,
            batch.target,
            settings,
            (k, settings.neighbour_window, settings.neighbour_window),
            (k, settings.neighbour_stride, settings.neighbour_stride),
            progress,
            "neighbours",
        )
        spatial = {name: values.sum(axis=1) for name, values in found.items()}
    return Attributions(spectral, spatial)


def _attribute(
    forward: HeldForward,
    inputs: torch.Tensor,
    baseline: torch.Tensor,
    target: torch.Tensor,
    settings: AttributionSettings,
    window: tuple[int, ...],
    stride: tuple[int, ...],
    progress: Callable[[str], None] | None,
    what: str,
) -> dict[str, np.ndarray]:
    n = inputs.shape[0]
    base = baseline.unsqueeze(0).expand_as(inputs).contiguous()
    say = progress or (lambda _: None)
    out = {}
    say(f"Integrated Gradients over {what}")
    out["ig"] = (
        IntegratedGradients(forward.function)
        .attribute(
            inputs,
            baselines=base,
            target=target,
            additional_forward_args=(forward.held,),
            n_steps=settings.ig_steps,
            internal_batch_size=max(n, settings.batch_pixels),
        )
        .detach()
        .numpy()
    )
    say(f"input × gradient over {what}")
    out["ixg"] = (
        InputXGradient(forward.function)
        .attribute(
            inputs.clone().requires_grad_(True),
            target=target,
            additional_forward_args=(forward.held,),
        )
        .detach()
        .numpy()
    )
    say(f"occlusion of {what}")
    with torch.no_grad():
        out["occlusion"] = (
            Occlusion(forward.function)
            .attribute(
                inputs,
                sliding_window_shapes=window,
                strides=stride,
                baselines=base,
                target=target,
                additional_forward_args=(forward.held,),
                perturbations_per_eval=max(1, OCCLUSION_BATCH // max(n, 1)),
            )
            .numpy()
        )
    return out
