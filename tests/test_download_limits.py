"""Downloads that stall or are interrupted (issue 9, item 6): an overall deadline rather than a per-read
timeout, nothing partial left by an error or a signal, stale temporaries removed by the next run, and
Ctrl-C reported as an interruption (exit 130). Servers are local (127.0.0.1) only."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ssan.data import download, pavia
from ssan.data.download import DownloadError, data_dir, fetch

ROOT = Path(__file__).resolve().parents[1]
BODY = bytes(range(256)) * 40  # 10,240 bytes


class TricklingServer:
    """Announces BODY in full, then sends one byte every `interval` seconds (never idle for a whole read timeout)."""

    def __init__(self, interval: float) -> None:
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                for byte in BODY:
                    if server.stopping.wait(interval):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/"

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def trickle(monkeypatch, tmp_path):
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(download, "RETRIES", 0)
    srv = TricklingServer(interval=0.2)
    monkeypatch.setenv("SSAN_DATA_URL", srv.url)
    facts = pavia.PAVIA_SCENES["paviau"]
    gt = dataclasses.replace(facts.gt, sha256=hashlib.sha256(BODY).hexdigest(), size=len(BODY))
    monkeypatch.setitem(pavia.PAVIA_SCENES, "paviau", dataclasses.replace(facts, gt=gt))
    yield srv
    srv.stop()


def test_a_trickling_server_meets_the_overall_deadline(trickle, monkeypatch):
    monkeypatch.setattr(download, "TIMEOUT_S", 1)  # each read gets a byte well within 1 s
    monkeypatch.setattr(download, "MIN_BYTES_PER_S", 10_000)  # so 10,240 bytes may take 1 + 1.02 s
    outcome: list = []

    def run() -> None:
        try:
            fetch(pavia.PAVIA_SCENES["paviau"].gt.name)
        except DownloadError as exc:
            outcome.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the download was not stopped by an overall deadline"
    assert time.monotonic() - started < 15
    message = str(outcome[0])
    assert (
        "did not arrive within 2 s (10,240 bytes at the slowest allowed average of 10 kB/s, plus 1 s to connect)"
        in message
    )
    assert "too slow or stalled" in message and "\n" not in message
    assert list(data_dir().iterdir()) == []


def test_stale_temporaries_are_removed_by_the_next_download(trickle, monkeypatch, tmp_path):
    folder = data_dir()
    folder.mkdir(parents=True)
    (folder / "tmpab3_x9zq").write_bytes(b"half a file from a killed run")
    (folder / "notes.txt").write_text("mine")
    monkeypatch.setattr(download, "MIN_BYTES_PER_S", 10**9)
    monkeypatch.setattr(download, "TIMEOUT_S", 0.5)
    with pytest.raises(DownloadError):
        fetch(pavia.PAVIA_SCENES["paviau"].gt.name)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


CHILD = """
import dataclasses, sys
from ssan import cli
from ssan.data import pavia
facts = pavia.PAVIA_SCENES["paviau"]
pavia.PAVIA_SCENES["paviau"] = dataclasses.replace(facts, gt=dataclasses.replace(facts.gt, size={size}, sha256="{sha}"))
sys.exit(cli.main(["data", "fetch", "paviau"]))
"""


def fetch_in_child_then_signal(trickle, tmp_path, signum: int) -> subprocess.CompletedProcess:
    """Start `ssan data fetch` against the trickling server, wait until its temporary file exists, signal it."""
    folder = tmp_path / "data"
    env = {**os.environ, "SSAN_DATA_DIR": str(folder), "SSAN_DATA_URL": trickle.url}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(size=len(BODY), sha=hashlib.sha256(BODY).hexdigest())],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 60
        while not (folder.is_dir() and any(p.name.startswith("tmp") for p in folder.iterdir())):
            assert child.poll() is None and time.monotonic() < end, (
                child.stderr.read() if child.poll() else "slow"
            )
            time.sleep(0.05)
        time.sleep(0.5)  # well into the transfer
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert list(folder.iterdir()) == [], "a partial file survived the signal"
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def test_sigterm_leaves_nothing_partial(trickle, tmp_path):
    done = fetch_in_child_then_signal(trickle, tmp_path, signal.SIGTERM)
    assert done.returncode == -signal.SIGTERM and "Traceback" not in done.stderr


def test_ctrl_c_is_reported_as_interrupted(trickle, tmp_path):
    done = fetch_in_child_then_signal(trickle, tmp_path, signal.SIGINT)
    assert done.returncode == 130 and "ssan: interrupted\n" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "connection" not in done.stderr


class FloodingServer:
    """Serves an endless body (no Content-Length) in 64 KiB blocks and counts what it managed to send."""

    def __init__(self, most: int) -> None:
        self.sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.end_headers()
                block = bytes(range(256)) * 256
                while server.sent < most:
                    try:
                        self.wfile.write(block)
                    except OSError:
                        return
                    server.sent += len(block)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_mirror_streaming_more_than_the_file_is_cut_off_at_the_expected_size(
    trickle, monkeypatch
):
    """Issue 22: an 11 KB file from a mirror streaming 400 MB was written in full before its size was checked."""
    flood = FloodingServer(most=200 * 2**20)
    monkeypatch.setenv("SSAN_DATA_URL", f"http://127.0.0.1:{flood.httpd.server_port}/")
    try:
        with pytest.raises(DownloadError, match=r"sent more than the expected 10,240 bytes") as err:
            fetch(pavia.PAVIA_SCENES["paviau"].gt.name)
        assert "\n" not in str(err.value)
        time.sleep(0.2)
        assert flood.sent < 32 * 2**20, (
            f"{flood.sent:,} bytes were sent before the download stopped"
        )
        assert list(data_dir().iterdir()) == []
    finally:
        flood.stop()
