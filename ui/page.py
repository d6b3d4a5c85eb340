"""What every page does first: page config, session defaults, the sidebar; and the shared look-ups
(current scene, split, model, pixel) every page reads from the session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from ssan.fitted import FittedModel
from ssan.jobs import CANCELLED, JobSnapshot
from ssan.scene import Scene
from ssan.splits import Split

from . import loaders
from .state import init_state

METHOD = "SSAN (Mei/Pan et al. 2019)"
PAGES = (
    ("app.py", "Scene", ":material/satellite_alt:"),
    ("pages/1_Train.py", "Train", ":material/model_training:"),
    ("pages/2_Spectral_attention.py", "Spectral attention", ":material/show_chart:"),
    ("pages/3_Spatial_attention.py", "Spatial attention", ":material/grid_on:"),
    ("pages/4_Compare.py", "Compare", ":material/leaderboard:"),
)


@dataclass(frozen=True)
class Context:
    """What a page works on: the loaded scene, the chosen split, the active model (if any)."""

    spec: tuple
    scene: Scene
    split: Split
    model_path: Path | None
    model: FittedModel | None

    @property
    def model_key(self) -> tuple[str, float] | None:
        """(path, mtime): the cache key of the active model."""
        if self.model_path is None:
            return None
        return str(self.model_path), loaders.checkpoint_mtime(self.model_path)


def setup(title: str) -> None:
    """Page config, session defaults and the sidebar; call first on every page."""
    # No page_icon: a Material icon favicon is fetched from fonts.gstatic.com, and the app must work offline.
    st.set_page_config(page_title=f"{title} · SSAN", layout="wide")
    init_state()
    adopt_trained_model()
    for message in st.session_state.pop("_flash", []):
        st.toast(message, icon=":material/check_circle:")
    with st.sidebar:
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)


def adopt_trained_model() -> None:
    """Once the Train page's job has saved its model, make it the active model of its scene (once,
    before anything on the page reads the active model); a cancelled run is saved but never adopted."""
    entry = st.session_state.get("train_job")
    if entry is None or st.session_state.get("_adopted_job") is entry[1]:
        return
    spec, job = entry
    snap = job.snapshot()
    if snap.finished and snap.checkpoints:
        if snap.status != CANCELLED:
            choose_model(spec, snap.checkpoints[-1])
        st.session_state["_adopted_job"] = job


def flash(message: str) -> None:
    """A message shown once, as a toast, on the next run (survives st.rerun)."""
    st.session_state["_flash"] = [*st.session_state.get("_flash", []), message]


def split_protocol() -> str:
    """The protocol string of the split chosen on the Scene page, e.g. "per-class:20"."""
    kind = st.session_state.split_kind
    if kind in ("per-class", "disjoint"):
        return f"{kind}:{int(st.session_state.split_n)}"
    if kind == "fraction":
        return f"fraction:{float(st.session_state.split_fraction):g}"
    return kind


def context() -> Context:
    """The current scene, split and active model; stops the page with a message if the scene fails."""
    spec = st.session_state.scene_spec
    try:
        scene = loaders.scene_for(spec)
        split = loaders.split_for(spec, split_protocol(), int(st.session_state.split_seed))
    except ValueError as exc:
        st.error(f"The scene could not be loaded: {exc}")
        st.session_state.scene_spec = ("demo",)
        st.stop()
    path, model = active_model(spec, scene)
    ctx = Context(spec, scene, split, path, model)
    sidebar_status(ctx)
    return ctx


def active_model(spec: tuple, scene: Scene) -> tuple[Path | None, FittedModel | None]:
    """The model chosen for this scene; by default the shipped demo checkpoint, else the newest."""
    models, _ = loaders.models_for_scene(scene)
    if not models:
        return None, None
    chosen = st.session_state.model_dirs.get(spec)
    for path, fitted in models:
        if str(path) == chosen:
            return path, fitted
    # Never a cancelled run by default: the shipped demo checkpoint, else the newest finished run.
    usable = [(p, f) for p, f in models if not f.cancelled]
    default = next(((p, f) for p, f in usable if p == loaders.DEMO_CHECKPOINT), usable[0] if usable else None)
    return default or (None, None)


def choose_model(spec: tuple, path: Path | str) -> None:
    """Make the checkpoint at `path` the active model for the scene `spec`."""
    st.session_state.model_dirs = {**st.session_state.model_dirs, spec: str(path)}


def forget_model(old: Path | str, new: Path | str | None = None) -> None:
    """After a saved model was renamed (to `new`) or deleted, point the session's choices at its new
    folder or drop them (the scene then falls back to its default model)."""
    old = str(old)
    ss = st.session_state
    ss.model_dirs = {spec: (str(new) if path == old else path) for spec, path in ss.model_dirs.items()
                     if path != old or new is not None}
    ss.compare_choice = {key: (str(new) if path == old else path) for key, path in ss.compare_choice.items()
                         if path != old or new is not None}


def model_label(path: Path, fitted: FittedModel) -> str:
    """One line naming a saved model in lists: its summary and where it is saved."""
    where = "shipped demo checkpoint" if Path(path) == loaders.DEMO_CHECKPOINT else Path(path).name
    return f"{fitted.summary()} · {where}"


def require_model(ctx: Context) -> FittedModel:
    """The active model, captioned; without one, say how to get one and stop the page."""
    if ctx.model is None:
        st.info("There is no model for this scene yet. Train one (the quick preset takes about a minute on a CPU) "
                "or load a checkpoint on the Train page.")
        st.page_link("pages/1_Train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    st.caption(f"Model: {model_label(ctx.model_path, ctx.model)} · change it on the Train page.")
    return ctx.model


def sidebar_status(ctx: Context) -> None:
    """Scene, split, model, pixel and any running job, in the sidebar."""
    with st.sidebar:
        st.divider()
        st.caption(f"**Scene** · {loaders.spec_label(ctx.spec)} ({ctx.scene.shape[0]}×{ctx.scene.shape[1]}, "
                   f"{ctx.scene.n_bands} bands)")
        st.caption(f"**Split** · {ctx.split.protocol}, seed {ctx.split.seed}")
        model = model_label(ctx.model_path, ctx.model) if ctx.model else "none yet: train or load one"
        st.caption(f"**Model** · {model}")
        pixel = current_pixel(ctx.scene)
        st.caption(f"**Pixel** · row {pixel[0]}, col {pixel[1]}")
        training_status()


def running_jobs() -> list[tuple[str, JobSnapshot]]:
    """(page name, snapshot) of each background job still working."""
    found = []
    for slot, where in (("train_job", "Train"), ("compare_job", "Compare")):
        entry = st.session_state.get(slot)
        snap = entry[1].snapshot() if entry is not None else None
        if snap is not None and not snap.finished:
            found.append((where, snap))
    return found


def training_status() -> None:
    """The model each background job is training now, refreshed every second while one runs (a fragment:
    the rest of the page is not rerun)."""

    @st.fragment(run_every=1.0 if running_jobs() else None)
    def status() -> None:
        for where, snap in running_jobs():
            step = f" ({snap.current + 1} of {len(snap.models)})" if len(snap.models) > 1 else ""
            st.caption(f"**Training** · {(snap.current_model or '').upper()}{step} in the background "
                       f"(progress on the {where} page)")

    status()


def current_pixel(scene: Scene) -> tuple[int, int]:
    """The selected pixel, clamped into the scene; by default a labelled pixel near the centre."""
    pixel = st.session_state.pixel
    h, w = scene.shape
    if pixel is None or not (0 <= pixel[0] < h and 0 <= pixel[1] < w):
        pixel = default_pixel(scene)
        st.session_state.pixel = pixel
    return pixel


def default_pixel(scene: Scene) -> tuple[int, int]:
    """A first pixel worth looking at: the labelled pixel nearest the centre, on the demo one of the
    last planted class pair's (the teal-tinted roof, whose tint lies in a few blue-green bands)."""
    labels = scene.labels
    wanted = labels > 0
    if scene.planted is not None and scene.planted.spectral_pairs:
        planted_class = scene.planted.spectral_pairs[-1][1]
        if (labels == planted_class).any():
            wanted = labels == planted_class
    rows, cols = np.nonzero(wanted)
    h, w = scene.shape
    i = int(np.argmin((rows - h / 2) ** 2 + (cols - w / 2) ** 2))
    return int(rows[i]), int(cols[i])
