"""Same seed, same model (issue 9, item 5): a training run owns its generators, so runs at the same time
(and anything else drawing from torch's process-wide generator) do not change its weights."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from ssan.data.splits import make_split
from ssan.models.seeding import (
    GeneratorDropout,
    init_parameters_,
    use_dropout_generator,
)
from ssan.training.trainer import train
from tests.helpers import TINY, toy_scene

SETTINGS = {**TINY, "iterations": 40, "eval_every": 10, "batch_size": 16}


@pytest.fixture(scope="module")
def data():
    scene = toy_scene(shape=(30, 24), n_bands=10, n_classes=3)
    return scene, make_split(scene, "per-class:10", 0)


def weights(fitted) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in fitted.network.state_dict().items()}


@pytest.mark.parametrize("init", ["default", "normal"])
def test_two_concurrent_runs_with_one_seed_give_identical_weights(data, init):
    scene, split = data
    settings = {**SETTINGS, "init": init}
    alone = weights(train(scene, split, "ssan", "quick", seed=5, device="cpu", overrides=settings))
    results: list = [None, None]
    stop = threading.Event()

    def run(slot: int) -> None:
        results[slot] = weights(
            train(scene, split, "ssan", "quick", seed=5, device="cpu", overrides=settings)
        )

    def noise() -> None:  # someone else in the process using torch's shared generator meanwhile
        while not stop.is_set():
            torch.rand(64)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)] + [
        threading.Thread(target=noise)
    ]
    for t in threads:
        t.start()
    for t in threads[:2]:
        t.join()
    stop.set()
    threads[2].join()
    for result in results:
        assert result.keys() == alone.keys()
        for name in alone:
            assert torch.equal(result[name], alone[name]), name


def test_dropout_draws_from_the_run_generator_only():
    layer = GeneratorDropout(0.5).train()
    x = torch.ones(1000)
    masks = []
    for _ in range(2):
        use_dropout_generator(nn.Sequential(layer), torch.Generator().manual_seed(1))
        torch.manual_seed(99 + len(masks))  # the shared generator differs each time
        masks.append(layer(x))
    assert torch.equal(masks[0], masks[1]) and set(masks[0].unique().tolist()) == {0.0, 2.0}
    with pytest.raises(TypeError, match="plain nn.Dropout"):
        use_dropout_generator(nn.Sequential(nn.Dropout(0.5)), torch.Generator())


def test_an_unknown_layer_is_refused_rather_than_left_on_the_shared_generator():
    with pytest.raises(TypeError, match="does not know how to initialise Embedding"):
        init_parameters_(nn.Sequential(nn.Embedding(3, 2)), torch.Generator())
