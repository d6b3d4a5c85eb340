"""Saved runs as answers: which checkpoint stands for a model on a split, and which runs are missing.

A run is one model trained with one preset and seed on one split of one scene. The app and
the CLI list checkpoints; this module decides among them: a cancelled run (stopped early, its
best-so-far weights kept) is never picked by default, and among finished runs the one with the
best validation accuracy stands for its model (never the test pixels: choosing by test accuracy
would leak).
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from ssan.data.splits import Split
from ssan.evaluation.compare import RunResult
from ssan.models import MODEL_NAMES, Preset
from ssan.models.checkpoints import SIDECAR, WEIGHTS
from ssan.models.fitted import FittedModel

Saved = tuple[Path, FittedModel]


def finished(fitted: FittedModel) -> bool:
    """A run that trained to its end and was scored on its test pixels."""
    return not fitted.cancelled and fitted.metrics is not None


def on_split(fitted: FittedModel, split: Split) -> bool:
    """Whether `fitted` was trained on `split` (same protocol, seed and number of test pixels)."""
    return fitted.split.matches(split)


def same_run(fitted: FittedModel, model: str, split: Split, preset: Preset, seed: int) -> bool:
    """Whether `fitted` is the run `model` with `preset` (all its settings) and training `seed` on `split`.
    The classical models ignore presets, so only their split and seed count."""
    if fitted.model_name != model or fitted.seed != seed or not on_split(fitted, split):
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
) -> list[str]:
    """The `models` with no finished run of the same split, preset and seed (those need training)."""
    return [
        m
        for m in models
        if not any(finished(f) and same_run(f, m, split, presets[m], seed) for _, f in saved)
    ]


def seed_runs(
    saved: Sequence[Saved],
    models: Iterable[str],
    splits: dict[int, Split],
    presets: dict[str, Preset],
) -> tuple[list[RunResult], list[tuple[str, int]]]:
    """For each model and seed (split seeded by it, training seed the same, as `ssan compare` does),
    the best finished run as a RunResult (its evaluation time is not saved: NaN); and the (model, seed)
    pairs with no finished run."""
    runs, missing = [], []
    for model in models:
        for seed, split in splits.items():
            found = best_run(
                (p, f) for p, f in saved if same_run(f, model, split, presets[model], seed)
            )
            if found is None:
                missing.append((model, seed))
                continue
            fitted = found[1]
            runs.append(
                RunResult(
                    model,
                    seed,
                    fitted.metrics,
                    fitted.train_seconds,
                    math.nan,
                    fitted.best_iteration,
                    fitted.best_val_accuracy,
                    fitted.cancelled,
                )
            )
    return runs, missing


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
