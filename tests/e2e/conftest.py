"""Start the app with `streamlit run` on a free local port, and point pytest-playwright at Debian's Chromium.

The browser tests are one xdist group (tests/conftest.py): one worker runs them, with one server."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

PORT_TAKEN = ("is not available", "already in use")  # what Streamlit logs when its port is taken


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory) -> Path:
    """The app's runs folder for this session (models trained in the browser land here)."""
    return tmp_path_factory.mktemp("runs")


def _start_streamlit(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "app.py"),
                "--server.headless=true",
                "--server.address=127.0.0.1",
                f"--server.port={port}",
                "--browser.gatherUsageStats=false",
                "--server.fileWatcherType=none",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _healthy(proc: subprocess.Popen, url: str, log: Path) -> bool:
    """Wait until the server answers (True), or exits because its port was taken meanwhile (False)."""
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            if any(words in log.read_text() for words in PORT_TAKEN):
                return False
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"streamlit did not come up within 60 s:\n{log.read_text()}")
        time.sleep(0.2)


@contextlib.contextmanager
def serving(runs_dir: Path, tmp_path_factory) -> Iterator[str]:
    """A fresh `streamlit run app.py` (headless, local only) saving models under `runs_dir`: its URL, the
    server stopped on exit.

    The port is a free one chosen by the OS; another process (a Ray node, another xdist worker) may
    take it before Streamlit binds it, so the server is started on a new port, up to three times."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is absent: install Debian's Chromium (apt-get install -y chromium)"
        )
    env = {**os.environ, "SSAN_RUNS_DIR": str(runs_dir)}
    for _attempt in range(3):
        port = _free_port()
        log = tmp_path_factory.mktemp("streamlit") / "server.log"
        proc = _start_streamlit(port, env, log)
        url = f"http://127.0.0.1:{port}"
        try:
            if _healthy(proc, url, log):
                yield url
                return
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    pytest.fail(f"streamlit found its port taken three times:\n{log.read_text()}")


@pytest.fixture(scope="session")
def app_url(runs_dir, tmp_path_factory):
    """The URL of the session's server, saving models in `runs_dir`."""
    with serving(runs_dir, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="session")
def serve(tmp_path_factory):
    """`serve(runs_dir)`: a server of its own for a test that needs its own runs folder (a context manager)."""
    return lambda runs_dir: serving(runs_dir, tmp_path_factory)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is absent: install Debian's Chromium (apt-get install -y chromium)"
        )
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "viewport": {"width": 1360, "height": 1000},
        "color_scheme": "light",
    }


@pytest.fixture(autouse=True)
def local_only(page):
    """Refuse every request that leaves this machine, and fail the test if the app made one."""
    outside: list[str] = []

    def guard(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", guard)
    yield
    assert not outside, f"the app tried to reach the network: {outside}"
