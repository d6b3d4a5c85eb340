"""Class names and wavelengths typed in are values, never a path tried on the server (issue 22, item 2).

The library takes a list (or text) of values, or an explicit `Path`; the CLI decides which by syntax
(`@FILE`, or one value ending in .txt/.csv), so a long list no longer fails with 'File name too long'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssan.cli import main
from ssan.data.readers import load_file_scene, read_class_names
from ssan.data.scene import SceneError
from ssan.data.sensors import parse_wavelengths

H, W, B = 12, 10, 6


def scene_files(tmp_path: Path) -> tuple[Path, Path]:
    import tifffile

    cube = np.random.default_rng(0).random((B, H, W)).astype(np.float32)
    tifffile.imwrite(tmp_path / "cube.tif", cube, photometric="minisblack", planarconfig="separate")
    gt = (np.arange(W)[None, :] * 3 // W + 1).repeat(H, axis=0).astype(np.uint8)
    Image.fromarray(gt).save(tmp_path / "mask.png")
    return tmp_path / "cube.tif", tmp_path / "mask.png"


def test_text_that_names_a_server_file_is_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("alpha\nbeta\ngamma\n")
    cube, mask = scene_files(tmp_path)
    with pytest.raises(SceneError, match="1 class_names for 3 classes"):
        load_file_scene(cube, mask, class_names=str(secret))
    assert read_class_names(str(secret)) == (str(secret),)
    wl = tmp_path / "wl.txt"
    wl.write_text("500 600 700 800 900 1000")
    with pytest.raises(SceneError, match="not numbers"):
        parse_wavelengths(str(wl), B)


def test_an_explicit_path_is_read(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("road\n\ngrass\nroof\n")
    cube, mask = scene_files(tmp_path)
    scene = load_file_scene(cube, mask, class_names=names, wavelengths=Path(_wl(tmp_path)))
    assert scene.class_names == ("road", "grass", "roof")
    np.testing.assert_array_equal(scene.wavelengths, [500, 600, 700, 800, 900, 1000])
    with pytest.raises(SceneError, match="does not exist"):
        read_class_names(tmp_path / "missing.txt")


def _wl(tmp_path: Path) -> Path:
    path = tmp_path / "wl.csv"
    path.write_text("500,600,700\n800,900,1000\n")
    return path


def test_typed_text_splits_on_newlines_or_commas():
    assert read_class_names("a, b ,c") == ("a", "b", "c")
    assert read_class_names("Trees, shadow\nMeadows\n\nBare soil") == (
        "Trees, shadow",
        "Meadows",
        "Bare soil",
    )
    assert read_class_names(["x ", "y"]) == ("x", "y")


def test_cli_a_long_list_is_a_list_and_a_file_is_named_by_syntax(tmp_path, capsys):
    cube, mask = scene_files(tmp_path)
    args = ["data", "info", str(cube), "--gt", str(mask), "--split", "per-class:2"]
    long_names = ",".join(n * 120 for n in ("a", "b", "c"))
    assert len(long_names.encode()) > 255
    assert main(args + ["--class-names", long_names]) == 0, capsys.readouterr().err
    assert "a" * 120 in capsys.readouterr().out
    (tmp_path / "names.txt").write_text("road\ngrass\nroof\n")
    assert main(args + ["--class-names", f"@{tmp_path / 'names.txt'}"]) == 0
    assert "grass" in capsys.readouterr().out
    assert main(args + ["--class-names", str(tmp_path / "names.txt")]) == 0
    assert "grass" in capsys.readouterr().out
    assert main(args + ["--wavelengths", str(_wl(tmp_path))]) == 0
    assert "500.0-1000.0 nm" in capsys.readouterr().out
    assert main(args + ["--class-names", f"@{tmp_path / 'none.txt'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ssan: error: ") and "does not exist" in err and err.count("\n") == 1


def test_cli_help_states_the_rule(capsys):
    assert main(["data", "info", "--help"]) == 0
    out = capsys.readouterr().out
    assert "@FILE" in out


def test_wavelengths_from_a_file_are_held_to_the_typed_rule(tmp_path):
    """Duplicate, NaN or descending band centres in an ENVI header, GDAL metadata or a .mat variable are
    refused with one line, as --wavelengths refuses them (issue 22: the Scene page's slider failed)."""
    import scipy.io
    import spectral.io.envi as envi
    import tifffile

    from ssan.data.catalog import load_scene

    cube, mask = scene_files(tmp_path)
    data = np.random.default_rng(1).random((H, W, B)).astype(np.float32)
    bad_lists = {
        "duplicate": [500, 600, 600, 700, 800, 900],
        "descending": [900, 800, 700, 600, 500, 400],
        "nan": [500, 600, float("nan"), 700, 800, 900],
    }
    for kind, values in bad_lists.items():
        envi.save_image(
            str(tmp_path / f"{kind}.hdr"),
            data,
            metadata={"wavelength": values, "wavelength units": "nm"},
            force=True,
        )
        with pytest.raises(SceneError, match="band centres must") as err:
            load_scene(tmp_path / f"{kind}.hdr", mask)
        assert "\n" not in str(err.value)
        gt = np.asarray(Image.open(mask))
        scipy.io.savemat(tmp_path / f"{kind}.mat", {"cube": data, "gt": gt, "wavelength": values})
        with pytest.raises(SceneError, match="band centres must"):
            load_scene(tmp_path / f"{kind}.mat")
    items = "".join(
        f'<Item name="wavelength" sample="{i}">{v}</Item>'
        for i, v in enumerate(bad_lists["duplicate"])
    )
    tifffile.imwrite(
        tmp_path / "dup.tif",
        np.moveaxis(data, -1, 0),
        photometric="minisblack",
        planarconfig="separate",
        extratags=[(42112, "s", 0, f"<GDALMetadata>{items}</GDALMetadata>", True)],
    )
    with pytest.raises(SceneError, match="band centres must increase"):
        load_scene(tmp_path / "dup.tif", mask)
