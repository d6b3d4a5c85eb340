"""Safe checkpoints: safetensors weights plus a JSON sidecar; nothing is ever unpickled.

A checkpoint is a folder holding `model.safetensors` and `model.json`. The sidecar has what
is needed to use the model again (model and preset, hyper-parameters, scene identity, class
names, preprocessing, split, seed, metrics, history, library versions) and the sha256 of the
weights file, so a tampered or truncated file is refused. KNN and SVM store their training
spectra and chosen hyper-parameters and are refitted (deterministically) on load.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as _dt
import errno
import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from safetensors import SafetensorError
from safetensors.torch import load, save_file
from sklearn.base import clone

from ssan import __version__
from ssan.data.hashing import file_sha256
from ssan.data.preprocess import Preprocessing
from ssan.data.splits import SplitRecord
from ssan.models import (
    CLASSICAL_MODELS,
    Preset,
    build_classical,
    build_network,
    tensor_shapes,
)
from ssan.models.checkpoint_schema import sidecar_problem
from ssan.models.fitted import FittedModel, SceneIdentity

FORMAT = "ssan-checkpoint"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
SIDECAR = "model.json"
STAGING_SUFFIX = ".tmp"
READ_ATTEMPTS = 8
try:
    _LIBC = (
        ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if os.name == "posix" else None
    )
except OSError:
    _LIBC = None


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, truncated, tampered or from another format."""


def save_checkpoint(fitted: FittedModel, directory: str | Path) -> Path:
    """Write `fitted` to `directory` as a whole: both files go into a fresh folder beside it, which is
    then renamed into place, so a reader sees the old checkpoint or the new one, never a mix."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    if not _replaceable(directory):
        raise CheckpointError(
            f"{directory} exists and is not a checkpoint folder (it holds other files than "
            f"{WEIGHTS} and {SIDECAR}, or is a file or a link); choose another folder."
        )
    staging = Path(
        tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=STAGING_SUFFIX, dir=directory.parent)
    )
    try:
        os.chmod(staging, 0o755)
        _write_files(fitted, staging)
        _move_into_place(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _write_files(fitted: FittedModel, folder: Path) -> None:
    weights = folder / WEIGHTS
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "model": fitted.model_name}
    if fitted.is_neural:
        tensors = {k: v.detach().cpu().contiguous() for k, v in fitted.network.state_dict().items()}
        classical_params = None
    else:
        spectra, labels = fitted.training_set
        tensors = {
            "train_spectra": torch.from_numpy(np.ascontiguousarray(spectra)),
            "train_labels": torch.from_numpy(np.ascontiguousarray(labels)),
        }
        classical_params = dict(
            getattr(fitted.estimator, "best_params_", None) or fitted.estimator.get_params()
        )
    save_file(tensors, str(weights), metadata=meta)
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": fitted.model_name,
        "preset": fitted.preset.to_dict(),
        "classical_params": classical_params,
        "scene": fitted.scene.to_dict(),
        "preprocessing": fitted.preprocessing.to_dict(),
        "split": fitted.split.to_dict(),
        "seed": fitted.seed,
        "metrics": fitted.metrics,
        "history": fitted.history,
        "best_iteration": fitted.best_iteration,
        "best_val_accuracy": fitted.best_val_accuracy,
        "train_seconds": fitted.train_seconds,
        "device": fitted.device,
        "cancelled": fitted.cancelled,
        "weights_sha256": file_sha256(weights),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": {
            "ssan": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
    }
    problem = sidecar_problem(json.loads(json.dumps(sidecar)))  # as load_checkpoint will see it
    if problem:
        raise CheckpointError(
            f"the model cannot be saved as a checkpoint that loads again ({problem}); nothing was written "
            "over an earlier checkpoint. Shorten what the message names and train again."
        )
    (folder / SIDECAR).write_text(json.dumps(sidecar, indent=1))


def _replaceable(directory: Path) -> bool:
    """Whether `directory` holds nothing but a checkpoint's files (so replacing it loses nothing else)."""
    try:
        if directory.is_symlink():
            return False
        names = {p.name for p in directory.iterdir()}
    except FileNotFoundError:
        return True  # not there (or moved aside by another writer just now)
    except NotADirectoryError:
        return False
    return names <= {WEIGHTS, SIDECAR, SIDECAR + ".tmp"}


def _move_into_place(staging: Path, directory: Path) -> None:
    """Rename `staging` to `directory`. An older checkpoint there is swapped out atomically where the system
    can (Linux), else moved aside first; concurrent writers retry until their own rename lands."""
    for _ in range(50):
        try:
            os.rename(staging, directory)
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        swapped = _exchange(staging, directory)
        if swapped:
            shutil.rmtree(staging, ignore_errors=True)  # it now holds the old checkpoint
            return
        if swapped is None:
            continue  # the old one vanished (another writer): plain rename again
        old = Path(
            tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".old", dir=directory.parent)
        )
        try:
            os.rename(directory, old / "checkpoint")
        except FileNotFoundError:
            pass  # another writer moved it aside first
        finally:
            shutil.rmtree(old, ignore_errors=True)
    raise CheckpointError(
        f"{directory}: could not replace the checkpoint there (other writers kept replacing it)."
    )


def _exchange(a: Path, b: Path) -> bool | None:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE): True when done, None when one of
    them is gone, False where the system or file system cannot."""
    renameat2 = getattr(_LIBC, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    return None if ctypes.get_errno() == errno.ENOENT else False


def load_checkpoint(path: str | Path) -> FittedModel:
    """Load a checkpoint folder (or its model.json); refuse anything missing, malformed, truncated or tampered.

    The sidecar is checked against its schema, and the weights' shapes against the network its preset
    describes, before any network is built.
    """
    path = Path(path)
    directory = path.parent if path.suffix in (".json", ".safetensors") else path
    sidecar_path, weights = directory / SIDECAR, directory / WEIGHTS
    side_bytes, weight_bytes = _read_pair(directory)
    try:
        side = json.loads(side_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{sidecar_path} is not valid JSON ({exc}); the file is damaged. Train or copy the model again."
        ) from None
    if not isinstance(side, dict) or side.get("format") != FORMAT:
        raise CheckpointError(
            f'{sidecar_path} is not an ssan checkpoint (no "format": "{FORMAT}").'
        )
    version = side.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise CheckpointError(
            f"{sidecar_path} was written by a newer ssan (format {version}); upgrade ssan to load it."
        )
    problem = sidecar_problem(side)
    if problem:
        raise CheckpointError(
            f"{sidecar_path}: {problem}. The sidecar is damaged or was not written by ssan; "
            "train or copy the model again."
        )
    if hashlib.sha256(weight_bytes).hexdigest() != side["weights_sha256"]:
        raise CheckpointError(
            f"{weights} does not match the sha256 recorded in {SIDECAR}: the file was truncated or modified. "
            "Re-copy or re-train the model."
        )
    try:
        return _rebuild(side, weight_bytes, directory)
    except CheckpointError:
        raise
    except MemoryError:
        raise CheckpointError(
            f"{directory}: not enough memory to load this checkpoint "
            f"({len(weight_bytes):,} bytes of weights)."
        ) from None
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{directory}: the checkpoint does not match this version of the model code ({exc})."
        ) from None


def _read_pair(directory: Path) -> tuple[bytes, bytes]:
    """Both files' bytes, read through one handle on the folder: a checkpoint renamed into place
    meanwhile is either fully seen or retried, never mixed with the one it replaced."""
    for attempt in range(READ_ATTEMPTS):
        if attempt:
            time.sleep(
                0.005 * attempt
            )  # a writer is between moving the old folder aside and renaming the new one in
        try:
            folder = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except (FileNotFoundError, NotADirectoryError):
            folder = None
        if folder is not None:
            try:

                def opener(name: str, flags: int) -> int:
                    return os.open(name, flags, dir_fd=folder)  # noqa: B023 - used before the loop moves on

                with open(SIDECAR, "rb", opener=opener) as f:
                    side = f.read()
                with open(WEIGHTS, "rb", opener=opener) as f:
                    return side, f.read()
            except (FileNotFoundError, IsADirectoryError):
                pass  # replaced or removed while we read: look again
            finally:
                os.close(folder)
    missing = next(
        (p for p in (directory / SIDECAR, directory / WEIGHTS) if not p.is_file()),
        directory / SIDECAR,
    )
    raise CheckpointError(
        f"{missing} is missing: a checkpoint folder holds {WEIGHTS} and {SIDECAR} (written by `ssan train --out DIR`)."
    )


def _weight_shapes(weight_bytes: bytes, where: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from the safetensors header alone (no tensor is read)."""
    try:
        n = int.from_bytes(weight_bytes[:8], "little")
        header = json.loads(weight_bytes[8 : 8 + n])
        header.pop("__metadata__", None)
        return {name: tuple(int(d) for d in info["shape"]) for name, info in header.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointError(
            f"{where / WEIGHTS} cannot be read as safetensors (bad header: {exc})."
        ) from None


def _expected_shapes(side: dict, preset: Preset) -> dict[str, tuple[int, ...]]:
    """The tensors the sidecar's model must hold, derived from its preset without allocating anything."""
    scene = side["scene"]
    if side["model"] in CLASSICAL_MODELS:
        n = len(side["split"]["train"])
        return {"train_spectra": (n, scene["n_bands"]), "train_labels": (n,)}
    return tensor_shapes(side["model"], scene["n_bands"], len(scene["class_names"]), preset)


def _rebuild(side: dict, weight_bytes: bytes, directory: Path) -> FittedModel:
    name = side["model"]
    try:
        preset = Preset.from_dict(side["preset"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{directory / SIDECAR}: preset: {exc}") from None
    prep = Preprocessing.from_dict(side["preprocessing"])
    if name not in CLASSICAL_MODELS and prep.n_components != preset.n_components:
        raise CheckpointError(
            f"{directory / SIDECAR}: preprocessing.pca_components: holds {prep.n_components} "
            f"components, the preset asks for {preset.n_components}."
        )
    try:
        expected = _expected_shapes(side, preset)
    except ValueError as exc:
        raise CheckpointError(f"{directory / SIDECAR}: preset: {exc}") from None
    found = _weight_shapes(weight_bytes, directory)
    if found != expected:
        bad = sorted(set(found) ^ set(expected)) or sorted(
            k for k in expected if found[k] != expected[k]
        )
        what = f"'{bad[0]}' is {found.get(bad[0], 'missing')}, the preset gives {expected.get(bad[0], 'no such tensor')}"
        raise CheckpointError(
            f"{directory / WEIGHTS} does not hold the tensors its sidecar's model and preset describe "
            f"({what}); the two files do not belong together."
        )
    try:
        tensors = load(weight_bytes)
    except (SafetensorError, ValueError) as exc:
        raise CheckpointError(
            f"{directory / WEIGHTS} cannot be read as safetensors ({exc})."
        ) from None
    scene = SceneIdentity.from_dict(side["scene"])
    fitted = FittedModel(
        model_name=name,
        preset=preset,
        preprocessing=prep,
        scene=scene,
        split=SplitRecord.from_dict(side["split"]),
        seed=side["seed"],
        history=side.get("history", []),
        best_iteration=side.get("best_iteration"),
        best_val_accuracy=side.get("best_val_accuracy"),
        train_seconds=side.get("train_seconds", 0.0),
        device=side.get("device", "cpu"),
        cancelled=side.get("cancelled", False),
        metrics=side.get("metrics"),
    )
    if fitted.is_neural:
        net = build_network(name, scene.n_bands, len(scene.class_names), preset)
        net.load_state_dict(tensors, strict=True)
        fitted.network = net.eval()
    else:
        x, y = tensors["train_spectra"].numpy(), tensors["train_labels"].numpy()
        estimator = clone(build_classical(name, seed=fitted.seed).estimator).set_params(
            **(side["classical_params"] or {})
        )
        fitted.estimator, fitted.training_set = estimator.fit(x, y), (x, y)
    return fitted


def list_checkpoints(root: str | Path) -> list[Path]:
    """Checkpoint folders under `root` (newest first)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [
        p.parent
        for p in root.rglob(SIDECAR)
        if (p.parent / WEIGHTS).is_file()
        and not any(part.startswith(".") for part in p.parent.relative_to(root).parts)
    ]  # skip folders being written
    return sorted(found, key=lambda p: (p / SIDECAR).stat().st_mtime, reverse=True)
