"""The background training job: runs, reports progress, cancels keeping the best model, surfaces errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ssan.data.splits import make_split
from ssan.models.checkpoints import load_checkpoint
from tests.helpers import TINY_JOB as TINY
from tests.helpers import tiny_job_scene, tiny_job_split, toy_scene, wait_until
from ui.jobs import TrainJob
from ui.tasks import CANCELLED, DONE, FAILED, PENDING


@pytest.fixture(scope="module")
def scene():
    return tiny_job_scene()


@pytest.fixture(scope="module")
def split(scene):
    return tiny_job_split(scene)


def test_job_trains_evaluates_and_saves(scene, split, tmp_path):
    job = TrainJob(
        scene, split, ("ssan",), "quick", seed=0, device="cpu", overrides=TINY, runs_dir=tmp_path
    )
    assert job.snapshot().state == PENDING
    job.start()
    assert job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == DONE and snap.error is None and snap.fraction == 1.0
    assert [h["iteration"] for h in snap.history] == list(range(1, 13))
    assert [h["iteration"] for h in snap.history if h["val_accuracy"] is not None] == [4, 8, 12]
    assert snap.progress.iteration == snap.progress.iterations == 12
    assert set(snap.metrics[0]) >= {"oa", "aa", "kappa", "per_class", "confusion"}
    (path,) = snap.checkpoints
    assert path.parent == tmp_path / "toy" and path.name.startswith(
        "ssan-quick-per-class-10-seed0-"
    )
    saved = load_checkpoint(path)
    assert saved.metrics == snap.metrics[0]
    assert job.results[0].metrics == snap.metrics[0]


def test_progress_is_readable_while_running(scene, split):
    seen = []
    job = TrainJob(
        scene,
        split,
        ("ssan",),
        "quick",
        seed=0,
        device="cpu",
        overrides={**TINY, "iterations": 100_000, "eval_every": 2},
    )
    job.start()
    wait_until(lambda: len(job.snapshot().history) >= 5)
    for _ in range(3):
        snap = job.snapshot()
        seen.append(len(snap.history))
        assert snap.state == "running" and not snap.finished
        assert 0.0 <= snap.fraction < 1.0 and snap.current_model == "ssan"
    job.cancel()
    assert job.join(timeout=60)
    assert seen == sorted(seen) and seen[0] >= 5


def test_cancel_keeps_the_best_model(scene, split, tmp_path):
    job = TrainJob(
        scene,
        split,
        ("ssan", "cnn"),
        "quick",
        seed=0,
        device="cpu",
        overrides={**TINY, "iterations": 100_000, "eval_every": 2},
        runs_dir=tmp_path,
    )
    job.start()
    wait_until(lambda: sum(h["val_accuracy"] is not None for h in job.snapshot().history) >= 2)
    job.cancel()
    assert job.join(timeout=60)
    snap = job.snapshot()
    assert snap.state == CANCELLED
    assert len(snap.checkpoints) == 1, "the second model is skipped after a cancel"
    fitted = job.results[0]
    assert fitted.cancelled and fitted.best_val_accuracy is not None
    best = max(h["val_accuracy"] for h in fitted.history if h["val_accuracy"] is not None)
    assert fitted.best_val_accuracy == best
    assert load_checkpoint(snap.checkpoints[0]).cancelled


def test_several_models_run_in_turn(scene, split, tmp_path):
    job = TrainJob(
        scene,
        split,
        ("knn", "rnn"),
        "quick",
        seed=0,
        device="cpu",
        overrides=TINY,
        runs_dir=tmp_path,
    )
    job.run()  # in this thread
    snap = job.snapshot()
    assert snap.state == DONE and snap.current == 1 and len(snap.checkpoints) == 2
    assert [f.model_name for f in job.results] == ["knn", "rnn"]
    assert all(0.0 <= m["oa"] <= 1.0 for m in snap.metrics)


def test_errors_are_surfaced_not_raised(scene, split):
    other = make_split(
        toy_scene(shape=(32, 28), n_bands=8, n_classes=3), "per-class:10", seed=0, patch_size=7
    )
    job = TrainJob(scene, other, ("ssan",), "quick", device="cpu", overrides=TINY)
    job.start()
    assert job.join(timeout=30)
    snap = job.snapshot()
    assert snap.state == FAILED and "split is for a (32, 28) image" in snap.error
    assert snap.checkpoints == () and job.results == []


def test_bad_settings_are_refused_before_starting(scene, split):
    with pytest.raises(ValueError, match="unknown model 'svn'"):
        TrainJob(scene, split, ("ssan", "svn"))
    with pytest.raises(ValueError, match="iterations must be a positive integer"):
        TrainJob(scene, split, ("ssan",), overrides={"iterations": 0})
    with pytest.raises(ValueError, match="at least one model"):
        TrainJob(scene, split, ())


def test_snapshot_is_a_copy(scene, split):
    job = TrainJob(scene, split, ("ssan",), "quick", device="cpu", overrides=TINY)
    job.run()
    snap = job.snapshot()
    assert isinstance(snap.history, tuple)
    with pytest.raises(AttributeError):
        snap.state = "running"  # frozen
    assert isinstance(job.stop, threading.Event) and not job.stop.is_set()
    assert np.isfinite([h["loss"] for h in snap.history]).all()
