"""In a real browser: the scene image zooms with the wheel and a drag, a click on the zoomed image selects
the pixel under the pointer and keeps the zoom (the figure is not redrawn), and the ring follows the click.

Run: `pytest tests/e2e/test_zoom.py`; SSAN_ZOOM_SCREENSHOT=path saves the zoomed image after the click.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

DEMO_SIDE = 150  # the demo scene is 150 x 150 pixels
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PLOT = '[data-testid="stPlotlyChart"] .js-plotly-plot'

pytestmark = pytest.mark.e2e


def settle(page: Page) -> None:
    page.wait_for_selector(IDLE, timeout=60_000)


def ranges(page: Page) -> tuple[list[float], list[float]]:
    """The scene image's x and y axis ranges as the browser shows them (y reversed: row 0 at the top)."""
    layout = page.evaluate(
        f"() => {{ const l = document.querySelector('{PLOT}')._fullLayout; "
        "return [l.xaxis.range, l.yaxis.range]; }"
    )
    return layout[0], layout[1]


def area(page: Page) -> dict:
    """The image's plot area on the screen."""
    drag = page.locator(PLOT).first.locator(".nsewdrag").first
    drag.scroll_into_view_if_needed()
    return drag.bounding_box()


def at_pixel(page: Page, row: int, col: int) -> tuple[float, float]:
    """Where pixel (row, col) is on the screen under the current zoom."""
    box, (x, y) = area(page), ranges(page)
    return (
        box["x"] + (col - x[0]) / (x[1] - x[0]) * box["width"],
        box["y"] + (row - y[1]) / (y[0] - y[1]) * box["height"],
    )


def heading(page: Page):
    return page.get_by_role("heading", name=re.compile(r"^Pixel \(row \d+, col \d+\)"))


def test_a_click_on_the_zoomed_image_keeps_the_zoom(page: Page, app_url: str):
    page.goto(app_url)
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Attention in hyperspectral images", timeout=60_000
    )
    settle(page)
    expect(page.locator(PLOT).first).to_be_visible(timeout=60_000)

    # The wheel zooms in around the pointer.
    full_x, _ = ranges(page)
    page.mouse.move(*at_pixel(page, 75, 75))
    for _ in range(4):
        page.mouse.wheel(0, -200)
        page.wait_for_timeout(150)
    page.wait_for_timeout(500)
    wheeled_x, _ = ranges(page)
    assert wheeled_x[1] - wheeled_x[0] < 0.8 * (full_x[1] - full_x[0]), "the wheel did not zoom"

    # A double click zooms out again; a drag zooms onto rows and columns 20..60.
    page.mouse.dblclick(*at_pixel(page, 75, 75))
    settle(page)
    page.wait_for_timeout(500)
    page.mouse.move(*at_pixel(page, 20, 20))
    page.mouse.down()
    page.mouse.move(*at_pixel(page, 40, 40), steps=5)
    page.mouse.move(*at_pixel(page, 60, 60), steps=5)
    page.mouse.up()
    page.wait_for_timeout(500)
    zoomed = ranges(page)
    assert zoomed[0][1] - zoomed[0][0] < 50, f"the drag did not zoom: {zoomed}"
    page.evaluate(f"() => {{ document.querySelector('{PLOT}').dataset.probe = 'kept'; }}")

    for row, col in ((30, 41), (52, 27)):
        before = heading(page).inner_text()
        page.mouse.click(*at_pixel(page, row, col))
        expect(heading(page)).not_to_have_text(before, timeout=30_000)
        settle(page)
        page.wait_for_timeout(300)
        assert heading(page).inner_text() == f"Pixel (row {row}, col {col})"
        assert ranges(page) == zoomed, "the click reset the zoom"
        plot = page.locator(PLOT).first
        assert plot.get_attribute("data-probe") == "kept", "the figure was drawn anew"
        selected = page.evaluate(
            f"() => Array.from(document.querySelector('{PLOT}')._fullData[1].selectedpoints)"
        )
        assert selected == [row * DEMO_SIDE + col], "the ring is not on the clicked pixel"

    if path := os.environ.get("SSAN_ZOOM_SCREENSHOT"):
        page.mouse.move(5, 5)
        page.wait_for_timeout(800)
        page.locator(PLOT).first.screenshot(path=path)
