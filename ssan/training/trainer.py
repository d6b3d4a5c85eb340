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
from ssan.models.presets import apply_overrides
from ssan.models.seeding import use_dropout_generator
from ssan.training.eta import TrainingClock

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Progress:
    """One training step as the callback sees it; `val_accuracy` is set on validation steps only.
    `remaining` is the training's time left (iterations and validations, from their measured times,
    `ssan.training.eta`) and `scoring` the time that scoring the test pixels will take after it."""

    iteration: int
    iterations: int
    loss: float
    val_accuracy: float | None
    best_val_accuracy: float | None
    elapsed: float
    remaining: float
    scoring: float = 0.0

    @property
    def fraction(self) -> float:
        """Share of the run's iterations done."""
        return self.iteration / max(self.iterations, 1)


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
    return apply_overrides(base, overrides)


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
    """Fit preprocessing on the split's training pixels (or the whole scene), then train `model` on the split.

    `model` is one of knn, svm, rnn, cnn, arnn, acnn, ssan; `preset` "quick" (CPU, about a minute on the demo)
    or "paper" (the authors' settings, for a GPU); `overrides` changes settings of the preset by name
    (e.g. {"iterations": 100}). The validation pixels pick the best weights; the test pixels are never read.
    `progress` is called after every step; setting `stop` ends the run early (checked before every step and
    every validation batch), keeping the best weights so far.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"the training seed must be a non-negative integer; got {seed!r}.")
    if fit_on not in FIT_ON_CHOICES:
        raise ValueError(f"fit_on must be one of {FIT_ON_CHOICES}; got {fit_on!r}")
    if split.shape != scene.shape:
        raise ValueError(f"the split is for a {split.shape} image, the scene is {scene.shape}")
    cfg = resolve_preset(model, preset, overrides)
    check_training_pixels(scene, split, cfg, fit_on)
    if model not in CLASSICAL_MODELS:
        tensor_shapes(
            model, scene.n_bands, scene.n_classes, cfg
        )  # refuses a network too big to allocate
    prep = fit_preprocessing(
        scene.cube, split.train if fit_on == "train" else None, cfg.n_components
    )
    sampler = PixelSampler(scene.cube, prep, cfg.patch_size)
    fitted = FittedModel(model, cfg, prep, SceneIdentity.of(scene), split.record(), seed)
    if model in CLASSICAL_MODELS:
        return _fit_classical(fitted, sampler, split)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    return _fit_network(fitted, sampler, split, dev, progress, stop)


def check_training_pixels(scene: Scene, split: Split, cfg: Preset, fit_on: str) -> None:
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
            (fitted.predict_at(sampler, split.val) == split.targets(split.val)).mean()
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
    step = TrainingStep(net, cfg, device)
    train_x = network_inputs(net, sampler, split.train, device)
    train_y = torch.from_numpy(split.targets(split.train) - 1).to(device)
    val_y = split.targets(split.val)
    batches = _batch_order(split.train.size, cfg.batch_size, rng)

    best_state, best_acc, best_it, since_best = None, None, None, 0
    history: list[dict] = []
    clock = TrainingClock(
        cfg.iterations, cfg.eval_every, cfg.batch_size, split.val.size, split.test.size
    )
    it = 0
    for it in range(1, cfg.iterations + 1):
        if stop is not None and stop.is_set():
            fitted.cancelled = True
            it -= 1
            break
        idx = torch.from_numpy(next(batches)).to(device)
        loss = step(tuple(x[idx] if x.numel() else x for x in train_x), train_y[idx])
        record = {"iteration": it, "loss": float(loss.detach()), "val_accuracy": None}
        clock.lap()
        if it % cfg.eval_every == 0 or it == cfg.iterations:
            acc = validation_accuracy(net, sampler, split.val, val_y, device, stop)
            if acc is None:  # cancelled during the validation: these weights stay unjudged
                fitted.cancelled = True
                history.append(record)
                break
            clock.lap(validation=True)
            record["val_accuracy"] = acc
            if best_acc is None or acc > best_acc:
                best_state, best_acc, best_it, since_best = _cpu_state(net), acc, it, 0
            else:
                since_best += 1
        history.append(record)
        if progress is not None:
            progress(
                Progress(
                    it,
                    cfg.iterations,
                    record["loss"],
                    record["val_accuracy"],
                    best_acc,
                    clock.elapsed,
                    clock.remaining(it),
                    clock.scoring(),
                )
            )
        if cfg.early_stop_patience and since_best >= cfg.early_stop_patience:
            break
    if best_state is None:  # cancelled before the first validation: judge the weights we have
        best_acc, best_it, best_state = (
            validation_accuracy(net, sampler, split.val, val_y, device),
            it,
            _cpu_state(net),
        )
    net.load_state_dict(best_state)
    net.eval()
    fitted.network = net
    fitted.history = history
    fitted.best_iteration, fitted.best_val_accuracy = best_it, best_acc
    fitted.train_seconds = clock.elapsed
    fitted.device = describe_device(device)
    return fitted


class TrainingStep:
    """One optimisation step of a network, the same for training, the time estimate and the benchmark.

    Adam at the preset's rate; on CUDA, autocast with a GradScaler; the gradient clipped to the preset's
    `grad_clip`; the learning rate decayed along the preset's cosine schedule.
    """

    def __init__(self, net: nn.Module, cfg: Preset, device: torch.device) -> None:
        self.net = net
        self.grad_clip = cfg.grad_clip
        self.device_type = device.type
        self.use_amp = device.type == "cuda"
        self.optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        self.schedule = (
            torch.optim.lr_scheduler.CosineAnnealingLR(self.optimiser, cfg.iterations)
            if cfg.lr_schedule == "cosine"
            else None
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

    def __call__(
        self, inputs: tuple[torch.Tensor, torch.Tensor], targets: torch.Tensor
    ) -> torch.Tensor:
        """Train on one batch (network inputs, 0-based class targets); the batch's loss."""
        net, optimiser, scaler = self.net, self.optimiser, self.scaler
        net.train()
        with torch.autocast(self.device_type, enabled=self.use_amp):
            loss = net.training_loss(*inputs, targets)
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.grad_clip:
            scaler.unscale_(optimiser)
            nn.utils.clip_grad_norm_(net.parameters(), self.grad_clip)
        scaler.step(optimiser)
        scaler.update()
        if self.schedule is not None:
            self.schedule.step()
        return loss


def _batch_order(n: int, batch_size: int, rng: np.random.Generator):
    """Endless mini-batches of indices: shuffled epochs, the last short batch topped up from the next."""
    buffer = np.zeros(0, dtype=np.int64)
    while True:
        while buffer.size < batch_size:
            buffer = np.concatenate([buffer, rng.permutation(n)])
        yield buffer[:batch_size]
        buffer = buffer[batch_size:]


def validation_accuracy(
    net: nn.Module,
    sampler: PixelSampler,
    pixels: np.ndarray,
    targets: np.ndarray,
    device: torch.device,
    stop: threading.Event | None = None,
) -> float | None:
    """Share of `pixels` whose predicted class is `targets` (NaN for no pixel), as validation measures it;
    None when `stop` was set before one of its batches (a cancel waits for one batch, not the whole set)."""
    if pixels.size == 0:
        return float("nan")
    batch_size = inference_batch_size(device)
    net.eval()
    correct = 0
    with torch.inference_mode():
        for s in range(0, pixels.size, batch_size):
            if stop is not None and stop.is_set():
                return None
            logits = net(*network_inputs(net, sampler, pixels[s : s + batch_size], device))
            correct += int(
                (logits.argmax(1).cpu().numpy() + 1 == targets[s : s + batch_size]).sum()
            )
    return correct / pixels.size


def _cpu_state(net: nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}
