"""The app's fixed split: a train map and a test map uploaded for any scene (checked against it), and the
standard PaviaU pair offered on a scene of PaviaU's shape."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from streamlit.testing.v1 import AppTest

from ssan.data.splits import make_split
from ssan.models.checkpoints import load_checkpoint
from tests.helpers import (
    SCENE,
    TRAIN,
    app,
    finished_training,
    open_file_scene,
    shown,
    split_counts,
)


@pytest.fixture(autouse=True)
def own_folders(tmp_path, monkeypatch):
    """Uploaded maps and runs go to this test's own folders."""
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SSAN_RUNS_DIR", str(tmp_path / "runs"))


def mat(array: np.ndarray) -> bytes:
    """`array` as the bytes of a .mat file holding it alone."""
    out = io.BytesIO()
    scipy.io.savemat(out, {"map": array.astype(np.uint8)})
    return out.getvalue()


def demo_maps(demo, share: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """A disjoint train/test pair on the demo: a seeded `share` of the labelled pixels to train, the rest test."""
    take = (demo.labels > 0) & (np.random.default_rng(0).random(demo.shape) < share)
    return np.where(take, demo.labels, 0), np.where(take, 0, demo.labels)


def upload_maps(at: AppTest, train: bytes, test: bytes, names=("TR.mat", "TS.mat")) -> AppTest:
    """Choose the fixed split, upload the two maps and press the button that uses them."""
    at.selectbox(key="w_split_kind").set_value("fixed").run()
    at.file_uploader(key="upload_split_train").set_value((names[0], train, "application/x-matlab"))
    at.file_uploader(key="upload_split_test").set_value((names[1], test, "application/x-matlab"))
    at.run()
    at.button(key="load_split_maps").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_fixed_split_is_offered_and_waits_for_its_maps():
    at = app(SCENE)
    paper = split_counts(at)
    at.selectbox(key="w_split_kind").set_value("fixed").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="w_split_kind").value == "fixed", "the selector offers the fixed split"
    assert at.session_state["split_fixed"] == {} and split_counts(at) == paper, (
        "no maps yet: the paper split stays"
    )
    assert at.button(key="load_split_maps").disabled, "both maps are needed"
    with pytest.raises(KeyError):
        at.button(key="fixed_standard")  # the standard PaviaU maps do not fit the 150x150 demo


def test_uploaded_maps_split_the_demo_on_every_page(demo):
    train_map, test_map = demo_maps(demo)
    files = mat(train_map), mat(test_map)
    at = upload_maps(app(SCENE), *files)
    assert not at.error, [e.value for e in at.error]
    protocol = at.session_state["split_fixed"][("demo",)]
    assert protocol.startswith("fixed:") and protocol.endswith("TS.mat")
    split = make_split(demo, protocol, seed=0)
    assert split.protocol == protocol, "the protocol rebuilds the split"
    assert split.train.size + split.val.size == int((train_map > 0).sum())
    assert np.array_equal(split.test, np.flatnonzero(test_map.ravel() > 0))
    assert split_counts(at) == {
        "train": split.train.size,
        "validation": split.val.size,
        "test": split.test.size,
        "left out (guard band)": 0,
    }
    at.switch_page(TRAIN).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="w_split_kind").value == "fixed"
    at, job = finished_training(at, "knn")
    assert not at.exception and not at.error, [e.value for e in at.error]
    (saved,) = job.snapshot().checkpoints
    fitted = load_checkpoint(saved)
    assert fitted.split.protocol == protocol and fitted.split.n_test == split.test.size, (
        "trained on the fixed split, and the record names its maps"
    )
    assert "-fixed-TR.mat-TS.mat-seed0-" in Path(saved).name, (
        "the folder names the maps, not their folders"
    )
    assert (
        "fixed:TR.mat,TS.mat" in shown(at, "status_split") and "split-maps" not in fitted.summary()
    )
    at.switch_page(SCENE).run()
    again = upload_maps(app(SCENE), *files)
    assert again.session_state["split_fixed"][("demo",)] == protocol, (
        "the same maps uploaded again: the same protocol, so the same saved runs"
    )


@pytest.mark.parametrize(
    "change, facts",
    [
        ("shape", ("the train map is 20x36", "150x150")),
        ("overlap", ("labelled in both the train and the test map",)),
    ],
)
def test_maps_that_do_not_fit_are_refused_in_one_line(demo, change, facts):
    train_map, test_map = demo_maps(demo)
    if change == "shape":
        train_map = train_map[:20, :36]
    else:
        test_map = demo.labels
    at = upload_maps(app(SCENE), mat(train_map), mat(test_map))
    (error,) = at.error
    assert all(fact in error.value for fact in facts) and "\n" not in error.value, error.value
    assert "split-maps" not in error.value, "the files are named as uploaded"
    assert at.session_state["split_fixed"] == {} and split_counts(at)["train"] == 1200, (
        "the split stays as it was"
    )


def test_the_standard_paviau_maps_split_a_scene_of_paviau_shape(shared_real, tmp_path):
    gt = scipy.io.loadmat(shared_real / "PaviaU_gt.mat")["paviaU_gt"]
    cube = tmp_path / "paviau-like.mat"
    rng = np.random.default_rng(0)
    scipy.io.savemat(cube, {"cube": rng.random((*gt.shape, 4)).astype(np.float32), "gt": gt})
    at = app(SCENE)
    at = open_file_scene(at, cube)
    at.selectbox(key="w_split_kind").set_value("fixed").run()
    at.button(key="fixed_standard").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (protocol,) = at.session_state["split_fixed"].values()
    assert protocol == (
        f"fixed:{shared_real / 'TRpavia_fixed.mat'},{shared_real / 'TSpavia_fixed.mat'}"
    )
    counts = split_counts(at)
    assert counts["train"] + counts["validation"] == 3921 and counts["test"] == 40002, (
        "the standard maps' published sizes"
    )
    assert len(at.warning) >= 1, "1,147 training-map pixels lie on ground-truth background"
