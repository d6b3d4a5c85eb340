"""Own scenes in the formats people hold: ENVI and GeoTIFF cubes; .mat, ENVI, GeoTIFF and PNG labels;
class names and wavelengths from the file, the user or a marked guess; clear errors; the fixed split's report."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import spectral.io.envi as envi
import tifffile
from PIL import Image

from ssan.cli import main
from ssan.data.catalog import load_scene
from ssan.data.readers import load_file_scene, read_class_names
from ssan.data.readers.scenefile import _published_names
from ssan.data.scene import Scene, SceneError
from ssan.data.sensors import guess_wavelengths, parse_wavelengths
from ssan.data.splits import fixed_split
from tests.helpers import toy_scene

H, W, B = 12, 10, 6


def cube(bands: int = B) -> np.ndarray:
    return np.random.default_rng(0).random((H, W, bands)).astype(np.float32)


def labels() -> np.ndarray:
    gt = (np.arange(W)[None, :] * 3 // W + 1).repeat(H, axis=0).astype(np.uint8)
    gt[0] = 0
    return gt


def test_envi_cube_and_classification_give_wavelengths_and_class_names(tmp_path):
    envi.save_image(
        str(tmp_path / "cube.hdr"),
        cube(),
        metadata={
            "wavelength": [0.45, 0.55, 0.65, 0.75, 0.85, 0.95],
            "wavelength units": "Micrometers",
        },
    )
    envi.save_classification(
        str(tmp_path / "gt.hdr"), labels(), class_names=["Unclassified", "road", "grass", "roof"]
    )
    scene = load_scene(tmp_path / "cube.img", tmp_path / "gt.hdr")
    assert scene.cube.shape == (H, W, B) and np.allclose(scene.cube, cube())
    np.testing.assert_allclose(scene.wavelengths, [450, 550, 650, 750, 850, 950])
    assert not scene.wavelengths_estimated and any("ENVI header" in n for n in scene.notes)
    assert scene.class_names == ("road", "grass", "roof")
    np.testing.assert_array_equal(scene.labels, labels())


def test_geotiff_cube_with_a_png_mask_gets_a_marked_sensor_guess(tmp_path):
    bands = 204  # AVIRIS (Salinas)
    tifffile.imwrite(
        tmp_path / "cube.tif",
        np.moveaxis(cube(bands), -1, 0),
        photometric="minisblack",
        planarconfig="separate",
    )
    Image.fromarray(labels()).save(tmp_path / "mask.png")
    scene = load_file_scene(
        tmp_path / "cube.tif", tmp_path / "mask.png", class_names="road, grass, roof"
    )
    assert scene.cube.shape == (H, W, bands) and np.allclose(scene.cube, cube(bands))
    assert (
        scene.wavelengths_estimated
        and scene.wavelengths[0] == 400
        and scene.wavelengths[-1] == 2500
    )
    assert any(
        "a guess from the band count: 204 bands is typical of AVIRIS" in n for n in scene.notes
    )
    assert scene.class_names == ("road", "grass", "roof")
    given = load_file_scene(tmp_path / "cube.tif", tmp_path / "mask.png", wavelengths="500-2000")
    assert (
        not given.wavelengths_estimated
        and given.wavelengths[0] == 500
        and given.wavelengths[-1] == 2000
    )


def test_sensor_guesses_and_wavelength_specs(tmp_path):
    for n, sensor in ((103, "ROSIS"), (115, "ROSIS"), (224, "AVIRIS"), (50, "no sensor")):
        values, text = guess_wavelengths(n)
        assert values.size == n and sensor in text and "guess" in text
    (tmp_path / "wl.txt").write_text("500\n600\n700\n")
    np.testing.assert_array_equal(parse_wavelengths(tmp_path / "wl.txt", 3), [500, 600, 700])
    np.testing.assert_array_equal(parse_wavelengths("500, 600, 700", 3), [500, 600, 700])
    with pytest.raises(SceneError, match="2 value"):
        parse_wavelengths("500, 600", 3)
    with pytest.raises(SceneError, match="between 200 and 16000"):
        parse_wavelengths("0.5-0.9", 3)
    with pytest.raises(SceneError, match="increase"):
        parse_wavelengths("700, 600, 500", 3)
    assert read_class_names("a, b ,c") == ("a", "b", "c")


def test_mat_names_variable_and_the_published_pavia_names(tmp_path):
    path = tmp_path / "scene.mat"
    scipy.io.savemat(
        path,
        {
            "data": cube(),
            "gt": labels(),
            "class_names": np.array(["road", "grass", "roof"], dtype=object),
        },
    )
    assert load_scene(path).class_names == ("road", "grass", "roof")
    big = np.broadcast_to(np.float32(0), (610, 340, 103))
    gt = np.zeros((610, 340), np.int32)
    gt[:9, 0] = np.arange(1, 10)
    pavia_like = Scene(
        "mine",
        big,
        gt,
        tuple(f"Class {i}" for i in range(1, 10)),
        np.linspace(430, 860, 103),
        source="test",
    )
    named = _published_names(pavia_like, None)
    assert named.class_names[0] == "Asphalt" and any(
        "published Pavia University names" in n for n in named.notes
    )


def test_bad_files_get_clear_messages(tmp_path):
    envi.save_image(str(tmp_path / "cube.hdr"), cube())
    data = tmp_path / "cube.img"
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(SceneError, match="truncated"):
        load_file_scene(tmp_path / "cube.hdr", tmp_path / "x.png")
    tifffile.imwrite(
        tmp_path / "cube.tif",
        np.moveaxis(cube(), -1, 0),
        photometric="minisblack",
        planarconfig="separate",
    )
    with pytest.raises(SceneError, match="holds no labels"):
        load_file_scene(tmp_path / "cube.tif")
    Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(SceneError, match="same pixels"):
        load_file_scene(tmp_path / "cube.tif", tmp_path / "small.png")
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(SceneError, match="not a label mask"):
        load_file_scene(tmp_path / "cube.tif", tmp_path / "rgb.png")
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(SceneError, match="not a readable TIFF"):
        load_file_scene(tmp_path / "broken.tif", tmp_path / "rgb.png")
    with pytest.raises(SceneError, match="cannot be read as a cube"):
        (tmp_path / "notes.txt").write_text("x")
        load_file_scene(tmp_path / "notes.txt", tmp_path / "rgb.png")


def test_envi_and_tiff_cubes_over_the_size_limit_are_refused_before_reading(tmp_path, monkeypatch):
    """The .mat path's declared-size check (SSAN_MAX_SCENE_BYTES) holds for ENVI and for a compressed TIFF,
    whose few bytes on disk could otherwise unpack into any amount of memory. (The .tif lies beside a .hdr of
    the same stem, and is still read as the TIFF.)"""
    envi.save_image(str(tmp_path / "cube.hdr"), cube())
    tifffile.imwrite(
        tmp_path / "cube.tif",
        np.zeros((B, 400, 400), np.float32),
        photometric="minisblack",
        planarconfig="separate",
        compression="zlib",
    )
    assert (tmp_path / "cube.tif").stat().st_size < 20_000
    Image.fromarray(labels()).save(tmp_path / "mask.png")
    monkeypatch.setenv("SSAN_MAX_SCENE_BYTES", "2KB")
    with pytest.raises(
        SceneError,
        match=r"cube.hdr: the file declares image 'cube.hdr' of 12x10x6 values at 4 byte\(s\) each; "
        r"loading it takes about 6.3 KiB .* more than the limit of 2.0 KiB.*SSAN_MAX_SCENE_BYTES",
    ):
        load_file_scene(tmp_path / "cube.hdr", tmp_path / "mask.png")
    monkeypatch.setenv("SSAN_MAX_SCENE_BYTES", "1MB")
    load_file_scene(tmp_path / "cube.hdr", tmp_path / "mask.png")
    with pytest.raises(
        SceneError,
        match=r"cube.tif: the file declares image 'cube.tif' of 6x400x400 .* about 8.2 MiB",
    ):
        load_file_scene(tmp_path / "cube.tif", tmp_path / "mask.png")


def test_cli_data_info_reads_envi_with_names_and_wavelengths(tmp_path, capsys):
    envi.save_image(str(tmp_path / "cube.hdr"), cube())
    Image.fromarray(labels()).save(tmp_path / "mask.png")
    args = [
        "data",
        "info",
        str(tmp_path / "cube.hdr"),
        "--gt",
        str(tmp_path / "mask.png"),
        "--split",
        "per-class:2",
    ]
    assert main(args + ["--class-names", "road,grass,roof", "--wavelengths", "450-950"]) == 0
    out = capsys.readouterr().out
    assert "bands: 6, 450.0-950.0 nm" in out and "estimated" not in out and "grass" in out
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "estimated, a guess" in out and "matches no sensor" in out


def test_the_fixed_split_reports_background_training_pixels_and_patch_overlap():
    scene = toy_scene(shape=(60, 50), n_bands=6, n_classes=4, unlabelled_share=0.2)
    train_map = np.zeros(scene.shape, np.int32)
    train_map[10:14, ::5] = (np.arange(scene.shape[1])[::5] * 4 // scene.shape[1] + 1)[None, :]
    test_map = np.where((scene.labels > 0) & (train_map == 0), scene.labels, 0)
    split = fixed_split(scene, train_map, test_map, patch_size=7)
    background = int(((train_map > 0) & (scene.labels == 0)).sum())
    assert background > 0
    text = " ".join(split.warnings)
    assert (
        f"{background:,} of the {int((train_map > 0).sum()):,} training-map pixels lie on ground-truth background"
        in text
    )
    assert (
        "patches overlap a training pixel's patch" in text
        and "training-map pixel inside their 7x7 patch" in text
    )


def test_the_standard_paviau_fixed_maps_report_their_background_pixels_and_overlap(shared_real):
    read = lambda name: next(
        v for k, v in scipy.io.loadmat(shared_real / name).items() if not k.startswith("__")
    )
    gt = read("PaviaU_gt.mat").astype(np.int32)
    names = tuple(f"class {i}" for i in range(1, 10))
    scene = Scene(
        "paviau",
        np.broadcast_to(np.float32(0), gt.shape + (3,)),
        gt,
        names,
        np.array([500.0, 600, 700]),
        source="PaviaU ground truth only",
    )
    text = " ".join(
        fixed_split(scene, read("TRpavia_fixed.mat"), read("TSpavia_fixed.mat")).warnings
    )
    assert "1,147 of the 3,921 training-map pixels lie on ground-truth background" in text
    assert "47.7% of the test pixels have a training-map pixel inside their 27x27 patch" in text
    assert "74.7% of the test patches overlap" in text
