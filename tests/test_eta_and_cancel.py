"""Issue 24, item 3: the live time left comes from measured iterations and validations, and a cancel
during a validation stops it before its next batch."""

from __future__ import annotations

import threading

import pytest

from ssan.training import trainer
from ssan.training.eta import TrainingClock, validations
from tests.helpers import TINY_JOB, tiny_job_scene, tiny_job_split


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_validations_left_count_every_nth_iteration_and_the_last():
    assert validations(10, 5) == 2 and validations(12, 5) == 3
    assert validations(12, 5, done=5) == 2 and validations(12, 5, done=10) == 1
    assert validations(12, 5, done=12) == 0


def test_the_time_left_follows_the_measured_iterations_and_validations():
    fake = FakeClock()
    clock = TrainingClock(
        iterations=20, eval_every=10, batch_size=50, val_pixels=100, test_pixels=1000, clock=fake
    )
    fake.advance(30.0)  # a slow first iteration (allocations) must not set the pace
    clock.lap()
    for _ in range(8):
        fake.advance(1.0)
        clock.lap()
    # 11 iterations left at 1 s; 2 validations guessed at a third of a training pixel's time per pixel
    assert clock.remaining(9) == pytest.approx(11 + 2 * 100 * (1.0 / 50) / 3)
    fake.advance(1.0)
    clock.lap()
    fake.advance(4.0)  # the validation at iteration 10: 100 pixels in 4 s
    clock.lap(validation=True)
    assert clock.remaining(10) == pytest.approx(10 * 1.0 + 1 * 4.0)
    assert clock.scoring() == pytest.approx(1000 * 4.0 / 100)
    assert clock.elapsed == pytest.approx(43.0)
    for _ in range(60):  # the machine gets busier: the window follows within its length
        fake.advance(3.0)
        clock.lap()
    assert clock.remaining(10) == pytest.approx(10 * 3.0 + 4.0)


def test_the_time_left_reaches_zero_and_shrinks_as_the_run_goes():
    scene = tiny_job_scene()
    seen: list[trainer.Progress] = []
    trainer.train(
        scene, tiny_job_split(scene), "ssan", "quick", overrides=TINY_JOB, progress=seen.append
    )
    assert seen[-1].remaining == 0 and seen[-1].scoring > 0
    assert all(p.remaining >= 0 for p in seen)


def test_a_cancel_during_validation_stops_before_its_next_batch(monkeypatch):
    """The stop is set in the middle of the second validation: no further validation batch runs and no
    further iteration trains (counted, not timed); the first validation's weights are kept."""
    monkeypatch.setattr(trainer, "inference_batch_size", lambda device: 4)
    scene = tiny_job_scene()
    split = tiny_job_split(scene)
    per_validation = -(-split.val.size // 4)
    assert per_validation >= 3
    stop = threading.Event()
    batches: list[bool] = []  # one entry per validation batch: whether stop was set when it started
    real_inputs = trainer.network_inputs

    def counting_inputs(net, sampler, pixels, device):
        if not net.training and pixels.size <= 4:  # a validation batch
            batches.append(stop.is_set())
            if len(batches) == per_validation + 2:  # the second batch of the second validation
                stop.set()
        return real_inputs(net, sampler, pixels, device)

    monkeypatch.setattr(trainer, "network_inputs", counting_inputs)
    fitted = trainer.train(scene, split, "ssan", "quick", overrides=TINY_JOB, stop=stop)
    assert fitted.cancelled
    assert fitted.history[-1]["iteration"] == 2 * TINY_JOB["eval_every"], (
        "no iteration after the cancel"
    )
    assert batches == [False] * (per_validation + 2), "no validation batch started after the cancel"
    assert fitted.best_iteration == TINY_JOB["eval_every"] and fitted.network is not None
