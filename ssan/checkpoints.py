"""Safe checkpoints: safetensors weights plus a JSON sidecar; nothing is ever unpickled.

A checkpoint is a folder holding `model.safetensors` and `model.json`. The sidecar has what
is needed to use the model again (model and preset, hyper-parameters, scene identity, class
names, preprocessing, split, seed, metrics, history, library versions) and the sha256 of the
weights file, so a tampered or truncated file is refused. KNN and SVM store their training
spectra and chosen hyper-parameters and are refitted (deterministically) on load.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from pathlib import Path

import numpy as np
import sklearn
from sklearn.base import clone
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .fitted import FittedModel, SceneIdentity
from .models import MODEL_NAMES, Preset, build_classical, build_network
from .preprocess import Preprocessing

FORMAT = "ssan-checkpoint"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
SIDECAR = "model.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, truncated, tampered or from another format."""


def save_checkpoint(fitted: FittedModel, directory: str | Path) -> Path:
    """Write `fitted` to `directory` (created if needed); returns the folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "model": fitted.model_name}
    if fitted.is_neural:
        tensors = {k: v.detach().cpu().contiguous() for k, v in fitted.network.state_dict().items()}
        classical_params = None
    else:
        spectra, labels = fitted.training_set
        tensors = {"train_spectra": torch.from_numpy(np.ascontiguousarray(spectra)),
                   "train_labels": torch.from_numpy(np.ascontiguousarray(labels))}
        classical_params = dict(getattr(fitted.estimator, "best_params_", None) or fitted.estimator.get_params())
    save_file(tensors, str(weights), metadata=meta)
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": fitted.model_name,
        "preset": fitted.preset.to_dict(),
        "classical_params": classical_params,
        "scene": fitted.scene.to_dict(),
        "preprocessing": fitted.preprocessing.to_dict(),
        "split": fitted.split,
        "seed": fitted.seed,
        "metrics": fitted.metrics,
        "history": fitted.history,
        "best_iteration": fitted.best_iteration,
        "best_val_accuracy": fitted.best_val_accuracy,
        "train_seconds": fitted.train_seconds,
        "device": fitted.device,
        "cancelled": fitted.cancelled,
        "weights_sha256": _sha256(weights),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"ssan": __version__, "torch": torch.__version__, "numpy": np.__version__,
                     "scikit-learn": sklearn.__version__, "python": platform.python_version()},
    }
    tmp = directory / (SIDECAR + ".tmp")
    tmp.write_text(json.dumps(sidecar, indent=1))
    tmp.replace(directory / SIDECAR)
    return directory


def load_checkpoint(path: str | Path) -> FittedModel:
    """Load a checkpoint folder (or its model.json); refuse anything missing, truncated or tampered."""
    path = Path(path)
    directory = path.parent if path.suffix in (".json", ".safetensors") else path
    sidecar_path, weights = directory / SIDECAR, directory / WEIGHTS
    for p in (sidecar_path, weights):
        if not p.is_file():
            raise CheckpointError(f"{p} is missing: a checkpoint folder holds {WEIGHTS} and {SIDECAR} (written by `ssan train --out DIR`).")
    try:
        side = json.loads(sidecar_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{sidecar_path} is not valid JSON ({exc}); the file is damaged. Train or copy the model again.") from None
    if not isinstance(side, dict) or side.get("format") != FORMAT:
        raise CheckpointError(f"{sidecar_path} is not an ssan checkpoint (no \"format\": \"{FORMAT}\").")
    if side.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{sidecar_path} was written by a newer ssan (format {side['format_version']}); upgrade ssan to load it.")
    if _sha256(weights) != side.get("weights_sha256"):
        raise CheckpointError(f"{weights} does not match the sha256 recorded in {SIDECAR}: the file was truncated or modified. "
                              "Re-copy or re-train the model.")
    try:
        tensors = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} cannot be read as safetensors ({exc}).") from None
    try:
        return _rebuild(side, tensors)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{directory}: the checkpoint does not match this version of the model code ({exc}).") from None


def _rebuild(side: dict, tensors: dict) -> FittedModel:
    name = side["model"]
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}")
    preset = Preset.from_dict(side["preset"])
    scene = SceneIdentity.from_dict(side["scene"])
    fitted = FittedModel(
        model_name=name, preset=preset, preprocessing=Preprocessing.from_dict(side["preprocessing"]), scene=scene,
        split=side["split"], seed=side["seed"], history=side.get("history", []),
        best_iteration=side.get("best_iteration"), best_val_accuracy=side.get("best_val_accuracy"),
        train_seconds=side.get("train_seconds", 0.0), device=side.get("device", "cpu"),
        cancelled=side.get("cancelled", False), metrics=side.get("metrics"),
    )
    if fitted.is_neural:
        net = build_network(name, scene.n_bands, len(scene.class_names), preset)
        net.load_state_dict(tensors, strict=True)
        fitted.network = net.eval()
    else:
        x, y = tensors["train_spectra"].numpy(), tensors["train_labels"].numpy()
        estimator = clone(build_classical(name, seed=fitted.seed).estimator).set_params(**side["classical_params"])
        fitted.estimator, fitted.training_set = estimator.fit(x, y), (x, y)
    return fitted


def list_checkpoints(root: str | Path) -> list[Path]:
    """Checkpoint folders under `root` (newest first)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p.parent for p in root.rglob(SIDECAR) if (p.parent / WEIGHTS).is_file()]
    return sorted(found, key=lambda p: (p / SIDECAR).stat().st_mtime, reverse=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
