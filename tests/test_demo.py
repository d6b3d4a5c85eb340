"""The synthetic demo town: deterministic, well formed, and carrying the truth it claims to plant."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from ssan.data.demo import make_demo_scene
from ssan.data.preprocess import fit_preprocessing
from ssan.data.scene import SceneError
from ssan.data.splits import make_split
from tests.helpers import demo_scene


@pytest.fixture(scope="module")
def scene(demo):
    return demo


def _pixels(scene, class_id: int) -> np.ndarray:
    """(n, B) spectra of the labelled pixels of one class."""
    return scene.cube[scene.labels == class_id]


def _horizontal_roughness(scene, class_id: int) -> float:
    """Mean absolute spectral difference between horizontally adjacent pixels of one class."""
    both = (scene.labels[:, 1:] == class_id) & (scene.labels[:, :-1] == class_id)
    return float(np.abs(scene.cube[:, 1:] - scene.cube[:, :-1])[both].mean())


def test_same_seed_gives_identical_arrays_and_another_seed_differs(scene):
    again = make_demo_scene(seed=0)
    assert np.array_equal(scene.cube, again.cube)
    assert np.array_equal(scene.labels, again.labels)
    other = demo_scene(seed=1)
    assert not np.array_equal(scene.cube, other.cube)
    assert other.source == "synthetic demo town (seed 1)"


def test_shape_dtype_bands_and_metadata(scene):
    assert scene.name == "demo"
    assert scene.cube.shape == (150, 150, 103) and scene.cube.dtype == np.float32
    assert scene.labels.dtype == np.int32
    assert scene.wavelengths[0] == pytest.approx(430.0) and scene.wavelengths[-1] == pytest.approx(
        860.0
    )
    assert not scene.wavelengths_estimated
    assert "seed 0" in scene.source
    assert 0.0 <= scene.cube.min() and scene.cube.max() <= 1.0
    assert 8 <= scene.n_classes <= 12
    assert len(set(scene.class_names)) == scene.n_classes
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in scene.class_colors)
    assert len(scene.notes) == 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_class_has_enough_pixels_for_the_paper_split(seed):
    scene = demo_scene(seed=seed)
    assert scene.class_counts().min() >= 250
    assert 0.1 < (scene.labels == 0).mean() < 0.4


def test_spectra_are_smooth_and_vegetation_has_a_red_edge(scene):
    wl = scene.wavelengths
    meadow = _pixels(scene, scene.class_names.index("Meadow, healthy") + 1).mean(axis=0)
    green, red, nir = (meadow[np.argmin(np.abs(wl - nm))] for nm in (550, 670, 800))
    assert green > red and nir > 3 * red
    water = _pixels(scene, scene.class_names.index("Water") + 1).mean(axis=0)
    assert water[wl > 750].mean() < 0.3 * water[wl < 600].mean()
    # class means are smooth: tiny second differences, the sharpest being the red edge
    means = np.stack([_pixels(scene, c).mean(axis=0) for c in range(1, scene.n_classes + 1)])
    curvature = np.abs(np.diff(means, n=2, axis=1))
    assert np.median(curvature) < 0.001 and curvature.max() < 0.05


@pytest.mark.parametrize("seed", [0, 1])
def test_spectral_pairs_differ_mostly_in_their_planted_bands(seed):
    scene = demo_scene(seed=seed)
    assert len(scene.planted.spectral_pairs) >= 2
    ranges = {(lo, hi) for _, _, lo, hi in scene.planted.spectral_pairs}
    assert len(ranges) == len(scene.planted.spectral_pairs)
    for a, b, lo, hi in scene.planted.spectral_pairs:
        assert 8 <= hi - lo <= 15
        gap = np.abs(_pixels(scene, a).mean(axis=0) - _pixels(scene, b).mean(axis=0))
        outside = np.delete(gap, np.arange(lo, hi))
        assert gap[lo:hi].max() > 0.04
        # what hides the pair from the principal components spreads less than half the bump's height elsewhere
        assert gap[lo:hi].max() > 1.8 * outside.max()
        # easy to learn: the difference is several within-class standard deviations
        spread = _pixels(scene, a)[:, lo:hi].std(axis=0).max()
        assert gap[lo:hi].max() > 3 * spread


def test_spectral_pairs_are_scattered_pixel_by_pixel(scene):
    """A pixel's neighbour is no clue to its class: within a pair's region the two classes are independent."""
    for a, b, *_ in scene.planted.spectral_pairs:
        rows, cols = np.nonzero(
            scene.labels == b
        )  # b lies only in its mosaic; a (healthy lawn) also elsewhere
        mosaic = scene.labels[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        left, right = mosaic[:, :-1], mosaic[:, 1:]
        both = np.isin(left, (a, b)) & np.isin(right, (a, b))
        assert both.sum() > 200
        same = (left[both] == right[both]).mean()
        assert 0.4 < same < 0.6  # 0.5 for independent fair coins; strips or halves would give ~0.95


@pytest.mark.parametrize("split_seed", [0, 1])
def test_spectral_pairs_are_invisible_to_the_principal_components_but_not_to_the_spectrum(
    scene, split_seed
):
    """The spatial branch sees 4 PCA components fitted on the training pixels: they must not separate a
    spectral pair (near chance), while the spectrum must (a linear model is perfect)."""
    split = make_split(scene, "paper", seed=split_seed)
    prep = fit_preprocessing(scene.cube, split.train, 4)
    spectra, labels = scene.cube.reshape(-1, scene.n_bands), scene.labels.ravel()
    for a, b, *_ in scene.planted.spectral_pairs:
        train = split.train[np.isin(labels[split.train], (a, b))]
        test = split.test[np.isin(labels[split.test], (a, b))]
        test = np.concatenate(
            [test[labels[test] == a][: (labels[test] == b).sum()], test[labels[test] == b]]
        )
        for features, low, high in (
            (prep.principal_components, 0.0, 0.66),
            (prep.scale_spectra, 0.97, 1.0),
        ):
            model = LogisticRegression(max_iter=5000).fit(features(spectra[train]), labels[train])
            accuracy = model.score(
                features(spectra[test]), labels[test]
            )  # balanced test set: chance is 0.5
            assert low <= accuracy <= high, (a, b, features.__name__, accuracy)


def test_texture_pair_shares_its_spectra_but_not_its_texture(scene):
    assert scene.planted.texture_pairs
    scene_spread = scene.cube[scene.labels > 0].std(axis=0)
    for a, b in scene.planted.texture_pairs:
        xa, xb = _pixels(scene, a), _pixels(scene, b)
        assert (np.abs(xa.mean(axis=0) - xb.mean(axis=0)) / scene_spread).max() < 0.1
        assert np.allclose(xa.std(axis=0), xb.std(axis=0), rtol=0.05)
        quartiles = [0.25, 0.75]  # one inside each stone's mode: the medians would fall in the gap
        assert np.allclose(
            np.quantile(xa, quartiles, axis=0), np.quantile(xb, quartiles, axis=0), atol=0.02
        )
        fine, coarse = sorted(
            (_horizontal_roughness(scene, a), _horizontal_roughness(scene, b)), reverse=True
        )
        assert fine > 3 * coarse
        # big enough for 27x27 patches to sit mostly inside each region
        for cls in (a, b):
            rows, cols = np.nonzero(scene.labels == cls)
            assert np.ptp(rows) >= 30 and np.ptp(cols) >= 30


@pytest.mark.parametrize("shape", [(64, 64), (60, 90), (120, 200)])
def test_other_sizes_keep_every_class(shape):
    scene = make_demo_scene(seed=3, shape=shape)
    assert scene.shape == shape
    assert (scene.class_counts() > 0).all()


def test_too_small_a_scene_is_refused_with_the_minimum():
    with pytest.raises(SceneError, match="at least 60 px"):
        make_demo_scene(shape=(40, 150))


def test_generation_is_fast():
    make_demo_scene(seed=5)  # warm up imports and caches
    start = time.perf_counter()
    make_demo_scene(seed=4)
    assert time.perf_counter() - start < 2.0
