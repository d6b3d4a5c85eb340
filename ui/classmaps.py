"""Whole-scene classification maps cached on disk, one per model, scene content, precision and code version.

Classifying every pixel takes seconds on the demo and minutes for Pavia on a CPU, so a map is
computed once and kept as a small .npy file under the data folder's `maps/`, named by a sha256
over everything that changes it (`map_key`): the weights' sha256 and the sidecar's model, preset,
classical settings, preprocessing (scaling, PCA) and scene sections, the scene's data, the
precision, MAP_FORMAT and the ssan version. A checkpoint with the shipped weights but another
preprocessing therefore never reads, or writes, the shipped model's map. On the page a map is a `ui.tasks.Task` in the maps
pool (one map at a time: maps started together would only compete for the same cores), shared by
every session that asks for it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import ssan
from ssan.data.download import data_dir
from ssan.data.preprocess import PixelSampler
from ssan.data.scene import Scene
from ssan.evaluation.metrics import choose_precision, predict_map
from ssan.inference.precision import PrecisionChoice, check_precision
from ssan.models.checkpoints import SIDECAR
from ssan.models.fitted import FittedModel
from ui import loaders
from ui.tasks import MAPS, REGISTRY, Task, session_owner

MAP_FORMAT = (
    2  # raise when a map file's meaning changes: the maps written before are then never read
)
# The sidecar's sections a map depends on (not its split, metrics or history: those change no prediction).
KEYED_SECTIONS = ("weights_sha256", "model", "preset", "classical_params", "preprocessing", "scene")


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


@dataclass(frozen=True, eq=False)
class ClassMap:
    """A whole-scene map: (H, W) class ids (0 = not predicted) and the precision it was computed in."""

    labels: np.ndarray
    precision: PrecisionChoice


def map_key(checkpoint: str | Path, scene_sha256: str, precision: str) -> str:
    """The sha256 naming a map: the checkpoint's weights (their sha256 in the sidecar, which loading checks
    against the file before a map is computed), the sidecar sections a prediction depends on, the scene's
    data digest, the precision, MAP_FORMAT and the ssan version."""
    side = json.loads((Path(checkpoint) / SIDECAR).read_text())
    keyed = {
        "sidecar": {name: side.get(name) for name in KEYED_SECTIONS},
        "scene": scene_sha256,
        "precision": precision,
        "format": MAP_FORMAT,
        "ssan": ssan.__version__,
    }
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()


def map_path(
    checkpoint: str | Path,
    scene: Scene,
    scene_sha256: str | None = None,
    precision: str = "float32",
) -> Path:
    """The cache file of `checkpoint`'s `precision` map of `scene`, named by `map_key`."""
    key = map_key(checkpoint, scene_sha256 or scene_digest(scene), precision)
    return maps_dir() / f"{key[:40]}-{precision}.npy"


def cached_class_map(
    checkpoint: str | Path,
    fitted: FittedModel,
    scene: Scene,
    sampler: PixelSampler | None = None,
    progress: Callable[[int, int], None] | None = None,
    scene_sha256: str | None = None,
    precision: str = "auto",
) -> ClassMap:
    """The map of the model saved at `checkpoint`: read from the cache, else predicted (with
    `progress(done, total)`) in the precision `choose_precision` picks, and written there; a cache
    that cannot be written is skipped. "auto" accepts a cached map of either precision."""
    cached = cached_map(checkpoint, scene, scene_sha256, precision)
    if cached is not None:
        return cached
    sampler = sampler or fitted.sampler(scene)
    choice = choose_precision(
        fitted, sampler, np.arange(scene.shape[0] * scene.shape[1]), precision
    )
    labels = predict_map(
        fitted,
        scene,
        sampler,
        precision=choice.precision,
        progress=None if progress is None else _counting(progress, scene),
    )
    path = map_path(checkpoint, scene, scene_sha256, choice.precision)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, labels, allow_pickle=False)
        tmp.replace(path)
    except OSError:
        pass  # a read-only data folder only costs the recomputation next time
    return ClassMap(labels, choice)


def cached_map(
    checkpoint: str | Path, scene: Scene, scene_sha256: str | None = None, precision: str = "auto"
) -> ClassMap | None:
    """The map of `checkpoint` already in the cache in `precision` ("auto": either), else None."""
    wanted = ("bfloat16", "float32") if check_precision(precision) == "auto" else (precision,)
    for candidate in wanted:
        cached = _read_cached(map_path(checkpoint, scene, scene_sha256, candidate), scene.shape)
        if cached is not None:
            return ClassMap(
                cached, PrecisionChoice(candidate, "computed earlier; read from the map cache")
            )
    return None


def _read_cached(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """The cached map at `path` if it is there, readable and of the scene's shape (its mtime then set to
    now: pruning removes the maps read least recently first)."""
    if not path.is_file():
        return None
    try:
        cached = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if cached.shape != shape:
        return None
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only data folder: the map is still good
    return cached


def class_map_task(model_path: str, mtime: float, spec: tuple) -> Task:
    """The classification of every pixel of the scene `spec` by the checkpoint at `model_path` (a `ClassMap`
    as the task's result): read from the disk cache when there, else computed in the background once for
    every session; its progress detail is (pixels done, pixels)."""
    loaders.use_torch()
    scene, digest = loaders.scene_for(spec), loaders.scene_digest(spec)

    def make() -> Task:
        cached = cached_map(model_path, scene, digest)
        if cached is not None:
            return Task.completed(cached, MAPS)
        fitted, sampler = (
            loaders.model_for(model_path, mtime),
            loaders.sampler_for(model_path, mtime, spec),
        )

        def work(task: Task) -> ClassMap:
            def step(done: int, total: int) -> None:
                task.report(done / max(total, 1), f"{done:,} of {total:,}", (done, total))
                task.raise_if_cancelled()

            return cached_class_map(
                model_path, fitted, scene, sampler, progress=step, scene_sha256=digest
            )

        return Task(work, MAPS, name="ssan-maps")

    return REGISTRY.task(("map", model_path, mtime, spec), make, session_owner())
