"""SSAN (Mei/Pan et al. 2019), its neural comparators and the classical baselines, built by name.

`build_network(name, n_bands, n_classes, preset)` gives any of the five networks, all with
the same forward signature; `build_classical(name)` gives the KNN/SVM grid searches.
"""

from __future__ import annotations

from torch import nn

from .classical import build_classical
from .comparators import ACNN, ARNN, CNN, RNN
from .presets import PRESETS, Preset, get_preset
from .ssan import SSAN, PixelNetwork, init_authors_normal_

NEURAL_MODELS = ("rnn", "cnn", "arnn", "acnn", "ssan")
CLASSICAL_MODELS = ("knn", "svm")
MODEL_NAMES = ("knn", "svm", "rnn", "cnn", "arnn", "acnn", "ssan")   # the paper's table order
MODEL_LABELS = {
    "knn": "KNN (k-nearest neighbours on spectra)",
    "svm": "SVM (RBF kernel on spectra)",
    "rnn": "RNN (BiGRU, no attention)",
    "cnn": "CNN (spatial branch, no attention)",
    "arnn": "ARNN (spectral attention RNN)",
    "acnn": "ACNN (spatial attention CNN)",
    "ssan": "SSAN (Mei/Pan et al. 2019)",
}

_NETWORKS: dict[str, type[PixelNetwork]] = {"rnn": RNN, "cnn": CNN, "arnn": ARNN, "acnn": ACNN, "ssan": SSAN}


def build_network(name: str, n_bands: int, n_classes: int, preset: Preset) -> nn.Module:
    """The network `name` sized for the data and configured by `preset` (authors' init if preset.init == "normal")."""
    if name not in _NETWORKS:
        raise ValueError(f"Unknown network {name!r}; valid names are {list(NEURAL_MODELS)}.")
    model = _NETWORKS[name](n_bands, n_classes, preset)
    if preset.init == "normal":
        init_authors_normal_(model)
    return model


__all__ = [
    "ACNN", "ARNN", "CLASSICAL_MODELS", "CNN", "MODEL_LABELS", "MODEL_NAMES", "NEURAL_MODELS", "PRESETS",
    "PixelNetwork", "Preset", "RNN", "SSAN", "build_classical", "build_network", "get_preset",
]
