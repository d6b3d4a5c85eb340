"""What `train` saves, `load_checkpoint` reads (issue 22, data loss): the writer's limits are the schema's,
a scene or preset beyond them is refused before training, and `train --out X` over a finished run replaces
X only once the new run is tested."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ssan
from ssan.cli import main
from ssan.data.scene import Scene, SceneError, rosis_wavelengths
from ssan.data.splits import make_split
from ssan.models import get_preset
from ssan.models.checkpoint_schema import MAX_HISTORY
from ssan.models.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from ssan.models.presets import apply_overrides
from ssan.training.trainer import train
from tests.helpers import toy_scene


@pytest.fixture(scope="module")
def fitted():
    scene = toy_scene(shape=(30, 24), n_bands=10, n_classes=3)
    return train(scene, make_split(scene, "per-class:10", 0), "knn")


def test_metrics_with_a_class_without_test_pixels_load_again(fitted, tmp_path):
    fitted.metrics = {
        "oa": 0.5,
        "aa": 0.5,
        "kappa": 0.1,
        "n_pixels": 4,
        "per_class": [0.5, None, 0.5],  # Metrics.to_dict writes None for a class with no test pixel
        "confusion": [[1, 0, 1], [0, 0, 0], [1, 0, 1]],
    }
    fitted.history = [{"iteration": i, "loss": 1.0, "val_accuracy": None} for i in range(1, 2001)]
    loaded = load_checkpoint(save_checkpoint(fitted, tmp_path / "ck"))
    assert loaded.metrics["per_class"][1] is None and len(loaded.history) == 2000


def test_a_sidecar_that_would_not_load_is_not_written(fitted, tmp_path):
    target = save_checkpoint(fitted, tmp_path / "ck")
    before = (target / "model.json").read_bytes()
    fitted.device = "x" * 10_001
    try:
        with pytest.raises(CheckpointError, match=r"cannot be saved .*device: must be at most"):
            save_checkpoint(fitted, target)
    finally:
        fitted.device = "cpu"
    assert (target / "model.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_scenes_and_presets_a_checkpoint_cannot_hold_are_refused_up_front():
    cube = np.random.default_rng(0).random((4, 4, 5)).astype(np.float32)
    labels = np.array([[1, 2] * 2] * 4, dtype=np.int32)
    wl = rosis_wavelengths(5)
    with pytest.raises(SceneError, match="a class name of 10,001 characters"):
        Scene("s", cube, labels, ("a" * 10_001, "b"), wl, source="test")
    many = tuple(f"c{i}" for i in range(1001))
    with pytest.raises(SceneError, match="at most 1,000 classes"):
        Scene("s", cube, labels, many, wl, source="test")
    with pytest.raises(ValueError, match="iterations must be at most 1,000,000"):
        apply_overrides(get_preset("quick"), {"iterations": MAX_HISTORY + 1})


def test_train_over_a_finished_run_keeps_it_until_the_new_one_is_tested(tmp_path, monkeypatch):
    """An interruption while the new run is tested (SIGTERM, a second Ctrl-C) left X as the new, untested
    model; now X keeps the finished run until the new one is complete."""
    out = tmp_path / "run"
    args = [
        "train",
        "--scene",
        "demo",
        "--model",
        "knn",
        "--split",
        "per-class:5",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    finished = (out / "model.json").read_bytes()
    assert json.loads(finished)["metrics"] is not None

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ssan, "evaluate", interrupted, raising=False)  # what the CLI calls
    assert main([*args, "--seed", "1"]) == 130
    assert (out / "model.json").read_bytes() == finished
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
