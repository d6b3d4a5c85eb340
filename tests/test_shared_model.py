"""One fitted model shared by every session of the app: forward passes from several threads at once."""

from __future__ import annotations

import threading

import numpy as np

from ssan.data.splits import make_split
from ssan.inference.attention import pixel_attention
from ssan.training.trainer import train


def test_threads_share_one_model_without_errors_or_cross_talk(small_demo):
    """Eight threads ask the same GRU model for attention at once; each gets its own pixel's answer.

    The old forward moved the network to its device on every call, which rebuilds a GRU's weight list:
    a thread running the model at that moment failed with "zip() argument 2 is longer than argument 1".
    """
    scene = small_demo
    split = make_split(scene, "per-class:5", seed=0)
    fitted = train(
        scene, split, "arnn", "quick", seed=0, overrides={"iterations": 2, "eval_every": 2}
    )
    sampler = fitted.sampler(scene)
    pixels = scene.labelled_pixels()[:16]
    expected = pixel_attention(fitted, sampler, pixels).spectral
    errors: list[BaseException] = []
    mismatches: list[int] = []
    start = threading.Barrier(8)

    def client(k: int) -> None:
        try:
            start.wait()
            for i in range(60):
                pixel = pixels[(k + i) % len(pixels)]
                got = pixel_attention(fitted, sampler, np.array([pixel])).spectral[0]
                if not np.allclose(got, expected[(k + i) % len(pixels)], atol=1e-5):
                    mismatches.append(int(pixel))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert not mismatches
