"""The paper's reported accuracies (Pan/Mei et al. 2019), kept as data to print beside ours.

Numbers are OA / AA / kappa in percent, copied from the paper's comparison table. They were
obtained on the authors' own random split (100 train + 100 validation pixels per class, the
rest test), so they are a reference, not a measurement of this code.
"""

from __future__ import annotations

from dataclasses import dataclass

LABEL = "paper (reported)"
NOTE = (
    "paper (reported): OA/AA/kappa from Pan/Mei et al. 2019, measured by the authors on their own "
    "random split (100 train / 100 validation pixels per class, rest test); not re-run here"
)


@dataclass(frozen=True)
class Reported:
    """One cell of the paper's table: OA, AA and kappa in percent."""

    oa: float
    aa: float
    kappa: float

    def to_dict(self) -> dict[str, float]:
        return {"oa": self.oa, "aa": self.aa, "kappa": self.kappa}


PAPER_RESULTS: dict[str, dict[str, Reported]] = {
    "paviau": {
        "knn": Reported(84.48, 84.88, 83.0),
        "svm": Reported(84.43, 88.59, 79.94),
        "rnn": Reported(91.2, 88.6, 89.3),
        "cnn": Reported(89.20, 93.20, 85.91),
        "arnn": Reported(96.54, 86.52, 90.90),
        "acnn": Reported(92.61, 97.51, 82.01),
        "ssan": Reported(99.54, 98.41, 99.12),
    },
    "paviac": {
        "knn": Reported(92.5, 92.5, 91.6),
        "svm": Reported(93.05, 85.89, 90.18),
        "rnn": Reported(92.3, 89.5, 91.4),
        "cnn": Reported(86.20, 91.20, 68.91),
        "arnn": Reported(99.47, 91.31, 98.41),
        "acnn": Reported(96.38, 93.37, 94.83),
        "ssan": Reported(99.64, 98.06, 98.92),
    },
}

# Names a Pavia scene goes by (scene keys, Scene.name, file stems), normalised by `_normalise`.
_ALIASES = {
    "paviau": "paviau",
    "paviauniversity": "paviau",
    "pavia university": "paviau",
    "university of pavia": "paviau",
    "paviac": "paviac",
    "pavia": "paviac",
    "paviacentre": "paviac",
    "paviacenter": "paviac",
    "pavia centre": "paviac",
    "pavia center": "paviac",
}


def _normalise(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())


def reference_key(scene_name: str) -> str | None:
    """'paviau' or 'paviac' for a name the Pavia scenes go by (key, title, file stem), else None."""
    text = _normalise(scene_name)
    return _ALIASES.get(text) or _ALIASES.get(text.replace(" ", ""))


def paper_results(scene_name: str) -> dict[str, Reported] | None:
    """The paper's reported row for a Pavia scene (model -> Reported), None for any other scene."""
    key = reference_key(scene_name)
    return PAPER_RESULTS[key] if key else None


def paper_result(scene_name: str, model: str) -> Reported | None:
    """The paper's reported OA/AA/kappa for `model` on a Pavia scene, None when the paper has none."""
    row = paper_results(scene_name)
    return row.get(model.lower()) if row else None
