"""Comparison sweeps and tiled maps on a two-node Ray cluster made on this machine (127.0.0.1 only).

The cluster (two nodes of one CPU each, dashboard off, usage statistics off) is started once
for the module with Ray's own testing utility; every test submits real work to it and checks
the result against the single-process one.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time

import numpy as np
import pytest
import torch

# Read by Ray once, at import: bind every Ray process to 127.0.0.1, send no usage statistics.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")
from ray.cluster_utils import Cluster  # noqa: E402

from ssan.cli import main  # noqa: E402
from ssan.distributed.cluster import ray_session  # noqa: E402
from ssan.distributed.mapping import TileFailedError, predict_map_on_ray  # noqa: E402
from ssan.distributed.sweep import compare_on_ray  # noqa: E402
from ssan.distributed.throughput import measure_sweep  # noqa: E402
from ssan.evaluation.compare import compare, run_one  # noqa: E402
from ssan.evaluation.metrics import predict_map  # noqa: E402
from tests.helpers import TINY, demo_scene, set_args  # noqa: E402

pytestmark = pytest.mark.ray
# The run functions below travel to the workers by value (the workers cannot import this file).
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

DEMO_CHECKPOINT = "assets/demo-ssan"


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes of one CPU each on 127.0.0.1, the driver connected; shut down after the module."""
    local = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    made = Cluster(initialize_head=True, head_node_args={**local, "include_dashboard": False})
    try:
        made.add_node(**local)
        made.wait_for_nodes()
        with ray_session(made.address) as info:
            yield info
    finally:
        made.shutdown()


def test_the_cluster_is_two_loopback_nodes(cluster):
    assert (
        cluster.nodes == 2 and cluster.cpus == 2 and cluster.gpus == 0 and not cluster.started_here
    )
    assert cluster.address.startswith("127.0.0.1:")
    assert {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]} == {"127.0.0.1"}


def test_compare_on_ray_matches_the_sequential_comparison(cluster, demo, tmp_path):
    sequential = compare(
        demo,
        "per-class:10",
        ["knn", "cnn"],
        [0, 1],
        "quick",
        runs_dir=tmp_path,
        device="cpu",
        overrides=TINY,
    )
    seen = []
    distributed = compare_on_ray(
        demo,
        "per-class:10",
        ["knn", "cnn"],
        [0, 1],
        "quick",
        "cpu",
        TINY,
        progress=seen.append,
        info=cluster,
    )
    assert [(r.model, r.seed) for r in distributed.runs] == [
        (r.model, r.seed) for r in sequential.runs
    ]
    assert distributed.splits == sequential.splits
    for ours, theirs in zip(distributed.runs, sequential.runs):
        assert not ours.failed and ours.metrics == theirs.metrics
        assert (
            ours.best_iteration == theirs.best_iteration
            and ours.best_val_accuracy == theirs.best_val_accuracy
        )
        assert ours.host.startswith("127.0.0.1")
    assert [s.to_dict() | {"train_seconds_mean": 0} for s in distributed.summaries()] == [
        s.to_dict() | {"train_seconds_mean": 0} for s in sequential.summaries()
    ]
    assert distributed.complete and "Ray cluster at 127.0.0.1" in distributed.device
    # results streamed back one by one, with a count and the time left
    assert [p.done for p in seen] == [1, 2, 3, 4] and {p.total for p in seen} == {4}
    assert seen[-1].remaining == 0 and all(p.remaining >= 0 for p in seen)


def dies_once_then_runs_or_always_fails(marker_dir):
    """A run function that counts its attempts in `marker_dir`. KNN: the first attempt kills its
    worker, the retry runs. CNN: every attempt raises."""

    def run(scene, split, model, seed, preset, device, overrides):
        marker = os.path.join(marker_dir, f"{model}-{seed}")
        attempts = int(open(marker).read()) if os.path.exists(marker) else 0
        with open(marker, "w") as f:
            f.write(str(attempts + 1))
        if model == "cnn":
            raise ValueError(f"planted failure, attempt {attempts + 1}")
        if attempts == 0:
            os._exit(1)  # the worker process dies as if killed
        return run_one(scene, split, model, seed, preset, device, overrides)

    return run


def test_a_dead_worker_is_retried_and_a_failing_run_is_reported(cluster, demo, tmp_path):
    report = compare_on_ray(
        demo,
        "per-class:10",
        ["knn", "cnn"],
        [0],
        "quick",
        "cpu",
        TINY,
        run=dies_once_then_runs_or_always_fails(str(tmp_path)),
        info=cluster,
    )
    knn, cnn = report.runs
    assert not knn.failed and knn.metrics["oa"] > 0.5
    assert (tmp_path / "knn-0").read_text() == "2"  # died once, retried once
    assert (
        cnn.failed
        and "ValueError: planted failure, attempt 2" in cnn.error
        and "failed twice" in cnn.error
    )
    assert (tmp_path / "cnn-0").read_text() == "2"  # one retry, not more
    assert [s.model for s in report.summaries()] == ["knn"]
    table = report.format_table()
    assert (
        "CNN    0 + 1 failed" in table
        and "failed: CNN seed 0: ValueError: planted failure" in table
    )
    assert any("1 run(s) failed" in line for line in report.describe())


def test_tiled_map_on_ray_equals_the_single_process_map(cluster, shipped):
    fitted = shipped
    scene = demo_scene(shape=(70, 60))
    done = []
    tiled = predict_map_on_ray(
        fitted, scene, tile_rows=16, progress=done.append, info=cluster
    )  # 5 tiles
    np.testing.assert_array_equal(tiled, predict_map(fitted, scene))
    assert sum(done) == 70 * 60 and len(done) == 5
    labelled = predict_map_on_ray(fitted, scene, tile_rows=25, labelled_only=True, info=cluster)
    np.testing.assert_array_equal(labelled, predict_map(fitted, scene, labelled_only=True))
    assert ((labelled == 0) == (scene.labels == 0)).all()


class BrokenNetwork(torch.nn.Module):
    """Reads patches like SSAN, and fails on every forward pass."""

    uses_spectra, uses_patches = False, True

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, spectra, patches):
        raise RuntimeError("planted tile failure")


def test_a_tile_that_fails_twice_ends_the_map_with_an_error(cluster, shipped, small_demo):
    fitted = dataclasses.replace(shipped, network=BrokenNetwork())
    with pytest.raises(
        TileFailedError, match=r"rows 0-59 failed twice: RuntimeError: planted tile failure"
    ):
        predict_map_on_ray(fitted, small_demo, tile_rows=60, info=cluster)


def test_predict_command_with_ray(cluster, tmp_path, capsys):
    out = tmp_path / "map.png"
    code = main(
        [
            "predict",
            "--checkpoint",
            DEMO_CHECKPOINT,
            "--out",
            str(out),
            "--labelled-only",
            "--ray",
            cluster.address,
            "--tile-rows",
            "50",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (
        f"ray: the Ray cluster at {cluster.address}: 2 nodes, 2 CPUs, 0 GPUs; tiles of 50 rows"
        in captured.out
    )
    assert "(labelled only)" in captured.out and out.exists()


def test_compare_command_with_ray_streams_runs_and_saves_the_report(cluster, tmp_path, capsys):
    report = tmp_path / "report.json"
    tiny = set_args(TINY)
    code = main(
        [
            "compare",
            "--scene",
            "demo",
            "--models",
            "knn,rnn",
            "--seeds",
            "0",
            "--split",
            "per-class:10",
            *tiny,
            "--device",
            "cpu",
            "--ray",
            cluster.address,
            "--out",
            str(report),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "[1/2]" in captured.err and "[2/2]" in captured.err and "left" in captured.err
    assert "KNN" in captured.out and "RNN" in captured.out and report.exists()


def test_sweep_throughput_is_measured_both_ways(cluster):
    sweep = measure_sweep(2, device="cpu", address=cluster.address, overrides=TINY)
    assert sweep.same_metrics and sweep.ray_slots == 2 and sweep.runs == 2
    assert sweep.sequential_seconds > 0 and sweep.ray_seconds > 0 and sweep.task_seconds_mean > 0
    assert sweep.ray_runs_per_hour == pytest.approx(3600 * 2 / sweep.ray_seconds)
    assert sweep.runs_per_hour_per_worker == pytest.approx(
        3600 / (sweep.task_seconds_mean + sweep.overhead_seconds_per_run)
    )
    text = sweep.format()
    assert (
        "runs/hour" in text
        and "identical to the sequential ones" in text
        and "each added worker" in text
    )


def sleeps_unless_first(scene, split, model, seed, preset, device, overrides):
    """The first run (KNN, seed 0) runs; every other one would take a minute."""
    if (model, seed) != ("knn", 0):
        time.sleep(60)
    return run_one(scene, split, model, seed, preset, device, overrides)


def test_stop_cancels_the_outstanding_runs_and_keeps_the_finished(cluster, demo):
    stop = threading.Event()
    started = time.perf_counter()
    report = compare_on_ray(
        demo,
        "per-class:10",
        ["knn", "svm"],
        [0, 1],
        "quick",
        "cpu",
        progress=lambda p: stop.set(),
        stop=stop,
        run=sleeps_unless_first,
        info=cluster,
    )
    assert [(r.model, r.seed) for r in report.runs] == [("knn", 0)] and not report.complete
    assert time.perf_counter() - started < 30  # the sleeping runs were cancelled, not waited for
    assert "stopped early" in " ".join(report.describe())
