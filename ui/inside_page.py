"""The "Inside SSAN" page: one pixel's forward pass drawn stage by stage, each stage's formula with the
pixel's own numbers, and what-if edits traced beside the original."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots
from streamlit.delta_generator import DeltaGenerator

from ssan.data.scene import Scene
from ssan.inference.trace import Trace
from ssan.inference.whatif import BAND_FILLS, BandEdit, Occlusion, WhatIf, what_if
from ssan.models.fitted import FittedModel
from ui import page
from ui.page import Context
from ui.viewer import class_name, clickable_scene

ORIGINAL, EDITED = "#1f77b4", "#d62728"
HEATMAP = "Viridis"

# What each stage is, in one line, for students who never saw a GRU (shown under the overview).
STAGE_WORDS = {
    "spectral": "**Spectral branch**: a bidirectional GRU reads the spectrum band by band; attention α "
    "weighs its states; their weighted sum is classified.",
    "spatial": "**Spatial branch**: a 1×1 convolution turns each neighbour's components into a mask "
    "weight; the masked patch goes through two convolutions and a fully connected layer.",
    "fusion": "**Fusion**: each branch's class scores pass through one shared layer; a joint layer "
    "weighs the two and gives the probabilities.",
}


def overview_figure(
    trace: Trace, scene: Scene, edited: Trace | None = None, height: int = 330
) -> go.Figure:
    """The paper's figure for this pixel: the spectral branch above, the spatial branch below, the fused
    probabilities on the right; `edited` adds the what-if trace in red beside the original."""
    spectral, spatial = "spectral.spectrum" in trace, "spatial.patch" in trace
    rows = [r for r, on in (("spectral", spectral), ("spatial", spatial)) if on]
    titles = {
        "spectral": (
            "spectrum x",
            "BiGRU states g",
            "α = softmax(e)" if "spectral.alpha" in trace else "pooled states (no attention)",
            "spectral scores",
        ),
        "spatial": (
            "patch (PC 1)",
            "mask m" if "spatial.mask" in trace else "(no mask)",
            "conv 2 maps (pooled)",
            "spatial scores",
        ),
    }
    subplot_titles = [t for r in rows for t in titles[r]]
    fig = make_subplots(
        rows=len(rows),
        cols=5,
        specs=[
            [{}, {}, {}, {}, {"rowspan": len(rows)} if i == 0 else None] for i in range(len(rows))
        ],
        subplot_titles=[*subplot_titles[:4], "probabilities", *subplot_titles[4:]],
        column_widths=[1, 1, 1, 1, 0.7],
        horizontal_spacing=0.045,
        vertical_spacing=0.2,
    )
    wl = np.asarray(scene.wavelengths)
    for i, branch in enumerate(rows, start=1):
        if branch == "spectral":
            _spectral_row(fig, i, trace, wl, edited)
        else:
            _spatial_row(fig, i, trace, edited)
    classes = list(scene.class_names)
    for t, colour, name in ((trace, ORIGINAL, "original"), (edited, EDITED, "edited")):
        if t is not None:
            bars = go.Bar(
                y=classes, x=t.probabilities, orientation="h", marker_color=colour, name=name
            )
            fig.add_trace(bars, row=1, col=5)
    fig.update_yaxes(autorange="reversed", side="right", row=1, col=5, tickfont={"size": 10})
    fig.update_xaxes(range=[0, 1], row=1, col=5)
    fig.update_layout(
        height=height * len(rows) // 2 + 60,
        margin={"l": 10, "r": 170, "t": 30, "b": 10},
        showlegend=False,
        barmode="group",
    )
    fig.update_annotations(font_size=12)
    return fig


def _spectral_row(
    fig: go.Figure, row: int, trace: Trace, wl: np.ndarray, edited: Trace | None
) -> None:
    for t, colour in ((trace, ORIGINAL), (edited, EDITED)):
        if t is None:
            continue
        fig.add_trace(go.Scatter(x=wl, y=t["spectral.spectrum"], line_color=colour), row=row, col=1)
        if "spectral.alpha" in t:
            fig.add_trace(
                go.Scatter(x=wl, y=t["spectral.alpha"], line_color=colour), row=row, col=3
            )
        fig.add_trace(go.Bar(y=t["spectral.class_scores"], marker_color=colour), row=row, col=4)
    for col in (1, 2, 3):
        fig.update_xaxes(nticks=3, tickangle=0, row=row, col=col)
    states = trace["spectral.states"]
    fig.add_trace(
        go.Heatmap(z=states.T, x=wl, colorscale="RdBu", zmid=0, showscale=False), row=row, col=2
    )
    if "spectral.alpha" not in trace:
        pooled = trace["spectral.pooled"]
        fig.add_trace(go.Bar(y=pooled, marker_color=ORIGINAL), row=row, col=3)


def _spatial_row(fig: go.Figure, row: int, trace: Trace, edited: Trace | None) -> None:
    shown = edited if edited is not None else trace
    fig.add_trace(
        go.Heatmap(z=shown["spatial.patch"][0], colorscale="Greys", showscale=False), row=row, col=1
    )
    if "spatial.mask" in shown:
        fig.add_trace(
            go.Heatmap(
                z=shown["spatial.mask"], colorscale=HEATMAP, zmin=0.27, zmax=0.73, showscale=False
            ),
            row=row,
            col=2,
        )
    fig.add_trace(
        go.Heatmap(z=montage(shown["spatial.pool2"]), colorscale=HEATMAP, showscale=False),
        row=row,
        col=3,
    )
    for t, colour in ((trace, ORIGINAL), (edited, EDITED)):
        if t is not None:
            fig.add_trace(go.Bar(y=t["spatial.class_scores"], marker_color=colour), row=row, col=4)
    for col in (1, 2, 3):
        fig.update_yaxes(autorange="reversed", showticklabels=False, row=row, col=col)
        fig.update_xaxes(showticklabels=False, row=row, col=col)


def montage(maps: np.ndarray, columns: int = 8) -> np.ndarray:
    """(c, h, w) feature maps tiled into one image, columns × ceil(c / columns), one NaN line between maps."""
    c, h, w = maps.shape
    rows = -(-c // columns)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan, dtype=np.float32)
    for k in range(c):
        r, q = divmod(k, columns)
        out[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = maps[k]
    return out


def stage_heatmap(value: np.ndarray, height: int = 300) -> go.Figure:
    """A stage's tensor as one picture: a line for a vector, a heatmap for a matrix, a montage for maps."""
    if value.ndim == 1:
        fig = go.Figure(go.Bar(y=value, marker_color=ORIGINAL))
    else:
        z = montage(value) if value.ndim == 3 else value
        fig = go.Figure(go.Heatmap(z=z, colorscale=HEATMAP))
        fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def alpha_steps(trace: Trace, wavelengths: np.ndarray, top: int = 5) -> pd.DataFrame:
    """α with the pixel's numbers: the top scores e_i, exp(e_i − max e), their share of the sum = α_i."""
    e = trace["spectral.scores"]
    shifted = np.exp(e - e.max())
    total = shifted.sum()
    order = np.argsort(-e)[:top]
    return pd.DataFrame(
        {
            "band": order + 1,
            "nm": np.round(wavelengths[order], 1),
            "e_i": np.round(e[order], 4),
            "exp(e_i − max e)": np.round(shifted[order], 5),
            "sum over all bands": np.round(np.full(len(order), total), 4),
            "α_i": np.round(shifted[order] / total, 5),
        }
    )


def mask_steps(trace: Trace, weights: np.ndarray, bias: float) -> pd.DataFrame:
    """The mask with the pixel's numbers: the 1×1 weights, and for the centre neighbour its components,
    w · P + b, tanh and sigmoid."""
    patch = trace["spatial.patch"]
    c = patch.shape[-1] // 2
    components = patch[:, c, c]
    z = float(weights @ components + bias)
    return pd.DataFrame(
        {
            "component": [f"PC {k + 1}" for k in range(len(weights))]
            + ["bias b", "w · P + b", "tanh", "σ(tanh) = m"],
            "weight w": [*np.round(weights, 4), round(bias, 4), None, None, None],
            "centre neighbour P": [
                *np.round(components, 4),
                None,
                round(z, 4),
                round(np.tanh(z), 4),
                round(1 / (1 + np.exp(-np.tanh(z))), 4),
            ],
        }
    )


def fusion_contributions(
    trace: Trace,
    fc_weight: np.ndarray,
    fc_bias: np.ndarray,
    out_weight: np.ndarray,
    out_bias: np.ndarray,
    class_id: int,
) -> dict[str, float]:
    """Each branch's share of the logit of `class_id`, exactly: with this pixel's active joint units fixed,
    the logit is a sum of a spectral part, a spatial part and the biases."""
    a, b = trace["fusion.spectral"], trace["fusion.spatial"]
    d = a.shape[0]
    active = trace["fusion.hidden"] > 0
    w = out_weight[class_id - 1] * active
    spectral = float(w @ (fc_weight[:, :d] @ a))
    spatial = float(w @ (fc_weight[:, d:] @ b))
    biases = float(w @ fc_bias + out_bias[class_id - 1])
    return {
        "spectral branch": spectral,
        "spatial branch": spatial,
        "biases": biases,
        "logit": spectral + spatial + biases,
    }


def band_edit_controls(scene: Scene, class_id: int, key: str) -> BandEdit:
    """The spectrum edit, in one row: a band range (at first the bands planted for `class_id` on the demo)
    and what replaces it."""
    n = scene.n_bands
    default = (1, min(n, 10))
    if scene.planted is not None:
        planted = np.flatnonzero(scene.planted.bands_for_class(class_id, n))
        if planted.size:
            default = (int(planted[0]) + 1, int(planted[-1]) + 1)
    c1, c2, c3, c4 = st.columns([1.3, 1.2, 0.8, 0.8])
    first, last = c1.slider("Bands", 1, n, default, key=f"{key}_bands")
    fill = c2.selectbox("Replace them by", BAND_FILLS, key=f"{key}_fill")
    source, factor = None, 1.0
    if fill == "another pixel":
        source = (
            int(c3.number_input("row", 0, scene.shape[0] - 1, 0, key=f"{key}_row")),
            int(c4.number_input("col", 0, scene.shape[1] - 1, 0, key=f"{key}_col")),
        )
    elif fill == "scale":
        factor = float(c3.slider("factor", 0.0, 2.0, 1.0, 0.05, key=f"{key}_factor"))
    return BandEdit(first - 1, last, fill, source, factor)


def occlusion_controls(patch_size: int, key: str) -> Occlusion:
    """The patch edit, in one row: a rectangle of neighbours set to the training mean (0 for whitened
    components)."""
    c = patch_size // 2
    around = (max(0, c - 3), min(patch_size - 1, c + 3))
    c1, c2 = st.columns(2)
    rows = c1.slider("Rows", 0, patch_size - 1, around, key=f"{key}_rows")
    cols = c2.slider("Columns", 0, patch_size - 1, around, key=f"{key}_cols")
    return Occlusion(rows[0], rows[1] + 1, cols[0], cols[1] + 1)


def run_what_if(fitted: FittedModel, scene: Scene, pixel: tuple[int, int], edit: dict) -> WhatIf:
    """Trace the pixel as it is and as edited (`edit`: `what_if`'s keyword arguments); a bad edit is one
    line, and the original is shown."""
    try:
        return what_if(fitted, scene, pixel, **edit)
    except ValueError as exc:
        st.error(str(exc))
        return what_if(fitted, scene, pixel)


def stage_panel(fitted: FittedModel, scene: Scene, trace: Trace, predicted: int) -> None:
    """Open one stage: its formula with this pixel's numbers and a picture of its tensor."""
    stages = {stage.key: stage for stage in trace.stages}
    labels = {
        key: f"{stage.name} · {stage.branch} · shape {stage.shape}" for key, stage in stages.items()
    }
    default = "spectral.alpha" if "spectral.alpha" in stages else next(iter(stages))
    key = st.selectbox(
        "Open a stage",
        list(stages),
        index=list(stages).index(default),
        format_func=labels.get,
        key="inside_stage",
    )
    stage = stages[key]
    st.markdown(f"**{stage.name}**: {stage.description}.")
    net = fitted.network
    if key in ("spectral.alpha", "spectral.scores"):
        st.latex(
            r"\alpha_i = \frac{e^{e_i}}{\sum_j e^{e_j}} = \frac{e^{e_i - \max e}}{\sum_j e^{e_j - \max e}}"
        )
        st.dataframe(alpha_steps(trace, np.asarray(scene.wavelengths)), hide_index=True)
        st.caption(f"The {scene.n_bands} scores share one softmax; the top five are shown.")
    elif key in ("spatial.mask", "spatial.conv1x1", "spatial.tanh"):
        st.latex(r"m = \sigma\big(\tanh(w \cdot P + b)\big)")
        conv = net.spatial.attention.project
        weights = conv.weight.detach().cpu().numpy().reshape(-1)
        st.dataframe(mask_steps(trace, weights, float(conv.bias.detach().cpu())), hide_index=True)
        st.caption(
            "The same w and b for every neighbour: the mask only recolours the patch's components."
        )
    elif key.startswith("fusion.") or key in ("logits", "probabilities"):
        if hasattr(net, "fusion"):
            st.latex(
                r"z_c = W_{out,c} \cdot \mathrm{ReLU}\big(W [\mathrm{ReLU}(W_f s_{spec}) ; "
                r"\mathrm{ReLU}(W_f s_{spat})] + b\big) + b_{out,c}"
            )
            parts = fusion_contributions(
                trace,
                net.fusion.fc.weight.detach().cpu().numpy(),
                net.fusion.fc.bias.detach().cpu().numpy(),
                net.fusion.out.weight.detach().cpu().numpy(),
                net.fusion.out.bias.detach().cpu().numpy(),
                predicted,
            )
            st.markdown(
                f"Logit of **{scene.class_names[predicted - 1]}**: spectral branch {parts['spectral branch']:+.2f}, "
                f"spatial branch {parts['spatial branch']:+.2f}, biases {parts['biases']:+.2f} = {parts['logit']:.2f}."
            )
    page.plot(stage_heatmap(stage.value, height=260), key="inside_stage_figure")


def header(ctx: Context) -> FittedModel:
    """Title, what the page is, and the active model (a neural one), or a message and stop."""
    st.title("Inside SSAN: one pixel, stage by stage")
    page.intro(
        f"How does {page.METHOD} get from a spectrum and a patch to a class? Click a pixel: every stage of "
        "the forward pass is drawn for it, in the paper's order. Open a stage for its formula with the "
        "pixel's own numbers, then edit the input and watch every stage answer.",
    )
    fitted = page.require_model(ctx)
    if fitted.network is None:
        st.warning(
            f"{fitted.model_name.upper()} is not a neural network; choose SSAN, ARNN or ACNN on the Train page."
        )
        st.stop()
    return fitted


EDITS = ("nothing", "bands replaced", "patch occluded", "spatial branch fed another pixel")


def pixel_and_edit_kind(ctx: Context) -> tuple[tuple[int, int], str]:
    """The clickable scene and, under it, which what-if edit to make."""
    row, col = clickable_scene(ctx, key="inside_image", height=300)
    kind = st.radio(
        "What if…",
        EDITS,
        key="inside_edit",
        help="Edit what the network sees for this pixel; the edited pass is drawn in red beside the original.",
    )
    return (row, col), kind


def edit_controls(ctx: Context, fitted: FittedModel, pixel: tuple[int, int], kind: str) -> dict:
    """The chosen edit's fields in one row (above the overview, so at 1280×720 the fields, the sentence and
    the figure are on one screen): the edit as `what_if`'s keyword arguments."""
    scene = ctx.scene
    edit: dict = {}
    if kind == "bands replaced":
        edit["band_edit"] = band_edit_controls(scene, int(scene.labels[pixel]), "inside_band")
    elif kind == "patch occluded":
        edit["occlusion"] = occlusion_controls(fitted.preset.patch_size, "inside_occlude")
    elif kind == "spatial branch fed another pixel":
        c1, c2, _ = st.columns([1, 1, 2])
        edit["spatial_pixel"] = (
            int(c1.number_input("row", 0, scene.shape[0] - 1, 0, key="inside_other_row")),
            int(c2.number_input("col", 0, scene.shape[1] - 1, 0, key="inside_other_col")),
        )
    return edit


def overview(
    ctx: Context, pixel: tuple[int, int], result: WhatIf, edited: bool, head: DeltaGenerator
) -> None:
    """The pixel's classes in one line (in `head`) and the overview figure, the edited pass beside the
    original."""
    scene, trace = ctx.scene, result.original
    predicted = result.predicted
    truth = int(scene.labels[pixel])
    head.markdown(
        f"**Pixel (row {pixel[0]}, col {pixel[1]})** · ground truth **{class_name(scene, truth)}** · "
        f"predicted **{class_name(scene, predicted)}** ({100 * trace.probabilities[predicted - 1]:.1f}%)"
        + (f" · {result.describe()}" if edited else "")
    )
    figure = overview_figure(
        trace, scene, result.edited if edited else None, height=300 if page.presenting() else 380
    )
    page.plot(figure, key="inside_overview")
    with st.container(key="stage_words"):  # unfolded in presentation mode too: the class reads it
        st.caption("  \n".join(STAGE_WORDS.values()))
