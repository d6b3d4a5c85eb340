"""SSAN (Mei/Pan et al. 2019), its neural comparators and the classical baselines, built by name.

`build_network(name, n_bands, n_classes, preset)` gives any of the five networks, all with
the same forward signature; `build_classical(name)` gives the KNN/SVM grid searches.
"""

from __future__ import annotations

import torch
from torch import nn

from ssan.models.classical import build_classical
from ssan.models.comparators import ACNN, ARNN, CNN, RNN
from ssan.models.presets import PRESETS, Preset, get_preset
from ssan.models.seeding import init_parameters_
from ssan.models.ssan import SSAN, PixelNetwork, init_authors_normal_

NEURAL_MODELS = ("rnn", "cnn", "arnn", "acnn", "ssan")
CLASSICAL_MODELS = ("knn", "svm")
MODEL_NAMES = ("knn", "svm", "rnn", "cnn", "arnn", "acnn", "ssan")  # the paper's table order
MODEL_LABELS = {
    "knn": "KNN (k-nearest neighbours on spectra)",
    "svm": "SVM (RBF kernel on spectra)",
    "rnn": "RNN (BiGRU, no attention)",
    "cnn": "CNN (spatial branch, no attention)",
    "arnn": "ARNN (spectral attention RNN)",
    "acnn": "ACNN (spatial attention CNN)",
    "ssan": "SSAN (Mei/Pan et al. 2019)",
}

MAX_PARAMETERS = 200_000_000  # 800 MB of float32 weights; the paper's SSAN has about 6 million
# Activations of one training batch, as `training_batch_bytes` counts them: the paper's SSAN on 103 bands
# needs about 0.5 GiB, so 16 GiB leaves room for any published setting and refuses a typo's 20+ GB batch.
MAX_TRAINING_BYTES = 16 * 2**30

_NETWORKS: dict[str, type[PixelNetwork]] = {
    "rnn": RNN,
    "cnn": CNN,
    "arnn": ARNN,
    "acnn": ACNN,
    "ssan": SSAN,
}


def build_network(
    name: str,
    n_bands: int,
    n_classes: int,
    preset: Preset,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """The network `name` sized for the data and configured by `preset` (authors' init if preset.init == "normal").

    With `generator` (a training run's own), every initial weight is drawn from it. A network over the
    parameter or training-memory cap is refused (`check_network_size`) before any weight is allocated.
    """
    if name not in _NETWORKS:
        raise ValueError(f"Unknown network {name!r}; valid names are {list(NEURAL_MODELS)}.")
    check_network_size(name, n_bands, n_classes, preset)
    model = _NETWORKS[name](n_bands, n_classes, preset)
    if generator is not None:
        init_parameters_(model, generator)
    if preset.init == "normal":
        init_authors_normal_(model, generator)
    return model


def tensor_shapes(
    name: str, n_bands: int, n_classes: int, preset: Preset
) -> dict[str, tuple[int, ...]]:
    """Every weight's shape of the network `name` would build, computed on the meta device (nothing allocated).

    A network over MAX_PARAMETERS parameters or MAX_TRAINING_BYTES a batch is refused with a ValueError.
    """
    return {
        k: tuple(v.shape) for k, v in check_network_size(name, n_bands, n_classes, preset).items()
    }


def check_network_size(
    name: str, n_bands: int, n_classes: int, preset: Preset
) -> dict[str, torch.Tensor]:
    """The network's state on the meta device (nothing allocated), after refusing one whose parameters
    exceed MAX_PARAMETERS or whose training batch would need more than MAX_TRAINING_BYTES."""
    if name not in _NETWORKS:
        raise ValueError(f"Unknown network {name!r}; valid names are {list(NEURAL_MODELS)}.")
    with torch.device("meta"):
        net = _NETWORKS[name](n_bands, n_classes, preset)
    count = sum(v.numel() for v in net.parameters())
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"Preset {preset.name!r} gives {name.upper()} on {n_bands} bands {count:,} parameters, "
            f"more than the {MAX_PARAMETERS:,} allowed; lower rnn_hidden, fc_hidden, conv_channels "
            "or patch_size."
        )
    need = training_batch_bytes(name, n_bands, preset)
    if need > MAX_TRAINING_BYTES:
        raise ValueError(
            f"Preset {preset.name!r}: one training batch of {name.upper()} on {n_bands} bands needs about "
            f"{need / 2**30:.1f} GiB of activations, more than the {MAX_TRAINING_BYTES / 2**30:.0f} GiB "
            "allowed; lower batch_size, patch_size, conv_channels or rnn_hidden."
        )
    return net.state_dict()


def training_batch_bytes(name: str, n_bands: int, preset: Preset) -> int:
    """A rough upper estimate of the activations one training step keeps for the backward pass (float32):
    the convolution maps before and after pooling in the spatial branch, the GRU's gates and states over
    every band in the spectral one, doubled for their gradients."""
    side, half = preset.patch_size, -(-preset.patch_size // 2)
    c1, c2 = preset.conv_channels
    spatial = (preset.n_components + 2 * c1) * side**2 + 2 * c2 * half**2
    width = preset.band_embedding or 1
    spectral = n_bands * (width + 2 * 4 * preset.rnn_hidden + preset.attention_size)
    per_pixel = (spatial if name != "rnn" and name != "arnn" else 0) + (
        spectral if name != "cnn" and name != "acnn" else 0
    )
    return 2 * 4 * preset.batch_size * per_pixel


__all__ = [
    "ACNN",
    "ARNN",
    "CLASSICAL_MODELS",
    "CNN",
    "MODEL_LABELS",
    "MODEL_NAMES",
    "NEURAL_MODELS",
    "PRESETS",
    "PixelNetwork",
    "Preset",
    "RNN",
    "SSAN",
    "build_classical",
    "build_network",
    "check_network_size",
    "get_preset",
    "tensor_shapes",
    "training_batch_bytes",
]
