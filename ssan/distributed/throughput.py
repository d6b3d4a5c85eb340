"""Comparison runs per hour: the same small sweep sequentially and on a local Ray instance.

The sweep is `runs` quick CNN runs (one seed each) on the demo scene, the cheapest network
run there is, so Ray's fixed costs show as they are. On one machine Ray cannot beat the
sequential loop by more than its number of cores; what the measurement gives is Ray's
overhead per run (scheduling, shipping the scene, starting workers and importing torch in
them), and from it the runs per hour each added worker (with its own CPU or GPU) would add.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from ssan.data.catalog import load_scene
from ssan.distributed.cluster import ray_session
from ssan.distributed.sweep import compare_on_ray
from ssan.evaluation.compare import compare
from ssan.training.trainer import describe_device, format_duration, pick_device

SWEEP_SCENE = "demo"
SWEEP_MODEL = "cnn"
SWEEP_PRESET = "quick"
SWEEP_SPLIT = "per-class:30"


@dataclass(frozen=True)
class SweepBench:
    """Wall times of one sweep run both ways, and what they imply per worker."""

    runs: int
    scene: str
    model: str
    preset: str
    split: str
    sequential_device: str
    sequential_seconds: float
    ray_cluster: str
    ray_slots: int
    ray_start_seconds: float
    ray_seconds: float
    task_seconds_mean: float
    same_metrics: bool

    @property
    def sequential_runs_per_hour(self) -> float:
        return 3600 * self.runs / self.sequential_seconds

    @property
    def ray_runs_per_hour(self) -> float:
        return 3600 * self.runs / self.ray_seconds

    @property
    def overhead_seconds_per_run(self) -> float:
        """Seconds a worker slot spends per run beyond training and testing (scheduling, transfers, start-up)."""
        return max(
            0.0,
            self.ray_seconds * min(self.ray_slots, self.runs) / self.runs - self.task_seconds_mean,
        )

    @property
    def runs_per_hour_per_worker(self) -> float:
        """What each added worker (one task slot) adds, at the measured per-run time plus overhead."""
        return 3600 / (self.task_seconds_mean + self.overhead_seconds_per_run)

    def to_dict(self) -> dict:
        return {
            **self.__dict__,
            "sequential_runs_per_hour": self.sequential_runs_per_hour,
            "ray_runs_per_hour": self.ray_runs_per_hour,
            "overhead_seconds_per_run": self.overhead_seconds_per_run,
            "runs_per_hour_per_worker": self.runs_per_hour_per_worker,
        }

    def format(self) -> str:
        """The sweep line of `ssan bench --sweep`, with how each figure was taken."""
        return "\n".join(
            [
                f"sweep: {self.runs} runs of {self.model.upper()} ({self.preset}) on the {self.scene} scene, split "
                f"{self.split}, one seed per run",
                f"  sequential on {self.sequential_device}: {self.sequential_runs_per_hour:,.0f} runs/hour "
                f"({self.sequential_seconds / self.runs:.1f} s per run)",
                f"  on Ray, {self.ray_cluster}, {self.ray_slots} task slot{'s' if self.ray_slots != 1 else ''}: "
                f"{self.ray_runs_per_hour:,.0f} runs/hour ({format_duration(self.ray_seconds)} for the sweep, plus "
                f"{self.ray_start_seconds:.1f} s to start Ray); metrics "
                + (
                    "identical to the sequential ones"
                    if self.same_metrics
                    else "DIFFER from the sequential ones"
                ),
                f"  Ray overhead: {self.overhead_seconds_per_run:.1f} s per run beyond its {self.task_seconds_mean:.1f} s of "
                "training and testing inside the worker (scheduling, shipping the scene, starting workers, importing torch)",
                f"  expected scaling: each added worker with its own CPU adds about {self.runs_per_hour_per_worker:,.0f} "
                "runs/hour of this kind (longer runs amortise the overhead; a GPU worker adds 3600 / its per-run seconds)",
            ]
        )


def measure_sweep(
    runs: int = 4,
    device: str | None = None,
    address: str | None = None,
    overrides: dict | None = None,
    progress: Callable[[str], None] | None = None,
) -> SweepBench:
    """Run the same sweep sequentially here and then on Ray (`address`, default a local instance); time both.

    `overrides` change the quick preset's settings (e.g. fewer iterations) for both sweeps.
    """
    say = progress or (lambda _msg: None)
    scene = load_scene(SWEEP_SCENE)
    seeds = list(range(runs))
    dev = pick_device(device)
    say(f"sweep: {runs} sequential {SWEEP_MODEL.upper()} runs on {describe_device(dev)}")
    start = time.perf_counter()
    # Every run trained, none read back from a runs folder.
    with tempfile.TemporaryDirectory() as runs_dir:
        sequential = compare(
            scene,
            SWEEP_SPLIT,
            [SWEEP_MODEL],
            seeds,
            SWEEP_PRESET,
            runs_dir=runs_dir,
            reuse=False,
            device=device,
            overrides=overrides,
        )
    sequential_seconds = time.perf_counter() - start
    say("sweep: starting Ray")
    start = time.perf_counter()
    with ray_session(address) as info:
        ray_start = time.perf_counter() - start
        say(f"sweep: the same {runs} runs on {info.describe()}")
        start = time.perf_counter()
        distributed = compare_on_ray(
            scene, SWEEP_SPLIT, [SWEEP_MODEL], seeds, SWEEP_PRESET, device, overrides, info=info
        )
        ray_seconds = time.perf_counter() - start
    done = [r for r in distributed.runs if not r.failed]
    if not done:
        raise ChildProcessError(
            f"every run of the sweep failed on Ray: {distributed.runs[0].error if distributed.runs else ''}"
        )
    slots = int(info.gpus) if info.gpus >= 1 else int(info.cpus)
    return SweepBench(
        runs=runs,
        scene=SWEEP_SCENE,
        model=SWEEP_MODEL,
        preset=SWEEP_PRESET,
        split=SWEEP_SPLIT,
        sequential_device=describe_device(dev),
        sequential_seconds=sequential_seconds,
        ray_cluster=info.describe(),
        ray_slots=max(1, slots),
        ray_start_seconds=ray_start,
        ray_seconds=ray_seconds,
        task_seconds_mean=sum(r.train_seconds + r.eval_seconds for r in done) / len(done),
        same_metrics=[r.metrics for r in sequential.runs] == [r.metrics for r in distributed.runs],
    )
