"""The app's background work, one way: a `Task` runs a function in a daemon thread, in turn in a bounded
`Pool`, and is observed from any thread through `snapshot()`.

Training, comparisons, whole-scene maps, explanation tests and time estimates are all tasks. A task
waits for a free slot in its pool (first come, first served; at most `limit` run at once), reports
progress with `report(fraction, message, detail)`, and ends done, cancelled or failed; a failure is
one line of text, never a traceback. `cancel()` sets the task's stop event: work that honours it (a
training keeps its best model so far) returns early, other work is unwound at its next `report`.
A task remembers the browser sessions that asked for it (`owners`) and cancels itself once every
one of them has been gone for `owner_grace_s`, so no work outlives the sessions that want it.

`shared_task(key, ...)` keys tasks by what they compute, so the same request from two sessions starts
one computation and both follow it.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

PENDING, RUNNING, DONE, CANCELLED, FAILED = "pending", "running", "done", "cancelled", "failed"
MAX_JOBS_ENV = "SSAN_MAX_JOBS"
OWNER_GRACE_S = 60.0  # a browser that reconnects within this keeps its tasks
OWNER_CHECK_S = 1.0
POLL_SECONDS = 1.0  # how often a page's progress fragment reads a running task
# At exit, how long running tasks get to stop (a training after its current step, a map after its batch).
EXIT_WAIT_S = 60.0
ORPHAN_NOTE = "the session that started it ended, so it was cancelled"


def max_jobs() -> int:
    """How many trainings may run at once in this process: $SSAN_MAX_JOBS, else 1 (training takes every core)."""
    text = os.environ.get(MAX_JOBS_ENV, "").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{MAX_JOBS_ENV}={text!r}: expected a positive whole number of jobs.")
    return int(text)


class Cancelled(Exception):
    """Raised by `Task.raise_if_cancelled` to unwind work that has no stop of its own."""


class Pool:
    """At most `limit` tasks run at once (None: $SSAN_MAX_JOBS); the others wait in the order they asked."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._cond = threading.Condition()
        self._waiting: list[object] = []
        self._running: set[int] = set()

    def wait_turn(self, task: object, give_up: Callable[[], bool], poll: float = 0.25) -> bool:
        """Block until `task` may run (True), or until `give_up()` is true while it waits (False)."""
        with self._cond:
            self._waiting.append(task)
            try:
                while True:
                    if give_up():
                        return False
                    if self._waiting[0] is task and len(self._running) < (self.limit or max_jobs()):
                        self._running.add(id(task))
                        return True
                    self._cond.wait(poll)
            finally:
                self._waiting.remove(task)
                self._cond.notify_all()

    def release(self, task: object) -> None:
        """`task` has finished: let the next one in."""
        with self._cond:
            self._running.discard(id(task))
            self._cond.notify_all()

    def position(self, task: object) -> int | None:
        """1 for the next task to run, 2 after it, …; None when `task` is not waiting."""
        with self._cond:
            return self._waiting.index(task) + 1 if task in self._waiting else None


# The process's pools, shared by every session: trainings and comparisons take every core, so they queue
# ($SSAN_MAX_JOBS at once); maps, explanation tests and estimates each run one at a time beside them.
TRAINING = Pool()
MAPS = Pool(1)
EXPLANATIONS = Pool(1)
ESTIMATES = Pool(1)


@dataclass(frozen=True)
class TaskSnapshot:
    """A consistent copy of a task's state at one moment (safe to read while the worker runs)."""

    state: str
    fraction: float
    message: str
    error: str | None
    result: Any
    elapsed: float
    queue_position: int | None = None  # set while waiting for a free slot: 1 = next
    note: str | None = None  # why the task stopped without a cancel (its sessions ended)
    detail: Any = None  # the work's latest progress object, e.g. a CompareStep

    @property
    def finished(self) -> bool:
        return self.state in (DONE, CANCELLED, FAILED)


class Task:
    """`work(task)` in a daemon thread, in turn in `pool`; its return value is the snapshot's `result`.

    `owner_alive` (e.g. "is this browser session still connected?") is the first owner; `add_owner`
    adds more. Start with `start()`, or call `run()` in this thread.
    """

    snapshot_type: type[TaskSnapshot] = TaskSnapshot
    orphan_note = ORPHAN_NOTE

    def __init__(
        self,
        work: Callable[[Task], Any],
        pool: Pool,
        *,
        name: str = "ssan-task",
        owner_alive: Callable[[], bool] | None = None,
        owner_grace_s: float = OWNER_GRACE_S,
    ) -> None:
        self.work, self.pool, self.name, self.owner_grace_s = work, pool, name, owner_grace_s
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._owners: list[Callable[[], bool]] = [owner_alive] if owner_alive else []
        self._state, self._fraction, self._message = PENDING, 0.0, "waiting"
        self._detail: Any = None
        self._result: Any = None
        self._error: str | None = None
        self._note: str | None = None
        self._started: float | None = None
        self._finished: float | None = None
        self._thread: threading.Thread | None = None
        self._owners_missing_since: float | None = None
        self._owners_checked = 0.0

    @classmethod
    def completed(cls, result: Any, pool: Pool) -> Task:
        """A task already done with `result` (e.g. a map read from the disk cache): nothing runs."""
        task = cls(lambda _task: result, pool)
        task._state, task._result, task._fraction = DONE, result, 1.0
        task._started = task._finished = time.perf_counter()
        return task

    # ----------------------------------------------------------------- for the page

    def start(self) -> Task:
        """Run the task in a daemon thread (a task already finished stays as it is); returns self."""
        if self._state != PENDING:
            return self
        _LIVE.add(self)
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop (a training keeps its best model so far)."""
        self.stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread; True when the task has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.snapshot().finished

    def add_owner(self, alive: Callable[[], bool]) -> None:
        """Another session follows this task: it is cancelled only once every owner is gone."""
        with self._lock:
            self._owners.append(alive)

    def snapshot(self) -> TaskSnapshot:
        with self._lock:
            return self.snapshot_type(**self._fields())

    def _fields(self) -> dict:
        """The snapshot's fields (called under the lock; a subclass adds its own)."""
        end = self._finished if self._finished is not None else time.perf_counter()
        return {
            "state": self._state,
            "fraction": self._fraction,
            "message": self._message,
            "error": self._error,
            "result": self._result,
            "elapsed": 0.0 if self._started is None else end - self._started,
            "queue_position": self.pool.position(self) if self._state == PENDING else None,
            "note": self._note,
            "detail": self._detail,
        }

    # ----------------------------------------------------------------- for the work

    def report(
        self, fraction: float | None = None, message: str | None = None, detail: Any = None
    ) -> None:
        """Progress from the work (any argument left None keeps its value); also notices gone owners."""
        self.should_stop()
        with self._lock:
            if fraction is not None:
                self._fraction = min(1.0, max(0.0, fraction))
            if message is not None:
                self._message = message
            if detail is not None:
                self._detail = detail

    def raise_if_cancelled(self) -> None:
        """Unwind work that cannot stop by itself (raises `Cancelled` once the task is cancelled)."""
        if self.should_stop():
            raise Cancelled

    def should_stop(self) -> bool:
        """Whether to stop: cancelled, or every owner gone for `owner_grace_s` (which cancels the task)."""
        now = time.monotonic()
        if self._owners and not self.stop.is_set() and now - self._owners_checked >= OWNER_CHECK_S:
            self._owners_checked = now
            if any(alive() for alive in list(self._owners)):
                self._owners_missing_since = None
            elif self._owners_missing_since is None:
                self._owners_missing_since = now
            if (
                self._owners_missing_since is not None
                and now - self._owners_missing_since >= self.owner_grace_s
            ):
                with self._lock:
                    self._note = self.orphan_note
                self.stop.set()
        return self.stop.is_set()

    def run(self) -> None:
        """Wait for a slot in the pool, then run the work; its errors end the task with one line of text.
        A task cancelled (or left by its owners) while waiting runs nothing."""
        if not self.pool.wait_turn(self, self.should_stop):
            with self._lock:
                self._state, self._finished = CANCELLED, time.perf_counter()
            return
        with self._lock:
            self._state, self._started, self._message = RUNNING, time.perf_counter(), "starting"
        state, result, error = DONE, None, None
        try:
            result = self.work(self)
            if self.stop.is_set():
                state = CANCELLED
        except Cancelled:
            state = CANCELLED
        except Exception as exc:  # noqa: BLE001 - any failure is shown on the page, not raised in the thread
            state, error = FAILED, error_line(exc)
        finally:
            self.pool.release(self)
            with self._lock:
                self._state, self._result, self._error = state, result, error
                self._finished = time.perf_counter()
                if state == DONE:
                    self._fraction = 1.0


_LIVE: weakref.WeakSet[Task] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """At the end of the process, cancel the tasks still running and give them a moment to stop, rather than
    kill their threads inside torch (which aborts the interpreter)."""
    running = [t for t in list(_LIVE) if not t.snapshot().finished]
    for task in running:
        task.cancel()
    deadline = time.monotonic() + EXIT_WAIT_S
    for task in running:
        task.join(max(0.0, deadline - time.monotonic()))


def error_line(exc: BaseException) -> str:
    """One line saying what went wrong: a ValueError's own message (the library's checks word them for
    people), else the exception's type and first line."""
    text = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, ValueError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Registry:
    """Tasks keyed by what they compute, shared by every session; the newest `keep` are remembered.

    A cancelled task is started again when asked for again; a failed one stays (asking again gives the
    same error) until `forget`; with `rerun_finished` (work whose inputs live on disk, like a comparison
    over the runs folder) only a running task is shared and a finished one is started anew.
    """

    def __init__(self, keep: int = 64) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._tasks: OrderedDict[Hashable, Task] = OrderedDict()

    def task(
        self,
        key: Hashable,
        make: Callable[[], Task],
        owner_alive: Callable[[], bool] | None = None,
        rerun_finished: bool = False,
    ) -> Task:
        """The task for `key`, started by `make()` unless one is running or done; `owner_alive` follows it."""
        with self._lock:
            task = self._tasks.get(key)
            state = None if task is None else task.snapshot().state
            if state in (None, CANCELLED) or (rerun_finished and state in (DONE, FAILED)):
                task = make()
                if owner_alive is not None:
                    task.add_owner(owner_alive)
                self._tasks[key] = task.start()
            elif owner_alive is not None:
                task.add_owner(owner_alive)
            self._tasks.move_to_end(key)
            self._trim()
            return task

    def forget(self, key: Hashable) -> None:
        """Drop the task for `key` (a running one keeps running, unobserved)."""
        with self._lock:
            self._tasks.pop(key, None)

    def find(self, key: Hashable) -> Task | None:
        """The task for `key` if one was started and is remembered."""
        with self._lock:
            return self._tasks.get(key)

    def _trim(self) -> None:
        finished = [k for k, t in self._tasks.items() if t.snapshot().finished]
        for key in finished[: max(0, len(self._tasks) - self.keep)]:
            del self._tasks[key]


REGISTRY = Registry()


def shared_task(
    key: Hashable,
    work: Callable[[Task], Any],
    pool: Pool,
    owner_alive: Callable[[], bool] | None = None,
    name: str = "ssan-task",
    rerun_finished: bool = False,
) -> Task:
    """The one task computing `key` in this process: started on the first request, followed by the others."""
    return REGISTRY.task(key, lambda: Task(work, pool, name=name), owner_alive, rerun_finished)


# --------------------------------------------------------------------------- on the page


def session_owner() -> Callable[[], bool]:
    """A check, safe from any thread, that the browser session running this script is still connected
    (always true outside a server, e.g. in AppTest): the owner a page gives the tasks it starts."""
    ctx = get_script_run_ctx()
    session_id = ctx.session_id if ctx is not None else None

    def alive() -> bool:
        return (
            session_id is None
            or not runtime.exists()
            or runtime.get_instance().is_active_session(session_id)
        )

    return alive


def follow(task: Task | None, draw: Callable[[TaskSnapshot], None], key: str) -> None:
    """Draw `task`'s state with `draw(snapshot)` in a fragment that reruns every second while the task works
    (the smallest part of the page, not the page), and reruns the whole page once when it ends so the rest
    of the page catches up with its result (`draw` may call `st.rerun()` to refresh it earlier)."""
    if task is None:
        return
    flag = f"_{key}_following"
    working = not task.snapshot().finished
    if working:
        st.session_state[flag] = True

    @st.fragment(run_every=POLL_SECONDS if working else None)
    def view() -> None:
        snap = task.snapshot()
        draw(snap)
        if snap.finished and st.session_state.pop(flag, False):
            st.rerun()

    view()
