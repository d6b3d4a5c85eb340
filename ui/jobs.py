"""Training from the Train page: a `TrainJob` is a `ui.tasks.Task` that trains one or more models on one
scene and split, one after the other, each fitted, scored on the split's test pixels and saved as a
checkpoint (`ssan.evaluation.compare.fit_and_score`, as `ssan compare` does).

Jobs wait their turn in the process-wide training pool (at most $SSAN_MAX_JOBS at once, default 1);
`cancel()` (or the end of the browser session that started the job) stops the running model after its
current step, keeps its best weights, saves them marked cancelled, and skips the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ssan.data.scene import Scene
from ssan.data.splits import Split
from ssan.evaluation.compare import fit_and_score
from ssan.models import Preset
from ssan.models.fitted import FittedModel
from ssan.training.trainer import Progress, resolve_preset
from ui.tasks import OWNER_GRACE_S, TRAINING, Pool, Task, TaskSnapshot


@dataclass(frozen=True)
class JobSnapshot(TaskSnapshot):
    """A task snapshot with the training's own state: which model, its curve, progress and results."""

    models: tuple[str, ...] = ()
    current: int = 0
    history: tuple[dict, ...] = ()
    progress: Progress | None = None
    checkpoints: tuple[Path, ...] = ()
    metrics: tuple[dict, ...] = ()
    scoring: tuple[int, int] | None = (
        None  # (pixels scored, test pixels) once the model has trained
    )

    @property
    def current_model(self) -> str | None:
        return self.models[self.current] if self.current < len(self.models) else None


class TrainJob(Task):
    """Train `models` in turn on `scene`/`split`; save each under `runs_dir`/<scene>/ when given."""

    snapshot_type = JobSnapshot
    orphan_note = (
        "the session that started this job ended, so it was cancelled (best model so far kept)"
    )

    def __init__(
        self,
        scene: Scene,
        split: Split,
        models: Sequence[str] = ("ssan",),
        preset: str | Preset = "quick",
        seed: int = 0,
        device: str | torch.device | None = None,
        overrides: dict | None = None,
        runs_dir: Path | None = None,
        owner_alive: Callable[[], bool] | None = None,
        owner_grace_s: float = OWNER_GRACE_S,
        pool: Pool = TRAINING,
    ) -> None:
        self.models = tuple(models)
        if not self.models:
            raise ValueError("a training job needs at least one model")
        for name in self.models:  # refuse unknown models or bad settings now, not in the thread
            resolve_preset(name, preset, overrides)
        super().__init__(
            self._train_all,
            pool,
            name="ssan-train",
            owner_alive=owner_alive,
            owner_grace_s=owner_grace_s,
        )
        self.scene, self.split, self.preset, self.seed = scene, split, preset, seed
        self.device, self.overrides, self.runs_dir = device, overrides, runs_dir
        self._current = 0
        self._history: list[dict] = []
        self._progress: Progress | None = None
        self._scoring: tuple[int, int] | None = None
        self._checkpoints: list[Path] = []
        self._metrics: list[dict] = []
        self._results: list[FittedModel] = []

    @property
    def results(self) -> list[FittedModel]:
        """The fitted models so far (read after the job finished)."""
        with self._lock:
            return list(self._results)

    def _fields(self) -> dict:
        return super()._fields() | {
            "models": self.models,
            "current": self._current,
            "history": tuple(self._history),
            "progress": self._progress,
            "checkpoints": tuple(self._checkpoints),
            "metrics": tuple(self._metrics),
            "scoring": self._scoring,
        }

    def _train_all(self, _task: Task) -> list[FittedModel]:
        for i, name in enumerate(self.models):
            with self._lock:
                self._current, self._history, self._progress, self._scoring = i, [], None, None
            fitted, run = fit_and_score(
                self.scene,
                self.split,
                name,
                self.seed,
                self.preset,
                self.device,
                self.overrides,
                self._on_progress,
                self.stop,
                runs_dir=self.runs_dir,
                scoring=self._on_scoring,
            )
            with self._lock:
                self._results.append(fitted)
                self._metrics.append(fitted.metrics)
                if run.checkpoint is not None:
                    self._checkpoints.append(Path(run.checkpoint))
            if self.stop.is_set():
                break
        return self.results

    def _share(self, within: float) -> float:
        return (self._current + within) / len(self.models)

    def _on_scoring(self, done: int, total: int) -> None:
        with self._lock:
            self._scoring = (done, total)
        self.report(self._share(0.95 + 0.05 * done / max(total, 1)))

    def _on_progress(self, p: Progress) -> None:
        with self._lock:
            self._progress = p
            self._history.append(
                {"iteration": p.iteration, "loss": p.loss, "val_accuracy": p.val_accuracy}
            )
        self.report(self._share(0.95 * p.fraction))
