"""The clickable scene image shared by the pages, the class legend, and moving the selected pixel.

The selected pixel and the pinned pixels belong to the loaded scene and are the same on every
page (see `ui.state.switch_scene`). A click on the image sets `st.session_state.pixel`. In the
browser the chart's `on_select` callback does it before the page runs; a selection put into the
session by a test (AppTest cannot click) is applied before the chart is drawn, followed by one
rerun. Each selection is applied once, so a stale one never overrides the arrows.

A click is ringed by the browser itself (Plotly marks the selected point), so the figure stays as it
was: Streamlit sends it once, not on every click, and a zoom survives the click. Anything else that
moves the pixel (arrows, pins, typed row and column, another page) sends a figure ringing it.
"""

from __future__ import annotations

import html
import json
from functools import partial

import streamlit as st

from ssan.data.scene import Scene
from ssan.render.imaging import pixel_from_selection
from ui import loaders
from ui.figures import grid_step_for
from ui.page import Context, chart_config, current_pins, current_pixel, presenting

PRESENT_HEIGHT = 330
# The wheel zooms the image (a drag zooms too; a double click zooms out).
CHART_CONFIG = chart_config(
    "scene", modeBarButtonsToRemove=["select2d", "lasso2d"], scrollZoom=True
)


def clickable_scene(ctx: Context, key: str, height: int = 460) -> tuple[int, int]:
    """Draw the false-colour + ground-truth image with the pinned pixels under `key`; returns the selected
    pixel (row, col)."""
    ss = st.session_state
    if presenting():
        height = min(
            height, PRESENT_HEIGHT
        )  # the image and the clicked pixel above the fold at 1280×720
    shape = ctx.scene.shape
    step = grid_step_for(shape)
    if _apply_selection(key, ss.get(key), shape, step):
        st.rerun()
    pixel = current_pixel(ctx.scene)
    view = (
        ctx.spec,
        tuple(ss.rgb_nm),
        tuple(ss.stretch),
        float(ss.gt_opacity),
        tuple(current_pins(ctx.scene)),
        height,
    )
    ring, revision = _ring(key, view, pixel, shape, step)
    spec, rgb_nm, stretch, opacity, pins, _ = view
    fig = loaders.clickable_figure(spec, rgb_nm, stretch, opacity, ring, pins, height, revision)
    st.plotly_chart(
        fig,
        key=key,
        on_select=partial(_on_select, key, shape, step),
        selection_mode="points",
        config=CHART_CONFIG,
    )
    if step > 1:
        st.caption(
            f"Large scene: a click picks one pixel per {step}×{step} block; zoom in for detail, or type the "
            "row and column on the Spatial attention page."
        )
    return pixel


def _ring(
    key: str, view: tuple, pixel: tuple[int, int], shape: tuple[int, int], step: int
) -> tuple[tuple[int, int], int]:
    """The pixel the figure under `key` selects, and the figure's revision.

    The figure is kept while the browser marks the pixel itself: its selection (the widget's value) is the
    pixel, or it has none and the figure's own ring is the pixel. Otherwise (arrows, pins, a page switch,
    another view of the image, a double click that cleared the selection) the figure rings the pixel, in a
    new revision, so that it differs from the one the browser holds and replaces its selection.
    """
    ss = st.session_state
    state = f"_ring_{key}"
    shown = pixel_from_selection(ss.get(key), shape, step)
    last_view, ring, revision, last_shown = ss.get(state, (None, None, 0, None))
    if last_view == view and (
        shown == pixel if shown is not None else (last_shown is None and ring == pixel)
    ):
        ss[state] = (view, ring, revision, shown)
        return ring, revision
    ss[state] = (view, pixel, revision + 1, None)
    # The new figure starts without a selection: any click on it is new, even on a pixel clicked before.
    ss.pop(f"_applied_{key}", None)
    return pixel, revision + 1


def _on_select(key: str, shape: tuple[int, int], step: int) -> None:
    _apply_selection(key, st.session_state.get(key), shape, step)


def _apply_selection(key: str, selection, shape: tuple[int, int], step: int) -> bool:
    """Set the pixel from a selection not applied before; True when the pixel changed."""
    pixel = pixel_from_selection(selection, shape, step)
    if pixel is None:
        return False
    seen_key = f"_applied_{key}"
    points = json.dumps(
        selection["selection"]["points"] if "selection" in selection else selection["points"],
        sort_keys=True,
        default=str,
    )
    if st.session_state.get(seen_key) == points:
        return False
    st.session_state[seen_key] = points
    if pixel == st.session_state.pixel:
        return False
    st.session_state.pixel = pixel
    return True


def pin_bar(scene: Scene, key: str) -> None:
    """Buttons that select each pinned pixel (pinned here or on any other page), and one that pins this one."""
    pixel = current_pixel(scene)
    pins = current_pins(scene)
    with st.container(horizontal=True, gap="small"):
        st.button(
            "Pin this pixel",
            key=f"{key}_pin",
            icon=":material/push_pin:",
            disabled=pixel in pins,
            on_click=_pin,
            args=(pixel,),
            help="Pinned pixels are marked on the image of every page; a button here selects one.",
        )
        for i, pin in enumerate(pins):
            st.button(
                f"#{i + 1} {class_name(scene, int(scene.labels[pin]))}",
                key=f"{key}_pin{i}",
                type="primary" if pin == pixel else "secondary",
                on_click=_select,
                args=(pin,),
                help=f"Show pinned pixel #{i + 1}: row {pin[0]}, col {pin[1]}",
            )


def _pin(pixel: tuple[int, int]) -> None:
    st.session_state.pinned = [*st.session_state.pinned, pixel]


def _select(pixel: tuple[int, int]) -> None:
    st.session_state.pixel = pixel


def move_pixel(d_row: int, d_col: int, shape: tuple[int, int]) -> None:
    """Callback: step the selected pixel, staying inside the image."""
    r, c = st.session_state.pixel
    st.session_state.pixel = (
        min(max(r + d_row, 0), shape[0] - 1),
        min(max(c + d_col, 0), shape[1] - 1),
    )


def pixel_inputs(scene: Scene, key: str) -> None:
    """Row/column inputs and arrow buttons that move the selected pixel."""
    ss = st.session_state
    h, w = scene.shape
    row_key, col_key = f"{key}_row", f"{key}_col"
    ss[row_key], ss[col_key] = ss.pixel

    def typed() -> None:
        ss.pixel = (int(ss[row_key]), int(ss[col_key]))

    c1, c2 = st.columns(2)
    c1.number_input("Row", 0, h - 1, step=1, key=row_key, on_change=typed)
    c2.number_input("Column", 0, w - 1, step=1, key=col_key, on_change=typed)
    moves = (
        ("left", 0, -1, ":material/arrow_back:"),
        ("up", -1, 0, ":material/arrow_upward:"),
        ("down", 1, 0, ":material/arrow_downward:"),
        ("right", 0, 1, ":material/arrow_forward:"),
    )
    for column, (name, dr, dc, icon) in zip(st.columns(4), moves):
        column.button(
            "",
            icon=icon,
            key=f"{key}_{name}",
            help=f"Move one pixel {name}",
            on_click=move_pixel,
            args=(dr, dc, scene.shape),
            width="stretch",
        )


def legend(scene: Scene, counts: bool = True) -> None:
    """Class colours and names (with labelled-pixel counts) as a compact legend."""
    n = scene.class_counts()
    items = []
    for i, (name, colour) in enumerate(zip(scene.class_names, scene.class_colors)):
        count = f"<span style='opacity:0.65;margin-left:0.3em'>({n[i]:,})</span>" if counts else ""
        items.append(
            f"<span style='display:inline-flex;align-items:center;margin:0 0.9em 0.2em 0;white-space:nowrap'>"
            f"<span style='width:0.9em;height:0.9em;background:{colour};border:1px solid rgba(128,128,128,0.6);"
            f"display:inline-block;margin-right:0.35em;border-radius:2px'></span>{html.escape(name)}{count}</span>"
        )
    st.markdown(
        f"<div style='line-height:1.5;font-size:0.9em'>{''.join(items)}</div>",
        unsafe_allow_html=True,
    )


def class_name(scene: Scene, class_id: int) -> str:
    """The name of class 1..C, or 'unlabelled' for 0."""
    return scene.class_names[class_id - 1] if class_id > 0 else "unlabelled"
