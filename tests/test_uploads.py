"""Scene uploads (issue 9, item 7): a private per-user folder, atomic writes, the content hash checked
before a file is reused, no symlink followed, and over-long names shortened safely."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile

import pytest

from ssan.data.scene import SceneError
from ssan.data.uploads import store_scene_upload, upload_dir

DATA = b"MATLAB 5.0 MAT-file" + bytes(200)


@pytest.fixture(autouse=True)
def own_temp_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()


def hash_folder(data: bytes = DATA):
    """The content-addressed folder of a one-file upload."""
    return upload_dir() / hashlib.sha256(hashlib.sha256(data).hexdigest().encode()).hexdigest()[:16]


def test_uploads_go_to_a_private_folder_of_this_user():
    path = store_scene_upload([("cube.mat", DATA)])
    assert path.read_bytes() == DATA and path.parent.parent == upload_dir()
    assert upload_dir().name == f"ssan-uploads-{os.getuid()}"
    for folder in (upload_dir(), path.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["cube.mat"], "no temporary file left"


def test_a_long_name_is_shortened_without_breaking_a_character():
    name = "é" * 200 + ".MAT"  # 404 bytes: over the 255 a file name may have
    path = store_scene_upload([(name, DATA)])
    assert path.suffix == ".mat" and len(path.name.encode()) <= 124 and path.read_bytes() == DATA
    assert set(path.stem) == {"é"}


def test_a_half_written_copy_under_the_same_hash_is_replaced():
    folder = hash_folder()
    folder.mkdir(parents=True)
    (folder / "cube.mat").write_bytes(DATA[:50])  # an earlier upload cut short
    path = store_scene_upload([("cube.mat", DATA)])
    assert path.read_bytes() == DATA


def test_a_planted_symlink_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    folder = hash_folder()
    folder.mkdir(parents=True)
    (folder / "cube.mat").symlink_to(outside)
    (folder / "gt.mat").symlink_to(tmp_path / "dangling.mat")
    for name in ("cube.mat", "gt.mat"):
        path = store_scene_upload([(name, DATA)])
        assert not path.is_symlink() and path.read_bytes() == DATA
    assert outside.read_text() == "precious" and not (tmp_path / "dangling.mat").exists()


def test_an_upload_folder_that_is_a_symlink_or_open_to_others_is_handled(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    upload_dir().symlink_to(elsewhere)
    with pytest.raises(
        SceneError, match="the upload folder is a symlink, not a folder, or belongs to another user"
    ):
        store_scene_upload([("cube.mat", DATA)])
    assert list(elsewhere.iterdir()) == []
    upload_dir().unlink()
    upload_dir().mkdir(mode=0o777)
    os.chmod(upload_dir(), 0o777)
    store_scene_upload([("cube.mat", DATA)])
    assert stat.S_IMODE(upload_dir().stat().st_mode) == 0o700


def envi_pair(tmp_path, bands: int = 6, shape=(12, 10)) -> dict[str, bytes]:
    """An ENVI cube written by Spectral Python, as the two files a user uploads."""
    import numpy as np
    import spectral.io.envi as envi

    cube = np.random.default_rng(0).random((*shape, bands)).astype(np.float32)
    envi.save_image(
        str(tmp_path / "scene.hdr"),
        cube,
        ext=".dat",
        metadata={"wavelength": [450 + 50 * i for i in range(bands)], "wavelength units": "nm"},
    )
    return {
        "scene.hdr": (tmp_path / "scene.hdr").read_bytes(),
        "scene.dat": (tmp_path / "scene.dat").read_bytes(),
    }


def test_an_envi_pair_is_stored_side_by_side_and_read_back(tmp_path):
    from ssan.data.readers.envi import read_envi

    files = envi_pair(tmp_path)
    path = store_scene_upload(
        list(reversed(files.items()))
    )  # the data file first: order does not matter
    assert (
        path.name == "scene.dat" and (path.parent / "scene.hdr").read_bytes() == files["scene.hdr"]
    )
    assert read_envi(path).data.shape == (12, 10, 6)
    # a header named differently from its data file is stored under the data file's stem
    path = store_scene_upload(
        [("export.hdr", files["scene.hdr"]), ("Scene.DAT", files["scene.dat"])]
    )
    assert path.name == "Scene.dat" and (path.parent / "Scene.hdr").is_file()
    assert read_envi(path).wavelengths[0] == 450


@pytest.mark.parametrize(
    "files, role, message",
    [
        (
            [("scene.hdr", b"ENVI")],
            "cube",
            "scene.hdr: an ENVI header without its data file. Upload both together",
        ),
        ([("scene.img", b"\0" * 8)], "cube", "scene.img: an ENVI data file without its header"),
        (
            [("a.hdr", b"ENVI"), ("b.hdr", b"ENVI"), ("a.img", b"\0")],
            "cube",
            "upload one image at a time",
        ),
        (
            [("a.hdr", b"ENVI"), ("a.img", b"\0"), ("a.dat", b"\0")],
            "cube",
            "upload one image at a time",
        ),
        ([("a.hdr", b"ENVI"), ("a.tif", b"II*\0")], "cube", "a .tif file is not an ENVI data file"),
        (
            [("a.mat", DATA), ("b.mat", DATA)],
            "cube",
            "2 files uploaded (a.mat, b.mat), but only an ENVI image",
        ),
        (
            [("mask.png", b"\x89PNG")],
            "cube",
            "mask.png: a '.png' extension cannot be read. Expected a .mat file, a GeoTIFF",
        ),
        (
            [("notes.txt", b"1 2 3")],
            "labels",
            "notes.txt: a '.txt' extension cannot be read. Expected a .mat file",
        ),
        ([("cube.mat", b"")], "cube", "cube.mat: the uploaded file is empty"),
        ([("..", DATA)], "cube", "not a usable file name"),
        ([], "labels", "no file uploaded"),
    ],
)
def test_bad_uploads_say_what_is_wrong(files, role, message):
    with pytest.raises(SceneError, match=re.escape(message)):
        store_scene_upload(files, role)
    assert not upload_dir().exists() or not any(upload_dir().iterdir()), "nothing stored"


def test_labels_take_a_png_mask_and_names_lose_their_folders():
    path = store_scene_upload([("../../masks/truth.PNG", b"\x89PNG data")], "labels")
    assert path.name == "truth.png" and path.parent.parent == upload_dir()


def test_upload_folders_are_cut_from_messages():
    from ssan.data.uploads import shown_names

    path = store_scene_upload([("cube.mat", DATA)])
    assert shown_names(f"{path}: not a readable MAT file") == "cube.mat: not a readable MAT file"
