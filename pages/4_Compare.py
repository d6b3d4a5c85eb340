"""Compare: SSAN against its comparators trained on the same split: metrics, confusion matrices, maps;
mean ± std over seeds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import streamlit as st

from ssan.evaluation.compare import (
    METRIC_KEYS,
    parse_seeds,
    percent_mean_std,
    summarise,
)
from ssan.evaluation.reference import NOTE, paper_result
from ssan.evaluation.runs import best_run, by_model, missing_models, seed_runs
from ssan.models import MODEL_LABELS, MODEL_NAMES, PRESETS
from ssan.models.fitted import CANCELLED_MARK, FittedModel
from ssan.training.trainer import format_duration, resolve_preset
from ui import loaders, page, training
from ui.figures import (
    class_map_figure,
    confusion_matrix_figure,
    metrics_comparison_figure,
)
from ui.jobs import CANCELLED
from ui.state import bound
from ui.viewer import legend

NOT_USED = "— not used —"

page.setup("Compare")
ctx = page.context()
scene, split = ctx.scene, ctx.split
ss = st.session_state

st.title("Compare models")
st.markdown(
    f"{page.METHOD} against KNN, SVM, RNN, CNN, ARNN and ACNN, each trained on the same split "
    f"({split.protocol}, seed {split.seed}) and scored on its test pixels."
)

saved, problems = loaders.models_for_scene(scene)
for problem in problems:
    st.warning(f"Skipped an unreadable checkpoint: {problem}")


def run_label(path: Path, fitted: FittedModel, best: Path | None) -> str:
    """One option of a checkpoint chooser: what the run was, how it scored, where it is saved."""
    preset = f"{fitted.preset.name}, " if fitted.is_neural else ""
    val = "—" if fitted.best_val_accuracy is None else f"{100 * fitted.best_val_accuracy:.1f}%"
    text = (
        f"{preset}seed {fitted.seed} · validation {val} · test OA {100 * fitted.metrics['oa']:.2f}% · "
        f"{Path(path).name if Path(path) != loaders.DEMO_CHECKPOINT else 'shipped demo checkpoint'}"
    )
    if fitted.cancelled:
        return f"{CANCELLED_MARK} · {text}"
    return f"{text} · best by validation" if Path(path) == best else text


# --- which checkpoint stands for each model --------------------------------------------------------------------
runs = by_model(saved, split)
chosen: dict[str, tuple[Path, FittedModel]] = {}
with st.expander(
    "Checkpoints used", expanded=any(f.cancelled for r in runs.values() for _, f in r)
):
    st.caption(
        "Per model, the saved run shown below. By default the finished run with the best validation "
        "accuracy (never the test pixels); cancelled runs are marked and only used when you pick them."
    )
    for model, candidates in runs.items():
        best = best_run(candidates)
        best_path = best[0] if best else None
        # Options are the labels themselves (unique: each names its folder), mapped back to the runs.
        by_label = {NOT_USED: None} | {run_label(p, f, best_path): (p, f) for p, f in candidates}
        choice_key = (ctx.spec, split.protocol, split.seed, model)
        picked = ss.compare_choice.get(choice_key)
        # The run picked by hand if it is still listed ("" = not used), else the best finished run.
        wanted = (
            picked
            if picked == "" or any(run and str(run[0]) == picked for run in by_label.values())
            else (str(best_path) if best_path else "")
        )
        current = next(
            (label for label, run in by_label.items() if run and str(run[0]) == wanted), NOT_USED
        )
        key = f"ckpt_{model}"
        ss[key] = current

        def remember(choice_key=choice_key, key=key, by_label=by_label) -> None:
            run = by_label[ss[key]]
            ss.compare_choice = {
                **ss.compare_choice,
                choice_key: "" if run is None else str(run[0]),
            }

        label = st.selectbox(MODEL_LABELS[model], list(by_label), key=key, on_change=remember)
        if by_label[label] is not None:
            chosen[model] = by_label[label]

# --- training what is missing ------------------------------------------------------------------------------------
last_job = ss.compare_job[1] if ss.compare_job is not None else None
if (
    last_job is not None
    and last_job.snapshot().status == CANCELLED
    and ss.get("_cancel_seen") is not last_job
):
    ss["_cancel_seen"] = last_job
    ss.compare_queue = []  # a cancel stops the whole seed study, not just the model running (once per cancel)
ss.compare_queue = [
    q for q in ss.compare_queue if q[0] == ctx.spec
]  # another scene: the study is dropped
if ss.compare_queue and not training.running("compare_job"):
    _, seed, queued, queued_preset, queued_overrides = ss.compare_queue[0]
    ss.compare_queue = ss.compare_queue[1:]
    seed_ctx = dataclasses.replace(ctx, split=loaders.split_for(ctx.spec, split.protocol, seed))
    training.start_job("compare_job", seed_ctx, queued, queued_preset, seed, queued_overrides)

with st.expander("Train comparators on this split", expanded=len(chosen) < len(MODEL_NAMES)):
    c1, c2 = st.columns(2)
    with c1:
        preset = bound(
            st.selectbox, "Preset for the networks", "train_preset", options=list(PRESETS)
        )
    overrides = training.advanced_overrides()
    seed = int(ss.train_seed)
    c2.caption(
        f"Training seed {seed}; shared with the Train page, with its advanced settings"
        + (f" ({', '.join(f'{k}={v}' for k, v in overrides.items())})" if overrides else "")
        + "."
    )
    try:
        presets = {m: resolve_preset(m, preset, overrides) for m in MODEL_NAMES}
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
    missing = missing_models(saved, MODEL_NAMES, split, presets, seed)
    if (
        ss.get("_compare_missing") != missing
    ):  # the default follows what is missing, not the last selection
        ss["_compare_missing"] = missing
        ss["compare_models"] = missing
    picked = st.multiselect(
        "Models to train", list(MODEL_NAMES), format_func=MODEL_LABELS.get, key="compare_models"
    )
    reused = [m for m in picked if m not in missing]
    to_train = [m for m in picked if m in missing]
    if reused:
        st.caption(
            f"Already saved for this split, preset and seed, so reused rather than retrained: "
            f"{', '.join(m.upper() for m in reused)}."
        )
    if st.button(
        f"Train {len(to_train)} model(s)",
        type="primary",
        key="start_compare",
        disabled=not to_train or training.running("compare_job"),
    ):
        try:
            training.start_job("compare_job", ctx, to_train, preset, seed, overrides)
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.rerun()
    training.monitor("compare_job", ctx.spec)

if not chosen:
    st.info(
        "No model trained on this split yet: train some above, or change the split on the Scene page back "
        "to the one your models used."
    )
    st.stop()

# --- accuracy on this split ---------------------------------------------------------------------------------------
# Two narrow tables rather than one wide one (a projector shows no sideways scroll): the overall scores with one
# row per model, and the per-class accuracy with one row per class and one column per model.
names: list[str] = []
table, bars, per_class = [], [], {}
for model, (_path, fitted) in chosen.items():
    name = model.upper()
    names.append(name)
    shown_name = name + (" ⚠ cancelled" if fitted.cancelled else "")
    m = fitted.metrics
    row = {"model": shown_name, "OA %": 100 * m["oa"], "AA %": 100 * m["aa"], "κ": m["kappa"]}
    bar = {"model": name, "oa": m["oa"], "aa": m["aa"], "kappa": m["kappa"]}
    reported = paper_result(scene.name, model)
    if reported is not None:
        row |= {
            "paper's OA %": reported.oa,
            "paper's AA %": reported.aa,
            "paper's κ": reported.kappa / 100,
        }
        bar |= {
            "paper_oa": reported.oa / 100,
            "paper_aa": reported.aa / 100,
            "paper_kappa": reported.kappa / 100,
        }
    preset_name = f"{fitted.preset.name}, " if fitted.is_neural else ""
    row["trained"] = (
        f"{preset_name}seed {fitted.seed}, {format_duration(fitted.train_seconds)}, {fitted.device}"
    )
    table.append(row)
    bars.append(bar)
    per_class[shown_name] = [None if a is None else 100 * a for a in m["per_class"]]

st.subheader("Accuracy on the test pixels")
frame = pd.DataFrame(table).set_index("model")
st.dataframe(frame.style.format(precision=2, na_rep="—"), width="stretch")
if any("paper's OA %" in r for r in table):
    st.caption(NOTE)
classes = pd.DataFrame(per_class, index=pd.Index(scene.class_names, name="class"), dtype=float)
styled = classes.style.format(precision=1, na_rep="—")
if len(per_class) > 1:
    styled = styled.highlight_max(axis=1, props="background-color: rgba(46, 160, 67, 0.25)")
st.markdown(
    "**Per class**: accuracy on each class's test pixels (%)"
    + ("; shaded, the best model for the class." if len(per_class) > 1 else ".")
)
st.dataframe(styled, width="content", height="content")
page.plot(metrics_comparison_figure(bars), key="metrics_bars")

# --- over seeds -------------------------------------------------------------------------------------------------
st.subheader("Over seeds: mean ± standard deviation")
st.caption(
    f"One split ({split.protocol}) drawn per seed and every model trained with that seed, as "
    "`python -m ssan compare --seeds` does: a difference smaller than the spread over seeds is no difference."
)
s1, s2 = st.columns([1, 2])
with s1:
    seeds_text = bound(st.text_input, "Seeds", "compare_seeds", help="e.g. 0,1,2 or 0-4")
with s2:
    study = st.multiselect(
        "Models",
        list(MODEL_NAMES),
        default=list(MODEL_NAMES),
        format_func=MODEL_LABELS.get,
        key="compare_seed_models",
    )
try:
    seeds = parse_seeds(seeds_text)
except ValueError as exc:
    st.error(str(exc))
    seeds = []
if seeds and study:
    seed_splits = {s: loaders.split_for(ctx.spec, split.protocol, s) for s in seeds}
    found, absent = seed_runs(saved, study, seed_splits, presets)
    rows = []
    for summary in summarise(found, study):
        row = {"model": summary.model.upper(), "seeds done": f"{summary.n_runs} of {len(seeds)}"}
        row |= {
            label: percent_mean_std(summary.mean[k], summary.std[k])
            for label, k in zip(("OA %", "AA %", "κ × 100"), METRIC_KEYS)
        }
        reported = paper_result(scene.name, summary.model)
        if reported is not None:
            row["OA % (paper, reported)"] = f"{reported.oa:.2f}"
        rows.append(row)
    if rows:
        st.dataframe(pd.DataFrame(rows).set_index("model"), width="stretch")
        st.caption(
            f"Preset {preset}; sample standard deviation over the seeds each model finished (0 for one seed); "
            "cancelled runs are left out."
        )
    if absent:
        by_seed: dict[int, list[str]] = {}
        for model, s in absent:
            by_seed.setdefault(s, []).append(model)
        st.caption(
            "Missing: "
            + "; ".join(
                f"seed {s}: {', '.join(m.upper() for m in ms)}" for s, ms in sorted(by_seed.items())
            )
        )
        if st.button(
            f"Train the {len(absent)} missing run(s)",
            key="start_seed_study",
            disabled=training.running("compare_job") or bool(ss.compare_queue),
        ):
            ss.compare_queue = [
                (ctx.spec, s, [m for m in study if m in ms], preset, overrides)
                for s, ms in sorted(by_seed.items())
            ]
            st.rerun()
        if ss.compare_queue:
            st.caption(
                f"Queued: seeds {', '.join(str(q[1]) for q in ss.compare_queue)} (they start one after "
                "another while this page is open; progress above)."
            )

# --- confusion matrices --------------------------------------------------------------------------------------------
st.subheader("Confusion matrices")
others = [n for n in names if n != "SSAN"]
best_other = max(others, key=lambda n: chosen[n.lower()][1].metrics["oa"]) if others else None
default_shown = [n for n in ("SSAN", best_other) if n in names]
shown = st.multiselect(
    "Models", names, default=default_shown, max_selections=4, key=f"compare_shown_{'-'.join(names)}"
)  # a new set of models starts a new selection
if best_other:
    st.caption(
        f"Shown by default: SSAN and the best other model on this split ({best_other}, by test OA)."
    )
normalise = bound(st.toggle, "Row-normalised (share of each true class)", "cm_normalise")
# Long class names leave no room for two matrices side by side: number the classes instead.
numbered = max(len(n) for n in scene.class_names) > 14
axis_names = (
    [str(i) for i in range(1, scene.n_classes + 1)] if numbered else list(scene.class_names)
)
if numbered:
    st.caption(
        "Classes: " + " · ".join(f"{i} {n}" for i, n in enumerate(scene.class_names, start=1))
    )
cols = st.columns(2)
for i, name in enumerate(shown):
    fitted = chosen[name.lower()][1]
    with cols[i % 2]:
        fig = confusion_matrix_figure(
            fitted.metrics["confusion"], axis_names, normalise, title=name
        )
        fig.update_layout(height=520)
        page.plot(fig, key=f"cm_{name}")

# --- classification maps ---------------------------------------------------------------------------------------
st.subheader("Classification maps")
st.caption(
    "Every pixel classified, borders included; the ground truth shows labelled pixels only. Each map is "
    "computed once per checkpoint (by the hash of its weights) and kept on disk."
)
legend(scene, counts=False)
if bound(
    st.toggle,
    f"Show the maps of the models above (each classifies all {scene.shape[0] * scene.shape[1]:,} "
    "pixels once, in the background: seconds on the demo, a minute or more for Pavia on a CPU; then instant)",
    "show_maps",
):
    map_jobs = {
        name: loaders.class_map_job(
            str(chosen[name.lower()][0]),
            loaders.checkpoint_mtime(chosen[name.lower()][0]),
            ctx.spec,
        )
        for name in shown
    }
    computing = any(not job.future.done() for job in map_jobs.values())
    if computing:
        ss["_maps_polling"] = True

    @st.fragment(run_every=1.0 if computing else None)
    def class_maps() -> None:
        panels, notes = [("Ground truth", scene.labels)], []
        for name, job in map_jobs.items():
            if not job.future.done():
                share = job.done / job.total if job.total else 0.0
                st.progress(
                    share,
                    text=f"Classifying every pixel with {name} in the background: "
                    f"{job.done:,} of {job.total or scene.shape[0] * scene.shape[1]:,}",
                )
                continue
            try:
                result = job.future.result()
            except Exception as exc:  # shown, not raised: the other maps and the page stay usable
                st.error(f"The map of {name} could not be computed: {exc}")
                loaders.class_map_job.clear()
                continue
            panels.append((name, result.labels))
            notes.append(f"{name}: {result.precision.describe()}")
        cols = st.columns(3)
        for i, (title, labels) in enumerate(panels):
            fig = class_map_figure(labels, scene.class_names, scene.class_colors, title=title)
            fig.update_layout(showlegend=False, height=360)
            with cols[i % 3]:
                page.plot(fig, key=f"map_{title}")
        if notes:
            st.caption(
                "Arithmetic of each map: " + "; ".join(notes) + ". The metrics above are float32."
            )
        if not any(not job.future.done() for job in map_jobs.values()) and ss.pop(
            "_maps_polling", False
        ):
            st.rerun()  # once, the whole page: a fragment keeps polling until the page redraws it

    class_maps()
