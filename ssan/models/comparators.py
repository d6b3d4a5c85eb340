"""The paper's neural comparators, each one SSAN branch on its own (reusing the classes in `ssan.py`).

ARNN = spectral branch with attention, ACNN = spatial branch with attention,
RNN = spectral branch pooled without attention, CNN = spatial branch without the mask.
All keep `PixelNetwork`'s forward signature and ignore the input they do not use.
"""

from __future__ import annotations

from torch import Tensor

from ssan.models.presets import Preset
from ssan.models.ssan import AttentionMaps, PixelNetwork, SpatialBranch, SpectralBranch


class _SpectralOnly(PixelNetwork):
    uses_spectra = True

    def __init__(self, n_bands: int, n_classes: int, preset: Preset) -> None:
        super().__init__(n_bands, n_classes, preset)
        self.spectral = SpectralBranch.from_preset(
            preset, n_bands, n_classes, attention=self.has_spectral_attention
        )

    def forward(
        self, spectra: Tensor, patches: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, AttentionMaps]:
        self.check_inputs(spectra, patches)
        logits, alpha = self.spectral(spectra)
        return self._result(logits, alpha, None, return_attention)


class _SpatialOnly(PixelNetwork):
    uses_patches = True

    def __init__(self, n_bands: int, n_classes: int, preset: Preset) -> None:
        super().__init__(n_bands, n_classes, preset)
        self.spatial = SpatialBranch.from_preset(
            preset, n_classes, attention=self.has_spatial_attention
        )

    def forward(
        self, spectra: Tensor, patches: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, AttentionMaps]:
        self.check_inputs(spectra, patches)
        logits, mask = self.spatial(patches)
        return self._result(logits, None, mask, return_attention)


class ARNN(_SpectralOnly):
    """Attention RNN: the SSAN spectral branch alone (BiGRU + additive band attention)."""

    has_spectral_attention = True


class RNN(_SpectralOnly):
    """BiGRU without attention: states pooled by `preset.rnn_pooling` ("mean" or "last")."""


class ACNN(_SpatialOnly):
    """Attention CNN: the SSAN spatial branch alone (input mask + two conv/pool stages + FC)."""

    has_spatial_attention = True


class CNN(_SpatialOnly):
    """The SSAN spatial branch without the attention mask."""
