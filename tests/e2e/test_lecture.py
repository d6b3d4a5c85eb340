"""The README's "Run a lecture", step by step, in one browser session at 1280×720 in presentation mode:
each step shows what the README says, and what the lecturer presses or reads lies within the 720-px screen
once it is scrolled to (never folded away, never taller than the screen).

The comparators of step 1 are prepared beforehand with the CLI's engine in a runs folder of this test's
own server: KNN and SVM only, the quickest. A screenshot per step goes to docs/screenshots/lecture-step-N.png
with SSAN_UPDATE_SCREENSHOTS=1 (otherwise to a temporary folder) for a person to look at. Run with `-s`
to see the timings: the what-if update against a plain click on Spectral attention, and the first render
of Inside SSAN against that of Spectral attention, each pair measured in this one run (docs/inside.md).
"""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Error, Locator, Page, expect

from ssan.data.catalog import load_scene
from ssan.evaluation.compare import compare

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
WIDTH, HEIGHT = 1280, 720
SIDE = 150  # the demo town is 150 × 150 pixels
TEAL, GREY = (3, 58), (3, 57)  # the README's teal roof tile and the grey one beside it
SLOW = 300_000  # ms: a first visit of "Does attention explain?" computes its attributions

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lecture_url(serve, tmp_path_factory):
    """A server of its own whose runs folder holds the comparators of step 1 (KNN and SVM, the quickest),
    trained by the library's `compare`, the engine behind the Compare page and `ssan compare`."""
    runs = tmp_path_factory.mktemp("lecture-runs")
    compare(load_scene("demo"), "paper", ["knn", "svm"], [0], "quick", runs_dir=runs, device="cpu")
    with serve(runs) as url:
        yield url


def timing(name: str, seconds: float) -> None:
    print(f"TIMING {name}: {seconds:.2f} s")


def settle(page: Page, timeout: float = 60_000) -> None:
    page.wait_for_timeout(200)  # a click's rerun starts after the click returns
    page.wait_for_selector(IDLE, timeout=timeout)


def scroll_to(locator: Locator) -> None:
    """Scroll `locator` into view; again if a rerun redrew it meanwhile (the maps redraw the page once done)."""
    for attempt in range(3):
        try:
            locator.scroll_into_view_if_needed(timeout=10_000)
            return
        except Error:
            if attempt == 2:
                raise
            locator.page.wait_for_selector(IDLE, timeout=60_000)


def on_screen(locator: Locator, what: str) -> dict:
    """Scroll `locator` into view and require it whole inside the 1280×720 screen; returns its box."""
    expect(locator).to_be_visible(timeout=60_000)
    scroll_to(locator)
    box = locator.bounding_box()
    assert box is not None, f"{what}: not drawn"
    assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, f"{what}: {box} leaves the screen"
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, f"{what}: {box} leaves the screen"
    return box


def above_the_fold(locator: Locator, what: str) -> None:
    """Where the page is scrolled now (no scrolling to it): `locator` ends within the 720-px screen."""
    expect(locator).to_be_visible(timeout=60_000)
    box = locator.bounding_box()
    assert box["y"] + box["height"] <= HEIGHT, f"{what} ends at {box['y'] + box['height']:.0f} px"


def key(name: str) -> str:
    """The CSS selector of the element with Streamlit key `name` (spaces become dashes), not the copy a rerun
    is replacing (Streamlit keeps the old element, marked stale, until the new one is drawn)."""
    return ".st-key-" + name.replace(" ", "-") + ':not([data-stale="true"])'


def go(page: Page, link: str, title: str) -> float:
    """Open a page from the sidebar, as a lecturer does (the sidebar is folded in presentation mode, and a
    new URL would start a new session); fold it again. Returns the seconds until the page was drawn."""
    page.get_by_test_id("stExpandSidebarButton").click()
    start = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title, timeout=SLOW)
    settle(page, SLOW)
    took = time.perf_counter() - start
    page.get_by_test_id("stSidebarHeader").hover()
    page.get_by_test_id("stSidebarCollapseButton").click()
    expect(page.get_by_test_id("stExpandSidebarButton")).to_be_visible()
    settle(page)
    assert "present=1" in page.url
    return took


def choose(page: Page, name: str, option: str | re.Pattern) -> None:
    """Pick `option` in the select box with key `name` (in view first: its list closes when the page scrolls)."""
    box = page.locator(key(name))
    scroll_to(box)
    page.wait_for_timeout(300)
    box.locator("button[aria-label=Open]").click()
    page.get_by_role("option", name=option).click()
    settle(page)


def top(page: Page) -> None:
    page.locator('[data-testid="stMain"]').evaluate("m => m.scrollTo(0, 0)")


def click_pixel(page: Page, image: str, pixel: tuple[int, int]) -> float:
    """Click `pixel` on the clickable image `image` (a key); returns the seconds until the page redrew."""
    area = page.locator(f"{key(image)} .nsewdrag").first
    scroll_to(area)
    box = area.bounding_box()
    expect(page.locator(IDLE)).to_have_count(1)
    start = time.perf_counter()
    page.mouse.click(
        box["x"] + (pixel[1] + 0.5) / SIDE * box["width"],
        box["y"] + (pixel[0] + 0.5) / SIDE * box["height"],
    )
    expect(page.get_by_text(f"row {pixel[0]}, col {pixel[1]})").first).to_be_visible(timeout=60_000)
    settle(page)
    return time.perf_counter() - start


def shoot(page: Page, step: int, tmp_path: Path) -> None:
    page.mouse.move(2, HEIGHT - 2)  # no hover label or chart toolbar in the picture
    page.wait_for_timeout(800)
    folder = SHOTS if os.environ.get("SSAN_UPDATE_SCREENSHOTS") == "1" else tmp_path
    target = folder / f"lecture-step-{step}.png"
    picture = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    # 256 colours: a screen of text and flat charts loses nothing visible, at a third of the size.
    picture.quantize(256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    print(f"screenshot: {target}")


def no_error(page: Page) -> None:
    errors = page.get_by_test_id("stException")
    assert errors.count() == 0, errors.first.inner_text()


def test_the_readme_lecture_runs_as_written(page: Page, lecture_url: str, tmp_path: Path):
    scene = load_scene("demo")
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    # 1. Before the class: presentation mode; Compare has the comparators and shows the maps; a first
    # visit of "Does attention explain?".
    page.goto(f"{lecture_url}/?present=1")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Attention in hyperspectral", timeout=60_000
    )
    settle(page)
    go(page, "Compare", "Compare models")
    table = page.get_by_test_id("stDataFrame").first
    on_screen(table, "the accuracy table")
    for name in ("KNN", "SVM", "SSAN"):
        expect(table).to_contain_text(name)
    toggle = page.locator(key("w_show_maps"))
    on_screen(toggle, "Show the maps")
    toggle.locator("label").click()
    settle(page)
    expect(page.locator(key("map_SSAN"))).to_be_visible(timeout=SLOW)
    settle(page)  # the maps, once done, redraw the whole page once
    scroll_to(page.locator(key("map_SSAN")))
    shoot(page, 1, tmp_path)
    start = time.perf_counter()
    go(page, "Does attention explain?", "Does attention explain?")
    expect(page.locator(key("branch_map"))).to_be_visible(timeout=SLOW)
    timing(
        "step 1, first visit of Does attention explain? until its branch map is drawn",
        time.perf_counter() - start,
    )
    no_error(page)

    # 2. Scene: true colour, colour infrared, a grey and a teal tile pinned, the split map.
    go(page, "Scene", "Attention in hyperspectral images")
    for button in ("composite_True colour", "composite_Colour infrared"):
        on_screen(page.locator(key(button)), button)
        page.locator(key(button)).get_by_role("button").click()
        settle(page)
    image = page.locator(key("scene_image"))
    above_the_fold(image, "the scene image")
    click_pixel(page, "scene_image", GREY)
    pin = page.locator(key("pin")).get_by_role("button")
    above_the_fold(pin, "Pin this pixel")
    pin.click()
    settle(page)
    click_pixel(page, "scene_image", TEAL)
    expect(page.get_by_text("Ground truth: Roof, teal-tinted paint")).to_be_visible()
    above_the_fold(pin, "Pin this pixel")
    pin.click()
    settle(page)
    spectrum = page.locator(key("scene_spectrum"))
    expect(spectrum).to_contain_text("Roof, grey paint")
    expect(spectrum).to_contain_text("Roof, teal-tinted paint")
    expect(spectrum).to_contain_text("planted bands")
    no_error(page)
    top(page)
    shoot(page, 2, tmp_path)
    split_map = page.locator(key("split_map"))
    scroll_to(split_map)
    expect(page.get_by_text("leakage 100")).to_be_visible()
    choose(page, "w_split_kind", re.compile("^disjoint"))
    n = page.locator(f"{key('w_split_n')} input")
    n.fill("30")
    n.press("Enter")
    settle(page)
    expect(page.get_by_text("guard band").first).to_be_visible()
    on_screen(split_map, "the split map")
    no_error(page)

    # 3. Spectral attention: the teal roof selected; α inside the shaded bands; the verdict under the
    # figure; a drought-stressed meadow.
    spectral_first = go(page, "Spectral attention", "Spectral attention")
    timing("Spectral attention, first render", spectral_first)
    expect(
        page.get_by_role("heading", name=f"Pixel (row {TEAL[0]}, col {TEAL[1]})")
    ).to_be_visible()
    figure = page.locator(key("spectral_spectrum"))
    above_the_fold(figure.locator(".x2y2 .nsewdrag"), "the α panel")
    verdict = page.locator(key("planted_verdict"))
    box = on_screen(verdict, "the verdict and the α note")
    figure_box = figure.bounding_box()
    assert box["y"] - (figure_box["y"] + figure_box["height"]) < 80, (
        "the verdict is right under the figure"
    )
    expect(verdict).to_contain_text("So attention found the planted bands")
    expect(verdict).to_contain_text("is where the network")
    shoot(page, 3, tmp_path)
    drought = scene.class_names.index("Meadow, drought-stressed") + 1
    rows, cols = np.nonzero(scene.labels == drought)
    meadow = (int(rows[len(rows) // 2]), int(cols[len(cols) // 2]))
    top(page)
    clicks = [click_pixel(page, "spectral_image", meadow)]
    expect(page.get_by_text("Ground truth Meadow, drought-stressed")).to_be_visible()
    clicks.append(click_pixel(page, "spectral_image", TEAL))
    spectral_click = float(np.median(clicks))
    timing("Spectral attention, a plain click (median of 2)", spectral_click)
    no_error(page)

    # 4. Does attention explain?: the deletion test and the branch map (computed in step 1).
    go(page, "Does attention explain?", "Does attention explain?")
    deletion = page.locator('[class*="st-key-deletion_"]').first
    expect(deletion).to_be_visible(timeout=SLOW)
    on_screen(deletion, "the deletion test")
    on_screen(page.locator(key("branch_map")), "the branch map")
    shoot(page, 4, tmp_path)
    no_error(page)

    # 5. Spatial attention: the patch, the nearly flat mask, the note on the 1×1 convolution.
    go(page, "Spatial attention", "Spatial attention")
    above_the_fold(page.locator(key("spatial_figure")), "the patch and mask")
    above_the_fold(page.locator(key("spatial_pin")), "Pin this pixel")
    note = page.locator(key("mask_note"))
    expect(note).to_contain_text("1×1 convolution")
    on_screen(note, "the note on the 1×1 convolution")
    shoot(page, 5, tmp_path)
    no_error(page)

    # 6. Compare: step 2 left disjoint:30 on; one click back to the paper split and its results.
    go(page, "Compare", "Compare models")
    back = page.locator(key("show_split_paper_0")).get_by_role("button")
    above_the_fold(back, "Show the paper split")
    back.click()
    settle(page)
    table = page.get_by_test_id("stDataFrame").first
    on_screen(table, "the accuracy table")
    for name in ("KNN", "SVM", "SSAN"):
        expect(table).to_contain_text(name)
    shoot(page, 6, tmp_path)
    no_error(page)

    # 7. Inside SSAN: the teal tile, its planted bands replaced by the grey tile's values.
    inside_first = go(page, "Inside SSAN", "Inside SSAN")
    timing("Inside SSAN, first render", inside_first)
    above_the_fold(page.locator(key("inside_overview")), "the overview")
    click_pixel(page, "inside_image", TEAL)
    edit = page.locator(key("inside_edit"))
    on_screen(edit, "What if…")
    edit.get_by_text("bands replaced").click()
    settle(page)
    choose(page, "inside_band_fill", "another pixel")
    for field, value in (("inside_band_row", GREY[0]), ("inside_band_col", GREY[1])):
        box = page.locator(f"{key(field)} input")
        box.fill(str(value))
        start = time.perf_counter()
        box.press("Enter")
        settle(page)
    whatif = time.perf_counter() - start  # the col field completes the edit: this rerun traces it
    expect(page.get_by_text("the prediction changes to Roof, grey paint")).to_be_visible()
    timing("Inside SSAN, a what-if update", whatif)
    top(page)
    for name in ("inside_band_bands", "inside_band_fill", "inside_band_row", "inside_band_col"):
        above_the_fold(page.locator(key(name)), name)
    above_the_fold(page.get_by_text("the prediction changes to Roof, grey paint"), "the sentence")
    shoot(page, 7, tmp_path)
    no_error(page)

    # 8. Train (optional): the page opens on the demo.
    go(page, "Train", "Train a model")
    top(page)
    shoot(page, 8, tmp_path)
    no_error(page)

    print(
        f"RATIO what-if update / plain click on Spectral attention: {whatif / spectral_click:.2f}"
    )
    print(
        f"RATIO Inside SSAN / Spectral attention, first render: {inside_first / spectral_first:.2f}"
    )
