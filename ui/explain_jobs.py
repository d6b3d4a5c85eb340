"""The "Does attention explain?" page's computations: the held-out test as a background task (one per
checkpoint weights, sample size and seed, shared across reruns and sessions), the clicked pixel's
attributions, the branch map, and the debate in two sentences."""

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
from ui.tasks import EXPLANATIONS, Task, session_owner, shared_task

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


@st.cache_resource(max_entries=64)
def pixel_explanation(
    path: str, mtime: float, spec: tuple, flat: int
) -> tuple[PixelBatch, Attributions]:
    """α, mask and every attribution for one pixel."""
    return explain_pixels(
        loaders.model_for(path, mtime),
        loaders.scene_for(spec),
        np.array([flat]),
        baseline_for(path, mtime, spec),
    )


@st.cache_resource(show_spinner="Neutralising each branch over the labelled pixels…", max_entries=8)
def branch_map(path: str, mtime: float, spec: tuple) -> BranchDecision:
    """Which SSAN branch decided each labelled pixel of the scene."""
    scene = loaders.scene_for(spec)
    return branch_decision(
        loaders.model_for(path, mtime),
        loaders.sampler_for(path, mtime, spec),
        scene.labelled_pixels(),
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


@st.cache_resource(show_spinner="Comparing α between seeds…", max_entries=8)
def stability(paths: tuple[str, ...], spec: tuple, pixels: tuple[int, ...]) -> list[SeedPair]:
    """Seed stability of α between the checkpoints at `paths` on the given pixels."""
    return seed_stability(
        [loaders.model_at(p) for p in paths], loaders.scene_for(spec), np.asarray(pixels)
    )
