"""Time the test suite and say how much of the machine's cores it kept busy.

    python scripts/time_suite.py [--window SECONDS] [PYTEST ARGS...]  # e.g. -m "not e2e"

Runs `python -m pytest` with the given arguments (none: pyproject's two xdist workers, the whole
suite) and prints its wall time, the CPU time of the processes it ran and waited for (the xdist
workers, the Streamlit servers and browsers they start) as a share of every core over that wall
time, and, where /proc/stat exists, how busy the whole machine was in each window of the run
(other users' load included, which the suite's own share leaves out). If both shares are near
100%, the wall time is the suite's CPU work divided by the cores, and only less work shortens it.
Exits with pytest's own exit status.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROC_STAT = Path("/proc/stat")


def machine_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU time of every core since boot, in clock ticks; None where /proc/stat is absent."""
    try:
        fields = PROC_STAT.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(f) for f in fields[1:9])
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return total - idle - iowait, total


def busy_share(start: tuple[int, int], end: tuple[int, int]) -> float:
    """The share of all cores' time between two `machine_jiffies` readings that was spent working."""
    total = end[1] - start[1]
    return (end[0] - start[0]) / total if total else 0.0


def sample_machine(window: float, stop: threading.Event) -> list[tuple[int, int]]:
    """`machine_jiffies` read now and every `window` seconds until `stop` is set, then once more
    (so the last window may be shorter); empty where /proc/stat is absent."""
    readings = []
    while (reading := machine_jiffies()) is not None:
        readings.append(reading)
        if len(readings) > 1 and stop.is_set():
            break
        stop.wait(window)
    return readings


def children_cpu_seconds() -> float:
    """User plus system CPU time of every child process waited for so far (and of theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument(
        "--window", type=float, default=30.0, help="seconds per machine-busy sample (default 30)"
    )
    args, pytest_args = parser.parse_known_args(argv)
    if args.window <= 0:
        parser.error(f"--window must be a positive number of seconds; got {args.window:g}.")
    cores = os.cpu_count() or 1
    command = [sys.executable, "-m", "pytest", *pytest_args]
    print("running:", " ".join(command), flush=True)

    stop = threading.Event()
    readings: list[tuple[int, int]] = []
    sampler = threading.Thread(
        target=lambda: readings.extend(sample_machine(args.window, stop)), daemon=True
    )
    cpu_start = children_cpu_seconds()
    sampler.start()
    started = time.perf_counter()
    status = subprocess.run(command, cwd=ROOT, check=False).returncode
    wall = time.perf_counter() - started
    cpu = children_cpu_seconds() - cpu_start
    stop.set()
    sampler.join()

    print(f"\npytest exit status {status}; wall time {wall:,.1f} s on {cores} cores")
    print(
        f"the suite's own CPU time: {cpu:,.0f} s, {cpu / (cores * wall):.1%} of {cores} cores × wall time"
    )
    if readings:
        windows = [busy_share(start, end) for start, end in itertools.pairwise(readings)]
        print(f"the machine, all processes: busy {busy_share(readings[0], readings[-1]):.1%}")
        print(f"  by {args.window:g} s window: " + " ".join(f"{share:.0%}" for share in windows))
    return status


if __name__ == "__main__":
    sys.exit(main())
