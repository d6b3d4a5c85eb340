"""The time left of a running training, from its own measured iterations and validations.

Before a run, `ssan.training.estimate` times a few steps; once it runs, `TrainingClock` times every
iteration and every validation as they happen. The time left is the median of the latest iterations
(so neither the slow first steps nor a moment of load swing it) times the iterations left, plus the
mean validation times the validations left; scoring the test pixels afterwards runs as validation
does, so it is predicted at the validation's measured rate per pixel.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable

WINDOW = 50  # iterations the median is taken over
# Before the first validation: a validation pixel costs a forward pass, about a third of a training
# pixel's forward and backward pass.
FORWARD_SHARE = 1 / 3


def validations(iterations: int, eval_every: int, done: int = 0) -> int:
    """Validations a run of `iterations` makes after iteration `done` (every `eval_every`, and at the end)."""

    def upto(it: int) -> int:
        return it // eval_every + (1 if it == iterations and it % eval_every else 0)

    return upto(iterations) - upto(done)


class TrainingClock:
    """Times a training's iterations and validations (call `lap()` after each iteration and each
    validation) and predicts the time left; `clock` is injectable for tests."""

    def __init__(
        self,
        iterations: int,
        eval_every: int,
        batch_size: int,
        val_pixels: int,
        test_pixels: int,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.iterations, self.eval_every, self.batch_size = iterations, eval_every, batch_size
        self.val_pixels, self.test_pixels = val_pixels, test_pixels
        self.clock = clock
        self.started = self._mark = clock()
        self._steps: deque[float] = deque(maxlen=WINDOW)
        self._validation_seconds = 0.0
        self._validated_pixels = 0

    @property
    def elapsed(self) -> float:
        """Seconds since the clock started."""
        return self.clock() - self.started

    def lap(self, validation: bool = False) -> None:
        """An iteration (or, with `validation`, a validation of all validation pixels) has just finished."""
        now = self.clock()
        took, self._mark = now - self._mark, now
        if validation:
            self._validation_seconds += took
            self._validated_pixels += self.val_pixels
        else:
            self._steps.append(took)

    def per_pixel(self) -> float:
        """Seconds to classify one pixel: measured by validation, else guessed from the training steps."""
        if self._validated_pixels:
            return self._validation_seconds / self._validated_pixels
        if not self._steps:
            return 0.0
        return FORWARD_SHARE * statistics.median(self._steps) / self.batch_size

    def remaining(self, iteration: int) -> float:
        """Seconds of training left after `iteration`: the iterations and the validations still to come."""
        if not self._steps:
            return 0.0
        steps = statistics.median(self._steps) * (self.iterations - iteration)
        left = validations(self.iterations, self.eval_every, iteration)
        return steps + left * self.val_pixels * self.per_pixel()

    def scoring(self) -> float:
        """Seconds that scoring the test pixels will take after training."""
        return self.test_pixels * self.per_pixel()
