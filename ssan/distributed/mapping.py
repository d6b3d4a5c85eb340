"""The whole-scene map on Ray: row tiles classified in parallel, stitched as they come back.

The model goes into the object store once; each task receives one tile's rows (with its
halo) and returns the class ids of its own rows. Only a few tiles per worker slot are in
flight at a time, so neither the workers nor the object store ever hold the whole cube.
A tile that fails or whose worker dies is retried once; a tile that fails twice ends the
map with an error (a map with a hole in it would not be the map it claims to be).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import ray
import torch
from ray.exceptions import RayError, RayTaskError

from ssan.data.scene import Scene
from ssan.distributed.cluster import (
    ClusterInfo,
    TaskResources,
    cluster_info,
    task_resources,
)
from ssan.distributed.tiles import (
    DEFAULT_TILE_ROWS,
    Tile,
    classify_tile,
    halo_of,
    row_tiles,
    tile_inputs,
)
from ssan.models.fitted import FittedModel
from ssan.training.trainer import pick_device

_IN_FLIGHT_PER_SLOT = 2


class TileFailedError(ChildProcessError):
    """A tile could not be classified by its worker, even after one retry (the CLI prints it as an error)."""


def predict_map_on_ray(
    fitted: FittedModel,
    scene: Scene,
    tile_rows: int = DEFAULT_TILE_ROWS,
    *,
    labelled_only: bool = False,
    cpus_per_tile: float | None = None,
    gpus_per_tile: float | None = None,
    progress: Callable[[int], None] | None = None,
    info: ClusterInfo | None = None,
) -> np.ndarray:
    """(H, W) class ids of `scene` (0 where not predicted), tiles classified on the connected Ray cluster.

    Equal to `ssan.evaluation.metrics.predict_map` pixel for pixel; `progress` is told how many pixels each
    finished tile classified.
    """
    fitted.sampler(scene)  # refuses a scene the model does not fit, before anything is shipped
    info = info or cluster_info(started_here=False)
    res = task_resources(info, fitted.is_neural, cpus_per_tile, gpus_per_tile)
    tiles = row_tiles(scene.shape[0], tile_rows, halo_of(fitted))
    window = _IN_FLIGHT_PER_SLOT * _slots(info, res)
    model_ref = ray.put(fitted)
    remote = ray.remote(_classify_task).options(
        num_cpus=res.cpus, num_gpus=res.gpus, max_retries=1, retry_exceptions=True
    )
    out = np.zeros(scene.shape, dtype=np.int32)
    queue, pending = list(tiles), {}
    try:
        while queue or pending:
            while queue and len(pending) < window:
                tile = queue.pop(0)
                rows, labelled = tile_inputs(scene, tile, labelled_only)
                n_pixels = tile.rows * scene.shape[1] if labelled is None else int(labelled.sum())
                pending[remote.remote(model_ref, rows, tile, labelled, res.device, res.threads)] = (
                    tile,
                    n_pixels,
                )
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                tile, n_pixels = pending.pop(ref)
                out[tile.start : tile.stop] = _collect(ref, tile)
                if progress is not None:
                    progress(n_pixels)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
    return out


def _classify_task(
    fitted: FittedModel,
    rows: np.ndarray,
    tile: Tile,
    labelled: np.ndarray | None,
    device: str,
    threads: int,
) -> np.ndarray:
    """One tile inside a Ray worker, with as many torch threads as the task has CPUs."""
    torch.set_num_threads(threads)
    return classify_tile(fitted, rows, tile, labelled, device=str(pick_device(device)))


def _collect(ref, tile: Tile) -> np.ndarray:
    try:
        return ray.get(ref)
    except RayTaskError as err:
        cause = err.cause if isinstance(err.cause, BaseException) else err
        raise TileFailedError(
            f"rows {tile.start}-{tile.stop - 1} failed twice: {type(cause).__name__}: {cause}"
        ) from err
    except RayError as err:
        raise TileFailedError(
            f"rows {tile.start}-{tile.stop - 1} failed twice: {type(err).__name__}: {err}"
        ) from err


def _slots(info: ClusterInfo, res: TaskResources) -> int:
    """How many tiles the cluster runs at once with these resources."""
    by_cpu = info.cpus / res.cpus
    by_gpu = info.gpus / res.gpus if res.gpus else math.inf
    return max(1, int(min(by_cpu, by_gpu)))
