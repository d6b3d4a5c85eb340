"""Connecting to Ray: an existing cluster by address, or a local one started here on 127.0.0.1.

`ray_session(address)` is the one way in: `None` or "local" starts Ray on this machine bound to
the loopback interface with the dashboard and usage statistics off; anything else ("auto",
"HOST:6379", "ray://HOST:10001") connects to a cluster started with `ray start --head`, after a
plain connection to HOST:PORT succeeds within CONNECT_TIMEOUT_S (Ray itself retries for ever), and
a loopback HOST stays loopback (Ray would replace it by the machine's own address). The
driver's own `ssan` package is shipped to the workers (a Ray `py_modules` runtime
environment), so cluster nodes run the same code as the machine that submits the work; they
need the requirements installed, not the package.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOCAL = "local"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CONNECT_TIMEOUT_S = (
    10.0  # to open a connection to a cluster's address before Ray is asked to join it
)
RAY_PIN = "ray==2.60.0"
INSTALL_HINT = f"pip install -r requirements-ray.txt (it pins {RAY_PIN})"
# Ray reads this once, at import: "0" makes it treat the machine as a single-node setup whose
# processes bind to 127.0.0.1 instead of the address the machine is reachable at.
_SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class RayNotInstalledError(ValueError):
    """`--ray` was asked for but Ray is not installed."""


@dataclass(frozen=True)
class ClusterInfo:
    """What the driver is connected to: address, alive nodes, resources, and whether it was started here."""

    address: str
    nodes: int
    cpus: float
    gpus: float
    max_node_cpus: float
    max_node_gpus: float
    started_here: bool

    def describe(self) -> str:
        where = (
            "a Ray instance started on this machine (127.0.0.1)"
            if self.started_here
            else f"the Ray cluster at {self.address}"
        )
        return (
            f"{where}: {self.nodes} node{'s' if self.nodes != 1 else ''}, {_count(self.cpus)} CPUs, "
            f"{_count(self.gpus)} GPUs"
        )


@dataclass(frozen=True)
class TaskResources:
    """What one Ray task declares: CPUs (torch threads too) and GPUs (0 = runs on the CPU)."""

    cpus: float = 1.0
    gpus: float = 0.0

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus))

    @property
    def device(self) -> str:
        """The device a task with these resources trains on: Ray hides the GPUs from a task that declares none."""
        return "auto" if self.gpus > 0 else "cpu"

    def describe(self) -> str:
        return f"{_count(self.cpus)} CPU" + (f" + {_count(self.gpus)} GPU" if self.gpus else "")


def require_ray():
    """The `ray` module, or a clear error saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise RayNotInstalledError(
            f"--ray needs Ray, which is not installed in this environment: {INSTALL_HINT}"
        ) from err
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[ClusterInfo]:
    """Connected to Ray inside the block; Ray is shut down after it unless a session was already open.

    `address` None or "local" starts Ray here (all cores, or `num_cpus`), bound to 127.0.0.1,
    dashboard off; otherwise it is the address of a running cluster.
    """
    local = address is None or address.strip().lower() in ("", LOCAL)
    host_port = None if local else _host_port(address)
    on_loopback = local or (host_port is not None and host_port[0] in LOOPBACK)
    if (
        on_loopback
    ):  # Ray would replace a loopback address by the machine's own: stay on the one given
        os.environ[_SINGLE_MACHINE_ENV] = "0"
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    imported_before = "ray" in sys.modules
    ray = require_ray()
    if ray.is_initialized():
        yield cluster_info(started_here=False)
        return
    if host_port is not None:
        _check_reachable(address, *host_port)  # Ray itself retries an unreachable address for ever
    if on_loopback and imported_before:
        # Ray was imported before the variable above was set; this is the constant it was read into.
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    import ssan

    options: dict = {
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "runtime_env": {
            "py_modules": [str(Path(ssan.__file__).parent)],
            "excludes": ["__pycache__"],
        },
    }
    if local:
        options.update(address=LOCAL, include_dashboard=False, num_cpus=num_cpus)
    else:
        options.update(address=address.strip())
    try:
        ray.init(**options)
    except ConnectionError as err:
        raise ConnectionError(
            f"could not connect to a Ray cluster at {address!r} ({err}); start one with "
            "`ray start --head` and pass the address it prints, or use --ray local"
        ) from err
    try:
        yield cluster_info(started_here=local)
    finally:
        ray.shutdown()


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of "HOST:PORT" or "ray://HOST:PORT"; None for "auto" or anything Ray resolves itself."""
    text = address.strip().removeprefix("ray://")
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _check_reachable(address: str, host: str, port: int) -> None:
    """Refuse, within CONNECT_TIMEOUT_S, an address where nothing accepts a connection."""
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        why = "no answer" if isinstance(err, TimeoutError) else (err.strerror or type(err).__name__)
        raise ConnectionError(
            f"no Ray cluster at {address.strip()} ({why} within {CONNECT_TIMEOUT_S:g} s); start one with "
            "`ray start --head` and pass the address it prints, or use --ray local"
        ) from None


def cluster_info(started_here: bool) -> ClusterInfo:
    """Alive nodes and total resources of the cluster the driver is connected to."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    per_node = [n.get("Resources", {}) for n in nodes]
    total = ray.cluster_resources()
    return ClusterInfo(
        address=ray.get_runtime_context().gcs_address,
        nodes=len(nodes),
        cpus=float(total.get("CPU", 0)),
        gpus=float(total.get("GPU", 0)),
        max_node_cpus=max((float(r.get("CPU", 0)) for r in per_node), default=0.0),
        max_node_gpus=max((float(r.get("GPU", 0)) for r in per_node), default=0.0),
        started_here=started_here,
    )


def task_resources(
    info: ClusterInfo, neural: bool, cpus: float | None = None, gpus: float | None = None
) -> TaskResources:
    """Per-task resources: a GPU for a network where the cluster has GPUs, else one CPU; overrides checked."""
    cpus = 1.0 if cpus is None else float(cpus)
    gpus = (1.0 if neural and info.max_node_gpus >= 1 else 0.0) if gpus is None else float(gpus)
    if cpus <= 0 or gpus < 0:
        raise ValueError(
            f"each task needs more than 0 CPUs and at least 0 GPUs; got {cpus:g} CPUs, {gpus:g} GPUs"
        )
    if cpus > info.max_node_cpus or gpus > info.max_node_gpus:
        raise ValueError(
            f"a task asking for {_count(cpus)} CPUs and {_count(gpus)} GPUs would never start: the "
            f"largest node of {info.describe()} has {_count(info.max_node_cpus)} CPUs and "
            f"{_count(info.max_node_gpus)} GPUs"
        )
    return TaskResources(cpus, gpus)


def _count(value: float) -> str:
    return f"{value:g}"
