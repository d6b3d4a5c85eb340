"""Start a background training job and watch it; the training-time estimate; the advanced settings.

The worker (`ui.jobs.TrainJob`, a `ui.tasks.Task`) never calls Streamlit; a fragment reads its
snapshot every second while it runs (`ui.tasks.follow`), and asks for one full rerun when it ends
so the page's buttons and result sections catch up.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from ssan.models.fitted import CANCELLED_MARK
from ssan.training.trainer import format_duration, pick_device
from ui import loaders, owners
from ui.figures import training_curve_figure
from ui.jobs import JobSnapshot, TrainJob
from ui.page import Context, plot
from ui.state import owner_id, set_value
from ui.tasks import (
    CANCELLED,
    DONE,
    ESTIMATES,
    FAILED,
    MAX_JOBS_ENV,
    Task,
    TaskSnapshot,
    follow,
    max_jobs,
    session_owner,
    shared_task,
)

ADVANCED = {  # session key: (preset field, label, number_input kwargs); None in the session = the preset's value
    "adv_iterations": (
        "iterations",
        "Iterations",
        {"min_value": 1, "max_value": 200_000, "step": 50},
    ),
    "adv_eval_every": (
        "eval_every",
        "Validate every … iterations",
        {"min_value": 1, "max_value": 100_000, "step": 10},
    ),
    "adv_batch_size": ("batch_size", "Batch size", {"min_value": 1, "max_value": 4096, "step": 16}),
    "adv_lr": (
        "lr",
        "Learning rate",
        {"min_value": 1e-6, "max_value": 1.0, "step": 1e-3, "format": "%.4g"},
    ),
}


def advanced_overrides() -> dict:
    """The preset overrides set in the Train page's advanced settings (the empty ones left out)."""
    return {
        field: st.session_state[name]
        for name, (field, _, _) in ADVANCED.items()
        if st.session_state[name] is not None
    }


def reset_advanced() -> None:
    """Button callback: every advanced setting back to the preset's value."""
    for name in ADVANCED:
        set_value(name, None)


def start_job(
    slot: str, ctx: Context, models: Sequence[str], preset: str, seed: int, overrides: dict
) -> None:
    """Start training `models` on the current scene and split in the background; the job lives in
    session_state[slot] together with the scene spec it belongs to."""
    job = TrainJob(
        ctx.scene,
        ctx.split,
        models,
        preset,
        seed=seed,
        device=pick_device(),
        overrides=overrides,
        runs_dir=loaders.runs_dir(),
        owner_alive=session_owner(),
    )
    owners.claim_job(job, owner_id())  # its runs are this session's
    st.session_state[slot] = (ctx.spec, job.start())


def estimate_task(ctx: Context, model: str, preset: str, overrides: dict) -> Task:
    """Expected training time as a range (a TimeEstimate): a few real steps timed in the background, once per
    scene, split, model and settings for every session (ValueError for bad settings: the task fails)."""
    loaders.use_torch()
    from ssan.training.estimate import estimate_time_range

    scene, split, device = ctx.scene, ctx.split, pick_device()
    key = (
        "estimate",
        ctx.spec,
        split.protocol,
        split.seed,
        model,
        preset,
        tuple(sorted(overrides.items())),
    )
    return shared_task(
        key,
        lambda _task: estimate_time_range(
            scene, split, model, preset, device=device, overrides=dict(overrides)
        ),
        ESTIMATES,
        session_owner(),
        name="ssan-estimate",
    )


def show_estimate(ctx: Context, model: str, preset: str, overrides: dict) -> None:
    """The training-time estimate: "measuring…" while a few steps are timed in the background, then the range
    (a fragment polls, so the rest of the page never waits for it)."""

    def draw(snap: TaskSnapshot) -> None:
        if not snap.finished:
            st.container(key="estimate_measuring").markdown(
                "**Estimated time:** measuring a few training steps in the background…"
            )
        elif snap.error:
            st.error(snap.error)
        elif snap.result is not None:
            st.container(key="estimate").markdown(f"**Estimated time:** {snap.result.describe()}")

    follow(estimate_task(ctx, model, preset, overrides), draw, "estimate")


def running(slot: str) -> bool:
    """Whether the job in `slot` is still working."""
    entry = st.session_state.get(slot)
    return entry is not None and not entry[1].snapshot().finished


def monitor(slot: str, spec: tuple) -> None:
    """The live view of the job in `slot`: progress, ETA, cancel, loss/validation curve, then results;
    only for a job on the scene `spec` (a job on another scene is named, never shown as this scene's)."""
    entry = st.session_state.get(slot)
    if entry is not None and entry[0] != spec:
        state = "is training" if running(slot) else "trained"
        st.container(key=f"{slot}_elsewhere").caption(
            f"A job {state} on {loaders.spec_label(entry[0])}: choose that scene on the Scene page "
            "to follow it or see its results."
        )
        return

    entry = st.session_state.get(slot)
    if entry is None:
        return
    job = entry[1]

    def live(snap: JobSnapshot) -> None:
        if not snap.finished:
            p = snap.progress
            name = (snap.current_model or "").upper()
            step = (
                f" · {len(snap.models)} models, #{snap.current + 1}" if len(snap.models) > 1 else ""
            )
            fraction = snap.fraction
            if snap.queue_position is not None:
                ahead = snap.queue_position - 1
                text = (
                    f"{name}: waiting for a free training slot; you are number {snap.queue_position} in the "
                    f"queue ({ahead} job{'s' if ahead != 1 else ''} ahead, {max_jobs()} training at a time; "
                    f"{MAX_JOBS_ENV} sets it){step}"
                )
            elif (
                snap.scoring is not None
            ):  # after the last iteration: the test pixels are being classified
                done, total = snap.scoring
                fraction = done / max(total, 1)
                text = f"{name}: trained; scoring the test pixels, {done:,} of {total:,}{step}"
            elif p is None:
                text = f"{name}: preparing…{step}"
            else:
                best = (
                    ""
                    if p.best_val_accuracy is None
                    else f" · best validation {100 * p.best_val_accuracy:.1f}%"
                )
                text = (
                    f"{name}: iteration {p.iteration}/{p.iterations} · loss {p.loss:.3f}{best} · "
                    f"elapsed {format_duration(p.elapsed)} · about {format_duration(p.remaining)} left "
                    f"(then scoring the test pixels){step}"
                )
            st.progress(fraction, text=text)
            st.button(
                "Cancel (keeps the best model so far)",
                on_click=job.cancel,
                key=f"{slot}_cancel",
                disabled=job.stop.is_set(),
            )
        if snap.history:
            plot(training_curve_figure(list(snap.history)), key=f"{slot}_curve")

    follow(job, live, slot)  # when it ends, the whole page reruns: the start button, the results
    snap = job.snapshot()
    if snap.note:
        st.warning(f"Training stopped: {snap.note}.")
    if snap.state == FAILED:
        st.error(f"Training failed: {snap.error}")
    elif snap.state in (DONE, CANCELLED):
        if snap.state == CANCELLED and not snap.metrics:
            st.container(key=f"{slot}_cancelled_early").warning(
                "Cancelled before training started: nothing was trained."
            )
        elif snap.state == CANCELLED and not snap.note:
            st.container(key=f"{slot}_cancelled_kept").warning(
                "Cancelled: the best model so far was kept, evaluated and saved, marked as cancelled; "
                "it is not made the active model or used by default."
            )
        for name, metrics, path, fitted in zip(
            snap.models, snap.metrics, snap.checkpoints, job.results
        ):
            c1, c2, c3, c4 = st.columns([1, 1, 1, 3])
            c1.metric(f"{name.upper()} OA", f"{100 * metrics['oa']:.2f}%")
            c2.metric("AA", f"{100 * metrics['aa']:.2f}%")
            c3.metric("κ", f"{metrics['kappa']:.4f}")
            mark = f"{CANCELLED_MARK}. " if fitted.cancelled else ""
            c4.caption(
                f"{mark}Trained in {format_duration(fitted.train_seconds)}, then scored on "
                f"{metrics['n_pixels']:,} test pixels. Saved to `{path}`."
            )
