import numpy as np
import pytest
import torch

from ssan.data.preprocess import PixelSampler, Preprocessing, fit_preprocessing
from ssan.data.splits import make_split
from ssan.models import build_network, get_preset
from ssan.models.fitted import cut_patches, network_inputs, padded_on
from tests.helpers import toy_scene


@pytest.fixture(scope="module")
def scene():
    return toy_scene(shape=(40, 36), n_bands=10, n_classes=3)


def test_fitted_on_training_pixels_only(scene):
    split = make_split(scene, "per-class:5", seed=0)
    prep = fit_preprocessing(scene.cube, split.train, n_components=3)
    train_spectra = scene.cube.reshape(-1, scene.n_bands)[split.train]
    assert np.allclose(prep.band_min, train_spectra.min(axis=0))
    assert np.allclose(prep.band_max, train_spectra.max(axis=0))
    scaled = prep.scale_spectra(train_spectra)
    assert scaled.min() == pytest.approx(0.0, abs=1e-6) and scaled.max() == pytest.approx(
        1.0, abs=1e-6
    )
    # the training pixels' components span [0, 1]; other pixels may fall outside
    pcs = prep.principal_components(train_spectra)
    assert np.allclose(pcs.min(axis=0), 0, atol=1e-5) and np.allclose(pcs.max(axis=0), 1, atol=1e-5)
    # changing a test pixel changes nothing in the fitted parameters
    cube2 = scene.cube.copy()
    cube2.reshape(-1, scene.n_bands)[split.test[0]] += 100
    prep2 = fit_preprocessing(cube2, split.train, n_components=3)
    assert np.allclose(prep.pca_components, prep2.pca_components)
    whole = fit_preprocessing(cube2, None, n_components=3)
    assert whole.band_max.max() > 50 and whole.fitted_on == "whole scene"


def test_components_are_whitened(scene):
    prep = fit_preprocessing(scene.cube, None, n_components=3)
    raw = (
        (prep.scale_spectra(scene.cube.reshape(-1, scene.n_bands)) - prep.pca_mean)
        @ prep.pca_components.T
        / prep.pca_scale
    )
    assert np.allclose(raw.std(axis=0, ddof=1), 1.0, atol=1e-3)


def test_round_trip_through_dict(scene):
    import json

    prep = fit_preprocessing(scene.cube, None, n_components=2)
    again = Preprocessing.from_dict(json.loads(json.dumps(prep.to_dict())))
    x = scene.cube.reshape(-1, scene.n_bands)[:50]
    assert np.allclose(prep.principal_components(x), again.principal_components(x), atol=1e-6)


@pytest.mark.parametrize("pixel", [(0, 0), (0, 35), (39, 0), (39, 35), (3, 2), (20, 17), (38, 34)])
def test_patches_match_a_direct_slice_of_the_padded_image(scene, pixel):
    prep = fit_preprocessing(scene.cube, None, n_components=3)
    p = 7
    sampler = PixelSampler(scene.cube, prep, patch_size=p)
    H, W = scene.shape
    comps = prep.principal_components(scene.cube.reshape(-1, scene.n_bands)).reshape(H, W, 3)
    r, c = pixel
    expected = np.zeros((3, p, p), np.float32)
    for i in range(p):
        for j in range(p):
            rr, cc = r + i - p // 2, c + j - p // 2
            if 0 <= rr < H and 0 <= cc < W:
                expected[:, i, j] = comps[rr, cc]
    got = sampler.patches(np.array([r * W + c]))
    assert got.shape == (1, 3, p, p) and got.dtype == np.float32
    assert np.allclose(got[0], expected, atol=1e-6)
    assert np.allclose(got[0, :, p // 2, p // 2], comps[r, c], atol=1e-6)


def test_batch_spectra_and_patches_shapes(scene):
    prep = fit_preprocessing(scene.cube, None, n_components=4)
    sampler = PixelSampler(scene.cube, prep, patch_size=9)
    idx = np.array([0, 5, 100, 1439])
    assert sampler.spectra(idx).shape == (4, scene.n_bands)
    assert sampler.patches(idx).shape == (4, 4, 9, 9)
    assert np.allclose(
        sampler.spectra(idx), prep.scale_spectra(scene.cube.reshape(-1, scene.n_bands)[idx])
    )
    with pytest.raises(ValueError, match="odd"):
        PixelSampler(scene.cube, prep, patch_size=8)


def test_patches_cut_on_the_device_equal_the_samplers(scene):
    """The accelerator path (patches cut from the padded image on the device) gives the sampler's patches,
    borders included; run here on CPU tensors, the same code on a GPU's."""
    prep = fit_preprocessing(scene.cube, None, n_components=3)
    sampler = PixelSampler(scene.cube, prep, patch_size=9)
    pixels = np.array([0, 35, 39 * 36, 40 * 36 - 1, 3 * 36 + 2, 700, 701, 0])
    padded = padded_on(sampler, torch.device("cpu"))
    assert padded_on(sampler, torch.device("cpu")) is padded  # copied once per device
    cut = cut_patches(padded, pixels, sampler.shape[1], sampler.patch_size)
    assert cut.is_contiguous() and np.array_equal(cut.numpy(), sampler.patches(pixels))


def test_network_inputs_cut_patches_on_an_accelerator(scene, monkeypatch):
    """On a device other than the CPU the patches are cut there, not on the host (the meta device stands in
    for a GPU)."""
    prep = fit_preprocessing(scene.cube, None, n_components=4)
    sampler = PixelSampler(scene.cube, prep, patch_size=27)
    monkeypatch.setattr(
        sampler, "patches", lambda pixels: pytest.fail("patches were cut on the host")
    )
    net = build_network("ssan", scene.n_bands, scene.n_classes, get_preset("quick"))
    spec, patch = network_inputs(net, sampler, np.array([0, 5, 100]), torch.device("meta"))
    assert spec.device.type == patch.device.type == "meta" and patch.shape == (3, 4, 27, 27)
