"""Multi-model, multi-seed comparison, the paper's reported numbers, and `ssan compare`."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import scipy.io

from ssan.cli import main
from ssan.data.splits import make_split
from ssan.evaluation.compare import (
    Report,
    RunResult,
    compare,
    parse_models,
    parse_seeds,
    percent_mean_std,
    summarise,
)
from ssan.evaluation.metrics import evaluate
from ssan.evaluation.reference import (
    LABEL,
    PAPER_RESULTS,
    Reported,
    paper_result,
    paper_results,
    reference_key,
)
from ssan.evaluation.runs import runs_dir
from ssan.models import MODEL_NAMES
from ssan.training.trainer import train
from tests.helpers import TINY


@pytest.fixture(scope="module")
def report(demo, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return compare(
        demo,
        "per-class:10",
        ["knn", "cnn"],
        [0, 1],
        "quick",
        runs_dir=runs,
        device="cpu",
        overrides=TINY,
    )


def test_every_model_runs_on_the_same_split_per_seed(report):
    assert [(r.model, r.seed) for r in report.runs] == [
        ("knn", 0),
        ("cnn", 0),
        ("knn", 1),
        ("cnn", 1),
    ]
    assert [s["seed"] for s in report.splits] == [0, 1]
    assert report.splits[0]["train"] != report.splits[1]["train"]  # the split is seeded by the seed
    for s in report.splits:
        assert s["protocol"] == "per-class:10" and "leakage" in s["summary"]
    assert report.complete and report.device.startswith("cpu")
    assert report.presets["cnn"]["iterations"] == 4


def test_summaries_are_mean_and_sample_std_over_seeds(report):
    by_model = {s.model: s for s in report.summaries()}
    assert set(by_model) == {"knn", "cnn"}
    oas = [r.metrics["oa"] for r in report.runs if r.model == "knn"]
    assert by_model["knn"].n_runs == 2
    assert by_model["knn"].mean["oa"] == pytest.approx(np.mean(oas))
    assert by_model["knn"].std["oa"] == pytest.approx(np.std(oas, ddof=1))
    assert len(by_model["cnn"].per_class_mean) == 12
    vals = [r.best_val_accuracy for r in report.runs if r.model == "cnn"]
    assert by_model["cnn"].val_mean == pytest.approx(np.mean(vals))
    assert by_model["cnn"].val_std == pytest.approx(np.std(vals, ddof=1))


def test_the_table_shows_validation_accuracy_to_choose_settings_on(report):
    knn = next(s for s in report.summaries() if s.model == "knn")
    header, _, knn_row = report.format_table().splitlines()[:3]
    assert "val OA %" in header
    assert f"{100 * knn.val_mean:.2f} ± {100 * knn.val_std:.2f}" in knn_row


def test_a_missing_validation_figure_reads_as_a_dash():
    assert percent_mean_std(None, None) == "-"
    assert percent_mean_std(0.9, 0.01) == "90.00 ± 1.00"


def test_a_split_without_validation_pixels_has_no_validation_mean(report):
    no_val = [RunResult(**{**r.__dict__, "best_val_accuracy": None}) for r in report.runs]
    (summary,) = summarise(no_val, ["knn"])
    assert summary.val_mean is None and summary.val_std is None


def test_report_json_holds_per_seed_confusion_matrices(report, tmp_path):
    data = json.loads(report.save(tmp_path / "out" / "report.json").read_text())
    assert (
        data["split_spec"] == "per-class:10"
        and data["seeds"] == [0, 1]
        and data["models"] == ["knn", "cnn"]
    )
    run = data["runs"][0]
    assert (
        np.asarray(run["metrics"]["confusion"]).shape == (12, 12)
        and len(run["metrics"]["per_class"]) == 12
    )
    assert {"train_seconds", "eval_seconds", "best_val_accuracy"} <= set(run)
    assert data["reference"] is None  # the demo scene has no paper numbers
    assert {"torch", "numpy", "scikit-learn", "ssan"} <= set(data["versions"])
    assert data["overrides"]["conv_channels"] == [4, 8]


def test_demo_table_has_no_paper_column(report):
    table = report.format_table()
    assert "±" in table and "KNN" in table and "CNN" in table and LABEL not in table


def test_pavia_table_shows_the_papers_numbers_beside_ours(report):
    pavia = Report(**{**report.__dict__, "scene": {**report.scene, "name": "paviau"}})
    table, lines = pavia.format_table(), pavia.describe()
    assert LABEL in table and "84.48 / 84.88 / 83.00" in table and "89.20 / 93.20 / 85.91" in table
    assert any("own random split (100 train / 100 validation" in line for line in lines)


def test_reference_lookup():
    assert paper_result("paviau", "ssan") == Reported(99.54, 98.41, 99.12)
    assert paper_result("Pavia Centre", "ARNN") == Reported(99.47, 91.31, 98.41)
    assert paper_results("PaviaU") is PAPER_RESULTS["paviau"]
    assert reference_key("pavia") == "paviac" and reference_key("Pavia University") == "paviau"
    assert paper_results("demo") is None and paper_result("mine.mat", "ssan") is None
    for row in PAPER_RESULTS.values():
        assert set(row) == set(MODEL_NAMES)


def test_stop_ends_the_comparison_after_the_running_model(demo, tmp_path):
    stop = threading.Event()
    steps = []

    def on_step(step):
        steps.append(step)
        if step.finished:
            stop.set()

    partial = compare(
        demo,
        "per-class:10",
        ["knn", "svm"],
        [0, 1],
        "quick",
        runs_dir=tmp_path,
        device="cpu",
        progress=on_step,
        stop=stop,
    )
    assert [r.model for r in partial.runs] == ["knn"] and not partial.complete
    assert "stopped early" in partial.describe()[-1]
    assert steps[0].run == 1 and steps[0].runs == 4 and steps[0].training is None


def test_network_progress_is_forwarded(demo, tmp_path):
    seen = []
    compare(
        demo,
        "per-class:10",
        ["rnn"],
        [0],
        "quick",
        runs_dir=tmp_path,
        device="cpu",
        overrides=TINY,
        progress=seen.append,
    )
    training = [s.training for s in seen if s.training is not None]
    assert [p.iteration for p in training] == [1, 2, 3, 4] and all(s.model == "rnn" for s in seen)
    scoring = [s.scoring for s in seen if s.scoring is not None]
    assert scoring and scoring[-1][0] == scoring[-1][1], "the test pixels are scored to the last"
    fractions = [s.fraction for s in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_fixed_split_from_two_mat_files(demo, tmp_path):
    rng = np.random.default_rng(0)
    take = (demo.labels > 0) & (rng.random(demo.shape) < 0.1)
    scipy.io.savemat(tmp_path / "TR.mat", {"tr": np.where(take, demo.labels, 0).astype(np.uint8)})
    scipy.io.savemat(tmp_path / "TS.mat", {"ts": np.where(take, 0, demo.labels).astype(np.uint8)})
    spec = f"fixed:{tmp_path / 'TR.mat'},{tmp_path / 'TS.mat'}"
    split = make_split(demo, spec, seed=0)
    assert split.protocol == spec and split.train.size + split.val.size == int(take.sum())
    assert "TR.mat + TS.mat" in split.description


@pytest.mark.parametrize(
    "text, seeds", [("0,1,2", [0, 1, 2]), ("0-4", [0, 1, 2, 3, 4]), ("7", [7])]
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "1,1", "-1", "x"])
def test_parse_seeds_refuses(text):
    with pytest.raises(ValueError, match="seeds"):
        parse_seeds(text)


def test_parse_models():
    assert parse_models(" KNN, ssan ") == ["knn", "ssan"]
    with pytest.raises(ValueError, match="each model may appear once"):
        parse_models("knn,knn")


def test_compare_command_prints_table_and_saves_report(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SSAN_RUNS_DIR", str(tmp_path / "runs"))
    out_file = tmp_path / "report.json"
    code = main(
        [
            "compare",
            "--scene",
            "demo",
            "--models",
            "knn,svm",
            "--seeds",
            "0,1",
            "--split",
            "per-class:10",
            "--out",
            str(out_file),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert (
        "split 'per-class:10', one per seed" in out
        and "seed 0: per-class: 10 train" in out
        and "seed 1:" in out
    )
    assert "KNN" in out and "SVM" in out and "±" in out and f"report: {out_file}" in out
    data = json.loads(out_file.read_text())
    assert len(data["runs"]) == 4 and [s["model"] for s in data["summary"]] == ["knn", "svm"]
    assert f"runs saved in {tmp_path / 'runs'}: 0 read back" in out, "$SSAN_RUNS_DIR by default"
    assert len(list((tmp_path / "runs").rglob("model.json"))) == 4


def test_run_result_round_trips_to_json():
    run = RunResult(
        "knn",
        0,
        {
            "oa": 0.5,
            "aa": 0.5,
            "kappa": 0.4,
            "per_class": [None, 1.0],
            "confusion": [[0]],
            "n_pixels": 2,
        },
        1.0,
        0.1,
        None,
        0.5,
        False,
    )
    assert json.loads(json.dumps(run.to_dict()))["metrics"]["per_class"] == [None, 1.0]


# --------------------------------------------------------------------------- one engine, runs saved and reused

CHEAP = {**TINY, "patch_size": 7}


def old_engine(demo, split_spec, model, seed):
    """What the comparison gave before runs were saved: train, then evaluate, nothing kept."""
    split = make_split(demo, split_spec, seed)
    fitted = train(demo, split, model, "quick", seed=seed, device="cpu", overrides=CHEAP)
    return evaluate(fitted, demo, split).to_dict()


def test_a_second_comparison_trains_nothing_and_gives_the_same_numbers(small_demo, tmp_path):
    demo = small_demo  # the demo's bands and classes on fewer test pixels to score
    args = (demo, "per-class:10", ["knn", "arnn"], [0], "quick")
    first = compare(*args, runs_dir=tmp_path, device="cpu", overrides=CHEAP)
    assert not any(r.reused for r in first.runs)
    saved = sorted(tmp_path.rglob("model.json"))
    assert len(saved) == 2 and all(p.parent.parent == tmp_path / "demo" for p in saved)
    steps = []
    with mock.patch("ssan.evaluation.compare.train", side_effect=AssertionError("trained again")):
        second = compare(
            *args, runs_dir=tmp_path, device="cpu", overrides=CHEAP, progress=steps.append
        )
    assert all(r.reused for r in second.runs) and [s.reused for s in steps] == [True, True]
    assert [r.metrics for r in second.runs] == [r.metrics for r in first.runs]
    assert [r.checkpoint for r in second.runs] == [r.checkpoint for r in first.runs]
    assert "2 read back" in "\n".join(second.describe())
    assert len(list(tmp_path.rglob("model.json"))) == 2, "nothing saved twice"
    for run in first.runs:
        assert run.metrics == old_engine(demo, "per-class:10", run.model, 0), run.model


def test_a_run_is_reused_only_for_the_same_split_preset_seed_and_data(small_demo, tmp_path):
    demo = small_demo  # the demo's bands and classes on fewer test pixels to score
    base = dict(runs_dir=tmp_path, device="cpu", overrides=CHEAP)
    compare(demo, "per-class:10", ["knn", "arnn"], [0], "quick", **base)

    def reused(scene=demo, spec="per-class:10", seeds=(0,), **changes) -> list[bool]:
        report = compare(scene, spec, ["knn", "arnn"], list(seeds), "quick", **(base | changes))
        return [r.reused for r in report.runs]

    assert reused(overrides={**CHEAP, "iterations": 2}) == [True, False], (
        "another preset setting: the network trains again, KNN ignores presets"
    )
    assert reused(spec="per-class:12") == [False, False]
    assert reused(seeds=(1,)) == [False, False]
    assert reused(reuse=False) == [False, False]
    other_data = dataclasses.replace(demo, cube=demo.cube * 1.01, sha256="f" * 64)
    assert reused(scene=other_data) == [False, False], "the same name and shape, other data"


def test_the_runs_folder_defaults_to_the_one_the_app_reads(monkeypatch, tmp_path):
    monkeypatch.setenv("SSAN_RUNS_DIR", str(tmp_path))
    assert runs_dir() == tmp_path
    monkeypatch.delenv("SSAN_RUNS_DIR")
    assert runs_dir() == Path("runs")


def test_compare_command_reuses_runs_in_its_runs_dir(tmp_path, capsys):
    command = ["compare", "--scene", "demo", "--models", "knn", "--split", "per-class:10"]
    assert main([*command, "--runs-dir", str(tmp_path)]) == 0
    assert "0 read back" in capsys.readouterr().out
    assert main([*command, "--runs-dir", str(tmp_path)]) == 0
    assert "1 read back" in capsys.readouterr().out
    assert main([*command, "--runs-dir", str(tmp_path), "--no-reuse"]) == 0
    assert "0 read back" in capsys.readouterr().out
    assert len(list(tmp_path.rglob("model.json"))) == 2
