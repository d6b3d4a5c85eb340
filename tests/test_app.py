"""The Streamlit app through AppTest: every page on the demo scene, switching scene, split and model,
simulated clicks, training from the Train page, loading checkpoints, and clear messages for bad input."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from streamlit.testing.v1 import AppTest

from ssan.data.catalog import load_scene
from ssan.data.scene import SceneError
from ssan.data.uploads import store_checkpoint_upload, store_scene_upload
from ssan.inference.attention import pixel_attention
from ssan.models.checkpoints import CheckpointError
from ssan.models.fitted import CANCELLED_MARK
from tests.helpers import (
    ASSET,
    COMPARE,
    ENTRY,
    SCENE,
    SPATIAL,
    SPECTRAL,
    TIMEOUT,
    TRAIN,
    app,
    chart,
    click,
    finished_training,
    has,
    loaded_scene,
    long_training,
    marked,
    open_file_scene,
    saved_copy,
    shown,
    split_counts,
    tiny_mat,
)
from ui.viewer import class_name

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    """Each test saves its models in its own runs folder (and cached maps in its own data folder)."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("SSAN_RUNS_DIR", str(runs))
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    return runs


def values(data) -> np.ndarray:
    """A figure array as numpy: Plotly sends numpy data as {"dtype", "bdata" (base64)}."""
    if isinstance(data, dict):
        shape = [int(n) for n in str(data.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).reshape(shape)
    return np.asarray(data, dtype=float)


@pytest.mark.parametrize(
    "page, expected",
    [
        (SCENE, "scene_image"),
        (TRAIN, "start_training"),
        (SPECTRAL, "spectral_image"),
        (SPATIAL, "spatial_image"),
        (COMPARE, "compare_models"),
    ],
)
def test_every_page_renders_on_the_demo_scene(page, expected):
    at = app(page)
    assert has(at, expected), "the page's own figure or control"
    assert not at.error, [e.value for e in at.error]
    assert shown(at, "status_split") == "**Split** · paper, seed 0"
    if page in (SCENE, SPECTRAL, SPATIAL):
        assert "SSAN" in shown(at, "intro"), "the page explains the method it shows"
    if page in (SPECTRAL, SPATIAL):
        assert "shipped demo checkpoint" in shown(at, "model_line")


def test_scene_page_shows_image_legend_split_and_spectrum(demo):
    at = app()
    facts = shown(at, "scene_facts")
    assert all(f in facts for f in ("150×150", "103 bands", "12 classes")), facts
    assert split_counts(at) == {
        "train": 1200,
        "validation": 1200,
        "test": int((demo.labels > 0).sum()) - 2400,
        "left out (guard band)": 0,
    }, "the paper protocol: 100 + 100 per class"
    image = chart(at, "scene_image")
    assert [t["type"] for t in image["data"][:2]] == ["image", "scattergl"]
    spectrum = chart(at, "scene_spectrum")
    assert spectrum["layout"]["xaxis"]["title"]["text"] == "Wavelength (nm)"
    counts = chart(at, "split_counts")
    assert {t["name"] for t in counts["data"]} == {"train", "val", "test"}


def test_click_on_the_scene_sets_the_pixel_and_pins_compare_spectra(demo):
    at = click(app(), "scene_image", 40, 30)
    assert at.session_state["pixel"] == (40, 30) and marked(at, "scene_image") == (40, 30)
    spectrum = chart(at, "scene_spectrum")
    assert np.allclose(values(spectrum["data"][0]["y"]), demo.cube[40, 30], atol=1e-5)
    at.button(key="pin").click().run()
    at = click(at, "scene_image", 100, 20)
    assert at.session_state["pinned"] == [(40, 30)]
    names = [t["name"] for t in chart(at, "scene_spectrum")["data"]]
    assert names[:2] == [
        f"(100, 20) {class_name(demo, int(demo.labels[100, 20]))}",
        f"#1 (40, 30) {class_name(demo, int(demo.labels[40, 30]))}",
    ]
    at.button(key="unpin").click().run()
    assert at.session_state["pinned"] == []


def test_scene_page_composites_split_map_and_demo_objects(demo):
    at = app()
    at.button(key="composite_Colour infrared").click().run()
    assert at.session_state["rgb_nm"] == (800.0, 650.0, 550.0)
    assert at.slider(key="w_nm_Red").value == 800.0
    at.button(key="composite_True colour").click().run()
    assert at.session_state["rgb_nm"] == (640.0, 550.0, 470.0)
    split_map = chart(at, "split_map")
    legend_names = [t["name"] for t in split_map["data"][1:]]
    assert [n.split(" (")[0] for n in legend_names] == ["train", "validation", "test", "left out"]
    assert legend_names[0] == "train (1,200)", "100 per class on 12 classes"
    assert has(at, "demo_objects"), "the demo's unlabelled objects are explained"
    at.selectbox(key="w_split_kind").set_value("disjoint").run()
    assert chart(at, "split_map")["data"][4]["name"].startswith("left out (guard band) (")


def test_click_updates_spectrum_attention_and_survives_page_switches(demo, shipped):
    at = app(SPECTRAL)
    at = click(at, "spectral_image", 12, 34)
    assert at.session_state["pixel"] == (12, 34)
    figure = chart(at, "spectral_spectrum")
    bars = next(t for t in figure["data"] if t["type"] == "bar")
    expected = pixel_attention(shipped, shipped.sampler(demo), np.array([12 * 150 + 34])).spectral[
        0
    ]
    assert np.allclose(values(bars["y"]), expected, atol=1e-5)
    assert marked(at, "spectral_image") == (12, 34)
    verdict = shown(at, "planted_verdict")
    for a, b, lo, hi in demo.planted.spectral_pairs:  # each planted pair, its classes and its bands
        names = (demo.class_names[a - 1], demo.class_names[b - 1])
        assert all(n in verdict for n in names) and f"{lo} to {hi - 1}" in verdict, verdict
    assert "α" in shown(at, "intro"), "what α is, and is not"
    at.switch_page(SPATIAL).run()
    assert marked(at, "spatial_image") == (12, 34)
    at.button(key="spatial_right").click().run()
    at.button(key="spatial_down").click().run()
    assert at.session_state["pixel"] == (13, 35)
    at.number_input(key="spatial_row").set_value(70).run()
    assert at.session_state["pixel"] == (70, 35)
    at.switch_page(SPECTRAL).run()
    assert marked(at, "spectral_image") == (70, 35)
    assert not at.exception


def pins_on(at: AppTest, key: str) -> list[tuple[int, int]]:
    """The pinned pixels (row, col) marked on the clickable image `key`."""
    trace = next((t for t in chart(at, key)["data"] if t.get("name") == "pinned pixels"), None)
    return (
        []
        if trace is None
        else [(int(r), int(c)) for r, c in zip(values(trace["y"]), values(trace["x"]))]
    )


def test_pins_follow_to_the_attention_pages_and_select_the_pixel_there(demo):
    at = click(app(), "scene_image", 40, 30)
    at.button(key="pin").click().run()
    at = click(at, "scene_image", 100, 20)
    at.button(key="pin").click().run()
    at.switch_page(SPECTRAL).run()
    assert marked(at, "spectral_image") == (100, 20), "the pixel chosen on the Scene page"
    assert pins_on(at, "spectral_image") == [(40, 30), (100, 20)]
    first = at.button(key="spectral_pin0")
    assert first.label == f"#1 {class_name(demo, int(demo.labels[40, 30]))}"
    first.click().run()
    assert at.session_state["pixel"] == (40, 30) and marked(at, "spectral_image") == (40, 30)
    assert at.button(key="spectral_pin").disabled, "already pinned"
    at.switch_page(SPATIAL).run()
    assert marked(at, "spatial_image") == (40, 30)
    assert pins_on(at, "spatial_image") == [(40, 30), (100, 20)]
    at = click(at, "spatial_image", 10, 12)
    at.button(
        key="spatial_pin"
    ).click().run()  # pinned on an attention page: on every page's image too
    at.button(key="spatial_pin1").click().run()
    assert at.session_state["pixel"] == (100, 20)
    at.switch_page(SCENE).run()
    assert pins_on(at, "scene_image") == [(40, 30), (100, 20), (10, 12)]
    assert marked(at, "scene_image") == (100, 20)
    assert not at.exception


def test_the_pixel_and_pins_are_kept_per_scene(tmp_path):
    cube = tiny_mat(tmp_path)
    at = click(app(), "scene_image", 40, 30)
    at.button(key="pin").click().run()
    at = click(at, "scene_image", 100, 20)
    at = open_file_scene(at, cube)
    assert at.session_state["scene_spec"][:2] == ("file", str(cube))
    assert at.session_state["pinned"] == [] and pins_on(at, "scene_image") == [], (
        "the demo's pins stay with it"
    )
    at = click(at, "scene_image", 5, 6)
    at.radio(key="w_scene_choice").set_value("demo").run()
    assert at.session_state["pixel"] == (100, 20) and pins_on(at, "scene_image") == [(40, 30)], (
        "the demo's own"
    )
    at.switch_page(SPECTRAL).run()
    assert marked(at, "spectral_image") == (100, 20)
    assert pins_on(at, "spectral_image") == [(40, 30)]
    at.switch_page(SCENE).run()
    at.radio(key="w_scene_choice").set_value("file").run()
    at.text_input(key="w_scene_names").set_value(
        "a, b, c"
    ).run()  # the same files with names: the same scene
    at.button(key="load_path").click().run()
    assert loaded_scene(at).class_names == ("a", "b", "c") and at.session_state["pixel"] == (5, 6)
    assert not at.exception


def test_a_stale_selection_does_not_override_the_arrows():
    at = click(app(SPATIAL), "spatial_image", 50, 50)
    at.button(key="spatial_left").click().run()
    at.run()
    assert at.session_state["pixel"] == (50, 49)


def test_spectral_page_offers_the_csv(demo):
    at = click(app(SPECTRAL), "spectral_image", 75, 100)
    assert at.session_state["pixel"] == (75, 100)
    (button,) = [b for b in at.get("download_button")]
    assert button.proto.label and button.proto.url, "one download, of the clicked pixel's table"


def test_switching_split_changes_the_summary():
    at = app()
    at.selectbox(key="w_split_kind").set_value("per-class").run()
    at.number_input(key="w_split_n").set_value(20).run()
    at.number_input(key="w_split_seed").set_value(3).run()
    counts = split_counts(at)
    assert counts["train"] == counts["validation"] == 20 * 12, "20 + 20 per class"
    assert shown(at, "status_split") == "**Split** · per-class:20, seed 3"
    at.switch_page(TRAIN).run()
    assert shown(at, "status_split") == "**Split** · per-class:20, seed 3"
    assert at.number_input(key="w_split_n").value == 20
    at.number_input(key="w_split_seed").set_value(5).run()
    assert shown(at, "status_split") == "**Split** · per-class:20, seed 5"
    at.switch_page(SCENE).run()
    assert (
        at.selectbox(key="w_split_kind").value == "per-class"
        and at.number_input(key="w_split_seed").value == 5
    )
    assert shown(at, "status_split") == "**Split** · per-class:20, seed 5"
    assert split_counts(at) == counts, "the same sizes on another seed"


def test_switching_to_your_own_file_and_back(tmp_path, demo):
    cube = tiny_mat(tmp_path)
    at = app()
    at = open_file_scene(at, cube)
    assert not at.exception and not at.error
    assert at.session_state["scene_spec"][:2] == ("file", str(cube))
    assert "30×36" in shown(at, "scene_facts")
    at.switch_page(SPECTRAL).run()
    assert has(at, "no_model") and not has(at, "spectral_image")
    at.switch_page(SCENE).run()
    at.radio(key="w_scene_choice").set_value("demo").run()
    assert at.session_state["scene_spec"] == ("demo",) and has(at, "demo_objects")


def test_an_envi_scene_with_names_and_wavelengths_from_the_app(tmp_path):
    import spectral.io.envi as envi

    rng = np.random.default_rng(0)
    envi.save_image(str(tmp_path / "cube.hdr"), rng.random((30, 36, 8)).astype(np.float32))
    envi.save_classification(
        str(tmp_path / "gt.hdr"),
        np.repeat(np.arange(1, 4), 12)[None, :].repeat(30, axis=0).astype(np.uint8),
        class_names=["Unclassified", "a", "b", "c"],
    )
    at = app()
    at.radio(key="w_scene_choice").set_value("file").run()
    at.text_input(key="w_scene_path").set_value(str(tmp_path / "cube.hdr")).run()
    at.text_input(key="w_gt_path").set_value(str(tmp_path / "gt.hdr")).run()
    at.button(key="load_path").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    scene = loaded_scene(at)
    assert scene.shape == (30, 36) and scene.wavelengths_estimated
    assert "30×36" in shown(at, "scene_facts") and "≈" in shown(at, "scene_facts")
    assert has(at, "scene_notes"), "the guess is explained in the scene's notes"
    at.text_input(key="w_scene_names").set_value("road, grass, roof").run()
    at.text_input(key="w_scene_wavelengths").set_value("450-950").run()
    at.button(key="load_path").click().run()
    scene = loaded_scene(at)
    assert not scene.wavelengths_estimated
    assert (scene.wavelengths[0], scene.wavelengths[-1]) == (450, 950)
    assert "450–950 nm" in shown(at, "scene_facts") and "≈" not in shown(at, "scene_facts")
    assert scene.class_names == ("road", "grass", "roof")
    at.text_input(key="w_scene_wavelengths").set_value("450, 950").run()
    at.button(key="load_path").click().run()
    (error,) = at.error
    assert "2 value(s)" in error.value and "8 bands" in error.value


def test_a_bad_path_gives_a_clear_message(tmp_path):
    bad = tmp_path / "notes.mat"
    bad.write_text("this is not a MATLAB file")
    at = app()
    at.radio(key="w_scene_choice").set_value("file").run()
    at.text_input(key="w_scene_path").set_value(str(bad)).run()
    at.button(key="load_path").click().run()
    assert not at.exception
    (error,) = at.error
    assert "notes.mat" in error.value
    at.text_input(key="w_scene_path").set_value(str(tmp_path / "missing.mat")).run()
    at.button(key="load_path").click().run()
    assert not at.exception and "missing.mat" in at.error[0].value
    assert at.session_state["scene_spec"] == ("demo",), "the previous scene stays loaded"


def test_pavia_offline_says_where_to_put_the_files(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SSAN_DATA_URL", f"http://127.0.0.1:{closed}/")
    at = app()
    at.radio(key="w_scene_choice").set_value("paviau").run()
    assert not at.button(key="download").disabled and at.session_state["scene_spec"] == ("demo",), (
        "the download is offered, not started"
    )
    at.button(key="download").click().run()
    assert not at.exception
    (error,) = at.error
    assert str(tmp_path / "data") in error.value and "PaviaU.mat" in error.value, (
        "where to put which file"
    )


def test_uploaded_scene_files_are_checked(tmp_path):
    with pytest.raises(SceneError, match="a '.txt' extension cannot be read. Expected a .mat file"):
        store_scene_upload([("cube.txt", b"1 2 3")], folder=tmp_path)
    with pytest.raises(SceneError, match="empty"):
        store_scene_upload([("cube.mat", b"")], folder=tmp_path)
    path = store_scene_upload([("cube.mat", b"not a mat file at all")], folder=tmp_path)
    assert path.name == "cube.mat" and path.read_bytes() == b"not a mat file at all"
    with pytest.raises(SceneError, match="cube.mat"):
        load_scene(path)


def own_scene_files(folder: Path, rows: int = 30) -> dict[str, bytes]:
    """An ENVI cube with wavelengths, its ENVI classification with class names, the same cube as a GeoTIFF
    and the labels as a PNG mask (`rows` rows), written in `folder` and returned as {name: bytes}."""
    import spectral.io.envi as envi
    import tifffile
    from PIL import Image

    folder.mkdir()
    cube = np.random.default_rng(0).random((rows, 36, 8)).astype(np.float32)
    labels = np.repeat(np.arange(1, 4), 12)[None, :].repeat(rows, axis=0).astype(np.uint8)
    envi.save_image(
        str(folder / "cube.hdr"),
        cube,
        metadata={"wavelength": list(range(500, 900, 50)), "wavelength units": "Nanometers"},
    )
    envi.save_classification(
        str(folder / "gt.hdr"), labels, class_names=["Unclassified", "road", "grass", "roof"]
    )
    tifffile.imwrite(
        folder / "cube.tif",
        np.moveaxis(cube, -1, 0),
        photometric="minisblack",
        planarconfig="separate",
    )
    Image.fromarray(labels).save(folder / "mask.png")
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def upload(
    at: AppTest, cube: list[tuple[str, bytes]], gt: list[tuple[str, bytes]] | None = None
) -> AppTest:
    """Choose "Your own files", upload the cube (and label, else none) files and press the load button."""
    at.radio(key="w_scene_choice").set_value("file").run()
    at.file_uploader(key="upload_cube").set_value(
        [(n, data, "application/octet-stream") for n, data in cube]
    )
    at.file_uploader(key="upload_gt").set_value(
        [(n, data, "application/octet-stream") for n, data in gt] if gt else None
    )
    at.run()
    at.button(key="load_upload").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.fixture
def uploads_here(tmp_path, monkeypatch):
    """Uploads go to this test's own temp folder."""
    import tempfile

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


def test_an_envi_pair_and_a_geotiff_are_uploaded_as_scenes(tmp_path, uploads_here):
    files = own_scene_files(tmp_path / "files")
    at = upload(
        app(),
        [("cube.img", files["cube.img"]), ("cube.hdr", files["cube.hdr"])],
        [("gt.hdr", files["gt.hdr"]), ("gt.img", files["gt.img"])],
    )
    assert not at.error, [e.value for e in at.error]
    scene = loaded_scene(at)
    assert Path(at.session_state["scene_spec"][1]).name == "cube.img"
    assert scene.shape == (30, 36) and scene.n_bands == 8 and not scene.wavelengths_estimated
    assert (scene.wavelengths[0], scene.wavelengths[-1]) == (500, 850)
    assert "8 bands (500–850 nm)" in shown(at, "scene_facts")
    assert scene.class_names == ("road", "grass", "roof"), (
        "class names from the ENVI classification header"
    )
    at.text_input(key="w_scene_names").set_value("asphalt, meadow, tile").run()
    at.file_uploader(key="upload_cube").set_value(("cube.tif", files["cube.tif"], "image/tiff"))
    at.file_uploader(key="upload_gt").set_value(("mask.png", files["mask.png"], "image/png"))
    at.run()
    at.button(key="load_upload").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    scene = loaded_scene(at)
    assert Path(at.session_state["scene_spec"][1]).name == "cube.tif"
    assert scene.wavelengths_estimated and "≈" in shown(at, "scene_facts")
    assert scene.class_names == ("asphalt", "meadow", "tile"), "class names typed in the app"
    at.switch_page(SPECTRAL).run()
    assert has(at, "no_model")


def test_bad_uploads_give_a_specific_message_and_keep_the_scene(tmp_path, uploads_here):
    files = own_scene_files(tmp_path / "files")
    short = own_scene_files(tmp_path / "short", rows=20)
    at = upload(app(), [("cube.hdr", files["cube.hdr"])], [("mask.png", files["mask.png"])])
    (error,) = at.error  # its wording: tests/test_uploads.py
    assert error.value.startswith("cube.hdr: ") and "\n" not in error.value
    at = upload(at, [("cube.tif", files["cube.tif"])], [("mask.png", short["mask.png"])])
    (error,) = at.error
    assert (
        error.value.startswith("mask.png: ") and "20x36" in error.value and "30x36" in error.value
    )
    assert str(tmp_path) not in error.value, (
        "the message names the files as uploaded, not the upload folder"
    )
    at = upload(at, [("cube.tif", files["cube.tif"])])
    (error,) = at.error
    assert error.value.startswith("cube.tif: ") and "\n" not in error.value
    assert at.session_state["scene_spec"] == ("demo",), "the previous scene stays loaded"


def test_uploaded_checkpoints_are_checked(tmp_path, demo):
    files = {
        "model.safetensors": (ASSET / "model.safetensors").read_bytes(),
        "model.json": (ASSET / "model.json").read_bytes(),
    }
    folder, fitted = store_checkpoint_upload(files, tmp_path)
    assert folder.parent == tmp_path / "uploaded" and fitted.model_name == "ssan"
    with pytest.raises(CheckpointError, match="exactly two files"):
        store_checkpoint_upload({"model.safetensors": files["model.safetensors"]}, tmp_path)
    tampered = {**files, "model.safetensors": files["model.safetensors"][:-10] + b"0" * 10}
    with pytest.raises(CheckpointError, match="sha256"):
        store_checkpoint_upload(tampered, tmp_path)
    with pytest.raises(CheckpointError, match="not valid JSON"):
        store_checkpoint_upload({**files, "model.json": b"{oops"}, tmp_path)
    assert len(list((tmp_path / "uploaded").iterdir())) == 1, "refused uploads leave nothing behind"


def test_switching_and_loading_models(runs_dir):
    uploaded, _ = store_checkpoint_upload(
        {
            "a.safetensors": (ASSET / "model.safetensors").read_bytes(),
            "a.json": (ASSET / "model.json").read_bytes(),
        },
        runs_dir,
    )
    at = app(TRAIN)
    radio = at.radio(key="active_model")
    assert len(radio.options) == 2 and radio.value == str(ASSET)
    assert any("shipped demo checkpoint" in o for o in radio.options)
    radio.set_value(str(uploaded)).run()
    assert not at.exception
    assert at.session_state["model_dirs"][("demo",)] == str(uploaded)
    at.switch_page(SPECTRAL).run()
    model_line = shown(at, "model_line")
    assert uploaded.name in model_line and "shipped" not in model_line


def test_training_a_quick_model_from_the_train_page(runs_dir, paper_split):
    at = app(TRAIN)
    at.session_state["adv_iterations"] = 12
    at.session_state["adv_eval_every"] = 6
    at.run()
    deadline = time.monotonic() + TIMEOUT
    while has(at, "estimate_measuring"):  # the estimate is timed in the background
        assert time.monotonic() < deadline
        time.sleep(0.2)
        at.run()
    estimate = shown(at, "estimate")
    assert "12 iterations" in estimate and f"{paper_split.test.size:,}" in estimate, (
        "the advanced setting's iterations, then the paper split's test pixels"
    )
    at.button(key="start_training").click().run()
    assert not at.exception and not at.error
    _, job = at.session_state["train_job"]
    assert job.join(timeout=TIMEOUT)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = [m.label for m in at.metric]
    assert "SSAN OA" in labels and "AA" in labels and "κ" in labels
    saved = list(runs_dir.rglob("model.json"))
    assert len(saved) == 1
    curve = chart(at, "train_job_curve")
    assert len(values(curve["data"][0]["x"])) == 12, "one point per iteration"
    at.button(key="train_job_use_0").click().run()  # a trained model is used only when chosen
    assert at.session_state["model_dirs"][("demo",)] == str(saved[0].parent)
    at.switch_page(SPECTRAL).run()
    assert saved[0].parent.name in shown(at, "model_line")


def test_cancelling_keeps_the_best_model(runs_dir):
    at, job = long_training(validations=2)
    assert at.get("progress") and at.button(key="train_job_cancel").proto.label.startswith("Cancel")
    at.button(key="train_job_cancel").click().run()
    assert job.join(timeout=TIMEOUT)
    at.run()
    assert has(at, "train_job_cancelled_kept") and [m.label for m in at.metric][0] == "SSAN OA"
    assert len(list(runs_dir.rglob("model.json"))) == 1
    assert ("demo",) not in at.session_state["model_dirs"], (
        "a cancelled run is never made the active model"
    )
    assert sum(CANCELLED_MARK in o for o in at.radio(key="active_model").options) == 1


def test_compare_trains_a_baseline_and_shows_table_matrices_and_maps(runs_dir, demo):
    at = app(COMPARE)
    table = at.dataframe[0].value
    assert list(table.index) == ["SSAN"] and table.loc["SSAN", "OA %"] > 90
    assert "knn" in at.multiselect(key="compare_models").value, (
        "nothing saved for KNN yet: it is missing"
    )
    at.multiselect(key="compare_models").set_value(["knn"]).run()
    at.button(key="start_compare").click().run()
    _, task = at.session_state["compare_job"]
    assert task.join(timeout=TIMEOUT)
    report = task.snapshot().result
    assert [(r.model, r.seed, r.reused) for r in report.runs] == [("knn", 0, False)], (
        "the library's comparison engine trained it, with the split's seed"
    )
    at.run()
    assert not at.exception and not at.error
    (saved,) = runs_dir.rglob("model.json")
    assert report.runs[0].checkpoint == str(saved.parent), "trained and saved in the runs folder"
    table, classes = at.dataframe[0].value, at.dataframe[1].value
    assert list(table.index) == ["KNN", "SSAN"]
    assert list(table.columns) == ["OA %", "AA %", "κ", "trained"], (
        "no paper's numbers for the demo"
    )
    # Per class: one row per class, one column per model, so the table grows down, never sideways.
    assert list(classes.index) == list(demo.class_names)
    assert list(classes.columns) == ["KNN", "SSAN"]
    assert classes.loc["Asphalt road"].between(0, 100).all()
    assert "background-color" in str(at.dataframe[1].proto.arrow_data.styler.styles), (
        "the best model of each class shaded"
    )
    assert chart(at, "cm_KNN")["data"][0]["type"] == "heatmap"
    assert at.multiselect(key="compare_shown_KNN-SSAN").value == ["SSAN", "KNN"], (
        "SSAN and the best comparator"
    )
    # KNN on this split and seed is saved now: it is no longer missing, and picking it trains nothing.
    assert "knn" not in at.multiselect(key="compare_models").value
    at.multiselect(key="compare_models").set_value(["knn"]).run()
    assert at.multiselect(key="compare_models").value == ["knn"]
    assert at.button(key="start_compare").disabled, "reused rather than retrained: nothing to train"
    # Over seeds: one seed saved for KNN, the others listed as missing.
    at.text_input(key="w_compare_seeds").set_value("0,1").run()
    seeds = at.dataframe[2].value
    assert seeds.loc["KNN", "seeds done"] == "1 of 2" and "±" not in seeds.loc["KNN", "OA %"], (
        "one seed has no spread to show"
    )
    assert not at.button(key="start_seed_study").disabled, (
        "seed 1 of KNN is missing: it can be trained"
    )
    at.toggle(key="w_cm_normalise").set_value(True).run()
    z = values(chart(at, "cm_SSAN")["data"][0]["z"])
    assert np.allclose(z.sum(axis=1), 1.0)
    at.toggle(key="w_show_maps").set_value(True).run()
    deadline = time.monotonic() + TIMEOUT
    while at.get("progress") and time.monotonic() < deadline:  # maps are computed in the background
        time.sleep(0.2)
        at.run()
    assert not at.exception and not at.error
    for key in ("map_Ground truth", "map_KNN", "map_SSAN"):
        assert chart(at, key)["data"][0]["type"] == "image"
    maps = list((runs_dir.parent / "data" / "maps").glob("*.npy"))
    assert len(maps) == 2, "one cached map per checkpoint"
    assert all(m.name.endswith("-float32.npy") for m in maps), (
        "the demo is too small for bfloat16 to pay: its maps are float32"
    )


def test_the_seed_study_trains_the_missing_runs_with_the_cli_engine(runs_dir, demo):
    at = app(COMPARE)
    at.multiselect(key="compare_seed_models").set_value(["knn"]).run()
    at.text_input(key="w_compare_seeds").set_value("0,1").run()
    at.button(key="start_seed_study").click().run()
    _, task = at.session_state["compare_job"]
    assert task.join(timeout=TIMEOUT)
    assert [(r.model, r.seed) for r in task.snapshot().result.runs] == [("knn", 0), ("knn", 1)]
    at.run()
    assert not at.exception and not at.error
    seeds = at.dataframe[2].value
    assert seeds.loc["KNN", "seeds done"] == "2 of 2"
    assert len(list(runs_dir.rglob("model.json"))) == 2
    # The CLI's comparison finds the app's runs in the same folder and trains nothing, and the other way round.
    from ssan.evaluation.compare import compare

    cli = compare(demo, "paper", ["knn", "svm"], [0, 1], "quick", device="cpu")
    assert [r.reused for r in cli.runs] == [True, False, True, False]
    at.multiselect(key="compare_seed_models").set_value(["knn", "svm"]).run()
    assert at.dataframe[2].value.loc["SVM", "seeds done"] == "2 of 2", (
        "the CLI's runs show in the app"
    )


def test_compare_offers_the_split_that_has_results(runs_dir):
    """Issue 24, item 1: a split changed on another page leaves Compare empty; it offers the split with results."""
    at = app(SCENE)
    at.selectbox(key="w_split_kind").set_value("disjoint").run()
    at.number_input(key="w_split_n").set_value(30).run()
    at.switch_page(COMPARE).run()
    assert not at.dataframe and shown(at, "status_split") == "**Split** · disjoint:30, seed 0"
    at.button(key="show_split_paper_0").click().run()
    assert not at.exception and at.session_state["split_kind"] == "paper"
    assert list(at.dataframe[0].value.index) == ["SSAN"]


def test_a_cancelled_run_is_marked_and_never_used_by_default(runs_dir):
    cancelled = saved_copy(runs_dir, "ssan-cancelled", cancelled=True, best_val_accuracy=0.999)
    at = app(COMPARE)
    options = at.selectbox(key="ckpt_ssan").options
    assert sum("CANCELLED" in o for o in options) == 1
    assert "CANCELLED" not in at.selectbox(key="ckpt_ssan").value, (
        "the best finished run is the default"
    )
    assert list(at.dataframe[0].value.index) == ["SSAN"]
    at.selectbox(key="ckpt_ssan").set_value(next(o for o in options if "CANCELLED" in o)).run()
    assert list(at.dataframe[0].value.index) == ["SSAN ⚠ cancelled"], "picked by hand, and marked"
    assert list(at.dataframe[1].value.columns) == ["SSAN ⚠ cancelled"], (
        "marked in the per-class table too"
    )
    assert at.session_state["compare_choice"][(("demo",), "paper", 0, "ssan")] == str(cancelled)
    at.switch_page(TRAIN).run()
    radio = at.radio(key="active_model")
    assert radio.value == str(ASSET), "the cancelled run, though newest, is not made active"
    assert sum(CANCELLED_MARK in o for o in radio.options) == 1
    assert any(CANCELLED_MARK in c.value for c in at.caption), "the mark is explained"


def test_saved_models_are_renamed_and_deleted_from_the_train_page(runs_dir, monkeypatch):
    monkeypatch.setenv("SSAN_STUDENTS_MAY_EDIT", "1")  # a CLI run is the lecturer's: else read-only
    run = saved_copy(runs_dir, "ssan-run")
    at = app(TRAIN)
    at.radio(key="active_model").set_value(str(run)).run()
    at.selectbox(key="manage_model").set_value(
        next(o for o in at.selectbox(key="manage_model").options)
    ).run()
    at.text_input(key="rename_to_ssan-run").set_value("lecture-ssan").run()
    at.button(key="rename_model").click().run()
    renamed = run.with_name("lecture-ssan")
    assert renamed.is_dir() and not run.exists()
    assert at.session_state["model_dirs"][("demo",)] == str(renamed), (
        "the active model follows its new name"
    )
    assert at.button(key="delete_model").disabled, "deleting needs a confirmation"
    at.checkbox(key="confirm_delete").check().run()
    at.button(key="delete_model").click().run()
    assert not renamed.exists() and not at.exception
    assert at.radio(key="active_model").value == str(ASSET), "back to the default model"


def test_a_job_is_shown_only_on_its_own_scene(tmp_path, runs_dir):
    cube = tiny_mat(tmp_path)
    at = app(TRAIN)
    at, job = finished_training(at, "knn")
    assert "KNN OA" in [m.label for m in at.metric]
    at.switch_page(SCENE).run()
    at = open_file_scene(at, cube)
    at.switch_page(TRAIN).run()
    assert not at.metric, "the demo's result is not shown under another scene"
    assert "Demo town" in shown(at, "train_job_elsewhere"), "the job's own scene is named"


def test_no_model_for_the_scene_explains_what_to_do(tmp_path):
    shutil.copytree(ASSET, tmp_path / "copy")  # a model exists, but for another scene
    cube = tmp_path / "small.mat"
    labels = np.repeat(np.arange(1, 3), 10)[None, :].repeat(20, axis=0).astype(np.uint8)
    scipy.io.savemat(
        cube,
        {"cube": np.random.default_rng(1).random((20, 20, 5)).astype(np.float32), "gt": labels},
    )
    at = app()
    at = open_file_scene(at, cube)
    for page in (SPATIAL, COMPARE):
        at.switch_page(page).run()
        assert not at.exception and at.info, page


def test_one_sessions_bad_checkpoint_does_not_break_another_sessions_pages(runs_dir):
    """Issue 9, item 1: a sidecar whose format_version is text (or whose split is text) broke every page of
    every session. The upload is refused and removed; one left by an older version is skipped with a note."""
    good = json.loads((ASSET / "model.json").read_text())
    weights = (ASSET / "model.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="format_version: must be an integer"):
        store_checkpoint_upload(
            {
                "m.safetensors": weights,
                "m.json": json.dumps({**good, "format_version": "1"}).encode(),
            },
            runs_dir,
        )
    assert not any((runs_dir / "uploaded").iterdir())
    for name, change in (
        ("old-version", {"format_version": "1"}),
        ("text-split", {"split": "paper"}),
    ):
        (runs_dir / "uploaded" / name).mkdir(parents=True)
        (runs_dir / "uploaded" / name / "model.safetensors").write_bytes(weights)
        (runs_dir / "uploaded" / name / "model.json").write_text(json.dumps({**good, **change}))
    at = app(SCENE)
    for page in (TRAIN, SPECTRAL, SPATIAL, COMPARE):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.message for e in at.exception])
        if page in (TRAIN, COMPARE):
            notes = [w.value for w in at.warning]  # one per unreadable checkpoint
            assert len(notes) == 2, (page, notes)
            assert any("format_version: must be an integer" in n for n in notes)
            assert any("split: must be an object" in n for n in notes)


def test_a_waiting_session_sees_its_place_in_the_training_queue(runs_dir, demo):
    """Issue 9, item 4: while another session's job holds the one training slot, the Train page says so."""
    from ssan.data.splits import make_split
    from ui.jobs import TrainJob
    from ui.tasks import TRAINING

    tiny = {
        "iterations": 100_000,
        "rnn_hidden": 4,
        "fc_hidden": 16,
        "fusion_hidden": 16,
        "conv_channels": (4, 4),
        "patch_size": 7,
    }
    blocker = TrainJob(
        demo,
        make_split(demo, "per-class:10", 0),
        ("ssan",),
        "quick",
        device="cpu",
        overrides=tiny,
        pool=TRAINING,
    ).start()
    at = app(TRAIN)
    try:
        at.button(key="start_training").click().run()
        assert not at.exception
        _, job = at.session_state["train_job"]
        assert job.snapshot().queue_position == 1
        progress = [p.proto.text for p in at.get("progress")]
        assert any(
            "you are number 1 in the queue (0 jobs ahead, 1 training at a time" in t
            for t in progress
        ), progress
        job.cancel()
        assert job.join(TIMEOUT)
    finally:
        blocker.cancel()
        blocker.join(TIMEOUT)
    at.run()
    assert not at.exception and has(at, "train_job_cancelled_early") and not at.metric
    assert not job.snapshot().checkpoints, "nothing was trained"


def test_spatial_page_explains_the_flat_mask_and_spaces_the_class_grid():
    at = app(SPATIAL)
    assert "1×1 convolution" in shown(at, "mask_note"), "why the mask is flat, under the mask"
    grid = chart(at, "class_masks")
    titles = [a for a in grid["layout"]["annotations"]]
    assert len(titles) == 12 and all(a["yanchor"] == "bottom" for a in titles)
    assert grid["layout"]["height"] == 80 + 250 * 3, (
        "four tiles a row, each row tall enough for two-line titles"
    )


def test_presentation_mode_is_kept_in_the_url_and_folds_the_words_away():
    at = app(SPECTRAL)
    spectrum = next(e for e in at.get("plotly_chart") if "spectral_spectrum" in e.proto.id)
    config = json.loads(spectrum.proto.config)
    assert config["displayModeBar"] is False, "no hover toolbar over the charts (issue 24, item 9)"
    assert has(at, "intro") and not has(at, "about_page")
    at.toggle(key="w_present").set_value(True).run()
    assert at.query_params["present"] == "1"
    layout = chart(at, "spectral_spectrum")["layout"]
    assert layout["font"]["size"] == 17, "larger type on the projector"
    assert (
        layout["height"] == 320
        and layout["yaxis2"]["domain"][1] - layout["yaxis2"]["domain"][0] > 0.5
    ), "a shorter spectrum figure whose α row fits above the fold"
    assert has(at, "about_page") and not has(at, "intro"), "the words fold away"
    at.switch_page(SPATIAL).run()
    assert chart(at, "spatial_figure")["layout"]["height"] == 260, (
        "the mask tiles fit above the fold"
    )
    at.switch_page(SCENE).run()
    assert at.session_state["present"] and at.query_params["present"] == "1", "kept across pages"
    assert chart(at, "scene_image")["layout"]["height"] <= 330, "the image fits above the fold"
    assert "Demo town" in at.get_by_key("scene_chooser").label, "the chooser folds away"
    at.toggle(key="w_present").set_value(False).run()
    assert "present" not in at.query_params
    fresh = AppTest.from_file(str(ROOT / ENTRY), default_timeout=TIMEOUT)
    fresh.query_params["present"] = "1"
    fresh.run()
    assert fresh.session_state["present"], "a reload with ?present=1 opens in presentation mode"


def test_advanced_settings_reset_to_the_preset_and_stay_on_the_train_page():
    """Issue 24, item 8: an edited setting goes back to the preset, and Compare never trains with it."""
    at = app(TRAIN)
    at.session_state["adv_iterations"] = 30
    at.run()
    at.switch_page(COMPARE).run()
    assert "ssan" not in at.multiselect(key="compare_models").value, (
        "the shipped quick SSAN is still the comparison's run: Train's settings do not leak into Compare"
    )
    at.switch_page(TRAIN).run()
    at.button(key="reset_advanced").click().run()
    assert at.session_state["adv_iterations"] is None
    assert at.number_input(key="w_adv_iterations").value is None
    assert at.button(key="reset_advanced").disabled
