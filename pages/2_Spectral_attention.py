"""Spectral attention: a clicked pixel's spectrum beside SSAN's per-band attention weights."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import loaders, page
from ui.explain import ALPHA_NOTE, SEED_NOTE, explain_link, pixel_table, planted_verdict
from ui.viewer import class_name, clickable_scene, legend, pin_bar

PIXEL_COLOUR = "#e6a800"
# On the projector (1280×720) the spectrum and α rows share about the height of the image beside them, so the whole
# figure is on screen.
PRESENT_FIGURE = {"height": 320, "attention_share": 0.55, "value_title": "Value"}

page.setup("Spectral attention")
ctx = page.context()
scene = ctx.scene

st.title("Spectral attention: which bands does the model weigh?")
page.intro(
    f"{page.METHOD} reads a pixel's spectrum band by band with a bidirectional GRU and then weighs the bands with "
    "attention weights α (one per band, summing to 1). Click a pixel: its spectrum and α share the wavelength axis.",
)
explain_link()
fitted = page.require_model(ctx)
if not fitted.has_spectral_attention:
    st.warning(
        f"{fitted.model_name.upper()} has no spectral attention; choose an SSAN or ARNN model on the Train "
        "page to see α. Its prediction is shown below."
    )

path, mtime = ctx.model_key
sampler = loaders.sampler_for(path, mtime, ctx.spec)
left, right = st.columns([1, 1.3], gap="large")
with left:
    row, col = clickable_scene(ctx, key="spectral_image", height=420)
    pin_bar(scene, key="spectral")
    legend(scene, counts=False)

flat = row * scene.shape[1] + col
att = loaders.pixel_readout(path, mtime, ctx.spec, flat)
predicted = int(att.predicted[0])
truth = int(scene.labels[row, col])
planted = scene.planted.band_mask(scene.n_bands) if scene.planted is not None else None
alpha = att.spectral[0] if att.spectral is not None else None

with right:
    verdict = "✓" if truth == predicted else ("✗" if truth else "")
    st.subheader(f"Pixel (row {row}, col {col})")
    st.markdown(
        f"Ground truth **{class_name(scene, truth)}** · predicted **{class_name(scene, predicted)}** "
        f"({100 * att.probabilities[0, predicted - 1]:.1f}%) {verdict}"
    )
    options = {"value_title": "Value (as stored)"} | (PRESENT_FIGURE if page.presenting() else {})
    page.plot(
        loaders.pixel_spectrum_chart(
            path, mtime, ctx.spec, (row, col), PIXEL_COLOUR, tuple(sorted(options.items()))
        ),
        key="spectral_spectrum",
    )
    if planted is not None:
        st.caption("Shaded: bands planted in the demo scene, where two class pairs differ.")
    # Directly under the figure, unfolded: on the projector what the lecture reads aloud follows α.
    if fitted.has_spectral_attention:
        with st.container(key="planted_verdict"):
            line = planted_verdict(
                scene, loaders.class_attention(path, mtime, ctx.spec, "spectral")
            )
            if line:
                st.markdown(line)
            st.caption(ALPHA_NOTE)
    table = pixel_table(scene, row, col, sampler.spectra(np.array([flat]))[0], alpha)
    st.download_button(
        "Download spectrum and attention (CSV)",
        table.to_csv(index=False),
        file_name=f"{scene.name}_r{row}_c{col}_{fitted.model_name}.csv",
        mime="text/csv",
        key="download_csv",
        icon=":material/download:",
    )

st.subheader("Class probabilities")
page.plot(
    loaders.pixel_probability_chart(path, mtime, ctx.spec, flat), key="spectral_probabilities"
)

if fitted.has_spectral_attention:
    st.subheader("Mean attention per class")
    if planted is not None:
        st.caption(SEED_NOTE)
    page.plot(loaders.class_attention_chart(path, mtime, ctx.spec), key="class_attention")
    st.caption(
        "Averaged over up to 200 labelled pixels per class that the model never trained or validated on. "
        "Click a class in the legend to hide it; double-click to show it alone."
    )
