"""Which saved run stands for a model (never a cancelled one by default), which runs are missing,
mean ± std over seeds from saved runs, and classification maps cached per checkpoint weights."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ssan.data.splits import make_split
from ssan.evaluation.compare import summarise
from ssan.evaluation.runs import (
    best_run,
    by_model,
    finished,
    missing_models,
    same_run,
    seed_runs,
)
from ssan.models.fitted import CANCELLED_MARK
from ssan.models.presets import apply_overrides
from ui import classmaps

ASSET = Path(__file__).resolve().parents[1] / "assets" / "demo-ssan"


def variant(fitted, **changes):
    """A copy of `fitted` with other provenance (the weights are shared, never changed)."""
    return dataclasses.replace(fitted, **changes)


def test_a_cancelled_run_is_marked_and_never_the_default(shipped, demo):
    split = make_split(demo, "paper", 0)
    cancelled = variant(shipped, cancelled=True, best_val_accuracy=0.999)
    weaker = variant(shipped, best_val_accuracy=0.5)
    saved = [
        (Path("new-cancelled"), cancelled),
        (Path("weaker"), weaker),
        (Path("shipped"), shipped),
    ]
    assert not finished(cancelled) and finished(shipped)
    assert best_run(saved)[0] == Path("shipped"), (
        "the best finished run by validation, the cancelled one skipped"
    )
    assert best_run(saved[:1]) is None, "only a cancelled run: nothing is used by default"
    assert CANCELLED_MARK in cancelled.summary() and CANCELLED_MARK not in shipped.summary()
    assert [p for p, _ in by_model(saved, split)["ssan"]] == [
        Path("new-cancelled"),
        Path("weaker"),
        Path("shipped"),
    ]
    assert by_model(saved, make_split(demo, "paper", 1)) == {}, (
        "another split seed is another split"
    )


def test_ties_go_to_the_newest_run(shipped):
    saved = [(Path("newer"), variant(shipped)), (Path("older"), variant(shipped))]
    assert best_run(saved)[0] == Path("newer")


def test_only_missing_runs_need_training(shipped, demo):
    split = make_split(demo, "paper", 0)
    presets = {"ssan": shipped.preset, "knn": shipped.preset}
    saved = [(Path("a"), shipped)]
    assert missing_models(saved, ["ssan", "knn"], split, presets, seed=shipped.seed) == ["knn"]
    assert missing_models(saved, ["ssan"], split, presets, seed=shipped.seed + 1) == ["ssan"], (
        "another seed"
    )
    other = {"ssan": apply_overrides(shipped.preset, {"iterations": shipped.preset.iterations + 1})}
    assert missing_models(saved, ["ssan"], split, other, seed=shipped.seed) == ["ssan"], (
        "another preset"
    )
    cancelled = [(Path("c"), variant(shipped, cancelled=True))]
    assert missing_models(cancelled, ["ssan"], split, presets, seed=shipped.seed) == ["ssan"], (
        "cancelled is not done"
    )


def test_seed_runs_give_mean_and_std_like_the_cli(shipped, demo):
    splits = {s: make_split(demo, "paper", s) for s in (0, 1)}
    m0 = dict(shipped.metrics, oa=0.90, aa=0.80, kappa=0.85)
    m1 = dict(shipped.metrics, oa=0.94, aa=0.84, kappa=0.89)
    split1 = splits[1].record()
    saved = [
        (Path("s0"), variant(shipped, seed=0, metrics=m0)),
        (Path("s1"), variant(shipped, seed=1, split=split1, metrics=m1)),
        (Path("s1-cancelled"), variant(shipped, seed=1, split=split1, cancelled=True, metrics=m0)),
    ]
    runs, missing = seed_runs(
        saved, ["ssan", "knn"], splits, {"ssan": shipped.preset, "knn": shipped.preset}
    )
    assert missing == [("knn", 0), ("knn", 1)]
    assert sorted((r.seed, r.metrics["oa"]) for r in runs) == [(0, 0.90), (1, 0.94)]
    (summary,) = summarise(runs, ["ssan", "knn"])
    assert summary.n_runs == 2 and summary.mean["oa"] == pytest.approx(0.92)
    assert summary.std["oa"] == pytest.approx(np.std([0.90, 0.94], ddof=1))


def test_class_maps_are_cached_by_weights_hash(shipped, demo, tmp_path, monkeypatch):
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    small = dataclasses.replace(
        demo, cube=demo.cube[:40, :30], labels=demo.labels[:40, :30], sha256=None
    )
    calls = []
    first = classmaps.cached_class_map(
        ASSET, shipped, small, progress=lambda done, total: calls.append((done, total))
    )
    assert first.labels.shape == (40, 30) and calls[-1] == (1200, 1200)
    assert (
        first.precision.precision == "float32"
    )  # 1,200 pixels: too few for "auto" to take bfloat16
    assert classmaps.map_path(ASSET, small).is_file()
    monkeypatch.setattr(
        classmaps, "predict_map", lambda *a, **k: pytest.fail("the cached map was recomputed")
    )
    again = classmaps.cached_class_map(ASSET, shipped, small)
    np.testing.assert_array_equal(again.labels, first.labels)
    assert "cache" in again.precision.reason
    assert classmaps.map_path(ASSET, small, precision="bfloat16") != classmaps.map_path(
        ASSET, small
    )
    retrained = tmp_path / "retrained"
    shutil.copytree(ASSET, retrained)
    side = json.loads((retrained / "model.json").read_text())
    side["weights_sha256"] = "0" * 64  # other weights: another cache file
    (retrained / "model.json").write_text(json.dumps(side))
    assert classmaps.map_path(retrained, small) != classmaps.map_path(ASSET, small)
    other_scene = dataclasses.replace(small, cube=small.cube * 2)
    assert classmaps.map_path(ASSET, other_scene) != classmaps.map_path(ASSET, small)


def test_a_run_is_only_the_same_on_the_same_pixels_and_data(shipped, demo):
    split = make_split(demo, "paper", 0)
    assert same_run(shipped, "ssan", split, shipped.preset, shipped.seed, demo)
    moved = dataclasses.replace(shipped.split, train=shipped.split.train[::-1])
    assert not same_run(variant(shipped, split=moved), "ssan", split, shipped.preset, shipped.seed)
    other_data = dataclasses.replace(demo, sha256="0" * 64)
    assert not same_run(shipped, "ssan", split, shipped.preset, shipped.seed, other_data)
    assert not same_run(shipped, "ssan", split, apply_overrides(shipped.preset, {"lr": 1.0}), 0)
