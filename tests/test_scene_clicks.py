"""The clickable scene image through AppTest: a click leaves the figure as it was (the browser rings the
clicked point itself, so Streamlit does not send the figure again and a zoom survives), anything else that
moves the pixel sends a figure ringing it, and the image zooms with the wheel."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.helpers import SPATIAL, app, chart, click
from ui.figures import GRID_TRACE, SELECTED_COLOR

SIDE = 150  # the demo scene's width


def scene_chart(at: AppTest, key: str):
    """The chart element under `key` (its id changes whenever its figure does)."""
    return next(e for e in at.get("plotly_chart") if e.proto.id.endswith(key))


def ringed(at: AppTest, key: str) -> tuple[int, int]:
    """The pixel the figure itself selects (its click grid's selected point)."""
    (index,) = chart(at, key)["data"][GRID_TRACE]["selectedpoints"]
    return divmod(index, SIDE)


def test_a_click_leaves_the_scene_figure_as_it_was():
    at = app()
    before = scene_chart(at, "scene_image").proto
    start = at.session_state["pixel"]
    assert ringed(at, "scene_image") == start
    at = click(at, "scene_image", 40, 30)
    assert at.session_state["pixel"] == (40, 30)
    after = scene_chart(at, "scene_image").proto
    assert (after.id, after.spec) == (before.id, before.spec), "the figure would be sent again"
    at = click(at, "scene_image", 100, 20)
    assert at.session_state["pixel"] == (100, 20)
    assert scene_chart(at, "scene_image").proto.id == before.id
    assert not at.exception


def test_moves_other_than_a_click_send_a_figure_ringing_the_pixel():
    at = click(app(SPATIAL), "spatial_image", 10, 12)
    kept = scene_chart(at, "spatial_image").proto.id
    at.button(key="spatial_right").click().run()
    assert at.session_state["pixel"] == (10, 13) and ringed(at, "spatial_image") == (10, 13)
    assert scene_chart(at, "spatial_image").proto.id != kept
    at.button(
        key="spatial_pin"
    ).click().run()  # pinned: the image changes, the ring stays on the pixel
    assert ringed(at, "spatial_image") == (10, 13)
    at = click(at, "spatial_image", 50, 60)
    ring_figure = scene_chart(at, "spatial_image").proto.id
    assert ringed(at, "spatial_image") == (10, 13), "the browser rings the click"
    at.button(
        key="spatial_pin0"
    ).click().run()  # back to the figure's own ring: a new figure all the same
    assert at.session_state["pixel"] == (10, 13) and ringed(at, "spatial_image") == (10, 13)
    assert scene_chart(at, "spatial_image").proto.id != ring_figure
    at = click(
        at, "spatial_image", 50, 60
    )  # the same click as before counts again on the new figure
    assert at.session_state["pixel"] == (50, 60)
    assert not at.exception


def test_the_scene_zooms_with_the_wheel_and_keeps_its_zoom():
    at = app()
    element = scene_chart(at, "scene_image").proto
    figure = chart(at, "scene_image")
    assert '"scrollZoom": true' in element.config
    assert figure["layout"]["uirevision"] == "scene" and figure["layout"]["dragmode"] == "zoom"
    grid = figure["data"][GRID_TRACE]
    assert grid["selected"]["marker"]["opacity"] == 1 and grid["marker"]["color"] == SELECTED_COLOR
    at = click(at, "scene_image", 3, 4)
    assert chart(at, "scene_image")["layout"]["uirevision"] == "scene"
