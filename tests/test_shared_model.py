"""One fitted model shared by every session of the app: forward passes from several threads at once."""

from __future__ import annotations

import threading

import numpy as np
import torch

from ssan.data.splits import make_split
from ssan.explain import branch_decision, explain_model, explain_pixels, pixel_batch
from ssan.inference.attention import pixel_attention
from ssan.models.fitted import on_cpu
from ssan.training.trainer import train
from tests.helpers import known_scene, random_ssan


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


def _gru(net: torch.nn.Module) -> torch.nn.GRU:
    return next(m for m in net.modules() if isinstance(m, torch.nn.GRU))


def test_explanations_never_move_or_rebuild_the_shared_network():
    """The explanation tests run on the CPU with the network the app shares between sessions: they must use it
    where it is, not call `.cpu()` on it (which, even on the CPU, rebuilds the GRU's weight list under any
    thread running it at that moment)."""
    scene = known_scene()
    fitted = random_ssan(scene)
    net, gru = fitted.network, _gru(fitted.network)
    parameters, refs = list(net.parameters()), gru._flat_weight_refs
    pixels = scene.labelled_pixels()[:4]
    explain_pixels(fitted, scene, pixels)
    branch_decision(fitted, fitted.sampler(scene), pixels)
    explain_model(fitted, scene, n_pixels=20, steps=2, n_random=1)
    assert fitted.network is net and gru._flat_weight_refs is refs, "the network was moved"
    assert all(a is b for a, b in zip(parameters, net.parameters(), strict=True))


def test_explanations_and_forward_passes_share_one_network_across_threads():
    """Four threads explain pixels while four read attention from the same SSAN: no thread sees another's move."""
    scene = known_scene()
    fitted = random_ssan(scene)
    sampler = fitted.sampler(scene)
    pixels = scene.labelled_pixels()[:8]
    expected = pixel_attention(fitted, sampler, pixels).spectral
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def explainer() -> None:
        try:
            start.wait()
            for i in range(15):
                pixel_batch(fitted, sampler, scene, pixels[i % 8 : i % 8 + 1])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def reader(k: int) -> None:
        try:
            start.wait()
            for i in range(60):
                got = pixel_attention(fitted, sampler, pixels[(k + i) % 8 :][:1]).spectral[0]
                assert np.allclose(got, expected[(k + i) % 8], atol=1e-5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=explainer) for _ in range(4)]
    threads += [threading.Thread(target=reader, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def test_a_network_not_ready_for_the_cpu_is_copied_not_switched():
    """A network in training mode (or on an accelerator) is left as it is; the CPU work gets a copy."""
    net = random_ssan(known_scene()).network.train()
    copy = on_cpu(net)
    assert copy is not net and not copy.training and net.training
    assert on_cpu(copy) is copy
