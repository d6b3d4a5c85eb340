"""Time the app's training against the CLI's, in one run: the same quick model on the demo scene.

    python scripts/time_app_training.py                       # all sections, a few minutes on 2 cores
    python scripts/time_app_training.py --sections train,eta  # only some

Sections (each prints its lines and a ratio to something measured in the same run):
  train    `python -m ssan train` (a child process, the CLI's thread rule) against the app's path: a
           `ui.jobs.TrainJob` in a worker thread of this process, with a poller drawing the training
           curve every second as the Train page's fragment does. Alternated, `--repeats` times each.
  eta      the Train page's up-front estimate (`estimate_time_range`, a range) and the live time left
           (`Progress.remaining + Progress.scoring`) at 10/25/50/75 % of the app's run, against the
           time the run then really took; the old live figure (elapsed / iteration x iterations left)
           beside it.
  cancel   a TrainJob cancelled at iteration `--cancel-at`: where it stopped and how long the cancel
           took to settle (training stopped; best model scored and saved).
  compare  the Compare page's engine (`compare` in a `ui.tasks.Task`, as the page starts it) against
           `python -m ssan compare` of the same models, preset and iterations.
Record the printed figures in docs/app-timings.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ssan.data.catalog import load_scene  # noqa: E402
from ssan.data.splits import make_split  # noqa: E402
from ssan.evaluation.compare import compare  # noqa: E402
from ssan.training.estimate import estimate_time_range  # noqa: E402
from ssan.training.trainer import format_duration  # noqa: E402
from ui import loaders  # noqa: E402
from ui.figures import training_curve_figure  # noqa: E402
from ui.jobs import TrainJob  # noqa: E402
from ui.tasks import POLL_SECONDS, TRAINING, Task  # noqa: E402

SPLIT = "paper"


def run_cli(args: list[str]) -> tuple[float, str]:
    """`python -m ssan ARGS` in a child process: its wall time and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ssan", *args], cwd=ROOT, capture_output=True, text=True
    )
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"`ssan {' '.join(args)}` failed:\n{done.stderr[-2000:]}")
    return took, done.stdout


def cli_train(model: str, iterations: int, out: Path, threads: int | None = None) -> float:
    """Training seconds of `ssan train` (its own measure, as the app's); `threads` as --threads."""
    _, stdout = run_cli(
        [
            *(["--threads", str(threads)] if threads else []),
            "train",
            "--scene",
            "demo",
            "--model",
            model,
            "--preset",
            "quick",
            "--split",
            SPLIT,
            "--set",
            f"iterations={iterations}",
            "--out",
            str(out),
            "--json",
        ]
    )
    report = json.loads(next(line for line in stdout.splitlines() if line.startswith("{")))
    return float(report["train_seconds"])


class PagePoller:
    """What the Train page's fragment does while a job runs: every second, a snapshot and the training
    curve built and serialised; also keeps (time, progress) for the live time left."""

    def __init__(self, job: TrainJob) -> None:
        self.job, self.seen = job, []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while True:
            snap = self.job.snapshot()
            if snap.progress is not None:
                self.seen.append((time.perf_counter(), snap.progress))
            training_curve_figure(list(snap.history)).to_json()
            if snap.finished:
                return
            time.sleep(POLL_SECONDS)


def app_train(scene, split, model: str, overrides: dict, runs: Path) -> dict:
    """The app's path: a TrainJob followed by a page poller; times and the poller's observations."""
    job = TrainJob(
        scene, split, (model,), "quick", device="cpu", overrides=overrides, runs_dir=runs
    )
    start = time.perf_counter()
    job.start()
    poller = PagePoller(job)
    poller.thread.start()
    job.join()
    end = time.perf_counter()
    poller.thread.join()
    snap = job.snapshot()
    if snap.error:
        raise SystemExit(f"the app's training failed: {snap.error}")
    return {"train": job.results[0].train_seconds, "start": start, "end": end, "seen": poller.seen}


def section_train(scene, split, args, tmp: Path) -> dict | None:
    """The CLI, the app, and the CLI at its old default (torch's: a thread per core), alternated."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cli, app, every_core, last = [], [], [], None
    for r in range(args.repeats):
        cli.append(cli_train(args.model, args.iterations, tmp / f"cli-{r}"))
        last = app_train(
            scene, split, args.model, {"iterations": args.iterations}, tmp / f"app-{r}"
        )
        app.append(last["train"])
        every_core.append(cli_train(args.model, args.iterations, tmp / f"all-{r}", cores))
        print(
            f"  repeat {r + 1}: CLI {cli[-1]:.1f} s, app {app[-1]:.1f} s, "
            f"CLI on {cores} threads {every_core[-1]:.1f} s",
            flush=True,
        )
    print(
        f"train: quick {args.model.upper()}, {args.iterations} iterations, demo, {SPLIT} split: "
        f"CLI {min(cli):.1f} s, app {min(app):.1f} s, CLI with a thread per core (its old default) "
        f"{min(every_core):.1f} s (best of {args.repeats}); app / CLI = {min(app) / min(cli):.2f}; "
        f"old CLI default / CLI = {min(every_core) / min(cli):.2f}",
        flush=True,
    )
    return last


def section_eta(scene, split, args, tmp: Path, run: dict | None) -> None:
    overrides = {"iterations": args.eta_iterations}
    estimate = estimate_time_range(
        scene, split, args.model, "quick", device="cpu", overrides=overrides
    )
    if run is None or args.eta_iterations != args.iterations:
        run = app_train(scene, split, args.model, overrides, tmp / "eta")
    actual = run["end"] - run["start"]
    inside = estimate.low <= actual <= estimate.high
    print(
        f"eta: up-front estimate {format_duration(estimate.low)} to {format_duration(estimate.high)}, "
        f"actual {format_duration(actual)} (training and scoring; "
        f"{'inside' if inside else 'outside'} the range, actual / middle = "
        f"{actual / ((estimate.low + estimate.high) / 2):.2f})"
    )
    print("| at | live time left | old live figure | actual time left | live / actual |")
    print("|---|---|---|---|---|")
    for share in (0.1, 0.25, 0.5, 0.75):
        t, p = next(((t, p) for t, p in run["seen"] if p.fraction >= share), run["seen"][-1])
        live, left = p.remaining + p.scoring, run["end"] - t
        old = p.elapsed / p.iteration * (p.iterations - p.iteration)
        print(
            f"| {p.iteration} of {p.iterations} | {format_duration(live)} | {format_duration(old)} | "
            f"{format_duration(left)} | {live / left:.2f} |",
            flush=True,
        )


def section_cancel(scene, split, args, tmp: Path) -> None:
    job = TrainJob(scene, split, (args.model,), "quick", device="cpu", runs_dir=tmp / "cancel")
    job.start()
    while (p := job.snapshot().progress) is None or p.iteration < args.cancel_at:
        time.sleep(0.01)
    asked, at = time.perf_counter(), p.iteration
    job.cancel()
    while job.snapshot().scoring is None and not job.snapshot().finished:
        time.sleep(0.01)
    stopped = time.perf_counter()
    job.join()
    settled = time.perf_counter()
    last = job.results[0].history[-1]["iteration"]
    print(
        f"cancel: asked at iteration {at}, training stopped at iteration {last} (+{last - at}) "
        f"{stopped - asked:.2f} s later; settled (best model scored on the test pixels and saved) "
        f"{settled - asked:.1f} s after the cancel",
        flush=True,
    )


def section_compare(scene, args, tmp: Path) -> None:
    models = args.compare_models.split(",")
    overrides = {"iterations": args.compare_iterations}

    def work(task: Task):
        return compare(
            scene,
            SPLIT,
            models,
            [0],
            "quick",
            runs_dir=tmp / "compare-app",
            overrides=overrides,
            progress=lambda s: task.report(s.fraction, detail=s),
            stop=task.stop,
        )

    task = Task(work, TRAINING, name="ssan-compare").start()
    while not task.snapshot().finished:  # the Compare page's progress fragment
        time.sleep(POLL_SECONDS)
    app = task.snapshot().result.total_seconds
    report = tmp / "compare-cli.json"
    wall, _ = run_cli(
        [
            "compare",
            "--scene",
            "demo",
            "--models",
            args.compare_models,
            "--preset",
            "quick",
            "--split",
            SPLIT,
            "--seeds",
            "0",
            "--set",
            f"iterations={args.compare_iterations}",
            "--runs-dir",
            str(tmp / "compare-cli"),
            "--no-reuse",
            "--out",
            str(report),
        ]
    )
    cli = json.loads(report.read_text())["total_seconds"]
    print(
        f"compare: {args.compare_models}, quick, {args.compare_iterations} iterations, demo: "
        f"Compare page's engine {app:.1f} s, `ssan compare` {cli:.1f} s "
        f"({wall:.1f} s with the process start); app / CLI = {app / cli:.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="train,eta,cancel,compare")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--eta-iterations", type=int, default=None, help="default: --iterations")
    parser.add_argument("--cancel-at", type=int, default=149)
    parser.add_argument("--compare-models", default="rnn,cnn")
    parser.add_argument("--compare-iterations", type=int, default=100)
    args = parser.parse_args()
    args.eta_iterations = args.eta_iterations or args.iterations
    sections = set(args.sections.split(","))
    loaders.use_torch()  # the app's thread rule, in this process as in the app's
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()} (the CLI's child: the same "
        f"rule), load average {load:.1f}",
        flush=True,
    )
    scene = load_scene("demo")
    split = make_split(scene, SPLIT, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        run = section_train(scene, split, args, tmp) if "train" in sections else None
        if "eta" in sections:
            section_eta(scene, split, args, tmp, run)
        if "cancel" in sections:
            section_cancel(scene, split, args, tmp)
        if "compare" in sections:
            section_compare(scene, args, tmp)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end {load:.1f}")


if __name__ == "__main__":
    main()
