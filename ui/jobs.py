"""Training in a background thread, observable from another thread (the app's polling fragment).

A `TrainJob` trains one or more models on one scene and split, one after the other: each is
fitted (`ssan.training.trainer.train`), evaluated on the split's test pixels, and saved as a checkpoint.
The worker touches nothing but the job: every read goes through `snapshot()`, which copies
the state under a lock, and `cancel()` sets the stop event (the best model so far is kept).

Jobs wait their turn in one process-wide `JobQueue` (at most $SSAN_MAX_JOBS train at once,
default 1), and a job whose owner is gone (`owner_alive` false for `owner_grace_s`: the app's
browser session closed) is cancelled like `cancel()` does, so no training outlives its session.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ssan.data.scene import Scene
from ssan.data.splits import Split
from ssan.evaluation.metrics import evaluate
from ssan.models import Preset
from ssan.models.checkpoints import save_checkpoint
from ssan.models.fitted import FittedModel
from ssan.training.trainer import Progress, resolve_preset, train

PENDING, RUNNING, DONE, CANCELLED, FAILED = "pending", "running", "done", "cancelled", "failed"


MAX_JOBS_ENV = "SSAN_MAX_JOBS"
OWNER_GRACE_S = 60.0  # a browser that reconnects within this keeps its job
OWNER_CHECK_S = 1.0


def max_jobs() -> int:
    """How many jobs may train at once in this process: $SSAN_MAX_JOBS, else 1 (training takes every core)."""
    text = os.environ.get(MAX_JOBS_ENV, "").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{MAX_JOBS_ENV}={text!r}: expected a positive whole number of jobs.")
    return int(text)


class JobQueue:
    """At most `limit` jobs train at once; the others wait in the order they asked (first come, first served)."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._cond = threading.Condition()
        self._waiting: list[object] = []
        self._running: set[int] = set()

    def wait_turn(self, job: object, give_up: Callable[[], bool], poll: float = 0.25) -> bool:
        """Block until `job` may run (True), or until `give_up()` is true while it waits (False)."""
        with self._cond:
            self._waiting.append(job)
            try:
                while True:
                    if give_up():
                        return False
                    if self._waiting[0] is job and len(self._running) < (self.limit or max_jobs()):
                        self._running.add(id(job))
                        return True
                    self._cond.wait(poll)
            finally:
                self._waiting.remove(job)
                self._cond.notify_all()

    def release(self, job: object) -> None:
        """`job` has finished: let the next one in."""
        with self._cond:
            self._running.discard(id(job))
            self._cond.notify_all()

    def position(self, job: object) -> int | None:
        """1 for the next job to run, 2 after it, …; None when `job` is not waiting."""
        with self._cond:
            return self._waiting.index(job) + 1 if job in self._waiting else None


JOB_QUEUE = JobQueue()  # the process's one queue: every session of the app shares it


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state at one moment (safe to read while the worker runs)."""

    status: str
    models: tuple[str, ...]
    current: int
    history: tuple[dict, ...]
    progress: Progress | None
    checkpoints: tuple[Path, ...]
    metrics: tuple[dict, ...]
    error: str | None
    elapsed: float
    queue_position: int | None = None  # set while waiting for a free slot: 1 = next
    note: str | None = None  # why a job stopped early without a cancel (its session ended)
    scoring: tuple[int, int] | None = (
        None  # (pixels scored, test pixels) once the running model has trained
    )

    @property
    def finished(self) -> bool:
        return self.status in (DONE, CANCELLED, FAILED)

    @property
    def current_model(self) -> str | None:
        return self.models[self.current] if self.current < len(self.models) else None

    @property
    def fraction(self) -> float:
        """Share of the whole job done: finished models plus the running model's share."""
        if self.status == DONE:
            return 1.0
        within = self.progress.fraction if self.progress is not None else 0.0
        return min(1.0, (self.current + within) / max(len(self.models), 1))


@dataclass(eq=False)
class TrainJob:
    """Train `models` in turn on `scene`/`split`; save each under `runs_dir`/<scene>/.

    Start with `start()` (a daemon thread) or call `run()` directly; `cancel()` stops the
    running model after its current step, keeps its best weights, and skips the rest.
    """

    scene: Scene
    split: Split
    models: Sequence[str] = ("ssan",)
    preset: str | Preset = "quick"
    seed: int = 0
    device: str | torch.device | None = None
    overrides: dict | None = None
    runs_dir: Path | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    owner_alive: Callable[[], bool] | None = None  # e.g. "is the browser session still there?"
    owner_grace_s: float = OWNER_GRACE_S
    queue: JobQueue = JOB_QUEUE

    def __post_init__(self) -> None:
        self.models = tuple(self.models)
        if not self.models:
            raise ValueError("a training job needs at least one model")
        for name in self.models:
            resolve_preset(
                name, self.preset, self.overrides
            )  # refuse unknown models or bad settings now
        self._lock = threading.Lock()
        self._status = PENDING
        self._current = 0
        self._history: list[dict] = []
        self._progress: Progress | None = None
        self._scoring: tuple[int, int] | None = None
        self._checkpoints: list[Path] = []
        self._metrics: list[dict] = []
        self._results: list[FittedModel] = []
        self._error: str | None = None
        self._started: float | None = None
        self._finished: float | None = None
        self._thread: threading.Thread | None = None
        self._note: str | None = None
        self._owner_missing_since: float | None = None
        self._owner_checked = 0.0

    def start(self) -> TrainJob:
        """Run the job in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.run, name="ssan-train", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the worker to stop; the model being trained keeps its best weights so far."""
        self.stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread; True when it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.snapshot().finished

    @property
    def results(self) -> list[FittedModel]:
        """The fitted models so far (read after the job finished)."""
        with self._lock:
            return list(self._results)

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            end = self._finished if self._finished is not None else time.perf_counter()
            return JobSnapshot(
                status=self._status,
                models=self.models,
                current=self._current,
                history=tuple(self._history),
                progress=self._progress,
                checkpoints=tuple(self._checkpoints),
                metrics=tuple(self._metrics),
                error=self._error,
                elapsed=0.0 if self._started is None else end - self._started,
                queue_position=self.queue.position(self) if self._status == PENDING else None,
                note=self._note,
                scoring=self._scoring,
            )

    def run(self) -> None:
        """Wait for a free slot in the queue, then train, evaluate and save each model in turn; errors end
        the job with their message. A job cancelled (or left by its owner) while waiting trains nothing."""
        if not self.queue.wait_turn(self, self._should_stop):
            with self._lock:
                self._status, self._finished = CANCELLED, time.perf_counter()
            return
        with self._lock:
            self._status, self._started = RUNNING, time.perf_counter()
        status = DONE
        try:
            for i, name in enumerate(self.models):
                with self._lock:
                    self._current, self._history, self._progress, self._scoring = i, [], None, None
                fitted = train(
                    self.scene,
                    self.split,
                    name,
                    self.preset,
                    seed=self.seed,
                    device=self.device,
                    overrides=self.overrides,
                    progress=self._on_progress,
                    stop=self.stop,
                )
                fitted.metrics = evaluate(
                    fitted, self.scene, self.split, progress=self._on_scoring
                ).to_dict()
                path = (
                    save_checkpoint(fitted, self._checkpoint_dir(fitted))
                    if self.runs_dir is not None
                    else None
                )
                with self._lock:
                    self._results.append(fitted)
                    self._metrics.append(fitted.metrics)
                    if path is not None:
                        self._checkpoints.append(path)
                if self.stop.is_set():
                    status = CANCELLED
                    break
        except Exception as exc:  # noqa: BLE001 - any failure is reported to the page, not raised in the thread
            status = FAILED
            with self._lock:
                self._error = str(exc) or type(exc).__name__
        finally:
            self.queue.release(self)
            with self._lock:
                self._status, self._finished = status, time.perf_counter()

    def _should_stop(self) -> bool:
        """Whether to stop: cancelled, or the owner gone for `owner_grace_s` (which cancels the job)."""
        now = time.monotonic()
        if (
            self.owner_alive is not None
            and not self.stop.is_set()
            and now - self._owner_checked >= OWNER_CHECK_S
        ):
            self._owner_checked = now
            if self.owner_alive():
                self._owner_missing_since = None
            elif self._owner_missing_since is None:
                self._owner_missing_since = now
            if (
                self._owner_missing_since is not None
                and now - self._owner_missing_since >= self.owner_grace_s
            ):
                with self._lock:
                    self._note = "the session that started this job ended, so it was cancelled (best model so far kept)"
                self.stop.set()
        return self.stop.is_set()

    def _on_scoring(self, done: int, total: int) -> None:
        with self._lock:
            self._scoring = (done, total)

    def _on_progress(self, p: Progress) -> None:
        self._should_stop()
        with self._lock:
            self._progress = p
            self._history.append(
                {"iteration": p.iteration, "loss": p.loss, "val_accuracy": p.val_accuracy}
            )

    def _checkpoint_dir(self, fitted: FittedModel) -> Path:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        split = re.sub(r"[^A-Za-z0-9.]+", "-", self.split.protocol)
        name = f"{fitted.model_name}-{fitted.preset.name}-{split}-seed{self.seed}-{stamp}"
        return Path(self.runs_dir) / safe_name(self.scene.name) / name


def safe_name(text: str) -> str:
    """A folder-safe version of a scene or model name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "scene"
