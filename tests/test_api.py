"""The public API (`import ssan`): pixels as (row, col) pairs or a mask give the library's own answers,
bad pixels are refused in one line, a model saves and loads, and every public name is documented."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import ssan
from ssan.data.splits import protocol_label
from ssan.evaluation.metrics import predict_map
from ssan.inference.attention import pixel_attention

ASSET = Path(__file__).resolve().parent.parent / "assets" / "demo-ssan"


@pytest.fixture(scope="session")
def model():
    return ssan.load_model(ASSET)


@pytest.fixture(scope="session")
def scene(demo):
    """The demo scene `ssan.load_scene("demo")` gives, built once per session (conftest)."""
    return demo


@pytest.fixture(scope="session")
def small(small_demo):
    """The demo town at its smallest (60 x 60): same bands and classes, so the shipped model fits it."""
    return small_demo


@pytest.fixture(scope="session")
def pairs(scene):
    """Twelve labelled pixels, as (row, col), in no particular order."""
    rows, cols = np.nonzero(scene.labels)
    pick = np.random.default_rng(0).choice(rows.size, 12, replace=False)
    return np.column_stack([rows[pick], cols[pick]])


def flat(scene, pairs) -> np.ndarray:
    return pairs[:, 0] * scene.shape[1] + pairs[:, 1]


def test_import_is_cheap_and_exposes_the_api():
    code = "import sys, ssan; print('torch' in sys.modules, sorted(ssan.__all__))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("False"), (
        "import ssan must not import torch (the CLI's --help stays quick)"
    )
    for name in (
        "load_scene",
        "make_split",
        "train",
        "evaluate",
        "load_model",
        "compare",
        "explain_model",
        "list_scenes",
        "Scene",
        "Split",
        "FittedModel",
        "Model",
        "Metrics",
        "Preset",
        "get_preset",
    ):
        assert name in ssan.__all__ and name in dir(ssan)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ssan.nope  # noqa: B018


def test_every_public_name_and_method_has_a_docstring():
    undocumented = [
        name
        for name in ssan.__all__
        if name != "__version__" and not inspect.getdoc(getattr(ssan, name))
    ]
    for cls in (
        ssan.FittedModel,
        ssan.Scene,
        ssan.Split,
        ssan.SplitRecord,
        ssan.Metrics,
        ssan.Preset,
        ssan.PixelAttention,
    ):
        undocumented += [
            f"{cls.__name__}.{name}"
            for name, member in vars(cls).items()
            if not name.startswith("_")
            and (inspect.isfunction(member) or isinstance(member, (property, classmethod)))
            and not inspect.getdoc(
                getattr(cls, name) if not isinstance(member, property) else member
            )
        ]
    assert undocumented == []


def test_pairs_give_the_flat_paths_answers(model, scene, pairs):
    sampler, idx = model.sampler(scene), flat(scene, pairs)
    assert np.array_equal(model.predict(scene, pairs), model.predict_at(sampler, idx))
    assert np.array_equal(model.predict(scene, pairs.tolist()), model.predict_at(sampler, idx))
    proba = model.predict_proba(scene, [tuple(p) for p in pairs])
    assert proba.shape == (12, model.n_classes)
    assert np.allclose(proba, model.scores_at(sampler, idx), atol=1e-6)


def test_a_mask_gives_a_label_map_and_row_major_probabilities(model, scene, pairs):
    mask = np.zeros(scene.shape, bool)
    mask[pairs[:, 0], pairs[:, 1]] = True
    labels = model.predict(scene, mask)
    assert labels.shape == scene.shape and (labels[~mask] == 0).all()
    assert np.array_equal(labels[mask], model.predict(scene, np.argwhere(mask)))
    proba = model.predict_proba(scene, mask)
    assert np.allclose(proba, model.predict_proba(scene, np.argwhere(mask)), atol=1e-6)


@pytest.fixture(scope="session")
def small_map(model, small):
    return model.predict(small)


def test_no_pixels_means_the_whole_map(model, small, small_map):
    assert np.array_equal(small_map, predict_map(model, small))


def test_the_sampler_is_built_once_per_scene(model, scene, small):
    assert model.sampler(scene) is model.sampler(scene)
    assert model.sampler(small) is not model.sampler(scene)


def test_attention_of_pairs(model, scene, pairs):
    att = model.attention(scene, pairs)
    expected = pixel_attention(model, model.sampler(scene), flat(scene, pairs))
    assert np.array_equal(att.pixels, pairs)
    assert att.spectral.shape == (12, scene.n_bands) and np.allclose(
        att.spectral.sum(1), 1, atol=1e-5
    )
    assert att.spatial.shape == (12, model.preset.patch_size, model.preset.patch_size)
    assert np.allclose(att.spectral, expected.spectral) and np.allclose(
        att.spatial, expected.spatial
    )
    assert np.array_equal(att.predicted, model.predict(scene, pairs))


@pytest.mark.parametrize(
    "pixels, message",
    [
        ([(150, 3)], r"row 150 is outside the 150x150 scene; rows run from 0 to 149"),
        ([(3, -1)], r"column -1 is outside the 150x150 scene"),
        ([], r"no pixels given"),
        ((75, 40), r"\(row, col\) pairs of shape \(n, 2\).*for one pixel pass \[\(row, col\)\]"),
        ([(1.5, 2)], r"must be integers"),
        (
            np.zeros((10, 10), bool),
            r"mask must have the scene's shape \(150, 150\); got \(10, 10\)",
        ),
        (np.zeros((150, 150), bool), r"selects no pixel"),
    ],
)
def test_bad_pixels_are_refused_in_one_line(model, scene, pixels, message):
    for call in (model.predict, model.predict_proba, model.attention):
        with pytest.raises(ValueError, match=message) as err:
            call(scene, pixels)
        assert "\n" not in str(err.value)


def test_a_model_without_attention_says_so(small):
    split = ssan.make_split(small, "per-class:10", seed=0)
    knn = ssan.train(small, split, "knn", seed=0)
    assert knn.predict(small, [(5, 5)]).shape == (1,)
    with pytest.raises(ValueError, match="KNN has no attention"):
        knn.attention(small, [(5, 5)])


def test_save_and_load_round_trip(model, small, small_map, tmp_path):
    path = model.save(tmp_path / "copy")
    again = ssan.load_model(path)
    assert isinstance(path, Path) and (path / "model.json").is_file()
    assert np.array_equal(again.predict(small), small_map)
    assert again.split.to_dict() == model.split.to_dict()


def test_a_model_pickles_without_its_samplers(model, small, small_map):
    model.sampler(small)
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.predict(small), small_map)


def test_evaluate_scores_the_test_pixels_and_prints_readably(model, small, small_map):
    split = ssan.make_split(small, "per-class:10", seed=0)
    metrics = ssan.evaluate(model, small, split)
    right = small_map.ravel()[split.test] == split.targets(split.test)
    assert metrics.n_pixels == split.test.size and metrics.oa == pytest.approx(right.mean())
    text = str(metrics)
    assert text.startswith(f"OA {100 * metrics.oa:.2f}%") and "kappa" in text and "\n" not in text


def test_the_split_record_reads_old_sidecars_and_matches_its_split(model, scene):
    split = ssan.make_split(scene, model.split.protocol, seed=model.split.seed)
    assert model.split.matches(split) and model.split.n_test == split.test.size
    assert model.split.to_dict() == split.to_dict()
    old = {"protocol": "paper", "seed": 3, "train": [1, 2], "val": [4]}  # only the required fields
    record = ssan.SplitRecord.from_dict(old)
    assert record.train.tolist() == [1, 2] and record.n_test is None and not record.matches(split)
    assert ssan.SplitRecord.from_dict(record.to_dict()).to_dict() == record.to_dict()


def test_make_split_reads_a_fixed_split_from_two_files(small, tmp_path):
    rng = np.random.default_rng(0)
    take = (small.labels > 0) & (rng.random(small.shape) < 0.3)
    scipy.io.savemat(tmp_path / "Tr.mat", {"tr": np.where(take, small.labels, 0).astype(np.uint8)})
    scipy.io.savemat(tmp_path / "Ts.mat", {"ts": np.where(take, 0, small.labels).astype(np.uint8)})
    spec = f"fixed:{tmp_path / 'Tr.mat'},{tmp_path / 'Ts.mat'}"
    split = ssan.make_split(small, spec, seed=0)
    assert split.protocol == spec and split.train.size + split.val.size == int(take.sum())
    again = ssan.make_split(small, split.protocol, seed=0)
    assert np.array_equal(again.train, split.train) and np.array_equal(again.test, split.test), (
        "the protocol rebuilds the split"
    )
    assert protocol_label(split.protocol) == "fixed:Tr.mat,Ts.mat", "named by its maps for a person"
    assert "Tr.mat + Ts.mat" in split.description, "paths keep their case"
    with pytest.raises(ValueError, match="two label-map files"):
        ssan.make_split(small, "fixed", seed=0)


def test_settings_are_overridden_one_way(small):
    assert not hasattr(ssan.Preset, "with_overrides")
    with pytest.raises(TypeError):
        ssan.get_preset("quick", iterations=5)
    split = ssan.make_split(small, "per-class:10", seed=0)
    with pytest.raises(ValueError, match="Unknown preset setting"):
        ssan.train(small, split, "ssan", overrides={"iteration": 5})
    tiny = {"iterations": 2, "eval_every": 1, "rnn_hidden": 4, "fc_hidden": 8, "fusion_hidden": 8}
    fitted = ssan.train(small, split, "rnn", seed=0, overrides=tiny)
    assert fitted.preset == dataclasses.replace(ssan.get_preset("quick"), **tiny)
