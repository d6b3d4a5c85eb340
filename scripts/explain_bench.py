"""Time the "Does attention explain?" tests: attributions and deletion curves for N pixels, all rankings.

    python scripts/explain_bench.py                       # the quick-preset SSAN, 500 pixels, 1 thread
    python scripts/explain_bench.py --checkpoint assets/demo-ssan --threads 2

Without --checkpoint it builds an SSAN with the quick preset on the demo scene and trains it for
a few steps: the timing depends on the network's size, not on how well it is trained. Prints one
line per stage, the wall-clock total, the process's CPU time (on a busy shared machine the wall
clock mostly measures the other processes; with --threads 1 the CPU time is what an idle core
takes) and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: make `ssan` importable
    sys.path.insert(0, str(ROOT))

from ssan.data.catalog import load_scene  # noqa: E402
from ssan.data.splits import make_split  # noqa: E402
from ssan.explain import explain_model  # noqa: E402
from ssan.models.checkpoints import load_checkpoint  # noqa: E402
from ssan.training.trainer import train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint",
        help="a checkpoint folder (default: a quick-preset SSAN trained for 5 steps)",
    )
    parser.add_argument("--pixels", type=int, default=500)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a busy 2-core machine two threads spin against each other)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scene = load_scene("demo")
    if args.checkpoint:
        fitted = load_checkpoint(args.checkpoint)
    else:
        fitted = train(
            scene,
            make_split(scene, "per-class:30", 0),
            "ssan",
            "quick",
            device="cpu",
            overrides={"iterations": 5, "eval_every": 5},
        )
    params = sum(p.numel() for p in fitted.network.parameters())
    start, cpu = time.perf_counter(), time.process_time()
    explanation = explain_model(fitted, scene, args.pixels, seed=0)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"model: {fitted.summary()} ({params:,} parameters); {args.pixels} pixels; {args.threads} torch threads"
    )
    for stage, seconds in explanation.seconds.items():
        print(f"{stage:>18}: {seconds:6.1f} s")
    deletion = sum(s for k, s in explanation.seconds.items() if "deletion" in k)
    print(f"{'deletion curves':>18}: {deletion:6.1f} s (every ranking, both inputs)")
    print(
        f"{'total':>18}: {total:6.1f} s wall clock, {cpu:6.1f} s CPU time; load average "
        + " ".join(f"{v:.1f}" for v in os.getloadavg())
        + f" on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
