"""The Compare page: SSAN against its comparators on one split, from the runs saved in the runs folder.

Training goes through the library's one comparison engine (`ssan.evaluation.compare.compare`, the
same as `ssan compare`) in a background task, so every run is a checkpoint in the runs folder and a
table computed from the CLI shows here, and the other way round. The split is the Scene page's; the
training seed of each run is its split's seed and the networks use the preset as it is (no advanced
settings from the Train page), exactly as `ssan compare --split … --seeds …` trains them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from ssan.data.splits import PAPER_PER_CLASS, Split, parse_split_spec
from ssan.evaluation.compare import (
    METRIC_KEYS,
    CompareStep,
    compare,
    parse_seeds,
    summarise,
)
from ssan.evaluation.reference import NOTE, paper_result
from ssan.evaluation.runs import best_run, by_model, missing_models, seed_runs
from ssan.models import MODEL_LABELS, MODEL_NAMES, PRESETS, Preset
from ssan.models.fitted import CANCELLED_MARK, FittedModel
from ssan.training.trainer import format_duration, resolve_preset
from ui import loaders, owners, page
from ui.classmaps import class_map_task
from ui.controls import SPLIT_KINDS
from ui.figures import class_map_figure, confusion_matrix_figure, metrics_comparison_figure
from ui.page import Context
from ui.state import bound, owner_id, set_value
from ui.tasks import (
    CANCELLED,
    FAILED,
    POLL_SECONDS,
    REGISTRY,
    TRAINING,
    Task,
    TaskSnapshot,
    follow,
    session_owner,
)
from ui.viewer import legend

NOT_USED = "— not used —"
SLOT = "compare_job"  # session key: (scene spec, task) of the comparison this session started or follows

Chosen = dict[str, tuple[Path, FittedModel]]


def header(ctx: Context) -> list[tuple[Path, FittedModel]]:
    """Title and intro; the saved runs of this scene (unreadable ones named in a warning)."""
    st.title("Compare models")
    st.markdown(
        f"{page.METHOD} against KNN, SVM, RNN, CNN, ARNN and ACNN, each trained on the same split "
        f"({ctx.split.protocol}, seed {ctx.split.seed}) and scored on its test pixels."
    )
    saved, problems = loaders.models_for_scene(ctx.scene)
    for problem in problems:
        st.warning(f"Skipped an unreadable checkpoint: {problem}")
    return saved


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


def choose_checkpoints(ctx: Context, saved: list[tuple[Path, FittedModel]]) -> Chosen:
    """Per model, the saved run on this split that stands for it: the best finished run by validation
    accuracy among this session's own and the lecturer's runs, unless one was picked by hand (a cancelled
    run, an upload or another session's run only then)."""
    ss = st.session_state
    me = owner_id()
    runs = by_model(saved, ctx.split)
    chosen: Chosen = {}
    with st.expander(
        "Checkpoints used", expanded=any(f.cancelled for r in runs.values() for _, f in r)
    ):
        st.caption(
            "Per model, the saved run shown below. By default the finished run with the best validation "
            "accuracy (never the test pixels) among your own runs and the lecturer's; cancelled runs are "
            "marked, and they, uploaded checkpoints and other sessions' runs are only used when you pick them."
        )
        for model, candidates in runs.items():
            best = best_run((p, f) for p, f in candidates if owners.default_candidate(p, me))
            best_path = best[0] if best else None
            # Options are the labels themselves (unique: each names its folder), mapped back to the runs.
            by_label = {NOT_USED: None} | {
                run_label(p, f, best_path): (p, f) for p, f in candidates
            }
            choice_key = (ctx.spec, ctx.split.protocol, ctx.split.seed, model)
            picked = ss.compare_choice.get(choice_key)
            # The run picked by hand if it is still listed ("" = not used), else the best finished run.
            wanted = (
                picked
                if picked == "" or any(run and str(run[0]) == picked for run in by_label.values())
                else (str(best_path) if best_path else "")
            )
            current = next(
                (label for label, run in by_label.items() if run and str(run[0]) == wanted),
                NOT_USED,
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
    return chosen


def comparison(ctx: Context) -> Task | None:
    """The comparison this session follows, if it is on this scene."""
    entry = st.session_state.get(SLOT)
    return entry[1] if entry is not None and entry[0] == ctx.spec else None


def comparing(ctx: Context) -> bool:
    task = comparison(ctx)
    return task is not None and not task.snapshot().finished


def start_comparison(ctx: Context, models: list[str], seeds: list[int], preset: str) -> None:
    """Train the runs of `models` × `seeds` on this split that are not saved yet, in the background, with the
    library's `compare` (the CLI's engine); the same request from another session follows the same task."""
    scene, protocol, runs, me = ctx.scene, ctx.split.protocol, loaders.runs_dir(), owner_id()

    def work(task: Task):
        def step(s: CompareStep) -> None:
            if s.checkpoint is not None and not s.reused:  # trained for the session that started it
                owners.record(s.checkpoint, me)
            task.report(s.fraction, progress_text(s), s)

        return compare(
            scene,
            protocol,
            models,
            seeds,
            preset,
            runs_dir=runs,
            progress=step,
            stop=task.stop,
        )

    key = ("compare", ctx.spec, protocol, tuple(models), tuple(seeds), preset, str(runs))
    task = REGISTRY.task(
        key,
        lambda: Task(work, TRAINING, name="ssan-compare"),
        session_owner(),
        rerun_finished=True,
    )
    st.session_state[SLOT] = (ctx.spec, task)


def progress_text(step: CompareStep) -> str:
    """What the comparison is doing, in one line."""
    where = f"run {step.run} of {step.runs}: {step.model.upper()} seed {step.seed}"
    if step.finished:
        return f"{where} {'read back from the runs folder' if step.reused else 'saved'}"
    if step.scoring is not None:
        done, total = step.scoring
        return f"{where}, trained; scoring the test pixels, {done:,} of {total:,}"
    p = step.training
    if p is None:
        return f"{where}, preparing…"
    return f"{where}, iteration {p.iteration}/{p.iterations} · loss {p.loss:.3f}"


def show_progress(ctx: Context) -> None:
    """The running comparison's progress, overall time left and Cancel; the page redraws after each saved
    run, so its tables fill in as the runs finish."""
    ss = st.session_state

    def draw(snap: TaskSnapshot) -> None:
        step = snap.detail
        done = 0 if step is None else step.run - (0 if step.finished else 1)
        if ss.get("_compare_done", 0) != done:
            ss["_compare_done"] = done
            if done:
                st.rerun()  # a run was saved: the whole page, so it shows in the tables
        if snap.finished:
            return
        if snap.queue_position is not None:
            st.progress(
                0.0,
                text=f"Waiting for a free training slot: number {snap.queue_position} in the queue.",
            )
        else:
            left = ""
            if snap.fraction > 0.02:
                left = f" · about {format_duration(snap.elapsed * (1 - snap.fraction) / snap.fraction)} left in all"
            st.progress(snap.fraction, text=f"{snap.message}{left}")
        st.button(
            "Cancel (keeps the best model so far)",
            on_click=comparison(ctx).cancel,
            key="compare_cancel",
            disabled=comparison(ctx).stop.is_set(),
        )

    follow(comparison(ctx), draw, SLOT)
    task = comparison(ctx)
    snap = task.snapshot() if task is not None else None
    if snap is None or not snap.finished:
        return
    if snap.note:
        st.warning(f"The comparison stopped: {snap.note}.")
    if snap.state == FAILED:
        st.error(f"The comparison failed: {snap.error}")
    elif snap.state == CANCELLED and not snap.note:
        st.warning(
            "Cancelled: the run in progress kept its best model so far, saved and marked as cancelled; "
            "it is not used by default. The runs after it were not started."
        )
    elif snap.result is not None:
        trained = sum(not r.reused for r in snap.result.runs)
        st.caption(
            f"Comparison done in {format_duration(snap.elapsed)}: {trained} run(s) trained and saved under "
            f"`{snap.result.runs_dir}`, {len(snap.result.runs) - trained} read back."
        )


def compare_presets(preset: str) -> dict[str, Preset]:
    """Each model's settings under `preset`, as the comparison trains them (no overrides)."""
    return {m: resolve_preset(m, preset, None) for m in MODEL_NAMES}


def train_missing(ctx: Context, saved: list[tuple[Path, FittedModel]], expanded: bool) -> str:
    """The models to train on this split (default: those with no saved run) and the button that starts
    the comparison; returns the preset chosen."""
    ss = st.session_state
    with st.expander("Train comparators on this split", expanded=expanded):
        c1, c2 = st.columns(2)
        with c1:
            preset = bound(
                st.selectbox, "Preset for the networks", "compare_preset", options=list(PRESETS)
            )
        c2.caption(
            f"Training seed {ctx.split.seed}, the split's seed, and the preset as it is, as "
            f"`python -m ssan compare --split {ctx.split.protocol} --seeds {ctx.split.seed} --preset {preset}` "
            "trains them; runs it saved show here too."
        )
        trained = [(p, f) for p, f in saved if not owners.uploaded(p)]  # what `compare` reuses
        missing = missing_models(
            trained, MODEL_NAMES, ctx.split, compare_presets(preset), ctx.split.seed, ctx.scene
        )
        if ss.get("_compare_missing") != missing:  # the default follows what is missing
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
            disabled=not to_train or comparing(ctx),
        ):
            start_comparison(ctx, to_train, [ctx.split.seed], preset)
            st.rerun()
        show_progress(ctx)
    return preset


def offer_splits_with_results(ctx: Context, saved: list[tuple[Path, FittedModel]]) -> bool:
    """Nothing on this split: say so, and offer the splits of this scene that have saved runs (the split may
    have been changed on another page), the one with the most models first; True when one was offered."""
    splits: dict[tuple[str, int], set[str]] = {}
    for _, fitted in saved:
        if fitted.metrics is not None:
            key = (fitted.split.protocol, fitted.split.seed)
            splits.setdefault(key, set()).add(fitted.model_name)
    offers = []
    for (protocol, seed), models in sorted(splits.items(), key=lambda kv: -len(kv[1])):
        try:
            kind, _ = parse_split_spec(protocol)
        except ValueError:
            continue
        if kind in SPLIT_KINDS:  # not a split the Scene page cannot choose (a fixed one)
            offers.append((protocol, int(seed), len(models)))
    where = f"{ctx.split.protocol}, seed {ctx.split.seed}"
    if not offers:
        st.info(f"No model trained on this split yet ({where}): train some below.")
        return False
    protocol, seed, n = offers[0]
    st.info(
        f"No model trained on this split yet ({where}; the split is the Scene page's, shared by every page). "
        f"The {protocol} split, seed {seed}, has {n} model(s) saved: switch to it, or train on this split below."
    )
    for i, (protocol, seed, n) in enumerate(offers):
        st.button(
            f"Show the {protocol} split, seed {seed} ({n} model(s) saved)",
            key=f"show_split_{protocol}_{seed}",
            type="primary" if i == 0 else "secondary",
            on_click=use_split,
            args=(protocol, seed),
        )
    return True


def use_split(protocol: str, seed: int) -> None:
    """Button callback: make `protocol` with `seed` the session's split (as the Scene page's controls set it)."""
    kind, value = parse_split_spec(protocol)
    set_value("split_kind", kind)
    if kind in ("per-class", "disjoint"):
        set_value("split_n", int(value or PAPER_PER_CLASS))
    elif kind == "fraction":
        set_value("split_fraction", float(value))
    set_value("split_seed", seed)


def accuracy_tables(ctx: Context, chosen: Chosen) -> list[str]:
    """Overall scores (one row per model) and per-class accuracy (one row per class), narrow enough for a
    projector, and the bar chart; returns the models' names as shown."""
    names: list[str] = []
    table, bars, per_class = [], [], {}
    for model, (_path, fitted) in chosen.items():
        name = model.upper()
        names.append(name)
        shown_name = name + (" ⚠ cancelled" if fitted.cancelled else "")
        m = fitted.metrics
        row = {"model": shown_name, "OA %": 100 * m["oa"], "AA %": 100 * m["aa"], "κ": m["kappa"]}
        bar = {"model": name, "oa": m["oa"], "aa": m["aa"], "kappa": m["kappa"]}
        reported = paper_result(ctx.scene.name, model)
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
    kappas = {c: "{:.3f}" for c in ("κ", "paper's κ") if c in frame.columns}
    st.dataframe(frame.style.format(kappas, precision=2, na_rep="—"), width="stretch")
    if any("paper's OA %" in r for r in table):
        st.caption(NOTE)
    classes = pd.DataFrame(
        per_class, index=pd.Index(ctx.scene.class_names, name="class"), dtype=float
    )
    styled = classes.style.format(precision=1, na_rep="—")
    if len(per_class) > 1:
        styled = styled.highlight_max(axis=1, props="background-color: rgba(46, 160, 67, 0.25)")
    st.markdown(
        "**Per class**: accuracy on each class's test pixels (%)"
        + ("; shaded, the best model for the class." if len(per_class) > 1 else ".")
    )
    st.dataframe(styled, width="content", height="content")
    page.plot(metrics_comparison_figure(bars), key="metrics_bars")
    return names


def seed_study(ctx: Context, saved: list[tuple[Path, FittedModel]], preset: str) -> None:
    """Mean ± std over seeds of the saved runs (one split drawn per seed, trained with that seed), and a
    button that trains the missing runs with the same engine."""
    split = ctx.split
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
        return
    if not study:
        return
    seed_splits: dict[int, Split] = {
        s: loaders.split_for(ctx.spec, split.protocol, s) for s in seeds
    }
    me = owner_id()  # by default, as above: never an upload or another session's run
    defaults = [(p, f) for p, f in saved if owners.default_candidate(p, me)]
    found, absent = seed_runs(defaults, study, seed_splits, compare_presets(preset))
    rows = []
    for summary in summarise(found, study):
        row = {"model": summary.model.upper(), "seeds done": f"{summary.n_runs} of {len(seeds)}"}
        row |= {
            label: seed_cell(summary.mean[k], summary.std[k], summary.n_runs, k == "kappa")
            for label, k in zip(("OA %", "AA %", "κ"), METRIC_KEYS)
        }
        reported = paper_result(ctx.scene.name, summary.model)
        if reported is not None:
            row["OA % (paper, reported)"] = f"{reported.oa:.2f}"
        rows.append(row)
    if rows:
        st.dataframe(pd.DataFrame(rows).set_index("model"), width="stretch")
        st.caption(
            f"Preset {preset}; sample standard deviation over the seeds each model finished (none for one "
            "seed); cancelled runs are left out."
            + (
                f" More seeds: the button below, or before the lecture `{seeds_command(ctx, seeds, preset)}` "
                "(the runs it saves show here)."
                if absent
                else ""
            )
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
            disabled=comparing(ctx),
            help="One comparison over these seeds and models: the runs saved already are read back, "
            "the others trained one after another (progress above).",
        ):
            start_comparison(ctx, study, seeds, preset)
            st.rerun()


def seed_cell(mean: float | None, std: float | None, n_runs: int, kappa: bool) -> str:
    """One cell of the seeds table: a percentage (κ as itself, 3 decimals) ± its spread over seeds; no
    spread for a single seed, whose spread is unknown rather than zero."""
    if mean is None:
        return "—"
    scale, digits = (1, 3) if kappa else (100, 2)
    text = f"{scale * mean:.{digits}f}"
    return text if n_runs < 2 or std is None else f"{text} ± {scale * std:.{digits}f}"


def seeds_command(ctx: Context, seeds: list[int], preset: str) -> str:
    """The `ssan compare` command that trains these seeds on this scene and split, into the app's runs folder
    (named when it is not the default, ./runs from where the app was started)."""
    spec, runs = ctx.spec, loaders.runs_dir()
    scene = (
        f"--scene {spec[1]}" + (f" --gt {spec[2]}" if spec[2] else "")
        if spec[0] == "file"
        else f"--scene {spec[0]}"
    )
    return (
        f"python -m ssan compare {scene} --split {ctx.split.protocol} "
        f"--seeds {','.join(map(str, seeds))} --preset {preset}"
        + ("" if runs == Path("runs") else f" --runs-dir {runs}")
    )


def confusion_matrices(ctx: Context, chosen: Chosen, names: list[str]) -> list[str]:
    """Up to four confusion matrices (SSAN and the best other model by default); returns those shown."""
    scene = ctx.scene
    st.subheader("Confusion matrices")
    others = [n for n in names if n != "SSAN"]
    best_other = max(others, key=lambda n: chosen[n.lower()][1].metrics["oa"]) if others else None
    default_shown = [n for n in ("SSAN", best_other) if n in names]
    shown = st.multiselect(
        "Models",
        names,
        default=default_shown,
        max_selections=4,
        key=f"compare_shown_{'-'.join(names)}",
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
    return shown


def class_maps(ctx: Context, chosen: Chosen, shown: list[str]) -> None:
    """The whole-scene maps of the models shown, each computed once per checkpoint in the background."""
    scene = ctx.scene
    st.subheader("Classification maps")
    st.caption(
        "Every pixel classified, borders included; the ground truth shows labelled pixels only. Each map is "
        "computed once per checkpoint (by the hash of its weights) and kept on disk."
    )
    legend(scene, counts=False)
    if not bound(
        st.toggle,
        f"Show the maps of the models above (each classifies all {scene.shape[0] * scene.shape[1]:,} "
        "pixels once, in the background: seconds on the demo, a minute or more for Pavia on a CPU; then instant)",
        "show_maps",
    ):
        return
    tasks = {
        name: class_map_task(
            str(chosen[name.lower()][0]),
            loaders.checkpoint_mtime(chosen[name.lower()][0]),
            ctx.spec,
        )
        for name in shown
    }
    working = any(not t.snapshot().finished for t in tasks.values())
    if working:
        st.session_state["_maps_following"] = True

    @st.fragment(run_every=POLL_SECONDS if working else None)
    def maps() -> None:
        panels, notes = [("Ground truth", scene.labels)], []
        for name, task in tasks.items():
            snap = task.snapshot()
            if not snap.finished:
                st.progress(
                    snap.fraction,
                    text=f"Classifying every pixel with {name} in the background: {snap.message}",
                )
            elif snap.error or snap.result is None:  # shown, not raised: the other maps stay usable
                st.error(f"The map of {name} could not be computed: {snap.error or snap.state}")
            else:
                panels.append((name, snap.result.labels))
                notes.append(f"{name}: {snap.result.precision.describe()}")
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
        done = all(t.snapshot().finished for t in tasks.values())
        if done and st.session_state.pop("_maps_following", False):
            st.rerun()  # once, the whole page: a fragment keeps polling until the page redraws it

    maps()
