"""The "Does attention explain?" page: attention beside attributions for one pixel, the deletion test on
held-out pixels (a background task shared by every session), which SSAN branch decided, seed stability."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from ssan.explain import DECIDERS, ExplainError, Explanation, require_explainable
from ssan.explain.attributions import METHODS
from ssan.explain.report import RANKING_LABELS
from ssan.models.fitted import FittedModel
from ui import explain_jobs as tests
from ui import loaders, page
from ui.explain_figures import (
    agreement_figure,
    branch_map_figure,
    branch_shares_figure,
    deletion_figure,
    pixel_bands_figure,
    pixel_patch_figure,
)
from ui.page import Context
from ui.state import bound
from ui.tasks import Task, TaskSnapshot, follow
from ui.viewer import class_name, clickable_scene, legend


def header(ctx: Context) -> FittedModel:
    """Title, the question, the debate; the active model (the page stops when it cannot be explained)."""
    st.title("Does attention explain?")
    st.markdown(
        f"{page.METHOD} shows where it attends, but attention is not automatically the reason for a prediction. This "
        "page puts attention beside *attributions* (Integrated Gradients, input × gradient, occlusion: computed with "
        "Captum, each explaining the predicted class) and *deletes* what each one ranks highest, to see which ranking "
        "the prediction really depends on."
    )
    st.caption(tests.DEBATE)
    fitted = page.require_model(ctx)
    try:
        require_explainable(fitted)
    except ExplainError as exc:
        st.warning(f"{exc}")
        st.stop()
    return fitted


def words(ctx: Context, fitted: FittedModel) -> tuple[str, str]:
    """How the figures name the model and its split."""
    split = f"{fitted.split.protocol} split (seed {fitted.split.seed})"
    model = f"{fitted.model_name.upper()} ({fitted.preset.name}, training seed {fitted.seed}) on {ctx.scene.name}"
    return model, split


def background(what: str) -> Callable[[TaskSnapshot], None]:
    """A `follow` drawing: the progress of a background task, or its place in the queue while it waits."""

    def draw(snap: TaskSnapshot) -> None:
        if snap.finished:
            return
        if snap.queue_position is not None:
            text = f"{what}: waiting for {snap.queue_position} earlier request(s)…"
        else:
            text = f"{what} in the background: {snap.message}…"
        st.progress(snap.fraction, text=text)

    return draw


def awaited(task: Task, doing: str, what: str, key: str) -> Any:
    """`task`'s result once it is there (None while it works, or after an error, said in one line); its
    progress is drawn meanwhile, as "`doing` in the background"."""
    follow(task, background(doing), key)
    snap = task.snapshot()
    if snap.error:
        st.error(f"{what} could not be computed: {snap.error}")
    return snap.result


def one_pixel(ctx: Context, fitted: FittedModel) -> None:
    """The clicked pixel: its α and mask beside every attribution (computed in the background)."""
    scene = ctx.scene
    path, mtime = ctx.model_key
    model_words, split_words = words(ctx, fitted)
    st.header("One pixel: attention beside attributions")
    left, right = st.columns([1, 1.6], gap="large")
    with left:
        row, col = clickable_scene(ctx, key="explain_image", height=400)
        legend(scene, counts=False)
    flat = row * scene.shape[1] + col
    task = tests.pixel_task(str(path), mtime, ctx.spec, flat)
    provenance = f"{model_words}, {split_words}; pixel (row {row}, col {col})"
    with right:
        st.subheader(f"Pixel (row {row}, col {col})")
        result = awaited(task, "Explaining this pixel", "The attributions", "explain_pixel")
        if result is None:
            return
        batch, attributions = result
        predicted = int(batch.predicted[0])
        st.markdown(
            f"Ground truth **{class_name(scene, int(scene.labels[row, col]))}** · predicted "
            f"**{class_name(scene, predicted)}** ({100 * batch.probabilities[0, predicted - 1]:.1f}%). "
            "Each attribution explains the predicted class from a baseline: the mean input of the training "
            "pixels."
        )
        if batch.alpha is not None:
            planted = scene.planted.band_mask(scene.n_bands) if scene.planted is not None else None
            page.plot(
                pixel_bands_figure(
                    scene.wavelengths,
                    batch.alpha[0],
                    {m: a[0] for m, a in attributions.spectral.items()},
                    provenance,
                    planted,
                    scene.wavelengths_estimated,
                ),
                key="explain_bands",
            )
        else:
            st.info(
                f"{fitted.model_name.upper()} has no spectral attention α; only the spatial mask is tested."
            )
    if batch.mask is not None:
        page.plot(
            pixel_patch_figure(
                batch.mask[0], {m: a[0] for m, a in attributions.spatial.items()}, provenance
            ),
            key="explain_patch",
        )
    else:
        st.info(f"{fitted.model_name.upper()} has no spatial attention mask; only α is tested.")


def deletion_test(ctx: Context, fitted: FittedModel) -> Explanation | None:
    """The deletion test on a seeded sample of held-out pixels, run in the background; its results once done."""
    path = ctx.model_key[0]
    st.header("Deletion test on held-out pixels")
    st.markdown(
        "For a seeded sample of labelled pixels the model never trained or validated on, the inputs each ranking calls "
        "most important are replaced, a few at a time, by the training pixels' mean, and the probability of the class "
        "predicted at the start is recorded. Bands are deleted with the patch left as it is; neighbours with the "
        "spectrum left as it is. **The faster a curve falls (the smaller its area), the more the prediction rests on "
        "what that ranking points at.**"
    )
    c1, c2 = st.columns(2)
    with c1:
        n_pixels = int(
            bound(
                st.number_input,
                "Pixels in the sample",
                "explain_pixels",
                min_value=20,
                max_value=2000,
                step=20,
            )
        )
    with c2:
        seed = int(
            bound(
                st.number_input,
                "Sample seed",
                "explain_seed",
                min_value=0,
                max_value=10_000,
                step=1,
            )
        )
    task = tests.explanation_task(path, tests.weights_hash(path), ctx.spec, n_pixels, seed)

    def progress(snap: TaskSnapshot) -> None:
        if not snap.finished:
            st.progress(
                snap.fraction, text=f"Testing {n_pixels} pixels in the background: {snap.message}…"
            )

    follow(task, progress, "explain")
    snap = task.snapshot()
    if snap.error:
        st.error(f"The test could not run: {snap.error}")
    elif not snap.finished:
        st.caption(
            "The results appear here when the test is done; they are kept for this checkpoint, sample size and "
            "seed. The branch map below does not wait for them."
        )
    return snap.result


def deletion_results(ctx: Context, explanation: Explanation) -> None:
    """Verdict, deletion curves and areas, agreement and planted precision of the finished test."""
    scene = ctx.scene
    provenance = explanation.provenance
    for sentence in explanation.verdict():
        st.markdown(f"**Verdict.** {sentence}")
    for note in explanation.notes:
        st.caption(note)
    tabs = st.tabs([f"{kind.capitalize()} deletion" for kind in explanation.curves])
    for tab, (kind, curves) in zip(tabs, explanation.curves.items()):
        with tab:
            page.plot(deletion_figure(curves, provenance), key=f"deletion_{kind}")
            rows = []
            for name in curves.rankings:
                area = curves.area(name, explanation.pixel_seed)
                rows.append(
                    {
                        "ranking": RANKING_LABELS[name],
                        "area": round(area.mean, 3),
                        "95% interval": f"{area.low:.3f} – {area.high:.3f}",
                    }
                )
            st.dataframe(pd.DataFrame(rows), hide_index=True)
            st.caption(
                "Area under the mean-probability curve (0 = gone at once, 1 = never falls), with a 95% "
                f"bootstrap interval over the pixels. Random is the mean of {curves.n_random} random orders."
            )

    st.subheader("Do attention and attributions rank alike?")
    kinds = list(explanation.agreement)
    c1, c2 = st.columns(2)
    kind = c1.selectbox(
        "Attention",
        kinds,
        key="agreement_kind",
        format_func=lambda k: "spectral α" if k == "spectral" else "spatial mask",
    )
    method = c2.selectbox(
        "Attribution", list(METHODS), format_func=METHODS.get, key="agreement_method"
    )
    page.plot(
        agreement_figure(
            explanation.agreement_by_class(kind, method),
            scene.class_names,
            method,
            kind,
            provenance,
        ),
        key="agreement",
    )
    st.caption(
        "Per pixel, the Spearman rank correlation between attention and the attribution: 1 = same order, "
        "0 = unrelated, −1 = opposite."
    )

    if explanation.planted:
        st.subheader("Planted bands: which explanation finds the evidence put there?")
        rows = [
            {
                "class pair": f"{class_name(scene, p.pair[0])} / {class_name(scene, p.pair[1])}",
                "planted bands": f"{p.bands[0]}–{p.bands[1] - 1}",
                "ranking": RANKING_LABELS[p.ranking],
                "precision@k": round(p.precision, 2),
                "chance": round(p.chance, 2),
                "pixels": p.n_pixels,
            }
            for p in explanation.planted
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        st.caption(
            "Share of each ranking's top-k bands (k = the planted width) that lie in the planted range, "
            "over the pair's pixels in the sample. 1 = found all; chance = what a random ranking finds."
        )


def branches(ctx: Context, fitted: FittedModel) -> None:
    """Which SSAN branch decided each labelled pixel."""
    scene = ctx.scene
    path, mtime = ctx.model_key
    model_words, split_words = words(ctx, fitted)
    st.header("Which branch decided?")
    if fitted.model_name != "ssan":
        st.info(
            f"{fitted.model_name.upper()} has one branch; this test is asked of SSAN, which fuses two."
        )
    else:
        st.markdown(
            "Each branch's class scores are replaced by their mean over the training pixels in turn. If the "
            "prediction survives only without the spatial branch, the spectral branch decided; and so on."
        )
        task = tests.branch_map_task(str(path), mtime, ctx.spec)
        decision = awaited(task, "Neutralising each branch", "The branch map", "explain_branches")
        if decision is None:
            return
        map_provenance = (
            f"{model_words}, {split_words}; all {decision.pixels.size:,} labelled pixels"
        )
        c1, c2 = st.columns([1.2, 1])
        with c1:
            page.plot(
                branch_map_figure(decision.as_map(scene.shape), map_provenance), key="branch_map"
            )
        shares = decision.shares(scene.labels.ravel()[decision.pixels], scene.n_classes)
        with c2:
            page.plot(
                branch_shares_figure(shares, scene.class_names, map_provenance), key="branch_shares"
            )
        overall = decision.overall()
        st.caption(
            " · ".join(
                f"{name}: {100 * v:.0f}% of the pixels" for name, v in zip(DECIDERS, overall)
            )
        )


def seed_stability(ctx: Context, fitted: FittedModel, explanation: Explanation | None) -> None:
    """Whether α agrees between trainings with other seeds, on the deletion test's pixels."""
    scene = ctx.scene
    path = ctx.model_key[0]
    st.header("Seed stability")
    models, _ = loaders.models_for_scene(scene)
    partners = tests.seed_partners(path, fitted, models)
    if not fitted.has_spectral_attention:
        st.info(
            f"{fitted.model_name.upper()} has no spectral attention α to compare between seeds."
        )
    elif explanation is None:
        st.caption(
            "Seed stability is computed on the deletion test's pixels, once that test is done."
        )
    elif not partners:
        st.info(
            "No other checkpoint of this model, scene and split trained with another seed was found. Train one on the "
            "Train page with another seed (same split) to see whether attention agrees between trainings."
        )
    else:
        chosen = st.multiselect(
            "Compare α with",
            [str(p) for p, _ in partners],
            default=[str(partners[0][0])],
            format_func=lambda p: page.model_label(p, loaders.model_at(p)),
            key="seed_partners",
        )
        if chosen:
            task = tests.stability_task(
                (str(path), *chosen), ctx.spec, tuple(int(p) for p in explanation.batch.pixels)
            )
            pairs = awaited(
                task, "Comparing α between seeds", "Seed stability", "explain_stability"
            )
            if pairs is None:
                return
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "seeds": f"{p.seeds[0]} vs {p.seeds[1]}",
                            "median per-pixel Spearman of α": round(
                                float(np.nanmedian(p.pixel_correlation)), 2
                            ),
                            "median class-mean Spearman of α": round(
                                float(np.nanmedian(p.class_correlation)), 2
                            ),
                            "accuracies": f"{100 * p.accuracy[0]:.1f}% / {100 * p.accuracy[1]:.1f}%",
                        }
                        for p in pairs
                    ]
                ),
                hide_index=True,
            )
            for pair in pairs:
                st.markdown(pair.sentence())
            st.caption(
                f"On the same {explanation.batch.pixels.size} held-out pixels. Accuracy can agree while attention "
                "does not: a low correlation beside a small accuracy difference is that case."
            )
