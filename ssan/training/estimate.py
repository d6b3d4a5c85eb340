"""How long a training job will take, as a measured range rather than one optimistic number.

`estimate_training_time` times a few real training steps (the training's own `TrainingStep`) and
one validation batch, then extrapolates over the run and the scoring of the test pixels. A job
runs in a worker thread, with the torch thread pool the app set, while the page keeps polling;
one short timing on an idle moment was three times optimistic on a loaded 2-core laptop. So
`estimate_time_range` repeats the timing in a worker thread, as the job will, and the spread of
those trials is the range.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import torch

from ssan.data.preprocess import PixelSampler, fit_preprocessing
from ssan.data.scene import Scene
from ssan.data.splits import Split
from ssan.hardware import synchronize
from ssan.models import CLASSICAL_MODELS, Preset, build_network
from ssan.models.fitted import inference_batch_size, network_inputs
from ssan.training.trainer import (
    TrainingStep,
    check_training_pixels,
    describe_device,
    format_duration,
    pick_device,
    resolve_preset,
    train,
    validation_accuracy,
)

WARM_UP_STEPS_ACCELERATOR = 3  # a GPU picks its cuDNN and autocast kernels over the first few steps


@dataclass(frozen=True)
class TimeEstimate:
    """Expected wall time of a training job, scoring of the test pixels included: the lowest and highest of
    `trials` timings (equal for one), with the time per step, the validation and the scoring it adds up."""

    low: float
    high: float
    step_low: float
    step_high: float
    validation: float
    scoring: float
    iterations: int
    test_pixels: int
    device: str
    trials: int = 1

    def describe(self) -> str:
        """One sentence for a person: the range, the device, and what it is made of."""
        span = (
            f"about {format_duration(self.low)}"
            if format_duration(self.low) == format_duration(self.high)
            else f"{format_duration(self.low)} to {format_duration(self.high)}"
        )
        per_step = (
            f"{1000 * self.step_low:.0f}"
            if round(1000 * self.step_low) == round(1000 * self.step_high)
            else f"{1000 * self.step_low:.0f}–{1000 * self.step_high:.0f}"
        )
        timings = (
            f" ({self.trials} timings in a worker thread, as the job runs)"
            if self.trials > 1
            else ""
        )
        return (
            f"{span} on {self.device}: {self.iterations} iterations at {per_step} ms each{timings}, "
            f"{format_duration(self.validation)} of validation, then about {format_duration(self.scoring)} "
            f"scoring {self.test_pixels:,} test pixels. Longer while other programs use the processor."
        )


def estimate_training_time(
    scene: Scene,
    split: Split,
    model: str = "ssan",
    preset: str | Preset = "quick",
    *,
    device: str | torch.device | None = None,
    overrides: dict | None = None,
    steps: int = 3,
) -> TimeEstimate:
    """Time a few real training steps and one validation batch on the device, then extrapolate.

    A classical model (KNN, SVM) is trained once: its grid search is the whole run.
    """
    cfg = resolve_preset(model, preset, overrides)
    check_training_pixels(scene, split, cfg, "train")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    if model in CLASSICAL_MODELS:
        start = time.perf_counter()
        train(scene, split, model, cfg, device=dev)
        took = time.perf_counter() - start
        return TimeEstimate(
            took, took, took, took, 0.0, 0.0, 1, int(split.test.size), describe_device(dev)
        )
    prep = fit_preprocessing(scene.cube, split.train, cfg.n_components)
    sampler = PixelSampler(scene.cube, prep, cfg.patch_size)
    net = build_network(model, scene.n_bands, scene.n_classes, cfg).to(dev)
    training_step = TrainingStep(net, cfg, dev)
    rng = np.random.default_rng(0)
    idx = rng.choice(split.train, size=cfg.batch_size, replace=split.train.size < cfg.batch_size)
    y = torch.from_numpy(split.targets(idx) - 1).to(dev)

    def step() -> None:
        training_step(network_inputs(net, sampler, idx, dev), y)

    for _ in range(1 if dev.type == "cpu" else WARM_UP_STEPS_ACCELERATOR):  # allocations, kernels
        step()
    synchronize(dev)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(dev)
    per_step = (time.perf_counter() - start) / steps
    val_batch = split.val[
        : min(inference_batch_size(dev), split.val.size)
    ]  # one batch, as validation runs
    val_targets = split.targets(val_batch)
    validation_accuracy(net, sampler, val_batch, val_targets, dev)  # warm-up: the evaluation shapes
    synchronize(dev)
    start = time.perf_counter()
    validation_accuracy(net, sampler, val_batch, val_targets, dev)
    synchronize(dev)
    per_val_pixel = (time.perf_counter() - start) / max(val_batch.size, 1)
    n_evals = -(-cfg.iterations // cfg.eval_every)
    validation = n_evals * split.val.size * per_val_pixel
    scoring = per_val_pixel * split.test.size
    total = per_step * cfg.iterations + validation + scoring
    return TimeEstimate(
        total,
        total,
        per_step,
        per_step,
        validation,
        scoring,
        cfg.iterations,
        int(split.test.size),
        describe_device(dev),
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
) -> TimeEstimate:
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
    # The slowest validation sets the scoring of every trial: scoring runs as validation does.
    scoring = max(e.scoring for e in estimates)
    totals = [e.high - e.scoring + scoring for e in estimates]
    return TimeEstimate(
        min(totals),
        max(totals),
        min(e.step_low for e in estimates),
        max(e.step_high for e in estimates),
        max(e.validation for e in estimates),
        scoring,
        estimates[0].iterations,
        int(split.test.size),
        estimates[0].device,
        len(estimates),
    )
