"""Whole-scene classification maps cached on disk, one per checkpoint weights and scene content.

Classifying every pixel takes seconds on the demo and minutes for Pavia on a CPU; the result
depends only on the weights (their sha256, recorded in the checkpoint's sidecar) and on the
scene's cube, so it is computed once and kept as a small .npy file under the data folder's
`maps/` (a retrained or edited checkpoint has other weights, hence another file).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .checkpoints import SIDECAR
from .download import data_dir
from .evaluate import predict_map
from .fitted import FittedModel
from .preprocess import PixelSampler
from .scene import Scene


def maps_dir() -> Path:
    """Where cached maps live: <data folder>/maps (SSAN_DATA_DIR moves the data folder)."""
    return data_dir() / "maps"


def scene_digest(scene: Scene) -> str:
    """A sha256 of the scene's cube and labels (the file's sha256 when the scene came from one file)."""
    if scene.sha256:
        return scene.sha256
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(scene.cube).data)
    digest.update(np.ascontiguousarray(scene.labels).data)
    return digest.hexdigest()


def _counting(progress: Callable[[int, int], None], scene: Scene) -> Callable[[int], None]:
    """Turn predict_map's per-batch pixel counts into progress(done, total) calls."""
    total, done = scene.shape[0] * scene.shape[1], [0]

    def step(n: int) -> None:
        done[0] += n
        progress(done[0], total)

    return step


def map_path(checkpoint: str | Path, scene: Scene, scene_sha256: str | None = None) -> Path:
    """The cache file of `checkpoint`'s map of `scene`, named by the weights' and the scene's hashes."""
    weights = json.loads((Path(checkpoint) / SIDECAR).read_text())["weights_sha256"]
    return maps_dir() / f"{weights[:24]}-{(scene_sha256 or scene_digest(scene))[:24]}.npy"


def cached_class_map(checkpoint: str | Path, fitted: FittedModel, scene: Scene, sampler: PixelSampler | None = None,
                     progress: Callable[[int, int], None] | None = None, scene_sha256: str | None = None) -> np.ndarray:
    """The (H, W) map of the model saved at `checkpoint`: read from the cache, else predicted (with
    `progress(done, total)`) and written there; a cache that cannot be written is skipped."""
    path = map_path(checkpoint, scene, scene_sha256)
    if path.is_file():
        try:
            cached = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            cached = None
        if cached is not None and cached.shape == scene.shape:
            return cached
    class_map = predict_map(fitted, scene, sampler, progress=None if progress is None else _counting(progress, scene))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, class_map, allow_pickle=False)
        tmp.replace(path)
    except OSError:
        pass  # a read-only data folder only costs the recomputation next time
    return class_map
