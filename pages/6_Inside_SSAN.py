"""Inside SSAN: one pixel's path through the network, stage by stage, and what-if edits that answer live."""

from __future__ import annotations

import streamlit as st

from ui import inside_page as inside
from ui import page

page.setup("Inside SSAN")
ctx = page.context()
fitted = inside.header(ctx)
left, right = st.columns([1, 3], gap="medium")
with left:
    pixel, kind = inside.pixel_and_edit_kind(ctx)
with right:
    head = st.container()  # the pixel's sentence, above the edit's fields
    edit = inside.edit_controls(ctx, fitted, pixel, kind)
result = inside.run_what_if(fitted, ctx.scene, pixel, edit)
with right:
    inside.overview(ctx, pixel, result, edited=bool(edit), head=head)
inside.stage_panel(fitted, ctx.scene, result.original, result.predicted)
