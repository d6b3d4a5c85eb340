"""Inside SSAN: one pixel's path through the network, stage by stage, and what-if edits that answer live."""

from __future__ import annotations

import streamlit as st

from ui import inside, page
from ui.viewer import class_name, clickable_scene

page.setup("Inside SSAN")
ctx = page.context()
scene = ctx.scene

st.title("Inside SSAN: one pixel, stage by stage")
page.intro(
    f"How does {page.METHOD} get from a spectrum and a patch to a class? Click a pixel: every stage of the "
    "forward pass is drawn for it, in the paper's order. Open a stage for its formula with the pixel's own "
    "numbers, then edit the input and watch every stage answer.",
    " ".join(inside.STAGE_WORDS.values()),
)
fitted = page.require_model(ctx)
if fitted.network is None:
    st.warning(
        f"{fitted.model_name.upper()} is not a neural network; choose SSAN, ARNN or ACNN on the Train page."
    )
    st.stop()

left, right = st.columns([1, 3], gap="medium")
with left:
    row, col = clickable_scene(ctx, key="inside_image", height=300)
    edit_kind = st.radio(
        "What if…",
        ["nothing", "bands replaced", "patch occluded", "spatial branch fed another pixel"],
        key="inside_edit",
        help="Edit what the network sees for this pixel; the edited pass is drawn in red beside the original.",
    )
    band_edit = occlusion = spatial_pixel = None
    if edit_kind == "bands replaced":
        band_edit = inside.band_edit_controls(scene, int(scene.labels[row, col]), "inside_band")
    elif edit_kind == "patch occluded":
        occlusion = inside.occlusion_controls(fitted.preset.patch_size, "inside_occlude")
    elif edit_kind == "spatial branch fed another pixel":
        c1, c2 = st.columns(2)
        spatial_pixel = (
            int(c1.number_input("row", 0, scene.shape[0] - 1, 0, key="inside_other_row")),
            int(c2.number_input("col", 0, scene.shape[1] - 1, 0, key="inside_other_col")),
        )

result = inside.run_what_if(fitted, scene, (row, col), band_edit, occlusion, spatial_pixel)
trace = result.original
edited = result.edited if edit_kind != "nothing" else None
predicted = result.predicted

with right:
    truth = int(scene.labels[row, col])
    st.markdown(
        f"**Pixel (row {row}, col {col})** · ground truth **{class_name(scene, truth)}** · predicted "
        f"**{class_name(scene, predicted)}** ({100 * trace.probabilities[predicted - 1]:.1f}%)"
        + (f" · {result.describe()}" if edited is not None else "")
    )
    page.plot(
        inside.overview_figure(trace, scene, edited, height=300 if page.presenting() else 380),
        key="inside_overview",
    )

inside.stage_panel(fitted, scene, trace, predicted)
