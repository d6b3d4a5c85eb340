"""The Train page: fit a model on the current scene and split in the background, pick the active model,
rename or delete saved runs, and load a checkpoint from files."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ssan.data.uploads import store_checkpoint_upload
from ssan.evaluation.runs import delete_run, rename_run
from ssan.models import CLASSICAL_MODELS, MODEL_LABELS, MODEL_NAMES, PRESETS, get_preset
from ssan.models.checkpoints import CheckpointError
from ssan.models.fitted import CANCELLED_MARK, FittedModel
from ssan.training.trainer import describe_device, pick_device
from ui import loaders, owners, page, training
from ui.controls import split_controls
from ui.page import Context
from ui.state import bound, owner_id

ss = st.session_state


def header(ctx: Context) -> None:
    """Title, the scene, and the split's controls (shared with the Scene page)."""
    st.title("Train a model")
    st.markdown(f"On **{loaders.spec_label(ctx.spec)}** (choose the scene on the Scene page).")
    split_controls()
    st.caption(ctx.split.summary())


def settings_and_start(ctx: Context) -> None:
    """Model, preset, seed and advanced settings; the device and time estimate; the Train button."""
    device = pick_device()
    left, right = st.columns([1, 1], gap="large")
    with left:
        model = bound(
            st.selectbox,
            "Model",
            "train_model",
            options=list(MODEL_NAMES),
            format_func=MODEL_LABELS.get,
        )
        neural = model not in CLASSICAL_MODELS
        c1, c2 = st.columns(2)
        with c1:
            preset = bound(
                st.selectbox,
                "Preset",
                "train_preset",
                options=list(PRESETS),
                disabled=not neural,
                help="quick: small network, fast on a CPU, with the changes docs/method.md lists (the default "
                "to pick); paper: the authors' configuration as published (minutes per run on a GPU, hours "
                "on a CPU).",
            )
        with c2:
            seed = bound(
                st.number_input, "Seed", "train_seed", min_value=0, max_value=2**31 - 1, step=1
            )
        base = get_preset(preset)
        with st.expander("Advanced settings", expanded=False):
            st.caption("Empty fields keep the preset's value.")
            a1, a2 = st.columns(2)
            for i, (name, (field, label, kwargs)) in enumerate(training.ADVANCED.items()):
                with (a1, a2)[i % 2]:
                    bound(
                        st.number_input,
                        label,
                        name,
                        value=None,  # an emptied field is the preset's value, never min_value
                        placeholder=f"{getattr(base, field)} (preset)",
                        disabled=not neural,
                        **kwargs,
                    )
            st.button(
                "Reset to the preset",
                key="reset_advanced",
                on_click=training.reset_advanced,
                disabled=not neural or not training.advanced_overrides(),
            )
        overrides = training.advanced_overrides() if neural else {}
    with right:
        st.markdown(f"**Device:** {describe_device(device)}, picked automatically.")
        if not neural:
            st.markdown(
                f"**Estimated time:** a grid search over {model.upper()}'s settings on the "
                f"{ctx.split.train.size:,} training spectra; seconds on the demo scene."
            )
        elif preset == "paper" and device.type == "cpu" and not ss.get("_estimate_paper"):
            st.markdown(
                "**Estimated time:** the paper preset is meant for a GPU; on a CPU it takes hours."
            )
            if st.button("Time a few steps to estimate", key="estimate"):
                ss["_estimate_paper"] = True
                st.rerun()
        else:
            training.show_estimate(ctx, model, preset, overrides)
        busy = training.running("train_job")
        if st.button(f"Train {model.upper()}", type="primary", disabled=busy, key="start_training"):
            try:
                training.start_job("train_job", ctx, (model,), preset, int(seed), overrides)
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.rerun()
        st.caption(
            f"Trained models are saved under `{loaders.runs_dir().resolve()}` (set SSAN_RUNS_DIR to change it)."
        )


def saved_models(ctx: Context) -> list[tuple[Path, FittedModel]]:
    """The saved models of this scene, with the active one chosen here; returns them."""
    st.divider()
    st.subheader("Saved models for this scene")
    models, problems = loaders.models_for_scene(ctx.scene)
    for problem in problems:
        st.warning(f"Skipped an unreadable checkpoint: {problem}")
    if not models:
        st.info("No saved model for this scene yet: train one above, or upload a checkpoint below.")
    else:
        paths = [str(p) for p, _ in models]
        labels = {str(p): page.model_label(p, f) for p, f in models}
        ss.active_model = str(ctx.model_path) if ctx.model_path is not None else None
        st.radio(
            "Active model (used by the attention pages)",
            paths,
            format_func=labels.get,
            key="active_model",
            on_change=lambda: page.choose_model(ctx.spec, ss.active_model),
        )
        if any(f.cancelled for _, f in models):
            st.caption(
                f"{CANCELLED_MARK}: a run stopped before its last iteration. It is listed but never made "
                "active or used by default; choose it yourself to look at it."
            )

    return models


def manage_models(models: list[tuple[Path, FittedModel]]) -> None:
    """Rename or delete this session's saved runs under the runs folder (the lecturer's too when the server
    allows it; never the shipped checkpoint)."""
    saved = [(p, f) for p, f in models if loaders.runs_dir().resolve() in Path(p).resolve().parents]
    own = [(p, f) for p, f in saved if owners.may_edit(p, owner_id())]
    if len(own) < len(saved):
        st.caption(
            "Runs trained or uploaded in another browser session, and the lecturer's runs, are read-only "
            f"here ({owners.STUDENTS_MAY_EDIT_ENV}=1 on the server lets everyone change the lecturer's)."
        )
    if own:
        with st.expander("Rename or delete a saved model"):
            by_label = {page.model_label(p, f): Path(p) for p, f in own}
            target = by_label[st.selectbox("Saved model", list(by_label), key="manage_model")]
            r1, r2 = st.columns(2)
            with r1:
                new_name = st.text_input(
                    "New folder name", value=target.name, key=f"rename_to_{target.name}"
                )
                if st.button(
                    "Rename", key="rename_model", disabled=new_name.strip() in ("", target.name)
                ):
                    try:
                        owners.check_edit(target, owner_id())
                        renamed = rename_run(target, new_name.strip(), loaders.runs_dir())
                    except (ValueError, OSError) as exc:
                        st.error(str(exc))
                    else:
                        owners.moved(target, renamed)
                        page.forget_model(target, renamed)
                        page.flash(f"Renamed {target.name} to {renamed.name}.")
                        st.rerun()
            with r2:
                sure = st.checkbox("Yes, delete this model's files", key="confirm_delete")
                if st.button("Delete", key="delete_model", disabled=not sure):
                    try:
                        owners.check_edit(target, owner_id())
                        delete_run(target, loaders.runs_dir())
                    except (ValueError, OSError) as exc:
                        st.error(str(exc))
                    else:
                        owners.forget(target)
                        page.forget_model(target)
                        ss.pop("confirm_delete", None)
                        page.flash(f"Deleted {target.name}.")
                        st.rerun()


def load_checkpoint_files(ctx: Context) -> None:
    """Store an uploaded checkpoint (both files) under the runs folder and make it active if it fits."""
    with st.expander("Load a checkpoint from files"):
        st.caption("Upload both files of a checkpoint folder: model.safetensors and model.json.")
        files = st.file_uploader(
            "Checkpoint files",
            type=["safetensors", "json"],
            accept_multiple_files=True,
            key="upload_checkpoint",
        )
        if st.button("Load checkpoint", disabled=not files, key="load_checkpoint"):
            try:
                path, fitted = store_checkpoint_upload(
                    {f.name: f.getvalue() for f in files}, loaders.runs_dir()
                )
            except CheckpointError as exc:
                st.error(str(exc))
            else:
                owners.record(path, owner_id(), replace=False)
                page.prune_after_upload()
                if loaders.fits(fitted, ctx.scene):
                    page.choose_model(ctx.spec, path)
                    page.flash(
                        f"Loaded {page.model_label(path, fitted)}; it is now the active model."
                    )
                    st.rerun()
                else:
                    st.warning(
                        f"Saved {page.model_label(path, fitted)}, but it was trained on scene "
                        f"'{fitted.scene.name}', not this one: choose that scene to use it."
                    )
