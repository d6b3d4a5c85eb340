"""Plotly figures of the explanation tests. Each takes a `provenance` line (model, split, pixels) and
shows it under its title, so a figure never travels without saying what it was computed on."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ssan.explain.attributions import METHODS
from ssan.explain.branches import DECIDERS
from ssan.explain.deletion import RANDOM, DeletionCurves
from ssan.explain.report import ATTENTION, DISTANCE, RANKING_LABELS, REVERSED
from ui.figures import (
    ATTENTION_COLOR,
    PLANTED_FILL,
    TRANSPARENT,
    class_map_figure,
    legend_square,
    wavelength_title,
)

METHOD_COLORS = {"ig": "#e45756", "ixg": "#f58518", "occlusion": "#54a24b"}
RANKING_STYLE = {
    ATTENTION: (ATTENTION_COLOR, "solid", 3.5),
    REVERSED: (ATTENTION_COLOR, "dot", 2),
    RANDOM: ("#7f7f7f", "dash", 2.5),
    DISTANCE: ("#4c78a8", "dashdot", 2),
    **{m: (c, "solid", 2) for m, c in METHOD_COLORS.items()},
}
DECIDER_COLORS = {
    "both": "#9467bd",
    "spectral": "#e45756",
    "spatial": "#4c78a8",
    "either": "#bab0ac",
}
DECIDER_LABELS = {
    "both": "both branches needed",
    "spectral": "spectral branch",
    "spatial": "spatial branch",
    "either": "either branch alone",
}


def _finish(fig: go.Figure, title: str, provenance: str, height: int | None = None) -> go.Figure:
    fig.update_layout(
        title={"text": f"{title}<br><sup>{provenance}</sup>", "x": 0.0, "xanchor": "left"},
        paper_bgcolor=TRANSPARENT,
        plot_bgcolor=TRANSPARENT,
        margin={"l": 60, "r": 10, "t": 80, "b": 50},
    )
    if not fig.layout.legend.orientation:
        fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0.0})
    if height is not None:
        fig.update_layout(height=height)
    return fig


def _relative(values: np.ndarray) -> np.ndarray:
    """Scaled to the largest magnitude (1), so curves of different units share one axis."""
    values = np.asarray(values, dtype=np.float64)
    top = np.abs(values).max()
    return values / top if top > 0 else values


def pixel_bands_figure(
    wavelengths: np.ndarray,
    alpha: np.ndarray,
    attributions: dict[str, np.ndarray],
    provenance: str,
    planted: np.ndarray | None = None,
    wavelengths_estimated: bool = False,
) -> go.Figure:
    """One pixel's α and its per-band attributions on one wavelength axis, each scaled to its own maximum."""
    wl = np.asarray(wavelengths, dtype=np.float64)
    fig = go.Figure()
    if planted is not None and planted.any():
        edges = np.flatnonzero(np.diff(np.concatenate([[0], planted.astype(np.int8), [0]])))
        step = np.gradient(wl) / 2
        for lo, hi in zip(edges[::2], edges[1::2]):
            fig.add_vrect(
                x0=float(wl[lo] - step[lo]),
                x1=float(wl[hi - 1] + step[hi - 1]),
                fillcolor=PLANTED_FILL,
                line_width=0,
                layer="below",
            )
        fig.add_trace(legend_square("planted bands", PLANTED_FILL))
    fig.add_trace(
        go.Bar(
            x=wl,
            y=_relative(alpha),
            width=np.gradient(wl),
            name="attention α",
            marker={"color": ATTENTION_COLOR, "line": {"width": 0}},
            opacity=0.6,
            customdata=np.column_stack([np.arange(wl.size), alpha]),
            hovertemplate="band %{customdata[0]} · %{x:.1f} nm<br>α = %{customdata[1]:.4f}<extra></extra>",
        )
    )
    for method, values in attributions.items():
        fig.add_trace(
            go.Scatter(
                x=wl,
                y=_relative(values),
                mode="lines",
                name=METHODS[method],
                line={"color": METHOD_COLORS[method], "width": 2},
                customdata=np.column_stack([np.arange(wl.size), values]),
                hovertemplate=f"{METHODS[method]}<br>band %{{customdata[0]}} · %{{x:.1f}} nm"
                "<br>%{customdata[1]:.4g}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text=wavelength_title(wavelengths_estimated))
    fig.update_yaxes(title_text="Relative (each ÷ its largest magnitude)", zeroline=True)
    fig.update_layout(bargap=0, hovermode="closest")
    return _finish(fig, "Attention and attributions per band", provenance, height=420)


def pixel_patch_figure(
    mask: np.ndarray, attributions: dict[str, np.ndarray], provenance: str
) -> go.Figure:
    """The spatial mask beside each method's patch attribution (summed over components), offsets from the centre."""
    p = mask.shape[0]
    half = p // 2
    panels = [("Spatial mask", mask, "Viridis", None)] + [
        (METHODS[m], a, "RdBu", float(np.abs(a).max()) or 1.0) for m, a in attributions.items()
    ]
    fig = make_subplots(
        rows=1, cols=len(panels), subplot_titles=[t for t, *_ in panels], horizontal_spacing=0.03
    )
    for col, (title, z, scale, bound) in enumerate(panels, start=1):
        limits = {"zmin": -bound, "zmax": bound, "zmid": 0} if bound is not None else {}
        fig.add_trace(
            go.Heatmap(
                z=z,
                x0=-half,
                dx=1,
                y0=-half,
                dy=1,
                colorscale=scale,
                showscale=False,
                name=title,
                hovertemplate=f"{title}<br>Δrow %{{y}}, Δcol %{{x}}<br>%{{z:.4g}}<extra></extra>",
                **limits,
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(showticklabels=False, constrain="domain", row=1, col=col)
        fig.update_yaxes(
            showticklabels=False,
            autorange="reversed",
            scaleanchor=f"x{'' if col == 1 else col}",
            row=1,
            col=col,
        )
    fig.update_layout(showlegend=False)
    return _finish(
        fig,
        "Spatial mask and patch attributions (red: for the predicted class, blue: against)",
        provenance,
        height=330,
    )


def deletion_figure(curves: DeletionCurves, provenance: str) -> go.Figure:
    """Mean probability of the originally predicted class and accuracy as the top-ranked inputs are deleted."""
    what = "bands" if curves.kind == "spectral" else "neighbours"
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Probability of the predicted class", "Accuracy"),
        horizontal_spacing=0.08,
    )
    x = 100 * curves.fractions
    for name in curves.rankings:
        colour, dash, width = RANKING_STYLE[name]
        area = curves.area(name)
        label = f"{RANKING_LABELS[name]} (area {area.mean:.2f})"
        for col, y in ((1, curves.mean_probability(name)), (2, curves.accuracy(name))):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines+markers",
                    name=label,
                    legendgroup=name,
                    showlegend=col == 1,
                    marker={"size": 4},
                    line={"color": colour, "dash": dash, "width": width},
                    hovertemplate=f"{RANKING_LABELS[name]}<br>%{{x:.0f}}% of the {what} deleted"
                    "<br>%{y:.3f}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text=f"{what.capitalize()} deleted, most important first (%)")
    fig.update_yaxes(range=[0, 1.02])
    held = "the patch left as it is" if curves.kind == "spectral" else "the spectrum left as it is"
    return _finish(
        fig,
        f"Deletion curves over the {what} ({held}; deleted = training mean)",
        provenance,
        height=460,
    )


def branch_map_figure(decider_map: np.ndarray, provenance: str) -> go.Figure:
    """The scene coloured by which SSAN branch decided each pixel (-1 = not tested, transparent)."""
    names = [DECIDER_LABELS[d] for d in DECIDERS]
    fig = class_map_figure(
        np.asarray(decider_map) + 1, names, [DECIDER_COLORS[d] for d in DECIDERS]
    )
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.02, "x": 0.0})
    return _finish(fig, "Which branch decided each labelled pixel", provenance, height=540)


def branch_shares_figure(
    shares: np.ndarray, class_names: Sequence[str], provenance: str
) -> go.Figure:
    """Stacked bars: per class, the share of its pixels decided by each branch (classes without pixels left out)."""
    keep = [i for i in range(len(class_names)) if np.isfinite(shares[i]).all()]
    fig = go.Figure()
    for k, name in enumerate(DECIDERS):
        fig.add_trace(
            go.Bar(
                y=[class_names[i] for i in keep],
                x=shares[keep, k],
                orientation="h",
                name=DECIDER_LABELS[name],
                marker={"color": DECIDER_COLORS[name]},
                hovertemplate=f"%{{y}}<br>{DECIDER_LABELS[name]}: %{{x:.0%}}<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="Share of the class's pixels", tickformat=".0%", range=[0, 1])
    fig.update_yaxes(autorange="reversed")
    # A half-width column: the provenance wrapped (one line is cut at the figure's edge), and the legend
    # at the figure's foot, below the axis title rather than on it (two rows when the names need them).
    lines = textwrap.wrap(provenance, 60, break_long_words=False, break_on_hyphens=False)
    fig = _finish(
        fig,
        "Which branch decided, per class",
        "<br>".join(lines),
        height=200 + 22 * len(lines) + 28 * len(keep),
    )
    fig.update_layout(
        legend={"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom", "x": 0.0},
        margin={"t": 56 + 22 * len(lines), "b": 105},
    )
    return fig


def agreement_figure(
    by_class: list[np.ndarray], class_names: Sequence[str], method: str, kind: str, provenance: str
) -> go.Figure:
    """Box plots per class of the per-pixel Spearman correlation between attention and one attribution."""
    fig = go.Figure()
    for name, values in zip(class_names, by_class):
        if values.size:
            fig.add_trace(
                go.Box(
                    x=values,
                    name=name,
                    boxpoints=False,
                    marker={"color": ATTENTION_COLOR},
                    showlegend=False,
                )
            )
    fig.add_vline(x=0, line={"color": "#7f7f7f", "dash": "dot"})
    attention = "α" if kind == "spectral" else "the spatial mask"
    fig.update_xaxes(
        title_text=f"Spearman correlation of {attention} with {METHODS[method]}", range=[-1, 1]
    )
    fig.update_yaxes(autorange="reversed")
    return _finish(
        fig, f"Agreement per class ({kind})", provenance, height=140 + 28 * len(fig.data)
    )
