"""Compare: SSAN against its comparators trained on the same split: metrics, confusion matrices, maps;
mean ± std over seeds."""

from __future__ import annotations

import streamlit as st

from ssan.models import MODEL_NAMES
from ui import compare_page as compare
from ui import page

page.setup("Compare")
ctx = page.context()
saved = compare.header(ctx)
offer = (
    st.container()
)  # above the training panel: on the projector, the one-click way back to the results
chosen = compare.choose_checkpoints(ctx, saved)
elsewhere = False
if not chosen:
    with offer:
        elsewhere = compare.offer_splits_with_results(ctx, saved)
preset = compare.train_missing(
    ctx, saved, expanded=len(chosen) < len(MODEL_NAMES) and not elsewhere
)
if not chosen:
    st.stop()
names = compare.accuracy_tables(ctx, chosen)
compare.seed_study(ctx, saved, preset)
shown = compare.confusion_matrices(ctx, chosen, names)
compare.class_maps(ctx, chosen, shown)
