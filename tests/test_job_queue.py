"""No job outlives its session, and jobs share the machine (issue 9, item 4): one process-wide queue runs
at most N jobs at once, a waiting job knows its place, and a job whose owner is gone is cancelled,
keeping its best checkpoint."""

from __future__ import annotations

import threading
import time

import pytest

from ssan.models.checkpoints import load_checkpoint
from tests.helpers import TINY_JOB as TINY
from tests.helpers import tiny_job_scene, tiny_job_split, wait_until
from ui.jobs import TrainJob
from ui.tasks import CANCELLED, DONE, PENDING, RUNNING, Pool, max_jobs

LONG = {**TINY, "iterations": 100_000, "eval_every": 5}


@pytest.fixture(scope="module")
def scene():
    return tiny_job_scene()


@pytest.fixture(scope="module")
def split(scene):
    return tiny_job_split(scene)


def started(job: TrainJob) -> bool:
    snap = job.snapshot()
    return snap.state == RUNNING and snap.progress is not None and snap.progress.iteration >= 6


def test_one_job_at_a_time_and_the_waiting_one_knows_its_place(scene, split):
    queue = Pool(limit=1)
    first = TrainJob(
        scene, split, ("ssan",), "quick", overrides=LONG, device="cpu", pool=queue
    ).start()
    wait_until(lambda: started(first))
    second = TrainJob(
        scene, split, ("ssan",), "quick", overrides=TINY, device="cpu", pool=queue
    ).start()
    third = TrainJob(scene, split, ("knn",), "quick", device="cpu", pool=queue).start()
    wait_until(lambda: third.snapshot().queue_position == 2)
    assert second.snapshot().state == PENDING and second.snapshot().queue_position == 1
    time.sleep(0.3)
    assert second.snapshot().progress is None, "the second job must not train while the first runs"
    first.cancel()
    assert first.join(60) and second.join(60) and third.join(60)
    assert [j.snapshot().state for j in (first, second, third)] == [CANCELLED, DONE, DONE]
    assert third.snapshot().queue_position is None


def test_the_limit_lets_n_jobs_run_together(scene, split, monkeypatch):
    monkeypatch.setenv("SSAN_MAX_JOBS", "2")
    assert max_jobs() == 2
    queue = Pool()  # no limit given: $SSAN_MAX_JOBS
    jobs = [
        TrainJob(scene, split, ("ssan",), "quick", overrides=LONG, device="cpu", pool=queue).start()
        for _ in range(2)
    ]
    wait_until(lambda: all(started(j) for j in jobs))
    for job in jobs:
        job.cancel()
        assert job.join(60)
    monkeypatch.setenv("SSAN_MAX_JOBS", "0")
    with pytest.raises(ValueError, match="SSAN_MAX_JOBS='0': expected a positive whole number"):
        max_jobs()
    monkeypatch.delenv("SSAN_MAX_JOBS")
    assert max_jobs() == 1


def test_a_job_whose_session_is_gone_is_cancelled_and_keeps_its_best_model(scene, split, tmp_path):
    here = threading.Event()
    here.set()
    job = TrainJob(
        scene,
        split,
        ("ssan", "cnn"),
        "quick",
        overrides=LONG,
        device="cpu",
        runs_dir=tmp_path,
        owner_alive=here.is_set,
        owner_grace_s=0.0,
        pool=Pool(1),
    ).start()
    wait_until(lambda: started(job))
    here.clear()  # the browser tab was closed
    assert job.join(60)
    snap = job.snapshot()
    assert snap.state == CANCELLED and "the session that started this job ended" in snap.note
    assert len(snap.checkpoints) == 1, "the running model is kept, the next one is not started"
    kept = load_checkpoint(snap.checkpoints[0])
    assert (
        kept.cancelled
        and kept.best_iteration is not None
        and kept.best_iteration < LONG["iterations"]
    )


def test_a_waiting_job_whose_session_is_gone_leaves_the_queue(scene, split, tmp_path):
    queue = Pool(limit=1)
    blocker = TrainJob(
        scene, split, ("ssan",), "quick", overrides=LONG, device="cpu", pool=queue
    ).start()
    wait_until(lambda: started(blocker))
    here = threading.Event()
    here.set()
    waiting = TrainJob(
        scene,
        split,
        ("ssan",),
        "quick",
        overrides=TINY,
        device="cpu",
        runs_dir=tmp_path,
        owner_alive=here.is_set,
        owner_grace_s=0.0,
        pool=queue,
    ).start()
    wait_until(lambda: waiting.snapshot().queue_position == 1)
    here.clear()
    assert waiting.join(30)
    assert waiting.snapshot().state == CANCELLED and waiting.snapshot().checkpoints == ()
    assert queue.position(waiting) is None
    blocker.cancel()
    assert blocker.join(60)


def test_a_short_absence_within_the_grace_period_keeps_the_job(scene, split):
    here = threading.Event()
    job = TrainJob(
        scene,
        split,
        ("ssan",),
        "quick",
        overrides={**TINY, "iterations": 60},
        device="cpu",
        owner_alive=here.is_set,
        owner_grace_s=3600.0,
        pool=Pool(1),
    ).start()
    assert job.join(60)
    assert job.snapshot().state == DONE and job.snapshot().note is None
