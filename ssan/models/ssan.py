"""SSAN (Mei/Pan et al. 2019): a spectral attention BiGRU and a spatial attention CNN, fused late.

Reads top to bottom like the paper's figure: the spectral attention step, the spectral
branch, the spatial attention mask, the spatial branch, the shared-weight score fusion,
then `SSAN` wiring the three. `init_authors_normal_` reproduces the authors' TensorFlow
initialisation for `Preset(init="normal")`. The comparators (ARNN, ACNN, RNN, CNN) in
`comparators.py` reuse these branches.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssan.models.presets import Preset
from ssan.models.seeding import GeneratorDropout

AttentionMaps = dict[str, Tensor | None]


class PixelNetwork(nn.Module):
    """The contract every network here keeps, so one trainer drives them all.

    `forward(spectra (n, B), patches (n, k, p, p), return_attention=False)` gives logits (n, C),
    or `(logits, {"spectral": (n, B) | None, "spatial": (n, p, p) | None})`. An input the
    network does not use (`uses_spectra` / `uses_patches` False) is ignored and may be empty.
    """

    uses_spectra: bool = False
    uses_patches: bool = False
    has_spectral_attention: bool = False
    has_spatial_attention: bool = False

    def __init__(self, n_bands: int, n_classes: int, preset: Preset) -> None:
        super().__init__()
        self.n_bands = n_bands
        self.n_classes = n_classes
        self.preset = preset

    def check_inputs(self, spectra: Tensor, patches: Tensor) -> None:
        """Raise ValueError naming the shape found and the shape expected, for the inputs this network uses."""
        p, k = self.preset.patch_size, self.preset.n_components
        name = type(self).__name__
        if self.uses_spectra and (spectra.ndim != 2 or spectra.shape[1] != self.n_bands):
            raise ValueError(
                f"{name} expects spectra of shape (n, {self.n_bands}); got {tuple(spectra.shape)}."
            )
        if self.uses_patches and (patches.ndim != 4 or tuple(patches.shape[1:]) != (k, p, p)):
            raise ValueError(
                f"{name} expects patches of shape (n, {k}, {p}, {p}); got {tuple(patches.shape)}."
            )
        if self.uses_spectra and self.uses_patches and spectra.shape[0] != patches.shape[0]:
            raise ValueError(
                f"{name}: {spectra.shape[0]} spectra but {patches.shape[0]} patches; one of each per pixel is needed."
            )

    def training_loss(self, spectra: Tensor, patches: Tensor, targets: Tensor) -> Tensor:
        """The loss a training step minimises: cross-entropy of the logits (targets are 0-based)."""
        return F.cross_entropy(self(spectra, patches), targets)

    @staticmethod
    def _result(
        logits: Tensor, spectral: Tensor | None, spatial: Tensor | None, return_attention: bool
    ) -> Tensor | tuple[Tensor, AttentionMaps]:
        return (logits, {"spectral": spectral, "spatial": spatial}) if return_attention else logits


# --------------------------------------------------------------------------- spectral branch


class SpectralAttention(nn.Module):
    """Additive attention over the BiGRU states g_i (one per band).

    e_i = tanh(W g_i + b);  alpha = softmax_i(w' . e_i (+ b'));  s = sum_i alpha_i g_i.
    alpha (n, B) is one weight per band summing to 1: the app's "spectral attention".
    """

    def __init__(self, state_size: int, attention_size: int, score_bias: bool = False) -> None:
        super().__init__()
        self.project = nn.Linear(state_size, attention_size)  # W, b
        self.score = nn.Linear(attention_size, 1, bias=score_bias)  # w' (, b')

    def forward(self, states: Tensor) -> tuple[Tensor, Tensor]:
        e = torch.tanh(self.project(states))  # (n, B, attention_size)
        alpha = torch.softmax(self.score(e).squeeze(-1), dim=1)  # (n, B)
        s = torch.bmm(alpha.unsqueeze(1), states).squeeze(1)  # (n, 2H)
        return s, alpha


# The floor of a pixel's mean brightness, a tenth of the min-max range: below it (shadow, water) the ratio
# mostly amplifies noise (on the PaviaU crop, whose shadows average 0.03, a floor of 0.001 cost ARNN 2 points).
MIN_BRIGHTNESS = 0.1


def relative_to_brightness(spectra: Tensor) -> Tensor:
    """Each band's min-max scaled value over the pixel's mean across bands, minus 1.

    Brightness (illumination, slope, shade) scales a pixel's bands alike, which this leaves
    unchanged, so a small difference in the spectrum's shape stands out at its own band.
    """
    return spectra / spectra.mean(dim=1, keepdim=True).clamp_min(MIN_BRIGHTNESS) - 1.0


class BandTokens(nn.Module):
    """Each band's scalar turned into a d-vector by that band's own affine map: tanh(x_i W_i + b_i).

    A GRU shares its weights across steps, so fed bare scalars it cannot tell band 12 from
    band 80 and must weigh every band alike; a per-band embedding (as FT-Transformer tokenises
    numerical features) lets it weigh each band by what it measures, as a linear model or an
    SVM on the spectrum does. With `relative=True` the map also reads the band's value relative
    to the pixel's brightness (`relative_to_brightness`, r_i): tanh(x_i W_i + r_i V_i + b_i).
    Each step still reads one band, and alpha keeps one weight per band; but the pixel's mean
    carries a few bands' difference into every r_i, so alpha stops marking where it lies
    (docs/branch-study.md), which is why the quick preset leaves it off.
    """

    def __init__(self, n_bands: int, dim: int, relative: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_bands, dim))
        self.bias = nn.Parameter(torch.empty(n_bands, dim))
        self.relative_weight = nn.Parameter(torch.empty(n_bands, dim)) if relative else None
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """U(-1, 1), as nn.Linear(1, dim) draws them (fan-in 1), one map per band."""
        for param in (self.weight, self.bias, self.relative_weight):
            if param is not None:
                param.uniform_(-1.0, 1.0, generator=generator)

    def forward(self, values: Tensor, spectra: Tensor | None = None) -> Tensor:
        """`values`: what each step reads of its band (the min-max scaled value, maybe centred); `spectra`:
        the min-max scaled spectra the relative values are taken from (needed only with `relative=True`)."""
        tokens = values.unsqueeze(-1) * self.weight + self.bias  # (n, B, dim)
        if self.relative_weight is not None:
            tokens = tokens + relative_to_brightness(spectra).unsqueeze(-1) * self.relative_weight
        return torch.tanh(tokens)


class SpectralBranch(nn.Module):
    """A pixel's spectrum as a sequence of B steps -> BiGRU -> attention (or pooling) -> C scores.

    Each step reads one band: its min-max scaled value (the authors' scalar input), or with
    `band_embedding=d` that value through the band's own embedding (`BandTokens`), which with
    `relative_input=True` also reads the band's value relative to the pixel's brightness.
    With `attention=False` (the RNN comparator) the states are pooled instead: "mean" over
    the bands, or "last": the forward GRU's final state beside the backward GRU's final state.
    `centred=True` feeds the min-max scaled values as 2x - 1 (in [-1, 1]); the authors feed [0, 1].
    """

    def __init__(
        self,
        n_bands: int,
        n_classes: int,
        hidden: int = 512,
        attention_size: int = 32,
        attention_bias: bool = False,
        attention: bool = True,
        pooling: str = "mean",
        centred: bool = False,
        band_embedding: int = 0,
        relative_input: bool = False,
        token_skip: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.pooling = pooling
        self.centred = centred
        self.tokens = (
            BandTokens(n_bands, band_embedding, relative_input) if band_embedding else None
        )
        self.token_skip = token_skip and self.tokens is not None
        state_size = 2 * hidden + (band_embedding if self.token_skip else 0)
        self.gru = nn.GRU(
            input_size=band_embedding or 1, hidden_size=hidden, batch_first=True, bidirectional=True
        )
        self.attention = (
            SpectralAttention(state_size, attention_size, attention_bias) if attention else None
        )
        self.dropout = GeneratorDropout(dropout)
        self.classifier = nn.Linear(state_size, n_classes)

    @classmethod
    def from_preset(
        cls, preset: Preset, n_bands: int, n_classes: int, attention: bool = True
    ) -> SpectralBranch:
        """The branch sized by `preset`; attention=False gives the RNN comparator's pooling."""
        return cls(
            n_bands,
            n_classes,
            preset.rnn_hidden,
            preset.attention_size,
            preset.attention_bias,
            attention,
            preset.rnn_pooling,
            preset.spectral_input == "centred",
            preset.band_embedding,
            preset.relative_input,
            preset.token_skip,
            preset.spectral_dropout,
        )

    def forward(self, spectra: Tensor) -> tuple[Tensor, Tensor | None]:
        # centred: a constant 0.5 offset on every step biases the gates and slows learning
        values = 2.0 * spectra - 1.0 if self.centred else spectra
        steps = values.unsqueeze(-1) if self.tokens is None else self.tokens(values, spectra)
        states, last = self.gru(steps)  # states (n, B, 2H); last (2, n, H)
        if self.token_skip:
            states = torch.cat([states, steps], dim=-1)
        if self.attention is not None:
            features, alpha = self.attention(states)
        elif self.pooling == "mean":
            features, alpha = states.mean(dim=1), None
        else:
            features, alpha = torch.cat([last[0], last[1]], dim=1), None
        return self.classifier(self.dropout(features)), alpha


# --------------------------------------------------------------------------- spatial branch


class SpatialAttention(nn.Module):
    """A (p, p) mask from the input patch: 1x1 conv k -> 1, tanh, sigmoid; applied to every channel.

    The mask lies in (sigmoid(-1), sigmoid(1)) ~ (0.27, 0.73): the app's "spatial attention".
    mode "multiply" gives x * m (the authors' code), "residual" gives x + x * m (the figure's ⊕).
    """

    def __init__(self, in_channels: int, mode: str = "multiply") -> None:
        super().__init__()
        self.mode = mode
        self.project = nn.Conv2d(in_channels, 1, kernel_size=1)

    def forward(self, patches: Tensor) -> tuple[Tensor, Tensor]:
        mask = torch.sigmoid(torch.tanh(self.project(patches))).squeeze(1)  # (n, p, p)
        attended = patches * mask.unsqueeze(1)
        return (patches + attended if self.mode == "residual" else attended), mask


def pooled_size(patch_size: int) -> int:
    """Side of the feature map after two 2x2 max-pools with TF 'SAME' padding (27 -> 14 -> 7)."""
    return math.ceil(math.ceil(patch_size / 2) / 2)


class SpatialBranch(nn.Module):
    """A (k, p, p) PCA patch -> attention mask -> conv/pool x2 -> FC + dropout -> C scores.

    'Same' convolutions and ceil-mode pooling match the authors' TF padding, so a 27x27
    patch reaches the first FC as 7*7*64 features. `attention=False` is the CNN comparator.
    """

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 4,
        patch_size: int = 27,
        conv_channels: tuple[int, int] = (32, 64),
        kernel_size: int = 5,
        fc_hidden: int = 1024,
        dropout: float = 0.4,
        attention: bool = True,
        mask_mode: str = "multiply",
    ) -> None:
        super().__init__()
        c1, c2 = conv_channels
        self.attention = SpatialAttention(in_channels, mask_mode) if attention else None
        self.conv1 = nn.Conv2d(in_channels, c1, kernel_size, padding=kernel_size // 2)
        self.pool1 = nn.MaxPool2d(2, ceil_mode=True)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size, padding=kernel_size // 2)
        self.pool2 = nn.MaxPool2d(2, ceil_mode=True)
        self.fc1 = nn.Linear(c2 * pooled_size(patch_size) ** 2, fc_hidden)
        self.dropout = GeneratorDropout(dropout)
        self.fc2 = nn.Linear(fc_hidden, n_classes)

    @classmethod
    def from_preset(cls, preset: Preset, n_classes: int, attention: bool = True) -> SpatialBranch:
        """The branch sized by `preset`; attention=False gives the CNN comparator (no mask)."""
        return cls(
            n_classes,
            preset.n_components,
            preset.patch_size,
            preset.conv_channels,
            preset.kernel_size,
            preset.fc_hidden,
            preset.dropout,
            attention,
            preset.mask_mode,
        )

    def forward(self, patches: Tensor) -> tuple[Tensor, Tensor | None]:
        mask = None
        x = patches
        if not torch.is_grad_enabled():
            # Inference in channels-last layout, where oneDNN's convolutions and pooling are fastest on a
            # CPU; training keeps the default layout, whose rounding the shipped checkpoint was trained with.
            x = x.contiguous(memory_format=torch.channels_last)
        if self.attention is not None:
            x, mask = self.attention(x)
        # ReLU after the max-pool: the same numbers (max commutes with a monotone map) at a quarter of the work.
        x = F.relu(self.pool1(self.conv1(x)))
        x = F.relu(self.pool2(self.conv2(x)))
        x = self.dropout(F.relu(self.fc1(x.flatten(1))))
        return self.fc2(x), mask


# --------------------------------------------------------------------------- fusion


class ScoreFusion(nn.Module):
    """Late fusion of the two branches' C scores through ONE shared FC (C -> d) + ReLU.

    `shared` is the very same layer for both branches (the authors' `wf1`); the two d-vectors
    are concatenated -> FC 2d -> hidden + ReLU -> FC hidden -> C.
    """

    def __init__(self, n_classes: int, fusion_dim: int = 256, hidden: int = 1024) -> None:
        super().__init__()
        self.shared = nn.Linear(n_classes, fusion_dim)
        self.fc = nn.Linear(2 * fusion_dim, hidden)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, spectral_scores: Tensor, spatial_scores: Tensor) -> Tensor:
        spectral = F.relu(self.shared(spectral_scores))
        spatial = F.relu(self.shared(spatial_scores))
        return self.out(F.relu(self.fc(torch.cat([spectral, spatial], dim=1))))


# --------------------------------------------------------------------------- the network


class SSAN(PixelNetwork):
    """Spectral-spatial joint attention network: both branches, their scores fused by `ScoreFusion`."""

    uses_spectra = True
    uses_patches = True
    has_spectral_attention = True
    has_spatial_attention = True

    def __init__(self, n_bands: int, n_classes: int, preset: Preset) -> None:
        super().__init__(n_bands, n_classes, preset)
        self.spectral = SpectralBranch.from_preset(preset, n_bands, n_classes)
        self.spatial = SpatialBranch.from_preset(preset, n_classes)
        self.fusion = ScoreFusion(n_classes, preset.fusion_dim, preset.fusion_hidden)

    def forward(
        self, spectra: Tensor, patches: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, AttentionMaps]:
        self.check_inputs(spectra, patches)
        spectral_scores, alpha = self.spectral(spectra)
        spatial_scores, mask = self.spatial(patches)
        return self._result(
            self.fusion(spectral_scores, spatial_scores), alpha, mask, return_attention
        )

    def training_loss(self, spectra: Tensor, patches: Tensor, targets: Tensor) -> Tensor:
        """The fused cross-entropy (the authors' loss), plus `preset.branch_loss` times each branch's own
        cross-entropy when that switch is on, so each branch must classify by itself too."""
        self.check_inputs(spectra, patches)
        spectral_scores, _ = self.spectral(spectra)
        spatial_scores, _ = self.spatial(patches)
        loss = F.cross_entropy(self.fusion(spectral_scores, spatial_scores), targets)
        if self.preset.branch_loss:
            loss = loss + self.preset.branch_loss * (
                F.cross_entropy(spectral_scores, targets) + F.cross_entropy(spatial_scores, targets)
            )
        return loss


# --------------------------------------------------------------------------- initialisation


def init_authors_normal_(model: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Re-initialise `model` in place as the authors' TensorFlow code does (EtPan/SSAN ssan.py).

    - every Linear / Conv2d weight and bias: N(0, 1)  (`tf.random_normal`, biases included);
    - spectral attention W, b, w' (and b' if on): N(0, 0.1);
    - spatial attention 1x1 conv: weight truncated N(0, 1e-4), bias 0;
    - BiGRU: TF `GRUCell` defaults, which the authors did not override: Glorot-uniform kernels
      over TF's fused shapes ([1+H, 2H] for the r/z gates, [1+H, H] for the candidate),
      gate biases 1, candidate bias 0. (PyTorch's GRU applies the reset gate after the
      hidden matmul, TF's before; that difference in the cell itself remains.)

    `generator`: the training run's own (None: torch's process-wide one).
    """
    g = generator
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(module.weight, 0.0, 1.0, generator=g)
            if module.bias is not None:
                nn.init.normal_(module.bias, 0.0, 1.0, generator=g)
    for module in model.modules():
        if isinstance(module, SpectralAttention):
            for param in module.parameters():
                nn.init.normal_(param, 0.0, 0.1, generator=g)
        elif isinstance(module, SpatialAttention):
            nn.init.trunc_normal_(module.project.weight, 0.0, 1e-4, a=-2e-4, b=2e-4, generator=g)
            nn.init.zeros_(module.project.bias)
        elif isinstance(module, nn.GRU):
            _init_gru_like_tf_(module, g)
    return model


@torch.no_grad()
def _init_gru_like_tf_(gru: nn.GRU, generator: torch.Generator | None = None) -> None:
    hidden, inputs = gru.hidden_size, gru.input_size
    gate_limit = math.sqrt(6.0 / (inputs + hidden + 2 * hidden))
    candidate_limit = math.sqrt(6.0 / (inputs + hidden + hidden))
    for name, param in gru.named_parameters():
        if name.startswith("weight"):
            # PyTorch stacks rows as [reset; update; candidate].
            param[: 2 * hidden].uniform_(-gate_limit, gate_limit, generator=generator)
            param[2 * hidden :].uniform_(-candidate_limit, candidate_limit, generator=generator)
        elif name.startswith("bias_ih"):
            param[: 2 * hidden].fill_(1.0)
            param[2 * hidden :].zero_()
        else:  # bias_hh: TF has a single bias per gate, carried by bias_ih
            param.zero_()
