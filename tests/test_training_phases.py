"""The Train page's supporting pieces: a measured time range, the scoring phase with its own progress,
renaming and deleting saved runs safely."""

from __future__ import annotations

import shutil

import pytest

from ssan.evaluation.metrics import evaluate
from ssan.evaluation.runs import delete_run, rename_run
from ssan.training.estimate import estimate_time_range
from tests.helpers import ASSET, TINY_JOB, tiny_job_scene, tiny_job_split
from ui.jobs import TrainJob
from ui.tasks import DONE


@pytest.fixture(scope="module")
def scene():
    return tiny_job_scene()


@pytest.fixture(scope="module")
def split(scene):
    return tiny_job_split(scene)


def test_the_estimate_is_a_measured_range_with_scoring(scene, split):
    est = estimate_time_range(
        scene, split, "ssan", "quick", device="cpu", overrides=TINY_JOB, trials=2, steps=2
    )
    assert est.trials == 2 and 0 < est.step_low <= est.step_high
    assert 0 < est.low <= est.high and est.scoring > 0 and est.test_pixels == split.test.size
    assert est.low >= est.iterations * est.step_low
    text = est.describe()
    assert "12 iterations" in text and f"scoring {split.test.size:,} test pixels" in text


def test_scoring_reports_its_progress_and_the_job_shows_it(scene, split, tmp_path):
    job = TrainJob(scene, split, ("knn",), "quick", seed=0, device="cpu", runs_dir=tmp_path).start()
    assert job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == DONE and snap.scoring == (split.test.size, split.test.size)
    calls = []
    metrics = evaluate(
        job.results[0], scene, split, progress=lambda d, t: calls.append((d, t)), batch_size=100
    )
    assert calls[0] == (0, split.test.size) and calls[-1] == (split.test.size, split.test.size)
    assert len(calls) == 1 + -(-split.test.size // 100)
    assert metrics.oa == pytest.approx(snap.metrics[0]["oa"]), "scoring in batches changes nothing"


def test_runs_are_renamed_and_deleted_only_inside_the_runs_folder(tmp_path):
    root = tmp_path / "runs"
    run = root / "demo" / "ssan-run"
    shutil.copytree(ASSET, run)
    renamed = rename_run(run, "lecture-ssan", root)
    assert (
        renamed == root / "demo" / "lecture-ssan"
        and (renamed / "model.json").is_file()
        and not run.exists()
    )
    with pytest.raises(ValueError, match="cannot name a run"):
        rename_run(renamed, "../escape", root)
    shutil.copytree(ASSET, root / "demo" / "taken")
    with pytest.raises(ValueError, match="exists already"):
        rename_run(renamed, "taken", root)
    with pytest.raises(ValueError, match="not inside the runs folder"):
        delete_run(ASSET, root)
    (renamed / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="other files too"):
        delete_run(renamed, root)
    (renamed / "notes.txt").unlink()
    delete_run(renamed, root)
    assert not renamed.exists() and ASSET.is_dir()
    with pytest.raises(ValueError, match="not a checkpoint folder"):
        delete_run(root / "demo", root)
