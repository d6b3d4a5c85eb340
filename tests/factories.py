"""Small hand-made scenes for unit tests (no files, no network)."""

from __future__ import annotations

import time

import numpy as np

from ssan.data.scene import Scene, rosis_wavelengths


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


# A network small enough that a background training job finishes in a blink (quick preset overrides).
TINY_JOB = dict(
    rnn_hidden=4,
    attention_size=4,
    fc_hidden=16,
    fusion_dim=8,
    fusion_hidden=16,
    conv_channels=(4, 4),
    patch_size=7,
    iterations=12,
    eval_every=4,
    batch_size=16,
)


def tiny_job_scene() -> Scene:
    """A 30x28 scene of 8 bands and 3 classes, for training-job tests."""
    return toy_scene(shape=(30, 28), n_bands=8, n_classes=3)


def tiny_job_split(scene: Scene):
    """10 + 10 pixels per class, patches of 7 px, to go with `TINY_JOB`."""
    from ssan.data.splits import make_split

    return make_split(scene, "per-class:10", seed=0, patch_size=7)


def wait_until(predicate, timeout: float = 60.0) -> None:
    """Poll `predicate` until it holds; fail the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out waiting for the job"
        time.sleep(0.01)
