"""Scene uploads (issue 9, item 7): a private per-user folder, atomic writes, the content hash checked
before a file is reused, no symlink followed, and over-long names shortened safely."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile

import pytest

from ssan.scene import SceneError
from ui.uploads import store_scene_upload, upload_dir

DATA = b"MATLAB 5.0 MAT-file" + bytes(200)


@pytest.fixture(autouse=True)
def own_temp_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()


def hash_folder(data: bytes = DATA):
    return upload_dir() / hashlib.sha256(data).hexdigest()[:16]


def test_uploads_go_to_a_private_folder_of_this_user():
    path = store_scene_upload("cube.mat", DATA)
    assert path.read_bytes() == DATA and path.parent.parent == upload_dir()
    assert upload_dir().name == f"ssan-uploads-{os.getuid()}"
    for folder in (upload_dir(), path.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["cube.mat"], "no temporary file left"


def test_a_long_name_is_shortened_without_breaking_a_character():
    name = "é" * 200 + ".MAT"   # 404 bytes: over the 255 a file name may have
    path = store_scene_upload(name, DATA)
    assert path.suffix == ".mat" and len(path.name.encode()) <= 124 and path.read_bytes() == DATA
    assert set(path.stem) == {"é"}


def test_a_half_written_copy_under_the_same_hash_is_replaced():
    folder = hash_folder()
    folder.mkdir(parents=True)
    (folder / "cube.mat").write_bytes(DATA[:50])   # an earlier upload cut short
    path = store_scene_upload("cube.mat", DATA)
    assert path.read_bytes() == DATA


def test_a_planted_symlink_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    folder = hash_folder()
    folder.mkdir(parents=True)
    (folder / "cube.mat").symlink_to(outside)
    (folder / "gt.mat").symlink_to(tmp_path / "dangling.mat")
    for name in ("cube.mat", "gt.mat"):
        path = store_scene_upload(name, DATA)
        assert not path.is_symlink() and path.read_bytes() == DATA
    assert outside.read_text() == "precious" and not (tmp_path / "dangling.mat").exists()


def test_an_upload_folder_that_is_a_symlink_or_open_to_others_is_handled(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    upload_dir().symlink_to(elsewhere)
    with pytest.raises(SceneError, match="the upload folder is a symlink, not a folder, or belongs to another user"):
        store_scene_upload("cube.mat", DATA)
    assert list(elsewhere.iterdir()) == []
    upload_dir().unlink()
    upload_dir().mkdir(mode=0o777)
    os.chmod(upload_dir(), 0o777)
    store_scene_upload("cube.mat", DATA)
    assert stat.S_IMODE(upload_dir().stat().st_mode) == 0o700
