"""scripts/branch_study.py: its tables carry the validation accuracy that settings are chosen on beside the
test figures, and it refuses an unknown study by name."""

from __future__ import annotations

import importlib.util

import pytest

from ssan.evaluation.compare import compare
from tests.helpers import ROOT

SCRIPT = ROOT / "scripts" / "branch_study.py"


@pytest.fixture(scope="module")
def branch_study():
    spec = importlib.util.spec_from_file_location("branch_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tables_show_validation_beside_test_accuracy(branch_study, demo, tmp_path):
    report = compare(
        demo, "per-class:10", ["knn", "svm"], [0, 1], "quick", runs_dir=tmp_path, device="cpu"
    )
    header, rule, *rows = branch_study.table(report, classes=[3, 4])
    assert header.startswith("| model | val OA | OA | AA | kappa |") and header.count(
        "|"
    ) == rule.count("|")
    for summary, row in zip(report.summaries(), rows, strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == summary.model.upper()
        assert cells[1] == f"{100 * summary.val_mean:.2f} ± {100 * summary.val_std:.2f}"
        assert cells[2] == f"{100 * summary.mean['oa']:.2f} ± {100 * summary.std['oa']:.2f}"
        assert cells[5:] == [f"{100 * summary.per_class_mean[c - 1]:.1f}" for c in (3, 4)]


def test_an_unknown_study_is_refused_by_name(branch_study, capsys):
    with pytest.raises(SystemExit):
        branch_study.main(["--studies", "crop,nonsense"])
    assert "unknown studies ['nonsense']" in capsys.readouterr().err


def test_attention_rows_give_each_seeds_accuracy_and_where_alpha_lies_for_each_hidden_pair(
    branch_study, demo
):
    scene = demo
    brief = {"iterations": 4, "eval_every": 2}
    (row,) = branch_study.attention_rows(scene, [0], brief)
    cells = [float(c) for c in row.strip("| ").split("|")]
    pairs = scene.planted.spectral_pairs
    assert cells[0] == 0 and len(cells) == 2 + 3 * len(pairs)
    for accuracy, ratio, inside in zip(cells[2::3], cells[3::3], cells[4::3], strict=True):
        assert 0 <= accuracy <= 100 and ratio >= 0 and 0 <= inside <= 100
