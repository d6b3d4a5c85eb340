"""`--ray ADDRESS` with nothing there (issue 22, hangs): Ray itself retried 127.0.0.1:1 for ever, ignoring
SIGINT and SIGTERM, and replaced the loopback address by the machine's own. Now a connection is tried
first, with a deadline, and the answer is one line. Needs Ray installed (skipped otherwise); no cluster."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:{port}"])
def test_predict_on_an_address_with_no_cluster_fails_within_the_deadline(tmp_path, address):
    address = address.format(port=free_port())
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ssan", "predict", "--checkpoint", "assets/demo-ssan"]
        + ["--ray", address, "--out", str(tmp_path / "map.png")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,  # Ray's own retries went on past this
        env={**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"},
    )
    took = time.monotonic() - start
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ssan: error: no Ray cluster at ") and "ray start --head" in last, last
    assert "Traceback" not in done.stderr and not (tmp_path / "map.png").exists()
    assert took < 90


def test_the_address_given_is_the_one_tried(monkeypatch):
    from ssan.distributed import cluster

    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "1")  # restored after the test
    tried = []

    def refused(where, timeout):
        tried.append((where, timeout))
        raise OSError(111, "Connection refused")

    monkeypatch.setattr(cluster.socket, "create_connection", refused)
    with pytest.raises(
        ConnectionError, match=r"no Ray cluster at 127.0.0.1:6379 \(Connection refused"
    ):
        with cluster.ray_session("127.0.0.1:6379"):
            pass
    assert tried == [(("127.0.0.1", 6379), cluster.CONNECT_TIMEOUT_S)]
    assert os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
