"""Pruning (issue 22, disk bounds): scene uploads, cached maps and uploaded checkpoints are kept to
SSAN_KEEP_DAYS days and SSAN_KEEP_MB MB, oldest first, never what a connected session uses; a refused
upload is deleted at once."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from ssan.data.uploads import (
    FRESH_S,
    KEEP_DAYS_ENV,
    KEEP_MB_ENV,
    discard_upload,
    keep_limits,
    prune,
    store_scene_upload,
    upload_dir,
)
from tests.helpers import SCENE, app
from ui import owners

DAY = 86400.0


@pytest.fixture(autouse=True)
def own_folders(tmp_path, monkeypatch):
    """Uploads, data and runs in this test's own folders; no session known to owners."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("SSAN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    for name in (KEEP_DAYS_ENV, KEEP_MB_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(owners, "_owners", {})
    monkeypatch.setattr(owners, "_in_use", {})
    monkeypatch.setattr(owners, "_touched", {})


def entry(folder: Path, name: str, size: int, age_days: float, now: float) -> Path:
    """A file of `size` bytes under `folder`, it and `folder` last changed `age_days` before `now`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(bytes(size))
    for changed in (path, folder):
        os.utime(changed, (now - age_days * DAY, now - age_days * DAY))
    return path


def test_entries_older_than_the_days_kept_go(tmp_path):
    now = time.time()
    old = entry(tmp_path / "maps", "old.npy", 10, 8, now)
    recent = entry(tmp_path / "maps", "recent.npy", 10, 6, now)
    assert prune([tmp_path / "maps"], 7, 2048, now=now) == [old]
    assert recent.exists() and not old.exists()


def test_over_the_size_kept_the_oldest_go_first_across_folders(tmp_path):
    now = time.time()
    a = entry(tmp_path / "maps", "a.npy", 400_000, 3, now)
    b = entry(tmp_path / "uploads", "b", 400_000, 2, now)
    c = entry(tmp_path / "maps", "c.npy", 400_000, 1, now)
    deleted = prune([tmp_path / "maps", tmp_path / "uploads"], 7, 0.5, now=now)
    assert deleted == [a, b] and c.exists(), "1.2 MB over a 0.5 MB budget: the two oldest go"


def test_what_a_session_uses_or_what_is_being_written_stays(tmp_path):
    now = time.time()
    used_folder = tmp_path / "uploads" / "0123456789abcdef"
    used = entry(used_folder, "cube.mat", 10, 30, now)
    writing = entry(tmp_path / "uploads", "new", 10, 0, now)
    os.utime(writing, (now - FRESH_S / 2, now - FRESH_S / 2))
    assert prune([tmp_path / "uploads"], 0, 0, in_use=[used], now=now) == []
    assert used.exists() and writing.exists()


def test_a_link_is_removed_never_followed(tmp_path):
    now = time.time()
    outside = entry(tmp_path / "outside", "precious", 10, 30, now)
    (tmp_path / "maps").mkdir()
    link = tmp_path / "maps" / "link"
    link.symlink_to(outside.parent)
    os.utime(link, (now - 30 * DAY, now - 30 * DAY), follow_symlinks=False)
    assert prune([tmp_path / "maps"], 7, 2048, now=now) == [link]
    assert outside.exists()


def test_the_limits_come_from_the_environment_or_one_line_says_why_not():
    assert keep_limits({}) == (7.0, 2048.0)
    assert keep_limits({KEEP_DAYS_ENV: "0.5", KEEP_MB_ENV: "100"}) == (0.5, 100.0)
    for bad in ("seven", "-1", "nan", "inf"):
        with pytest.raises(ValueError, match=KEEP_DAYS_ENV) as refused:
            keep_limits({KEEP_DAYS_ENV: bad})
        assert "\n" not in str(refused.value)


def test_a_refused_upload_is_discarded_but_only_inside_the_upload_folder(tmp_path):
    path = store_scene_upload([("cube.mat", b"not a mat file" * 10)])
    assert not discard_upload(path, in_use=[path]), "in use by a session: kept"
    assert discard_upload(path) and not path.parent.exists()
    elsewhere = tmp_path / "elsewhere" / "cube.mat"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"x")
    assert not discard_upload(elsewhere) and elsewhere.exists()


def test_the_app_deletes_a_refused_upload_at_once_and_prunes_after_it(monkeypatch):
    started = owners.threading.Event()
    started.set()  # the server's start-up pruning is done: only the upload's pruning runs below
    monkeypatch.setattr(owners, "_pruned_at_start", started)
    at = app(SCENE)
    stale = entry(upload_dir() / "feedfacefeedface", "cube.mat", 10, 30, time.time())
    at.radio(key="w_scene_choice").set_value("file").run()
    cube = ("cube.mat", b"MATLAB 5.0 MAT-file, but nothing more" * 4, "application/octet-stream")
    for gt in (None, [("labels.txt", b"1 2 3", "text/plain")]):  # a bad cube; a bad label file
        at.file_uploader(key="upload_cube").set_value([cube])
        at.file_uploader(key="upload_gt").set_value(gt)
        at.run()
        at.button(key="load_upload").click().run()
        assert at.error and not at.exception
        assert list(upload_dir().iterdir()) == [], "the refused upload left nothing behind"
        assert not stale.exists(), "an upload prunes the old ones"


def test_the_app_prunes_at_start_but_keeps_a_connected_sessions_scene(monkeypatch):
    now = time.time()
    stale = entry(upload_dir() / "feedfacefeedface", "cube.mat", 10, 30, now)
    monkeypatch.setattr(owners, "_pruned_at_start", owners.threading.Event())
    app(SCENE)
    assert not stale.exists(), "pruned on the server's first page"
    kept = entry(upload_dir() / "0123456789abcdef", "cube.mat", 10, 30, now)
    gone = entry(upload_dir() / "abcdef0123456789", "cube.mat", 10, 30, now)
    owners.note_in_use("student", [kept], lambda: True)
    owners.note_in_use("left", [gone], lambda: False)  # that browser closed since
    for folder in (kept.parent, gone.parent):  # and a month passed
        os.utime(folder, (now - 30 * DAY, now - 30 * DAY))
    assert owners.prune_storage() == [gone.parent]
    assert kept.exists()


def test_a_used_upload_looks_recent_to_every_process(monkeypatch):
    now = time.time()
    used = entry(upload_dir() / "0123456789abcdef", "cube.mat", 10, 30, now)
    owners.note_in_use("student", [used], lambda: True)
    monkeypatch.setattr(owners, "_in_use", {})  # another process: it knows no session of this one
    assert prune([upload_dir()], 7, 2048) == [] and used.exists()


def test_an_upload_folder_planted_as_a_link_is_never_pruned_through(tmp_path):
    now = time.time()
    precious = entry(tmp_path / "home", "thesis.tex", 10, 30, now)
    upload_dir().symlink_to(precious.parent)
    assert prune([upload_dir()], 0, 0, now=now) == [] and precious.exists()
