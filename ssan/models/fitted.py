"""`FittedModel`: a trained classifier together with everything needed to use it again.

Training produces one; checkpoints save and load one; evaluation, attention read-outs and
the app consume one. It refuses a scene it does not fit (band count, classes).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ssan.data.preprocess import PixelSampler, Preprocessing
from ssan.data.scene import Scene
from ssan.inference.precision import autocast
from ssan.models import NEURAL_MODELS, Preset

CANCELLED_MARK = "⚠ CANCELLED (stopped early, best-so-far weights)"
# Pixels per forward pass on a CPU: a batch whose activations stay in cache (measured fastest on
# 2 cores, docs/performance.md); an accelerator wants large batches.
CPU_INFERENCE_BATCH = 256
ACCELERATOR_INFERENCE_BATCH = 4096

# Serialises moving networks between devices (rare: once per model and device).
_MOVE_LOCK = threading.Lock()


class IncompatibleSceneError(ValueError):
    """A model was asked to classify a scene it was not trained for."""


@dataclass(frozen=True)
class SceneIdentity:
    """What a model remembers of the scene it was trained on."""

    name: str
    shape: tuple[int, int]
    n_bands: int
    class_names: tuple[str, ...]
    class_colors: tuple[str, ...]
    original_ids: tuple[int, ...]
    wavelengths: tuple[float, ...]
    sha256: str | None = None

    @classmethod
    def of(cls, scene: Scene) -> SceneIdentity:
        return cls(
            scene.name,
            scene.shape,
            scene.n_bands,
            scene.class_names,
            scene.class_colors,
            scene.original_ids,
            tuple(float(w) for w in scene.wavelengths),
            scene.sha256,
        )

    @classmethod
    def from_dict(cls, d: dict) -> SceneIdentity:
        return cls(
            d["name"],
            tuple(d["shape"]),
            int(d["n_bands"]),
            tuple(d["class_names"]),
            tuple(d["class_colors"]),
            tuple(d["original_ids"]),
            tuple(d["wavelengths"]),
            d.get("sha256"),
        )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "n_bands": self.n_bands,
            "class_names": list(self.class_names),
            "class_colors": list(self.class_colors),
            "original_ids": list(self.original_ids),
            "wavelengths": list(self.wavelengths),
            "sha256": self.sha256,
        }

    def check(self, scene: Scene) -> None:
        """Refuse a scene whose bands or classes differ from the training scene's."""
        problems = []
        if scene.n_bands != self.n_bands:
            problems.append(f"it has {scene.n_bands} bands, the model expects {self.n_bands}")
        if scene.n_classes != len(self.class_names):
            problems.append(
                f"it has {scene.n_classes} classes, the model was trained on {len(self.class_names)}"
            )
        elif tuple(scene.class_names) != tuple(self.class_names):
            problems.append(
                f"its classes {list(scene.class_names)} differ from the model's {list(self.class_names)}"
            )
        if problems:
            raise IncompatibleSceneError(
                f"this model was trained on scene '{self.name}' and does not fit scene '{scene.name}': "
                + "; ".join(problems)
                + ". Load or train a model for this scene."
            )

    def same_data(self, scene: Scene) -> str | None:
        """A warning when `scene` fits but its cube is not the one trained on (the files' sha256 differ), else None."""
        if self.sha256 and scene.sha256 and self.sha256 != scene.sha256:
            return (
                f"the cube of scene '{scene.name}' (sha256 {scene.sha256[:12]}…) is not the one this model was "
                f"trained on (sha256 {self.sha256[:12]}…), although shape, bands and classes agree; the "
                "results describe another image"
            )
        return None


@dataclass(eq=False)
class FittedModel:
    """A trained network (or scikit-learn estimator) with its preprocessing and provenance."""

    model_name: str
    preset: Preset
    preprocessing: Preprocessing
    scene: SceneIdentity
    split: dict
    seed: int
    network: nn.Module | None = None
    estimator: object | None = None
    training_set: tuple[np.ndarray, np.ndarray] | None = (
        None  # KNN/SVM: spectra and labels, to refit on load
    )
    history: list[dict] = field(default_factory=list)
    best_iteration: int | None = None
    best_val_accuracy: float | None = None
    train_seconds: float = 0.0
    device: str = "cpu"
    cancelled: bool = False
    metrics: dict | None = None

    @property
    def is_neural(self) -> bool:
        return self.model_name in NEURAL_MODELS

    @property
    def n_classes(self) -> int:
        return len(self.scene.class_names)

    @property
    def has_spectral_attention(self) -> bool:
        return bool(self.network is not None and self.network.has_spectral_attention)

    @property
    def has_spatial_attention(self) -> bool:
        return bool(self.network is not None and self.network.has_spatial_attention)

    def inference_device(self, device: str | torch.device | None = None) -> torch.device:
        """Where to run inference: `device` when given, else where the network's weights are (CPU for scikit-learn)."""
        if device is not None:
            return torch.device(device)
        return (
            next(self.network.parameters()).device
            if self.network is not None
            else torch.device("cpu")
        )

    def sampler(self, scene: Scene) -> PixelSampler:
        """A sampler over `scene` with this model's preprocessing (the scene must fit the model)."""
        self.scene.check(scene)
        return PixelSampler(scene.cube, self.preprocessing, self.preset.patch_size)

    def scores(
        self,
        sampler: PixelSampler,
        pixels: np.ndarray,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        precision: str = "float32",
    ) -> np.ndarray:
        """(n, C) class probabilities for flat pixel indices (one-hot for an SVM)."""
        pixels = np.asarray(pixels, dtype=np.int64)
        if not self.is_neural:
            x = sampler.spectra(pixels)
            if hasattr(self.estimator, "predict_proba"):
                return self.estimator.predict_proba(x).astype(np.float32)
            return np.eye(self.n_classes, dtype=np.float32)[self.estimator.predict(x) - 1]
        return self.forward(sampler, pixels, batch_size, device, precision=precision)[0]

    def forward(
        self,
        sampler: PixelSampler,
        pixels: np.ndarray,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        attention: bool = False,
        precision: str = "float32",
    ):
        """Probabilities and, with `attention`, the spectral (n, B) and spatial (n, p, p) maps.

        `batch_size` None: `inference_batch_size(device)`; `precision` "float32" or "bfloat16" (autocast).
        """
        net = self.network
        device = self.inference_device(device)
        batch_size = batch_size or inference_batch_size(device)
        self._place(device)
        probs, spectral, spatial = [], [], []
        with torch.inference_mode(), autocast(device, precision):
            for start in range(0, len(pixels), batch_size):
                idx = pixels[start : start + batch_size]
                spec, patch = network_inputs(net, sampler, idx, device)
                if attention:
                    logits, att = net(spec, patch, return_attention=True)
                    if att["spectral"] is not None:
                        spectral.append(att["spectral"].float().cpu().numpy())
                    if att["spatial"] is not None:
                        spatial.append(att["spatial"].float().cpu().numpy())
                else:
                    logits = net(spec, patch)
                probs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        cat = lambda parts: np.concatenate(parts) if parts else None
        empty = np.zeros((0, self.n_classes), np.float32)
        return (cat(probs) if probs else empty), cat(spectral), cat(spatial)

    def _place(self, device: torch.device) -> None:
        """Put the network on `device` in eval mode, touching it only when it is not there yet.

        One fitted model is shared by every session of the app: moving it rebuilds a GRU's weight list,
        and a forward pass running in another thread at that moment fails. A model already in place is
        left alone, and a move is done under a lock.
        """
        net = self.network
        if net.training or next(net.parameters()).device != device:
            with _MOVE_LOCK:
                if next(net.parameters()).device != device:
                    net.to(device)
                if net.training:
                    net.eval()

    def predict(self, sampler: PixelSampler, pixels: np.ndarray, **kwargs) -> np.ndarray:
        """Predicted class ids (1..C) for flat pixel indices."""
        return self.scores(sampler, pixels, **kwargs).argmax(axis=1) + 1

    def summary(self) -> str:
        """One line for lists: model, scene, split and the headline metrics."""
        preset = f" ({self.preset.name})" if self.is_neural else ""
        text = (
            f"{self.model_name.upper()}{preset} on {self.scene.name}, "
            f"{self.split.get('protocol', '?')} split (seed {self.split.get('seed', '?')}), training seed {self.seed}"
        )
        if self.metrics:
            text += f": OA {100 * self.metrics['oa']:.2f}%, AA {100 * self.metrics['aa']:.2f}%, kappa {self.metrics['kappa']:.4f}"
        if self.cancelled:
            text += f" · {CANCELLED_MARK}"
        return text


def inference_batch_size(device: torch.device) -> int:
    """Pixels per forward pass for inference on `device`."""
    return CPU_INFERENCE_BATCH if device.type == "cpu" else ACCELERATOR_INFERENCE_BATCH


def network_inputs(net: nn.Module, sampler: PixelSampler, pixels: np.ndarray, device: torch.device):
    """Tensors for the inputs `net` uses; an unused input is an empty tensor.

    On a CPU patches are read from the sampler's strided view. On an accelerator they are cut there from the
    padded component image, copied once per device: cutting them on the host took 1.0-1.3 s of a 1.8-2.3 s
    whole-scene map on an H200 (docs/performance.md).
    """
    empty = torch.empty(0, device=device)
    spec = torch.from_numpy(sampler.spectra(pixels)).to(device) if net.uses_spectra else empty
    if not net.uses_patches:
        patch = empty
    elif device.type == "cpu":
        patch = torch.from_numpy(sampler.patches(pixels))
    else:
        patch = cut_patches(
            padded_on(sampler, device), pixels, sampler.shape[1], sampler.patch_size
        )
    return spec, patch


_PADDED_ON_DEVICE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def padded_on(sampler: PixelSampler, device: torch.device) -> torch.Tensor:
    """The sampler's padded component image on `device`, copied there once (a few MB even for Pavia Centre)."""
    per_device = _PADDED_ON_DEVICE.setdefault(sampler, {})
    key = str(device)
    if key not in per_device:
        per_device[key] = torch.from_numpy(sampler.padded_components).to(device)
    return per_device[key]


def cut_patches(
    padded: torch.Tensor, pixels: np.ndarray, width: int, patch_size: int
) -> torch.Tensor:
    """(n, k, p, p) patches of the flat `pixels` (row-major, scene `width`) cut from a (k, H+p-1, W+p-1) padded
    image on its own device: the same values as `PixelSampler.patches`."""
    flat = torch.as_tensor(np.asarray(pixels), device=padded.device)
    rows, cols = flat // width, flat % width
    offsets = torch.arange(patch_size, device=padded.device)
    r = (rows[:, None] + offsets)[:, :, None]
    c = (cols[:, None] + offsets)[:, None, :]
    return padded[:, r, c].permute(1, 0, 2, 3).contiguous()
