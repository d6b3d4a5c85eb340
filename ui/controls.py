"""Controls shared by several pages: the split (protocol, its parameter, seed)."""

from __future__ import annotations

import streamlit as st

from ssan.data.splits import PAPER_PER_CLASS
from ui.state import bound

SPLIT_KINDS = {
    "paper": "paper: 100 train + 100 validation per class",
    "per-class": "per class: N train + N validation",
    "fraction": "fraction: a share of each class",
    "disjoint": "disjoint: spatial blocks with a guard band",
}


def split_controls() -> None:
    """Protocol, N or fraction, and seed of the split; the values live in the session (see ui.page.split_protocol)."""
    c1, c2, c3 = st.columns([2, 1, 1])
    with c1:
        kind = bound(
            st.selectbox,
            "Split protocol",
            "split_kind",
            options=list(SPLIT_KINDS),
            format_func=SPLIT_KINDS.get,
        )
    with c2:
        if kind in ("per-class", "disjoint"):
            bound(st.number_input, "N per class", "split_n", min_value=1, max_value=10_000, step=10)
        elif kind == "fraction":
            bound(
                st.number_input,
                "Fraction for training",
                "split_fraction",
                min_value=0.001,
                max_value=0.49,
                step=0.01,
                format="%.3f",
            )
        else:
            st.number_input("N per class", value=PAPER_PER_CLASS, disabled=True, key="paper_n")
    with c3:
        bound(st.number_input, "Split seed", "split_seed", min_value=0, max_value=2**31 - 1, step=1)
