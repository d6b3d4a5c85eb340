"""Plotly figure builders for the app: scene viewer, spectra with attention, maps, metrics.

Every builder is deterministic (same inputs give the same `to_json()`, which Streamlit uses to
key a clickable chart). None sets a template (the clickable image sets an empty one, see there) or a
text colour (except numbers drawn on an image), so the app's light or dark theme applies; backgrounds
are transparent.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from ssan.data.scene import PALETTE, SceneError
from ssan.evaluation.reference import LABEL as PAPER_LABEL
from ssan.render.imaging import blend, colorize_labels, grid_axes

TRANSPARENT = "rgba(0,0,0,0)"
# Index of the invisible click grid in `clickable_image` (trace 0 is the image).
GRID_TRACE = 1
SELECTED_COLOR = "#ffd60a"
# Bright colours that stay visible on a false-colour image; pinned pixel i uses pin_color(i).
PIN_COLORS = ("#ff4b4b", "#00d4ff", "#7defa1", "#ff8700", "#d66bff", "#ff66c4", "#29b09d")
PLANTED_FILL = "rgba(255,140,0,0.22)"
ATTENTION_COLOR = "#9467bd"
SPLIT_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#7f7f7f"}
METRICS = (("oa", "OA", "%"), ("aa", "AA", "%"), ("kappa", "κ (×100)", ""))
METRIC_COLORS = ("#4c78a8", "#72b7b2", "#54a24b")
PAPER_COLOR = "#e45756"


def wavelength_title(estimated: bool) -> str:
    """Axis title for wavelengths, flagged when the band centres are estimated rather than read from the file."""
    return "Wavelength (nm, approx.)" if estimated else "Wavelength (nm)"


def pin_color(index: int) -> str:
    """Colour of the pinned pixel number `index` (0-based), shared by its marker and its spectrum."""
    return PIN_COLORS[index % len(PIN_COLORS)]


def grid_step_for(shape: tuple[int, int], max_points: int = 120_000) -> int:
    """Smallest click-grid step that keeps the invisible grid at or under `max_points` markers."""
    h, w = shape
    step = 1
    while math.ceil(h / step) * math.ceil(w / step) > max_points:
        step += 1
    return step


def legend_square(name: str, colour: str) -> go.Scatter:
    """A legend entry only: a coloured square named `name`, with no data to draw."""
    return go.Scatter(
        x=[None],
        y=[None],
        mode="markers",
        name=name,
        hoverinfo="skip",
        showlegend=True,
        marker={"symbol": "square", "size": 12, "color": colour},
    )


def _png_data_uri(image: np.ndarray) -> str:
    """A uint8 RGB/RGBA array as a PNG data URI: a light, byte-stable payload for `go.Image(source=...)`."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(
        buffer, format="PNG", compress_level=6
    )
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _finish(
    fig: go.Figure, title: str | None = None, height: int | None = None, **margin: int
) -> go.Figure:
    """Transparent backgrounds, title and margins shared by every figure."""
    edges = {"l": 10, "r": 10, "t": 50 if title else 30, "b": 10} | margin
    fig.update_layout(paper_bgcolor=TRANSPARENT, plot_bgcolor=TRANSPARENT, margin=edges)
    if title:
        fig.update_layout(title={"text": title, "x": 0.0, "xanchor": "left"})
    if height is not None:
        fig.update_layout(height=height)
    return fig


def _image_axes(
    fig: go.Figure,
    shape: tuple[int, int],
    row: int | None = None,
    col: int | None = None,
    anchor: str = "x",
    origin: float = 0.0,
) -> None:
    """Pixel axes: y downwards like an image, square pixels, no ticks (the hover gives coordinates)."""
    h, w = shape
    bare = {
        "showgrid": False,
        "zeroline": False,
        "showticklabels": False,
        "ticks": "",
        "constrain": "domain",
    }
    fig.update_xaxes(range=[origin - 0.5, origin + w - 0.5], **bare, row=row, col=col)
    fig.update_yaxes(
        range=[origin + h - 0.5, origin - 0.5],
        scaleanchor=anchor,
        scaleratio=1,
        **bare,
        row=row,
        col=col,
    )


def clickable_image(
    rgb: np.ndarray,
    marker: tuple[int, int] | None = None,
    pinned: Sequence[tuple[int, int]] = (),
    grid_step: int = 1,
    title: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """An image whose pixels can be clicked: a PNG image trace under an invisible Scattergl grid.

    Trace 0 is the image, trace GRID_TRACE the grid (every `grid_step` px, see `imaging.grid_axes`), then
    the numbered pinned pixels. The selected pixel is the grid's own selected point (`marker`, see
    `with_selected`): a click selects a point in the browser, which rings it without a new figure.
    Read clicks back with `imaging.pixel_from_selection(state, rgb.shape[:2], grid_step)`.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise SceneError(
            f"clickable_image needs a uint8 (rows, cols, 3) image; got {rgb.dtype} {rgb.shape}."
        )
    h, w = rgb.shape[:2]
    rows, cols = grid_axes((h, w), grid_step)
    grid_y = _compact(np.repeat(rows, cols.size))
    grid_x = _compact(np.tile(cols, rows.size))
    fig = go.Figure(
        go.Image(source=_png_data_uri(rgb), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip", name="image")
    )
    fig.add_trace(
        go.Scattergl(
            x=grid_x,
            y=grid_y,
            mode="markers",
            name="pixels",
            showlegend=False,
            # Invisible until selected; the selected point is drawn as a ring around the pixel.
            marker={
                "size": max(4, grid_step * 2),
                "opacity": 0,
                "color": SELECTED_COLOR,
                "symbol": "circle-open",
                "line": {"width": 3},
            },
            selected={"marker": {"opacity": 1, "size": 18}},
            unselected={"marker": {"opacity": 0}},
            hovertemplate="row %{y}, col %{x}<extra></extra>",
        )
    )
    if pinned:
        colours = [pin_color(i) for i in range(len(pinned))]
        fig.add_trace(
            go.Scatter(
                x=[c for _, c in pinned],
                y=[r for r, _ in pinned],
                mode="markers+text",
                name="pinned pixels",
                text=[str(i + 1) for i in range(len(pinned))],
                textposition="top right",
                textfont={"color": colours, "size": 14},
                marker={
                    "symbol": "circle-open",
                    "size": 12,
                    "color": colours,
                    "line": {"width": 2.5},
                },
                # A click selects a grid point and marks every other trace's points unselected: pins keep their
                # look (a selected text colour set keeps Plotly from dimming the unselected texts).
                selected={"textfont": {"color": colours[0]}},
                unselected={"marker": {"opacity": 1}},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    _image_axes(fig, (h, w))
    # An empty template: Plotly's default one is 7 KB that a picture without axes never shows, and copying
    # it costs 50 ms (see `with_selected`); Streamlit's theme still fills it in the browser.
    # `uirevision`: Plotly keeps a zoom through the chart's own redraws (a resize, a theme change).
    fig.update_layout(
        clickmode="event+select",
        dragmode="zoom",
        hovermode="closest",
        showlegend=False,
        template=go.layout.Template(),
        uirevision="scene",
    )
    if marker is not None:
        _select(fig, marker, (h, w), grid_step)
    return _finish(fig, title, height, l=0, r=0, b=0, t=40 if title else 0)


def with_selected(
    base: go.Figure, marker: tuple[int, int], grid_step: int = 1, revision: int = 0
) -> go.Figure:
    """`base` (a `clickable_image` without a marker, left unchanged) with the grid point of `marker` selected.

    The same figure as `clickable_image(..., marker=marker)`, in milliseconds: the image and the click grid
    are encoded once per scene view. `revision` (in `layout.meta`) makes a figure that differs from one with
    the same marker, for a browser whose own selection must be replaced. Built from a copy of `base`
    (`to_dict`): Plotly consumes the property dicts of trace objects handed to a new figure, so sessions
    building from one shared base's traces at once got each other's half-read traces.
    """
    fig = go.Figure(base.to_dict())
    x_range, y_range = fig.layout.xaxis.range, fig.layout.yaxis.range
    shape = (round(y_range[0] - y_range[1]), round(x_range[1] - x_range[0]))
    _select(fig, marker, shape, grid_step)
    if revision:
        fig.update_layout(meta={"revision": revision})
    return fig


def _select(
    fig: go.Figure, marker: tuple[int, int], shape: tuple[int, int], grid_step: int
) -> None:
    """Select the grid point of `marker`'s grid block (the pixel itself at step 1)."""
    h, w = shape
    r, c = min(max(marker[0], 0), h - 1), min(max(marker[1], 0), w - 1)
    n_cols = math.ceil(w / grid_step)
    fig.data[GRID_TRACE].selectedpoints = [(r // grid_step) * n_cols + c // grid_step]


def _compact(coordinates: np.ndarray) -> np.ndarray:
    """Pixel coordinates in the smallest unsigned type that holds them: Plotly sends arrays as typed bytes,
    so a 150×150 click grid goes over the wire in 60 KB as uint8 instead of 240 KB as int32."""
    for dtype in (np.uint8, np.uint16):
        if coordinates.size == 0 or coordinates.max() <= np.iinfo(dtype).max:
            return coordinates.astype(dtype)
    return coordinates.astype(np.int32)


def _band_widths(wavelengths: np.ndarray) -> np.ndarray:
    """Width of each band on the wavelength axis (spacing to its neighbours)."""
    if wavelengths.size < 2:
        return np.ones_like(wavelengths)
    return np.gradient(wavelengths)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open (lo, hi) index ranges of the consecutive True entries of a 1-D mask."""
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(lo), int(hi)) for lo, hi in zip(edges[::2], edges[1::2])]


def _check_bands(name: str, values: np.ndarray, n_bands: int) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (n_bands,):
        raise SceneError(
            f"{name} has shape {values.shape}; expected ({n_bands},), one value per band."
        )
    return values


def _add_planted(
    fig: go.Figure, wavelengths: np.ndarray, planted: np.ndarray, subplots: bool
) -> None:
    """Shade each planted band range (in every row) and add one 'planted bands' legend entry."""
    widths = _band_widths(wavelengths)
    for lo, hi in _runs(planted):
        x0 = wavelengths[lo] - widths[lo] / 2
        x1 = wavelengths[hi - 1] + widths[hi - 1] / 2
        extra = {"row": "all", "col": 1} if subplots else {}
        fig.add_vrect(
            x0=float(x0), x1=float(x1), fillcolor=PLANTED_FILL, line_width=0, layer="below", **extra
        )
    fig.add_trace(legend_square("planted bands", PLANTED_FILL))


def spectrum_figure(
    wavelengths: np.ndarray,
    spectra: Sequence[tuple[str, np.ndarray, str]],
    attention: np.ndarray | None = None,
    planted: np.ndarray | None = None,
    wavelengths_estimated: bool = False,
    band_hover: bool = True,
    value_title: str = "Value",
    height: int | None = None,
    attention_share: float = 0.35,
) -> go.Figure:
    """Spectra (label, values, colour) against wavelength, with the spectral attention α as bars underneath.

    Both rows share the wavelength axis so a peak in α lines up with the bands it weighs;
    planted band ranges (bool mask) are shaded in both rows. `height` (px, default: the viewer's) and
    `attention_share` (α's part of the plot height) let a projector fit both rows on one screen.
    """
    wl = np.asarray(wavelengths, dtype=np.float64)
    n_bands = wl.size
    bands = np.arange(n_bands)
    approx = "≈" if wavelengths_estimated else ""
    where = (
        f"band %{{customdata}} · {approx}%{{x:.1f}} nm" if band_hover else f"{approx}%{{x:.1f}} nm"
    )
    with_attention = attention is not None
    if with_attention:
        fig = make_subplots(
            rows=2,
            cols=1,
            shared_xaxes=True,
            row_heights=[1 - attention_share, attention_share],
            vertical_spacing=0.06,
        )
    else:
        fig = go.Figure()
    top = {"row": 1, "col": 1} if with_attention else {}
    for label, values, colour in spectra:
        fig.add_trace(
            go.Scatter(
                x=wl,
                y=_check_bands(f"spectrum {label!r}", values, n_bands),
                customdata=bands,
                mode="lines",
                name=label,
                line={"color": colour, "width": 2},
                hovertemplate=f"%{{fullData.name}}<br>{where}<br>%{{y:.4g}}<extra></extra>",
            ),
            **top,
        )
    if with_attention:
        fig.add_trace(
            go.Bar(
                x=wl,
                y=_check_bands("attention", attention, n_bands),
                width=_band_widths(wl),
                customdata=bands,
                name="spectral attention α",
                marker={"color": ATTENTION_COLOR, "line": {"width": 0}},
                hovertemplate=f"{where}<br>α = %{{y:.4f}}<extra></extra>",
            ),
            row=2,
            col=1,
        )
        fig.update_yaxes(title_text=value_title, row=1, col=1)
        fig.update_yaxes(title_text="Attention α", rangemode="tozero", row=2, col=1)
        fig.update_xaxes(title_text=wavelength_title(wavelengths_estimated), row=2, col=1)
    else:
        fig.update_yaxes(title_text=value_title)
        fig.update_xaxes(title_text=wavelength_title(wavelengths_estimated))
    if planted is not None:
        _add_planted(
            fig, wl, _check_bands("planted", planted, n_bands).astype(bool), subplots=with_attention
        )
    fig.update_layout(
        hovermode="closest",
        bargap=0,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0.0},
    )
    return _finish(fig, height=height, l=60, b=50, t=40)


def with_spectrum(
    frame: go.Figure, label: str, values: np.ndarray, attention: np.ndarray | None = None
) -> go.Figure:
    """`frame` (a `spectrum_figure` of one spectrum, left unchanged) showing another spectrum and its α.

    The same figure as `spectrum_figure` with this spectrum, in a few milliseconds instead of tens: the
    subplots, axes and planted-band shading are built once per scene and model, a click sets the two traces.
    """
    spec = frame.to_dict()
    x = spec["data"][0][
        "x"
    ]  # a typed-array spec ({"dtype": "f8", "bdata": ...}) once through to_dict
    n_bands = (
        len(base64.b64decode(x["bdata"])) // np.dtype(x["dtype"]).itemsize
        if "bdata" in x
        else len(x)
    )
    fig = go.Figure(spec, _validate=False)  # the frame was validated when built: 2 ms instead of 11
    fig.data[0].update(name=label, y=_check_bands(f"spectrum {label!r}", values, n_bands))
    if attention is not None:
        fig.data[1].update(y=_check_bands("attention", attention, n_bands))
    return fig


def class_attention_figure(
    wavelengths: np.ndarray,
    class_attention: np.ndarray,
    class_names: Sequence[str],
    class_colors: Sequence[str],
    planted: np.ndarray | None = None,
    wavelengths_estimated: bool = False,
) -> go.Figure:
    """Mean spectral attention per class (C, B) against wavelength: which bands each class relies on."""
    wl = np.asarray(wavelengths, dtype=np.float64)
    att = np.asarray(class_attention)
    if att.shape != (len(class_names), wl.size):
        raise SceneError(
            f"class_attention has shape {att.shape}; expected ({len(class_names)}, {wl.size}) = (classes, bands)."
        )
    approx = "≈" if wavelengths_estimated else ""
    fig = go.Figure()
    for name, colour, curve in zip(class_names, class_colors, att):
        fig.add_trace(
            go.Scatter(
                x=wl,
                y=curve,
                customdata=np.arange(wl.size),
                mode="lines",
                name=name,
                line={"color": colour, "width": 2},
                hovertemplate=f"%{{fullData.name}}<br>band %{{customdata}} · {approx}%{{x:.1f}} nm"
                "<br>α = %{y:.4f}<extra></extra>",
            )
        )
    if planted is not None:
        _add_planted(
            fig, wl, _check_bands("planted", planted, wl.size).astype(bool), subplots=False
        )
    fig.update_xaxes(title_text=wavelength_title(wavelengths_estimated))
    fig.update_yaxes(title_text="Mean attention α", rangemode="tozero")
    fig.update_layout(hovermode="closest")
    return _finish(fig, l=60, b=50)


def probability_figure(
    proba: np.ndarray, class_names: Sequence[str], class_colors: Sequence[str], predicted: int
) -> go.Figure:
    """Horizontal bars of the class probabilities; `predicted` is the class label (1..C), drawn solid and bold."""
    n = len(class_names)
    p = _check_probabilities(proba, n, predicted)
    fig = go.Figure(
        go.Bar(
            x=p,
            y=list(range(n)),
            orientation="h",
            customdata=list(class_names),
            marker={"color": list(class_colors), "opacity": _bar_opacity(n, predicted)},
            texttemplate="%{x:.1%}",
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{customdata}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Probability", range=[0, 1.15], tickformat=".0%")
    fig.update_yaxes(
        tickvals=list(range(n)), ticktext=_bold(class_names, predicted), autorange="reversed"
    )
    fig.update_layout(showlegend=False)
    return _finish(fig, height=80 + 26 * n, l=10, b=45, t=10)


def with_probabilities(frame: go.Figure, proba: np.ndarray, predicted: int) -> go.Figure:
    """`frame` (a `probability_figure` of the same classes, left unchanged) showing these probabilities: the
    same figure as `probability_figure`, in a millisecond instead of ten (the frame was validated when built)."""
    spec = frame.to_dict()
    names = spec["data"][0]["customdata"]
    p = _check_probabilities(proba, len(names), predicted)
    fig = go.Figure(spec, _validate=False)
    fig.data[0].x = p
    fig.data[0].marker.opacity = _bar_opacity(len(names), predicted)
    fig.layout.yaxis.ticktext = _bold(names, predicted)
    return fig


def _check_probabilities(proba: np.ndarray, n: int, predicted: int) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.shape != (n,):
        raise SceneError(f"proba has shape {p.shape}; expected ({n},), one probability per class.")
    if not 1 <= predicted <= n:
        raise SceneError(
            f"predicted must be a class label in 1..{n} (labels start at 1); got {predicted}."
        )
    return p


def _bar_opacity(n: int, predicted: int) -> list[float]:
    """The predicted class's bar solid, the others faded."""
    return [1.0 if i + 1 == predicted else 0.45 for i in range(n)]


def _bold(class_names: Sequence[str], predicted: int) -> list[str]:
    return [f"<b>{name}</b>" if i + 1 == predicted else name for i, name in enumerate(class_names)]


def spatial_attention_figure(
    patch_rgb: np.ndarray, mask: np.ndarray, overlay_opacity: float = 0.5, stretch: bool = False
) -> go.Figure:
    """The patch around a pixel, its spatial attention mask and the two overlaid; centre pixel marked.

    Axes are offsets from the centre pixel, so the hover reads Δrow/Δcol. The colour scale is
    0..1, or the mask's own range with `stretch` (a trained mask often spans only ~0.4-0.6).
    """
    p = patch_rgb.shape[0]
    if patch_rgb.shape != (p, p, 3) or patch_rgb.dtype != np.uint8 or np.shape(mask) != (p, p):
        raise SceneError(
            f"spatial_attention_figure needs a uint8 (p, p, 3) patch and a (p, p) mask; "
            f"got {patch_rgb.dtype} {patch_rgb.shape} and {np.shape(mask)}."
        )
    if not 0.0 <= overlay_opacity <= 1.0:
        raise SceneError(f"overlay_opacity must lie in 0..1; got {overlay_opacity}.")
    half = p // 2
    at = {"x0": -half, "y0": -half, "dx": 1, "dy": 1}
    offsets = "Δrow %{y}, Δcol %{x}"
    fig = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.04,
        subplot_titles=("Patch (false colour)", "Mask", "Overlay"),
    )
    z = np.asarray(mask, dtype=np.float64)
    zmin, zmax = (float(z.min()), float(z.max())) if stretch and z.max() > z.min() else (0.0, 1.0)

    def heatmap(opacity: float, showscale: bool) -> go.Heatmap:
        return go.Heatmap(
            z=z,
            **at,
            colorscale="Viridis",
            zmin=zmin,
            zmax=zmax,
            opacity=opacity,
            showscale=showscale,
            name="mask",
            colorbar={"title": {"text": "mask"}, "thickness": 12, "len": 0.9},
            hovertemplate=f"{offsets}<br>mask %{{z:.3f}}<extra></extra>",
        )

    image_hover = f"{offsets}<extra></extra>"
    fig.add_trace(
        go.Image(z=patch_rgb, **at, name="patch", hovertemplate=image_hover), row=1, col=1
    )
    fig.add_trace(heatmap(1.0, True), row=1, col=2)
    fig.add_trace(
        go.Image(z=patch_rgb, **at, name="patch", hovertemplate=image_hover), row=1, col=3
    )
    fig.add_trace(heatmap(overlay_opacity, False), row=1, col=3)
    for col in (1, 2, 3):
        fig.add_trace(
            go.Scatter(
                x=[0],
                y=[0],
                mode="markers",
                name="centre pixel",
                hovertemplate="centre pixel<extra></extra>",
                marker={
                    "symbol": "square-open",
                    "size": 12,
                    "color": "#ff2d55",
                    "line": {"width": 2.5},
                },
            ),
            row=1,
            col=col,
        )
        _image_axes(
            fig, (p, p), row=1, col=col, anchor="x" if col == 1 else f"x{col}", origin=-half
        )
    fig.update_layout(showlegend=False)
    return _finish(fig, l=10, r=10, b=10, t=40)


def class_masks_figure(masks: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """Mean spatial masks per class (C, p, p) as a grid of tiles, four a row, each titled by its class; classes
    without a mask (NaN) are left out."""
    import plotly.express as px

    size = masks.shape[-1]
    half = size // 2
    shown = [i for i in range(len(class_names)) if np.isfinite(masks[i]).all()]
    wrap = 4
    rows = (len(shown) - 1) // wrap + 1
    # Titles sit above each tile with room for two lines: the rows are spaced apart for them.
    fig = px.imshow(
        masks[shown],
        facet_col=0,
        facet_col_wrap=wrap,
        facet_row_spacing=0.5 / rows,
        facet_col_spacing=0.04,
        color_continuous_scale="Viridis",
        x=np.arange(-half, half + 1),
        y=np.arange(-half, half + 1),
        labels={"x": "Δcol", "y": "Δrow", "color": "mask"},
        aspect="equal",
    )
    for annotation in fig.layout.annotations:
        annotation.text = class_names[shown[int(annotation.text.split("=")[1])]].replace(
            ", ", ",<br>"
        )
        annotation.update(yanchor="bottom", font={"size": 12})
    fig.update_xaxes(showticklabels=False, title_text="")
    fig.update_yaxes(showticklabels=False, title_text="")
    fig.update_layout(
        height=80 + 250 * rows,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        paper_bgcolor=TRANSPARENT,
        plot_bgcolor=TRANSPARENT,
    )
    return fig


def confusion_matrix_figure(
    cm: np.ndarray, class_names: Sequence[str], normalise: bool = False, title: str | None = None
) -> go.Figure:
    """Confusion matrix heatmap (rows true, columns predicted), cells annotated; row-normalised on request."""
    counts = np.asarray(cm)
    n = len(class_names)
    if counts.shape != (n, n):
        raise SceneError(
            f"confusion matrix has shape {counts.shape}; expected ({n}, {n}) for {n} classes."
        )
    row_sums = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(
        counts, row_sums, out=np.zeros(counts.shape, dtype=np.float64), where=row_sums > 0
    )
    names = list(class_names)
    # Readable cells: empty cells stay blank, shares are whole percents ("<1%" rather than "0%"), and the
    # heatmap's own text colouring keeps light text on dark cells and dark text on light ones.
    shown = np.round(100 * fractions).astype(int)
    labels = np.where(
        counts == 0,
        "",
        np.where(shown == 0, "<1%", np.char.add(shown.astype(str), "%"))
        if normalise
        else counts.astype(str),
    )
    fig = go.Figure(
        go.Heatmap(
            z=fractions if normalise else counts,
            x=names,
            y=names,
            colorscale="Viridis",
            zmin=0,
            zmax=1 if normalise else max(1, int(counts.max(initial=0))),
            customdata=np.stack([counts, fractions], axis=-1),
            text=labels,
            texttemplate="%{text}",
            textfont={"size": 13 if n <= 12 else 10},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata[0]:d} pixels "
            "(%{customdata[1]:.1%} of the true class)<extra></extra>",
            colorbar={
                "title": {"text": "share of row" if normalise else "pixels"},
                "thickness": 12,
            },
        )
    )
    fig.update_xaxes(title_text="Predicted class", type="category", constrain="domain")
    fig.update_yaxes(
        title_text="True class",
        type="category",
        autorange="reversed",
        scaleanchor="x",
        scaleratio=1,
        constrain="domain",
    )
    return _finish(fig, title, l=10, b=10)


def class_map_figure(
    class_map: np.ndarray,
    class_names: Sequence[str],
    class_colors: Sequence[str],
    title: str | None = None,
) -> go.Figure:
    """A class map (0 = unlabelled, shown transparent) with a legend of class names and colours."""
    rgb = colorize_labels(class_map, class_colors)
    alpha = np.where(np.asarray(class_map) > 0, 255, 0).astype(np.uint8)
    fig = go.Figure(
        go.Image(
            source=_png_data_uri(np.dstack([rgb, alpha])),
            x0=0,
            y0=0,
            dx=1,
            dy=1,
            hoverinfo="skip",
            name="class map",
        )
    )
    for name, colour in zip(class_names, class_colors):
        fig.add_trace(legend_square(name, colour))
    _image_axes(fig, np.shape(class_map))
    fig.update_layout(legend={"itemclick": False, "itemdoubleclick": False})
    return _finish(fig, title, l=0, b=0, t=40 if title else 0)


def split_map_figure(
    rgb: np.ndarray,
    roles: np.ndarray,
    role_names: Sequence[str],
    role_colours: Sequence[str],
    counts: Sequence[int] | None = None,
    title: str | None = None,
    opacity: float = 0.75,
) -> go.Figure:
    """Where the split's pixels lie: roles (1..R; 0 = none) in their colours over a greyed copy of the image."""
    grey = np.repeat(np.asarray(rgb, np.float32).mean(axis=2, keepdims=True), 3, axis=2)
    grey = (0.35 * grey + 0.65 * 255 * 0.5).astype(np.uint8)  # muted, so the roles stand out
    image = blend(grey, colorize_labels(roles, role_colours), np.asarray(roles) > 0, opacity)
    fig = go.Figure(
        go.Image(
            source=_png_data_uri(image), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip", name="split"
        )
    )
    for i, (name, colour) in enumerate(zip(role_names, role_colours)):
        label = name if counts is None else f"{name} ({counts[i]:,})"
        fig.add_trace(legend_square(label, colour))
    _image_axes(fig, np.shape(roles))
    fig.update_layout(legend={"itemclick": False, "itemdoubleclick": False})
    return _finish(fig, title, l=0, b=0, t=40 if title else 0)


def training_curve_figure(history: Sequence[dict]) -> go.Figure:
    """Training loss (left axis) and validation accuracy (right axis, %) against iteration.

    Entries: {"iteration", "loss", "val_accuracy"} with val_accuracy a fraction in 0..1, or None/absent
    on steps without evaluation.
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    loss_steps = [h for h in history if h.get("loss") is not None]
    val_steps = [h for h in history if h.get("val_accuracy") is not None]
    for h in val_steps:
        if not 0.0 <= h["val_accuracy"] <= 1.0:
            raise SceneError(
                f"val_accuracy at iteration {h.get('iteration')} is {h['val_accuracy']}; expected a fraction in 0..1."
            )
    fig.add_trace(
        go.Scatter(
            x=[h["iteration"] for h in loss_steps],
            y=[float(h["loss"]) for h in loss_steps],
            mode="lines",
            name="training loss",
            line={"color": "#1f77b4", "width": 2},
            hovertemplate="iteration %{x}<br>loss %{y:.4f}<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=[h["iteration"] for h in val_steps],
            y=[float(h["val_accuracy"]) for h in val_steps],
            mode="lines+markers",
            name="validation accuracy",
            line={"color": "#ff7f0e", "width": 2},
            hovertemplate="iteration %{x}<br>validation accuracy %{y:.2%}<extra></extra>",
        ),
        secondary_y=True,
    )
    fig.update_xaxes(title_text="Iteration")
    fig.update_yaxes(title_text="Loss", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(
        title_text="Validation accuracy (%)",
        tickformat=".0%",
        range=[0, 1.02],
        showgrid=False,
        secondary_y=True,
    )
    if not history:
        fig.add_annotation(
            text="no training steps yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5
        )
    fig.update_layout(
        hovermode="x", legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0.0}
    )
    return _finish(fig, l=60, r=60, b=50, t=40)


def class_counts_figure(
    counts: np.ndarray,
    class_names: Sequence[str],
    class_colors: Sequence[str],
    split_counts: dict[str, np.ndarray] | None = None,
) -> go.Figure:
    """Labelled pixels per class; with `split_counts` ({"train": (C,), ...}) the bars stack the splits."""
    n = len(class_names)
    total = _check_bands("counts", counts, n)
    names = list(class_names)
    fig = go.Figure()
    if split_counts:
        for i, (split, values) in enumerate(split_counts.items()):
            fig.add_trace(
                go.Bar(
                    x=names,
                    y=_check_bands(f"split_counts[{split!r}]", values, n),
                    name=split,
                    marker={"color": SPLIT_COLORS.get(split, PALETTE[i % len(PALETTE)])},
                    hovertemplate="%{x}<br>%{fullData.name}: %{y} pixels<extra></extra>",
                )
            )
        fig.update_layout(
            barmode="stack", legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0.0}
        )
    else:
        fig.add_trace(
            go.Bar(
                x=names,
                y=total,
                name="labelled pixels",
                marker={"color": list(class_colors)},
                showlegend=False,
                texttemplate="%{y}",
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{x}: %{y} pixels<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="Class", type="category")
    fig.update_yaxes(title_text="Labelled pixels", rangemode="tozero")
    return _finish(fig, l=60, b=50, t=40)


def _fraction(row: dict, key: str) -> float | None:
    """row[key] as a float in 0..1, None when absent."""
    value = row.get(key)
    if value is None:
        return None
    if not 0.0 <= float(value) <= 1.0:
        raise SceneError(
            f"metrics row {row.get('model')!r}: {key} = {value}; expected a fraction in 0..1 "
            "(divide percentages, such as the paper's values in ssan.evaluation.reference, by 100)."
        )
    return float(value)


def metrics_comparison_figure(rows: Sequence[dict]) -> go.Figure:
    """Grouped bars of OA, AA and κ (fractions 0..1, drawn as %) per model; optional "paper_oa"/"paper_aa"/
    "paper_kappa" entries are drawn as hollow markers labelled "paper (reported)" on the matching bar."""
    width = 0.26
    models = [str(row["model"]) for row in rows]
    paper_x: list[float] = []
    paper_y: list[float] = []
    paper_info: list[list[str]] = []
    fig = go.Figure()
    for j, ((key, label, unit), colour) in enumerate(zip(METRICS, METRIC_COLORS)):
        offset = (j - 1) * width
        xs, ys, who = [], [], []
        for i, row in enumerate(rows):
            value, paper = _fraction(row, key), _fraction(row, f"paper_{key}")
            if value is not None:
                xs.append(i + offset)
                ys.append(100.0 * value)
                who.append(models[i])
            if paper is not None:
                paper_x.append(i + offset)
                paper_y.append(100.0 * paper)
                paper_info.append([models[i], label, unit])
        fig.add_trace(
            go.Bar(
                x=xs,
                y=ys,
                width=width,
                name=label,
                customdata=who,
                marker={"color": colour},
                hovertemplate=f"%{{customdata}}<br>{label}: %{{y:.2f}}{unit}<extra></extra>",
            )
        )
    if paper_x:
        fig.add_trace(
            go.Scatter(
                x=paper_x,
                y=paper_y,
                mode="markers",
                name=PAPER_LABEL,
                customdata=paper_info,
                marker={
                    "symbol": "diamond-open",
                    "size": 13,
                    "color": PAPER_COLOR,
                    "line": {"width": 2.5},
                },
                hovertemplate="%{customdata[0]}<br>%{customdata[1]}, "
                + PAPER_LABEL
                + ": %{y:.2f}%{customdata[2]}"
                "<extra></extra>",
            )
        )
    if not rows:
        fig.add_annotation(
            text="no results yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5
        )
    fig.update_xaxes(
        title_text="Model",
        tickvals=list(range(len(models))),
        ticktext=models,
        range=[-0.6, max(len(models), 1) - 0.4],
    )
    fig.update_yaxes(title_text="Score (%)", range=[0, 102])
    fig.update_layout(legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0.0})
    return _finish(fig, l=60, b=50, t=40)
