"""Learning, not just running: the quick preset on the demo scene and on the real PaviaU crop.

These train real models for a minute or two each (marked `slow`; CI runs them).
"""

import pytest

from ssan.attention import class_mean_attention, planted_band_ratio
from ssan.demo import BLUE_GREEN_BANDS, GREY_PAINT, TEAL_PAINT, make_demo_scene
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


def test_spectral_attention_finds_the_planted_blue_green_bands(demo, demo_runs):
    scene, split = demo
    band_mask = scene.planted.bands_for_class(GREY_PAINT, scene.n_bands)
    assert band_mask[BLUE_GREEN_BANDS[0]:BLUE_GREEN_BANDS[1]].all()
    pair = [GREY_PAINT - 1, TEAL_PAINT - 1]
    # SSAN's α is not asserted here: its fused training leaves α free to sit elsewhere in one run
    # and on the planted bands in the next (0.74x in one CI run, 11.6x for the shipped model, which
    # tests/test_demo_checkpoint.py checks); ARNN's α, trained alone, found them in every run.
    for model, margin in (("arnn", 3.0),):
        fitted, _ = demo_runs[model]
        att = class_mean_attention(fitted, fitted.sampler(scene), split.test, split.targets(split.test))
        ratio = planted_band_ratio(att[pair], band_mask)
        assert ratio > margin, f"{model}: attention in the planted bands is only {ratio:.2f}x the rest"


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
