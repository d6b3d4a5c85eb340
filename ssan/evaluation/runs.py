"""Saved runs as answers: where runs are kept, which checkpoint stands for a model on a split, and
which runs are missing.

A run is one model trained with one preset and seed on one split of one scene, saved as a
checkpoint under the runs folder (`runs_dir()`: $SSAN_RUNS_DIR, else ./runs; the CLI and the
app share it). This module is the one place that decides among saved runs: whether a checkpoint
is the run asked for (`same_run`: scene and its data, split, model, preset, seed), and which run
stands for a model (`best_run`): a cancelled run (stopped early, its best-so-far weights kept) is
never picked by default, and among finished runs the one with the best validation accuracy wins
(never the test pixels: choosing by test accuracy would leak).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ssan.data.scene import Scene
from ssan.data.splits import Split, protocol_label

# torch (seconds to import) is loaded only by the functions that read or write checkpoints: `runs_dir`
# serves the app's first screen, which needs no model.
if TYPE_CHECKING:
    from ssan.models import Preset
    from ssan.models.fitted import FittedModel

Saved = tuple[Path, "FittedModel"]
RUNS_DIR_ENV = "SSAN_RUNS_DIR"
UPLOADED = "uploaded"  # the runs folder's sub-folder of checkpoints uploaded in the app (ssan.data.uploads)
WEIGHTS, SIDECAR = "model.safetensors", "model.json"  # as ssan.models.checkpoints names them


def runs_dir() -> Path:
    """Where trained runs are saved and looked up: $SSAN_RUNS_DIR, else ./runs (the CLI and the app alike)."""
    return Path(os.environ.get(RUNS_DIR_ENV, "").strip() or "runs")


@dataclass
class RunResult:
    """One model trained and tested on one seed's split; `error` says why a run failed (metrics then empty).

    `checkpoint` is where the run is saved (None when it was not); `reused` marks a run read back from
    the runs folder rather than trained (its `eval_seconds` then None: not measured by this call)."""

    model: str
    seed: int
    metrics: dict
    train_seconds: float
    eval_seconds: float | None
    best_iteration: int | None
    best_val_accuracy: float | None
    cancelled: bool
    device: str | None = None
    host: str | None = None
    error: str | None = None
    checkpoint: str | None = None
    reused: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None

    @classmethod
    def failure(cls, model: str, seed: int, reason: str, host: str | None = None) -> RunResult:
        """A run that produced no model, with the reason it failed."""
        return cls(model, seed, {}, 0.0, 0.0, None, None, False, host=host, error=reason)

    @classmethod
    def of(
        cls,
        fitted: FittedModel,
        eval_seconds: float | None = None,
        checkpoint: str | Path | None = None,
        reused: bool = False,
    ) -> RunResult:
        """The result of a scored run (`fitted.metrics` set), trained now or read back from `checkpoint`."""
        return cls(
            fitted.model_name,
            fitted.seed,
            fitted.metrics,
            fitted.train_seconds,
            eval_seconds,
            fitted.best_iteration,
            fitted.best_val_accuracy,
            fitted.cancelled,
            device=fitted.device,
            checkpoint=None if checkpoint is None else str(checkpoint),
            reused=reused,
        )

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def finished(fitted: FittedModel) -> bool:
    """A run that trained to its end and was scored on its test pixels."""
    return not fitted.cancelled and fitted.metrics is not None


def on_split(fitted: FittedModel, split: Split) -> bool:
    """Whether `fitted` was trained on `split`: same protocol, seed and number of test pixels, and the same
    training and validation pixels where the checkpoint records them."""
    record = fitted.split
    if not record.matches(split):
        return False
    return all(
        len(recorded) == 0 or np.array_equal(recorded, getattr(split, part))
        for part, recorded in (("train", record.train), ("val", record.val))
    )


def on_scene(fitted: FittedModel, scene: Scene) -> bool:
    """Whether `fitted` was trained on `scene`: same name, size, bands and classes, and the same data
    (the files' sha256) where the scene has one."""
    ident = fitted.scene
    return (
        ident.fits(scene)
        and ident.name == scene.name
        and tuple(ident.shape) == tuple(scene.shape)
        and (scene.sha256 is None or ident.sha256 == scene.sha256)
    )


def same_run(
    fitted: FittedModel,
    model: str,
    split: Split,
    preset: Preset,
    seed: int,
    scene: Scene | None = None,
) -> bool:
    """Whether `fitted` is the run `model` with `preset` (all its settings) and training `seed` on `split`
    (of `scene`, when given). The classical models ignore presets, so only their split and seed count."""
    if fitted.model_name != model or fitted.seed != seed or not on_split(fitted, split):
        return False
    if scene is not None and not on_scene(fitted, scene):
        return False
    return not fitted.is_neural or fitted.preset.to_dict() == preset.to_dict()


def best_run(saved: Iterable[Saved]) -> Saved | None:
    """The finished run with the best validation accuracy (the newest on ties, `saved` being newest
    first); None when every run was cancelled or none was scored."""
    candidates = [(path, f) for path, f in saved if finished(f)]
    if not candidates:
        return None
    score = lambda item: (
        -math.inf if item[1].best_val_accuracy is None else item[1].best_val_accuracy
    )  # noqa: E731
    return max(candidates, key=score)  # max keeps the first of equal maxima: the newest


def by_model(saved: Iterable[Saved], split: Split) -> dict[str, list[Saved]]:
    """The runs on `split` per model (in MODEL_NAMES order, keeping the newest-first order of `saved`)."""
    from ssan.models import MODEL_NAMES

    grouped: dict[str, list[Saved]] = {m: [] for m in MODEL_NAMES}
    for path, fitted in saved:
        if fitted.metrics is not None and on_split(fitted, split):
            grouped[fitted.model_name].append((path, fitted))
    return {m: runs for m, runs in grouped.items() if runs}


def missing_models(
    saved: Sequence[Saved],
    models: Iterable[str],
    split: Split,
    presets: dict[str, Preset],
    seed: int,
    scene: Scene | None = None,
) -> list[str]:
    """The `models` with no finished run of the same split, preset and seed (of `scene`, when given):
    those need training."""
    return [m for m in models if find_run(saved, m, split, presets[m], seed, scene) is None]


def seed_runs(
    saved: Sequence[Saved],
    models: Iterable[str],
    splits: dict[int, Split],
    presets: dict[str, Preset],
) -> tuple[list[RunResult], list[tuple[str, int]]]:
    """For each model and seed (split seeded by it, training seed the same, as `ssan compare` does),
    the best finished run as a RunResult (marked reused: its evaluation time is not saved); and the
    (model, seed) pairs with no finished run."""
    runs, missing = [], []
    for model in models:
        for seed, split in splits.items():
            found = find_run(saved, model, split, presets[model], seed)
            if found is None:
                missing.append((model, seed))
            else:
                runs.append(RunResult.of(found[1], checkpoint=found[0], reused=True))
    return runs, missing


def find_run(
    saved: Iterable[Saved],
    model: str,
    split: Split,
    preset: Preset,
    seed: int,
    scene: Scene | None = None,
) -> Saved | None:
    """The saved run that answers (scene, split, model, preset, seed): the best finished one, else None."""
    return best_run((p, f) for p, f in saved if same_run(f, model, split, preset, seed, scene))


def saved_runs(
    root: str | Path,
    scene: Scene,
    models: Iterable[str] | None = None,
    protocol: str | None = None,
) -> list[Saved]:
    """The readable checkpoints under `root` trained on `scene` (newest first), of `models` and on splits of
    `protocol` when given; never an uploaded checkpoint (`root`/uploaded: not a run trained here, so never
    reused as one). The sidecar is read first, so other runs cost no weights loading; an unreadable
    checkpoint is skipped."""
    from ssan.models.checkpoints import list_checkpoints, load_checkpoint

    models = None if models is None else set(models)
    uploads = (Path(root) / UPLOADED).resolve()
    found = []
    for path in list_checkpoints(root):
        if uploads in path.resolve().parents:
            continue
        try:
            side = json.loads((path / SIDECAR).read_text())
            if (
                side["scene"]["name"] != scene.name
                or tuple(side["scene"]["shape"]) != tuple(scene.shape)
                or (models is not None and side["model"] not in models)
                or (protocol is not None and side["split"].get("protocol") != protocol)
            ):
                continue
            fitted = load_checkpoint(path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # another format or a broken file: the app lists it with its problem
        if on_scene(fitted, scene):
            found.append((path, fitted))
    return found


def checkpoint_folder(root: str | Path, fitted: FittedModel) -> Path:
    """A new folder for `fitted` under `root`/<scene>/, named by model, preset, split, seed and time."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    split = re.sub(r"[^A-Za-z0-9.]+", "-", protocol_label(str(fitted.split.protocol or "split")))
    name = f"{fitted.model_name}-{fitted.preset.name}-{split}-seed{fitted.seed}-{stamp}"
    return Path(root) / safe_name(fitted.scene.name) / name


def safe_name(text: str) -> str:
    """A folder-safe version of a scene or model name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "scene"


_CHECKPOINT_FILES = {WEIGHTS, SIDECAR, SIDECAR + ".tmp"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _own_checkpoint(path: str | Path, root: str | Path) -> Path:
    """`path` as a checkpoint folder inside `root` holding nothing but checkpoint files; else ValueError."""
    folder, root = Path(path).resolve(), Path(root).resolve()
    if root not in folder.parents:
        raise ValueError(
            f"{folder} is not inside the runs folder {root}: only saved runs there can be changed."
        )
    if not (folder / SIDECAR).is_file() or not (folder / WEIGHTS).is_file():
        raise ValueError(f"{folder} is not a checkpoint folder (it needs {WEIGHTS} and {SIDECAR}).")
    others = sorted(p.name for p in folder.iterdir() if p.name not in _CHECKPOINT_FILES)
    if others:
        raise ValueError(
            f"{folder} holds other files too ({', '.join(others)}); move them away first."
        )
    return folder


def delete_run(path: str | Path, root: str | Path) -> None:
    """Delete the saved run at `path` (a checkpoint folder under `root`, and nothing else)."""
    shutil.rmtree(_own_checkpoint(path, root))


def rename_run(path: str | Path, name: str, root: str | Path) -> Path:
    """Rename the saved run at `path` to `name` (in the same folder); returns its new path."""
    folder = _own_checkpoint(path, root)
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} cannot name a run: use letters, digits, '.', '_' or '-' (up to 100), "
            "starting with a letter or digit."
        )
    target = folder.with_name(name)
    if target.exists():
        raise ValueError(f"{target} exists already: choose another name.")
    return folder.rename(target)
