"""The Inside SSAN page through AppTest: the overview for a clicked pixel, a stage opened, an edit traced."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import INSIDE, app, click


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SSAN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "runs"


def test_a_click_traces_the_pixel_and_a_stage_opens_with_its_numbers():
    at = click(app(INSIDE), "inside_image", 3, 58)
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["pixel"] == (3, 58)
    assert at.selectbox(key="inside_stage").value == "spectral.alpha"
    (table,) = at.dataframe
    assert list(table.value.columns)[-1] == "α_i"
    assert (table.value["α_i"] > 0).all()
    at.selectbox(key="inside_stage").set_value("fusion.hidden").run()
    assert not at.exception
    assert any("spectral branch" in m.value and "spatial branch" in m.value for m in at.markdown)


def test_an_edit_of_the_planted_bands_changes_the_prediction():
    at = click(app(INSIDE), "inside_image", 3, 58)  # a teal roof tile of the demo town
    at.radio(key="inside_edit").set_value("bands replaced").run()
    at.selectbox(key="inside_band_fill").set_value("another pixel").run()
    at.number_input(key="inside_band_row").set_value(3).run()
    at.number_input(key="inside_band_col").set_value(57).run()  # a grey roof tile beside it
    assert not at.exception, [e.message for e in at.exception]
    header = " ".join(m.value for m in at.markdown)
    assert "the prediction changes to Roof, grey paint" in header


def test_each_stage_is_said_in_one_line_in_presentation_mode_too():
    from ui.inside_page import STAGE_WORDS

    at = click(app(INSIDE), "inside_image", 3, 58)
    at.toggle(key="w_present").set_value(True).run()
    assert not at.exception
    words = at.get_by_key("stage_words")
    shown = "\n".join(c.value for c in at.caption)
    assert words is not None and all(line in shown for line in STAGE_WORDS.values())
