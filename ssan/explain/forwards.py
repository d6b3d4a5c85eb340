"""The network as a function of one input with the other held as it is.

Spectral tests vary the spectrum and keep the patch; spatial tests do the reverse. For SSAN
the held branch's class scores are computed once and fed to the fusion, so each perturbed
forward pass runs one branch instead of two (the same logits, at a fraction of the cost);
any other network gets the held input itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssan.explain.inputs import PixelBatch


@dataclass(frozen=True, eq=False)
class HeldForward:
    """`function(varied, held)` gives logits; `held` is what stays fixed (one row per pixel, or empty)."""

    function: Callable[[Tensor, Tensor], Tensor]
    held: Tensor

    def __call__(self, varied: Tensor) -> Tensor:
        return self.function(varied, self.held)


def _two_branches(net: nn.Module) -> bool:
    return (
        all(
            isinstance(getattr(net, part, None), nn.Module)
            for part in ("spectral", "spatial", "fusion")
        )
        and net.uses_spectra
        and net.uses_patches
    )


def spectral_forward(net: nn.Module, batch: PixelBatch) -> HeldForward:
    """Logits as a function of the spectra, the patches held."""
    if _two_branches(net):
        with torch.no_grad():
            held = net.spatial(batch.patches)[0].detach()
        return HeldForward(
            lambda spectra, scores: net.fusion(net.spectral(spectra)[0], scores), held
        )
    return HeldForward(lambda spectra, patches: net(spectra, patches), batch.patches)


def spatial_forward(net: nn.Module, batch: PixelBatch) -> HeldForward:
    """Logits as a function of the patches, the spectra held."""
    if _two_branches(net):
        with torch.no_grad():
            held = net.spectral(batch.spectra)[0].detach()
        return HeldForward(
            lambda patches, scores: net.fusion(scores, net.spatial(patches)[0]), held
        )
    return HeldForward(lambda patches, spectra: net(spectra, patches), batch.spectra)
