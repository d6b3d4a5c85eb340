"""The class-map cache (issue 22, item 3): a map is named by everything that changes it, so a checkpoint
with the shipped weights and a forged sidecar neither reads nor writes the shipped model's map."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import ssan
from tests.helpers import ASSET
from ui import classmaps


@pytest.fixture
def maps_here(tmp_path, monkeypatch):
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))


def forged(tmp_path, section: str, change) -> object:
    """A copy of the shipped checkpoint, same weights, with one sidecar section changed by `change`."""
    folder = tmp_path / f"forged-{section}"
    shutil.copytree(ASSET, folder)
    side = json.loads((folder / "model.json").read_text())
    side[section] = change(side[section])
    (folder / "model.json").write_text(json.dumps(side))
    return folder


def tripled_scaling(prep: dict) -> dict:
    return prep | {"band_max": [3 * v for v in prep["band_max"]]}


def renamed_classes(scene: dict) -> dict:
    return scene | {"class_names": [f"x{i}" for i, _ in enumerate(scene["class_names"])]}


@pytest.mark.parametrize(
    "section, change", [("preprocessing", tripled_scaling), ("scene", renamed_classes)]
)
def test_same_weights_other_sidecar_is_another_map(
    maps_here, small_demo, tmp_path, section, change
):
    other = forged(tmp_path, section, change)
    assert classmaps.map_path(other, small_demo) != classmaps.map_path(ASSET, small_demo)
    # The forged checkpoint's map is on disk: the shipped model must not read it.
    path = classmaps.map_path(other, small_demo)
    path.parent.mkdir(parents=True)
    np.save(path, np.full(small_demo.shape, 3, dtype=np.int64))
    assert classmaps.cached_map(ASSET, small_demo) is None
    assert classmaps.cached_map(other, small_demo) is not None


def test_the_key_covers_scene_data_precision_format_and_version(maps_here, small_demo, monkeypatch):
    base = classmaps.map_path(ASSET, small_demo)
    assert classmaps.map_path(ASSET, small_demo, scene_sha256="1" * 64) != base
    assert classmaps.map_path(ASSET, small_demo, precision="bfloat16") != base
    monkeypatch.setattr(classmaps, "MAP_FORMAT", classmaps.MAP_FORMAT + 1)
    assert classmaps.map_path(ASSET, small_demo) != base
    monkeypatch.undo()
    monkeypatch.setattr(ssan, "__version__", "99.0")
    assert classmaps.map_path(ASSET, small_demo) != base


def test_a_split_or_metrics_change_keeps_the_map(maps_here, small_demo, tmp_path):
    relabelled = forged(tmp_path, "metrics", lambda m: m | {"oa": 1.0})
    assert classmaps.map_path(relabelled, small_demo) == classmaps.map_path(ASSET, small_demo)
