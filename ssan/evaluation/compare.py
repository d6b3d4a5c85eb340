"""Several models, several seeds, one split per seed: the paper's comparison table, re-run.

For each seed the split is drawn once (seeded by that seed) and every model trains and is
tested on it, so models differ only by what they learn. Per-seed metrics (confusion matrices
and per-class accuracies included) are kept, and OA / AA / kappa are aggregated as
mean ± sample standard deviation over the seeds.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import platform
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sklearn
import torch

from ssan import __version__
from ssan.data.scene import Scene
from ssan.data.splits import Split, make_split
from ssan.evaluation.metrics import evaluate
from ssan.evaluation.reference import LABEL as REFERENCE_LABEL
from ssan.evaluation.reference import NOTE as REFERENCE_NOTE
from ssan.evaluation.reference import Reported, paper_results
from ssan.models import MODEL_NAMES
from ssan.training.trainer import (
    Progress,
    describe_device,
    pick_device,
    resolve_preset,
    train,
)

METRIC_KEYS = ("oa", "aa", "kappa")


def split_from_spec(scene: Scene, spec: str, seed: int = 0) -> Split:
    """The split a command-line spec names (kept for callers of this name; `make_split` parses every spec)."""
    return make_split(scene, spec, seed=seed)


def parse_models(text: str) -> list[str]:
    """'knn,svm,ssan' -> ['knn', 'svm', 'ssan'], refusing unknown names and repeats."""
    models = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODEL_NAMES]
    if not models or unknown:
        raise ValueError(
            f"unknown model(s) {unknown or text!r}; choose from {', '.join(MODEL_NAMES)} (comma-separated)"
        )
    if len(set(models)) != len(models):
        raise ValueError(f"models {text!r}: each model may appear once")
    return models


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' -> [0, 1, 2]; also 'A-B' for a range (inclusive)."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            lo, dash, hi = part.partition("-")
            seeds.extend(range(int(lo), int(hi) + 1) if dash and lo else [int(part)])
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(
            f"seeds {text!r}: expected distinct non-negative integers, e.g. 0,1,2 or 0-4"
        )
    return seeds


@dataclass(frozen=True)
class CompareStep:
    """Where a comparison is: run `run` of `runs` (model, seed); `training` is set during network training."""

    run: int
    runs: int
    model: str
    seed: int
    training: Progress | None = None
    finished: bool = False


@dataclass
class RunResult:
    """One model trained and tested on one seed's split; `error` says why a run failed (metrics then empty)."""

    model: str
    seed: int
    metrics: dict
    train_seconds: float
    eval_seconds: float
    best_iteration: int | None
    best_val_accuracy: float | None
    cancelled: bool
    device: str | None = None
    host: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @classmethod
    def failure(cls, model: str, seed: int, reason: str, host: str | None = None) -> RunResult:
        """A run that produced no model, with the reason it failed."""
        return cls(model, seed, {}, 0.0, 0.0, None, None, False, host=host, error=reason)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ModelSummary:
    """Mean and sample standard deviation over seeds of one model's test metrics (fractions, not %)."""

    model: str
    n_runs: int
    mean: dict[str, float]
    std: dict[str, float]
    per_class_mean: list[float | None]
    train_seconds_mean: float
    val_mean: float | None = (
        None  # validation OA of the checkpoint each run kept: what settings are chosen on
    )
    val_std: float | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def sample_std(values: np.ndarray) -> float:
    """The sample standard deviation (ddof=1) over seeds; 0 for a single seed."""
    return float(values.std(ddof=1)) if values.size > 1 else 0.0


def percent_mean_std(mean: float | None, std: float | None) -> str:
    """A fraction's mean ± std in %, as every table shows it, or "-" where there is none (no validation pixels)."""
    return "-" if mean is None else f"{100 * mean:.2f} ± {100 * std:.2f}"


def summarise(runs: list[RunResult], models: list[str] | tuple[str, ...]) -> list[ModelSummary]:
    """Mean ± sample std of each model's finished runs (one per seed), in the order of `models` (those
    with runs); failed runs are left out."""
    out = []
    for model in models:
        mine = [r for r in runs if r.model == model and not r.failed]
        if not mine:
            continue
        values = {k: np.array([r.metrics[k] for r in mine], dtype=float) for k in METRIC_KEYS}
        per_class = np.array(
            [[np.nan if a is None else a for a in r.metrics["per_class"]] for r in mine], float
        )
        with warnings.catch_warnings():  # a class with no test pixel in any seed stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            pc_mean = np.nanmean(per_class, axis=0)
        val = np.array(
            [r.best_val_accuracy for r in mine if r.best_val_accuracy is not None], dtype=float
        )
        out.append(
            ModelSummary(
                model=model,
                n_runs=len(mine),
                mean={k: float(v.mean()) for k, v in values.items()},
                std={k: sample_std(v) for k, v in values.items()},
                per_class_mean=[None if np.isnan(a) else float(a) for a in pc_mean],
                train_seconds_mean=float(np.mean([r.train_seconds for r in mine])),
                val_mean=float(val.mean()) if val.size else None,
                val_std=sample_std(val) if val.size else None,
            )
        )
    return out


@dataclass
class Report:
    """Everything a comparison produced, with what is needed to re-run and audit it."""

    scene: dict
    split_spec: str
    preset: str
    overrides: dict
    presets: dict[str, dict]
    device: str
    models: list[str]
    seeds: list[int]
    splits: list[dict] = field(default_factory=list)
    runs: list[RunResult] = field(default_factory=list)
    complete: bool = True
    total_seconds: float = 0.0
    created: str = ""
    versions: dict = field(default_factory=dict)

    @property
    def reference(self) -> dict[str, Reported] | None:
        """The paper's reported numbers for this scene (Pavia scenes only)."""
        return paper_results(self.scene["name"])

    def summaries(self) -> list[ModelSummary]:
        """Mean ± std per model over the seeds it finished, in the order models were asked for."""
        return summarise(self.runs, self.models)

    def to_dict(self) -> dict:
        """JSON-ready: inputs, per-seed splits and runs, summaries, the paper's numbers and versions."""
        reference = self.reference
        return {
            "scene": self.scene,
            "split_spec": self.split_spec,
            "splits": self.splits,
            "preset": self.preset,
            "overrides": self.overrides,
            "presets": self.presets,
            "device": self.device,
            "models": self.models,
            "seeds": self.seeds,
            "complete": self.complete,
            "runs": [r.to_dict() for r in self.runs],
            "summary": [s.to_dict() for s in self.summaries()],
            "std": "sample standard deviation over seeds (ddof=1); 0 for a single seed",
            "reference": None
            if reference is None
            else {
                "label": REFERENCE_LABEL,
                "note": REFERENCE_NOTE,
                "units": "percent",
                "results": {m: r.to_dict() for m, r in reference.items()},
            },
            "total_seconds": self.total_seconds,
            "created": self.created,
            "versions": self.versions,
        }

    def save(self, path: str | Path) -> Path:
        """Write the report as JSON to `path` (folders created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    def format_table(self) -> str:
        """A text table of test OA / AA / kappa and validation OA (mean ± std, %) per model, the paper's numbers
        beside them; the validation column is the one to choose settings on."""
        reference = self.reference
        header = ["model", "runs", "OA %", "AA %", "kappa %", "val OA %", "train s"]
        if reference:
            header.append(f"{REFERENCE_LABEL} OA/AA/kappa")
        rows = [header]
        summaries = {s.model: s for s in self.summaries()}
        failed = [r for r in self.runs if r.failed]
        for model in self.models:
            s = summaries.get(model)
            n_failed = sum(r.model == model for r in failed)
            if s is None and not n_failed:
                continue
            runs = str(s.n_runs if s else 0) + (f" + {n_failed} failed" if n_failed else "")
            row = [model.upper(), runs]
            row += (
                [percent_mean_std(s.mean[k], s.std[k]) for k in METRIC_KEYS]
                + [percent_mean_std(s.val_mean, s.val_std), f"{s.train_seconds_mean:.1f}"]
                if s
                else ["failed", "-", "-", "-", "-"]
            )
            if reference:
                ref = reference.get(model)
                row.append(f"{ref.oa:.2f} / {ref.aa:.2f} / {ref.kappa:.2f}" if ref else "-")
            rows.append(row)
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(r, widths))
            )
            for r in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines += [f"failed: {r.model.upper()} seed {r.seed}: {r.error}" for r in failed]
        return "\n".join(lines)

    def describe(self) -> list[str]:
        """The lines that say what produced the table: scene, split per seed, preset, device, notes."""
        lines = [
            f"scene {self.scene['name']} ({self.scene['shape'][0]}x{self.scene['shape'][1]}, "
            f"{self.scene['bands']} bands, {self.scene['classes']} classes); preset {self.preset}"
            + (f" with {_overrides_text(self.overrides)}" if self.overrides else "")
            + f"; device {self.device}",
            f"split {self.split_spec!r}, one per seed, shared by all models of that seed; "
            "mean ± sample std over seeds, kappa x 100:",
        ]
        lines += [f"  seed {d['seed']}: {d['summary']}" for d in self.splits]
        if self.reference:
            lines.append(f"note: {REFERENCE_NOTE}.")
        if not self.complete:
            lines.append(
                "note: the comparison was stopped early; only the finished runs are shown."
            )
        n_failed = sum(r.failed for r in self.runs)
        if n_failed:
            lines.append(
                f"note: {n_failed} run(s) failed; they are listed under the table and left out of the means."
            )
        return lines


def compare(
    scene: Scene,
    split_spec: str = "paper",
    models: list[str] | tuple[str, ...] = MODEL_NAMES,
    seeds: list[int] | tuple[int, ...] = (0,),
    preset: str = "quick",
    device: str | None = None,
    overrides: dict | None = None,
    progress: Callable[[CompareStep], None] | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Train and test every model on the same split for each seed; aggregate mean ± std over seeds.

    `stop` ends the comparison early: the network training at that moment keeps its best model
    so far and is reported (marked cancelled); the remaining runs are skipped.
    """
    dev = pick_device(device)
    report, splits = plan_comparison(
        scene, split_spec, models, seeds, preset, overrides, describe_device(dev)
    )
    started = time.perf_counter()
    n_runs, run = len(report.models) * len(report.seeds), 0
    for seed, split in zip(report.seeds, splits):
        for model in report.models:
            if stop is not None and stop.is_set():
                report.complete = False
                break
            run += 1
            step = CompareStep(run, n_runs, model, seed)
            if progress:
                progress(step)
            on_step = _forward_training(progress, step) if progress else None
            result = run_one(
                scene, split, model, seed, preset, dev, report.overrides, on_step, stop
            )
            report.runs.append(result)
            if result.cancelled:
                report.complete = False
            if progress:
                progress(CompareStep(run, n_runs, model, seed, finished=True))
        if not report.complete:
            break
    report.total_seconds = time.perf_counter() - started
    return report


def plan_comparison(
    scene: Scene,
    split_spec: str,
    models: list[str] | tuple[str, ...],
    seeds: list[int] | tuple[int, ...],
    preset: str,
    overrides: dict | None,
    device: str,
) -> tuple[Report, list[Split]]:
    """An empty report (inputs, presets, versions, one split per seed) and the splits, one per seed.

    Every bad input (model, preset setting, split spec) fails here, before any training.
    """
    overrides = dict(overrides or {})
    models, seeds = list(models), [int(s) for s in seeds]
    unknown = [m for m in models if m not in MODEL_NAMES]
    if not models or unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {', '.join(MODEL_NAMES)}")
    presets = {m: resolve_preset(m, preset, overrides).to_dict() for m in models}
    report = Report(
        scene={
            "name": scene.name,
            "source": scene.source,
            "shape": list(scene.shape),
            "bands": scene.n_bands,
            "classes": scene.n_classes,
            "class_names": list(scene.class_names),
            "sha256": scene.sha256,
        },
        split_spec=split_spec,
        preset=preset,
        overrides=overrides,
        presets=presets,
        device=device,
        models=models,
        seeds=seeds,
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        versions={
            "ssan": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
    )
    splits = [split_from_spec(scene, split_spec, seed) for seed in seeds]
    report.splits = [{**split.to_dict(), "summary": split.summary()} for split in splits]
    return report, splits


def run_one(
    scene: Scene,
    split: Split,
    model: str,
    seed: int,
    preset: str = "quick",
    device: str | torch.device | None = None,
    overrides: dict | None = None,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """Train `model` with `seed` on `split` and test it on the split's test pixels: one cell of the table.

    The sequential comparison and the Ray sweep (ssan.distributed) both call this.
    """
    fitted = train(
        scene,
        split,
        model,
        preset,
        seed=seed,
        device=device,
        overrides=overrides,
        progress=progress,
        stop=stop,
    )
    t0 = time.perf_counter()
    metrics = evaluate(fitted, scene, split)
    return RunResult(
        model,
        seed,
        metrics.to_dict(),
        fitted.train_seconds,
        time.perf_counter() - t0,
        fitted.best_iteration,
        fitted.best_val_accuracy,
        fitted.cancelled,
        device=fitted.device,
    )


def _forward_training(
    progress: Callable[[CompareStep], None], step: CompareStep
) -> Callable[[Progress], None]:
    return lambda p: progress(dataclasses.replace(step, training=p))


def _overrides_text(overrides: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items())
