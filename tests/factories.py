"""Small hand-made scenes for unit tests (no files, no network)."""

from __future__ import annotations

import numpy as np

from ssan.scene import Scene, rosis_wavelengths


def toy_scene(shape=(60, 50), n_bands=12, n_classes=4, seed=0, unlabelled_share=0.2) -> Scene:
    """A random scene whose classes occupy vertical stripes, with some unlabelled pixels."""
    rng = np.random.default_rng(seed)
    H, W = shape
    labels = (np.arange(W)[None, :] * n_classes // W + 1).repeat(H, axis=0).astype(np.int32)
    labels[rng.random(shape) < unlabelled_share] = 0
    means = rng.random((n_classes + 1, n_bands))
    cube = (means[labels] + 0.05 * rng.standard_normal((H, W, n_bands))).astype(np.float32)
    names = tuple(f"class {c}" for c in range(1, n_classes + 1))
    return Scene("toy", cube, labels, names, rosis_wavelengths(n_bands), source="toy scene (tests)")
