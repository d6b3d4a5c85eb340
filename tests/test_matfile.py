"""Own scenes from .mat files: v5 and v7.3, variable discovery, id remapping and every refusal."""

import h5py
import numpy as np
import pytest
import scipy.io

from ssan.data.catalog import load_scene
from ssan.data.readers.matfile import load_mat_scene, read_mat
from ssan.data.scene import SceneError

H, W, B = 8, 6, 5


def cube(bands: int = B, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4000, size=(H, W, bands)).astype(np.uint16)


def labels(ids=(1, 2, 3)) -> np.ndarray:
    """Row blocks of the given ids, first row unlabelled."""
    gt = np.zeros((H, W), dtype=np.uint8)
    for r in range(1, H):
        gt[r] = ids[(r - 1) % len(ids)]
    return gt


def save(path, **variables):
    scipy.io.savemat(path, variables)
    return path


def save_v73(path, **variables):
    """A MATLAB v7.3 file: 512-byte header then HDF5, arrays stored column-major (axes reversed)."""
    classes = {"f": "double", "u": "uint16", "i": "int32", "b": "logical"}
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            arr = np.asarray(value)
            if arr.dtype.kind == "U":
                data, cls = (
                    np.array([ord(c) for c in arr.item()], dtype=np.uint16).reshape(-1, 1),
                    "char",
                )
            else:
                data, cls = arr.T, classes[arr.dtype.kind]
            f.create_dataset(name, data=data).attrs["MATLAB_class"] = np.bytes_(cls)
        f.create_group("meta").attrs["MATLAB_class"] = np.bytes_("struct")
    with open(path, "r+b") as fh:
        fh.write(
            b"MATLAB 7.3 MAT-file, written by the ssan tests".ljust(116) + bytes(8) + b"\x00\x02IM"
        )
    return path


def test_v5_one_file_found_by_shape(tmp_path):
    c, gt = cube(), labels()
    scene = load_mat_scene(save(tmp_path / "scene.mat", data=c, gt=gt, note="x"))
    assert (
        scene.name == "scene" and scene.cube.dtype == np.float32 and scene.cube.shape == (H, W, B)
    )
    np.testing.assert_array_equal(scene.cube, c.astype(np.float32))
    np.testing.assert_array_equal(scene.labels, gt)
    assert scene.class_names == ("Class 1", "Class 2", "Class 3") and scene.original_ids == (
        1,
        2,
        3,
    )
    assert scene.wavelengths_estimated and scene.wavelengths.shape == (B,)
    assert any("estimates" in n for n in scene.notes)
    assert len(scene.sha256) == 64 and scene.source == str(tmp_path / "scene.mat")


def test_v5_two_files_with_names_and_colors(tmp_path):
    cube_path = save(tmp_path / "cube.mat", img=cube())
    gt_path = save(tmp_path / "labels.mat", y=labels())
    scene = load_scene(
        cube_path,
        gt_path,
        name="mine",
        class_names=["road", "grass", "roof"],
        class_colors={1: "#111111", 2: "#222222", 3: "#333333"},
    )
    assert scene.name == "mine" and scene.class_names == ("road", "grass", "roof")
    assert scene.class_colors == ("#111111", "#222222", "#333333")
    assert str(gt_path) in scene.source


def test_v73_is_read_like_v5(tmp_path):
    c, gt = cube(), labels()
    wl_um = np.linspace(0.43, 0.86, B)[None, :]
    v73 = save_v73(tmp_path / "v73.mat", cube=c, gt=gt, wavelength=wl_um, sensor=np.array("ROSIS"))
    v5 = save(tmp_path / "v5.mat", cube=c, gt=gt, wavelength=wl_um, sensor="ROSIS")
    a, b = read_mat(v73), read_mat(v5)
    assert sorted(a) == sorted(b) == ["cube", "gt", "sensor", "wavelength"]
    for key in ("cube", "gt", "wavelength"):
        assert a[key].shape == b[key].shape
        np.testing.assert_array_equal(a[key], b[key])
    assert a["sensor"].tolist() == ["ROSIS"]
    scene = load_mat_scene(v73)
    np.testing.assert_array_equal(scene.cube, c.astype(np.float32))
    assert not scene.wavelengths_estimated
    np.testing.assert_allclose(scene.wavelengths, np.linspace(430, 860, B))  # µm converted to nm


def test_ambiguous_variables_are_listed_and_can_be_named(tmp_path):
    path = save(
        tmp_path / "two.mat", raw=cube(), smooth=cube(seed=1), train=labels(), test=labels((2, 3))
    )
    with pytest.raises(SceneError, match=r"two\.mat.*2 3-D variables \(raw, smooth\).*cube_var="):
        load_mat_scene(path)
    with pytest.raises(SceneError, match=r"2 2-D variables .* 8x6 .*train, test.*gt_var="):
        load_mat_scene(path, cube_var="raw")
    scene = load_mat_scene(path, cube_var="smooth", gt_var="test")
    assert scene.original_ids == (2, 3)
    np.testing.assert_array_equal(scene.cube, cube(seed=1).astype(np.float32))


def test_salinas_like_ids_are_renumbered_keeping_originals(tmp_path):
    path = save(tmp_path / "salinas.mat", c=cube(), gt=labels((1, 10, 11, 12, 13, 14)))
    scene = load_mat_scene(path)
    assert scene.original_ids == (1, 10, 11, 12, 13, 14) and scene.n_classes == 6
    assert sorted(np.unique(scene.labels).tolist()) == [0, 1, 2, 3, 4, 5, 6]
    assert scene.class_names[1] == "Class 10"
    original = labels((1, 10, 11, 12, 13, 14))
    lut = np.array((0,) + scene.original_ids)
    np.testing.assert_array_equal(lut[scene.labels], original)
    assert any("1, 10, 11, 12, 13, 14 were renumbered 1..6" in n for n in scene.notes)


def test_class_names_per_id_and_wrong_count(tmp_path):
    path = save(tmp_path / "gap.mat", c=cube(), gt=labels((1, 2, 4)))
    scene = load_mat_scene(path, class_names=["a", "b", "c", "d"])  # one per id 1..4: id 3 absent
    assert scene.class_names == ("a", "b", "d")
    with pytest.raises(SceneError, match=r"gap\.mat: 2 class_names for 3 classes \(ids 1, 2, 4\)"):
        load_mat_scene(path, class_names=["a", "b"])
    with pytest.raises(SceneError, match="no entry for label id\\(s\\) 4"):
        load_mat_scene(path, class_names={1: "a", 2: "b"})


def test_wavelength_vectors(tmp_path):
    nm = np.linspace(400, 900, B)
    assert (
        load_mat_scene(save(tmp_path / "a.mat", c=cube(), gt=labels(), wl=nm)).wavelengths.tolist()
        == nm.tolist()
    )
    idx = save(tmp_path / "b.mat", c=cube(), gt=labels(), bands=np.arange(1, B + 1))
    scene = load_mat_scene(idx)  # band numbers are not band centres
    assert scene.wavelengths_estimated and any(
        "'bands' does not look like band centres" in n for n in scene.notes
    )
    named = save(tmp_path / "c.mat", c=cube(), gt=labels(), centres=nm, short=nm[:3])
    assert not load_mat_scene(named, wavelengths_var="centres").wavelengths_estimated
    with pytest.raises(SceneError, match=f"'short'.*is not {B} band centres"):
        load_mat_scene(named, wavelengths_var="short")


def test_missing_file(tmp_path):
    with pytest.raises(SceneError, match=r"nope\.mat: does not exist.*check the path"):
        load_scene(tmp_path / "nope.mat")
    with pytest.raises(SceneError, match="is a folder"):
        read_mat(tmp_path)


def test_unreadable_and_truncated_files(tmp_path):
    text = tmp_path / "notes.mat"
    text.write_text("these are not the bytes you are looking for" * 5)
    with pytest.raises(
        SceneError, match=r"notes\.mat: not a readable MAT file.*Download or export it again"
    ):
        read_mat(text)
    full = save(tmp_path / "full.mat", c=cube(), gt=labels()).read_bytes()
    cut = tmp_path / "cut.mat"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(SceneError, match=r"cut\.mat: not a readable MAT file.*truncated"):
        load_mat_scene(cut)
    cut.write_bytes(full[:128])  # the header alone
    with pytest.raises(SceneError, match=r"cut\.mat: the MAT file holds no variables"):
        load_mat_scene(cut)
    h5 = save_v73(tmp_path / "h5.mat", c=cube(), gt=labels()).read_bytes()
    cut.write_bytes(h5[: len(h5) // 2])
    with pytest.raises(SceneError, match=r"cut\.mat: not a readable MAT file"):
        load_mat_scene(cut)


def test_missing_named_variable_lists_what_is_there(tmp_path):
    path = save(tmp_path / "s.mat", paviaU=cube(), paviaU_gt=labels())
    with pytest.raises(
        SceneError,
        match=r"s\.mat: no variable named 'pavia'.*paviaU \(8x6x5 uint16\), "
        r"paviaU_gt \(8x6 uint8\).*cube_var=",
    ):
        load_mat_scene(path, cube_var="pavia")
    with pytest.raises(SceneError, match=r"no variable named 'gt'.*gt_var="):
        load_mat_scene(path, gt_var="gt")
    with pytest.raises(SceneError, match=r"expected one 3-D.*found no 3-D variable.*as gt_path"):
        load_mat_scene(save(tmp_path / "gt_only.mat", gt=labels()))


def test_cube_and_labels_of_different_sizes(tmp_path):
    cube_path = save(tmp_path / "cube.mat", c=cube())
    gt_path = save(tmp_path / "gt.mat", gt=np.ones((H + 1, W), dtype=np.uint8))
    with pytest.raises(
        SceneError, match=r"gt\.mat: expected a 8x6 label map.*gt \(9x6 uint8\).*same pixels"
    ):
        load_mat_scene(cube_path, gt_path)
    with pytest.raises(SceneError, match=r"'gt' is 9x6 but the cube is 8x6"):
        load_mat_scene(cube_path, gt_path, gt_var="gt")


def test_non_numeric_data(tmp_path):
    cells = np.empty((H, W, B), dtype=object)
    cells[...] = "x"
    path = save(tmp_path / "cells.mat", c=cells, gt=labels())
    with pytest.raises(
        SceneError, match=r"cells\.mat: variable 'c' holds object data, not real numbers"
    ):
        load_mat_scene(path)
    complex_path = save(tmp_path / "cplx.mat", c=cube() * 1j, gt=labels())
    with pytest.raises(SceneError, match="holds complex128 data"):
        load_mat_scene(complex_path)


def test_non_integer_and_negative_labels(tmp_path):
    gt = labels().astype(float)
    gt[2, 2] = 1.5
    with pytest.raises(
        SceneError, match=r"frac\.mat: the label map holds 1 non-integer value\(s\) \(e\.g\. 1\.5\)"
    ):
        load_mat_scene(save(tmp_path / "frac.mat", c=cube(), gt=gt))
    gt[2, 2] = -1
    with pytest.raises(SceneError, match="negative ids"):
        load_mat_scene(save(tmp_path / "neg.mat", c=cube(), gt=gt))
    gt[2, 2] = 2.0  # whole numbers stored as double are fine
    assert load_mat_scene(save(tmp_path / "ok.mat", c=cube(), gt=gt)).n_classes == 3


def test_nan_pixels_are_refused_or_masked(tmp_path):
    c = cube().astype(np.float64)
    c[3, 1, 0] = np.nan
    c[4, 2, :] = np.inf
    path = save(tmp_path / "holes.mat", c=c, gt=labels())
    with pytest.raises(
        SceneError, match=r"holes\.mat: 2 pixel\(s\) of 'c' hold NaN.*nan_policy='mask'"
    ):
        load_mat_scene(path)
    scene = load_mat_scene(path, nan_policy="mask")
    assert scene.masked_pixels == 2 and np.isfinite(scene.cube).all()
    assert scene.labels[3, 1] == 0 and scene.labels[4, 2] == 0 and (scene.cube[3, 1] == 0).all()
    assert scene.labels[3, 2] != 0 and any("nan_policy='mask'" in n for n in scene.notes)
    with pytest.raises(SceneError, match="nan_policy must be one of refuse, mask"):
        load_mat_scene(path, nan_policy="drop")


def test_too_few_bands_or_classes(tmp_path):
    with pytest.raises(SceneError, match=r"thin\.mat: variable 'c' has 2 band\(s\).*at least 3"):
        load_mat_scene(save(tmp_path / "thin.mat", c=cube(bands=2), gt=labels()))
    with pytest.raises(
        SceneError, match=r"one\.mat: the label map holds 1 class\(es\).*at least 2.*gt_var="
    ):
        load_mat_scene(save(tmp_path / "one.mat", c=cube(), gt=labels((4,))))
