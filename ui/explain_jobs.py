"""The "Does attention explain?" page's computations, each a background task shared by every session that asks
for the same (`ui.tasks.shared_task`): the held-out test (one per checkpoint weights, sample size and seed), the
clicked pixel's attributions (one per pixel and model), the branch map (one per model and scene) and seed
stability (one per set of checkpoints and pixels); and the debate in two sentences."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import streamlit as st

from ssan.explain import (
    BranchDecision,
    Explanation,
    branch_decision,
    explain_model,
    explain_pixels,
    training_baseline,
)
from ssan.explain.attributions import Attributions
from ssan.explain.inputs import Baseline, PixelBatch
from ssan.explain.stability import SeedPair, check_same_setting, seed_stability
from ssan.models.checkpoints import SIDECAR
from ssan.models.fitted import FittedModel
from ui import loaders
from ui.tasks import EXPLANATIONS, Pool, Task, session_owner, shared_task

# A pixel's attributions take about a second, the branch map a minute: each kind in its own queue, so a click is
# not kept waiting behind a map, the held-out test or a seed comparison.
PIXEL_WORK = Pool(1)
BRANCH_MAPS = Pool(1)
STABILITY = Pool(1)

DEBATE = (
    "Whether attention weights explain a prediction is disputed. Jain and Wallace (“Attention is not Explanation”, "
    "NAACL 2019) found attention often uncorrelated with gradient-based importance and showed that very different "
    "attention can give the same prediction; Wiegreffe and Pinter (“Attention is not not Explanation”, EMNLP 2019) "
    "replied that whether attention explains depends on the model and must be tested, for example against "
    "attributions and by removing what it points at — which is what this page does."
)


def weights_hash(path: str | Path) -> str:
    """The sha256 of the checkpoint's weights as its sidecar records it (the cache key of its tests)."""
    sidecar = Path(path) / SIDECAR
    return json.loads(sidecar.read_text()).get("weights_sha256", "") if sidecar.is_file() else ""


def explanation_task(path: str, sha256: str, spec: tuple, n_pixels: int, seed: int) -> Task:
    """The held-out test (an `Explanation` as the task's result) of the checkpoint with these weights on
    `n_pixels` held-out pixels drawn with `seed`: one computation for every session asking the same."""
    fitted, scene = loaders.model_at(path), loaders.scene_for(spec)

    def work(task: Task) -> Explanation:
        def step(fraction: float, message: str) -> None:
            task.report(fraction, message)
            task.raise_if_cancelled()

        return explain_model(fitted, scene, n_pixels, seed, progress=step)

    return shared_task(
        ("explain", path, sha256, spec, n_pixels, seed),
        work,
        EXPLANATIONS,
        session_owner(),
        name="ssan-explain",
    )


@st.cache_resource(max_entries=8)
def baseline_for(path: str, mtime: float, spec: tuple) -> Baseline:
    """The training pixels' mean input of the model at `path`."""
    return training_baseline(loaders.model_for(path, mtime), loaders.sampler_for(path, mtime, spec))


def pixel_task(path: str, mtime: float, spec: tuple, flat: int) -> Task:
    """α, mask and every attribution for one pixel (flat index) of the model at `path`, as the task's result
    `(PixelBatch, Attributions)`: computed in the background, once for every session asking for the same pixel
    of the same scene and model (keyed by `loaders.ReadoutKey`)."""
    fitted, scene = loaders.model_for(path, mtime), loaders.scene_for(spec)
    baseline = baseline_for(path, mtime, spec)

    def work(task: Task) -> tuple[PixelBatch, Attributions]:
        task.report(0.0, "computing the attributions")
        return explain_pixels(fitted, scene, np.array([flat]), baseline)

    return shared_task(
        ("explain-pixel", loaders.readout_key(path, mtime, spec), int(flat)),
        work,
        PIXEL_WORK,
        session_owner(),
        name="ssan-explain-pixel",
    )


def branch_map_task(path: str, mtime: float, spec: tuple) -> Task:
    """Which SSAN branch decided each labelled pixel of the scene (a `BranchDecision` as the task's result):
    computed in the background, once for every session asking for the same scene and model."""
    fitted, scene = loaders.model_for(path, mtime), loaders.scene_for(spec)
    sampler = loaders.sampler_for(path, mtime, spec)

    def work(task: Task) -> BranchDecision:
        def step(fraction: float) -> None:
            task.report(fraction, "neutralising each branch over the labelled pixels")
            task.raise_if_cancelled()

        return branch_decision(fitted, sampler, scene.labelled_pixels(), progress=step)

    return shared_task(
        ("branch-map", loaders.readout_key(path, mtime, spec)),
        work,
        BRANCH_MAPS,
        session_owner(),
        name="ssan-branch-map",
    )


def seed_partners(
    path: Path, fitted: FittedModel, models: list[tuple[Path, FittedModel]]
) -> list[tuple[Path, FittedModel]]:
    """The other checkpoints of the same model, scene and split trained with another seed."""
    partners = []
    for other_path, other in models:
        if Path(other_path) == Path(path) or other.seed == fitted.seed:
            continue
        try:
            check_same_setting([fitted, other])
        except ValueError:
            continue
        partners.append((other_path, other))
    return partners


def stability_task(paths: tuple[str, ...], spec: tuple, pixels: tuple[int, ...]) -> Task:
    """Seed stability of α between the checkpoints at `paths` on the given pixels (a list of `SeedPair` as the
    task's result): computed in the background, once for every session asking for the same checkpoints (as of
    their current files), scene and pixels."""
    keys = tuple((p, loaders.checkpoint_mtime(p)) for p in paths)
    models, scene = [loaders.model_at(p) for p in paths], loaders.scene_for(spec)

    def work(task: Task) -> list[SeedPair]:
        task.report(0.0, "comparing α between seeds")
        return seed_stability(models, scene, np.asarray(pixels))

    return shared_task(
        ("seed-stability", keys, spec, pixels),
        work,
        STABILITY,
        session_owner(),
        name="ssan-seed-stability",
    )
