"""Cached loaders: scenes, splits, images, models, samplers and read-outs, keyed by cheap keys.

Everything here is `st.cache_resource`: one shared object per key, never copied per rerun
(the cube of Pavia Centre is 320 MB). Callers treat the results as read-only. Scenes are
keyed by their spec tuple (a file spec carries the files' mtimes), models by checkpoint
folder and mtime.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from ui.figures import clickable_image, grid_step_for, split_map_figure

if TYPE_CHECKING:
    from ssan.data.preprocess import PixelSampler
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


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import the model code (torch, scikit-learn) in a background thread, once per server, after the first
    screen is drawn: by the time someone opens another page it is loaded."""

    def work() -> None:
        use_torch()
        import ssan.inference.attention  # noqa: E401, F401

    thread = threading.Thread(target=work, name="ssan-warm-up", daemon=True)
    thread.start()
    return thread


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


@st.cache_resource(max_entries=48)
def clickable_figure(
    spec: SceneSpec,
    rgb_nm: tuple[float, float, float],
    stretch: tuple[float, float],
    opacity: float,
    marker: tuple[int, int] | None,
    pinned: tuple[tuple[int, int], ...],
    height: int,
) -> go.Figure:
    """The clickable scene image (never mutated: Streamlit keys the chart's selection by its content)."""
    image = overlay_image(spec, rgb_nm, stretch, opacity)
    return clickable_image(
        image, marker=marker, pinned=pinned, grid_step=grid_step_for(image.shape[:2]), height=height
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


@st.cache_resource(show_spinner="Averaging attention per class…", max_entries=16)
def class_attention(model_path: str, mtime: float, spec: SceneSpec, kind: str) -> np.ndarray:
    """Mean spectral (C, B) or spatial (C, p, p) attention per class over pixels the model never trained on."""
    from ssan.inference.attention import class_mean_attention

    fitted = model_for(model_path, mtime)
    scene = scene_for(spec)
    seen = np.concatenate([fitted.split.train, fitted.split.val])
    pixels = np.setdiff1d(scene.labelled_pixels(), seen)
    return class_mean_attention(
        fitted,
        sampler_for(model_path, mtime, spec),
        pixels,
        scene.labels.ravel()[pixels],
        kind=kind,
        max_per_class=200,
    )


@st.cache_resource(show_spinner=False, max_entries=4)
def scene_digest(spec: SceneSpec) -> str:
    """The sha256 naming the scene's content in the map cache (computed once per scene)."""
    from ui.classmaps import scene_digest as digest

    return digest(scene_for(spec))


def models_for_scene(scene: Scene) -> tuple[list[tuple[Path, FittedModel]], list[str]]:
    """(checkpoint folder, model) for every usable checkpoint trained on this scene, newest first,
    the shipped demo checkpoint last; plus one message per checkpoint that could not be read."""
    found, problems = [], []
    use_torch()
    from ssan.models.checkpoints import list_checkpoints

    candidates = list_checkpoints(runs_dir())
    if DEMO_CHECKPOINT.is_dir():
        candidates.append(DEMO_CHECKPOINT)
    for path in candidates:
        try:
            fitted = model_at(path)
            usable = fits(fitted, scene)
        except Exception as exc:  # noqa: BLE001 - one unreadable checkpoint must never break a page
            problems.append(
                f"{path}: {exc}"
                if isinstance(exc, ValueError)
                else f"{path}: {type(exc).__name__}: {exc}"
            )
            continue
        if usable:
            found.append((path, fitted))
    return found, problems


def fits(fitted: FittedModel, scene: Scene) -> bool:
    """Whether `fitted` was trained on this scene (same name, size, bands and classes)."""
    return fitted.scene.fits(scene)
