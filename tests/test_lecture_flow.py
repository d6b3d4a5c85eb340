"""The README's lecture through AppTest, in presentation mode: a split changed on the Scene page leaves
Compare one click from its results (issue 24, item 1), and what the lecture shows or presses sits where a
1280×720 screen shows it: not folded, next to its figure (item 6). Elements are found by key, in the
order the page draws them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import COMPARE, ENTRY, INSIDE, ROOT, SCENE, SPATIAL, SPECTRAL, TIMEOUT


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    """An empty runs folder: the only saved model is the shipped demo checkpoint (paper split, seed 0)."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("SSAN_RUNS_DIR", str(runs))
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    return runs


def presenting(page: str = SCENE) -> AppTest:
    """The app opened at ?present=1, then switched to `page`."""
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=TIMEOUT)
    at.query_params["present"] = "1"
    at.run()
    if page != SCENE:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["present"]
    return at


def drawn(node, ancestors: tuple = ()) -> Iterator[tuple[object, tuple]]:
    """Every element and block under `node` in the order the page draws them, with the blocks around it."""
    for child in getattr(node, "children", {}).values():
        yield child, ancestors
        yield from drawn(child, (*ancestors, child))


def keys_in_order(at: AppTest) -> list[str]:
    return [key for node, _ in drawn(at.main) if (key := getattr(node, "key", None))]


def around(at: AppTest, key: str) -> tuple:
    """The blocks around the element or block with `key`."""
    return next(outer for node, outer in drawn(at.main) if getattr(node, "key", None) == key)


def folded(at: AppTest, key: str) -> bool:
    """Whether `key` sits in an expander that is closed."""
    return any(b.type == "expander" and not b.proto.expanded for b in around(at, key))


def test_a_split_changed_on_the_scene_page_leaves_compare_one_click_from_its_results():
    at = presenting()
    at.selectbox(key="w_split_kind").set_value("disjoint").run()
    at.number_input(key="w_split_n").set_value(30).run()
    at.switch_page(COMPARE).run()
    assert not at.exception
    offer = at.button(key="show_split_paper_0")
    assert offer.proto.type == "primary", "the split with results is the page's main action"
    order = keys_in_order(at)
    assert order.index("show_split_paper_0") < order.index("start_compare"), (
        "the offer comes before the training panel"
    )
    assert folded(at, "start_compare"), (
        "with results elsewhere, training seven models is not the default"
    )
    assert not at.dataframe, "no table on a split without results"

    offer.click().run()
    assert not at.exception
    assert at.session_state["split_kind"] == "paper"
    assert list(at.dataframe[0].value.index) == ["SSAN"]
    assert not any(k.startswith("show_split_") for k in keys_in_order(at))
    at.switch_page(SCENE).run()
    assert at.selectbox(key="w_split_kind").value == "paper", "the Scene page shows the split too"


def test_compare_with_no_results_anywhere_opens_its_training_panel(runs_dir, monkeypatch):
    at = presenting()
    at.selectbox(key="w_split_kind").set_value("per-class").run()
    at.number_input(key="w_split_n").set_value(20).run()
    monkeypatch.setattr("ui.loaders.DEMO_CHECKPOINT", runs_dir / "absent")
    at.switch_page(COMPARE).run()
    assert not at.exception
    assert not any(k.startswith("show_split_") for k in keys_in_order(at))
    assert not folded(at, "start_compare")


def test_the_scene_page_keeps_its_lecture_buttons_on_the_page():
    at = presenting()
    for key in ("composite_True colour", "composite_Colour infrared", "display_options"):
        assert not folded(at, key), f"{key} is folded away"
    assert any(b.type == "popover" and b.key == "display_options" for b in around(at, "w_nm_Red"))
    order = keys_in_order(at)
    assert order.index("display_bar") < order.index("scene_image"), (
        "the composites sit above the image"
    )
    assert order.index("pin") < order.index("scene_spectrum"), "Pin sits under the pixel heading"
    at.button(key="composite_Colour infrared").click().run()
    assert at.slider(key="w_nm_Red").value == 800.0 and at.session_state["rgb_nm"][0] == 800.0
    at.slider(key="w_nm_Red").set_value(700.0).run()
    assert at.session_state["rgb_nm"][0] == 700.0, "a slider moved by hand is kept"
    at.button(key="pin").click().run()
    assert len(at.session_state["pinned"]) == 1


def test_the_planted_verdict_and_the_alpha_note_follow_the_figure_unfolded():
    at = presenting(SPECTRAL)
    order = keys_in_order(at)
    assert order.index("spectral_spectrum") + 1 == order.index("planted_verdict"), (
        "the verdict is the next thing under the spectrum and α"
    )
    assert not folded(at, "planted_verdict")
    verdict = next(n for n, _ in drawn(at.main) if getattr(n, "key", None) == "planted_verdict")
    kinds = [child.type for child in verdict.children.values()]
    assert kinds == ["markdown", "caption"], "the verdict, then what α is"


def test_the_mask_note_is_unfolded_and_pin_sits_above_the_pixel_fields():
    at = presenting(SPATIAL)
    order = keys_in_order(at)
    assert not folded(at, "mask_note")
    assert order.index("spatial_figure") < order.index("mask_note")
    assert order.index("spatial_pin") < order.index("spatial_row")


def test_the_what_if_fields_sit_above_the_overview():
    at = presenting(INSIDE)
    at.radio(key="inside_edit").set_value("bands replaced").run()
    at.selectbox(key="inside_band_fill").set_value("another pixel").run()
    assert not at.exception
    order = keys_in_order(at)
    fields = ("inside_band_bands", "inside_band_fill", "inside_band_row", "inside_band_col")
    assert max(order.index(f) for f in fields) < order.index("inside_overview"), (
        "the edit's fields come before the overview, on the same screen"
    )
    rows = {
        id(next(b for b in reversed(around(at, f)) if b.type == "flex_container")) for f in fields
    }
    assert len(rows) == 1, "the fields share one row"
