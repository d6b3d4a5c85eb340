"""Honest metrics on the test pixels, and whole-scene classification maps.

OA, AA, Cohen's kappa, per-class accuracy and the confusion matrix come from scikit-learn;
the test pixels are the split's, never the training or validation ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from ssan.data.preprocess import PixelSampler
from ssan.data.scene import Scene
from ssan.data.splits import Split
from ssan.inference.precision import (
    AUTO_MIN_PIXELS,
    CHECK_PIXELS,
    REQUIRED_AGREEMENT,
    PrecisionChoice,
    check_precision,
    native_bfloat16,
)

if TYPE_CHECKING:
    from ssan.models.fitted import FittedModel


@dataclass(frozen=True, eq=False)
class Metrics:
    """Overall accuracy, average (per-class) accuracy, kappa, per-class accuracy, confusion matrix."""

    oa: float
    aa: float
    kappa: float
    per_class: np.ndarray
    confusion: np.ndarray
    n_pixels: int

    def __str__(self) -> str:
        return (
            f"OA {100 * self.oa:.2f}%, AA {100 * self.aa:.2f}%, kappa {self.kappa:.4f} "
            f"on {self.n_pixels:,} test pixels"
        )

    def to_dict(self) -> dict:
        """JSON-ready; classes with no test pixel have per-class accuracy None."""
        return {
            "oa": self.oa,
            "aa": self.aa,
            "kappa": self.kappa,
            "n_pixels": self.n_pixels,
            "per_class": [None if np.isnan(a) else float(a) for a in self.per_class],
            "confusion": self.confusion.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Metrics:
        """Rebuild metrics from `to_dict` output (e.g. a checkpoint sidecar)."""
        per_class = np.array([np.nan if a is None else a for a in d["per_class"]], dtype=float)
        return cls(
            d["oa"],
            d["aa"],
            d["kappa"],
            per_class,
            np.asarray(d["confusion"], dtype=np.int64),
            d["n_pixels"],
        )


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> Metrics:
    """Metrics from true and predicted class ids (1..C); AA averages the classes present."""
    classes = np.arange(1, n_classes + 1)
    cm = confusion_matrix(y_true, y_pred, labels=classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(cm) / support, np.nan)
    kappa = (
        cohen_kappa_score(y_true, y_pred, labels=classes)
        if len(np.unique(np.r_[y_true, y_pred])) > 1
        else 1.0
    )
    return Metrics(
        oa=float(np.trace(cm) / max(cm.sum(), 1)),
        aa=float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan"),
        kappa=float(kappa),
        per_class=per_class,
        confusion=cm,
        n_pixels=int(cm.sum()),
    )


def evaluate(
    fitted: FittedModel,
    scene: Scene,
    split: Split,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 4096,
) -> Metrics:
    """Metrics of `fitted` on the split's test pixels, classified as a map is (`predict_pixels`);
    `progress(done, total)` after each batch of `batch_size` pixels scored."""
    sampler = fitted.sampler(scene)
    pixels = split.test
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(done, pixels.size)

    if progress is not None:
        progress(0, pixels.size)
    predicted = predict_pixels(
        fitted,
        sampler,
        pixels,
        batch_size=batch_size,
        progress=advance if progress is not None else None,
    )
    return compute_metrics(split.targets(pixels), predicted, fitted.n_classes)


def predict_map(
    fitted: FittedModel,
    scene: Scene,
    sampler: PixelSampler | None = None,
    *,
    labelled_only: bool = False,
    batch_size: int = 4096,
    precision: str = "float32",
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(H, W) predicted class ids for every pixel (borders included), 0 where not predicted.

    Prediction runs in chunks of `batch_size` pixels, so memory stays bounded even for Pavia
    Centre (784k pixels); `progress` is told how many pixels each chunk classified. `precision`
    is "float32" or "bfloat16" (resolve "auto" first with `choose_precision`).
    """
    sampler = sampler or fitted.sampler(scene)
    pixels = (
        scene.labelled_pixels() if labelled_only else np.arange(scene.shape[0] * scene.shape[1])
    )
    out = np.zeros(scene.shape[0] * scene.shape[1], dtype=np.int32)
    out[pixels] = predict_pixels(
        fitted, sampler, pixels, batch_size=batch_size, precision=precision, progress=progress
    )
    return out.reshape(scene.shape)


def predict_pixels(
    fitted: FittedModel,
    sampler: PixelSampler,
    pixels: np.ndarray,
    *,
    batch_size: int = 4096,
    device: str | None = None,
    precision: str = "float32",
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Predicted class ids of the sampler's flat `pixels`, in chunks of `batch_size` (the map's chunking).

    On a CPU with several torch threads, a network classifies the chunks in that many threads of one
    torch thread each (`chunk_workers`), then the threads are given back.
    """
    out = np.zeros(pixels.size, dtype=np.int32)
    starts = range(0, pixels.size, batch_size)

    def classify(start: int) -> np.ndarray:
        return fitted.predict_at(
            sampler, pixels[start : start + batch_size], device=device, precision=precision
        )

    with chunk_workers(fitted, sampler, device, len(starts)) as mapper:
        for start, labels in zip(starts, mapper(classify, starts)):
            out[start : start + labels.size] = labels
            if progress is not None:
                progress(labels.size)
    return out


@contextlib.contextmanager
def chunk_workers(fitted: FittedModel, sampler: PixelSampler, device: str | None, n_chunks: int):
    """A `map` over chunks: in order, in this thread, or on a CPU with n > 1 torch threads, in n threads that
    each run torch with one thread.

    The GRU's recurrence is a chain of small matrix products and gate updates that two intra-op threads
    barely share (1.5x on 2 cores, docs/performance.md), while two chunks classified side by side keep
    both cores busy (1.8x). torch's thread count is process-wide: it is set to 1 for the map and restored.
    """
    threads = torch.get_num_threads()
    on_cpu = fitted.inference_device(device).type == "cpu"
    if not (fitted.is_neural and on_cpu and threads > 1 and n_chunks > 1):
        yield map
        return
    if fitted.network.uses_patches:
        sampler.windows  # noqa: B018 - the scene's PCA image, built once before the workers share it
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ssan-chunk") as pool:
            yield pool.map
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class Bfloat16Drift:
    """How far bfloat16 autocast moves a network's outputs from float32's on the same pixels."""

    agreement: float  # share of the pixels given the same class
    alpha_strays: float  # the most any pixel's α moves, as total variation (α sums to 1)
    mask_strays: float  # the largest change of any spatial-mask value


def bfloat16_drift(
    fitted: FittedModel,
    sampler: PixelSampler,
    pixels: np.ndarray,
    device: str | torch.device | None = None,
) -> Bfloat16Drift:
    """Classes, α and masks of `pixels` in bfloat16 against float32: what `REQUIRED_AGREEMENT` and
    `ALPHA_TOLERANCE` bound (tests on a CPU, scripts/gpu_check.py on a GPU)."""
    full, alpha, mask = fitted.forward_at(
        sampler, pixels, device=device, attention=True, precision="float32"
    )
    half, alpha_bf16, mask_bf16 = fitted.forward_at(
        sampler, pixels, device=device, attention=True, precision="bfloat16"
    )
    return Bfloat16Drift(
        float((full.argmax(1) == half.argmax(1)).mean()),
        float(0.5 * np.abs(alpha_bf16 - alpha).sum(axis=1).max()),
        float(np.abs(mask_bf16 - mask).max()),
    )


def choose_precision(
    fitted: FittedModel,
    sampler: PixelSampler,
    pixels: np.ndarray,
    requested: str = "auto",
    device: str | None = None,
) -> PrecisionChoice:
    """The precision to classify `pixels` in: `requested`, or for "auto" bfloat16 where the device computes it
    natively, there are at least `AUTO_MIN_PIXELS` pixels, and the classes of an evenly spread sample of
    `CHECK_PIXELS` of them agree with float32 on at least `REQUIRED_AGREEMENT`; else float32."""
    if check_precision(requested) != "auto":
        return PrecisionChoice(requested, "as requested")
    if not fitted.is_neural:
        return PrecisionChoice("float32", f"{fitted.model_name.upper()} is not a network")
    dev = fitted.inference_device(device)
    if not native_bfloat16(dev):
        return PrecisionChoice("float32", f"this {dev.type.upper()} has no native bfloat16")
    if pixels.size < AUTO_MIN_PIXELS:
        return PrecisionChoice("float32", f"{pixels.size:,} pixels: too few for bfloat16 to pay")
    sample = pixels[np.linspace(0, pixels.size - 1, CHECK_PIXELS).round().astype(np.int64)]
    full = fitted.predict_at(sampler, sample, device=dev, precision="float32")
    half = fitted.predict_at(sampler, sample, device=dev, precision="bfloat16")
    agreement = float((full == half).mean())
    verdict = f"same class as float32 for {100 * agreement:.2f}% of {sample.size:,} sampled pixels"
    if agreement < REQUIRED_AGREEMENT:
        return PrecisionChoice(
            "float32",
            f"bfloat16 gave the {verdict}, below {100 * REQUIRED_AGREEMENT:.1f}%",
            agreement,
            sample.size,
        )
    return PrecisionChoice("bfloat16", verdict, agreement, sample.size)
