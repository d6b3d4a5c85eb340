"""Files that used to load as something they are not (issue 22, item 6): complex ENVI data or TIFFs cast to
real, an unknown ENVI interleave read as BSQ, duplicate class names, and more names than classes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import spectral.io.envi as envi
import tifffile
from PIL import Image

from ssan.data.catalog import load_scene
from ssan.data.readers import load_file_scene
from ssan.data.readers.matfile import load_mat_scene
from ssan.data.scene import Scene, SceneError

H, W, B = 12, 10, 6


def mask(tmp_path):
    gt = (np.arange(W)[None, :] * 3 // W + 1).repeat(H, axis=0).astype(np.uint8)
    Image.fromarray(gt).save(tmp_path / "mask.png")
    return tmp_path / "mask.png"


def cube() -> np.ndarray:
    return np.random.default_rng(0).random((H, W, B)).astype(np.float32)


@pytest.mark.parametrize("dtype, code", [(np.complex64, 6), (np.complex128, 9)])
def test_complex_envi_data_is_refused(tmp_path, dtype, code):
    envi.save_image(str(tmp_path / "cube.hdr"), cube().astype(dtype))
    assert f"data type = {code}" in (tmp_path / "cube.hdr").read_text()
    with pytest.raises(SceneError, match=r"complex values \(ENVI data type " + str(code)) as err:
        load_scene(tmp_path / "cube.hdr", mask(tmp_path))
    assert "\n" not in str(err.value)


def test_a_complex_tiff_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "cube.tif", np.moveaxis(cube(), -1, 0).astype(np.complex64))
    with pytest.raises(SceneError, match="complex values"):
        load_scene(tmp_path / "cube.tif", mask(tmp_path))


def test_an_unknown_interleave_is_refused(tmp_path):
    envi.save_image(str(tmp_path / "cube.hdr"), cube(), interleave="bsq")
    header = tmp_path / "cube.hdr"
    header.write_text(header.read_text().replace("interleave = bsq", "interleave = xyz"))
    with pytest.raises(SceneError, match=r"interleave = xyz.*bsq, bil or bip"):
        load_scene(header, mask(tmp_path))


def test_duplicate_class_names_are_refused(tmp_path):
    with pytest.raises(SceneError, match=r"class names must differ; 'road' is given twice"):
        load_file_scene(*_tiff_scene(tmp_path), class_names="road, grass, road")
    with pytest.raises(SceneError, match="class names must differ"):
        Scene(
            "x",
            cube(),
            np.ones((H, W), np.int32) * np.arange(W) % 2 + 1,
            ("a", "a"),
            np.linspace(400, 900, B),
            source="test",
        )


def test_more_names_than_classes_are_refused(tmp_path):
    with pytest.raises(SceneError, match=r"4 class_names for 3 classes"):
        load_file_scene(*_tiff_scene(tmp_path), class_names="road, grass, roof, water")
    gt = np.asarray(Image.open(mask(tmp_path)))
    path = tmp_path / "scene.mat"
    scipy.io.savemat(path, {"cube": cube(), "gt": gt})
    with pytest.raises(SceneError, match=r"5 class_names for 3 classes"):
        load_mat_scene(path, class_names=["a", "b", "c", "d", "e"])


def test_names_from_a_file_may_cover_classes_absent_from_the_map(tmp_path):
    envi.save_image(str(tmp_path / "cube.hdr"), cube())
    gt = np.asarray(Image.open(mask(tmp_path)))
    envi.save_classification(
        str(tmp_path / "gt.hdr"), gt, class_names=["Unclassified", "road", "grass", "roof", "lake"]
    )
    scene = load_scene(tmp_path / "cube.hdr", tmp_path / "gt.hdr")
    assert scene.class_names == ("road", "grass", "roof")


def _tiff_scene(tmp_path):
    tifffile.imwrite(
        tmp_path / "cube.tif",
        np.moveaxis(cube(), -1, 0),
        photometric="minisblack",
        planarconfig="separate",
    )
    return tmp_path / "cube.tif", mask(tmp_path)
