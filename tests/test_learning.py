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
    assert ssan_metrics.oa > arnn_metrics.oa + 0.05
    assert ssan_metrics.oa > acnn_metrics.oa
    # the texture pair: the spectral branch alone is at chance there, SSAN is not
    fine, coarse = ssan_metrics.per_class[10:12]
    assert min(fine, coarse) > 0.8
    assert min(arnn_metrics.per_class[10:12]) < 0.75


def test_ssan_spectral_attention_finds_a_planted_band_range(demo, demo_runs):
    """Measured for quick SSAN, seed 0, one thread: class-mean α 11.9x higher in the meadows' planted
    bands than elsewhere, 0.74x for the roofs (the shipped model, built with pinned kernels: 7.9x and
    11.6x). Quick ARNN classifies both pairs right, yet its α sits elsewhere (0.13x and 0.003x):
    attention is not where the evidence is, which the explain page tests; so ARNN is not asserted."""
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


def test_quick_ssan_beats_svm_and_keeps_up_with_its_better_branch_on_the_real_paviau_crop(crop_runs):
    # docs/branch-study.md, 5 seeds: SVM 94.06, ARNN 90.05, ACNN 99.10, SSAN 99.12 (OA %)
    assert crop_runs["ssan"] > crop_runs["svm"] + 0.03, crop_runs
    assert crop_runs["ssan"] >= max(crop_runs["arnn"], crop_runs["acnn"]) - 0.01, crop_runs


def test_quick_arnn_on_the_real_paviau_crop_is_within_reach_of_the_svm(crop_runs):
    # measured with the per-band embedding: 4.0 points below the SVM on 5 seeds, 5.3 on seed 0
    # (89.9 vs 95.1); with the authors' bare scalar input up to 14 points below on one seed
    assert crop_runs["arnn"] > crop_runs["svm"] - 0.075, crop_runs
