"""The comparison on Ray: every (model, seed) run is a task, results stream back as they finish.

The splits are drawn once on the driver (exactly as the sequential `compare` draws them); the
scene, and each seed's split, go into the object store once; each task calls the same
`run_one` the sequential comparison calls, so the report holds the same splits, seeds and
metrics. A run that raises
or whose worker dies is retried once by Ray, then reported as failed with its reason; a
`stop` event cancels the outstanding tasks and the report keeps what finished.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import ray
import torch
from ray.exceptions import RayError, RayTaskError, TaskCancelledError

from ssan.data.scene import Scene
from ssan.data.splits import Split
from ssan.distributed.cluster import (
    ClusterInfo,
    TaskResources,
    cluster_info,
    task_resources,
)
from ssan.evaluation.compare import Report, RunResult, plan_comparison, run_one
from ssan.models import NEURAL_MODELS

RunFunction = Callable[..., RunResult]
_POLL_S = 0.5  # how often the driver looks at `stop` while waiting for results


@dataclass(frozen=True)
class SweepProgress:
    """A finished run as it streams back: how many are done, failed, and the time left at this rate."""

    done: int
    total: int
    failed: int
    elapsed: float
    remaining: float
    result: RunResult


def compare_on_ray(
    scene: Scene,
    split_spec: str = "paper",
    models: list[str] | tuple[str, ...] = ("ssan",),
    seeds: list[int] | tuple[int, ...] = (0,),
    preset: str = "quick",
    device: str | None = None,
    overrides: dict | None = None,
    cpus_per_run: float | None = None,
    gpus_per_run: float | None = None,
    progress: Callable[[SweepProgress], None] | None = None,
    stop: threading.Event | None = None,
    run: RunFunction = run_one,
    info: ClusterInfo | None = None,
) -> Report:
    """`ssan.evaluation.compare.compare` with the runs spread over the connected Ray cluster (see `ray_session`).

    Network runs declare a GPU each where the cluster has GPUs, one CPU otherwise; KNN and SVM
    always run on CPUs. `run` is the function one task calls (the sequential comparison's);
    `info` describes the cluster (as `ray_session` gave it; asked of Ray when not given).
    """
    info = info or cluster_info(started_here=False)
    runs_resources = {
        m: task_resources(info, m in NEURAL_MODELS, cpus_per_run, gpus_per_run) for m in models
    }
    report, splits = plan_comparison(
        scene, split_spec, models, seeds, preset, overrides, _describe(info, runs_resources)
    )
    started = time.perf_counter()
    scene_ref = ray.put(scene)
    remote = ray.remote(_run_task)
    pending: dict = {}
    for seed, split in zip(report.seeds, splits):
        split_ref = ray.put(split)  # once per seed, shared by that seed's runs
        for model in report.models:
            res = runs_resources[model]
            task_device = res.device if device in (None, "auto") else device
            ref = remote.options(
                num_cpus=res.cpus,
                num_gpus=res.gpus,
                max_retries=1,
                retry_exceptions=True,
                name=f"ssan {model} seed {seed}",
            ).remote(
                run,
                scene_ref,
                split_ref,
                model,
                seed,
                preset,
                task_device,
                report.overrides,
                res.threads,
            )
            pending[ref] = (model, seed)

    finished: dict[tuple[str, int], RunResult] = {}
    total = len(pending)
    try:
        while pending:
            if stop is not None and stop.is_set():
                report.complete = False
                break
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=_POLL_S)
            for ref in ready:
                model, seed = pending.pop(ref)
                result = _collect(ref, model, seed)
                finished[model, seed] = result
                if progress is not None:
                    elapsed = time.perf_counter() - started
                    done = len(finished)
                    progress(
                        SweepProgress(
                            done,
                            total,
                            sum(r.failed for r in finished.values()),
                            elapsed,
                            elapsed / done * (total - done),
                            result,
                        )
                    )
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
    report.runs = [
        finished[m, s] for s in report.seeds for m in report.models if (m, s) in finished
    ]
    report.total_seconds = time.perf_counter() - started
    return report


def _run_task(
    run: RunFunction,
    scene: Scene,
    split: Split,
    model: str,
    seed: int,
    preset: str,
    device: str,
    overrides: dict,
    threads: int,
) -> RunResult:
    """One (model, seed) run inside a Ray worker, with as many torch threads as the task has CPUs."""
    torch.set_num_threads(threads)
    result = run(scene, split, model, seed, preset, device, overrides)
    result.host = _host()
    return result


def _collect(ref, model: str, seed: int) -> RunResult:
    """The task's result, or a failed run saying why (after Ray's one retry)."""
    try:
        return ray.get(ref)
    except RayTaskError as err:
        cause = err.cause if isinstance(err.cause, BaseException) else err
        return RunResult.failure(
            model, seed, f"{type(cause).__name__}: {_first_line(cause)} (failed twice)"
        )
    except TaskCancelledError:
        return RunResult.failure(model, seed, "cancelled")
    except RayError as err:  # the worker or its node died, twice
        return RunResult.failure(
            model, seed, f"{type(err).__name__}: {_first_line(err)} (retried once)"
        )


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "no message"


def _describe(info: ClusterInfo, resources: dict[str, TaskResources]) -> str:
    per_run = sorted({r.describe() for r in resources.values()})
    return f"{info.describe()}; each run {' or '.join(per_run)}"


def _host() -> str:
    return f"{ray.util.get_node_ip_address()} ({socket.gethostname()})"
