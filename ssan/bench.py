"""How fast SSAN trains and classifies on this machine, on a cube shaped like Pavia University.

The cube is synthetic (610 x 340 pixels, 103 bands, 9 classes, about 20% of pixels labelled):
speed depends on shapes, not on values, so no download is needed. For each preset it times a
few training steps after a warm-up step (throughput = batch size x steps per second), then
whole-scene inference through the same code path as `predict_map`. Where classifying all
pixels would take too long (the paper preset on a CPU), a subset is timed and the total is
extrapolated, and the result says so. Medians over steps and chunks keep a moment of
competing load on the machine from skewing the figures.

Each figure stands beside the machine's GEMM rate measured in the same run (float32, and
bfloat16 where the device computes it natively) and the forward FLOPs per pixel of each part
of the network, so it reads as an efficiency: a ratio that survives a noisy, shared machine.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ssan.data.preprocess import PixelSampler, fit_preprocessing
from ssan.data.scene import Scene, rosis_wavelengths
from ssan.data.splits import SplitRecord
from ssan.evaluation.metrics import predict_pixels
from ssan.hardware import GEMM_SIZE, cpu_name, gemm_gflops, synchronize
from ssan.inference.precision import native_bfloat16
from ssan.models import build_network, get_preset
from ssan.models.fitted import FittedModel, SceneIdentity, network_inputs
from ssan.training.trainer import TrainingStep, describe_device, format_duration, pick_device

PAVIAU_SHAPE = (610, 340)
PAVIAU_BANDS = 103
PAVIAU_CLASSES = 9
LABELLED_SHARE = 0.2
TRAIN_PER_CLASS = 100
# Timed training steps per preset when not given: the paper preset costs seconds per step on a CPU.
DEFAULT_STEPS = {"quick": 10, "paper": 2}
GPU_STEPS = 20
# Pixels per chunk of whole-scene inference, as predict_map classifies them, and chunks per timed span.
MAP_CHUNK = 4096
SPAN_CHUNKS = 4
# Seconds of whole-scene inference to time before extrapolating (always at least one chunk).
INFERENCE_BUDGET_S = {"cpu": 10.0, "other": 30.0}


@dataclass(frozen=True)
class InferenceBench:
    """Whole-scene inference in one precision: seconds (measured or extrapolated) and pixels timed."""

    precision: str
    seconds: float
    pixels_timed: int
    extrapolated: bool


@dataclass(frozen=True)
class PresetBench:
    """Timings of SSAN with one preset, with the forward FLOPs per pixel of each part."""

    preset: str
    batch_size: int
    steps: int
    seconds_per_step: float
    train_pixels_per_second: float
    scene_pixels: int
    flops_per_pixel: dict[str, float]
    inference: list[InferenceBench]
    peak_memory_bytes: int
    memory_kind: str

    @property
    def forward_flops(self) -> float:
        """Forward FLOPs per pixel of the whole network."""
        return sum(self.flops_per_pixel.values())

    def train_efficiency(self, gemm_gflops: float) -> float:
        """Training FLOP rate (3x the forward FLOPs per trained pixel) as a share of the float32 GEMM rate."""
        return 3 * self.forward_flops * self.train_pixels_per_second / (gemm_gflops * 1e9)

    def inference_efficiency(self, run: InferenceBench, gemm_gflops: float) -> float:
        """The time a GEMM-bound run would take (forward FLOPs at the GEMM rate) over the time measured."""
        return self.forward_flops * self.scene_pixels / (gemm_gflops * 1e9) / run.seconds

    def to_dict(self) -> dict:
        """JSON-ready, the inference runs included."""
        d = dict(self.__dict__)
        d["inference"] = [dict(r.__dict__) for r in self.inference]
        return d


@dataclass
class BenchReport:
    """Device, cube shape, the machine's GEMM rates and one `PresetBench` per preset."""

    device: str
    cpu: str
    shape: tuple[int, int]
    n_bands: int
    n_classes: int
    torch_version: str
    gemm_gflops: dict[str, float]
    results: list[PresetBench] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready report: machine, GEMM rates and every preset's figures."""
        out = {
            "model": "ssan",
            "device": self.device,
            "cpu": self.cpu,
            "shape": list(self.shape),
            "bands": self.n_bands,
            "classes": self.n_classes,
            "torch": self.torch_version,
            "synthetic_cube": True,
            "gemm_gflops": self.gemm_gflops,
            "results": [],
        }
        for r in self.results:
            row = r.to_dict()
            row["train_efficiency"] = r.train_efficiency(self.gemm_gflops["float32"])
            for run, bench in zip(row["inference"], r.inference):
                run["efficiency"] = r.inference_efficiency(bench, self.gemm_gflops[bench.precision])
            out["results"].append(row)
        return out

    def format_table(self) -> str:
        """A small text table, one row per preset and precision, then notes on how each number was taken."""
        rows = [
            [
                "preset",
                "precision",
                "ms/step",
                "train px/s",
                "train eff.",
                "scene inference",
                "infer. eff.",
                "peak memory",
            ]
        ]
        for r in self.results:
            for i, run in enumerate(r.inference):
                infer = format_duration(run.seconds) + (" (extrap.)" if run.extrapolated else "")
                train = (
                    [
                        f"{1000 * r.seconds_per_step:.0f}",
                        f"{r.train_pixels_per_second:,.0f}",
                        f"{100 * r.train_efficiency(self.gemm_gflops['float32']):.0f}%",
                    ]
                    if i == 0
                    else ["", "", ""]
                )
                rows.append(
                    [
                        r.preset if i == 0 else "",
                        run.precision,
                        *train,
                        infer,
                        f"{100 * r.inference_efficiency(run, self.gemm_gflops[run.precision]):.0f}%",
                        f"{r.peak_memory_bytes / 2**20:,.0f} MiB" if i == 0 else "",
                    ]
                )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
            )
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        h, w = self.shape
        gemm = ", ".join(f"{k} {v:,.0f} GFLOP/s" for k, v in self.gemm_gflops.items())
        lines[:0] = [
            f"SSAN benchmark on {self.device}, CPU {self.cpu}, torch {self.torch_version}; synthetic "
            f"{h}x{w}x{self.n_bands} cube (Pavia University shape), {self.n_classes} classes",
            f"GEMM rate measured in this run (torch.mm, {GEMM_SIZE}x{GEMM_SIZE}): {gemm}",
        ]
        for r in self.results:
            parts = ", ".join(f"{k} {v / 1e6:.2f}" for k, v in r.flops_per_pixel.items())
            lines.append(
                f"{r.preset}: forward MFLOP per pixel {parts} (total {r.forward_flops / 1e6:.2f}); "
                f"training batch {r.batch_size}, median of {r.steps} steps"
            )
        lines.append(
            "train eff. = 3 x forward FLOPs x train px/s / float32 GEMM rate; infer. eff. = (forward FLOPs "
            "x scene pixels / the GEMM rate of that precision) / scene inference time, PCA pass included"
        )
        if any(run.extrapolated for r in self.results for run in r.inference):
            lines.append(
                f"(extrap.): timed on spans of {SPAN_CHUNKS * MAP_CHUNK:,} pixels until the time budget was "
                "spent, then extrapolated from the median per-pixel time of the spans"
            )
        if self.results:
            lines.append(f"peak memory: {self.results[0].memory_kind}")
        return "\n".join(lines)


def synthetic_scene(
    shape: tuple[int, int] = PAVIAU_SHAPE,
    n_bands: int = PAVIAU_BANDS,
    n_classes: int = PAVIAU_CLASSES,
    seed: int = 0,
) -> Scene:
    """A random cube with class-dependent mean spectra and random labels on about 20% of pixels."""
    rng = np.random.default_rng(seed)
    h, w = shape
    labels = np.where(
        rng.random(shape) < LABELLED_SHARE, rng.integers(1, n_classes + 1, shape), 0
    ).astype(np.int32)
    means = rng.random((n_classes + 1, n_bands)).astype(np.float32)
    cube = means[labels] + 0.1 * rng.standard_normal((h, w, n_bands), dtype=np.float32)
    return Scene(
        "bench",
        cube,
        labels,
        tuple(f"class {c}" for c in range(1, n_classes + 1)),
        rosis_wavelengths(n_bands),
        source="synthetic benchmark cube",
    )


def run_bench(
    device: str | None = None,
    presets: tuple[str, ...] | list[str] = ("quick", "paper"),
    steps: int | None = None,
    shape: tuple[int, int] = PAVIAU_SHAPE,
    inference_budget_s: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Time SSAN training steps and whole-scene inference for each preset on `device`, beside the device's
    GEMM rates measured in the same run."""
    presets = [get_preset(p).name for p in presets]
    dev = pick_device(device)
    say = progress or (lambda _msg: None)
    say("measuring the GEMM rate (float32" + (", bfloat16)" if native_bfloat16(dev) else ")"))
    gemm = {"float32": gemm_gflops(dev, torch.float32)}
    if native_bfloat16(dev):
        gemm["bfloat16"] = gemm_gflops(dev, torch.bfloat16)
    say(f"building a synthetic {shape[0]}x{shape[1]}x{PAVIAU_BANDS} cube")
    scene = synthetic_scene(shape)
    report = BenchReport(
        describe_device(dev),
        cpu_name(),
        scene.shape,
        scene.n_bands,
        scene.n_classes,
        torch.__version__,
        gemm,
    )
    for name in presets:
        n_steps = steps or (
            GPU_STEPS if dev.type != "cpu" else DEFAULT_STEPS.get(name, DEFAULT_STEPS["paper"])
        )
        budget = inference_budget_s or INFERENCE_BUDGET_S["cpu" if dev.type == "cpu" else "other"]
        report.results.append(_bench_preset(scene, name, dev, n_steps, budget, list(gemm), say))
    return report


def forward_flops_per_pixel(
    net: nn.Module, n_bands: int, patch_size: int, n_components: int
) -> dict[str, float]:
    """FLOPs of one pixel's forward pass through each part of SSAN (torch's FlopCounterMode: GEMMs and convolutions)."""
    n = 8
    spectra = torch.rand(n, n_bands)
    patches = torch.rand(n, n_components, patch_size, patch_size)
    counts = {}
    with torch.no_grad():
        for part, run in (
            ("spectral", lambda: net.spectral(spectra)),
            ("spatial", lambda: net.spatial(patches)),
            (
                "fusion",
                lambda: net.fusion(torch.rand(n, net.n_classes), torch.rand(n, net.n_classes)),
            ),
        ):
            with FlopCounterMode(display=False) as counter:
                run()
            counts[part] = counter.get_total_flops() / n
    return counts


def _bench_preset(
    scene: Scene,
    preset: str,
    dev: torch.device,
    steps: int,
    budget: float,
    precisions: list[str],
    say: Callable[[str], None],
) -> PresetBench:
    cfg = get_preset(preset)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    rng = np.random.default_rng(0)
    labelled = scene.labelled_pixels()
    train_px = np.sort(
        rng.choice(
            labelled, size=min(TRAIN_PER_CLASS * scene.n_classes, labelled.size), replace=False
        )
    )
    prep = fit_preprocessing(scene.cube, train_px, cfg.n_components)
    torch.manual_seed(0)
    net = build_network("ssan", scene.n_bands, scene.n_classes, cfg)
    flops = forward_flops_per_pixel(net, scene.n_bands, cfg.patch_size, cfg.n_components)
    net = net.to(dev)
    training_step = TrainingStep(net, cfg, dev)
    batch = rng.choice(train_px, size=cfg.batch_size, replace=train_px.size < cfg.batch_size)
    sampler = PixelSampler(scene.cube, prep, cfg.patch_size)
    x = network_inputs(net, sampler, batch, dev)
    y = torch.from_numpy(scene.labels.ravel()[batch].astype(np.int64) - 1).to(dev)

    def step() -> None:
        training_step(x, y)

    say(f"{preset}: warm-up step, then {steps} timed training step(s) of {cfg.batch_size} pixels")
    step()
    synchronize(dev)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        synchronize(dev)
        times.append(time.perf_counter() - start)
    per_step = float(np.median(times))

    split = SplitRecord("bench", 0, train_px, np.zeros(0, np.int64), "benchmark training pixels")
    fitted = FittedModel(
        "ssan", cfg, prep, SceneIdentity.of(scene), split, 0, network=net.eval(), device=str(dev)
    )
    runs = []
    for precision in precisions:
        say(
            f"{preset}: whole-scene inference in {precision} (up to {budget:.0f} s timed, then extrapolated)"
        )
        runs.append(_time_inference(fitted, scene, prep, cfg.patch_size, dev, precision, budget))
    memory, kind = _peak_memory(dev)
    return PresetBench(
        preset,
        cfg.batch_size,
        steps,
        per_step,
        cfg.batch_size / per_step,
        scene.shape[0] * scene.shape[1],
        flops,
        runs,
        memory,
        kind,
    )


def _time_inference(
    fitted: FittedModel,
    scene: Scene,
    prep,
    patch_size: int,
    dev: torch.device,
    precision: str,
    budget: float,
) -> InferenceBench:
    """Whole-scene inference through `predict_map`'s path (`predict_pixels`, chunk workers included), PCA pass
    included; timed in spans of `SPAN_CHUNKS` chunks until the budget is spent, then extrapolated."""
    all_pixels = scene.shape[0] * scene.shape[1]
    span = SPAN_CHUNKS * MAP_CHUNK
    warm = scene.cube[:32]
    warm_pixels = np.arange(min(2 * MAP_CHUNK, warm.shape[0] * warm.shape[1]))
    predict_pixels(
        fitted,
        PixelSampler(warm, prep, patch_size),
        warm_pixels,
        batch_size=MAP_CHUNK,
        precision=precision,
    )  # warm-up
    synchronize(dev)
    start = time.perf_counter()
    fresh = PixelSampler(
        scene.cube, prep, patch_size
    )  # a fresh sampler pays the PCA pass, as predict_map does
    _ = fresh.windows
    pca_seconds = time.perf_counter() - start
    started, done, per_pixel = time.perf_counter(), 0, []
    while done < all_pixels and (done == 0 or time.perf_counter() - started < budget):
        pixels = np.arange(done, min(done + span, all_pixels))
        start = time.perf_counter()
        predict_pixels(fitted, fresh, pixels, batch_size=MAP_CHUNK, precision=precision)
        synchronize(dev)
        per_pixel.append((time.perf_counter() - start) / pixels.size)
        done += pixels.size
    if done == all_pixels:
        seconds = pca_seconds + time.perf_counter() - started
    else:
        seconds = pca_seconds + float(np.median(per_pixel)) * all_pixels
    return InferenceBench(precision, seconds, done, done < all_pixels)


def _peak_memory(dev: torch.device) -> tuple[int, str]:
    """Peak bytes: CUDA's max allocated on a GPU, else the process's peak resident set."""
    if dev.type == "cuda":
        return int(
            torch.cuda.max_memory_allocated(dev)
        ), "torch.cuda.max_memory_allocated during each preset"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux kibibytes
    return int(
        rss * scale
    ), "peak resident set size of the whole process so far (ru_maxrss), not per preset"
