"""Owners of saved runs (issue 22, items 3 and 5): a browser session renames or deletes only its own runs,
the lecturer's are read-only unless SSAN_STUDENTS_MAY_EDIT=1, an upload never becomes another session's
default, and an active model that disappears is said so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ssan.data.uploads import store_checkpoint_upload
from ssan.evaluation.runs import saved_runs
from tests.helpers import ASSET, COMPARE, TIMEOUT, TRAIN, app, saved_copy
from ui import owners


@pytest.fixture(autouse=True)
def fresh_owners(tmp_path, monkeypatch) -> Path:
    """Each test: its own runs and data folders, no owners known, SSAN_STUDENTS_MAY_EDIT unset."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("SSAN_RUNS_DIR", str(runs))
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(owners.STUDENTS_MAY_EDIT_ENV, raising=False)
    monkeypatch.setattr(owners, "_owners", {})
    monkeypatch.setattr(owners, "_shared", {})
    monkeypatch.setattr(owners, "_shared_stamp", [])
    monkeypatch.setattr(owners, "_jobs", [])
    monkeypatch.setattr(owners, "_in_use", {})
    return runs


def me(at: AppTest) -> str:
    return at.session_state["_owner_id"]


def manageable(at: AppTest) -> list[str]:
    """The runs offered for renaming or deleting on the Train page (none: no chooser)."""
    found = [s for s in at.selectbox if s.key == "manage_model"]
    return list(found[0].options) if found else []


class FakeJob:
    def __init__(self) -> None:
        self.checkpoints: tuple[Path, ...] = ()
        self.finished = False

    def snapshot(self) -> FakeJob:
        return self


def test_owners_decide_who_may_edit_and_what_is_a_default(fresh_owners, monkeypatch):
    lecturers = fresh_owners / "demo" / "cli-run"
    mine, theirs = fresh_owners / "demo" / "mine", fresh_owners / "demo" / "theirs"
    upload = fresh_owners / "uploaded" / "up"
    owners.record(mine, "a")
    owners.record(theirs, "b")
    owners.record(upload, "a")
    owners.record(upload, "b", replace=False)  # the same upload again: still the first uploader's
    assert owners.owner_of(lecturers) == owners.LECTURER and owners.owner_of(upload) == "a"
    assert [owners.may_edit(p, "a") for p in (mine, theirs, lecturers, upload)] == [
        True,
        False,
        False,
        True,
    ]
    with pytest.raises(ValueError, match="another browser session") as refused:
        owners.check_edit(theirs, "a")
    assert "\n" not in str(refused.value)
    with pytest.raises(ValueError, match=owners.STUDENTS_MAY_EDIT_ENV):
        owners.check_edit(lecturers, "a")
    assert [owners.default_candidate(p, "a") for p in (mine, theirs, lecturers, upload, ASSET)] == [
        True,
        False,
        True,
        False,
        True,
    ]
    monkeypatch.setenv(owners.STUDENTS_MAY_EDIT_ENV, "1")
    assert owners.may_edit(lecturers, "a") and not owners.may_edit(theirs, "a")
    owners.moved(mine, mine.with_name("renamed"))
    assert owners.owner_of(mine.with_name("renamed")) == "a"
    owners.forget(mine.with_name("renamed"))
    assert owners.owner_of(mine.with_name("renamed")) == owners.LECTURER


def test_owners_are_shared_with_the_other_server_processes(fresh_owners, monkeypatch):
    run = saved_copy(fresh_owners, "run")
    owners.record(run, "a")
    owners.record(run, "b", replace=False)
    monkeypatch.setattr(owners, "_owners", {})  # another process, sharing the runs folder
    assert owners.owner_of(run) == "a" and not owners.may_edit(run, "b")
    owners.moved(run, run.with_name("renamed"))
    monkeypatch.setattr(owners, "_owners", {})
    assert owners.owner_of(run.with_name("renamed")) == "a"
    assert owners.owner_of(run) == owners.LECTURER
    owners.forget(run.with_name("renamed"))
    monkeypatch.setattr(owners, "_owners", {})
    assert owners.owner_of(run.with_name("renamed")) == owners.LECTURER
    lines = (fresh_owners / owners.OWNERS_FILE).read_text().splitlines()
    assert len(lines) == 4, "one line per change (the refused second upload wrote none)"


def test_a_training_jobs_runs_belong_to_its_session_as_soon_as_listed(fresh_owners):
    fresh_owners.mkdir()
    job = FakeJob()
    owners.claim_job(job, "a")
    run = fresh_owners / "demo" / "knn-run"
    assert owners.owner_of(run) == owners.LECTURER
    job.checkpoints = (run,)
    assert owners.owner_of(run) == "a"
    assert len((fresh_owners / owners.OWNERS_FILE).read_text().splitlines()) == 1, "written once"
    job.finished = True
    owners.owner_of(run)
    assert owners._jobs == [] and owners.owner_of(run) == "a", (
        "an ended job is let go, its runs kept"
    )


def test_the_lecturers_runs_are_read_only_unless_the_server_allows(fresh_owners, monkeypatch):
    saved_copy(fresh_owners, "cli-run")
    assert manageable(app(TRAIN)) == [], "a run the CLI saved is the lecturer's: read-only"
    monkeypatch.setenv(owners.STUDENTS_MAY_EDIT_ENV, "1")
    assert len(manageable(app(TRAIN))) == 1


def test_a_session_changes_only_its_own_runs(fresh_owners):
    run = saved_copy(fresh_owners, "ssan-run")
    first, second = app(TRAIN), app(TRAIN)
    owners.record(run, me(first))  # as if `first` had trained it
    assert len(manageable(first.run())) == 1 and manageable(second.run()) == []
    first.text_input(key="rename_to_ssan-run").set_value("kept").run()
    first.button(key="rename_model").click().run()
    assert run.with_name("kept").is_dir() and not first.exception and not first.error
    assert owners.owner_of(run.with_name("kept")) == me(first), "the owner follows the new name"
    assert manageable(second.run()) == [], "still not the other session's after the rename"


def test_an_active_model_deleted_elsewhere_is_said_so(fresh_owners, monkeypatch):
    monkeypatch.setenv(owners.STUDENTS_MAY_EDIT_ENV, "1")
    run = saved_copy(fresh_owners, "shared-run")
    student, other = app(TRAIN), app(TRAIN)
    student.radio(key="active_model").set_value(str(run)).run()
    assert not student.warning
    other.checkbox(key="confirm_delete").check().run()
    other.button(key="delete_model").click().run()
    assert not run.exists()
    student.run()
    (warning,) = student.warning
    assert "shared-run" in warning.value
    assert student.radio(key="active_model").value == str(ASSET)
    assert "shared-run" not in str(student.session_state["model_dirs"]), "the choice is dropped"


def test_an_upload_is_never_another_sessions_compare_default(fresh_owners):
    side = json.loads((ASSET / "model.json").read_text())
    forged = json.dumps(side | {"best_val_accuracy": 1.0, "created": "2099-01-01T00:00:00+00:00"})
    path, _ = store_checkpoint_upload(
        {
            "model.safetensors": (ASSET / "model.safetensors").read_bytes(),
            "model.json": forged.encode(),
        },
        fresh_owners,
    )
    at = app(COMPARE)
    chooser = at.selectbox(key="ckpt_ssan")
    assert path.name not in chooser.value and "shipped demo checkpoint" in chooser.value
    upload_option = next(o for o in chooser.options if path.name in o)
    chooser.set_value(upload_option).run()
    assert path.name in at.selectbox(key="ckpt_ssan").value, "an upload can be picked by hand"

    own = saved_copy(fresh_owners, "own-run")
    owners.record(own, me(at))  # the session's own run, newest and as good: now the default
    mine = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=TIMEOUT)
    mine.session_state["_owner_id"] = me(at)
    mine.run().switch_page(COMPARE).run()
    assert "own-run" in mine.selectbox(key="ckpt_ssan").value


def test_compare_never_reuses_an_upload_as_a_trained_run(fresh_owners, demo):
    path, _ = store_checkpoint_upload(
        {n: (ASSET / n).read_bytes() for n in ("model.safetensors", "model.json")}, fresh_owners
    )
    trained = saved_copy(fresh_owners, "cli-run")
    assert [p for p, _ in saved_runs(fresh_owners, demo)] == [trained]
    assert path.is_dir()


def test_a_run_trained_on_the_train_page_is_its_sessions(fresh_owners):
    trainer, other = app(TRAIN), app(TRAIN)
    trainer.session_state["train_model"] = "knn"
    trainer.run()
    trainer.button(key="start_training").click().run()
    _, job = trainer.session_state["train_job"]
    assert job.join(timeout=TIMEOUT)
    (run,) = job.snapshot().checkpoints
    assert owners.owner_of(run) == me(trainer)
    assert len(manageable(trainer.run())) == 1 and manageable(other.run()) == []
