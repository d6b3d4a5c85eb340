"""Spatial attention: the patch around a pixel beside SSAN's spatial attention mask."""

from __future__ import annotations

import streamlit as st

from ssan.render.imaging import patch_around
from ui import loaders, page
from ui.explain import explain_link
from ui.figures import spatial_attention_figure
from ui.state import bound
from ui.viewer import class_name, clickable_scene, legend, pin_bar, pixel_inputs

PRESENT_FIGURE_HEIGHT = 260  # the three tiles beside the image, above the fold at 1280×720
SUMMARY_MAX_PIXELS = (
    1_000_000  # class-mean masks cost one forward pass per sampled pixel: fine up to Pavia Centre
)

# Unfolded under the figure: what the mask can and cannot do is the point of this page in a lecture.
MASK_NOTE = (
    "Expect a nearly flat mask. It comes from a 1×1 convolution (then tanh and a sigmoid), so each neighbour's "
    "weight depends only on that neighbour's own principal-component values: not on the pixel being classified, not "
    "on where the neighbour sits. Stretched to its narrow range, the mask therefore looks like a recoloured copy of "
    "the patch. The network's spatial reasoning happens in the convolutions after it."
)

page.setup("Spatial attention")
ctx = page.context()
scene = ctx.scene
ss = st.session_state

st.title("Spatial attention: which neighbours does the model weigh?")
page.intro(
    f"{page.METHOD} also looks at the 27×27 patch around the pixel (its first principal components). Before "
    "convolving, it multiplies the patch by a spatial attention mask, one weight per neighbour. Click a pixel, or "
    "step with the arrows, to see its patch and mask.",
)
explain_link()
fitted = page.require_model(ctx)
if not fitted.has_spatial_attention:
    st.warning(
        f"{fitted.model_name.upper()} has no spatial attention; choose an SSAN or ACNN model on the Train "
        "page to see the mask."
    )
    st.stop()

path, mtime = ctx.model_key
left, right = st.columns([1, 1.7], gap="large")
with left:
    clickable_scene(ctx, key="spatial_image", height=380)
    pin_bar(scene, key="spatial")  # above the row and column fields: on screen at 1280×720
    pixel_inputs(scene, key="spatial")
    legend(scene, counts=False)

row, col = ss.pixel
att = loaders.pixel_readout(path, mtime, ctx.spec, row * scene.shape[1] + col)
predicted = int(att.predicted[0])
size = fitted.preset.patch_size
patch = patch_around(
    loaders.false_colour_image(ctx.spec, tuple(ss.rgb_nm), tuple(ss.stretch)), row, col, size
)
mask = att.spatial[0]

with right:
    st.subheader(f"Pixel (row {row}, col {col})")
    st.markdown(
        f"Ground truth **{class_name(scene, int(scene.labels[row, col]))}** · predicted "
        f"**{class_name(scene, predicted)}** ({100 * att.probabilities[0, predicted - 1]:.1f}%)"
    )
    # On the projector the figure comes first and shorter, its two controls under it, so it is above the fold.
    above, below = st.container(), st.container()
    with below if page.presenting() else above:
        opacity = bound(
            st.slider,
            "Mask opacity in the overlay",
            "patch_opacity",
            min_value=0.0,
            max_value=1.0,
            step=0.05,
        )
        stretch = bound(st.toggle, "Stretch the colours to this mask's range", "mask_stretch")
    fig = spatial_attention_figure(patch, mask, opacity, stretch=stretch)
    fig.update_layout(height=PRESENT_FIGURE_HEIGHT if page.presenting() else 440)
    with above if page.presenting() else below:
        page.plot(fig, key="spatial_figure")
        st.caption(
            f"The mask lies between sigmoid(−1) ≈ 0.27 and sigmoid(1) ≈ 0.73 by construction; here it spans "
            f"{mask.min():.3f}–{mask.max():.3f}"
            + (
                ", and the colours are stretched to that range"
                if stretch
                else " on a 0–1 colour scale"
            )
            + ". Bright = neighbours kept, dark = damped. Outside the image the patch is zero padded."
        )
        with st.container(key="mask_note"):
            st.caption(MASK_NOTE)

st.subheader("Mean spatial mask per class")
if scene.shape[0] * scene.shape[1] > SUMMARY_MAX_PIXELS:
    st.info("This scene is too large for the class summary here.")
else:
    fig = loaders.class_masks_chart(path, mtime, ctx.spec)
    page.plot(fig, key="class_masks")
    st.caption(
        "Averaged over up to 200 labelled pixels per class that the model never trained or validated on; "
        "the centre is the classified pixel."
    )
