"""Several models, several seeds, one split per seed: the paper's comparison table, re-run.

For each seed the split is drawn once (seeded by that seed) and every model trains and is
tested on it, so models differ only by what they learn. Per-seed metrics (confusion matrices
and per-class accuracies included) are kept, and OA / AA / kappa are aggregated as
mean ± sample standard deviation over the seeds.

This is the one comparison engine: `ssan compare` and the app's Compare page both call
`compare`. Every run is saved as a checkpoint in the runs folder, and a run already saved there
(same scene and data, split, model, preset with its overrides, and seed; `ssan.evaluation.runs`
decides) is read back instead of trained again, so a table computed from the CLI shows in the
app and the other way round.
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
from ssan.evaluation.runs import (
    RunResult,
    checkpoint_folder,
    find_run,
    saved_runs,
)
from ssan.evaluation.runs import runs_dir as default_runs_dir
from ssan.models import MODEL_NAMES, Preset
from ssan.models.checkpoints import save_checkpoint
from ssan.models.fitted import FittedModel
from ssan.training.trainer import (
    Progress,
    describe_device,
    pick_device,
    resolve_preset,
    train,
)

METRIC_KEYS = ("oa", "aa", "kappa")


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
    """Where a comparison is: run `run` of `runs` (model, seed); `training` is set during network training,
    `scoring` (pixels scored, test pixels) while the trained model classifies the test pixels; `reused`
    marks a run read back from the runs folder; `elapsed` counts seconds since the comparison began;
    `checkpoint` is where a finished run is saved."""

    run: int
    runs: int
    model: str
    seed: int
    training: Progress | None = None
    finished: bool = False
    scoring: tuple[int, int] | None = None
    reused: bool = False
    elapsed: float = 0.0
    checkpoint: str | None = None

    @property
    def fraction(self) -> float:
        """Share of the comparison done: the runs before this one plus this run's share."""
        if self.finished:
            within = 1.0
        elif self.scoring is not None:
            within = 0.95 + 0.05 * self.scoring[0] / max(self.scoring[1], 1)
        else:
            within = 0.95 * self.training.fraction if self.training is not None else 0.0
        return min(1.0, (self.run - 1 + within) / max(self.runs, 1))


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
    runs_dir: str | None = None  # where the runs are saved (None: not saved, e.g. on Ray)

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
            "runs_dir": self.runs_dir,
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
        if self.runs_dir is not None:
            reused = sum(r.reused for r in self.runs)
            lines.append(
                f"runs saved in {self.runs_dir}: {reused} read back (saved earlier with the same "
                f"scene, split, model, preset and seed), {len(self.runs) - reused} trained now"
            )
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
    *,
    runs_dir: str | Path | None = None,
    reuse: bool = True,
    device: str | None = None,
    overrides: dict | None = None,
    progress: Callable[[CompareStep], None] | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Train and test every model on the same split for each seed; aggregate mean ± std over seeds.

    Each run is saved as a checkpoint under `runs_dir` (default `ssan.evaluation.runs.runs_dir()`);
    with `reuse`, a finished run already saved there for the same scene, split, model, preset and
    seed is read back instead of trained. `stop` ends the comparison early: the network training at
    that moment keeps its best model so far and is reported and saved (marked cancelled, so never
    reused); the remaining runs are skipped.
    """
    dev = pick_device(device)
    report, splits = plan_comparison(
        scene, split_spec, models, seeds, preset, overrides, describe_device(dev)
    )
    root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    report.runs_dir = str(root)
    presets = {m: resolve_preset(m, preset, report.overrides) for m in report.models}
    saved = saved_runs(root, scene, report.models, splits[0].protocol) if reuse and splits else []
    started = time.perf_counter()
    n_runs, run = len(report.models) * len(report.seeds), 0
    tell = progress or (lambda _step: None)
    for seed, split in zip(report.seeds, splits):
        for model in report.models:
            if stop is not None and stop.is_set():
                report.complete = False
                break
            run += 1
            step = CompareStep(run, n_runs, model, seed)
            found = find_run(saved, model, split, presets[model], seed, scene) if reuse else None
            if found is not None:
                result = RunResult.of(found[1], checkpoint=found[0], reused=True)
            else:
                tell(dataclasses.replace(step, elapsed=time.perf_counter() - started))
                result = run_one(
                    scene,
                    split,
                    model,
                    seed,
                    preset,
                    dev,
                    report.overrides,
                    _forward(tell, step, started),
                    stop,
                    runs_dir=root,
                    scoring=_forward_scoring(tell, step, started),
                )
            report.runs.append(result)
            if result.cancelled:
                report.complete = False
            tell(
                dataclasses.replace(
                    step,
                    finished=True,
                    reused=result.reused,
                    elapsed=time.perf_counter() - started,
                    checkpoint=result.checkpoint,
                )
            )
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
    splits = [make_split(scene, split_spec, seed=seed) for seed in seeds]
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
    *,
    runs_dir: str | Path | None = None,
    scoring: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Train `model` with `seed` on `split` and test it on the split's test pixels: one cell of the table;
    saved as a checkpoint under `runs_dir` when given. The sequential comparison and the Ray sweep
    (ssan.distributed) both call this."""
    return fit_and_score(
        scene,
        split,
        model,
        seed,
        preset,
        device,
        overrides,
        progress,
        stop,
        runs_dir=runs_dir,
        scoring=scoring,
    )[1]


def fit_and_score(
    scene: Scene,
    split: Split,
    model: str,
    seed: int,
    preset: str | Preset = "quick",
    device: str | torch.device | None = None,
    overrides: dict | None = None,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    *,
    runs_dir: str | Path | None = None,
    scoring: Callable[[int, int], None] | None = None,
) -> tuple[FittedModel, RunResult]:
    """Train, score on the test pixels (`scoring(done, total)` as it goes) and, with `runs_dir`, save: the
    fitted model (its `metrics` set) and its RunResult. The app's training jobs call this too."""
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
    fitted.metrics = evaluate(fitted, scene, split, progress=scoring).to_dict()
    eval_seconds = time.perf_counter() - t0
    path = (
        save_checkpoint(fitted, checkpoint_folder(runs_dir, fitted))
        if runs_dir is not None
        else None
    )
    return fitted, RunResult.of(fitted, eval_seconds, path)


def _forward(
    tell: Callable[[CompareStep], None], step: CompareStep, started: float
) -> Callable[[Progress], None]:
    return lambda p: tell(
        dataclasses.replace(step, training=p, elapsed=time.perf_counter() - started)
    )


def _forward_scoring(
    tell: Callable[[CompareStep], None], step: CompareStep, started: float
) -> Callable[[int, int], None]:
    return lambda done, total: tell(
        dataclasses.replace(step, scoring=(done, total), elapsed=time.perf_counter() - started)
    )


def _overrides_text(overrides: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items())
