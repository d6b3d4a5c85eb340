"""`FittedModel`: a trained classifier together with everything needed to use it again.

Training produces one; checkpoints save and load one; evaluation, attention read-outs and
the app consume one. It refuses a scene it does not fit (band count, classes).

Its public methods (`predict`, `predict_proba`, `attention`, `save`) take a scene and pixels as
(row, col) pairs or a boolean mask; the `*_at` methods are the library's own, on a sampler and
flat (row * W + col) indices.
"""

from __future__ import annotations

import copy
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ssan.data.preprocess import PixelSampler, Preprocessing
from ssan.data.scene import Scene
from ssan.data.splits import SplitRecord, protocol_label
from ssan.evaluation.metrics import predict_pixels
from ssan.inference.attention import PixelAttention, pixel_attention
from ssan.inference.precision import autocast
from ssan.models import NEURAL_MODELS, Preset

CANCELLED_MARK = "⚠ CANCELLED (stopped early, best-so-far weights)"
# Pixels per forward pass on a CPU: a batch whose activations stay in cache (measured fastest on
# 2 cores, docs/performance.md); an accelerator wants large batches.
CPU_INFERENCE_BATCH = 256
ACCELERATOR_INFERENCE_BATCH = 4096

# Pixels as the public methods take them: (row, col) pairs, a boolean mask of the scene's shape, or None (all).
PixelsLike = np.ndarray | list | tuple | None

# Serialises moving networks between devices (rare: once per model and device).
_MOVE_LOCK = threading.Lock()
# Serialises building a model's sampler for a scene (the app shares models between sessions).
_SAMPLER_LOCK = threading.Lock()


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
        """The identity of `scene`, as a model trained on it keeps it."""
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
        """Read a checkpoint sidecar's "scene" entry."""
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
        """The checkpoint sidecar's JSON-ready "scene" entry."""
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

    def fits(self, scene: Scene) -> bool:
        """Whether `scene` is the scene trained on: `check` passes and its name and size are the same."""
        try:
            self.check(scene)
        except IncompatibleSceneError:
            return False
        return self.name == scene.name and tuple(self.shape) == scene.shape

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
    """A trained network (or scikit-learn estimator) with its preprocessing and provenance.

    `predict`, `predict_proba` and `attention` take a scene and the pixels to classify as (row, col)
    pairs (an (n, 2) list or array), a boolean mask of the scene's shape, or None for every pixel;
    `save` writes a checkpoint that `ssan.load_model` reads back.
    """

    model_name: str
    preset: Preset
    preprocessing: Preprocessing
    scene: SceneIdentity
    split: SplitRecord
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
    # One sampler per scene this model has seen, so its PCA image is computed once per scene.
    _samplers: weakref.WeakKeyDictionary = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False
    )
    # The network's CPU copy for CPU-only work when the network itself is on an accelerator (see `cpu_network`).
    _cpu_copy: nn.Module | None = field(default=None, init=False, repr=False)

    @property
    def is_neural(self) -> bool:
        """Whether this is one of the networks (not KNN or SVM)."""
        return self.model_name in NEURAL_MODELS

    @property
    def n_classes(self) -> int:
        """Number of classes the model tells apart."""
        return len(self.scene.class_names)

    @property
    def has_spectral_attention(self) -> bool:
        """Whether the model weighs bands (SSAN, ARNN)."""
        return bool(self.network is not None and self.network.has_spectral_attention)

    @property
    def has_spatial_attention(self) -> bool:
        """Whether the model masks the patch around a pixel (SSAN, ACNN)."""
        return bool(self.network is not None and self.network.has_spatial_attention)

    def __getstate__(self) -> dict:
        """Pickled (shipped to a Ray worker) without the samplers: they are rebuilt where the model is used."""
        return {**self.__dict__, "_samplers": None, "_cpu_copy": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _samplers=weakref.WeakKeyDictionary())

    # ------------------------------------------------------------------ public: scene + (row, col) pixels

    def predict(self, scene: Scene, pixels: PixelsLike = None) -> np.ndarray:
        """Predicted class ids (1..C).

        For (row, col) pairs an (n,) array in their order; for a mask or None an (H, W) label map of the
        scene's shape, 0 outside the mask.
        """
        flat, mask = pixel_indices(scene, pixels)
        labels = predict_pixels(self, self.sampler(scene), flat)
        if mask is None:
            return labels
        out = np.zeros(scene.shape, dtype=np.int32)
        out[mask] = labels
        return out

    def predict_proba(self, scene: Scene, pixels: PixelsLike = None) -> np.ndarray:
        """(n, C) class probabilities (one-hot for an SVM); column c is class id c + 1.

        Rows follow the (row, col) pairs in their order, or for a mask (or None, every pixel) the mask's
        True pixels in row-major order (`np.argwhere(mask)`).
        """
        flat, _ = pixel_indices(scene, pixels)
        return self.scores_at(self.sampler(scene), flat)

    def attention(self, scene: Scene, pixels: PixelsLike) -> PixelAttention:
        """Probabilities, spectral α (n, B) and spatial mask (n, p, p) of the given pixels.

        A model with one kind of attention gives None for the other; a model with none (KNN, SVM, RNN,
        CNN) is refused with a ValueError.
        """
        if not (self.has_spectral_attention or self.has_spatial_attention):
            raise ValueError(
                f"{self.model_name.upper()} has no attention to read out; train SSAN, ARNN (spectral) "
                "or ACNN (spatial) for attention maps."
            )
        flat, _ = pixel_indices(scene, pixels)
        return pixel_attention(self, self.sampler(scene), flat)

    def save(self, path: str | Path) -> Path:
        """Write this model as a checkpoint folder (weights + JSON sidecar); `ssan.load_model(path)` reads it."""
        from ssan.models.checkpoints import save_checkpoint

        return save_checkpoint(self, path)

    # ------------------------------------------------------------------ internal: sampler + flat indices

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
        """A sampler over `scene` with this model's preprocessing (the scene must fit the model).

        Built once per scene and kept while the scene lives, so repeated calls share its PCA image.
        """
        self.scene.check(scene)
        with _SAMPLER_LOCK:
            sampler = self._samplers.get(scene)
            if sampler is None:
                sampler = PixelSampler(scene.cube, self.preprocessing, self.preset.patch_size)
                self._samplers[scene] = sampler
        return sampler

    def scores_at(
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
        return self.forward_at(sampler, pixels, batch_size, device, precision=precision)[0]

    def forward_at(
        self,
        sampler: PixelSampler,
        pixels: np.ndarray,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        attention: bool = False,
        precision: str = "float32",
    ):
        """Probabilities and, with `attention`, the spectral (n, B) and spatial (n, p, p) maps of flat pixels.

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

    def predict_at(self, sampler: PixelSampler, pixels: np.ndarray, **kwargs) -> np.ndarray:
        """Predicted class ids (1..C) for flat pixel indices."""
        return self.scores_at(sampler, pixels, **kwargs).argmax(axis=1) + 1

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

    def cpu_network(self) -> nn.Module:
        """The network on the CPU in eval mode, for work that runs there (the explanation tests): the network
        itself when it is on the CPU, else a CPU copy made once. Never moves the network other threads run."""
        if next(self.network.parameters()).device.type == "cpu":
            self._place(torch.device("cpu"))
            return self.network
        with _MOVE_LOCK:
            if self._cpu_copy is None:
                self._cpu_copy = on_cpu(self.network)
            return self._cpu_copy

    def summary(self) -> str:
        """One line for lists: model, scene, split and the headline metrics."""
        preset = f" ({self.preset.name})" if self.is_neural else ""
        text = (
            f"{self.model_name.upper()}{preset} on {self.scene.name}, "
            f"{protocol_label(self.split.protocol)} split (seed {self.split.seed}), training seed {self.seed}"
        )
        if self.metrics:
            text += f": OA {100 * self.metrics['oa']:.2f}%, AA {100 * self.metrics['aa']:.2f}%, kappa {self.metrics['kappa']:.4f}"
        if self.cancelled:
            text += f" · {CANCELLED_MARK}"
        return text


def on_cpu(net: nn.Module) -> nn.Module:
    """`net` itself when it is on the CPU in eval mode, else a copy there in eval mode: `net` is never moved or
    switched, since another thread may be running it (moving a GRU rebuilds its weight list under that thread)."""
    if not net.training and all(p.device.type == "cpu" for p in net.parameters()):
        return net
    return copy.deepcopy(net).cpu().eval()


def pixel_indices(scene: Scene, pixels: PixelsLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Flat indices (row * W + col) of pixels given as (row, col) pairs, a boolean mask or None (every pixel),
    and the mask itself (None for pairs). Bad input raises a one-line ValueError saying what was expected."""
    height, width = scene.shape
    if pixels is None:
        return np.arange(height * width, dtype=np.int64), np.ones(scene.shape, dtype=bool)
    array = np.asarray(pixels)
    if array.dtype == bool:
        if array.shape != scene.shape:
            raise ValueError(
                f"a pixel mask must have the scene's shape {scene.shape}; got {array.shape}."
            )
        if not array.any():
            raise ValueError("the pixel mask selects no pixel; set at least one to True.")
        return np.flatnonzero(array), array
    if array.size == 0:
        raise ValueError(
            "no pixels given; pass (row, col) pairs such as [(75, 40)], a boolean mask, or None for all."
        )
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(
            f"pixels must be (row, col) pairs of shape (n, 2) or a boolean mask of shape {scene.shape}; "
            f"got an array of shape {array.shape} (for one pixel pass [(row, col)])."
        )
    if array.dtype.kind not in "iu":
        raise ValueError(f"pixel rows and columns must be integers; got {array.dtype} values.")
    rows, cols = array[:, 0].astype(np.int64), array[:, 1].astype(np.int64)
    for name, values, limit in (("row", rows, height), ("column", cols, width)):
        bad = (values < 0) | (values >= limit)
        if bad.any():
            raise ValueError(
                f"{name} {int(values[bad][0])} is outside the {height}x{width} scene; "
                f"{name}s run from 0 to {limit - 1}."
            )
    return rows * width + cols, None


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
