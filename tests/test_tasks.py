"""The app's one background-task type: progress, cancel, one-line errors, a bounded pool, identical requests
from two sessions sharing one computation, and tasks ending with the sessions that wanted them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.helpers import wait_until
from ui import explain_jobs, tasks
from ui.tasks import (
    CANCELLED,
    DONE,
    FAILED,
    PENDING,
    Pool,
    Registry,
    Task,
    error_line,
)

ASSET = Path(__file__).resolve().parents[1] / "assets" / "demo-ssan"


def waiting_work(gate: threading.Event, result="done"):
    """Work that reports progress, then waits for `gate` (or its cancel) before returning `result`."""

    def work(task: Task):
        task.report(0.5, "half way", detail={"step": 1})
        while not gate.wait(0.01):
            task.raise_if_cancelled()
        return result

    return work


def test_a_task_reports_progress_and_its_result():
    gate = threading.Event()
    task = Task(waiting_work(gate, 42), Pool(1))
    assert task.snapshot().state == PENDING
    task.start()
    wait_until(lambda: task.snapshot().message == "half way")
    snap = task.snapshot()
    assert snap.state == "running" and snap.fraction == 0.5 and snap.detail == {"step": 1}
    gate.set()
    assert task.join(10)
    snap = task.snapshot()
    assert (snap.state, snap.fraction, snap.result, snap.error) == (DONE, 1.0, 42, None)
    with pytest.raises(AttributeError):
        snap.state = "running"  # a frozen copy


def test_a_cancel_unwinds_work_without_a_stop_of_its_own():
    task = Task(waiting_work(threading.Event()), Pool(1)).start()
    wait_until(lambda: task.snapshot().message == "half way")
    task.cancel()
    assert task.join(10) and task.snapshot().state == CANCELLED and task.snapshot().result is None


def test_errors_are_one_line_never_a_traceback():
    def broken(_task: Task):
        raise RuntimeError("the disk is full\nTraceback (most recent call last): …")

    task = Task(broken, Pool(1))
    task.run()  # in this thread
    assert task.snapshot().state == FAILED
    assert task.snapshot().error == "RuntimeError: the disk is full"
    assert error_line(ValueError("iterations must be a positive integer")) == (
        "iterations must be a positive integer"
    )
    assert error_line(KeyError()) == "KeyError"


def test_the_pool_runs_one_at_a_time_and_the_waiting_task_knows_its_place():
    pool, gate = Pool(1), threading.Event()
    first = Task(waiting_work(gate), pool).start()
    wait_until(lambda: first.snapshot().message == "half way")
    second = Task(waiting_work(gate), pool).start()
    wait_until(lambda: second.snapshot().queue_position == 1)
    assert second.snapshot().state == PENDING
    gate.set()
    assert first.join(10) and second.join(10)
    assert second.snapshot().state == DONE and second.snapshot().queue_position is None


def test_identical_requests_from_two_sessions_start_one_computation():
    registry, calls, gate = Registry(), [], threading.Event()

    def make() -> Task:
        calls.append(1)
        return Task(waiting_work(gate, "map"), Pool(1))

    first = registry.task(("map", "ckpt", 1.0), make, owner_alive=lambda: True)
    second = registry.task(("map", "ckpt", 1.0), make, owner_alive=lambda: True)
    assert first is second and calls == [1]
    other = registry.task(("map", "other", 1.0), make)
    assert other is not first and calls == [1, 1]
    gate.set()
    assert first.join(10) and other.join(10)
    assert registry.task(("map", "ckpt", 1.0), make).snapshot().result == "map" and calls == [1, 1]


def test_a_task_ends_only_when_every_session_that_wanted_it_is_gone():
    here_a, here_b = threading.Event(), threading.Event()
    here_a.set()
    here_b.set()
    registry = Registry()
    make = lambda: Task(waiting_work(threading.Event()), Pool(1), owner_grace_s=0.0)  # noqa: E731
    task = registry.task("explain", make, owner_alive=here_a.is_set)
    registry.task("explain", make, owner_alive=here_b.is_set)
    wait_until(lambda: task.snapshot().message == "half way")
    here_a.clear()  # one tab closed: the other still follows the task
    time.sleep(tasks.OWNER_CHECK_S)  # owners are looked at once a second
    assert not task.should_stop()
    here_b.clear()
    assert task.join(10) and task.snapshot().state == CANCELLED
    assert "the session that started it ended" in task.snapshot().note
    again = registry.task("explain", make)
    assert again is not task, "a cancelled computation is started again when asked for again"
    again.cancel()
    again.join(10)


def test_a_finished_comparison_is_run_anew_when_asked_again():
    registry = Registry()
    make = lambda: Task(lambda _t: "table", Pool(1))  # noqa: E731
    first = registry.task("compare", make, rerun_finished=True)
    assert first.join(10)
    assert registry.task("compare", make, rerun_finished=True) is not first


def test_identical_explanation_requests_from_two_sessions_start_one_test(monkeypatch):
    """Two sessions asking for the same deletion test on the same weights run it once and share its result."""
    calls, gate = [], threading.Event()

    def explain_model(fitted, scene, n_pixels, seed, progress=None):
        calls.append((n_pixels, seed))
        progress(0.5, "deleting bands")
        gate.wait(10)
        return "the explanation"

    monkeypatch.setattr(explain_jobs, "explain_model", explain_model)
    monkeypatch.setattr(tasks, "REGISTRY", Registry())
    sha = explain_jobs.weights_hash(ASSET)
    sessions = [explain_jobs.explanation_task(str(ASSET), sha, ("demo",), 40, 3) for _ in range(2)]
    assert sessions[0] is sessions[1]
    wait_until(lambda: sessions[0].snapshot().message == "deleting bands")
    gate.set()
    assert sessions[1].join(10) and sessions[1].snapshot().result == "the explanation"
    assert calls == [(40, 3)], "one computation for both sessions"
    other_seed = explain_jobs.explanation_task(str(ASSET), sha, ("demo",), 40, 4)
    assert other_seed is not sessions[0] and other_seed.join(10) and len(calls) == 2
