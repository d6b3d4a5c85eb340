"""Learning, not just running: the quick preset on the demo scene and on the real PaviaU crop.

These train real models for a minute or two each (marked `slow`; CI runs them).
"""

import pytest

from ssan.attention import class_mean_attention, planted_band_ratio
from ssan.demo import BLUE_GREEN_BANDS, GREY_PAINT, make_demo_scene
from ssan.evaluate import evaluate
from ssan.matfile import load_mat_scene
from ssan.splits import make_split
from ssan.train import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo():
    scene = make_demo_scene(0)
    return scene, make_split(scene, "paper", seed=0)


@pytest.fixture(scope="module")
def demo_runs(demo):
    scene, split = demo
    runs = {m: train(scene, split, m, "quick", seed=0, device="cpu") for m in ("ssan", "arnn", "acnn")}
    return {m: (f, evaluate(f, scene, split)) for m, f in runs.items()}


def test_quick_ssan_learns_the_demo_scene_and_beats_both_branches_alone(demo_runs):
    ssan, ssan_metrics = demo_runs["ssan"]
    _, arnn_metrics = demo_runs["arnn"]
    _, acnn_metrics = demo_runs["acnn"]
    assert ssan_metrics.oa > 0.93 and ssan_metrics.aa > 0.93
    # docs/branch-study.md, 5 seeds: SSAN 99.45, ACNN 96.59, CNN 96.81, ARNN 79.97 (OA %)
    assert ssan_metrics.oa > arnn_metrics.oa + 0.05
    assert ssan_metrics.oa > acnn_metrics.oa + 0.01
    # the texture pair: the spectral branch alone is at chance there, SSAN is not
    fine, coarse = ssan_metrics.per_class[10:12]
    assert min(fine, coarse) > 0.8
    assert min(arnn_metrics.per_class[10:12]) < 0.75


def test_ssan_spectral_attention_finds_a_planted_band_range(demo, demo_runs):
    """The shipped model (quick SSAN, seed 0, pinned kernels) has class-mean α 9.5x higher in the meadows'
    planted bands than elsewhere and 53x in the roofs'; a model trained again (one thread, kernels not
    pinned) differs, so one pair is asserted. Quick ARNN classifies both pairs right, yet its α sits
    elsewhere (0.13x and 0.003x): attention is not where the evidence is, which the explain page tests;
    so ARNN is not asserted."""
    scene, split = demo
    assert scene.planted.bands_for_class(GREY_PAINT, scene.n_bands)[BLUE_GREEN_BANDS[0]:BLUE_GREEN_BANDS[1]].all()
    fitted, _ = demo_runs["ssan"]
    att = class_mean_attention(fitted, fitted.sampler(scene), split.test, split.targets(split.test))
    ratios = [planted_band_ratio(att[[a - 1, b - 1]], scene.planted.bands_for_class(a, scene.n_bands))
              for a, b, _, _ in scene.planted.spectral_pairs]
    assert max(ratios) > 3.0, f"SSAN attention in the planted bands / elsewhere, per pair: {ratios}"


@pytest.fixture(scope="module")
def crop_runs(shared_real):
    scene = load_mat_scene(shared_real / "UPavia_Subset.mat", name="paviau-crop")
    split = make_split(scene, "per-class:30", seed=0)
    return {m: evaluate(train(scene, split, m, "quick", seed=0, device="cpu"), scene, split).oa
            for m in ("svm", "arnn", "acnn", "ssan")}


def test_quick_ssan_beats_svm_and_both_its_branches_on_the_real_paviau_crop(crop_runs):
    # docs/branch-study.md, 5 seeds: SVM 94.06, ARNN 90.05, ACNN 99.10, SSAN 99.88 (OA %)
    assert crop_runs["ssan"] > crop_runs["svm"] + 0.03, crop_runs
    assert crop_runs["ssan"] > max(crop_runs["arnn"], crop_runs["acnn"]), crop_runs


def test_quick_arnn_on_the_real_paviau_crop_is_within_reach_of_the_svm(crop_runs):
    # measured with the per-band embedding: 4.0 points below the SVM on 5 seeds, 5.3 on seed 0
    # (89.9 vs 95.1); with the authors' bare scalar input up to 14 points below on one seed
    assert crop_runs["arnn"] > crop_runs["svm"] - 0.075, crop_runs
