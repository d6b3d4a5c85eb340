"""A lecture hall on one server: sessions at once each see their own pixel, shared read-outs are keyed by
everything that changes them, and the load driver runs end to end (scripts/load_driver.py)."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import plotly.io
import pytest
from safetensors.torch import load_file, save_file

from ssan.data.scene import SceneError
from ui import loaders
from ui.figures import (
    clickable_image,
    probability_figure,
    spectrum_figure,
    with_probabilities,
    with_selected,
    with_spectrum,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ("demo",)


def _off_the_event_loop(work):
    """Run `work` in a thread of its own: the browser tests leave an event loop running in this one, where
    `asyncio.run` refuses to start."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    assert result, "the driver raised; see the thread's traceback above"
    return result[0]


def _driver():
    """scripts/load_driver.py as a module (registered first: its dataclasses look themselves up there)."""
    if "load_driver" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "load_driver", ROOT / "scripts" / "load_driver.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["load_driver"] = module
        spec.loader.exec_module(module)
    return sys.modules["load_driver"]


def test_the_cross_talk_check_sees_a_pixel_that_is_not_the_students() -> None:
    """The driver's check can fail: a page naming another pixel is caught, in the heading or a figure."""
    from streamlit.proto.Element_pb2 import Element

    driver = _driver()
    run = driver.Run()
    heading, chart = Element(), Element()
    heading.heading.body = "Pixel (row 3, col 4)"
    chart.plotly_chart.spec = json.dumps({"data": [{"name": "pixel (7, 8)"}]})
    for element in (heading, chart):
        driver.read_element(element, run)
    assert run.pixels == {(3, 4), (7, 8)}


def test_the_driver_sees_the_maps_toggle_the_maps_and_the_verdict() -> None:
    """`--until`: the Compare page's toggle and maps (the ground truth not counted, a map still computing
    is waited for) and the explain page's verdict are read off the elements."""
    from streamlit.proto.Element_pb2 import Element

    driver = _driver()
    run = driver.Run()
    toggle, progress, verdict = Element(), Element(), Element()
    toggle.checkbox.id, toggle.checkbox.label = "$$ID-1-w_show_maps", "Show the maps of the models"
    progress.progress.text = "Classifying every pixel with RNN in the background: 1 of 9"
    verdict.markdown.body = "**Verdict.** Attention ranks bands as well as Integrated Gradients."
    maps = []
    for title in ("Ground truth", "SSAN", "RNN"):
        maps.append(Element())
        maps[-1].plotly_chart.id = f"$$ID-2-map_{title}"
    for element in (toggle, progress, verdict, *maps):
        driver.read_element(element, run)
    assert run.maps_toggle == "$$ID-1-w_show_maps"
    assert (run.maps, run.maps_waiting, run.verdict) == (2, 1, True)


def test_two_sessions_at_once_each_see_their_own_pixel() -> None:
    """A real server, two websocket sessions clicking different pixels at the same time: every click's page
    names its own pixel and no other, without an error."""
    driver = _driver()
    args = driver.parse_args(["--students", "2", "--clicks", "3", "--gap", "0.1,0.3"])
    row = _off_the_event_loop(lambda: asyncio.run(driver.level(2, args, time.monotonic() + 240)))
    assert row["clicks"] == 6
    assert row["errors"] == 0, row["first_errors"]
    assert row["crosstalk"] == 0


def test_the_driver_runs_end_to_end_for_one_student(tmp_path: Path) -> None:
    out = tmp_path / "hall.json"
    driver = _driver()
    code = _off_the_event_loop(
        lambda: driver.main(
            ["--students", "1", "--clicks", "1", "--gap", "0.1,0.2", "--json", str(out)]
        )
    )
    assert code == 0
    (level,) = json.loads(out.read_text())["levels"]
    assert level["students"] == 1 and level["clicks"] == 1
    assert level["open"]["p50"] > 0 and level["click"]["p50"] > 0 and level["peak_rss_mib"] > 0


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory) -> tuple[str, float]:
    """The shipped demo checkpoint, copied (so its folder name is not part of any key)."""
    path = tmp_path_factory.mktemp("ckpt") / "demo-ssan"
    shutil.copytree(loaders.DEMO_CHECKPOINT, path)
    return str(path), loaders.checkpoint_mtime(path)


def _variant(source: str, folder: Path, weights: bool = False, preset: dict | None = None) -> str:
    """A copy of the checkpoint at `source` with its weights nudged and/or its preset changed."""
    shutil.copytree(source, folder)
    side = json.loads((folder / "model.json").read_text())
    if weights:
        tensors = load_file(folder / "model.safetensors")
        name = next(k for k, v in tensors.items() if v.dtype.is_floating_point and v.ndim == 2)
        tensors[name] = tensors[name] * 1.5
        save_file(tensors, folder / "model.safetensors")
        side["weights_sha256"] = hashlib.sha256(
            (folder / "model.safetensors").read_bytes()
        ).hexdigest()
    side["preset"] |= preset or {}
    (folder / "model.json").write_text(json.dumps(side))
    return str(folder)


def test_shared_read_outs_are_keyed_by_scene_weights_preset_and_precision(
    demo_model, tmp_path
) -> None:
    path, mtime = demo_model
    key = loaders.readout_key(path, mtime, DEMO)
    # The same weights in another folder share the read-outs: the folder is not part of the key.
    same = _variant(path, tmp_path / "same")
    assert loaders.readout_key(same, loaders.checkpoint_mtime(same), DEMO) == key
    nudged = _variant(path, tmp_path / "nudged", weights=True)
    other_weights = loaders.readout_key(nudged, loaders.checkpoint_mtime(nudged), DEMO)
    retuned = _variant(path, tmp_path / "retuned", preset={"lr": 0.001})
    other_preset = loaders.readout_key(retuned, loaders.checkpoint_mtime(retuned), DEMO)
    assert other_weights.weights_sha256 != key.weights_sha256
    assert other_preset.preset != key.preset and other_preset.weights_sha256 == key.weights_sha256

    flat = 75 * 150 + 75
    first = loaders.pixel_readout(path, mtime, DEMO, flat)
    assert loaders.pixel_readout(same, loaders.checkpoint_mtime(same), DEMO, flat) is first
    changed = loaders.pixel_readout(nudged, loaders.checkpoint_mtime(nudged), DEMO, flat)
    assert changed is not first and not np.array_equal(changed.probabilities, first.probabilities)
    # Another scene content or precision is another entry, never the float32 read-out of this scene.
    for other in (key._replace(scene_sha256="0" * 64), key._replace(precision="bfloat16")):
        assert loaders._pixel_readout(other, flat, path, mtime, DEMO) is not first
    assert loaders._pixel_readout(key, flat, path, mtime, DEMO) is first


def _wire(fig) -> dict:
    """The figure as Streamlit sends it."""
    return json.loads(plotly.io.to_json(fig.to_dict(), validate=False))


def test_a_ring_selects_a_point_of_the_shared_scene_figure() -> None:
    """The figure ringing a pixel is the shared scene figure with that grid point selected: the same figure
    as built whole, at any grid step; a revision makes it differ from the same ring without one."""
    rgb = np.arange(6 * 9 * 3, dtype=np.uint8).reshape(6, 9, 3)
    for step in (1, 2):
        base = clickable_image(rgb, pinned=[(0, 0)], grid_step=step, height=300)
        whole = clickable_image(rgb, marker=(2, 5), pinned=[(0, 0)], grid_step=step, height=300)
        assert _wire(with_selected(base, (2, 5), step)) == _wire(whole)
        assert base.data[1].selectedpoints is None  # the shared figure itself is never changed
    assert _wire(with_selected(base, (2, 5), 2, revision=1)) != _wire(whole)


def test_a_click_sets_the_traces_of_the_shared_spectrum_frame() -> None:
    """The per-pixel spectrum figure is the shared frame with the pixel's traces: the same as built whole."""
    wl = np.linspace(400, 900, 12)
    planted = np.zeros(12, bool)
    planted[3:5] = True
    values, alpha = np.linspace(0, 1, 12), np.full(12, 1 / 12)
    frame = spectrum_figure(wl, [("pixel", np.zeros(12), "#e6a800")], np.zeros(12), planted)
    whole = spectrum_figure(wl, [("pixel (2, 5)", values, "#e6a800")], alpha, planted)
    assert _wire(with_spectrum(frame, "pixel (2, 5)", values, alpha)) == _wire(whole)
    assert frame.data[0].name == "pixel"  # the shared frame itself is never changed
    with pytest.raises(SceneError, match="one value per band"):
        with_spectrum(frame, "pixel (2, 5)", values[:5], alpha)


def test_sessions_add_markers_to_one_shared_scene_figure_at_once() -> None:
    """Eight threads build per-click figures from one cached scene figure at the same time. Built from the
    shared figure's trace objects, 77 of 1,600 failed with "Invalid property ... 'source'" (a student saw
    an error instead of the page); each must get the image, the grid and its own marker."""
    rgb = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    base = clickable_image(rgb, height=300)
    errors: list[str] = []
    start = threading.Barrier(8)

    def session(k: int) -> None:
        start.wait()
        for i in range(200):
            try:
                fig = with_selected(base, (k, i % 30))
                types = [trace.type for trace in fig.data]
                ring = fig.data[1].selectedpoints
                if types != ["image", "scattergl"] or list(ring) != [k * 30 + i % 30]:
                    errors.append(f"thread {k}: {types}, ring at {ring}")
            except ValueError as exc:
                errors.append(f"thread {k}: {str(exc)[:80]}")

    threads = [threading.Thread(target=session, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]


def test_a_click_sets_the_bars_of_the_shared_probability_frame() -> None:
    """The per-pixel probability figure is the shared frame with the pixel's bars: the same as built whole."""
    names, colours = ["a", "b", "c"], ["#111111", "#222222", "#333333"]
    frame = probability_figure(np.full(3, 1 / 3), names, colours, 1)
    proba = np.array([0.2, 0.5, 0.3])
    assert _wire(with_probabilities(frame, proba, 2)) == _wire(
        probability_figure(proba, names, colours, 2)
    )
    assert frame.data[0].marker.opacity[0] == 1.0  # the shared frame itself is never changed
    with pytest.raises(SceneError, match="one probability per class"):
        with_probabilities(frame, proba[:2], 2)
