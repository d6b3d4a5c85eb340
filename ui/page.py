"""What every page does first: page config, session defaults, the sidebar; and the shared look-ups
(current scene, split, model, pixel) every page reads from the session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ssan.data.scene import Scene
from ssan.data.splits import Split, protocol_label
from ui import loaders, owners
from ui.state import bound, init_state, owner_id, scene_key, switch_scene
from ui.tasks import TaskSnapshot, session_owner

if TYPE_CHECKING:
    from ssan.models.fitted import FittedModel

PRESENT_PARAM = "present"
BASE_CSS = """<style>
</style>"""  # nothing yet off the projector (charts have no toolbar: see chart_config)
# Projector: larger type and little padding above the first element.
PRESENT_CSS = BASE_CSS.replace(
    "</style>",
    """
html { font-size: 20px; }
header[data-testid="stHeader"] { background: transparent; }
.block-container, [data-testid="stMainBlockContainer"] { padding-top: 1.2rem; padding-bottom: 1rem; }
h1 { font-size: 1.6rem !important; padding-top: 0 !important; }
h3 { padding-top: 0.2rem !important; padding-bottom: 0.2rem !important; }
</style>""",
)

METHOD = "SSAN (Mei/Pan et al. 2019)"
# No icons: `st.navigation` makes the open page's icon the favicon, and a Material icon is fetched from
# fonts.gstatic.com; the app must work offline (the browser test refuses every request off this machine).
PAGES = (
    ("pages/0_Scene.py", "Scene"),
    ("pages/1_Train.py", "Train"),
    ("pages/2_Spectral_attention.py", "Spectral attention"),
    ("pages/3_Spatial_attention.py", "Spatial attention"),
    ("pages/4_Compare.py", "Compare"),
    ("pages/5_Does_attention_explain.py", "Does attention explain?"),
    ("pages/6_Inside_SSAN.py", "Inside SSAN"),
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


def navigation() -> Any:
    """The app's pages for `st.navigation`, in the sidebar under their titles; Scene is the default.
    Runs before every page, so it first lets the background import of the model code finish."""
    loaders.wait_for_warm_up()
    owners.prune_once_at_start()
    return st.navigation(
        [st.Page(path, title=label, default=i == 0) for i, (path, label) in enumerate(PAGES)]
    )


def setup(title: str) -> None:
    """Page config, session defaults and the sidebar; call first on every page."""
    ss = st.session_state
    if "present" not in ss:  # a fresh session (or a reload) takes presentation mode from the URL
        ss.present = st.query_params.get(PRESENT_PARAM) == "1"
    # No page_icon: a Material icon favicon is fetched from fonts.gstatic.com, and the app must work offline.
    st.set_page_config(
        page_title=f"{title} · SSAN",
        layout="wide",
        initial_sidebar_state="collapsed" if ss.present else "auto",
    )
    init_state()
    sync_presentation_url()
    st.markdown(PRESENT_CSS if ss.present else BASE_CSS, unsafe_allow_html=True)
    for message in ss.pop("_flash", []):
        st.toast(message, icon=":material/check_circle:")
    with st.sidebar:
        bound(
            st.toggle,
            "Presentation mode",
            "present",
            on_change=sync_presentation_url,
            help="For a projector: larger type, the sidebar folded away, figures first. Kept in the URL "
            "(?present=1), so a bookmark or a reload opens in it.",
        )


def sync_presentation_url() -> None:
    """Keep ?present=1 in the URL exactly while presentation mode is on (page switches drop it)."""
    if st.session_state.present:
        if st.query_params.get(PRESENT_PARAM) != "1":
            st.query_params[PRESENT_PARAM] = "1"
    elif PRESENT_PARAM in st.query_params:
        del st.query_params[PRESENT_PARAM]


def presenting() -> bool:
    """Whether presentation mode is on."""
    return bool(st.session_state.get("present"))


def intro(*paragraphs: str) -> None:
    """A page's explanation: shown in full, or folded under "About this page" in presentation mode so the
    figures start near the top of a 1280×720 screen."""
    with (
        st.expander("About this page", key="about_page")
        if presenting()
        else st.container(key="intro")
    ):
        for text in paragraphs:
            st.markdown(text)


def plot(fig: go.Figure, key: str, **kwargs: Any) -> Any:
    """`st.plotly_chart` with the app's chart config (`chart_config`) and, in presentation mode, larger type
    (on a copy: cached figures are never changed)."""
    if presenting():
        # From a copy of its dict: a new figure given a shared figure's objects consumes them under other sessions.
        fig = go.Figure(fig.to_dict())
        fig.update_layout(font={"size": 17})
        fig.update_xaxes(tickfont={"size": 15})
        fig.update_yaxes(tickfont={"size": 15})
    return st.plotly_chart(fig, key=key, config=chart_config(key), **kwargs)


def chart_config(name: str, **extra: Any) -> dict:
    """Plotly's config for every chart: no toolbar (on hover it covered the image where students click, and
    titles and legends; drag zooms and a double click zooms out without it), no logo; a chart given the
    toolbar back (`displayModeBar=True`) saves a 2× PNG from its camera button."""
    return {
        "displaylogo": False,
        "displayModeBar": False,
        "toImageButtonOptions": {"format": "png", "filename": f"ssan-{name}", "scale": 2},
    } | extra


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
    if kind == "fixed":  # the maps chosen for this scene; the paper split until there are some
        return st.session_state.split_fixed.get(scene_key(st.session_state.scene_spec), "paper")
    return kind


def context(with_model: bool = True) -> Context:
    """The current scene, split and active model; stops the page with a message if the scene fails.
    Without `with_model` no checkpoint is loaded (the Scene page: no torch on the first screen)."""
    spec = st.session_state.scene_spec
    try:
        scene = loaders.scene_for(spec)
        split = loaders.split_for(spec, split_protocol(), int(st.session_state.split_seed))
    except ValueError as exc:
        st.error(f"The scene could not be loaded: {exc}")
        switch_scene(("demo",))
        st.stop()
    path, model = active_model(spec, scene) if with_model else (None, None)
    ss = st.session_state
    files = spec[1:3] if spec[0] == "file" else ()
    owners.note_in_use(owner_id(), [*files, *ss.model_dirs.values(), path], session_owner())
    ctx = Context(spec, scene, split, path, model)
    sidebar_status(ctx)
    return ctx


def active_model(spec: tuple, scene: Scene) -> tuple[Path | None, FittedModel | None]:
    """The model chosen for this scene; by default the shipped demo checkpoint, else the newest of the
    session's own and the lecturer's runs. A chosen model that has gone (renamed or deleted in another
    session) is said in one line, and the choice dropped."""
    models, _ = loaders.models_for_scene(scene)
    chosen = st.session_state.model_dirs.get(spec)
    for path, fitted in models:
        if str(path) == chosen:
            return path, fitted
    if chosen:
        st.warning(
            f"The model you chose, {Path(chosen).name}, is no longer among this scene's saved models "
            "(renamed or deleted, maybe in another session): the default model is used instead; choose "
            "another on the Train page."
        )
        forget_model(chosen)
    # Never a cancelled run or another's upload by default: the shipped demo checkpoint, else the newest run.
    me = owner_id()
    usable = [(p, f) for p, f in models if not f.cancelled and owners.default_candidate(p, me)]
    default = next(
        ((p, f) for p, f in usable if p == loaders.DEMO_CHECKPOINT), usable[0] if usable else None
    )
    return default or (None, None)


def chosen_model_name(spec: tuple) -> str | None:
    """The active model's folder name without loading it (for the Scene page); None when unknown."""
    chosen = st.session_state.model_dirs.get(spec)
    if chosen:
        return (
            "shipped demo checkpoint"
            if Path(chosen) == loaders.DEMO_CHECKPOINT
            else Path(chosen).name
        )
    if spec == ("demo",) and loaders.DEMO_CHECKPOINT.is_dir():
        return "shipped demo checkpoint"
    return (
        "the newest finished run for this scene (see the Train page)"
        if loaders.runs_dir().is_dir()
        else None
    )


def choose_model(spec: tuple, path: Path | str) -> None:
    """Make the checkpoint at `path` the active model for the scene `spec`."""
    st.session_state.model_dirs = {**st.session_state.model_dirs, spec: str(path)}


def forget_model(old: Path | str, new: Path | str | None = None) -> None:
    """After a saved model was renamed (to `new`) or deleted, point the session's choices at its new
    folder or drop them (the scene then falls back to its default model)."""
    old = str(old)
    ss = st.session_state
    ss.model_dirs = {
        spec: (str(new) if path == old else path)
        for spec, path in ss.model_dirs.items()
        if path != old or new is not None
    }
    ss.compare_choice = {
        key: (str(new) if path == old else path)
        for key, path in ss.compare_choice.items()
        if path != old or new is not None
    }


def prune_after_upload() -> None:
    """Prune old uploads and caches (`ui.owners.prune_storage`) after an upload; a bad setting is said in
    one line."""
    try:
        owners.prune_storage()
    except ValueError as exc:
        st.warning(f"Old uploads were not pruned: {exc}")


def model_label(path: Path, fitted: FittedModel) -> str:
    """One line naming a saved model in lists: its summary and where it is saved."""
    where = "shipped demo checkpoint" if Path(path) == loaders.DEMO_CHECKPOINT else Path(path).name
    return f"{fitted.summary()} · {where}"


def require_model(ctx: Context) -> FittedModel:
    """The active model, captioned; without one, say how to get one and stop the page."""
    if ctx.model is None:
        st.container(key="no_model").info(
            "There is no model for this scene yet. Train one (the quick preset takes one to two minutes on a CPU) "
            "or load a checkpoint on the Train page."
        )
        st.page_link("pages/1_Train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    where = (
        "" if presenting() else " · change it on the Train page"
    )  # one line less on the projector
    st.container(key="model_line").caption(
        f"Model: {model_label(ctx.model_path, ctx.model)}{where}."
    )
    return ctx.model


def sidebar_status(ctx: Context) -> None:
    """Scene, split, model, pixel and any running job, in the sidebar."""
    with st.sidebar:
        st.divider()
        st.caption(
            f"**Scene** · {loaders.spec_label(ctx.spec)} ({ctx.scene.shape[0]}×{ctx.scene.shape[1]}, "
            f"{ctx.scene.n_bands} bands)"
        )
        st.container(key="status_split").caption(
            f"**Split** · {protocol_label(ctx.split.protocol)}, seed {ctx.split.seed}"
        )
        if ctx.model is not None:
            model = model_label(ctx.model_path, ctx.model)
        else:
            model = chosen_model_name(ctx.spec) or "none yet: train or load one"
        st.caption(f"**Model** · {model}")
        pixel = current_pixel(ctx.scene)
        st.caption(f"**Pixel** · row {pixel[0]}, col {pixel[1]}")
        training_status()


def running_jobs() -> list[tuple[str, TaskSnapshot]]:
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
            if hasattr(snap, "models"):  # a training job: which model of how many
                step = (
                    f" ({snap.current + 1} of {len(snap.models)})" if len(snap.models) > 1 else ""
                )
                what = f"{(snap.current_model or '').upper()}{step}"
            else:  # a comparison: which run
                what = snap.message
            st.caption(f"**Training** · {what} in the background (progress on the {where} page)")

    status()


def current_pixel(scene: Scene) -> tuple[int, int]:
    """The selected pixel, clamped into the scene; by default a labelled pixel near the centre."""
    pixel = st.session_state.pixel
    h, w = scene.shape
    if pixel is None or not (0 <= pixel[0] < h and 0 <= pixel[1] < w):
        pixel = default_pixel(scene)
        st.session_state.pixel = pixel
    return pixel


def current_pins(scene: Scene) -> list[tuple[int, int]]:
    """The pinned pixels that lie inside the scene (a file edited since may have shrunk)."""
    h, w = scene.shape
    return [(int(r), int(c)) for r, c in st.session_state.pinned if 0 <= r < h and 0 <= c < w]


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
