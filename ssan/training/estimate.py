"""How long a training job will take, as a measured range rather than one optimistic number.

`ssan.training.trainer.estimate_training_time` times a few steps once. A job runs in a worker thread,
with the torch thread pool the app set, while the page keeps polling; one short timing on an
idle moment was three times optimistic on a loaded 2-core laptop. Here the timing runs several
times in a worker thread, as the job will, and the spread of those trials is the range; the
scoring of the test pixels after the last iteration is added (timed from the validation batch).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

from ssan.data.scene import Scene
from ssan.data.splits import Split
from ssan.models import CLASSICAL_MODELS, Preset
from ssan.training.trainer import (
    TimeEstimate,
    estimate_training_time,
    format_duration,
    resolve_preset,
)


@dataclass(frozen=True)
class TimeRange:
    """Expected wall time of a job, lowest and highest of several timings, scoring included."""

    low: float
    high: float
    step_low: float
    step_high: float
    scoring: float
    iterations: int
    test_pixels: int
    device: str
    trials: int

    def describe(self) -> str:
        span = (
            f"about {format_duration(self.low)}"
            if format_duration(self.low) == format_duration(self.high)
            else f"{format_duration(self.low)} to {format_duration(self.high)}"
        )
        return (
            f"{span} on {self.device}: {self.iterations} iterations at {1000 * self.step_low:.0f}–"
            f"{1000 * self.step_high:.0f} ms each ({self.trials} timings in a worker thread, as the job runs), "
            f"validation, then about {format_duration(self.scoring)} scoring {self.test_pixels:,} test pixels. "
            "Longer while other programs use the processor."
        )


def estimate_time_range(
    scene: Scene,
    split: Split,
    model: str = "ssan",
    preset: str | Preset = "quick",
    *,
    device: str | torch.device | None = None,
    overrides: dict | None = None,
    trials: int = 3,
    steps: int = 3,
) -> TimeRange:
    """Time `trials` short runs of `steps` training steps in a worker thread; the range of their totals."""
    cfg = resolve_preset(model, preset, overrides)
    if model in CLASSICAL_MODELS:
        trials = 1  # a classical "step" is the whole grid search
    estimates: list[TimeEstimate] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(trials):
                estimates.append(
                    estimate_training_time(scene, split, model, cfg, device=device, steps=steps)
                )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=work, name="ssan-estimate", daemon=True)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    n_evals = -(-cfg.iterations // cfg.eval_every)
    per_pixel = max(e.validation_seconds for e in estimates) / max(n_evals * split.val.size, 1)
    scoring = 0.0 if model in CLASSICAL_MODELS else per_pixel * split.test.size
    totals = [e.total_seconds + scoring for e in estimates]
    steps_s = [e.seconds_per_step for e in estimates]
    return TimeRange(
        min(totals),
        max(totals),
        min(steps_s),
        max(steps_s),
        scoring,
        estimates[0].iterations,
        int(split.test.size),
        estimates[0].device,
        len(estimates),
    )
