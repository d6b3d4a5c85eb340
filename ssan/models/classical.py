"""The paper's classical comparators, KNN and SVM on the min-max scaled spectra (plain scikit-learn).

Each is a `GridSearchCV` (stratified k-fold, n_jobs=1) behind the usual fit/predict seam:
- KNN: `KNeighborsClassifier`, n_neighbors in (1, 3, 5, 7, 9) x weights in ("uniform", "distance");
- SVM: `SVC(kernel="rbf")`, C in (1, 10, 100, 1000) x gamma in ("scale", 0.1, 1, 10).
  probability=False (Platt scaling costs five extra fits per candidate): use `predict`,
  or `decision_function` for scores.
The folds shrink to what the smallest class allows (3 at most, 2 at least), so a class with
only 2 training pixels still fits.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

KNN_GRID = {"n_neighbors": [1, 3, 5, 7, 9], "weights": ["uniform", "distance"]}
SVM_GRID = {"C": [1.0, 10.0, 100.0, 1000.0], "gamma": ["scale", 0.1, 1.0, 10.0]}
MAX_FOLDS = 3
MIN_FOLDS = 2


class SmallClassStratifiedKFold:
    """Stratified, shuffled k-fold with k = the smallest class count clipped to [2, 3].

    The number of folds is decided from `y` at split time, because the grid search is built
    before the training pixels are known.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def __repr__(self) -> str:
        return f"SmallClassStratifiedKFold(seed={self.seed})"

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        if y is None:
            return MAX_FOLDS
        smallest = int(np.unique(np.asarray(y), return_counts=True)[1].min())
        return int(np.clip(smallest, MIN_FOLDS, MAX_FOLDS))

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        folds = StratifiedKFold(self.get_n_splits(X, y), shuffle=True, random_state=self.seed)
        yield from folds.split(X, y)


def build_classical(name: str, seed: int = 0) -> GridSearchCV:
    """An unfitted grid search for "knn" or "svm" (grids in the module docstring); seed fixes the folds."""
    if name == "knn":
        estimator, grid = KNeighborsClassifier(), KNN_GRID
    elif name == "svm":
        estimator, grid = SVC(kernel="rbf"), SVM_GRID
    else:
        raise ValueError(f"Unknown classical model {name!r}; valid names are ['knn', 'svm'].")
    return GridSearchCV(estimator, grid, cv=SmallClassStratifiedKFold(seed), n_jobs=1)
