"""What the machine is and how fast it multiplies matrices: the yardsticks `ssan bench` measures against."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import torch

GEMM_SIZE = 2048
GEMM_SECONDS = 1.0


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo, else platform)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gemm_gflops(
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    size: int = GEMM_SIZE,
    seconds: float = GEMM_SECONDS,
) -> float:
    """The device's dense matrix-multiply rate in GFLOP/s (2 n^3 per n x n product), with torch's own GEMM.

    The best of several timed rounds within about `seconds`, so a moment of competing load does not
    lower the yardstick; measured in the same run as what it is compared with.
    """
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    out = torch.mm(a, b)
    synchronize(device)
    best, spent = 0.0, 0.0
    while spent < seconds or best == 0.0:
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        synchronize(device)
        took = time.perf_counter() - start
        spent += took
        best = max(best, 2 * size**3 / took / 1e9)
    return best


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer stops when the work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


THREADS_ENV = "SSAN_TORCH_THREADS"


def torch_threads(requested: int | None = None) -> int:
    """Torch's intra-op thread count, the same rule for the CLI and the app: `requested` (the CLI's
    --threads), else $SSAN_TORCH_THREADS, else one fewer than the cores this process may use.

    Leaving a core free matters most on a small machine: with every core in torch's pool, its threads
    spin-wait against the app's server (or anything else running) and training slows several times.
    """
    if requested is not None:
        return requested
    text = os.environ.get(THREADS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(
                f"{THREADS_ENV}={text!r}: expected a positive whole number of threads."
            )
        return int(text)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) - 1)
