"""Cached loaders: scenes, splits, images, models, samplers and read-outs, keyed by cheap keys.

Everything here is `st.cache_resource`: one shared object per key, never copied per rerun
(the cube of Pavia Centre is 320 MB). Callers treat the results as read-only. Scenes are
keyed by their spec tuple (a file spec carries the files' mtimes), models by checkpoint
folder and mtime.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ssan.data.catalog import load_scene
from ssan.data.scene import Scene
from ssan.data.splits import (
    SPLIT_ROLE_COLOURS,
    SPLIT_ROLES,
    Split,
    make_split,
    split_roles,
)
from ssan.evaluation.runs import runs_dir  # the CLI's folder too: `ssan compare` runs show here
from ssan.render.imaging import blend, colorize_labels, false_colour
from ui.figures import (
    class_attention_figure,
    class_masks_figure,
    clickable_image,
    grid_step_for,
    probability_figure,
    spectrum_figure,
    split_map_figure,
    with_probabilities,
    with_selected,
    with_spectrum,
)

if TYPE_CHECKING:
    from ssan.data.preprocess import PixelSampler
    from ssan.inference.attention import PixelAttention
    from ssan.models.fitted import FittedModel

# torch and scikit-learn take seconds to import; the Scene page needs neither, so the modules that
# use them are imported by the loaders that need a model (see `models()`), never on the first screen.

ROOT = Path(__file__).resolve().parents[1]
DEMO_CHECKPOINT = ROOT / "assets" / "demo-ssan"
SIDECAR = "model.json"  # ssan.models.checkpoints.SIDECAR, without importing torch for it

# Leave one core to the page and the browser: with every core in torch's thread pool, its threads
# spin-wait against the UI thread and a 2-core laptop trains several times slower. SSAN_TORCH_THREADS overrides.
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
TORCH_THREADS = int(os.environ.get("SSAN_TORCH_THREADS") or max(1, _CORES - 1))

SceneSpec = tuple  # ("demo",) | ("paviau",) | ("paviac",) | ("file", cube, gt or "", mtimes, names, wavelengths)


def use_torch() -> None:
    """Import torch (seconds, so never on the first screen) and size its thread pool; every loader that needs
    a model calls this first, then imports the model-side ssan modules it uses."""
    import torch

    if torch.get_num_threads() != TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)


_WARM_UP: list[threading.Thread] = []  # the one background import of this server, once started
_WARM_UP_LOCK = threading.Lock()


def warm_up() -> None:
    """Import the model code (torch, scikit-learn) in a background thread, once per server, after the first
    screen is drawn: by the time someone opens another page it is loaded."""
    with _WARM_UP_LOCK:
        if _WARM_UP:
            return

        def work() -> None:
            use_torch()
            import ssan.inference.attention  # noqa: F401

        _WARM_UP.append(threading.Thread(target=work, name="ssan-warm-up", daemon=True))
        _WARM_UP[0].start()


def wait_for_warm_up() -> None:
    """Let a started background import finish before a page imports the same modules: two threads
    importing scikit-learn at once can see it partly initialised ("cannot import name 'clone' from
    partially initialized module 'sklearn.base'")."""
    if _WARM_UP:
        _WARM_UP[0].join()


def file_spec(
    cube: str | Path, gt: str | Path | None = None, class_names: str = "", wavelengths: str = ""
) -> SceneSpec:
    """The spec of a scene read from files (with the user's class names and wavelengths, "" = from the file);
    the mtimes make an edited file a new cache key."""
    paths = [Path(cube).expanduser()] + ([Path(gt).expanduser()] if gt else [])
    mtimes = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in paths)
    return (
        "file",
        str(paths[0]),
        str(paths[1]) if gt else "",
        mtimes,
        class_names.strip(),
        wavelengths.strip(),
    )


def spec_label(spec: SceneSpec) -> str:
    """How the UI names a scene spec."""
    names = {
        "demo": "Demo town (synthetic)",
        "paviau": "Pavia University",
        "paviac": "Pavia Centre",
    }
    return names.get(spec[0]) or Path(spec[1]).name


@st.cache_resource(show_spinner="Loading the scene…", max_entries=4)
def scene_for(spec: SceneSpec, _progressbar: Any = False) -> Scene:
    """The scene named by `spec` (downloaded first for Pavia when missing, with `_progressbar`)."""
    if spec[0] == "file":
        options = {k: v for k, v in zip(("class_names", "wavelengths"), spec[4:]) if v}
        return load_scene(spec[1], gt=spec[2] or None, **options)
    if spec[0] == "demo":
        return load_scene("demo")
    return load_scene(spec[0], progressbar=_progressbar)


@st.cache_resource(max_entries=16)
def split_for(spec: SceneSpec, protocol: str, seed: int) -> Split:
    """The split `protocol` (e.g. "paper", "per-class:20") of the scene, for `seed`."""
    return make_split(scene_for(spec), protocol, seed)


@st.cache_resource(max_entries=8)
def overlay_image(
    spec: SceneSpec,
    rgb_nm: tuple[float, float, float],
    stretch: tuple[float, float],
    opacity: float,
) -> np.ndarray:
    """False-colour composite with the ground truth blended in at `opacity` (labelled pixels only)."""
    scene = scene_for(spec)
    rgb = false_colour(scene.cube, scene.wavelengths, rgb_nm, stretch)
    if opacity <= 0:
        return rgb
    return blend(rgb, colorize_labels(scene.labels, scene.class_colors), scene.labels > 0, opacity)


@st.cache_resource(max_entries=4)
def false_colour_image(
    spec: SceneSpec, rgb_nm: tuple[float, float, float], stretch: tuple[float, float]
) -> np.ndarray:
    """The plain false-colour composite (for patches)."""
    scene = scene_for(spec)
    return false_colour(scene.cube, scene.wavelengths, rgb_nm, stretch)


@st.cache_resource(show_spinner=False, max_entries=64)
def clickable_figure(
    spec: SceneSpec,
    rgb_nm: tuple[float, float, float],
    stretch: tuple[float, float],
    opacity: float,
    marker: tuple[int, int] | None,
    pinned: tuple[tuple[int, int], ...],
    height: int,
    revision: int = 0,
) -> go.Figure:
    """The clickable scene image with `marker`'s grid point selected (see `ui.viewer` for when it changes):
    the shared image and click grid of `scene_figure` with one selected point, built once for every session
    showing the same (never mutated: Streamlit keys the chart's selection by its content)."""
    base = scene_figure(spec, rgb_nm, stretch, opacity, pinned, height)
    if marker is None:
        return base
    shape = scene_for(spec).shape
    return with_selected(base, marker, grid_step_for(shape), revision)


@st.cache_resource(max_entries=16)
def scene_figure(
    spec: SceneSpec,
    rgb_nm: tuple[float, float, float],
    stretch: tuple[float, float],
    opacity: float,
    pinned: tuple[tuple[int, int], ...],
    height: int,
) -> go.Figure:
    """The clickable scene image without a selection, one per view of the scene for every session."""
    image = overlay_image(spec, rgb_nm, stretch, opacity)
    return clickable_image(
        image, pinned=pinned, grid_step=grid_step_for(image.shape[:2]), height=height
    )


@st.cache_resource(max_entries=8)
def split_map(
    spec: SceneSpec,
    protocol: str,
    seed: int,
    rgb_nm: tuple[float, float, float],
    stretch: tuple[float, float],
) -> go.Figure:
    """The split's train / validation / test / guard-band pixels over the greyed composite (never mutated)."""
    split = split_for(spec, protocol, seed)
    roles = split_roles(split)
    counts = [int((roles == r).sum()) for r in range(1, len(SPLIT_ROLES) + 1)]
    return split_map_figure(
        false_colour_image(spec, rgb_nm, stretch),
        roles,
        SPLIT_ROLES,
        SPLIT_ROLE_COLOURS,
        counts=counts,
        title="The split on the image",
    )


def checkpoint_mtime(path: str | Path) -> float:
    """Modification time of a checkpoint's sidecar, part of the model cache key (0 when missing)."""
    sidecar = Path(path) / SIDECAR
    return sidecar.stat().st_mtime if sidecar.exists() else 0.0


@st.cache_resource(show_spinner="Loading the model…", max_entries=32)
def model_for(path: str, mtime: float) -> FittedModel:
    """The checkpoint at `path` (as of `mtime`); CheckpointError when it cannot be used."""
    use_torch()
    from ssan.models.checkpoints import load_checkpoint

    return load_checkpoint(path)


def model_at(path: str | Path) -> FittedModel:
    """`model_for` keyed by the checkpoint's current mtime."""
    return model_for(str(path), checkpoint_mtime(path))


def sampler_for(model_path: str, mtime: float, spec: SceneSpec) -> PixelSampler:
    """The model's sampler over the scene, shared by every model with the same preprocessing (models trained
    on one split fit the same scaling and PCA), so the scene's PCA pass runs once for all of them."""
    fitted, scene = model_for(model_path, mtime), scene_for(spec)
    fitted.scene.check(scene)
    return _sampler(
        spec, fitted.preprocessing.digest(), fitted.preset.patch_size, fitted.preprocessing
    )


@st.cache_resource(max_entries=8)
def _sampler(spec: SceneSpec, prep_digest: str, patch_size: int, _prep: Any) -> PixelSampler:
    from ssan.data.preprocess import PixelSampler

    sampler = PixelSampler(scene_for(spec).cube, _prep, patch_size)
    sampler.windows  # noqa: B018 - build the padded PCA image now, not on the first click
    return sampler


class ReadoutKey(NamedTuple):
    """Everything that changes what a model reads out of a scene; the key of the read-outs every session shares."""

    scene_sha256: str  # the cube and labels
    weights_sha256: str  # the trained weights (the checkpoint's sidecar records their sha256)
    preprocessing: str  # the fitted scaling and PCA
    preset: str  # the model kind and every setting of its preset
    precision: str  # the arithmetic of the forward pass


# `ssan.inference.attention.pixel_attention` runs the network in float32; a bfloat16 read-out would be another key.
READOUT_PRECISION = "float32"


@st.cache_resource(show_spinner=False, max_entries=32)
def readout_key(model_path: str, mtime: float, spec: SceneSpec) -> ReadoutKey:
    """The `ReadoutKey` of the checkpoint at `model_path` (as of `mtime`) over the scene `spec`."""
    fitted = model_for(model_path, mtime)
    sidecar = Path(model_path) / SIDECAR
    weights = json.loads(sidecar.read_text()).get("weights_sha256", "") if sidecar.is_file() else ""
    preset = json.dumps(dataclasses.asdict(fitted.preset), sort_keys=True, default=str)
    return ReadoutKey(
        scene_digest(spec),
        weights or f"{model_path}@{mtime}",
        fitted.preprocessing.digest(),
        f"{fitted.model_name}:{hashlib.sha256(preset.encode()).hexdigest()}",
        READOUT_PRECISION,
    )


def pixel_readout(model_path: str, mtime: float, spec: SceneSpec, flat: int) -> PixelAttention:
    """The model's probabilities and attention for one pixel (flat index), computed once for every session
    that asks for the same pixel of the same scene and model."""
    return _pixel_readout(readout_key(model_path, mtime, spec), int(flat), model_path, mtime, spec)


@st.cache_resource(show_spinner=False, max_entries=4096)
def _pixel_readout(
    key: ReadoutKey, flat: int, _model_path: str, _mtime: float, _spec: SceneSpec
) -> PixelAttention:
    from ssan.inference.attention import pixel_attention

    fitted = model_for(_model_path, _mtime)
    return pixel_attention(fitted, sampler_for(_model_path, _mtime, _spec), np.array([flat]))


def class_attention(model_path: str, mtime: float, spec: SceneSpec, kind: str) -> np.ndarray:
    """Mean spectral (C, B) or spatial (C, p, p) attention per class over pixels the model never trained on."""
    return _class_attention(readout_key(model_path, mtime, spec), kind, model_path, mtime, spec)


@st.cache_resource(show_spinner="Averaging attention per class…", max_entries=16)
def _class_attention(
    key: ReadoutKey, kind: str, _model_path: str, _mtime: float, _spec: SceneSpec
) -> np.ndarray:
    from ssan.inference.attention import class_mean_attention

    fitted = model_for(_model_path, _mtime)
    scene = scene_for(_spec)
    seen = np.concatenate([fitted.split.train, fitted.split.val])
    pixels = np.setdiff1d(scene.labelled_pixels(), seen)
    return class_mean_attention(
        fitted,
        sampler_for(_model_path, _mtime, _spec),
        pixels,
        scene.labels.ravel()[pixels],
        kind=kind,
        max_per_class=200,
    )


@st.cache_resource(show_spinner=False, max_entries=16)
def class_attention_chart(model_path: str, mtime: float, spec: SceneSpec) -> go.Figure:
    """The mean spectral attention per class as a figure, built once for every session (never mutated)."""
    scene = scene_for(spec)
    return class_attention_figure(
        scene.wavelengths,
        class_attention(model_path, mtime, spec, "spectral"),
        scene.class_names,
        scene.class_colors,
        planted=scene.planted.band_mask(scene.n_bands) if scene.planted is not None else None,
        wavelengths_estimated=scene.wavelengths_estimated,
    )


@st.cache_resource(show_spinner=False, max_entries=256)
def pixel_spectrum_chart(
    model_path: str,
    mtime: float,
    spec: SceneSpec,
    pixel: tuple[int, int],
    colour: str,
    options: tuple[tuple[str, Any], ...] = (),
) -> go.Figure:
    """The pixel's spectrum over its α (planted bands shaded), built once per pixel for every session that
    shows it (on opening, every student's page shows the same default pixel) from the shared frame of
    `spectrum_frame` (never mutated)."""
    scene = scene_for(spec)
    row, col = pixel
    att = pixel_readout(model_path, mtime, spec, row * scene.shape[1] + col)
    alpha = att.spectral[0] if att.spectral is not None else None
    frame = spectrum_frame(spec, colour, alpha is not None, options)
    return with_spectrum(frame, f"pixel ({row}, {col})", scene.cube[row, col], alpha)


@st.cache_resource(show_spinner=False, max_entries=16)
def spectrum_frame(
    spec: SceneSpec, colour: str, with_attention: bool, options: tuple[tuple[str, Any], ...] = ()
) -> go.Figure:
    """A one-spectrum figure of the scene (its subplots, axes and planted bands) whose traces a click
    replaces (`figures.with_spectrum`), shared by every session (never mutated)."""
    scene = scene_for(spec)
    flat = np.zeros(scene.n_bands)
    return spectrum_figure(
        scene.wavelengths,
        [("pixel", flat, colour)],
        attention=flat if with_attention else None,
        planted=scene.planted.band_mask(scene.n_bands) if scene.planted is not None else None,
        wavelengths_estimated=scene.wavelengths_estimated,
        **dict(options),
    )


@st.cache_resource(show_spinner=False, max_entries=256)
def pixel_probability_chart(model_path: str, mtime: float, spec: SceneSpec, flat: int) -> go.Figure:
    """The model's class probabilities for one pixel, built once per pixel for every session from the shared
    frame of `probability_frame` (never mutated)."""
    att = pixel_readout(model_path, mtime, spec, flat)
    return with_probabilities(probability_frame(spec), att.probabilities[0], int(att.predicted[0]))


@st.cache_resource(show_spinner=False, max_entries=4)
def probability_frame(spec: SceneSpec) -> go.Figure:
    """The scene's class-probability figure whose bars a click sets (`figures.with_probabilities`), shared by
    every session (never mutated)."""
    scene = scene_for(spec)
    n = scene.n_classes
    return probability_figure(np.full(n, 1 / n), scene.class_names, scene.class_colors, 1)


@st.cache_resource(show_spinner=False, max_entries=16)
def class_masks_chart(model_path: str, mtime: float, spec: SceneSpec) -> go.Figure:
    """The mean spatial mask per class as one tile per class, built once for every session (never mutated)."""
    scene = scene_for(spec)
    masks = class_attention(model_path, mtime, spec, "spatial")
    return class_masks_figure(masks, scene.class_names)


@st.cache_resource(show_spinner=False, max_entries=4)
def scene_digest(spec: SceneSpec) -> str:
    """The sha256 naming the scene's content in the map cache (computed once per scene)."""
    from ui.classmaps import scene_digest as digest

    return digest(scene_for(spec))


def models_for_scene(scene: Scene) -> tuple[list[tuple[Path, FittedModel]], list[str]]:
    """(checkpoint folder, model) for every usable checkpoint trained on this scene, newest first,
    the shipped demo checkpoint last; plus one message per checkpoint that could not be read."""
    readable, problems = _readable_checkpoints(checkpoint_listing())
    return [(path, fitted) for path, fitted in readable if fits(fitted, scene)], list(problems)


def checkpoint_listing() -> tuple[tuple[str, int, int], ...]:
    """(folder, sidecar mtime in ns, weights size) of every checkpoint in the runs folder, newest first, and the
    shipped one: a few stat calls that say whether any run was added, rewritten, renamed or deleted."""
    use_torch()
    from ssan.models.checkpoints import WEIGHTS, list_checkpoints

    folders = list_checkpoints(runs_dir()) + ([DEMO_CHECKPOINT] if DEMO_CHECKPOINT.is_dir() else [])
    listing = []
    for folder in folders:
        try:
            listing.append(
                (
                    str(folder),
                    (folder / SIDECAR).stat().st_mtime_ns,
                    (folder / WEIGHTS).stat().st_size,
                )
            )
        except OSError:  # deleted between the listing and the stat
            continue
    return tuple(listing)


@st.cache_resource(show_spinner=False, max_entries=4)
def _readable_checkpoints(
    listing: tuple[tuple[str, int, int], ...],
) -> tuple[tuple[tuple[Path, FittedModel], ...], tuple[str, ...]]:
    """Every checkpoint of `listing` loaded once, and one message per checkpoint that could not be read:
    the Train, Compare and explain pages list the saved runs on every render, so the list is read again
    only when a run changes (the listing is the key)."""
    use_torch()
    found, problems = [], []
    for folder, _, _ in listing:
        try:
            found.append((Path(folder), model_at(folder)))
        except Exception as exc:  # noqa: BLE001 - one unreadable checkpoint must never break a page
            problems.append(
                f"{folder}: {exc}"
                if isinstance(exc, ValueError)
                else f"{folder}: {type(exc).__name__}: {exc}"
            )
    return tuple(found), tuple(problems)


def fits(fitted: FittedModel, scene: Scene) -> bool:
    """Whether `fitted` was trained on this scene (same name, size, bands and classes)."""
    return fitted.scene.fits(scene)
