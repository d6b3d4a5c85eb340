"""How fast SSAN trains and classifies on this machine, on a cube shaped like Pavia University.

The cube is synthetic (610 x 340 pixels, 103 bands, 9 classes, about 20% of pixels labelled):
speed depends on shapes, not on values, so no download is needed. For each preset it times a
few training steps after a warm-up step (throughput = batch size x steps per second), then
whole-scene inference through the same code path as `predict_map`. Where classifying all
pixels would take too long (the paper preset on a CPU), a subset is timed and the total is
extrapolated, and the result says so. Medians over steps and chunks keep a moment of
competing load on the machine from skewing the figures.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from .fitted import FittedModel, SceneIdentity, network_inputs
from .models import build_network, get_preset
from .preprocess import PixelSampler, fit_preprocessing
from .scene import Scene, rosis_wavelengths
from .train import describe_device, format_duration, pick_device

PAVIAU_SHAPE = (610, 340)
PAVIAU_BANDS = 103
PAVIAU_CLASSES = 9
LABELLED_SHARE = 0.2
TRAIN_PER_CLASS = 100
# Timed training steps per preset when not given: the paper preset costs seconds per step on a CPU.
DEFAULT_STEPS = {"quick": 10, "paper": 2}
GPU_STEPS = 20
# Seconds of whole-scene inference to time before extrapolating (always at least one chunk).
INFERENCE_BUDGET_S = {"cpu": 10.0, "other": 30.0}


@dataclass(frozen=True)
class PresetBench:
    """Timings of SSAN with one preset."""

    preset: str
    batch_size: int
    steps: int
    seconds_per_step: float
    train_pixels_per_second: float
    scene_pixels: int
    inference_pixels_timed: int
    inference_seconds: float
    inference_extrapolated: bool
    peak_memory_bytes: int
    memory_kind: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class BenchReport:
    """Device, cube shape and one `PresetBench` per preset."""

    device: str
    shape: tuple[int, int]
    n_bands: int
    n_classes: int
    torch_version: str
    results: list[PresetBench] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"model": "ssan", "device": self.device, "shape": list(self.shape), "bands": self.n_bands,
                "classes": self.n_classes, "torch": self.torch_version, "synthetic_cube": True,
                "results": [r.to_dict() for r in self.results]}

    def format_table(self) -> str:
        """A small text table, one row per preset, then notes on how each number was taken."""
        rows = [["preset", "batch", "steps", "ms/step (median)", "train px/s", "scene inference", "peak memory"]]
        for r in self.results:
            infer = format_duration(r.inference_seconds) + (" (extrapolated)" if r.inference_extrapolated else "")
            rows.append([r.preset, str(r.batch_size), str(r.steps), f"{1000 * r.seconds_per_step:.0f}",
                         f"{r.train_pixels_per_second:,.0f}", infer, f"{r.peak_memory_bytes / 2**20:,.0f} MiB"])
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                 for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        h, w = self.shape
        lines.insert(0, f"SSAN benchmark on {self.device}, torch {self.torch_version}; synthetic {h}x{w}x{self.n_bands} "
                        f"cube (Pavia University shape), {self.n_classes} classes")
        for r in self.results:
            if r.inference_extrapolated:
                lines.append(f"{r.preset}: scene inference timed on {r.inference_pixels_timed:,} of {r.scene_pixels:,} "
                             "pixels (median per-pixel time of chunks) and extrapolated, plus the PCA pass over the scene")
        if self.results:
            lines.append(f"peak memory: {self.results[0].memory_kind}")
        return "\n".join(lines)


def synthetic_scene(shape: tuple[int, int] = PAVIAU_SHAPE, n_bands: int = PAVIAU_BANDS,
                    n_classes: int = PAVIAU_CLASSES, seed: int = 0) -> Scene:
    """A random cube with class-dependent mean spectra and random labels on about 20% of pixels."""
    rng = np.random.default_rng(seed)
    h, w = shape
    labels = np.where(rng.random(shape) < LABELLED_SHARE, rng.integers(1, n_classes + 1, shape), 0).astype(np.int32)
    means = rng.random((n_classes + 1, n_bands)).astype(np.float32)
    cube = means[labels] + 0.1 * rng.standard_normal((h, w, n_bands), dtype=np.float32)
    return Scene("bench", cube, labels, tuple(f"class {c}" for c in range(1, n_classes + 1)),
                 rosis_wavelengths(n_bands), source="synthetic benchmark cube")


def run_bench(
    device: str | None = None,
    presets: tuple[str, ...] | list[str] = ("quick", "paper"),
    steps: int | None = None,
    shape: tuple[int, int] = PAVIAU_SHAPE,
    inference_budget_s: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Time SSAN training steps and whole-scene inference for each preset on `device`."""
    presets = [get_preset(p).name for p in presets]
    dev = pick_device(device)
    say = progress or (lambda _msg: None)
    say(f"building a synthetic {shape[0]}x{shape[1]}x{PAVIAU_BANDS} cube")
    scene = synthetic_scene(shape)
    report = BenchReport(describe_device(dev), scene.shape, scene.n_bands, scene.n_classes, torch.__version__)
    for name in presets:
        n_steps = steps or (GPU_STEPS if dev.type != "cpu" else DEFAULT_STEPS.get(name, DEFAULT_STEPS["paper"]))
        budget = inference_budget_s or INFERENCE_BUDGET_S["cpu" if dev.type == "cpu" else "other"]
        report.results.append(_bench_preset(scene, name, dev, n_steps, budget, say))
    return report


def _bench_preset(scene: Scene, preset: str, dev: torch.device, steps: int, budget: float,
                  say: Callable[[str], None]) -> PresetBench:
    cfg = get_preset(preset)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    rng = np.random.default_rng(0)
    labelled = scene.labelled_pixels()
    train_px = np.sort(rng.choice(labelled, size=min(TRAIN_PER_CLASS * scene.n_classes, labelled.size), replace=False))
    prep = fit_preprocessing(scene.cube, train_px, cfg.n_components)
    torch.manual_seed(0)
    net = build_network("ssan", scene.n_bands, scene.n_classes, cfg).to(dev)
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    use_amp = dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    batch = rng.choice(train_px, size=cfg.batch_size, replace=train_px.size < cfg.batch_size)
    sampler = PixelSampler(scene.cube, prep, cfg.patch_size)
    x = network_inputs(net, sampler, batch, dev)
    y = torch.from_numpy(scene.labels.ravel()[batch].astype(np.int64) - 1).to(dev)

    def step() -> None:
        net.train()
        with torch.autocast(dev.type, enabled=use_amp):
            loss = nn.functional.cross_entropy(net(*x), y)
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()

    say(f"{preset}: warm-up step, then {steps} timed training step(s) of {cfg.batch_size} pixels")
    step()
    _sync(dev)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        _sync(dev)
        times.append(time.perf_counter() - start)
    per_step = float(np.median(times))

    say(f"{preset}: whole-scene inference (up to {budget:.0f} s timed, then extrapolated)")
    fitted = FittedModel("ssan", cfg, prep, SceneIdentity.of(scene), {}, 0, network=net.eval(), device=str(dev))
    all_pixels = scene.shape[0] * scene.shape[1]
    chunk = 4096 if dev.type != "cpu" else 512
    fitted.predict(sampler, np.arange(min(64, all_pixels)))  # warm-up
    _sync(dev)
    start = time.perf_counter()
    fresh = PixelSampler(scene.cube, prep, cfg.patch_size)   # a fresh sampler pays the PCA pass, as predict_map does
    fresh.windows
    pca_seconds = time.perf_counter() - start
    started, done, per_pixel = time.perf_counter(), 0, []
    while done < all_pixels and (done == 0 or time.perf_counter() - started < budget):
        pixels = np.arange(done, min(done + chunk, all_pixels))
        start = time.perf_counter()
        fitted.predict(fresh, pixels, batch_size=min(chunk, 1024))
        _sync(dev)
        per_pixel.append((time.perf_counter() - start) / pixels.size)
        done += pixels.size
    if done == all_pixels:
        inference = pca_seconds + time.perf_counter() - started
    else:
        inference = pca_seconds + float(np.median(per_pixel)) * all_pixels
    memory, kind = _peak_memory(dev)
    return PresetBench(preset, cfg.batch_size, steps, per_step, cfg.batch_size / per_step, all_pixels, done,
                       inference, done < all_pixels, memory, kind)


def _peak_memory(dev: torch.device) -> tuple[int, str]:
    """Peak bytes: CUDA's max allocated on a GPU, else the process's peak resident set."""
    if dev.type == "cuda":
        return int(torch.cuda.max_memory_allocated(dev)), "torch.cuda.max_memory_allocated during each preset"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024   # macOS reports bytes, Linux kibibytes
    return int(rss * scale), "peak resident set size of the whole process so far (ru_maxrss), not per preset"


def _sync(dev: torch.device) -> None:
    """Wait for queued GPU work, so a timer stops when the work is done."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()
