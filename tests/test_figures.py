"""Figure builders and image helpers: structure, determinism, and the click → pixel mapping."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from ssan.data.scene import PALETTE, SceneError
from ssan.render.imaging import (
    band_for_wavelength,
    blend,
    colorize_labels,
    false_colour,
    grid_axes,
    patch_around,
    pixel_from_click,
    pixel_from_selection,
)
from ui import figures as F

NAMES = ("Asphalt", "Meadows", "Gravel")
COLORS = PALETTE[:3]
WL = np.linspace(430.0, 860.0, 12)


def _rgb(h: int = 5, w: int = 7) -> np.ndarray:
    return (np.arange(h * w * 3) % 256).astype(np.uint8).reshape(h, w, 3)


def _types(fig: go.Figure) -> list[str]:
    return [trace.type for trace in fig.data]


# --- imaging ---------------------------------------------------------------------------------


def test_band_for_wavelength_is_nearest() -> None:
    wl = np.array([430.0, 450.0, 470.0, 490.0])
    assert band_for_wavelength(wl, 455.0) == 1
    assert band_for_wavelength(wl, 10.0) == 0
    assert band_for_wavelength(wl, 999.0) == 3


def test_false_colour_picks_nearest_bands_and_stretches() -> None:
    rng = np.random.default_rng(0)
    cube = rng.random((6, 8, 4), dtype=np.float32)
    wl = np.array([400.0, 500.0, 600.0, 700.0])
    out = false_colour(cube, wl, rgb_nm=(690.0, 510.0, 420.0), stretch=(0.0, 100.0))
    assert out.dtype == np.uint8 and out.shape == (6, 8, 3)
    for channel, band in enumerate((3, 1, 0)):
        values = cube[..., band]
        expected = np.rint((values - values.min()) / (values.max() - values.min()) * 255)
        np.testing.assert_array_equal(out[..., channel], expected.astype(np.uint8))


def test_false_colour_saturates_outside_the_percentiles() -> None:
    ramp = np.arange(100, dtype=np.float32).reshape(10, 10, 1)
    cube = np.repeat(ramp, 3, axis=2)
    out = false_colour(cube, np.array([470.0, 550.0, 640.0]), stretch=(10.0, 90.0))
    lo, hi = np.percentile(ramp, [10.0, 90.0])
    assert (out[ramp[..., 0] <= lo] == 0).all()
    assert (out[ramp[..., 0] >= hi] == 255).all()
    expected = np.rint(np.clip((ramp[..., 0] - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], expected)


def test_false_colour_rejects_bad_stretch() -> None:
    with pytest.raises(SceneError, match="stretch"):
        false_colour(
            np.zeros((2, 2, 3), np.float32), np.array([470.0, 550.0, 640.0]), stretch=(90.0, 10.0)
        )


def test_colorize_labels_maps_classes_and_background() -> None:
    labels = np.array([[0, 1], [2, 1]])
    out = colorize_labels(labels, ["#ff0000", "#00ff00"], background=(1, 2, 3))
    assert out.dtype == np.uint8
    assert out[0, 0].tolist() == [1, 2, 3]
    assert out[0, 1].tolist() == [255, 0, 0] and out[1, 1].tolist() == [255, 0, 0]
    assert out[1, 0].tolist() == [0, 255, 0]
    with pytest.raises(SceneError, match="0..2"):
        colorize_labels(np.array([[3]]), ["#ff0000", "#00ff00"])


def test_blend_only_where_masked() -> None:
    rgb = np.zeros((2, 2, 3), np.uint8)
    overlay = np.full((2, 2, 3), 200, np.uint8)
    mask = np.array([[True, False], [False, False]])
    out = blend(rgb, overlay, mask, 0.5)
    assert out[0, 0].tolist() == [100, 100, 100]
    assert (out[~mask] == 0).all()
    assert (rgb == 0).all()


@pytest.mark.parametrize("extra", [(), (4,)])
def test_patch_around_corner_is_zero_padded(extra: tuple[int, ...]) -> None:
    image = np.arange(1, 1 + 5 * 6 * int(np.prod(extra)), dtype=np.float32).reshape(5, 6, *extra)
    patch = patch_around(image, 0, 0, 5)
    assert patch.shape == (5, 5, *extra)
    np.testing.assert_array_equal(patch[2, 2], image[0, 0])
    assert (patch[:2] == 0).all() and (patch[:, :2] == 0).all()
    np.testing.assert_array_equal(patch[2:, 2:], image[:3, :3])
    far = patch_around(image, 4, 5, 3)
    np.testing.assert_array_equal(far[1, 1], image[4, 5])
    assert (far[2] == 0).all() and (far[:, 2] == 0).all()


def test_grid_axes_step_one_and_centred_blocks() -> None:
    rows, cols = grid_axes((4, 5), 1)
    assert rows.tolist() == [0, 1, 2, 3] and cols.tolist() == [0, 1, 2, 3, 4]
    rows, cols = grid_axes((5, 7), 3)
    assert rows.tolist() == [1, 4] and cols.tolist() == [1, 4, 6]


def test_pixel_from_selection_forms() -> None:
    state = {
        "selection": {
            "points": [{"x": 3, "y": 4, "point_index": 99}],
            "point_indices": [99],
            "box": [],
            "lasso": [],
        }
    }
    assert pixel_from_selection(state, (10, 10)) == (4, 3)
    assert pixel_from_selection(state["selection"], (10, 10)) == (4, 3)
    assert pixel_from_selection({"points": [{"x": 2.6, "y": 0.2}]}, (10, 10)) == (0, 3)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {},
        {"selection": {}},
        {"selection": {"points": []}},
        {"points": [{}]},
        {"points": ["x"]},
        {"points": [{"x": "a", "y": 1}]},
        {"points": [{"x": float("nan"), "y": 1}]},
        {"points": [{"point_index": 10_000}]},
        [],
        "selection",
    ],
)
def test_pixel_from_selection_nothing_selected_or_malformed(bad: object) -> None:
    assert pixel_from_selection(bad, (10, 10)) is None


def test_pixel_from_selection_clamps_into_the_image() -> None:
    assert pixel_from_selection({"points": [{"x": 50, "y": -3}]}, (10, 20)) == (0, 19)


def test_pixel_from_selection_point_index_follows_the_figure_grid() -> None:
    shape, step = (7, 11), 3
    grid = F.clickable_image(_rgb(*shape), grid_step=step).data[F.GRID_TRACE]
    for k in range(len(grid.x)):
        assert pixel_from_selection({"points": [{"point_index": k}]}, shape, step) == (
            grid.y[k],
            grid.x[k],
        )
    # With coordinates present they win: they are the grid point's pixel.
    assert pixel_from_selection({"points": [{"x": 4, "y": 1, "point_index": 0}]}, shape, step) == (
        1,
        4,
    )


def test_pixel_from_click_scales_displayed_pixels() -> None:
    click = {"x": 55, "y": 35, "width": 300, "height": 200, "unix_time": 1}
    assert pixel_from_click(click, (100, 150)) == (17, 27)
    assert pixel_from_click({"x": 55, "y": 35}, (100, 150), 300, 200) == (17, 27)
    assert pixel_from_click({"x": 300, "y": 200, "width": 300, "height": 200}, (100, 150)) == (
        99,
        149,
    )
    assert pixel_from_click(None, (100, 150)) is None
    assert pixel_from_click({"x": 1, "y": 1, "width": 0, "height": 200}, (100, 150)) is None


# --- figures ---------------------------------------------------------------------------------


def test_clickable_image_structure_and_grid_at_step_one() -> None:
    h, w = 5, 7
    fig = F.clickable_image(_rgb(h, w), marker=(2, 3), pinned=[(0, 0), (4, 6)], title="scene")
    assert _types(fig) == ["image", "scattergl", "scatter"]
    assert fig.data[0].source.startswith("data:image/png;base64,")
    grid = fig.data[F.GRID_TRACE]
    assert len(grid.x) == h * w and grid.marker.opacity == 0
    assert grid.hovertemplate.startswith("row %{y}, col %{x}")
    for row, col in [(0, 0), (2, 3), (4, 6), (1, 5)]:
        k = row * w + col
        assert (grid.y[k], grid.x[k]) == (row, col)
    assert fig.layout.clickmode == "event+select"
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]
    assert fig.layout.yaxis.scaleanchor == "x"
    assert list(fig.data[2].text) == ["1", "2"]
    assert list(grid.selectedpoints) == [2 * w + 3]  # the marker is the grid's selected point


def test_clickable_image_grid_respects_step() -> None:
    h, w = 10, 7
    for step in (1, 2, 3, 4):
        fig = F.clickable_image(_rgb(h, w), grid_step=step)
        assert len(fig.data) == 2
        assert len(fig.data[1].x) == math.ceil(h / step) * math.ceil(w / step)
        assert max(fig.data[1].x) <= w - 1 and max(fig.data[1].y) <= h - 1


def test_grid_step_for() -> None:
    assert F.grid_step_for((610, 340)) == 2
    assert F.grid_step_for((1096, 715)) == 3
    assert F.grid_step_for((10, 10)) == 1
    for shape in [(610, 340), (1096, 715)]:
        step = F.grid_step_for(shape)
        assert math.ceil(shape[0] / step) * math.ceil(shape[1] / step) <= 120_000


def test_spectrum_figure_with_attention_and_planted_bands() -> None:
    spectra = [
        ("pixel (1, 2)", np.linspace(0, 1, 12), "#1f77b4"),
        ("pin 1", np.ones(12), "#ff4b4b"),
    ]
    planted = np.zeros(12, bool)
    planted[3:5] = True
    planted[9] = True
    fig = F.spectrum_figure(WL, spectra, attention=np.full(12, 1 / 12), planted=planted)
    assert _types(fig) == ["scatter", "scatter", "bar", "scatter"]
    assert fig.data[-1].name == "planted bands"
    assert fig.layout.xaxis2.title.text == "Wavelength (nm)"
    assert fig.layout.yaxis2.title.text == "Attention α"
    assert fig.layout.xaxis.matches == "x2" or fig.layout.xaxis2.matches == "x"
    assert "band %{customdata}" in fig.data[0].hovertemplate
    assert list(fig.data[0].customdata) == list(range(12))
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 2 * 2  # two planted runs, shaded in both rows
    half = (WL[1] - WL[0]) / 2
    assert rects[0].x0 == pytest.approx(WL[3] - half) and rects[0].x1 == pytest.approx(WL[4] + half)


def test_spectrum_figure_gives_attention_a_larger_share_of_a_shorter_figure() -> None:
    """Presentation mode's layout: the α row gets `attention_share` of the plot height (the default keeps
    the spectrum larger), and the figure its own height."""
    spectra = [("a", np.ones(12), "#1f77b4")]
    default = F.spectrum_figure(WL, spectra, attention=np.full(12, 1 / 12))
    short = F.spectrum_figure(
        WL, spectra, attention=np.full(12, 1 / 12), height=320, attention_share=0.55
    )

    def share(fig):
        low, high = fig.layout.yaxis2.domain
        return (high - low) / (
            (high - low) + (fig.layout.yaxis.domain[1] - fig.layout.yaxis.domain[0])
        )

    assert default.layout.height is None and short.layout.height == 320
    assert share(default) == pytest.approx(0.35) and share(short) == pytest.approx(0.55)


def test_spectrum_figure_without_attention_and_estimated_wavelengths() -> None:
    fig = F.spectrum_figure(
        WL, [("a", np.ones(12), "#1f77b4")], wavelengths_estimated=True, band_hover=False
    )
    assert _types(fig) == ["scatter"]
    assert "approx" in fig.layout.xaxis.title.text and "≈" in fig.data[0].hovertemplate
    assert "band" not in fig.data[0].hovertemplate
    assert not fig.layout.shapes
    with pytest.raises(SceneError, match="one value per band"):
        F.spectrum_figure(WL, [("a", np.ones(11), "#1f77b4")])


def test_class_attention_figure() -> None:
    planted = np.zeros(12, bool)
    planted[2:4] = True
    fig = F.class_attention_figure(
        WL, np.full((3, 12), 1 / 12), NAMES, COLORS, planted=planted, wavelengths_estimated=True
    )
    assert _types(fig) == ["scatter"] * 4
    assert [t.name for t in fig.data[:3]] == list(NAMES)
    assert len(fig.layout.shapes) == 1
    assert fig.layout.xaxis.title.text == F.wavelength_title(True)
    with pytest.raises(SceneError, match="classes, bands"):
        F.class_attention_figure(WL, np.ones((2, 12)), NAMES, COLORS)


def test_probability_figure_marks_the_predicted_label() -> None:
    fig = F.probability_figure(np.array([0.1, 0.7, 0.2]), NAMES, COLORS, predicted=2)
    assert _types(fig) == ["bar"] and fig.data[0].orientation == "h"
    assert fig.layout.xaxis.title.text == "Probability"
    assert fig.layout.yaxis.ticktext[1] == "<b>Meadows</b>"
    assert list(fig.data[0].marker.opacity) == [0.45, 1.0, 0.45]
    with pytest.raises(SceneError, match="1..3"):
        F.probability_figure(np.array([0.1, 0.7, 0.2]), NAMES, COLORS, predicted=0)


def test_spatial_attention_figure_three_panels() -> None:
    patch = _rgb(5, 5)
    mask = np.linspace(0.01, 0.99, 25).reshape(5, 5)
    fig = F.spatial_attention_figure(patch, mask, overlay_opacity=0.3)
    assert _types(fig) == ["image", "heatmap", "image", "heatmap", "scatter", "scatter", "scatter"]
    heat, overlay = fig.data[1], fig.data[3]
    assert (heat.zmin, heat.zmax, heat.showscale) == (0.0, 1.0, True)
    assert overlay.opacity == 0.3 and overlay.showscale is False
    assert [a.text for a in fig.layout.annotations] == ["Patch (false colour)", "Mask", "Overlay"]
    assert all((t.x[0], t.y[0]) == (0, 0) for t in fig.data[4:])
    assert fig.data[0].x0 == -2
    stretched = F.spatial_attention_figure(patch, mask * 0.2 + 0.4, stretch=True)
    assert (stretched.data[1].zmin, stretched.data[1].zmax) == pytest.approx((0.402, 0.598))
    assert (stretched.data[3].zmin, stretched.data[3].zmax) == pytest.approx((0.402, 0.598))
    with pytest.raises(SceneError, match="mask"):
        F.spatial_attention_figure(patch, np.ones((4, 4)))


def test_confusion_matrix_counts_and_row_normalisation() -> None:
    cm = np.array([[5, 1, 0], [0, 0, 0], [2, 2, 4]])
    counts = F.confusion_matrix_figure(cm, NAMES, title="test")
    assert _types(counts) == ["heatmap"]
    np.testing.assert_array_equal(np.asarray(counts.data[0].z), cm)
    assert (
        counts.layout.xaxis.title.text == "Predicted class"
        and counts.layout.yaxis.title.text == "True class"
    )
    assert counts.data[0].texttemplate
    z = np.asarray(F.confusion_matrix_figure(cm, NAMES, normalise=True).data[0].z)
    np.testing.assert_allclose(z.sum(axis=1), [1.0, 0.0, 1.0])
    assert (z[1] == 0).all()
    np.testing.assert_allclose(z[2], [0.25, 0.25, 0.5])


def test_class_map_figure_legend_and_transparent_background() -> None:
    class_map = np.array([[0, 1, 2], [3, 3, 0]])
    fig = F.class_map_figure(class_map, NAMES, COLORS, title="prediction")
    assert _types(fig) == ["image", "scatter", "scatter", "scatter"]
    assert [t.name for t in fig.data[1:]] == list(NAMES)
    assert [t.marker.color for t in fig.data[1:]] == list(COLORS)
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]


def test_training_curve_figure() -> None:
    history = [
        {"iteration": 1, "loss": 2.0, "val_accuracy": None},
        {"iteration": 2, "loss": 1.5},
        {"iteration": 3, "loss": 1.0, "val_accuracy": 0.8},
    ]
    fig = F.training_curve_figure(history)
    assert _types(fig) == ["scatter", "scatter"]
    assert list(fig.data[0].x) == [1, 2, 3] and list(fig.data[1].x) == [3]
    assert fig.data[1].yaxis == "y2"
    assert fig.layout.yaxis.title.text == "Loss"
    assert "accuracy" in fig.layout.yaxis2.title.text and fig.layout.yaxis2.tickformat == ".0%"
    assert F.training_curve_figure([]).layout.annotations
    with pytest.raises(SceneError, match="fraction"):
        F.training_curve_figure([{"iteration": 1, "loss": 1.0, "val_accuracy": 80.0}])


def test_class_counts_figure_plain_and_stacked() -> None:
    counts = np.array([10, 20, 30])
    plain = F.class_counts_figure(counts, NAMES, COLORS)
    assert _types(plain) == ["bar"] and list(plain.data[0].marker.color) == list(COLORS)
    assert plain.layout.yaxis.title.text == "Labelled pixels"
    splits = {
        "train": np.array([1, 2, 3]),
        "val": np.array([1, 1, 1]),
        "test": np.array([8, 17, 26]),
    }
    stacked = F.class_counts_figure(counts, NAMES, COLORS, split_counts=splits)
    assert _types(stacked) == ["bar"] * 3 and stacked.layout.barmode == "stack"
    assert [t.name for t in stacked.data] == ["train", "val", "test"]


def test_metrics_comparison_figure_with_paper_markers() -> None:
    rows = [
        {
            "model": "SSAN",
            "oa": 0.95,
            "aa": 0.93,
            "kappa": 0.94,
            "paper_oa": 0.99,
            "paper_kappa": 0.98,
        },
        {"model": "SVM", "oa": 0.85, "aa": 0.80, "kappa": 0.81},
    ]
    fig = F.metrics_comparison_figure(rows)
    assert _types(fig) == ["bar", "bar", "bar", "scatter"]
    paper = fig.data[3]
    assert paper.name == "paper (reported)" and paper.marker.symbol == "diamond-open"
    assert list(paper.y) == pytest.approx([99.0, 98.0])
    # Each paper marker sits on the bar of the same model and metric.
    assert paper.x[0] == fig.data[0].x[0] and paper.x[1] == fig.data[2].x[0]
    assert list(fig.layout.xaxis.ticktext) == ["SSAN", "SVM"]
    assert fig.layout.yaxis.title.text == "Score (%)"
    assert _types(F.metrics_comparison_figure(rows[1:])) == ["bar"] * 3
    with pytest.raises(SceneError, match="fraction"):
        F.metrics_comparison_figure([{"model": "x", "oa": 95.0, "aa": 0.9, "kappa": 0.9}])


def _all_builders() -> dict[str, object]:
    planted = np.zeros(12, bool)
    planted[4:6] = True
    return {
        "clickable": lambda: F.clickable_image(_rgb(), marker=(1, 1), pinned=[(0, 0)], grid_step=2),
        "spectrum": lambda: F.spectrum_figure(
            WL,
            [("a", np.linspace(0, 1, 12), "#1f77b4")],
            attention=np.full(12, 1 / 12),
            planted=planted,
        ),
        "class_attention": lambda: F.class_attention_figure(
            WL, np.full((3, 12), 0.1), NAMES, COLORS, planted
        ),
        "probability": lambda: F.probability_figure(np.array([0.2, 0.5, 0.3]), NAMES, COLORS, 2),
        "spatial": lambda: F.spatial_attention_figure(_rgb(5, 5), np.full((5, 5), 0.5)),
        "confusion": lambda: F.confusion_matrix_figure(
            np.eye(3, dtype=int) * 4, NAMES, normalise=True
        ),
        "class_map": lambda: F.class_map_figure(np.array([[0, 1], [2, 3]]), NAMES, COLORS),
        "training": lambda: F.training_curve_figure(
            [{"iteration": 1, "loss": 1.0, "val_accuracy": 0.5}]
        ),
        "counts": lambda: F.class_counts_figure(np.array([1, 2, 3]), NAMES, COLORS),
        "metrics": lambda: F.metrics_comparison_figure(
            [{"model": "SSAN", "oa": 0.9, "aa": 0.9, "kappa": 0.9, "paper_oa": 0.99}]
        ),
    }


@pytest.mark.parametrize("name", list(_all_builders()))
def test_builders_are_deterministic_and_transparent(name: str) -> None:
    build = _all_builders()[name]
    first, second = build(), build()
    assert isinstance(first, go.Figure)
    assert first.to_json() == second.to_json()
    assert (
        first.layout.paper_bgcolor == F.TRANSPARENT and first.layout.plot_bgcolor == F.TRANSPARENT
    )
    assert first.layout.font.color is None
