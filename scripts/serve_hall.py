"""Serve a lecture hall from several Streamlit processes: one `streamlit run app.py` per core on consecutive ports.

    python scripts/serve_hall.py                       # one process per core, ports 8501, 8502, ...
    python scripts/serve_hall.py --processes 4 --port 9000 --address 0.0.0.0
    python scripts/serve_hall.py --nginx > ssan-hall.conf   # the reverse proxy's config, then exit

One Python process runs one script at a time per core it can use (the interpreter lock), so on a machine
with several cores a hall is served by several processes behind a reverse proxy that keeps each browser on
its process (a Streamlit session lives in one process's memory). `--nginx` prints such a config: sticky by
client address (`hash $remote_addr consistent`), websocket upgrade on /_stcore/stream, long read timeouts.

Every process reads the same runs folder ($SSAN_RUNS_DIR, made absolute here, else ./runs) and the same
on-disk caches (class maps and explanations next to the checkpoints); they are written to a temporary
file and renamed, so processes never read each other's half-written files. Each process gets one torch
thread (SSAN_TORCH_THREADS=1): the processes already use every core. Ctrl-C stops them all.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NGINX = """# nginx: {n} Streamlit processes behind one address (sticky per client; websockets upgraded).
upstream ssan_hall {{
    hash $remote_addr consistent;  # a browser stays on the process that holds its session
{servers}
}}
map $http_upgrade $connection_upgrade {{
    default upgrade;
    ''      close;
}}
server {{
    listen 80;
    location / {{
        proxy_pass http://ssan_hall;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $host;
        proxy_read_timeout 86400;  # a student may look at a page for the whole lecture
        proxy_buffering off;
    }}
}}
"""


def cores() -> int:
    """The cores this process may run on."""
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def nginx_config(ports: list[int], backend: str = "127.0.0.1") -> str:
    """The nginx snippet that spreads browsers over `ports`, each browser always on the same one."""
    servers = "\n".join(f"    server {backend}:{port};" for port in ports)
    return NGINX.format(n=len(ports), servers=servers)


def launch(ports: list[int], address: str, extra: list[str]) -> list[subprocess.Popen]:
    """Start one headless Streamlit process per port, sharing the runs folder, one torch thread each."""
    env = os.environ | {
        "SSAN_RUNS_DIR": str(
            Path(os.environ.get("SSAN_RUNS_DIR", "").strip() or ROOT / "runs").resolve()
        ),
        "SSAN_TORCH_THREADS": os.environ.get("SSAN_TORCH_THREADS", "1"),
    }
    procs = []
    for port in ports:
        args = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true"]
        args += [
            f"--server.address={address}",
            f"--server.port={port}",
            "--browser.gatherUsageStats=false",
        ]
        procs.append(subprocess.Popen(args + extra, cwd=ROOT, env=env, start_new_session=True))
    return procs


def wait_ready(ports: list[int], procs: list[subprocess.Popen], timeout: float = 120.0) -> None:
    """Return once every process answers its health check; RuntimeError when one exits or stays silent."""
    end = time.monotonic() + timeout
    pending = list(zip(ports, procs))
    while pending:
        if time.monotonic() > end:
            raise RuntimeError(
                f"ports {[p for p, _ in pending]} did not answer within {timeout:.0f} s"
            )
        port, proc = pending[0]
        if proc.poll() is not None:
            raise RuntimeError(f"the process on port {port} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    pending.pop(0)
                    continue
        except OSError:
            pass
        time.sleep(0.3)


def stop(procs: list[subprocess.Popen]) -> None:
    """Stop every process (their whole groups), waiting up to 10 s each before killing."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--processes", type=int, default=cores(), help="Streamlit processes (default: one per core)"
    )
    p.add_argument(
        "--port", type=int, default=8501, help="port of the first process; the others follow"
    )
    p.add_argument(
        "--address", default="127.0.0.1", help="address to listen on (0.0.0.0: the hall's network)"
    )
    p.add_argument(
        "--nginx",
        action="store_true",
        help="print the reverse proxy's config for these ports, then exit",
    )
    p.add_argument(
        "--server-arg", action="append", default=[], help="extra `streamlit run` option, repeatable"
    )
    args = p.parse_args(argv)
    if args.processes < 1 or not 1024 <= args.port <= 65535 - args.processes:
        p.error(
            "--processes must be at least 1 and --port leave room for them below 65536 (e.g. 8501)"
        )
    ports = [args.port + i for i in range(args.processes)]
    if args.nginx:
        print(nginx_config(ports))
        return 0
    procs = launch(ports, args.address, args.server_arg)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        wait_ready(ports, procs)
        print(
            f"serving on ports {ports[0]}–{ports[-1]} ({len(ports)} processes); Ctrl-C stops them",
            flush=True,
        )
        while all(proc.poll() is None for proc in procs):
            time.sleep(1)
        print("a process exited; stopping the others", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(procs)


if __name__ == "__main__":
    sys.exit(main())
