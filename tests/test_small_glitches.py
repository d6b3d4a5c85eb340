"""Issue 24, items 5 and 9: the small glitches a lecture run met, each held by a test."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.elements.lib import policies
from streamlit.runtime.state import get_session_state

from tests.helpers import COMPARE, app, chart, open_file_scene, texts, tiny_mat
from ui.compare_page import seed_cell
from ui.explain_figures import branch_shares_figure


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("SSAN_RUNS_DIR", str(runs))
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    return runs


def test_the_split_bars_use_the_split_maps_colours():
    at = app()
    legend = {
        d["name"].split(" (")[0]: d["marker"]["color"]
        for d in chart(at, "split_map")["data"]
        if d["type"] == "scatter"
    }
    bars = {d["name"]: d["marker"]["color"] for d in chart(at, "split_counts")["data"]}
    assert bars == {
        "train": legend["train"],
        "val": legend["validation"],
        "test": legend["test"],
    }


def test_seed_cells_give_kappa_three_decimals_and_no_spread_for_one_seed():
    assert seed_cell(0.9973, 0.0, 1, kappa=True) == "0.997"
    assert seed_cell(0.9973, 0.0012, 3, kappa=True) == "0.997 ± 0.001"
    assert seed_cell(0.8490, 0.0123, 2, kappa=False) == "84.90 ± 1.23"
    assert seed_cell(None, None, 0, kappa=False) == "—"


def test_the_seeds_table_says_how_to_get_the_missing_seeds(runs_dir):
    at = app(COMPARE)
    assert at.button(key="start_seed_study")  # the button, and the command beside it
    assert (
        "python -m ssan compare --scene demo --split paper --seeds 0,1,2 --preset quick"
        in texts(at)
    )


def test_the_branch_chart_keeps_its_legend_off_the_axis_title_and_wraps_its_subtitle():
    provenance = "SSAN (quick, training seed 0) on demo, per-class:30 split (seed 0); all 16,292 labelled pixels"
    shares = np.full((3, 4), 0.25)
    fig = branch_shares_figure(shares, ["a", "b", "c"], provenance)
    legend = fig.layout.legend
    assert legend.yref == "container" and legend.y == 0 and legend.yanchor == "bottom"
    assert fig.layout.margin.b >= 100, "room for the axis title and the legend below it"
    subtitle = fig.layout.title.text.split("<sup>")[1].removesuffix("</sup>")
    assert subtitle.replace("<br>", " ") == provenance
    assert max(len(line) for line in subtitle.split("<br>")) <= 60


def test_the_composite_buttons_set_the_sliders_without_a_second_default(monkeypatch):
    """Streamlit warns (with a stack trace in the server log) when a widget has a default and a value set
    through the session; its check needs a server runtime, so it is recorded here without one."""
    doubled: list[str] = []

    def record(default_value, key, writes_allowed=True):
        if key and default_value is not None and get_session_state().is_new_state_value(key):
            doubled.append(key)

    monkeypatch.setattr(policies, "check_session_state_rules", record)
    at = app()
    at.button(key="composite_Colour infrared").click().run()
    assert not at.exception
    at.button(key="composite_True colour").click().run()
    assert at.slider(key="w_nm_Red").value == 640.0
    assert not [k for k in doubled if k.startswith("w_nm_")], doubled
    at.slider(key="w_nm_Green").set_value(600.0).run()
    assert at.session_state["rgb_nm"] == (640.0, 600.0, 470.0), "a moved slider is kept"


def test_scene_notes_name_the_apps_fields_not_cli_flags(tmp_path):
    cube = tiny_mat(tmp_path)
    at = app()
    at = open_file_scene(at, cube)
    assert not at.exception and not at.error
    shown = texts(at)
    assert "band centres are estimates" in shown
    assert "--wavelengths" not in shown and "Wavelengths in nm" in shown
