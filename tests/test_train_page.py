"""Issue 24, items 6 and 8 on the Train page: a running job's progress, Cancel and curve sit at the top,
above the settings; a trained model waits for "Use this model" instead of replacing the active one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ASSET, TIMEOUT, TRAIN, app, long_training


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    runs = tmp_path / "runs"
    monkeypatch.setenv("SSAN_RUNS_DIR", str(runs))
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    return runs


def in_order(node) -> Iterator[tuple[str, str | None]]:
    """(element type, key) of every element under `node`, in the order the page draws them."""
    children = getattr(node, "children", None)
    if children:
        for index in sorted(children):
            yield from in_order(children[index])
    else:
        key = getattr(getattr(node, "proto", None), "id", "") or ""
        yield node.type, getattr(node, "key", None) or key


def position(at, element_type: str, key: str | None = None) -> int:
    """Where the first `element_type` element (with `key`, when given) comes on the page."""
    drawn = list(in_order(at.main))
    return next(
        i
        for i, (kind, k) in enumerate(drawn)
        if kind == element_type and (key is None or (k or "").endswith(key))
    )


def test_a_running_job_is_drawn_above_the_settings(runs_dir):
    at, job = long_training(validations=1)
    assert not at.exception
    settings = position(at, "selectbox", "train_model")
    assert position(at, "progress") < settings
    assert position(at, "button", "train_job_cancel") < settings
    assert position(at, "plotly_chart") < settings, "the curve comes before the settings"
    at.button(key="train_job_cancel").click().run()
    assert job.join(timeout=TIMEOUT)


def test_a_trained_model_is_used_only_when_chosen(runs_dir):
    at = app(TRAIN)
    at.session_state["adv_iterations"] = 20
    at.session_state["adv_eval_every"] = 10
    at.run()
    at.button(key="start_training").click().run()
    _, job = at.session_state["train_job"]
    assert job.join(timeout=TIMEOUT)
    at.run()
    assert not at.exception and not at.error
    assert ("demo",) not in at.session_state["model_dirs"], "the active model stays as it was"
    assert at.radio(key="active_model").value == str(ASSET)
    use = at.button(key="train_job_use_0")
    assert not use.disabled
    use.click().run()
    saved = next(runs_dir.rglob("model.json")).parent
    assert at.session_state["model_dirs"][("demo",)] == str(saved)
    assert at.radio(key="active_model").value == str(saved)
    assert at.button(key="train_job_use_0").disabled


def test_a_cleared_setting_is_the_presets_value_not_the_minimum():
    at = app(TRAIN)
    field = at.number_input(key="w_adv_iterations")
    field.set_value(30).run()
    assert at.session_state["adv_iterations"] == 30
    assert not at.button(key="reset_advanced").disabled
    at.number_input(key="w_adv_iterations").set_value(None).run()
    assert at.session_state["adv_iterations"] is None, "an emptied field does not snap to 1"
    assert at.button(key="reset_advanced").disabled, "nothing left to reset: the preset's values"
