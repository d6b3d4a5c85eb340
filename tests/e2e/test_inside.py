"""Inside SSAN in a real browser, as a lecture shows it: presentation mode at 1280×720, the overview of the
clicked pixel above the fold. SSAN_UPDATE_SCREENSHOTS=1 rewrites docs/screenshots/inside-ssan.png
(otherwise the screenshot goes to a temporary folder for a person to look at)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshots" / "inside-ssan.png"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'

pytestmark = pytest.mark.e2e


def test_inside_ssan_overview_is_above_the_fold_in_presentation_mode(
    app_url, browser: Browser, tmp_path
):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        page.goto(f"{app_url}/Inside_SSAN?present=1")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Inside SSAN", timeout=120_000)
        page.wait_for_selector(IDLE, timeout=120_000)
        charts = page.locator('[data-testid="stPlotlyChart"]')
        expect(charts.nth(1)).to_be_visible(timeout=60_000)
        overview = charts.nth(1).bounding_box()
        assert overview["y"] + overview["height"] <= 720, overview
        out = (
            SCREENSHOT
            if os.environ.get("SSAN_UPDATE_SCREENSHOTS") == "1"
            else tmp_path / SCREENSHOT.name
        )
        page.screenshot(path=str(out))
        print(f"screenshot: {out}")
    finally:
        context.close()
