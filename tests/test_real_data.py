"""The loaders on real Pavia files from ../shared/data/real (skipped when that folder is absent)."""

import numpy as np
import pytest

from ssan.data.hashing import file_sha256
from ssan.data.pavia import PAVIA_SCENES
from ssan.data.readers.matfile import load_mat_scene, read_mat


def test_paviau_crop_loads_with_class_3_absent(shared_real):
    scene = load_mat_scene(
        shared_real / "UPavia_Subset.mat", class_names=PAVIA_SCENES["paviau"].class_names
    )
    assert scene.cube.shape == (140, 80, 103) and scene.cube.dtype == np.float32
    assert scene.n_classes == 8 and scene.original_ids == (1, 2, 4, 5, 6, 7, 8, 9)
    assert "Gravel" not in scene.class_names and scene.class_names[2] == "Trees"
    assert scene.class_counts().tolist() == [86, 461, 52, 311, 342, 1234, 249, 193]
    assert scene.wavelengths_estimated and 0 < scene.cube.max() <= 8000


@pytest.mark.parametrize("key", ["paviau", "paviac"])
def test_full_ground_truth_matches_published_counts_and_hash(shared_real, key):
    facts = PAVIA_SCENES[key]
    path = shared_real / facts.gt.name
    assert file_sha256(path) == facts.gt.sha256 and path.stat().st_size == facts.gt.size
    gt = read_mat(path)[facts.gt_var]
    assert gt.shape == facts.shape[:2]
    assert np.bincount(gt.ravel(), minlength=10)[1:].tolist() == list(facts.class_counts)


def test_fixed_split_files_have_documented_counts(shared_real):
    train = read_mat(shared_real / "TRpavia_fixed.mat")["TRpavia_fixed"]
    test = read_mat(shared_real / "TSpavia_fixed.mat")["TSpavia_fixed"]
    assert train.shape == test.shape == (610, 340)
    assert int((train > 0).sum()) == 3921 and int((test > 0).sum()) == 40002
    assert not ((train > 0) & (test > 0)).any()
