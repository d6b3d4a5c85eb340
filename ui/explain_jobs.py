"""The "Does attention explain?" page's cached computations: the held-out test running in a background
thread (one per checkpoint weights, sample size and seed, shared across reruns and sessions), the
clicked pixel's attributions, the branch map, and the debate in two sentences."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from ssan.data.scene import Scene
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

DEBATE = (
    "Whether attention weights explain a prediction is disputed. Jain and Wallace (“Attention is not Explanation”, "
    "NAACL 2019) found attention often uncorrelated with gradient-based importance and showed that very different "
    "attention can give the same prediction; Wiegreffe and Pinter (“Attention is not not Explanation”, EMNLP 2019) "
    "replied that whether attention explains depends on the model and must be tested, for example against "
    "attributions and by removing what it points at — which is what this page does."
)


@dataclass(eq=False)
class ExplanationRun:
    """`explain_model` in a daemon thread; read `fraction`, `message`, `result` and `error` from any thread."""

    fitted: FittedModel
    scene: Scene
    n_pixels: int
    seed: int
    fraction: float = 0.0
    message: str = "starting"
    result: Explanation | None = None
    error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> ExplanationRun:
        threading.Thread(target=self._work, daemon=True, name="explain").start()
        return self

    @property
    def finished(self) -> bool:
        return self.result is not None or self.error is not None

    def _progress(self, fraction: float, message: str) -> None:
        with self._lock:
            self.fraction, self.message = max(self.fraction, fraction), message

    def _work(self) -> None:
        try:
            result = explain_model(
                self.fitted, self.scene, self.n_pixels, self.seed, progress=self._progress
            )
        except ValueError as exc:  # ExplainError and the scene checks: a message for the page
            self.error = str(exc)
            return
        except Exception as exc:  # noqa: BLE001 - the thread's last word, shown on the page instead of lost
            self.error = f"the test failed unexpectedly ({type(exc).__name__}: {exc})"
            return
        with self._lock:
            self.fraction, self.result = 1.0, result


def weights_hash(path: str | Path) -> str:
    """The sha256 of the checkpoint's weights as its sidecar records it (the cache key of its tests)."""
    sidecar = Path(path) / SIDECAR
    return json.loads(sidecar.read_text()).get("weights_sha256", "") if sidecar.is_file() else ""


@st.cache_resource(max_entries=8)
def explanation_run(
    path: str, sha256: str, spec: tuple, n_pixels: int, seed: int
) -> ExplanationRun:
    """The (started) test of the checkpoint with these weights on `n_pixels` held-out pixels drawn with `seed`."""
    return ExplanationRun(loaders.model_at(path), loaders.scene_for(spec), n_pixels, seed).start()


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
