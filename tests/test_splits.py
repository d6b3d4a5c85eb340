import numpy as np
import pytest

from ssan.data.scene import SceneError
from ssan.data.splits import fixed_split, leakage_fraction, make_split, parse_split_spec
from tests.helpers import toy_scene


@pytest.fixture(scope="module")
def scene():
    return toy_scene(shape=(120, 100), n_classes=4)


def _assert_partition(split, scene):
    sets = [set(split.train.tolist()), set(split.val.tolist()), set(split.test.tolist())]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    for idx in (split.train, split.val, split.test):
        assert (split.targets(idx) > 0).all(), "only labelled pixels are used"


def test_paper_split_counts_and_disjointness(scene):
    split = make_split(scene, "paper", seed=0)
    counts = split.counts(scene.n_classes)
    assert (counts["train"] == 100).all() and (counts["val"] == 100).all()
    assert (counts["train"] + counts["val"] + counts["test"] == scene.class_counts()).all()
    _assert_partition(split, scene)
    assert split.protocol == "paper" and "seed 0" in split.description
    assert not split.warnings


def test_small_class_takes_at_most_a_third_and_warns(scene):
    labels = scene.labels.copy()
    small = np.flatnonzero(labels.ravel() == 2)[:90]
    labels.ravel()[np.setdiff1d(np.flatnonzero(labels.ravel() == 2), small)] = 0
    split = make_split(scene.with_labels(labels), "paper", seed=1)
    counts = split.counts(scene.n_classes)
    assert counts["train"][1] == 30 and counts["val"][1] == 30 and counts["test"][1] == 30
    assert any("class 2" in w and "90" in w for w in split.warnings)


def test_per_class_and_fraction(scene):
    split = make_split(scene, "per-class:7", seed=3)
    assert (split.counts(scene.n_classes)["train"] == 7).all()
    assert (split.counts(scene.n_classes)["val"] == 7).all()
    frac = make_split(scene, "fraction:0.1", seed=3)
    expected = np.maximum(1, np.round(0.1 * scene.class_counts()))
    assert (frac.counts(scene.n_classes)["train"] == expected).all()
    _assert_partition(frac, scene)


def test_splits_are_deterministic_and_seeded(scene):
    a, b, c = (make_split(scene, "paper", seed=s) for s in (5, 5, 6))
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    assert not np.array_equal(a.train, c.train)


@pytest.mark.parametrize(
    "bad", ["", "random", "per-class:0", "per-class:x", "fraction:0.7", "disjoint:-2"]
)
def test_bad_spec_is_refused_with_the_valid_forms(bad):
    with pytest.raises(ValueError, match="per-class:N"):
        parse_split_spec(bad)


def test_leakage_fraction_against_brute_force():
    rng = np.random.default_rng(0)
    shape = (40, 30)
    train = rng.choice(shape[0] * shape[1], 25, replace=False)
    test = np.setdiff1d(rng.choice(shape[0] * shape[1], 200, replace=False), train)
    tr_rc = np.stack(np.divmod(train, shape[1]), 1)
    expected = np.mean(
        [(np.abs(tr_rc - np.array(divmod(t, shape[1]))).max(axis=1) <= 3).any() for t in test]
    )
    assert leakage_fraction(train, test, shape, patch_size=7) == pytest.approx(expected)


def test_random_split_leaks_and_disjoint_does_not(scene):
    assert make_split(scene, "paper").leakage > 0.9
    split = make_split(scene, "disjoint:40", seed=0, patch_size=9)
    _assert_partition(split, scene)
    assert split.leakage == 0.0
    # the guard band: every test pixel lies more than patch//2 px (Chebyshev) from every train pixel
    W = scene.shape[1]
    tr = np.stack(np.divmod(split.train, W), 1)
    te = np.stack(np.divmod(split.test, W), 1)
    dist = np.abs(te[:, None, :] - tr[None, :, :]).max(axis=2).min(axis=1)
    assert dist.min() > 4
    assert split.test.size > 0 and (split.counts(scene.n_classes)["train"] > 0).all()


def test_disjoint_is_deterministic(scene):
    a, b = make_split(scene, "disjoint", seed=2), make_split(scene, "disjoint", seed=2)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)


def test_fixed_split_maps_original_ids_and_carves_validation(scene):
    H, W = scene.shape
    tr = np.zeros((H, W), np.int32)
    ts = np.zeros((H, W), np.int32)
    tr[:, :10] = scene.labels[:, :10]
    ts[:, 50:] = scene.labels[:, 50:]
    split = fixed_split(scene, tr, ts, seed=0)
    assert split.train.size + split.val.size == (tr > 0).sum()
    assert split.test.size == (ts > 0).sum()
    assert split.val.size == pytest.approx(0.2 * (tr > 0).sum(), abs=scene.n_classes)
    _assert_partition(split, scene)
    with pytest.raises(SceneError, match="both the train and the test map"):
        fixed_split(scene, tr, tr)
    bad = tr.copy()
    bad[0, 0] = 77
    with pytest.raises(SceneError, match=r"class ids \[77\]"):
        fixed_split(scene, bad, ts)
    with pytest.raises(SceneError, match="use maps made for this scene"):
        fixed_split(scene, tr[:-1], ts[:-1])


def test_split_record_is_json_ready(scene):
    import json

    record = make_split(scene, "per-class:5").to_dict()
    assert json.loads(json.dumps(record))["sizes"]["train"] == 5 * scene.n_classes


def _small_scene_with_clustered_classes():
    """A 60x40 scene: two big classes in halves, two small ones in 6x6 clusters, like a crop of a city."""
    from ssan.data.scene import Scene, rosis_wavelengths

    labels = np.ones((60, 40), np.int32)
    labels[30:] = 2
    labels[4:10, 4:10] = 3
    labels[44:50, 30:36] = 3
    labels[20:26, 28:34] = 4
    labels[50:56, 6:12] = 4
    rng = np.random.default_rng(0)
    cube = (rng.random((5, 6))[labels] + 0.01 * rng.standard_normal((60, 40, 6))).astype(np.float32)
    return Scene(
        "clusters", cube, labels, ("a", "b", "c", "d"), rosis_wavelengths(6), source="test"
    )


def test_disjoint_reserves_test_pixels_for_every_class_on_a_small_scene():
    scene = _small_scene_with_clustered_classes()
    split = make_split(scene, "disjoint:10", seed=0, patch_size=9)
    _assert_partition(split, scene)
    counts = split.counts(scene.n_classes)
    assert (counts["test"] > 0).all(), f"a class lost all its test pixels: {counts['test']}"
    assert (counts["train"] > 0).all(), f"a class got no training pixel: {counts['train']}"
    assert split.leakage == 0.0 and not any("no test pixel" in w for w in split.warnings)


def test_disjoint_says_plainly_when_a_class_cannot_have_both():
    scene = _small_scene_with_clustered_classes()
    scene.labels[44:50, 30:36] = (
        2  # class c now lives in one cluster: training on it leaves no test pixel
    )
    split = make_split(scene, "disjoint:10", seed=0, patch_size=9)
    counts = split.counts(scene.n_classes)
    assert counts["train"][2] == 0 and counts["test"][2] > 0
    assert any("class 3 (c) has no training pixel" in w for w in split.warnings), split.warnings


def test_disjoint_pool_gives_half_of_each_class_to_train_at_most():
    scene = _small_scene_with_clustered_classes()
    split = make_split(scene, "disjoint:500", seed=0, patch_size=9)
    counts = split.counts(scene.n_classes)
    assert (counts["train"] == counts["val"]).all()
    assert "blocks of" in split.description and "guard band 4 px" in split.description
