"""The "Does attention explain?" page through AppTest: the clicked pixel's figures, the background test with
its verdict and deletion curves, the branch map, seed stability, and clear messages for untestable models."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from sklearn.neighbors import KNeighborsClassifier
from streamlit.testing.v1 import AppTest

from ssan.models import build_network
from ssan.models.checkpoints import load_checkpoint, save_checkpoint
from tests.helpers import ASSET, ENTRY, ROOT, TIMEOUT, chart, click, texts

PAGE = "pages/5_Does_attention_explain.py"
PIXELS = 40


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    runs = tmp_path / "runs"
    monkeypatch.setenv("SSAN_RUNS_DIR", str(runs))
    return runs


def explain_page() -> AppTest:
    """The page on the demo checkpoint with a small sample, its background test finished (no thread left over)."""
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=TIMEOUT).run()
    at.session_state["explain_pixels"] = PIXELS
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return wait_for_results(at)


def charts(at: AppTest) -> set[str]:
    return {e.proto.id for e in at.get("plotly_chart")}


def wait_for_results(at: AppTest, seconds: float = 180, pixel: str = "") -> AppTest:
    """Rerun until the background work is on the page (AppTest does not run fragments by itself): the test's
    verdict, the pixel's attributions (for `pixel`, e.g. "row 40, col 30", when given) and the branch map."""

    def done() -> bool:
        ids = charts(at)
        return (
            any(m.value.startswith("**Verdict.**") for m in at.markdown)
            and any(i.endswith("explain_bands") for i in ids)
            and any(i.endswith("branch_map") for i in ids)
            and pixel in chart(at, "explain_bands")["layout"]["title"]["text"]
        )

    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the background work did not finish"
        time.sleep(0.5)
        at.run()
        assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_page_shows_pixel_figures_verdict_curves_and_branches():
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=TIMEOUT).run()
    at.session_state["explain_pixels"] = PIXELS
    at.switch_page(PAGE).run()
    assert at.title[0].value == "Does attention explain?"
    at = wait_for_results(at)
    body = texts(at)
    assert "Attention is not Explanation" in body and "NAACL 2019" in body
    assert "Attention is not not Explanation" in body and "EMNLP 2019" in body
    bands = chart(at, "explain_bands")
    assert {t["name"] for t in bands["data"]} >= {
        "attention α",
        "Integrated Gradients",
        "Occlusion",
    }
    assert "SSAN (quick, training seed" in bands["layout"]["title"]["text"]
    assert [a["text"] for a in chart(at, "explain_patch")["layout"]["annotations"]][
        0
    ] == "Spatial mask"
    assert chart(at, "branch_map")["data"][0]["type"] == "image"
    verdicts = [m.value for m in at.markdown if m.value.startswith("**Verdict.**")]
    assert len(verdicts) == 2 and f"on {PIXELS} held-out pixels" in verdicts[0]
    spectral = chart(at, "deletion_spectral")
    assert f"{PIXELS} held-out pixels drawn with seed 0" in spectral["layout"]["title"]["text"]
    assert any(t["name"].startswith("random (mean of draws)") for t in spectral["data"])
    assert any(
        t["name"].startswith("distance from the centre")
        for t in chart(at, "deletion_spatial")["data"]
    )
    assert "all " in chart(at, "branch_map")["layout"]["title"]["text"]
    assert len(at.dataframe) >= 3  # two area tables and the planted-band table


def test_a_click_moves_the_explained_pixel():
    at = click(explain_page(), "explain_image", 40, 30)
    assert "Pixel (row 40, col 30)" in [s.value for s in at.subheader]
    at = wait_for_results(at, pixel="pixel (row 40, col 30)")


def test_seed_stability_with_a_second_checkpoint(runs_dir):
    other = load_checkpoint(ASSET)
    other.seed += (
        1  # the same weights under another seed: α agrees perfectly, which the table must show
    )
    save_checkpoint(other, runs_dir / "demo" / "second-seed")
    at = explain_page()
    deadline = time.monotonic() + 120
    while not any("seeds" in d.value.columns for d in at.dataframe):  # computed in the background
        assert time.monotonic() < deadline, "seed stability did not finish"
        time.sleep(0.5)
        at.run()
    table = at.dataframe[-1].value
    assert list(table["seeds"]) == [f"{other.seed - 1} vs {other.seed}"]
    assert table["median per-pixel Spearman of α"].iloc[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "name, message", [("rnn", "RNN has no attention"), ("knn", "KNN is refused")]
)
def test_untestable_models_get_a_message(runs_dir, name, message):
    fitted = load_checkpoint(ASSET)
    fitted.model_name = name
    if name == "knn":
        n = fitted.split.train.size  # a checkpoint's KNN keeps one spectrum per training pixel
        spectra = np.random.default_rng(0).random((n, 103)).astype(np.float32)
        labels = np.resize(np.arange(1, 13), n).astype(np.int64)
        fitted.network, fitted.training_set = None, (spectra, labels)
        fitted.estimator = KNeighborsClassifier(1).fit(spectra, labels)
    else:
        fitted.network = build_network(name, 103, 12, fitted.preset)
    save_checkpoint(fitted, runs_dir / "demo" / name)
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=TIMEOUT).run()
    at.session_state["model_dirs"] = {("demo",): str(runs_dir / "demo" / name)}
    at.switch_page(PAGE).run()
    assert not at.exception
    assert any(message in w.value for w in at.warning), [w.value for w in at.warning]


def test_a_scene_without_a_model_says_what_to_do(tmp_path):
    cube = tmp_path / "small.mat"
    labels = np.repeat(np.arange(1, 3), 10)[None, :].repeat(20, axis=0).astype(np.uint8)
    scipy.io.savemat(
        cube,
        {"cube": np.random.default_rng(1).random((20, 20, 5)).astype(np.float32), "gt": labels},
    )
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=TIMEOUT).run()
    at.radio(key="w_scene_choice").set_value("file").run()
    at.text_input(key="w_scene_path").set_value(str(cube)).run()
    at.button(key="load_path").click().run()
    at.switch_page(PAGE).run()
    assert not at.exception and any("no model for this scene" in i.value for i in at.info)
