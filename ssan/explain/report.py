"""The whole test for one model on a seeded sample of held-out pixels, and its verdict in numbers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ssan.data.scene import Scene
from ssan.explain.agreement import (
    PlantedPrecision,
    per_class,
    planted_precision,
    rank_correlation,
)
from ssan.explain.attributions import (
    METHODS,
    Attributions,
    AttributionSettings,
    pixel_attributions,
)
from ssan.explain.branches import DECIDERS, BranchDecision, branch_decision
from ssan.explain.deletion import (
    N_RANDOM,
    RANDOM,
    STEPS,
    AreaEstimate,
    DeletionCurves,
    band_deletion_curves,
    neighbour_deletion_curves,
)
from ssan.explain.inputs import (
    Baseline,
    PixelBatch,
    pixel_batch,
    require_explainable,
    sample_pixels,
    training_baseline,
)
from ssan.models.fitted import FittedModel

ATTENTION, REVERSED, DISTANCE = "attention", "reversed attention", "distance from centre"
RANKING_LABELS = {
    ATTENTION: "attention",
    REVERSED: "attention, reversed",
    DISTANCE: "distance from the centre",
    RANDOM: "random (mean of draws)",
    **METHODS,
}
KIND_WORDS = {"spectral": ("bands", "α"), "spatial": ("neighbours", "spatial mask")}

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Faithfulness:
    """How fast deleting by attention lowers the prediction, against random and the best attribution."""

    kind: str
    attention: AreaEstimate
    random: AreaEstimate
    versus_random: AreaEstimate  # paired difference attention - random (negative = faster)
    best: str  # the attribution with the smallest area
    best_area: AreaEstimate
    n_pixels: int

    @property
    def gap_closed(self) -> float:
        """(random - attention) / (random - best attribution): 1 = as good as the best, 0 = as random."""
        gap = self.random.mean - self.best_area.mean
        return float((self.random.mean - self.attention.mean) / gap) if gap > 1e-9 else float("nan")

    @property
    def faster_than_random(self) -> bool | None:
        """True / False when the interval of the difference excludes 0, None when it does not."""
        if self.versus_random.high < 0:
            return True
        if self.versus_random.low > 0:
            return False
        return None

    def sentence(self, model: str) -> str:
        """The verdict, in words a student can read aloud."""
        what, attention = KIND_WORDS[self.kind]
        a, r, b = self.attention, self.random, self.best_area
        head = (
            f"Deleting the {what} that {model}'s {attention} ranks highest, on {self.n_pixels} held-out pixels, "
            f"leaves an area of {a.mean:.2f} (95% interval {a.low:.2f} to {a.high:.2f}) under the curve of the "
            f"predicted class's probability, against {r.mean:.2f} ({r.low:.2f} to {r.high:.2f}) for random "
            f"{what}"
        )
        if self.faster_than_random is True:
            head += ": attention falls faster than random"
        elif self.faster_than_random is False:
            head += ": attention falls slower than random, so it points away from the evidence"
        else:
            head += ": attention cannot be told apart from random"
        best = RANKING_LABELS[self.best]
        if a.mean <= b.mean:
            tail = f"and at least as fast as the best attribution, {best} ({b.mean:.2f})."
        elif np.isfinite(self.gap_closed) and self.gap_closed > 0:
            tail = (
                f"and it closes {100 * self.gap_closed:.0f}% of the gap between random and the best attribution, "
                f"{best} ({b.mean:.2f})."
            )
        else:
            tail = f"while the best attribution, {best}, reaches {b.mean:.2f}."
        return f"{head}, {tail}"

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "attention": self.attention.to_dict(),
            "random": self.random.to_dict(),
            "attention_minus_random": self.versus_random.to_dict(),
            "best_attribution": self.best,
            "best_area": self.best_area.to_dict(),
            "gap_closed": self.gap_closed,
            "faster_than_random": self.faster_than_random,
        }


def faithfulness(curves: DeletionCurves, seed: int = 0) -> Faithfulness:
    """The numbers behind the verdict for one kind of deletion curves."""
    methods = [m for m in METHODS if m in curves.probability]
    areas = {m: curves.area(m, seed) for m in methods}
    best = min(methods, key=lambda m: areas[m].mean)
    return Faithfulness(
        curves.kind,
        curves.area(ATTENTION, seed),
        curves.area(RANDOM, seed),
        curves.area_difference(ATTENTION, RANDOM, seed),
        best,
        areas[best],
        int(curves.probability[ATTENTION].shape[0]),
    )


@dataclass(eq=False)
class Explanation:
    """Everything the test found for one model on one pixel sample (see `explain_model`)."""

    fitted: FittedModel
    scene: Scene
    batch: PixelBatch
    baseline: Baseline
    pixel_seed: int
    attributions: Attributions
    curves: dict[str, DeletionCurves]  # "spectral" / "spatial"
    agreement: dict[str, dict[str, np.ndarray]]  # kind -> method -> (n,) Spearman with attention
    planted: list[PlantedPrecision]
    branches: BranchDecision | None
    notes: list[str] = field(default_factory=list)  # what was skipped, and why
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def provenance(self) -> str:
        """Which model, split and pixels: the line every figure carries."""
        f = self.fitted
        return (
            f"{f.model_name.upper()} ({f.preset.name}, training seed {f.seed}) on {self.scene.name}, "
            f"{f.split.protocol} split (seed {f.split.seed}); "
            f"{self.batch.pixels.size} held-out pixels drawn with seed {self.pixel_seed}"
        )

    def faithfulness(self) -> dict[str, Faithfulness]:
        return {kind: faithfulness(c, self.pixel_seed) for kind, c in self.curves.items()}

    def verdict(self) -> list[str]:
        """One sentence per attention tested."""
        return [f.sentence(self.fitted.model_name.upper()) for f in self.faithfulness().values()]

    def agreement_by_class(self, kind: str, method: str) -> list[np.ndarray]:
        return per_class(self.agreement[kind][method], self.batch.labels, self.fitted.n_classes)

    def to_dict(self) -> dict:
        names = self.scene.class_names
        out = {
            "model": self.fitted.model_name,
            "preset": self.fitted.preset.name,
            "training_seed": self.fitted.seed,
            "scene": self.scene.name,
            "split": self.fitted.split.protocol,
            "split_seed": self.fitted.split.seed,
            "n_pixels": int(self.batch.pixels.size),
            "pixel_seed": self.pixel_seed,
            "baseline_pixels": self.baseline.n_pixels,
            "accuracy": float((self.batch.predicted == self.batch.labels).mean()),
            "deletion": {k: c.to_dict(self.pixel_seed) for k, c in self.curves.items()},
            "faithfulness": {k: f.to_dict() for k, f in self.faithfulness().items()},
            "verdict": self.verdict(),
            "agreement": {
                kind: {m: _summary(v) for m, v in by_method.items()}
                for kind, by_method in self.agreement.items()
            },
            "agreement_by_class": {
                kind: {
                    m: {
                        names[c]: _summary(v)
                        for c, v in enumerate(self.agreement_by_class(kind, m))
                        if v.size
                    }
                    for m in by_method
                }
                for kind, by_method in self.agreement.items()
            },
            "planted_precision": [p.to_dict() for p in self.planted],
            "notes": self.notes,
            "seconds": self.seconds,
        }
        if self.branches is not None:
            shares = self.branches.shares(self.batch.labels, self.fitted.n_classes)
            out["branches"] = {
                "overall": dict(zip(DECIDERS, self.branches.overall().tolist())),
                "per_class": {
                    names[c]: dict(zip(DECIDERS, shares[c].tolist()))
                    for c in range(len(names))
                    if np.isfinite(shares[c]).all()
                },
            }
        return out


def _summary(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return {"median": None, "q1": None, "q3": None, "n": 0}
    q1, median, q3 = np.percentile(finite, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "n": int(finite.size)}


def explain_pixels(
    fitted: FittedModel,
    scene: Scene,
    pixels: np.ndarray,
    baseline: Baseline | None = None,
    settings: AttributionSettings = AttributionSettings(),
) -> tuple[PixelBatch, Attributions]:
    """Inputs, α, mask, prediction and every attribution for a few pixels (e.g. the one clicked in the app)."""
    require_explainable(fitted)
    sampler = fitted.sampler(scene)
    batch = pixel_batch(fitted, sampler, scene, np.atleast_1d(pixels))
    baseline = baseline or training_baseline(fitted, sampler)
    return batch, pixel_attributions(fitted.cpu_network(), batch, baseline, settings)


def explain_model(
    fitted: FittedModel,
    scene: Scene,
    n_pixels: int = 500,
    seed: int = 0,
    steps: int = STEPS,
    n_random: int = N_RANDOM,
    settings: AttributionSettings = AttributionSettings(),
    progress: Progress | None = None,
) -> Explanation:
    """Attributions, deletion curves, agreement, planted precision and branch shares on `n_pixels` held-out pixels.

    Raises ExplainError (a ValueError) with the reason for a model that cannot be tested (KNN, SVM, RNN, CNN).
    """
    require_explainable(fitted)
    say = progress or (lambda fraction, message: None)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    net = fitted.cpu_network()
    sampler = fitted.sampler(scene)
    pixels = sample_pixels(fitted, scene, n_pixels, seed)
    say(0.0, f"reading {pixels.size} held-out pixels")
    batch = pixel_batch(fitted, sampler, scene, pixels)
    baseline = training_baseline(fitted, sampler, seed)
    lap("inputs")
    attributions = pixel_attributions(
        net, batch, baseline, settings, lambda message: say(0.05, message)
    )
    lap("attributions")

    notes, curves, agreement, planted = [], {}, {}, []
    name = fitted.model_name.upper()
    if batch.alpha is not None:
        scores = {ATTENTION: batch.alpha, REVERSED: -batch.alpha, **attributions.spectral}
        curves["spectral"] = band_deletion_curves(
            net,
            batch,
            baseline,
            scores,
            steps,
            n_random,
            seed,
            lambda f: say(0.3 + 0.3 * f, "deleting bands (the patch left as it is)"),
        )
        agreement["spectral"] = {
            m: rank_correlation(batch.alpha, a) for m, a in attributions.spectral.items()
        }
        planted = planted_precision(
            scene.planted, batch.labels, {ATTENTION: batch.alpha, **attributions.spectral}
        )
        lap("spectral deletion")
    else:
        notes.append(f"{name} has no spectral attention α: the band tests are skipped.")
    if batch.mask is not None:
        p = batch.mask.shape[-1]
        rows, cols = np.indices((p, p)) - p // 2
        distance = np.broadcast_to(-np.hypot(rows, cols), batch.mask.shape)
        scores = {
            ATTENTION: batch.mask,
            REVERSED: -batch.mask,
            **attributions.spatial,
            DISTANCE: distance,
        }
        curves["spatial"] = neighbour_deletion_curves(
            net,
            batch,
            baseline,
            scores,
            steps,
            n_random,
            seed,
            lambda f: say(0.6 + 0.3 * f, "deleting neighbours (the spectrum left as it is)"),
        )
        agreement["spatial"] = {
            m: rank_correlation(batch.mask, a) for m, a in attributions.spatial.items()
        }
        lap("spatial deletion")
    else:
        notes.append(f"{name} has no spatial attention mask: the neighbour tests are skipped.")
    branches = None
    if fitted.model_name == "ssan":
        say(0.9, "neutralising each branch")
        branches = branch_decision(fitted, sampler, pixels)
        lap("branches")
    else:
        notes.append(f"Which branch decided is asked of SSAN only; {name} has one branch.")
    say(1.0, "done")
    return Explanation(
        fitted,
        scene,
        batch,
        baseline,
        seed,
        attributions,
        curves,
        agreement,
        planted,
        branches,
        notes,
        seconds,
    )
