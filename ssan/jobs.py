"""Training in a background thread, observable from another thread (the app's polling fragment).

A `TrainJob` trains one or more models on one scene and split, one after the other: each is
fitted (`ssan.train.train`), evaluated on the split's test pixels, and saved as a checkpoint.
The worker touches nothing but the job: every read goes through `snapshot()`, which copies
the state under a lock, and `cancel()` sets the stop event (the best model so far is kept).
"""

from __future__ import annotations

import datetime as _dt
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoints import save_checkpoint
from .evaluate import evaluate
from .fitted import FittedModel
from .models import Preset
from .scene import Scene
from .splits import Split
from .train import Progress, resolve_preset, train

PENDING, RUNNING, DONE, CANCELLED, FAILED = "pending", "running", "done", "cancelled", "failed"


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
    scoring: tuple[int, int] | None = None  # (pixels scored, test pixels) once the running model has trained

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

    def __post_init__(self) -> None:
        self.models = tuple(self.models)
        if not self.models:
            raise ValueError("a training job needs at least one model")
        for name in self.models:
            resolve_preset(name, self.preset, self.overrides)  # refuse unknown models or bad settings now
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

    def start(self) -> "TrainJob":
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
                status=self._status, models=self.models, current=self._current, history=tuple(self._history),
                progress=self._progress, checkpoints=tuple(self._checkpoints), metrics=tuple(self._metrics),
                error=self._error, elapsed=0.0 if self._started is None else end - self._started,
                scoring=self._scoring,
            )

    def run(self) -> None:
        """Train, evaluate and save each model in turn; errors end the job with their message."""
        with self._lock:
            self._status, self._started = RUNNING, time.perf_counter()
        status = DONE
        try:
            for i, name in enumerate(self.models):
                with self._lock:
                    self._current, self._history, self._progress, self._scoring = i, [], None, None
                fitted = train(self.scene, self.split, name, self.preset, seed=self.seed, device=self.device,
                               overrides=self.overrides, progress=self._on_progress, stop=self.stop)
                fitted.metrics = evaluate(fitted, self.scene, self.split, progress=self._on_scoring).to_dict()
                path = save_checkpoint(fitted, self._checkpoint_dir(fitted)) if self.runs_dir is not None else None
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
            with self._lock:
                self._status, self._finished = status, time.perf_counter()

    def _on_scoring(self, done: int, total: int) -> None:
        with self._lock:
            self._scoring = (done, total)

    def _on_progress(self, p: Progress) -> None:
        with self._lock:
            self._progress = p
            self._history.append({"iteration": p.iteration, "loss": p.loss, "val_accuracy": p.val_accuracy})

    def _checkpoint_dir(self, fitted: FittedModel) -> Path:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        split = re.sub(r"[^A-Za-z0-9.]+", "-", self.split.protocol)
        name = f"{fitted.model_name}-{fitted.preset.name}-{split}-seed{self.seed}-{stamp}"
        return Path(self.runs_dir) / safe_name(self.scene.name) / name


def safe_name(text: str) -> str:
    """A folder-safe version of a scene or model name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "scene"
