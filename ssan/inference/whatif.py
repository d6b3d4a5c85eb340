"""What-if edits of one pixel's network inputs, traced beside the original.

A student changes what the network sees (a band range of the spectrum replaced by the
training mean, zeros, another pixel's values or a scaled copy; a rectangle of the patch
occluded; the spectral branch fed one pixel and the spatial branch another) and every stage
of the forward pass answers: α, the mask, each branch's scores and the probabilities.
Edits act on the network's inputs (the min-max scaled spectrum, the principal-component
patch), so they mean the same for every scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ssan.data.scene import Scene
from ssan.inference.trace import Trace, pixel_inputs, trace_network
from ssan.models.fitted import FittedModel, pixel_indices

BAND_FILLS = ("training mean", "zero", "another pixel", "scale")


@dataclass(frozen=True)
class BandEdit:
    """Replace bands `start`..`stop`-1 of the spectrum: by the training mean, zero, another pixel's values
    (`source`, a (row, col)) or the pixel's own values times `factor`."""

    start: int
    stop: int
    fill: str = "training mean"
    source: tuple[int, int] | None = None
    factor: float = 1.0


@dataclass(frozen=True)
class Occlusion:
    """Set rows `top`..`bottom`-1 and columns `left`..`right`-1 of the patch to `value` (0: the
    training pixels' mean component, as the components are whitened)."""

    top: int
    bottom: int
    left: int
    right: int
    value: float = 0.0


@dataclass(frozen=True, eq=False)
class WhatIf:
    """The original trace and the edited one for the same pixel."""

    original: Trace
    edited: Trace
    class_names: tuple[str, ...]

    @property
    def predicted(self) -> int:
        """The original prediction, a class id 1..C."""
        return int(self.original.probabilities.argmax()) + 1

    @property
    def edited_prediction(self) -> int:
        return int(self.edited.probabilities.argmax()) + 1

    def probability_change(self, class_id: int | None = None) -> float:
        """Edited minus original probability of `class_id` (default: the originally predicted class)."""
        k = (class_id or self.predicted) - 1
        return float(self.edited.probabilities[k] - self.original.probabilities[k])

    def describe(self) -> str:
        """One sentence for the page: what the edit did to the prediction."""
        before, after = self.predicted, self.edited_prediction
        name = self.class_names
        change = 100 * self.probability_change()
        text = f"P({name[before - 1]}) {change:+.1f} points"
        if after != before:
            text += f"; the prediction changes to {name[after - 1]} (p = {self.edited.probabilities[after - 1]:.2f})"
        else:
            text += "; the prediction stays"
        return text + "."


def training_mean_spectrum(fitted: FittedModel, scene: Scene) -> np.ndarray:
    """The mean scaled spectrum of the model's training pixels (of the scene's labelled pixels when the
    model's record holds none)."""
    train = fitted.split.train
    pixels = train if len(train) else scene.labelled_pixels()
    return fitted.sampler(scene).spectra(np.asarray(pixels, dtype=np.int64)).mean(axis=0)


def edit_spectrum(
    spectrum: np.ndarray,
    edit: BandEdit,
    *,
    mean: np.ndarray | None = None,
    source: np.ndarray | None = None,
) -> np.ndarray:
    """A copy of the scaled `spectrum` (B,) with `edit` applied; `mean` and `source` supply the values for
    the fills that need them."""
    n_bands = spectrum.shape[0]
    if not 0 <= edit.start < edit.stop <= n_bands:
        raise ValueError(
            f"band range {edit.start}..{edit.stop - 1} is not within the spectrum's {n_bands} bands; "
            f"choose 0 <= start < stop <= {n_bands}."
        )
    if edit.fill not in BAND_FILLS:
        raise ValueError(f"unknown fill {edit.fill!r}; choose one of {list(BAND_FILLS)}.")
    out = spectrum.copy()
    band = slice(edit.start, edit.stop)
    if edit.fill == "training mean":
        if mean is None:
            raise ValueError("the 'training mean' fill needs the training mean spectrum.")
        out[band] = mean[band]
    elif edit.fill == "zero":
        out[band] = 0.0
    elif edit.fill == "another pixel":
        if source is None:
            raise ValueError("the 'another pixel' fill needs that pixel's spectrum.")
        out[band] = source[band]
    else:
        if not np.isfinite(edit.factor):
            raise ValueError(f"the scale factor must be a finite number; got {edit.factor}.")
        out[band] = spectrum[band] * edit.factor
    return out


def occlude_patch(patch: np.ndarray, occlusion: Occlusion) -> np.ndarray:
    """A copy of the (k, p, p) `patch` with the rectangle of `occlusion` set to its value."""
    p = patch.shape[-1]
    o = occlusion
    if not (0 <= o.top < o.bottom <= p and 0 <= o.left < o.right <= p):
        raise ValueError(
            f"the occluded rectangle rows {o.top}..{o.bottom - 1}, columns {o.left}..{o.right - 1} does not "
            f"lie within the {p}×{p} patch."
        )
    out = patch.copy()
    out[:, o.top : o.bottom, o.left : o.right] = o.value
    return out


def what_if(
    fitted: FittedModel,
    scene: Scene,
    pixel: tuple[int, int],
    *,
    band_edit: BandEdit | None = None,
    occlusion: Occlusion | None = None,
    spatial_pixel: tuple[int, int] | None = None,
) -> WhatIf:
    """Trace `pixel` as it is and with the edits: `band_edit` on its spectrum, `occlusion` on its patch,
    and `spatial_pixel` feeding the spatial branch another pixel's patch (the spectral branch keeps
    `pixel`'s spectrum)."""
    spectra, patches = pixel_inputs(fitted, scene, pixel)
    net, sampler, device = fitted.network, fitted.sampler(scene), spectra.device
    original = trace_network(net, spectra, patches)

    if band_edit is not None and net.uses_spectra:
        spectrum = spectra[0].cpu().numpy()
        mean = training_mean_spectrum(fitted, scene) if band_edit.fill == "training mean" else None
        source = (
            sampler.spectra(pixel_indices(scene, [band_edit.source])[0])[0]
            if band_edit.fill == "another pixel" and band_edit.source is not None
            else None
        )
        edited = edit_spectrum(spectrum, band_edit, mean=mean, source=source)
        spectra = torch.from_numpy(edited[None].astype(np.float32)).to(device)
    if spatial_pixel is not None and net.uses_patches:
        _, patches = pixel_inputs(fitted, scene, spatial_pixel)
    if occlusion is not None and net.uses_patches:
        patch = occlude_patch(patches[0].cpu().numpy(), occlusion)
        patches = torch.from_numpy(patch[None].astype(np.float32)).to(device)
    return WhatIf(original, trace_network(net, spectra, patches), tuple(fitted.scene.class_names))
