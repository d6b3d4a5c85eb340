"""Does attention explain? Attributions beside attention, deletion tests, planted truth, branch shares, seed stability.

Pure library (no Streamlit): `explain_model` runs the tests on a held-out pixel sample,
`seed_stability` compares checkpoints trained with different seeds, `branch_decision`
maps which SSAN branch carried each prediction; `figures` draws them with Plotly.
"""

from ssan.explain.agreement import PlantedPrecision, planted_precision, rank_correlation
from ssan.explain.attributions import (
    METHODS,
    Attributions,
    AttributionSettings,
    pixel_attributions,
)
from ssan.explain.branches import DECIDERS, BranchDecision, branch_decision
from ssan.explain.deletion import (
    AreaEstimate,
    DeletionCurves,
    band_deletion_curves,
    neighbour_deletion_curves,
)
from ssan.explain.inputs import (
    ExplainError,
    held_out_pixels,
    pixel_batch,
    require_explainable,
    sample_pixels,
    training_baseline,
)
from ssan.explain.report import (
    Explanation,
    Faithfulness,
    explain_model,
    explain_pixels,
    faithfulness,
)
from ssan.explain.stability import SeedPair, seed_stability

__all__ = [
    "DECIDERS",
    "METHODS",
    "AreaEstimate",
    "AttributionSettings",
    "Attributions",
    "BranchDecision",
    "DeletionCurves",
    "ExplainError",
    "Explanation",
    "Faithfulness",
    "PlantedPrecision",
    "SeedPair",
    "band_deletion_curves",
    "branch_decision",
    "explain_model",
    "explain_pixels",
    "faithfulness",
    "held_out_pixels",
    "neighbour_deletion_curves",
    "pixel_attributions",
    "pixel_batch",
    "planted_precision",
    "rank_correlation",
    "require_explainable",
    "sample_pixels",
    "seed_stability",
    "training_baseline",
]
