"""Silent nonsense (issue 9, item 8): input that used to train to chance, or fail with another
library's message, gets a specific message (a warning where the run can go on)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from ssan.cli import main
from ssan.data.scene import Scene, SceneError, rosis_wavelengths
from ssan.data.splits import fixed_split, make_split
from ssan.training.trainer import resolve_preset, train
from tests.helpers import toy_scene


def two_class_scene(cube: np.ndarray, labels: np.ndarray) -> Scene:
    return Scene(
        "tiny",
        cube.astype(np.float32),
        labels.astype(np.int32),
        ("a", "b"),
        rosis_wavelengths(cube.shape[2]),
        source="test",
    )


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_all_zero_cube_is_refused_instead_of_training_to_chance():
    labels = np.repeat([[1] * 10 + [2] * 10], 20, axis=0)
    scene = two_class_scene(np.zeros((20, 20, 5)), labels)
    split = make_split(scene, "per-class:10", 0)
    for model in ("knn", "ssan"):
        with pytest.raises(
            ValueError,
            match=r"every training pixel of scene 'tiny' has the same spectrum \(every band is 0\)",
        ):
            train(scene, split, model, "quick")


def test_an_infinite_learning_rate_is_refused(capsys):
    with pytest.raises(ValueError, match="lr must be a positive, finite number; got inf"):
        resolve_preset("ssan", "quick", {"lr": float("inf")})
    code, _, err = cli(capsys, "train", "--scene", "demo", "--set", "lr=inf")
    assert (
        code == 2
        and err == "ssan: error: Preset 'quick': lr must be a positive, finite number; got inf.\n"
    )


@pytest.mark.parametrize(
    "value, message",
    [
        (-3.5, "holds 1 value(s) that are not whole class ids (e.g. -3.5)"),
        (2.5, "holds 1 value(s) that are not whole class ids (e.g. 2.5)"),
        (-2.0, "holds negative ids (min -2)"),
        (np.nan, "not whole class ids (e.g. nan)"),
    ],
)
def test_fixed_maps_must_hold_whole_non_negative_ids(value, message):
    scene = toy_scene(shape=(20, 16), n_bands=6, n_classes=3)
    train_map = np.where(scene.labels.astype(float) > 0, scene.labels, 0).astype(float)
    test_map = np.zeros_like(train_map)
    test_map[0, 0], train_map[0, 0] = 0, 0
    train_map[1::2] = 0
    test_map[1::2] = scene.labels[1::2]
    train_map[0, 1] = value
    test_map[0, 1] = 0
    with pytest.raises(SceneError) as info:
        fixed_split(scene, train_map, test_map)
    assert message in str(info.value) and "train map" in str(info.value)


def test_a_checkpoint_on_another_cube_of_the_same_shape_is_named(tmp_path, capsys):
    labels = np.repeat([[1] * 6 + [2] * 6], 12, axis=0)
    for name, seed in (("a", 0), ("b", 1)):
        cube = np.random.default_rng(seed).random((12, 12, 5)) + labels[..., None]
        scipy.io.savemat(tmp_path / f"{name}.mat", {"cube": cube, "gt": labels})
    code, _, err = cli(
        capsys,
        "train",
        "--scene",
        str(tmp_path / "a.mat"),
        "--model",
        "knn",
        "--split",
        "per-class:10",
        "--out",
        str(tmp_path / "ck"),
    )
    assert code == 0, err
    code, out, _ = cli(
        capsys, "evaluate", "--checkpoint", str(tmp_path / "ck"), "--scene", str(tmp_path / "a.mat")
    )
    assert code == 0 and "is not the one this model was trained on" not in out
    code, out, _ = cli(
        capsys, "evaluate", "--checkpoint", str(tmp_path / "ck"), "--scene", str(tmp_path / "b.mat")
    )
    assert (
        code == 0
        and "warning: the cube of scene 'b'" in out
        and "is not the one this model was trained on" in out
    )


def test_a_tiny_scene_says_its_training_set_is_empty():
    scene = two_class_scene(
        np.random.default_rng(0).random((3, 3, 5)), np.array([[1, 1, 2], [2, 0, 0], [0, 0, 0]])
    )
    split = make_split(scene, "paper", 0)
    assert split.train.size == 0
    with pytest.raises(
        ValueError,
        match=r"the paper split of this 3x3 scene \(4 labelled pixels\) gives no training pixel",
    ):
        train(scene, split, "ssan", "quick")


def test_a_negative_seed_is_named(capsys):
    code, _, err = cli(capsys, "data", "info", "demo", "--seed", "-1")
    assert (
        code == 2
        and "argument --seed: expected a non-negative integer (0, 1, 2, ... up to 4,294,967,295"
        in err
        and "got '-1'" in err
    )
    with pytest.raises(ValueError, match="the split seed must be a non-negative integer; got -1"):
        make_split(toy_scene(), "paper", seed=-1)
    scene = toy_scene()
    with pytest.raises(
        ValueError, match="the training seed must be a non-negative integer; got -1"
    ):
        train(scene, make_split(scene, "per-class:5", 0), "knn", seed=-1)
