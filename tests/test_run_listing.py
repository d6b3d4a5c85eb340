"""The saved-run listing that the Train, Compare and explain pages draw on every render: read once, read
again only when a run is added, rewritten, renamed or deleted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ssan.models import checkpoints
from ui import loaders


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SSAN_RUNS_DIR", str(tmp_path))
    shutil.copytree(loaders.DEMO_CHECKPOINT, tmp_path / "first")
    return tmp_path


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The checkpoint folders read from disk while the test runs."""
    seen: list[str] = []
    real = checkpoints.load_checkpoint

    def counting(path, *args, **kwargs):
        seen.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "load_checkpoint", counting)
    real_model_at = loaders.model_at
    monkeypatch.setattr(
        loaders, "model_at", lambda path: seen.append(f"cache:{path}") or real_model_at(path)
    )
    loaders.model_for.clear()
    loaders._readable_checkpoints.clear()
    return seen


def _listed(demo) -> list[str]:
    models, problems = loaders.models_for_scene(demo)
    assert problems == []
    return [str(path) for path, _ in models]


def test_a_render_with_no_change_reads_no_checkpoint(runs: Path, reads: list[str], demo) -> None:
    first = _listed(demo)
    assert first == [str(runs / "first"), str(loaders.DEMO_CHECKPOINT)]
    assert len(reads) == 4  # each run looked up once and read once
    assert _listed(demo) == first
    assert len(reads) == 4  # not even a cache lookup per run


def test_an_added_renamed_or_deleted_run_is_listed_at_once(
    runs: Path, reads: list[str], demo
) -> None:
    _listed(demo)
    shutil.copytree(loaders.DEMO_CHECKPOINT, runs / "second")
    assert str(runs / "second") in _listed(demo)
    (runs / "second").rename(runs / "renamed")
    listed = _listed(demo)
    assert str(runs / "renamed") in listed and str(runs / "second") not in listed
    shutil.rmtree(runs / "first")
    assert str(runs / "first") not in _listed(demo)


def test_an_unreadable_run_is_one_message_and_the_others_stay(
    runs: Path, reads: list[str], demo
) -> None:
    shutil.copytree(loaders.DEMO_CHECKPOINT, runs / "broken")
    (runs / "broken" / loaders.SIDECAR).write_text("{not json")
    models, problems = loaders.models_for_scene(demo)
    assert [str(p) for p, _ in models] == [str(runs / "first"), str(loaders.DEMO_CHECKPOINT)]
    assert len(problems) == 1 and problems[0].startswith(str(runs / "broken"))
