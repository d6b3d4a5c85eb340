"""Row tiles with a halo: each tile classified on its own gives the whole-scene map (no Ray needed)."""

from __future__ import annotations

import numpy as np
import pytest

from ssan.data.preprocess import PixelSampler
from ssan.data.splits import make_split
from ssan.distributed.tiles import (
    Tile,
    classify_tile,
    halo_of,
    predict_map_tiled,
    row_tiles,
    tile_inputs,
)
from ssan.evaluation.metrics import predict_map
from ssan.training.trainer import train
from tests.helpers import TINY, toy_scene

SETTINGS = {**TINY, "patch_size": 27}  # the quick preset's patches: a halo of 13 rows


@pytest.fixture(scope="module")
def scene():
    return toy_scene(shape=(60, 50))


@pytest.fixture(scope="module")
def fitted(scene):
    return train(
        scene,
        make_split(scene, "per-class:10", seed=0),
        "ssan",
        "quick",
        seed=0,
        device="cpu",
        overrides=SETTINGS,
    )


def test_row_tiles_cover_every_row_once_with_clipped_halos():
    tiles = row_tiles(60, 16, 13)
    assert [(t.start, t.stop) for t in tiles] == [(0, 16), (16, 32), (32, 48), (48, 60)]
    assert [(t.lo, t.hi) for t in tiles] == [(0, 29), (3, 45), (19, 60), (35, 60)]
    assert row_tiles(10, 64, 13) == [Tile(0, 10, 0, 10)]
    with pytest.raises(ValueError, match="at least one row"):
        row_tiles(10, 0, 13)


def test_a_tile_gives_its_pixels_the_whole_scenes_spectra_and_patches(scene, fitted):
    whole = PixelSampler(scene.cube, fitted.preprocessing, fitted.preset.patch_size)
    width = scene.shape[1]
    for halo, same in (
        (halo_of(fitted), True),
        (0, False),
    ):  # without the halo the edge rows' patches differ
        tile = row_tiles(scene.shape[0], 16, halo)[1]
        rows, _ = tile_inputs(scene, tile, labelled_only=False)
        local = PixelSampler(rows, fitted.preprocessing, fitted.preset.patch_size)
        own = np.arange(tile.rows * width)
        np.testing.assert_array_equal(
            local.spectra(own + (tile.start - tile.lo) * width),
            whole.spectra(own + tile.start * width),
        )
        patches_equal = np.array_equal(
            local.patches(own + (tile.start - tile.lo) * width),
            whole.patches(own + tile.start * width),
        )
        assert patches_equal is same


def test_tiled_map_equals_the_whole_scene_map(scene, fitted):
    assert halo_of(fitted) == 13
    np.testing.assert_array_equal(predict_map_tiled(fitted, scene, 16), predict_map(fitted, scene))
    np.testing.assert_array_equal(
        predict_map_tiled(fitted, scene, 7, labelled_only=True),
        predict_map(fitted, scene, labelled_only=True),
    )


def test_a_spectral_model_needs_no_halo(scene):
    knn = train(scene, make_split(scene, "per-class:10", seed=0), "knn", "quick", seed=0)
    assert halo_of(knn) == 0
    np.testing.assert_array_equal(predict_map_tiled(knn, scene, 25), predict_map(knn, scene))


def test_classify_tile_refuses_rows_that_do_not_match_the_tile(scene, fitted):
    with pytest.raises(ValueError, match="need 29 rows"):
        classify_tile(fitted, scene.cube[:20], Tile(0, 16, 0, 29))
