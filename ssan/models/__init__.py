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

    With `generator` (a training run's own), every initial weight is drawn from it.
    """
    if name not in _NETWORKS:
        raise ValueError(f"Unknown network {name!r}; valid names are {list(NEURAL_MODELS)}.")
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

    A network over MAX_PARAMETERS parameters is refused with a ValueError naming its size.
    """
    with torch.device("meta"):
        net = build_network(name, n_bands, n_classes, preset)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    count = sum(v.numel() for v in net.parameters())
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"Preset {preset.name!r} gives {name.upper()} on {n_bands} bands {count:,} parameters, "
            f"more than the {MAX_PARAMETERS:,} allowed; lower rnn_hidden, fc_hidden, conv_channels "
            "or patch_size."
        )
    return shapes


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
    "get_preset",
    "tensor_shapes",
]
