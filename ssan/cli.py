"""`python -m ssan` / `ssan`: data, train, evaluate, predict, compare, bench and explain from a terminal.

A thin shell over the library: each subcommand parses its options, calls library functions
and prints. Bad input ends with one line, `ssan: error: <message>`, and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ssan import __version__
from ssan.data.scene import Scene
from ssan.data.splits import Split
from ssan.hardware import THREADS_ENV, torch_threads
from ssan.inference.precision import PRECISIONS
from ssan.models import MODEL_NAMES, PRESETS

VALUE_FILE_SUFFIXES = (".txt", ".csv")
MAX_SEED = (
    2**32 - 1
)  # numpy's legacy seeding and scikit-learn take no more; torch takes up to 2**64 - 1
MAX_SEEDS = 1000  # seeds in one comparison: each is a run of every model
EXPLAIN_MAX_PIXELS = 2000  # as the app's explanation page
EXPLAIN_MAX_STEPS = 1000  # deletion steps: each is a forward pass over every sampled pixel
MAX_BENCH_PIXELS = 2_000_000  # the synthetic cube has 103 float32 bands: 0.8 GB at this size
MAX_RAY_RESOURCES = 1024
FILE_RULE = (
    "named as @FILE, or as one path ending in .txt or .csv (anything else, e.g. with commas, is the "
    "values themselves)"
)
SPLIT_HELP = "paper | per-class:N | fraction:F | disjoint[:N] | fixed:TRAIN.mat,TEST.mat"
SCENE_HELP = "demo, paviau, paviac, or the path of a cube: .mat, ENVI (.hdr) or GeoTIFF (.tif)"
EXAMPLES = """examples:
  python -m ssan data info demo --split disjoint
  python -m ssan train --scene demo --model ssan --preset quick --split per-class:30 --out runs/demo-ssan
  python -m ssan predict --checkpoint runs/demo-ssan --out demo-map.png
  python -m ssan compare --scene paviau --preset paper --split paper --seeds 0,1,2,3,4 --out paviau.json
      (the paper's table, re-run: needs a GPU and the Pavia files, `python -m ssan data fetch paviau`)
  python -m ssan explain --checkpoint assets/demo-ssan --pixels 500"""


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage or help
        return int(exc.code or 0)
    try:
        torch.set_num_threads(torch_threads(args.threads))
        return args.handler(args)
    except KeyboardInterrupt:
        print("ssan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (
        ValueError,
        OSError,
    ) as err:  # SceneError, CheckpointError, DownloadError, ... are ValueErrors
        print(f"ssan: error: {err}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "ssan: error: out of memory; use a smaller scene, batch_size or network (--set), "
            "or a machine with more memory",
            file=sys.stderr,
        )
        return 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="ssan",
        description="SSAN (Mei/Pan et al. 2019) hyperspectral classification: data, training, "
        "evaluation, maps, comparisons and benchmarks.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ssan {__version__}")
    parser.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help=f"CPU threads for torch (default: ${THREADS_ENV}, else one fewer than the cores, as the app "
        "uses); on a busy machine --threads 1 can be far faster for the GRU models",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="list, download and inspect scenes")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = data_commands.add_parser(
        "list", help="the scenes, their sizes and whether they are downloaded"
    )
    p.set_defaults(handler=cmd_data_list)
    p = data_commands.add_parser("fetch", help="download a Pavia scene (verified by sha256)")
    p.add_argument("key", choices=("paviau", "paviac"))
    p.set_defaults(handler=cmd_data_fetch)
    p = data_commands.add_parser(
        "info", help="shape, bands, classes and a split preview of a scene"
    )
    p.add_argument("scene", metavar="SCENE", help=SCENE_HELP)
    _add_scene_file_options(p)
    p.add_argument(
        "--split", default="paper", help=f"split to preview: {SPLIT_HELP} (default paper)"
    )
    p.add_argument("--seed", type=_seed, default=0, help="split seed (default 0)")
    p.set_defaults(handler=cmd_data_info)

    p = commands.add_parser("train", help="train a model, test it, save a checkpoint")
    _add_scene_options(p, required=True)
    p.add_argument("--model", choices=MODEL_NAMES, default="ssan")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="quick",
        help="quick: small network, fast on a CPU, with the changes docs/method.md lists (the default to "
        "pick); paper: the authors' configuration as published (minutes per run on a GPU, hours on a "
        "CPU)",
    )
    p.add_argument("--split", default="paper", help=f"{SPLIT_HELP} (default paper)")
    p.add_argument(
        "--seed", type=_seed, default=0, help="seed of the split and of training (default 0)"
    )
    p.add_argument("--out", help="checkpoint folder (default runs/SCENE-MODEL-PRESET-seedS)")
    _add_device_option(p)
    p.add_argument(
        "--fit-on",
        choices=("train", "scene"),
        default="train",
        help="fit scaling and PCA on the training pixels (leak-free, default) or the whole scene (authors' code)",
    )
    _add_set_option(p)
    p.add_argument("--json", action="store_true", help="end with a one-line JSON summary on stdout")
    p.set_defaults(handler=cmd_train)

    p = commands.add_parser("evaluate", help="test a checkpoint on a scene")
    p.add_argument("--checkpoint", required=True, metavar="DIR")
    _add_scene_options(p, required=False)
    p.add_argument(
        "--split", help="default: the checkpoint's own split (protocol and seed), re-created"
    )
    p.add_argument("--seed", type=_seed, help="split seed (default: the checkpoint's)")
    p.add_argument("--json", action="store_true", help="end with a one-line JSON summary on stdout")
    p.set_defaults(handler=cmd_evaluate)

    p = commands.add_parser("predict", help="classify a scene and save a coloured map (PNG)")
    p.add_argument("--checkpoint", required=True, metavar="DIR")
    _add_scene_options(p, required=False)
    p.add_argument("--out", required=True, metavar="MAP.png")
    p.add_argument("--labelled-only", action="store_true", help="classify only the labelled pixels")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="arithmetic of the forward passes: auto (default) takes bfloat16 where the device computes "
        "it natively, the scene has 100,000 pixels or more and a 4,096-pixel check agrees with "
        "float32 on 99.9%% of them, else float32; Ray tiles are always float32",
    )
    _add_ray_option(
        p, "row tiles are classified in parallel on a Ray cluster and stitched (the same map)"
    )
    p.add_argument(
        "--tile-rows",
        type=_positive_int,
        metavar="N",
        help="rows per tile with --ray (default 64; each tile also carries half a patch of rows above "
        "and below)",
    )
    p.add_argument(
        "--ray-cpus-per-tile",
        type=_resource_count,
        metavar="N",
        help="CPUs each tile task declares (default 1)",
    )
    p.add_argument(
        "--ray-gpus-per-tile",
        type=_resource_count,
        metavar="N",
        help="GPUs each tile task declares (default: 1 for a network where the cluster has GPUs, else 0)",
    )
    p.set_defaults(handler=cmd_predict)

    p = commands.add_parser(
        "compare", help="train several models over several seeds; mean ± std table"
    )
    _add_scene_options(p, required=True)
    p.add_argument(
        "--models",
        default=",".join(MODEL_NAMES),
        help=f"comma-separated (default {','.join(MODEL_NAMES)})",
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    p.add_argument("--split", default="paper", help=f"{SPLIT_HELP} (default paper)")
    p.add_argument(
        "--seeds",
        type=_seed_list,
        default="0",
        help=f"comma-separated seeds or a range, e.g. 0,1,2 or 0-4 (default 0; at most {MAX_SEEDS:,} seeds)",
    )
    p.add_argument("--out", metavar="REPORT.json", help="save the full report as JSON")
    p.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="where each run is saved as a checkpoint and looked up for reuse; the app reads the same "
        "folder (default $SSAN_RUNS_DIR, else runs/)",
    )
    p.add_argument(
        "--no-reuse",
        action="store_true",
        help="train every run again, even one already saved with the same scene, split, model, "
        "preset and seed",
    )
    _add_device_option(p)
    _add_set_option(p)
    _add_ray_option(
        p,
        "every (model, seed) run is a task on a Ray cluster; results stream back as they finish "
        "(Ray runs are neither saved nor reused)",
    )
    p.add_argument(
        "--ray-cpus-per-run",
        type=_resource_count,
        metavar="N",
        help="CPUs each run declares (default 1)",
    )
    p.add_argument(
        "--ray-gpus-per-run",
        type=_resource_count,
        metavar="N",
        help="GPUs each network run declares (default: 1 where the cluster has GPUs, else 0)",
    )
    p.set_defaults(handler=cmd_compare)

    p = commands.add_parser(
        "bench", help="SSAN training and inference speed on a PaviaU-sized synthetic cube"
    )
    _add_device_option(p)
    p.add_argument("--presets", default="quick,paper", help="comma-separated (default quick,paper)")
    p.add_argument(
        "--iterations",
        type=_positive_int,
        metavar="N",
        help="timed training steps per preset (default: quick 10, paper 2 on a CPU; 20 on a GPU)",
    )
    p.add_argument(
        "--size", type=_size, metavar="HxW", help="cube size in pixels (default 610x340, PaviaU)"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument(
        "--sweep",
        action="store_true",
        help="also measure comparison runs per hour, sequentially and on a local Ray instance (needs Ray; "
        "a few minutes)",
    )
    p.add_argument(
        "--sweep-runs",
        type=_positive_int,
        default=4,
        metavar="N",
        help="runs in the measured sweep (quick CNN on the demo scene, one seed each; default 4)",
    )
    p.set_defaults(handler=cmd_bench)

    p = commands.add_parser(
        "explain",
        help="does attention explain? attributions, deletion curves, planted bands, "
        "branch shares, seed stability",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="DIR",
        help="an SSAN, ARNN or ACNN checkpoint; repeat with checkpoints of the same model and split "
        "trained with other seeds to test seed stability",
    )
    _add_scene_options(p, required=False)
    p.add_argument(
        "--pixels",
        type=_bounded_int(EXPLAIN_MAX_PIXELS),
        default=500,
        metavar="N",
        help=f"held-out pixels to test (seeded sample, default 500, at most {EXPLAIN_MAX_PIXELS:,})",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of the pixel sample, random orders and bootstrap (default 0)",
    )
    p.add_argument(
        "--steps",
        type=_bounded_int(EXPLAIN_MAX_STEPS),
        default=10,
        help="deletion steps from none to all (default 10)",
    )
    p.add_argument("--json", action="store_true", help="end with a one-line JSON summary on stdout")
    p.set_defaults(handler=cmd_explain)

    p = commands.add_parser(
        "trace",
        help="one pixel's forward pass, stage by stage (what the Inside SSAN page draws)",
    )
    p.add_argument("--checkpoint", required=True, help="a saved SSAN, ARNN, ACNN, RNN or CNN")
    p.add_argument("--pixel", required=True, type=_pixel, help="ROW,COL of the pixel to follow")
    _add_scene_options(p, required=False)
    p.add_argument(
        "--json", action="store_true", help="every stage's name, shape and values as JSON"
    )
    p.set_defaults(handler=cmd_trace)
    return parser


# --------------------------------------------------------------------------- data


def cmd_data_list(args: argparse.Namespace) -> int:
    """The scenes, their size and whether their files are already in the data folder."""
    from ssan.data.catalog import list_scenes
    from ssan.data.demo import CLASS_NAMES, N_BANDS, make_demo_scene
    from ssan.data.download import data_dir

    demo_shape = inspect.signature(make_demo_scene).parameters["shape"].default
    rows = [
        ("scene", "title", "pixels", "bands", "classes", "status"),
        (
            "demo",
            "synthetic demo town",
            f"{demo_shape[0]}x{demo_shape[1]}",
            str(N_BANDS),
            str(len(CLASS_NAMES)),
            "built in (generated offline)",
        ),
    ]
    for e in list_scenes():
        status = "cached" if e.cached else f"not cached (download {e.download_bytes / 1e6:.1f} MB)"
        rows.append(
            (e.name, e.title, f"{e.shape[0]}x{e.shape[1]}", str(e.bands), str(e.classes), status)
        )
    print(_table(rows))
    print(f"data folder: {data_dir()} (set SSAN_DATA_DIR to use another)")
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    """Download a Pavia scene's two files (sha256-verified) and say where they are."""
    from ssan.data.download import fetch_scene_files

    cube, gt = fetch_scene_files(args.key, progressbar=True)
    print(f"{args.key}: cube {cube}")
    print(f"{args.key}: ground truth {gt}")
    return 0


def cmd_data_info(args: argparse.Namespace) -> int:
    """Shape, bands, wavelength range, classes with counts, and a preview of the split."""
    scene = _load_scene(
        args.scene, args.gt, args.cube_var, args.gt_var, args.class_names, args.wavelengths
    )
    h, w = scene.shape
    labelled = int(scene.class_counts().sum())
    wl = scene.wavelengths
    print(f"scene: {scene.name} ({scene.source})")
    print(f"pixels: {h} x {w} = {h * w:,}; labelled {labelled:,} ({100 * labelled / (h * w):.1f}%)")
    estimated = (
        " (estimated, a guess: see the note; give the real ones with --wavelengths)"
        if scene.wavelengths_estimated
        else ""
    )
    print(f"bands: {scene.n_bands}, {wl.min():.1f}-{wl.max():.1f} nm{estimated}")
    for note in scene.notes:
        print(f"note: {note}")
    split = _split(scene, args.split, args.seed)
    counts = split.counts(scene.n_classes)
    print(f"classes: {scene.n_classes}")
    print(f"split: {split.summary()}")
    for warning in split.warnings:
        print(f"warning: {warning}")
    rows = [("id", "class", "colour", "pixels", "train", "val", "test")]
    for c in range(scene.n_classes):
        rows.append(
            (
                str(scene.original_ids[c]),
                scene.class_names[c],
                scene.class_colors[c],
                f"{scene.class_counts()[c]:,}",
                f"{counts['train'][c]:,}",
                f"{counts['val'][c]:,}",
                f"{counts['test'][c]:,}",
            )
        )
    rows.append(
        (
            "",
            "total",
            "",
            f"{labelled:,}",
            f"{split.train.size:,}",
            f"{split.val.size:,}",
            f"{split.test.size:,}",
        )
    )
    print(_table(rows))
    return 0


# --------------------------------------------------------------------------- train / evaluate / predict


def cmd_train(args: argparse.Namespace) -> int:
    """Split, estimate, train with a progress bar, test, save the checkpoint, report."""
    from ssan import evaluate, train
    from ssan.models import CLASSICAL_MODELS
    from ssan.training.estimate import estimate_training_time
    from ssan.training.trainer import describe_device, pick_device, resolve_preset

    overrides = parse_overrides(args.set)
    cfg = resolve_preset(args.model, args.preset, overrides)
    device = pick_device(args.device)
    scene = _load_scene(
        args.scene, args.gt, args.cube_var, args.gt_var, args.class_names, args.wavelengths
    )
    split = _split(scene, args.split, args.seed)
    out = Path(args.out or f"runs/{scene.name}-{args.model}-{args.preset}-seed{args.seed}")
    _print_split(split)
    print(
        f"model: {args.model.upper()}, preset {cfg.name}"
        + (f" with {_settings(overrides)}" if overrides else "")
        + f", device {describe_device(device)}; scaling and PCA fitted on "
        + (
            "the training pixels"
            if args.fit_on == "train"
            else "the whole scene (as the authors' code)"
        )
    )
    if args.model not in CLASSICAL_MODELS:
        estimate = estimate_training_time(
            scene, split, args.model, args.preset, device=device, overrides=overrides
        )
        print(f"estimated training time: {estimate.describe()}", flush=True)

    stop = threading.Event()
    with (
        _ctrl_c_sets(stop),
        _TrainingBar(cfg.iterations if args.model not in CLASSICAL_MODELS else 0) as bar,
    ):
        fitted = train(
            scene,
            split,
            args.model,
            args.preset,
            seed=args.seed,
            device=device,
            fit_on=args.fit_on,
            overrides=overrides,
            progress=bar.update,
            stop=stop,
        )
    if fitted.cancelled:
        done = fitted.history[-1]["iteration"] if fitted.history else 0
        print(
            f"training stopped at iteration {done} of {cfg.iterations}; "
            f"kept the best model so far (iteration {fitted.best_iteration})"
        )
    # Saved before testing, so an interrupted test still leaves the model; a finished run already at
    # `out` is replaced only once this one is tested.
    if not out.exists():
        fitted.save(out)
    metrics = evaluate(fitted, scene, split)
    fitted.metrics = metrics.to_dict()
    fitted.save(out)
    print(
        f"trained in {fitted.train_seconds:.1f} s on {fitted.device}"
        + (
            f"; best validation accuracy {100 * fitted.best_val_accuracy:.2f}%"
            if fitted.best_val_accuracy is not None
            else ""
        )
        + (f" at iteration {fitted.best_iteration}" if fitted.best_iteration else "")
    )
    _print_metrics(
        metrics, scene.class_names, f"test pixels of the {split.protocol} split, seed {split.seed}"
    )
    print(f"checkpoint: {out}")
    if args.json:
        print(
            json.dumps(
                {
                    "model": args.model,
                    "preset": args.preset,
                    "overrides": overrides,
                    "scene": scene.name,
                    "split": split.description,
                    "split_protocol": split.protocol,
                    "leakage": split.leakage,
                    "seed": args.seed,
                    "metrics": metrics.to_dict(),
                    "train_seconds": fitted.train_seconds,
                    "best_iteration": fitted.best_iteration,
                    "best_val_accuracy": fitted.best_val_accuracy,
                    "cancelled": fitted.cancelled,
                    "device": fitted.device,
                    "fit_on": args.fit_on,
                    "checkpoint": str(out),
                }
            )
        )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Test a checkpoint, by default on its own split re-created from protocol and seed."""
    from ssan import evaluate, load_model

    fitted = load_model(args.checkpoint)
    scene = _checkpoint_scene(args, fitted)
    fitted.scene.check(scene)  # refuses a scene the model does not fit
    seed = fitted.seed if args.seed is None else args.seed
    if args.split:
        split = _split(scene, args.split, seed)
    else:
        protocol = fitted.split.protocol
        if protocol == "fixed":
            raise ValueError(
                "this checkpoint was trained on a fixed split; give the two maps again with "
                "--split fixed:TRAIN.mat,TEST.mat"
            )
        split = _split(scene, protocol, seed)
    print(f"model: {fitted.summary()}")
    _print_split(split)
    for line in _split_checks(
        fitted, scene, split, explicit=bool(args.split or args.seed is not None)
    ):
        print(f"warning: {line}")
    metrics = evaluate(fitted, scene, split)
    _print_metrics(
        metrics, scene.class_names, f"test pixels of the {split.protocol} split, seed {split.seed}"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoint": str(args.checkpoint),
                    "model": fitted.model_name,
                    "preset": fitted.preset.name,
                    "scene": scene.name,
                    "split": split.description,
                    "split_protocol": split.protocol,
                    "seed": split.seed,
                    "metrics": metrics.to_dict(),
                }
            )
        )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Classify every pixel (or the labelled ones) and save a coloured map with a legend."""
    from ssan import load_model
    from ssan.evaluation.metrics import choose_precision, predict_map
    from ssan.render.mapimage import save_map

    if args.ray is None:
        _refuse_without_ray(args, "--tile-rows", "--ray-cpus-per-tile", "--ray-gpus-per-tile")
    fitted = load_model(args.checkpoint)
    scene = _checkpoint_scene(args, fitted)
    sampler = fitted.sampler(scene)  # refuses a scene the model does not fit
    if note := fitted.scene.same_data(scene):
        print(f"warning: {note}")
    n_pixels = (
        int((scene.labels > 0).sum()) if args.labelled_only else scene.shape[0] * scene.shape[1]
    )
    if args.ray is not None and args.precision == "bfloat16":
        raise ValueError(
            "--precision bfloat16 is for maps computed here: Ray tiles are classified in float32 "
            "(workers may have different CPUs). Drop --ray or --precision."
        )
    if args.ray is None:
        pixels = (
            scene.labelled_pixels()
            if args.labelled_only
            else np.arange(scene.shape[0] * scene.shape[1])
        )
        choice = choose_precision(fitted, sampler, pixels, args.precision)
        print(f"precision: {choice.describe()}")
    with tqdm(total=n_pixels, unit="px", file=sys.stderr, disable=None, desc="classifying") as bar:
        if args.ray is None:
            class_map = predict_map(
                fitted,
                scene,
                sampler,
                labelled_only=args.labelled_only,
                precision=choice.precision,
                progress=bar.update,
            )
        else:
            class_map = _predict_on_ray(args, fitted, scene, bar.update)
    title = f"{fitted.model_name.upper()} ({fitted.preset.name}) on {scene.name}"
    path = save_map(
        args.out, class_map, fitted.scene.class_names, fitted.scene.class_colors, title=title
    )
    print(
        f"classified {n_pixels:,} pixels of {scene.name}"
        + (" (labelled only)" if args.labelled_only else "")
    )
    counts = np.bincount(class_map.ravel(), minlength=fitted.n_classes + 1)[1:]
    print(
        _table(
            [("class", "pixels")]
            + [(n, f"{k:,}") for n, k in zip(fitted.scene.class_names, counts)]
        )
    )
    print(f"map: {path}")
    return 0


def _predict_on_ray(args: argparse.Namespace, fitted, scene: Scene, progress) -> np.ndarray:
    """The map from row tiles classified on Ray (`--ray`), stitched."""
    from ssan.distributed.cluster import ray_session
    from ssan.distributed.tiles import DEFAULT_TILE_ROWS

    tile_rows = args.tile_rows or DEFAULT_TILE_ROWS
    with ray_session(args.ray) as info:
        from ssan.distributed.mapping import predict_map_on_ray

        print(f"ray: {info.describe()}; tiles of {tile_rows} rows", flush=True)
        return predict_map_on_ray(
            fitted,
            scene,
            tile_rows,
            labelled_only=args.labelled_only,
            cpus_per_tile=args.ray_cpus_per_tile,
            gpus_per_tile=args.ray_gpus_per_tile,
            progress=progress,
            info=info,
        )


# --------------------------------------------------------------------------- compare / bench


def cmd_compare(args: argparse.Namespace) -> int:
    """Train every model on every seed's split; print mean ± std beside the paper's numbers."""
    from ssan.evaluation.compare import compare, parse_models, parse_seeds

    if args.ray is None:
        _refuse_without_ray(args, "--ray-cpus-per-run", "--ray-gpus-per-run")
    elif args.runs_dir is not None or args.no_reuse:
        raise ValueError(
            "--runs-dir and --no-reuse apply without --ray only: Ray runs are neither saved nor reused"
        )
    models, seeds = parse_models(args.models), parse_seeds(args.seeds)
    overrides = parse_overrides(args.set)
    scene = _load_scene(
        args.scene, args.gt, args.cube_var, args.gt_var, args.class_names, args.wavelengths
    )
    stop = threading.Event()
    if args.ray is not None:
        report = _compare_on_ray(args, scene, models, seeds, overrides, stop)
    else:
        bar = tqdm(
            total=len(models) * len(seeds),
            unit="run",
            file=sys.stderr,
            disable=None,
            desc="comparing",
        )

        def on_step(step) -> None:
            if step.finished:
                if step.reused:
                    bar.set_description(f"{step.model.upper()} seed {step.seed} (saved run)")
                bar.update(1)
            elif step.training is None:
                bar.set_description(f"{step.model.upper()} seed {step.seed}")
            else:
                p = step.training
                bar.set_postfix_str(
                    f"it {p.iteration}/{p.iterations} loss {p.loss:.3f}", refresh=False
                )

        with _ctrl_c_sets(stop), contextlib.closing(bar):
            report = compare(
                scene,
                args.split,
                models,
                seeds,
                args.preset,
                runs_dir=args.runs_dir,
                reuse=not args.no_reuse,
                device=args.device,
                overrides=overrides,
                progress=on_step,
                stop=stop,
            )
    for line in report.describe():
        print(line)
    print(report.format_table())
    if args.out:
        print(f"report: {report.save(args.out)}")
    return 0


def _compare_on_ray(
    args: argparse.Namespace,
    scene: Scene,
    models: list[str],
    seeds: list[int],
    overrides: dict,
    stop: threading.Event,
):
    """The comparison with every (model, seed) run a Ray task; one line per run as it finishes."""
    from ssan.distributed.cluster import ray_session
    from ssan.training.trainer import format_duration

    with ray_session(args.ray) as info:
        from ssan.distributed.sweep import compare_on_ray

        print(f"ray: {info.describe()}; {len(models) * len(seeds)} runs", flush=True)

        def on_result(p) -> None:
            r = p.result
            what = (
                f"failed: {r.error}"
                if r.failed
                else f"OA {100 * r.metrics['oa']:.2f}% in {r.train_seconds + r.eval_seconds:.1f} s on {r.host}"
            )
            eta = f"; about {format_duration(p.remaining)} left" if p.done < p.total else ""
            print(
                f"[{p.done}/{p.total}] {r.model.upper()} seed {r.seed}: {what}{eta}",
                file=sys.stderr,
                flush=True,
            )

        with _ctrl_c_sets(stop, "cancelling the outstanding runs; the finished ones are kept"):
            return compare_on_ray(
                scene,
                args.split,
                models,
                seeds,
                args.preset,
                args.device,
                overrides,
                cpus_per_run=args.ray_cpus_per_run,
                gpus_per_run=args.ray_gpus_per_run,
                progress=on_result,
                stop=stop,
                info=info,
            )


def _refuse_without_ray(args: argparse.Namespace, *options: str) -> None:
    """The Ray-only options make no sense without --ray: say so rather than ignore them."""
    given = [o for o in options if getattr(args, o.lstrip("-").replace("-", "_")) is not None]
    if given:
        raise ValueError(
            f"{', '.join(given)} only appl{'ies' if len(given) == 1 else 'y'} with --ray [ADDRESS]"
        )


def cmd_bench(args: argparse.Namespace) -> int:
    """Time SSAN training and whole-scene inference for each preset on a PaviaU-sized cube."""
    from ssan.bench import PAVIAU_SHAPE, run_bench

    if args.sweep:
        from ssan.distributed.cluster import require_ray

        require_ray()  # before minutes of benchmarking, not after
    say = lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True)
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    report = run_bench(
        args.device, presets, args.iterations, args.size or PAVIAU_SHAPE, progress=say
    )
    sweep = None
    if args.sweep:
        from ssan.distributed.throughput import measure_sweep

        sweep = measure_sweep(args.sweep_runs, device=args.device, progress=say)
    if args.json:
        print(
            json.dumps(
                {**report.to_dict(), **({"sweep": sweep.to_dict()} if sweep else {})}, indent=1
            )
        )
    else:
        print(report.format_table())
        if sweep:
            print(sweep.format())
    return 0


# --------------------------------------------------------------------------- explain


def cmd_explain(args: argparse.Namespace) -> int:
    """Attributions beside attention, deletion areas, agreement, planted precision, branches, seed stability."""
    from ssan import explain_model, load_model
    from ssan.explain import DECIDERS, METHODS, seed_stability
    from ssan.explain.report import RANKING_LABELS

    models = [load_model(path) for path in args.checkpoint]
    fitted = models[0]
    scene = _load_scene(_scene_of(args, fitted), args.gt, args.cube_var, args.gt_var)
    with tqdm(total=100, unit="%", file=sys.stderr, disable=None, desc="explaining") as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_description(message, refresh=False)
            bar.update(round(100 * fraction) - bar.n)

        explanation = explain_model(
            fitted, scene, args.pixels, args.seed, args.steps, progress=progress
        )
    print(f"model: {fitted.summary()}")
    print(f"pixels: {explanation.provenance}")
    print(
        f"baseline: the mean input of {explanation.baseline.n_pixels:,} training pixels (deleted inputs take its "
        "values; Integrated Gradients starts from it)"
    )
    for note in explanation.notes:
        print(f"note: {note}")
    for kind, curves in explanation.curves.items():
        held = "the patch left as it is" if kind == "spectral" else "the spectrum left as it is"
        print(
            f"\n{kind} deletion ({curves.total} {'bands' if kind == 'spectral' else 'neighbours'}, {held}): area "
            f"under the predicted class's probability, lower = falls faster"
        )
        rows = [("ranking", "area", "95% interval", "accuracy at half deleted")]
        half = int(np.argmin(np.abs(curves.fractions - 0.5)))
        for name in curves.rankings:
            a = curves.area(name, args.seed)
            rows.append(
                (
                    RANKING_LABELS[name],
                    f"{a.mean:.3f}",
                    f"{a.low:.3f}-{a.high:.3f}",
                    f"{100 * curves.accuracy(name)[half]:.1f}%",
                )
            )
        print(_table(rows))
    for kind, by_method in explanation.agreement.items():
        rows = [("attribution", "median", "quartiles")]
        for method, rho in by_method.items():
            finite = rho[np.isfinite(rho)]
            q1, med, q3 = np.percentile(finite, [25, 50, 75]) if finite.size else (np.nan,) * 3
            rows.append((METHODS[method], f"{med:.2f}", f"{q1:.2f} to {q3:.2f}"))
        print(
            f"\n{kind} agreement: per-pixel Spearman correlation between attention and each attribution"
        )
        print(_table(rows))
        rows = [("class (median per class)", *(METHODS[m] for m in by_method))]
        medians = {m: explanation.agreement_by_class(kind, m) for m in by_method}
        for c, name in enumerate(scene.class_names):
            if medians[next(iter(by_method))][c].size:
                rows.append(
                    (
                        name,
                        *(
                            f"{np.median(medians[m][c]):.2f}" if medians[m][c].size else "-"
                            for m in by_method
                        ),
                    )
                )
        print(_table(rows))
    if explanation.planted:
        print(
            "\nplanted bands: precision@k of each ranking's top-k bands (k = planted width) on the pair's pixels"
        )
        rows = [("pair", "bands", "ranking", "precision", "chance")]
        for p in explanation.planted:
            pair = f"{scene.class_names[p.pair[0] - 1]} / {scene.class_names[p.pair[1] - 1]}"
            rows.append(
                (
                    pair,
                    f"{p.bands[0]}-{p.bands[1] - 1}",
                    RANKING_LABELS[p.ranking],
                    f"{p.precision:.2f}",
                    f"{p.chance:.2f}",
                )
            )
        print(_table(rows))
    if explanation.branches is not None:
        shares = explanation.branches.shares(explanation.batch.labels, fitted.n_classes)
        print(
            "\nwhich branch decided (prediction kept when the other branch's scores are replaced by their training "
            "mean): share of each class's pixels"
        )
        rows = [("class", *DECIDERS)]
        for name, row in zip(scene.class_names, shares):
            if np.isfinite(row).all():
                rows.append((name, *(f"{100 * v:.0f}%" for v in row)))
        rows.append(("all pixels", *(f"{100 * v:.0f}%" for v in explanation.branches.overall())))
        print(_table(rows))
    print("\nverdict:")
    for sentence in explanation.verdict():
        print(f"  {sentence}")
    summary = explanation.to_dict()
    if len(models) > 1:
        pairs = seed_stability(models, scene, explanation.batch.pixels)
        print("\nseed stability of α on the same pixels:")
        rows = [
            (
                "seeds",
                "median per-pixel Spearman",
                "median class-mean Spearman",
                "accuracy difference",
            )
        ]
        for pair in pairs:
            rows.append(
                (
                    f"{pair.seeds[0]} vs {pair.seeds[1]}",
                    f"{np.nanmedian(pair.pixel_correlation):.2f}",
                    f"{np.nanmedian(pair.class_correlation):.2f}",
                    f"{100 * pair.accuracy_difference:.1f} points",
                )
            )
        print(_table(rows))
        for pair in pairs:
            print(f"  {pair.sentence()}")
        summary["stability"] = [pair.to_dict() for pair in pairs]
    if args.json:
        summary["checkpoints"] = [str(path) for path in args.checkpoint]
        print(json.dumps(summary))
    return 0


# --------------------------------------------------------------------------- helpers


def cmd_trace(args: argparse.Namespace) -> int:
    from ssan import load_model
    from ssan.inference.trace import trace_pixel

    fitted = load_model(args.checkpoint)
    scene = _checkpoint_scene(args, fitted)
    trace = trace_pixel(fitted, scene, args.pixel)
    if args.json:
        print(json.dumps(trace.to_dict()))
        return 0
    rows = [("stage", "shape", "min", "max", "what it is")]
    for stage in trace.stages:
        v = stage.value
        rows.append(
            (
                stage.name,
                "×".join(map(str, stage.shape)) or "1",
                f"{v.min():.4g}",
                f"{v.max():.4g}",
                stage.description,
            )
        )
    print(
        f"{fitted.model_name.upper()} on {scene.name}, pixel (row {args.pixel[0]}, col {args.pixel[1]}):"
    )
    print(_table(rows))
    predicted = int(trace.probabilities.argmax()) + 1
    print(
        f"predicted: {scene.class_names[predicted - 1]} (p = {trace.probabilities[predicted - 1]:.3f})"
    )
    return 0


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """`--set key=value` pairs as a dict: ints, floats, true/false, none, and a,b lists become Python values."""
    overrides: dict[str, Any] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--set expects key=value (e.g. --set iterations=500); got {item!r}")
        overrides[key.strip()] = _value(value.strip())
    return overrides


def _value(text: str) -> Any:
    if "," in text:
        return tuple(_value(part.strip()) for part in text.split(","))
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _load_scene(
    spec: str,
    gt: str | None = None,
    cube_var: str | None = None,
    gt_var: str | None = None,
    class_names: str | Path | None = None,
    wavelengths: str | Path | None = None,
) -> Scene:
    """A scene by name or path; a Pavia scene is downloaded with a progress bar when missing."""
    from ssan.data.catalog import SCENE_CHOICES, load_scene

    key = spec.strip().lower()
    if key in SCENE_CHOICES:
        if cube_var or gt_var or class_names or wavelengths:
            raise ValueError(
                f"--cube-var, --gt-var, --class-names and --wavelengths apply to a scene file, not to "
                f"the built-in scene '{key}'"
            )
        return load_scene(key, gt, progressbar=True) if key != "demo" else load_scene(key, gt)
    options = {
        k: v
        for k, v in (
            ("cube_var", cube_var),
            ("gt_var", gt_var),
            ("class_names", class_names),
            ("wavelengths", wavelengths),
        )
        if v
    }
    return load_scene(spec, gt, **options)


def _split(scene: Scene, spec: str, seed: int) -> Split:
    from ssan import make_split

    return make_split(scene, spec, seed)


def _checkpoint_scene(args: argparse.Namespace, fitted) -> Scene:
    """The scene a checkpoint command works on: --scene with its file options, else the checkpoint's own."""
    return _load_scene(
        _scene_of(args, fitted),
        args.gt,
        args.cube_var,
        args.gt_var,
        args.class_names,
        args.wavelengths,
    )


def _scene_of(args: argparse.Namespace, fitted) -> str:
    """--scene, or the checkpoint's own scene when it is a built-in one."""
    from ssan.data.catalog import SCENE_CHOICES

    if args.scene:
        return args.scene
    if fitted.scene.name in SCENE_CHOICES:
        return fitted.scene.name
    raise ValueError(
        f"the checkpoint was trained on '{fitted.scene.name}', which is not a built-in scene; "
        "give it with --scene PATH.mat"
    )


def _split_checks(fitted, scene: Scene, split: Split, explicit: bool) -> list[str]:
    """Warnings when the evaluation split is not the one the model was trained on."""
    trained_on = np.concatenate([fitted.split.train, fitted.split.val])
    out = [note] if (note := fitted.scene.same_data(scene)) else []
    if scene.shape != tuple(fitted.scene.shape) or trained_on.size == 0:
        return out
    overlap = int(np.isin(split.test, trained_on).sum())
    if overlap:
        out.append(
            f"{overlap:,} of the {split.test.size:,} test pixels were training or validation pixels of this "
            "model; these metrics are optimistic"
        )
    if not explicit and not np.array_equal(np.sort(fitted.split.train), split.train):
        out.append(
            "the re-created split differs from the one stored in the checkpoint (is this the same scene?)"
        )
    return out


def _print_split(split: Split) -> None:
    print(f"split: {split.summary()}")
    for warning in split.warnings:
        print(f"warning: {warning}")


def _print_metrics(metrics, class_names: tuple[str, ...], where: str) -> None:
    print(
        f"OA {100 * metrics.oa:.2f}%  AA {100 * metrics.aa:.2f}%  kappa {metrics.kappa:.4f}  "
        f"({metrics.n_pixels:,} {where})"
    )
    support = metrics.confusion.sum(axis=1)
    rows = [("class", "test pixels", "accuracy")]
    for name, n, acc in zip(class_names, support, metrics.per_class):
        rows.append((name, f"{n:,}", "-" if np.isnan(acc) else f"{100 * acc:.2f}%"))
    print(_table(rows))


def _settings(overrides: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items())


def _table(rows: list[tuple[str, ...]] | list[list[str]]) -> str:
    """Left-aligned first column, right-aligned numbers, a rule under the header."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            str(c).ljust(w) if i == 0 or not _numeric(c) else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(r, widths))
        ).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _numeric(cell: str) -> bool:
    return (
        bool(cell)
        and cell.replace(",", "").replace(".", "").replace("%", "").replace("-", "").isdigit()
    )


class _TrainingBar:
    """A tqdm bar on stderr driven by training `Progress`: loss, validation accuracy, time left."""

    def __init__(self, total: int) -> None:
        self.bar = tqdm(
            total=total,
            unit="it",
            file=sys.stderr,
            disable=None if total else True,
            desc="training",
        )

    def __enter__(self) -> _TrainingBar:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()

    def update(self, p) -> None:
        from ssan.training.trainer import format_duration

        self.bar.update(p.iteration - self.bar.n)
        best = "-" if p.best_val_accuracy is None else f"{100 * p.best_val_accuracy:.1f}%"
        self.bar.set_postfix_str(
            f"loss {p.loss:.3f}, best val {best}, ETA {format_duration(p.remaining)}", refresh=False
        )


@contextlib.contextmanager
def _ctrl_c_sets(
    stop: threading.Event, doing: str = "stopping after this step and keeping the best model so far"
) -> Iterator[None]:
    """While inside, the first Ctrl-C sets `stop` (training keeps its best model); a second one aborts."""

    def handler(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(f"\nssan: {doing} (Ctrl-C again to abort)", file=sys.stderr, flush=True)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: no signal handling, Ctrl-C behaves as usual
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _add_scene_file_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--gt",
        metavar="LABELS",
        help="the label map in a second file: .mat, ENVI classification (.hdr), "
        "GeoTIFF or PNG mask (needed for ENVI and GeoTIFF cubes)",
    )
    p.add_argument(
        "--cube-var", help="name of the cube variable in the .mat file (default: found by shape)"
    )
    p.add_argument(
        "--gt-var", help="name of the label variable in a .mat label file (default: found by shape)"
    )
    p.add_argument(
        "--class-names",
        type=_values_or_file,
        metavar="NAMES",
        help="class names in id order: a comma-separated list, or a text file with one per line, "
        f"{FILE_RULE} (default: from the file, else Class 1..C)",
    )
    p.add_argument(
        "--wavelengths",
        type=_values_or_file,
        metavar="NM",
        help="band centres in nm: START-END (even spread), a comma-separated list, or a text file, "
        f"{FILE_RULE} (default: from the file, else a guess by band count, marked as one)",
    )


def _add_scene_options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument(
        "--scene",
        required=required,
        help=SCENE_HELP + ("" if required else " (default: the checkpoint's)"),
    )
    _add_scene_file_options(p)


def _add_device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "mps"),
        default="auto",
        help="auto picks CUDA, then Apple MPS, then the CPU (default auto)",
    )


def _add_ray_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help=f"{what}. ADDRESS of a cluster (`ray start --head` prints it; 'auto' finds one started on "
        "this machine), or 'local' / nothing to start Ray here on 127.0.0.1. Needs "
        "`pip install -r requirements-ray.txt`",
    )


def _add_set_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a preset setting, e.g. --set iterations=500 --set rnn_hidden=128 (repeatable)",
    )


def _values_or_file(text: str) -> str | Path:
    """--class-names / --wavelengths: a file when the syntax says so (FILE_RULE), else the values as typed.
    Decided by the text alone, never by trying it as a path."""
    if text.startswith("@"):
        return Path(text[1:]).expanduser()
    if not any(c in text for c in ",\n") and text.strip().lower().endswith(VALUE_FILE_SUFFIXES):
        return Path(text.strip()).expanduser()
    return text


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _bounded_int(most: int):
    """An argparse type: a positive integer up to `most` (a count that sizes memory or time)."""

    def parse(text: str) -> int:
        value = _positive_int(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"expected at most {most:,}, got {text}")
        return value

    parse.__name__ = "count"
    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer (0, 1, 2, ... up to {MAX_SEED:,}, the range numpy, torch "
            f"and scikit-learn all accept), got {text!r}"
        )
    return value


def _seed_list(text: str) -> str:
    """--seeds: checked for size before any list is built (a range like 0-1000000000 is refused)."""
    count = 0
    for part in (p.strip() for p in text.split(",") if p.strip()):
        lo, dash, hi = part.partition("-")
        try:
            ends = [int(v) for v in ((lo, hi) if dash and lo else (part,))]
        except ValueError:
            return text  # not numbers: the comparison's own parser says what it expects
        if max(ends) > MAX_SEED:
            raise argparse.ArgumentTypeError(
                f"{text!r}: seeds go up to {MAX_SEED:,}, the range numpy, torch and scikit-learn all accept"
            )
        count += ends[-1] - ends[0] + 1
        if count > MAX_SEEDS:
            raise argparse.ArgumentTypeError(
                f"{text!r} gives more than {MAX_SEEDS:,} seeds; each seed is a run of every model. "
                "Give fewer, e.g. 0-4."
            )
    return text


def _resource_count(text: str) -> float:
    """--ray-*-per-*: a finite number of CPUs or GPUs, 0 or more (fractions allowed, as Ray takes them)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_RAY_RESOURCES:
        raise argparse.ArgumentTypeError(
            f"expected a number of CPUs or GPUs from 0 to {MAX_RAY_RESOURCES:,} (e.g. 1 or 0.5), got {text!r}"
        )
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected HxW in pixels, e.g. 120x80; got {text!r}"
        ) from None
    if h < 30 or w < 30:
        raise argparse.ArgumentTypeError(f"the cube needs at least 30x30 pixels; got {text}")
    if h * w > MAX_BENCH_PIXELS:
        raise argparse.ArgumentTypeError(
            f"{text} is {h * w:,} pixels; the benchmark cube may have at most {MAX_BENCH_PIXELS:,} "
            "(Pavia Centre, the largest scene, has 783,640)"
        )
    return h, w


def _pixel(text: str) -> tuple[int, int]:
    """ROW,COL as two non-negative integers."""
    parts = text.replace(" ", "").split(",")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected ROW,COL as two non-negative integers, e.g. 75,40; got {text!r}"
        )
    return int(parts[0]), int(parts[1])
