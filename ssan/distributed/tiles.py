"""Whole-scene maps in row tiles: each tile is classified from its own rows plus a halo.

A pixel's patch reaches half a patch (13 rows for 27x27) above and below it, so a tile of
rows [start, stop) is classified from rows [start - halo, stop + halo), clipped to the
scene; where the clip meets the scene's edge the patch is zero padded there, exactly as in
the whole scene. The scaling and PCA are the ones fitted at training time and stored in the
model, so each tile is transformed on its own and the stitched map equals the
single-process `predict_map` pixel for pixel. On Ray, only a tile's rows travel to a worker,
and only a few tiles are in flight at once, so memory per worker is bounded by the tile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ssan.data.preprocess import PixelSampler
from ssan.data.scene import Scene
from ssan.evaluation.metrics import predict_pixels
from ssan.models.fitted import FittedModel

DEFAULT_TILE_ROWS = 64


@dataclass(frozen=True)
class Tile:
    """Rows [start, stop) are classified from rows [lo, hi) (the tile and its halo)."""

    start: int
    stop: int
    lo: int
    hi: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


def row_tiles(height: int, tile_rows: int, halo: int) -> list[Tile]:
    """Tiles of `tile_rows` rows (the last one shorter) covering `height` rows, each with its halo."""
    if tile_rows < 1 or halo < 0:
        raise ValueError(
            f"tiles need at least one row and a non-negative halo; got {tile_rows} rows, halo {halo}"
        )
    return [
        Tile(s, min(s + tile_rows, height), max(0, s - halo), min(height, s + tile_rows + halo))
        for s in range(0, height, tile_rows)
    ]


def halo_of(fitted: FittedModel) -> int:
    """Rows a tile needs beyond its own: half a patch for a model that reads patches, else none."""
    reads_patches = fitted.network is not None and fitted.network.uses_patches
    return fitted.preset.patch_size // 2 if reads_patches else 0


def classify_tile(
    fitted: FittedModel,
    rows: np.ndarray,
    tile: Tile,
    labelled: np.ndarray | None = None,
    device: str | None = None,
) -> np.ndarray:
    """(tile.rows, W) class ids of the tile's own rows, from `rows` = the cube's rows [lo, hi).

    `labelled` (tile.rows, W) restricts prediction to those pixels (0 elsewhere).
    """
    if rows.shape[0] != tile.hi - tile.lo:
        raise ValueError(
            f"tile rows {tile.lo}-{tile.hi} need {tile.hi - tile.lo} rows of the cube; got {rows.shape[0]}"
        )
    sampler = PixelSampler(rows, fitted.preprocessing, fitted.preset.patch_size)
    width = rows.shape[1]
    own = np.arange(tile.rows * width) + (tile.start - tile.lo) * width
    keep = (
        np.ones(own.size, dtype=bool)
        if labelled is None
        else np.asarray(labelled, dtype=bool).ravel()
    )
    out = np.zeros(own.size, dtype=np.int32)
    out[keep] = predict_pixels(fitted, sampler, own[keep], device=device)
    return out.reshape(tile.rows, width)


def tile_inputs(
    scene: Scene, tile: Tile, labelled_only: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """What a tile ships: the cube's rows with the halo, and the labelled mask of its own rows."""
    rows = np.ascontiguousarray(scene.cube[tile.lo : tile.hi])
    return rows, (scene.labels[tile.start : tile.stop] > 0 if labelled_only else None)


def predict_map_tiled(
    fitted: FittedModel,
    scene: Scene,
    tile_rows: int = DEFAULT_TILE_ROWS,
    *,
    labelled_only: bool = False,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """The tiled map computed in this process, tile after tile (what each Ray worker does for one tile)."""
    fitted.sampler(scene)  # refuses a scene the model does not fit
    out = np.zeros(scene.shape, dtype=np.int32)
    for tile in row_tiles(scene.shape[0], tile_rows, halo_of(fitted)):
        rows, labelled = tile_inputs(scene, tile, labelled_only)
        out[tile.start : tile.stop] = classify_tile(fitted, rows, tile, labelled)
        if progress is not None:
            progress(tile.rows * scene.shape[1] if labelled is None else int(labelled.sum()))
    return out
