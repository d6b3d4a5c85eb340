"""Training: one `train` for every model, on the best device there is.

Networks learn from the training pixels only; the validation pixels pick the best
checkpoint (every `eval_every` iterations, as the authors do); the test pixels are never
touched here. Progress goes to a callback so a CLI can draw a bar and the app a live curve,
and a `threading.Event` cancels a run from another thread, keeping the best model so far.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ssan.data.preprocess import FIT_ON_CHOICES, PixelSampler, fit_preprocessing
from ssan.data.scene import Scene
from ssan.data.splits import Split
from ssan.hardware import synchronize
from ssan.models import (
    CLASSICAL_MODELS,
    MODEL_NAMES,
    Preset,
    build_classical,
    build_network,
    get_preset,
    tensor_shapes,
)
from ssan.models.fitted import (
    FittedModel,
    SceneIdentity,
    inference_batch_size,
    network_inputs,
)
from ssan.models.seeding import use_dropout_generator

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
WARM_UP_STEPS_ACCELERATOR = 3  # a GPU picks its cuDNN and autocast kernels over the first few steps


@dataclass(frozen=True)
class Progress:
    """One training step as the callback sees it; `val_accuracy` is set on validation steps only."""

    iteration: int
    iterations: int
    loss: float
    val_accuracy: float | None
    best_val_accuracy: float | None
    elapsed: float
    remaining: float

    @property
    def fraction(self) -> float:
        return self.iteration / max(self.iterations, 1)


@dataclass(frozen=True)
class TimeEstimate:
    """Expected wall time of a training run, measured from a few real steps on the device."""

    seconds_per_step: float
    validation_seconds: float
    total_seconds: float
    iterations: int
    device: str

    def describe(self) -> str:
        return (
            f"about {format_duration(self.total_seconds)} on {self.device} "
            f"({self.iterations} iterations at {1000 * self.seconds_per_step:.0f} ms each, "
            f"plus {format_duration(self.validation_seconds)} of validation)"
        )


def format_duration(seconds: float) -> str:
    """'45 s', '3 min 20 s', '2 h 05 min'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def pick_device(requested: str | None = None) -> torch.device:
    """CUDA, then Apple MPS, then CPU; a requested device that is not there is an error."""
    requested = (requested or "auto").lower()
    if requested not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {requested!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if requested == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (requested == "cuda" and not cuda) or (requested == "mps" and not mps):
        raise ValueError(
            f"device {requested!r} was requested but is not available here; use --device auto or cpu"
        )
    return torch.device(requested)


def describe_device(device: torch.device) -> str:
    """Human-readable device name, e.g. 'cuda (NVIDIA H100 80GB HBM3)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu ({threads} thread{'s' if threads > 1 else ''})"
    return device.type


def resolve_preset(model: str, preset: str | Preset, overrides: dict | None = None) -> Preset:
    """A Preset from a name or object, with overrides applied; unknown models are refused."""
    if model not in MODEL_NAMES:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    base = get_preset(preset) if isinstance(preset, str) else preset
    return base.with_overrides(**(overrides or {}))


def train(
    scene: Scene,
    split: Split,
    model: str = "ssan",
    preset: str | Preset = "quick",
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    fit_on: str = "train",
    overrides: dict | None = None,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> FittedModel:
    """Fit preprocessing on the split's training pixels (or the scene), then train `model`."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"the training seed must be a non-negative integer; got {seed!r}.")
    if fit_on not in FIT_ON_CHOICES:
        raise ValueError(f"fit_on must be one of {FIT_ON_CHOICES}; got {fit_on!r}")
    if split.shape != scene.shape:
        raise ValueError(f"the split is for a {split.shape} image, the scene is {scene.shape}")
    cfg = resolve_preset(model, preset, overrides)
    _check_training_pixels(scene, split, cfg, fit_on)
    if model not in CLASSICAL_MODELS:
        tensor_shapes(
            model, scene.n_bands, scene.n_classes, cfg
        )  # refuses a network too big to allocate
    prep = fit_preprocessing(
        scene.cube, split.train if fit_on == "train" else None, cfg.n_components
    )
    sampler = PixelSampler(scene.cube, prep, cfg.patch_size)
    fitted = FittedModel(model, cfg, prep, SceneIdentity.of(scene), split.to_dict(), seed)
    if model in CLASSICAL_MODELS:
        return _fit_classical(fitted, sampler, split)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    return _fit_network(fitted, sampler, split, dev, progress, stop)


def _check_training_pixels(scene: Scene, split: Split, cfg: Preset, fit_on: str) -> None:
    """Refuse a training set nothing can be learnt from: empty, too small for the PCA, or one constant spectrum."""
    n = split.train.size
    if n == 0 or (fit_on == "train" and n <= cfg.n_components):
        raise ValueError(
            f"the {split.protocol} split of this {scene.shape[0]}x{scene.shape[1]} scene "
            f"({int(scene.class_counts().sum())} labelled pixels) gives {'no' if n == 0 else f'only {n}'} training "
            f"pixel(s); fitting the {cfg.n_components}-component PCA needs more than {cfg.n_components}. Use a larger "
            "scene or a split with more training pixels (per-class:N, fraction:F)."
        )
    spectra = scene.cube.reshape(-1, scene.n_bands)[split.train]
    if not np.ptp(spectra, axis=0).any():
        value = float(spectra.flat[0])
        raise ValueError(
            f"every training pixel of scene '{scene.name}' has the same spectrum (every band is {value:g}): no model "
            "can learn from it and any result would be chance. Check that the right variable was loaded as the cube."
        )


def _fit_classical(fitted: FittedModel, sampler: PixelSampler, split: Split) -> FittedModel:
    start = time.perf_counter()
    estimator = build_classical(fitted.model_name, seed=fitted.seed)
    x, y = sampler.spectra(split.train), split.targets(split.train)
    estimator.fit(x, y)
    fitted.estimator, fitted.training_set = estimator, (x, y)
    fitted.train_seconds = time.perf_counter() - start
    if split.val.size:
        fitted.best_val_accuracy = float(
            (fitted.predict(sampler, split.val) == split.targets(split.val)).mean()
        )
    return fitted


def _fit_network(
    fitted: FittedModel,
    sampler: PixelSampler,
    split: Split,
    device: torch.device,
    progress: Callable[[Progress], None] | None,
    stop: threading.Event | None,
) -> FittedModel:
    cfg = fitted.preset
    # The run's own generators (initial weights, then dropout masks; batch order): reproducible whatever else
    # the process is doing. On a CPU one stream serves both, so runs match those seeded through torch.manual_seed.
    rng = np.random.default_rng(fitted.seed)
    generator = torch.Generator().manual_seed(fitted.seed)
    net = build_network(
        fitted.model_name, sampler.prep.n_bands, fitted.n_classes, cfg, generator
    ).to(device)
    use_dropout_generator(
        net, generator if device.type == "cpu" else torch.Generator(device).manual_seed(fitted.seed)
    )
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    schedule = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, cfg.iterations)
        if cfg.lr_schedule == "cosine"
        else None
    )
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    train_x = network_inputs(net, sampler, split.train, device)
    train_y = torch.from_numpy(split.targets(split.train) - 1).to(device)
    val_y = split.targets(split.val)
    batches = _batch_order(split.train.size, cfg.batch_size, rng)

    best_state, best_acc, best_it, since_best = None, None, None, 0
    history: list[dict] = []
    start = time.perf_counter()
    it = 0
    for it in range(1, cfg.iterations + 1):
        if stop is not None and stop.is_set():
            fitted.cancelled = True
            it -= 1
            break
        idx = torch.from_numpy(next(batches)).to(device)
        net.train()
        with torch.autocast(device.type, enabled=use_amp):
            loss = net.training_loss(*(x[idx] if x.numel() else x for x in train_x), train_y[idx])
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.grad_clip:
            scaler.unscale_(optimiser)
            nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        scaler.step(optimiser)
        scaler.update()
        if schedule is not None:
            schedule.step()
        record = {"iteration": it, "loss": float(loss.detach()), "val_accuracy": None}
        if it % cfg.eval_every == 0 or it == cfg.iterations:
            acc = _accuracy(net, sampler, split.val, val_y, device)
            record["val_accuracy"] = acc
            if best_acc is None or acc > best_acc:
                best_state, best_acc, best_it, since_best = _cpu_state(net), acc, it, 0
            else:
                since_best += 1
        history.append(record)
        if progress is not None:
            elapsed = time.perf_counter() - start
            progress(
                Progress(
                    it,
                    cfg.iterations,
                    record["loss"],
                    record["val_accuracy"],
                    best_acc,
                    elapsed,
                    elapsed / it * (cfg.iterations - it),
                )
            )
        if cfg.early_stop_patience and since_best >= cfg.early_stop_patience:
            break
    if best_state is None:  # cancelled before the first validation: judge the weights we have
        best_acc, best_it, best_state = (
            _accuracy(net, sampler, split.val, val_y, device),
            it,
            _cpu_state(net),
        )
    net.load_state_dict(best_state)
    net.eval()
    fitted.network = net
    fitted.history = history
    fitted.best_iteration, fitted.best_val_accuracy = best_it, best_acc
    fitted.train_seconds = time.perf_counter() - start
    fitted.device = describe_device(device)
    return fitted


def _batch_order(n: int, batch_size: int, rng: np.random.Generator):
    """Endless mini-batches of indices: shuffled epochs, the last short batch topped up from the next."""
    buffer = np.zeros(0, dtype=np.int64)
    while True:
        while buffer.size < batch_size:
            buffer = np.concatenate([buffer, rng.permutation(n)])
        yield buffer[:batch_size]
        buffer = buffer[batch_size:]


def _accuracy(
    net: nn.Module,
    sampler: PixelSampler,
    pixels: np.ndarray,
    targets: np.ndarray,
    device: torch.device,
) -> float:
    if pixels.size == 0:
        return float("nan")
    batch_size = inference_batch_size(device)
    net.eval()
    correct = 0
    with torch.inference_mode():
        for s in range(0, pixels.size, batch_size):
            logits = net(*network_inputs(net, sampler, pixels[s : s + batch_size], device))
            correct += int(
                (logits.argmax(1).cpu().numpy() + 1 == targets[s : s + batch_size]).sum()
            )
    return correct / pixels.size


def _cpu_state(net: nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}


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
    """Time a few real training steps and one validation batch on the device, then extrapolate."""
    cfg = resolve_preset(model, preset, overrides)
    _check_training_pixels(scene, split, cfg, "train")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    if model in CLASSICAL_MODELS:
        start = time.perf_counter()
        train(scene, split, model, cfg, device=dev)
        took = time.perf_counter() - start
        return TimeEstimate(took, 0.0, took, 1, describe_device(dev))
    prep = fit_preprocessing(scene.cube, split.train, cfg.n_components)
    sampler = PixelSampler(scene.cube, prep, cfg.patch_size)
    net = build_network(model, scene.n_bands, scene.n_classes, cfg).to(dev)
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(0)
    idx = rng.choice(split.train, size=cfg.batch_size, replace=split.train.size < cfg.batch_size)
    y = torch.from_numpy(split.targets(idx) - 1).to(dev)

    def step() -> None:
        x = network_inputs(net, sampler, idx, dev)
        with torch.autocast(dev.type, enabled=dev.type == "cuda"):
            loss = net.training_loss(*x, y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    for _ in range(
        1 if dev.type == "cpu" else WARM_UP_STEPS_ACCELERATOR
    ):  # allocations, kernel selection
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
    _accuracy(net, sampler, val_batch, val_targets, dev)  # warm-up: the evaluation shapes
    synchronize(dev)
    start = time.perf_counter()
    _accuracy(net, sampler, val_batch, val_targets, dev)
    synchronize(dev)
    per_val_pixel = (time.perf_counter() - start) / max(val_batch.size, 1)
    n_evals = -(-cfg.iterations // cfg.eval_every)
    validation = n_evals * split.val.size * per_val_pixel
    return TimeEstimate(
        per_step,
        validation,
        per_step * cfg.iterations + validation,
        cfg.iterations,
        describe_device(dev),
    )
