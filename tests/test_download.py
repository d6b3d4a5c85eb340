"""Downloads against a local HTTP server (127.0.0.1 only) with the registry patched to tiny files."""

import dataclasses
import hashlib
import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pooch
import pytest
import scipy.io

from ssan.data import download, pavia
from ssan.data.catalog import list_scenes, load_pavia, load_scene
from ssan.data.download import (
    DownloadError,
    data_dir,
    fetch,
    fetch_scene_files,
    file_url,
    is_cached,
    local_file_note,
)
from ssan.data.scene import SceneError


class LocalServer:
    """Serves `files[name] = (body, declared Content-Length or None)` and records every request path."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, int | None]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                name = self.path.lstrip("/")
                if name not in server.files:
                    self.send_error(404)
                    return
                body, length = server.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A 127.0.0.1 URL nobody listens on: a connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mat_bytes(**variables) -> bytes:
    buf = io.BytesIO()
    scipy.io.savemat(buf, variables)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Data folder in tmp_path, no mirror, no retries (pooch sleeps before one); canonical URLs point nowhere."""
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SSAN_DATA_URL", raising=False)
    monkeypatch.setattr(download, "RETRIES", 0)
    dead = closed_port_url()
    for key, facts in list(pavia.PAVIA_SCENES.items()):
        files = {
            f: dataclasses.replace(getattr(facts, f), url=dead + getattr(facts, f).name)
            for f in ("cube", "gt")
        }
        monkeypatch.setitem(pavia.PAVIA_SCENES, key, dataclasses.replace(facts, **files))


@pytest.fixture
def server(monkeypatch):
    srv = LocalServer()
    monkeypatch.setenv("SSAN_DATA_URL", srv.url)
    yield srv
    srv.stop()


def register(
    monkeypatch, cube: bytes, gt: bytes, key: str = "paviau", **facts_changes
) -> pavia.PaviaScene:
    """Make the registry expect exactly these bytes for the scene's cube and gt files."""
    facts = pavia.PAVIA_SCENES[key]
    new = dataclasses.replace(
        facts,
        cube=dataclasses.replace(facts.cube, sha256=sha(cube), size=len(cube)),
        gt=dataclasses.replace(facts.gt, sha256=sha(gt), size=len(gt)),
        **facts_changes,
    )
    monkeypatch.setitem(pavia.PAVIA_SCENES, key, new)
    return new


CUBE = bytes(range(256)) * 40
GT = b"ground truth bytes" * 10


def folder_files() -> list[str]:
    folder = data_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_data_dir_and_mirror_are_read_at_call_time(monkeypatch, tmp_path):
    assert data_dir() == tmp_path / "data"
    monkeypatch.delenv("SSAN_DATA_DIR")
    assert data_dir() == pooch.os_cache("ssan").expanduser()
    assert file_url("PaviaU.mat") == pavia.PAVIA_SCENES["paviau"].cube.url
    monkeypatch.setenv("SSAN_DATA_URL", "https://mirror.example/hsi")
    assert file_url("PaviaU.mat") == "https://mirror.example/hsi/PaviaU.mat"
    monkeypatch.setenv("SSAN_DATA_URL", "https://mirror.example/hsi/")
    assert file_url("Pavia_gt.mat") == "https://mirror.example/hsi/Pavia_gt.mat"


def test_good_file_is_downloaded_verified_and_cached(monkeypatch, server):
    register(monkeypatch, CUBE, GT)
    server.files["PaviaU.mat"] = (CUBE, None)
    assert not is_cached("PaviaU.mat")
    path = fetch("PaviaU.mat")
    assert path == data_dir() / "PaviaU.mat" and path.read_bytes() == CUBE
    assert is_cached("PaviaU.mat") and local_file_note("PaviaU.mat") is None
    assert fetch("PaviaU.mat") == path
    assert server.requests == ["/PaviaU.mat"]  # the second fetch used the cache
    assert folder_files() == ["PaviaU.mat"]


def test_progress_adapter_protocol_is_driven(monkeypatch, server):
    register(monkeypatch, CUBE, GT)
    server.files["PaviaU.mat"] = (CUBE, None)

    class Recorder:
        def __init__(self):
            self.total, self.n, self.updates, self.closed = None, 0, 0, False

        def update(self, k):
            self.n += k
            self.updates += 1

        def reset(self):
            self.n = 0

        def close(self):
            self.closed = True

    bar = Recorder()
    fetch("PaviaU.mat", progressbar=bar)
    assert bar.total == len(CUBE) and bar.n == len(CUBE) and bar.updates >= 2 and bar.closed


def test_progressbar_true_uses_tqdm(monkeypatch, server, capsys):
    register(monkeypatch, CUBE, GT)
    server.files["PaviaU.mat"] = (CUBE, None)
    assert fetch("PaviaU.mat", progressbar=True).read_bytes() == CUBE
    assert "10.2k" in capsys.readouterr().err


def test_wrong_hash_is_rejected_and_leaves_nothing(monkeypatch, server):
    register(monkeypatch, CUBE, GT)
    server.files["PaviaU.mat"] = (CUBE[::-1], None)  # same size, other bytes
    with pytest.raises(DownloadError, match="not the canonical file") as err:
        fetch("PaviaU.mat")
    assert isinstance(err.value, SceneError)
    assert f"put PaviaU.mat and PaviaU_gt.mat in {data_dir()}" in str(err.value)
    assert folder_files() == []


def test_wrong_size_is_rejected_even_with_the_right_hash(monkeypatch, server):
    facts = register(monkeypatch, CUBE, GT)
    monkeypatch.setitem(
        pavia.PAVIA_SCENES,
        "paviau",
        dataclasses.replace(facts, cube=dataclasses.replace(facts.cube, size=len(CUBE) + 1)),
    )
    server.files["PaviaU.mat"] = (CUBE, None)
    with pytest.raises(
        DownloadError, match=f"received {len(CUBE):,} bytes, expected {len(CUBE) + 1:,}"
    ):
        fetch("PaviaU.mat")
    assert folder_files() == []


def test_truncated_body_is_rejected_and_leaves_nothing(monkeypatch, server):
    register(monkeypatch, CUBE, GT)
    server.files["PaviaU.mat"] = (CUBE[:3000], len(CUBE))  # announces the full size, closes early
    with pytest.raises(DownloadError) as err:
        fetch("PaviaU.mat")
    msg = str(err.value)
    assert "connection closed before the whole file arrived" in msg
    assert f"put PaviaU.mat and PaviaU_gt.mat in {data_dir()}" in msg and "SSAN_DATA_URL" in msg
    assert folder_files() == []


def test_http_error_is_reported(monkeypatch, server):
    register(monkeypatch, CUBE, GT)
    with pytest.raises(DownloadError, match="the server answered 404"):
        fetch("PaviaU.mat")
    assert folder_files() == []


def test_hand_placed_files_are_used_without_network(monkeypatch, server):
    register(monkeypatch, CUBE, GT)
    data_dir().mkdir(parents=True)
    (data_dir() / "PaviaU.mat").write_bytes(CUBE)
    other = b"a user's own copy"
    (data_dir() / "PaviaU_gt.mat").write_bytes(other)
    server.stop()

    cube, gt = fetch_scene_files("paviau")
    assert (
        cube.read_bytes() == CUBE and gt.read_bytes() == other
    )  # the differing file is kept, not replaced
    assert server.requests == []
    assert local_file_note("PaviaU.mat") is None
    note = local_file_note("PaviaU_gt.mat")
    assert "differs from the canonical PaviaU_gt.mat" in note and "Delete it" in note


def test_missing_file_without_network_says_where_to_put_files(monkeypatch):
    register(monkeypatch, CUBE, GT)
    monkeypatch.setenv("SSAN_DATA_URL", closed_port_url())
    with pytest.raises(DownloadError) as err:
        fetch_scene_files("paviau")
    msg = str(err.value)
    assert "could not connect" in msg and "No file was saved" in msg
    assert f"put PaviaU.mat and PaviaU_gt.mat in {data_dir()}" in msg
    assert "SSAN_DATA_URL" in msg and "SSAN_DATA_DIR" in msg
    assert folder_files() == []


def test_unknown_file_and_bad_mirror_are_refused(monkeypatch):
    with pytest.raises(DownloadError, match="not a file this project downloads.*PaviaU.mat"):
        fetch("Indian_pines.mat")
    monkeypatch.setenv("SSAN_DATA_URL", "/mnt/mirror")
    with pytest.raises(DownloadError, match="must start with http"):
        fetch("PaviaU_gt.mat")


# --- load_pavia on tiny stand-ins: the facts are patched to a 6x5x4 scene with its own counts ---

TINY_GT = np.array([[1, 1, 2, 2, 0]] * 3 + [[3, 3, 3, 0, 0]] * 3, dtype=np.uint8)
TINY_CUBE = np.arange(6 * 5 * 4, dtype=np.uint16).reshape(6, 5, 4)


def tiny_facts(monkeypatch, gt=TINY_GT):
    cube_b, gt_b = mat_bytes(paviaU=TINY_CUBE), mat_bytes(paviaU_gt=gt)
    facts = register(
        monkeypatch,
        cube_b,
        gt_b,
        shape=(6, 5, 4),
        class_names=("A", "B", "C"),
        class_colors=("#000001", "#000002", "#000003"),
        class_counts=(6, 6, 9),
    )
    return facts, cube_b, gt_b


def test_load_pavia_downloads_and_checks_a_good_scene(monkeypatch, server):
    facts, cube_b, gt_b = tiny_facts(monkeypatch)
    server.files.update({"PaviaU.mat": (cube_b, None), "PaviaU_gt.mat": (gt_b, None)})
    scene = load_scene("PaviaU")
    assert (
        scene.name == "paviau" and scene.cube.shape == (6, 5, 4) and scene.cube.dtype == np.float32
    )
    assert scene.class_names == ("A", "B", "C") and scene.class_colors == facts.class_colors
    assert scene.class_counts().tolist() == [6, 6, 9]
    assert scene.wavelengths_estimated and scene.wavelengths[0] == 430.0
    assert scene.sha256 == facts.cube.sha256
    assert not any("differs" in n for n in scene.notes)
    assert sorted(server.requests) == ["/PaviaU.mat", "/PaviaU_gt.mat"]
    [entry, _] = list_scenes()
    assert entry.cached and entry.download_bytes == 0 and entry.shape == (6, 5) and entry.bands == 4


def test_load_pavia_refuses_wrong_counts_and_shape(monkeypatch):
    facts, cube_b, _ = tiny_facts(monkeypatch)
    data_dir().mkdir(parents=True)
    (data_dir() / "PaviaU.mat").write_bytes(cube_b)
    wrong = TINY_GT.copy()
    wrong[0, 4] = 2  # one more Meadows pixel than published
    (data_dir() / "PaviaU_gt.mat").write_bytes(mat_bytes(paviaU_gt=wrong))
    with pytest.raises(SceneError) as err:
        load_pavia("paviau")
    msg = str(err.value)
    assert "class 2 B: 7 pixels, published 6" in msg and "class 1" not in msg
    assert "delete PaviaU.mat and PaviaU_gt.mat" in msg
    assert (data_dir() / "PaviaU_gt.mat").exists()  # the user's file is reported, never deleted

    monkeypatch.setitem(pavia.PAVIA_SCENES, "paviau", dataclasses.replace(facts, shape=(6, 5, 103)))
    with pytest.raises(SceneError, match="the cube is 6x5x4 but Pavia University is 6x5x103"):
        load_pavia("paviau")


def test_load_pavia_names_a_file_without_the_expected_variable(monkeypatch):
    _, cube_b, gt_b = tiny_facts(monkeypatch)
    data_dir().mkdir(parents=True)
    (data_dir() / "PaviaU.mat").write_bytes(mat_bytes(cube=TINY_CUBE))
    (data_dir() / "PaviaU_gt.mat").write_bytes(gt_b)
    with pytest.raises(
        SceneError, match=r"no variable named 'paviaU'.*cube \(6x5x4 uint16\).*not the canonical"
    ):
        load_pavia("paviau")


def test_list_scenes_counts_missing_bytes(monkeypatch):
    facts = register(monkeypatch, CUBE, GT)
    data_dir().mkdir(parents=True)
    (data_dir() / "PaviaU_gt.mat").write_bytes(GT)
    entries = {e.name: e for e in list_scenes()}
    assert entries["paviau"].download_bytes == facts.cube.size and not entries["paviau"].cached
    assert entries["paviac"].download_bytes == pavia.PAVIAC.download_bytes
    assert entries["paviac"].shape == (1096, 715) and entries["paviac"].bands == 102


def test_load_scene_refuses_gt_for_builtin_and_unknown_specs(tmp_path):
    with pytest.raises(SceneError, match="gt= applies to a .mat path"):
        load_scene("paviau", gt=tmp_path / "x.mat")
    with pytest.raises(SceneError, match="unknown scene 'pavia-u'.*demo, paviau, paviac"):
        load_scene("pavia-u")


def test_load_scene_builds_the_demo_lazily(monkeypatch):
    import sys
    import types

    made = {}
    fake = types.ModuleType("ssan.data.demo")
    fake.make_demo_scene = lambda seed=0: made.setdefault("seed", seed)
    monkeypatch.setitem(sys.modules, "ssan.data.demo", fake)
    assert load_scene("demo", seed=7) == 7 and made == {"seed": 7}
