"""Compare: SSAN against its comparators trained on the same split: metrics, confusion matrices, maps."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ssan.figures import class_map_figure, confusion_matrix_figure, metrics_comparison_figure
from ssan.models import MODEL_LABELS, MODEL_NAMES, PRESETS
from ssan.reference import NOTE, paper_result
from ui import loaders, page, training
from ui.state import bound
from ui.viewer import legend

CONFIG = {"displaylogo": False}

page.setup("Compare")
ctx = page.context()
scene, split = ctx.scene, ctx.split
ss = st.session_state

st.title("Compare models")
st.markdown(f"{page.METHOD} against KNN, SVM, RNN, CNN, ARNN and ACNN, each trained on the same split "
            f"({split.protocol}, seed {split.seed}) and scored on its test pixels.")


def same_split(fitted) -> bool:
    s = fitted.split
    return (s.get("protocol") == split.protocol and s.get("seed") == split.seed
            and s.get("sizes", {}).get("test") == split.test.size)


models, problems = loaders.models_for_scene(scene)
latest: dict[str, tuple] = {}
for path, fitted in models:  # newest first: keep the newest of each model
    if fitted.metrics and same_split(fitted) and fitted.model_name not in latest:
        latest[fitted.model_name] = (path, fitted)
chosen = [latest[name] for name in MODEL_NAMES if name in latest]
for problem in problems:
    st.warning(f"Skipped an unreadable checkpoint: {problem}")

with st.expander("Train comparators on this split", expanded=not chosen or len(chosen) < len(MODEL_NAMES)):
    missing = [m for m in MODEL_NAMES if m not in latest]
    picked = st.multiselect("Models to train", list(MODEL_NAMES), default=missing, format_func=MODEL_LABELS.get,
                            key="compare_models")
    c1, c2 = st.columns(2)
    with c1:
        preset = bound(st.selectbox, "Preset for the networks", "train_preset", options=list(PRESETS))
    overrides = training.advanced_overrides()
    c2.caption("Shared with the Train page, with its seed and advanced settings"
               + (f" ({', '.join(f'{k}={v}' for k, v in overrides.items())})" if overrides else "") + ".")
    if st.button(f"Train {len(picked)} model(s)", type="primary", key="start_compare",
                 disabled=not picked or training.running("compare_job")):
        try:
            training.start_job("compare_job", ctx, picked, preset, int(ss.train_seed), overrides)
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.rerun()
    training.monitor("compare_job")

if not chosen:
    st.info("No model trained on this split yet: train some above, or change the split on the Scene page back "
            "to the one your models used.")
    st.stop()

names = [f.model_name.upper() for _, f in chosen]
table, bars = [], []
for (path, fitted), name in zip(chosen, names):
    m = fitted.metrics
    row = {"model": name, "OA %": 100 * m["oa"], "AA %": 100 * m["aa"], "κ": m["kappa"]}
    bar = {"model": name, "oa": m["oa"], "aa": m["aa"], "kappa": m["kappa"]}
    reported = paper_result(scene.name, fitted.model_name)
    if reported is not None:
        row |= {"OA % (paper, reported)": reported.oa, "AA % (paper, reported)": reported.aa,
                "κ (paper, reported)": reported.kappa / 100}
        bar |= {"paper_oa": reported.oa / 100, "paper_aa": reported.aa / 100, "paper_kappa": reported.kappa / 100}
    row |= {cls: (None if a is None else 100 * a) for cls, a in zip(scene.class_names, m["per_class"])}
    preset_name = fitted.preset.name if fitted.is_neural else "—"
    row["trained"] = f"{preset_name}, {fitted.train_seconds:.0f} s, {fitted.device}"
    table.append(row)
    bars.append(bar)

st.subheader("Accuracy on the test pixels")
frame = pd.DataFrame(table).set_index("model")
st.dataframe(frame.style.format(precision=2, na_rep="—"), width="stretch")
if any("OA % (paper, reported)" in r for r in table):
    st.caption(NOTE)
st.plotly_chart(metrics_comparison_figure(bars), key="metrics_bars", config=CONFIG)

st.subheader("Confusion matrices")
shown = st.multiselect("Models", names, default=names[:3], max_selections=4,
                       key=f"compare_shown_{'-'.join(names)}")  # a new set of models starts a new selection
normalise = bound(st.toggle, "Row-normalised (share of each true class)", "cm_normalise")
# Long class names leave no room for two matrices side by side: number the classes instead.
numbered = max(len(n) for n in scene.class_names) > 14
axis_names = [str(i) for i in range(1, scene.n_classes + 1)] if numbered else list(scene.class_names)
if numbered:
    st.caption("Classes: " + " · ".join(f"{i} {n}" for i, n in enumerate(scene.class_names, start=1)))
cols = st.columns(2)
for i, name in enumerate(shown):
    fitted = chosen[names.index(name)][1]
    with cols[i % 2]:
        fig = confusion_matrix_figure(fitted.metrics["confusion"], axis_names, normalise, title=name)
        fig.update_layout(height=480)
        st.plotly_chart(fig, key=f"cm_{name}", config=CONFIG)

st.subheader("Classification maps")
st.caption("Every pixel classified, borders included; the ground truth shows labelled pixels only.")
legend(scene, counts=False)
if bound(st.toggle, f"Show the maps (each model classifies all {scene.shape[0] * scene.shape[1]:,} pixels once: "
         "seconds on the demo, minutes for Pavia on a CPU; cached afterwards)", "show_maps"):
    panels = [("Ground truth", scene.labels)]
    for name in shown:
        path, fitted = chosen[names.index(name)]
        panels.append((name, loaders.class_map(str(path), loaders.checkpoint_mtime(path), ctx.spec)))
    cols = st.columns(3)
    for i, (title, class_map) in enumerate(panels):
        fig = class_map_figure(class_map, scene.class_names, scene.class_colors, title=title)
        fig.update_layout(showlegend=False, height=360)
        with cols[i % 3]:
            st.plotly_chart(fig, key=f"map_{title}", config=CONFIG)
