"""Learning, not just running: the quick preset on the demo scene and on the real PaviaU crop.

These train real models for a minute or two each (marked `slow`; CI runs them).
"""

import pytest

from ssan.data.readers.matfile import load_mat_scene
from ssan.data.splits import make_split
from ssan.evaluation.metrics import evaluate
from ssan.training.trainer import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_runs(demo, paper_split, shipped):
    """Quick SSAN as shipped (tests/test_demo_checkpoint.py rebuilds it from this recipe and checks its α)
    beside its two branches trained alone on the same split with the same seed."""
    runs = {"ssan": shipped}
    runs |= {
        m: train(demo, paper_split, m, "quick", seed=0, device="cpu") for m in ("arnn", "acnn")
    }
    return {m: evaluate(f, demo, paper_split) for m, f in runs.items()}


def test_quick_ssan_beats_both_branches_on_the_demo_and_each_branch_fails_the_pair_it_cannot_see(
    demo, demo_runs
):
    scene = demo
    ssan, arnn, acnn = demo_runs["ssan"], demo_runs["arnn"], demo_runs["acnn"]
    # docs/branch-study.md, 5 seeds: SSAN several points ahead of CNN, ACNN and ARNN (OA %)
    assert ssan.oa > 0.95 and ssan.aa > 0.95
    assert ssan.oa > max(arnn.oa, acnn.oa) + 0.03, (ssan.oa, arnn.oa, acnn.oa)
    roofs = [c - 1 for c in scene.planted.spectral_pairs[1][:2]]
    plazas = [c - 1 for c in scene.planted.texture_pairs[0]]
    assert scene.class_names[roofs[0]] == "Roof, grey paint"

    def worst(metrics, classes):
        return min(metrics.per_class[i] for i in classes)

    # the spatial branch cannot see the roofs' tiles (scattered, hidden from its PCA), the spectral branch the plazas
    assert worst(acnn, roofs) < 0.8 and worst(arnn, plazas) < 0.8, (acnn.per_class, arnn.per_class)
    assert worst(ssan, roofs) > 0.9 and worst(ssan, plazas) > 0.9, ssan.per_class


@pytest.fixture(scope="module")
def crop_runs(shared_real):
    scene = load_mat_scene(shared_real / "UPavia_Subset.mat", name="paviau-crop")
    split = make_split(scene, "per-class:30", seed=0)
    return {
        m: evaluate(train(scene, split, m, "quick", seed=0, device="cpu"), scene, split).oa
        for m in ("svm", "arnn", "acnn", "ssan")
    }


def test_quick_ssan_beats_svm_and_both_its_branches_on_the_real_paviau_crop(crop_runs):
    # docs/branch-study.md, 5 seeds: SVM 94.06, ARNN 90.76, ACNN 99.05, SSAN 99.62 (OA %)
    assert crop_runs["ssan"] > crop_runs["svm"] + 0.03, crop_runs
    assert crop_runs["ssan"] > max(crop_runs["arnn"], crop_runs["acnn"]), crop_runs


def test_quick_arnn_on_the_real_paviau_crop_is_within_reach_of_the_svm(crop_runs):
    # measured with the per-band embedding and 800 cosine-decayed iterations: 3.3 points below the SVM on
    # 5 seeds (seeds from 88.9 to 92.2 against 95.1 on seed 0); with the authors' bare scalar input up to 14
    # points below on one seed
    assert crop_runs["arnn"] > crop_runs["svm"] - 0.075, crop_runs
