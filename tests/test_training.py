"""The trainer, metrics, whole-scene prediction, attention read-outs and checkpoints, on tiny settings."""

import threading

import numpy as np
import pytest
import torch
from sklearn.metrics import cohen_kappa_score

import ssan.training.estimate as estimate_module
import ssan.training.trainer as train_module
from ssan.data.splits import make_split
from ssan.evaluation.metrics import Metrics, compute_metrics, evaluate, predict_map
from ssan.inference.attention import (
    class_mean_attention,
    peak_share,
    pixel_attention,
    planted_band_ratio,
)
from ssan.models.checkpoints import (
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from ssan.models.fitted import IncompatibleSceneError
from ssan.training.estimate import estimate_training_time
from ssan.training.trainer import pick_device, train
from tests.helpers import TINY, toy_scene

SETTINGS = {**TINY, "iterations": 30, "eval_every": 10}


@pytest.fixture(scope="module")
def scene():
    return toy_scene(shape=(40, 36), n_bands=10, n_classes=3)


@pytest.fixture(scope="module")
def split(scene):
    return make_split(scene, "per-class:20", seed=0, patch_size=9)


@pytest.fixture(scope="module")
def fitted(scene, split):
    return train(scene, split, "ssan", "quick", seed=0, device="cpu", overrides=SETTINGS)


@pytest.mark.parametrize("model", ["rnn", "cnn", "arnn", "acnn"])
def test_every_network_trains(scene, split, model):
    f = train(scene, split, model, "quick", seed=0, device="cpu", overrides=SETTINGS)
    assert len(f.history) == 30 and f.best_iteration in (10, 20, 30)
    assert 0.0 <= f.best_val_accuracy <= 1.0
    assert f.predict_at(f.sampler(scene), split.test[:5]).shape == (5,)


def test_progress_reports_every_step_with_validation_on_schedule(scene, split):
    seen = []
    train(scene, split, "arnn", "quick", device="cpu", overrides=SETTINGS, progress=seen.append)
    assert [p.iteration for p in seen] == list(range(1, 31))
    assert [p.iteration for p in seen if p.val_accuracy is not None] == [10, 20, 30]
    assert all(p.remaining >= 0 and p.iterations == 30 for p in seen)
    assert seen[-1].remaining == 0 and seen[-1].fraction == 1.0


def test_training_never_touches_test_pixels(scene, split, monkeypatch):
    touched = []
    real = train_module.network_inputs
    here = threading.current_thread()  # background work left by app tests may call it too

    def spy(net, sampler, pixels, device):
        if threading.current_thread() is here:
            touched.append(np.asarray(pixels).copy())
        return real(net, sampler, pixels, device)

    monkeypatch.setattr(train_module, "network_inputs", spy)
    train(scene, split, "ssan", "quick", device="cpu", overrides=SETTINGS)
    used = np.unique(np.concatenate(touched))
    assert np.intersect1d(used, split.test).size == 0
    assert set(used) == set(split.train) | set(split.val)


def test_same_seed_same_run(scene, split):
    a = train(scene, split, "ssan", "quick", seed=3, device="cpu", overrides=SETTINGS)
    b = train(scene, split, "ssan", "quick", seed=3, device="cpu", overrides=SETTINGS)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]


def test_cancel_keeps_the_best_model_so_far(scene, split):
    stop = threading.Event()
    states = {}

    def on_progress(p):
        if p.iteration == 10:
            states["at_10"] = None  # validation happened at 10: that is the best (only) checkpoint
        if p.iteration == 15:
            stop.set()

    constant = {**SETTINGS, "lr_schedule": "constant"}  # a cosine rate depends on the run's length
    f = train(
        scene,
        split,
        "ssan",
        "quick",
        device="cpu",
        overrides=constant,
        progress=on_progress,
        stop=stop,
    )
    assert f.cancelled and len(f.history) == 15 and f.best_iteration == 10
    again = train(
        scene, split, "ssan", "quick", device="cpu", overrides={**constant, "iterations": 10}
    )
    sampler = f.sampler(scene)
    assert np.allclose(
        f.scores_at(sampler, split.test), again.scores_at(sampler, split.test), atol=1e-6
    )


def test_cancel_before_first_validation_still_returns_a_model(scene, split):
    stop = threading.Event()
    stop.set()
    f = train(scene, split, "ssan", "quick", device="cpu", overrides=SETTINGS, stop=stop)
    assert f.cancelled and f.history == [] and f.best_val_accuracy is not None


def test_early_stop(scene, split):
    f = train(
        scene,
        split,
        "arnn",
        "quick",
        device="cpu",
        overrides={**SETTINGS, "lr": 1e-12, "early_stop_patience": 1},
    )
    assert len(f.history) == 20


def test_metrics_arithmetic():
    y_true = np.array([1, 1, 1, 1, 2, 2, 3, 3])
    y_pred = np.array([1, 1, 1, 2, 2, 2, 3, 1])
    m = compute_metrics(y_true, y_pred, n_classes=4)
    assert m.oa == pytest.approx(6 / 8)
    assert np.allclose(m.per_class[:3], [0.75, 1.0, 0.5]) and np.isnan(m.per_class[3])
    assert m.aa == pytest.approx(np.mean([0.75, 1.0, 0.5]))
    assert m.kappa == pytest.approx(cohen_kappa_score(y_true, y_pred))
    assert m.confusion.sum() == 8 and m.confusion[0, 1] == 1
    again = Metrics.from_dict(m.to_dict())
    assert again.oa == m.oa and np.array_equal(again.confusion, m.confusion)


def test_evaluate_and_whole_scene_map(scene, split, fitted):
    m = evaluate(fitted, scene, split)
    assert m.n_pixels == split.test.size and 0 <= m.oa <= 1
    full = predict_map(fitted, scene, batch_size=500)
    assert full.shape == scene.shape and full.min() >= 1 and full.max() <= scene.n_classes
    labelled = predict_map(fitted, scene, labelled_only=True)
    assert (labelled[scene.labels == 0] == 0).all()
    assert np.array_equal(labelled[scene.labels > 0], full[scene.labels > 0])


def test_attention_read_outs(scene, split, fitted):
    sampler = fitted.sampler(scene)
    pixels = np.array([0, 5, 100, scene.shape[0] * scene.shape[1] - 1])
    att = pixel_attention(fitted, sampler, pixels)
    assert att.spectral.shape == (4, scene.n_bands) and np.allclose(
        att.spectral.sum(axis=1), 1, atol=1e-5
    )
    assert att.spatial.shape == (4, 9, 9) and (att.spatial > 0).all() and (att.spatial < 1).all()
    assert np.allclose(att.probabilities.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(att.predicted, fitted.predict_at(sampler, pixels))
    per_class = class_mean_attention(fitted, sampler, split.test, split.targets(split.test))
    assert per_class.shape == (scene.n_classes, scene.n_bands)
    spatial = class_mean_attention(
        fitted, sampler, split.test, split.targets(split.test), kind="spatial"
    )
    assert spatial.shape == (scene.n_classes, 9, 9)
    mask = np.zeros(scene.n_bands, bool)
    mask[:3] = True
    uniform = np.full((2, scene.n_bands), 1 / scene.n_bands)
    assert planted_band_ratio(uniform, mask) == pytest.approx(1.0)
    peaks = np.zeros((4, scene.n_bands))
    peaks[[0, 1, 2, 3], [0, 2, 3, scene.n_bands - 1]] = (
        1.0  # two rows peak inside bands 0-2, two outside
    )
    assert peak_share(peaks, mask) == 0.5


def test_models_without_attention_say_so(scene, split):
    rnn = train(scene, split, "rnn", "quick", device="cpu", overrides=SETTINGS)
    att = pixel_attention(rnn, rnn.sampler(scene), np.array([0, 1]))
    assert att.spectral is None and att.spatial is None
    with pytest.raises(ValueError, match="no spectral attention"):
        class_mean_attention(rnn, rnn.sampler(scene), split.test, split.targets(split.test))


@pytest.mark.parametrize("model", ["ssan", "knn", "svm"])
def test_checkpoint_round_trip_gives_identical_predictions(scene, split, tmp_path, model):
    f = train(scene, split, model, "quick", device="cpu", overrides=SETTINGS)
    f.metrics = evaluate(f, scene, split).to_dict()
    save_checkpoint(f, tmp_path / "ck")
    g = load_checkpoint(tmp_path / "ck")
    sampler = f.sampler(scene)
    assert np.array_equal(
        f.scores_at(sampler, split.test), g.scores_at(g.sampler(scene), split.test)
    )
    assert g.metrics == f.metrics and g.preset == f.preset and g.split.protocol == split.protocol
    assert list_checkpoints(tmp_path) == [tmp_path / "ck"]


def test_checkpoint_refuses_a_scene_it_does_not_fit(scene, fitted, tmp_path):
    save_checkpoint(fitted, tmp_path / "ck")
    g = load_checkpoint(tmp_path / "ck" / "model.json")
    with pytest.raises(IncompatibleSceneError, match="12 bands, the model expects 10"):
        g.sampler(toy_scene(shape=(40, 36), n_bands=12, n_classes=3))
    with pytest.raises(IncompatibleSceneError, match="4 classes"):
        g.sampler(toy_scene(shape=(40, 36), n_bands=10, n_classes=4))


def test_checkpoint_refuses_tampered_truncated_or_missing_files(fitted, tmp_path):
    ck = save_checkpoint(fitted, tmp_path / "ck")
    weights = ck / "model.safetensors"
    good = weights.read_bytes()
    tampered = bytearray(good)
    tampered[-20] ^= 0xFF
    weights.write_bytes(bytes(tampered))
    with pytest.raises(CheckpointError, match="truncated or modified"):
        load_checkpoint(ck)
    weights.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="truncated or modified"):
        load_checkpoint(ck)
    weights.write_bytes(good)
    (ck / "model.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(ck)
    with pytest.raises(CheckpointError, match="is missing"):
        load_checkpoint(tmp_path / "nowhere")


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device(None).type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="choose one of"):
        pick_device("tpu")


def test_time_estimate_is_positive_and_scales_with_iterations(scene, split):
    short = estimate_training_time(
        scene, split, "ssan", "quick", device="cpu", overrides=SETTINGS, steps=2
    )
    assert short.high > 0 and short.iterations == 30 and "cpu" in short.device
    assert "iterations" in short.describe()


def test_time_estimate_times_a_warm_full_validation_batch(scene, split, monkeypatch):
    """Validation is timed as training runs it: one batch of the device's inference size, after a warm-up
    call (a single cold small batch made the estimate several times too high on a GPU)."""
    seen = []
    real = estimate_module.validation_accuracy
    monkeypatch.setattr(
        estimate_module,
        "validation_accuracy",
        lambda net, sampler, pixels, *a: (
            seen.append(pixels.copy()) or real(net, sampler, pixels, *a)
        ),
    )
    estimate_training_time(scene, split, "ssan", "quick", device="cpu", overrides=SETTINGS, steps=1)
    batch = min(train_module.inference_batch_size(torch.device("cpu")), split.val.size)
    assert len(seen) == 2 and all(np.array_equal(s, split.val[:batch]) for s in seen)


def test_summary_names_split_seed_and_training_seed(scene, split):
    f = train(scene, split, "knn", "quick", seed=7)
    f.metrics = evaluate(f, scene, split).to_dict()
    text = f.summary()
    assert "KNN on toy, per-class:20 split (seed 0), training seed 7" in text and "OA" in text
