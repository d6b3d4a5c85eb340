"""The `Scene`: one hyperspectral cube with its labels, validated once at load.

Everything downstream (splits, preprocessing, models, figures) trusts a `Scene`;
the checks that turn bad input into a clear message live here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

ROSIS_RANGE_NM = (430.0, 860.0)
# What a checkpoint can hold (ssan.models.checkpoint_schema reads these): a scene beyond them is refused at
# load, so no run trains a model that could be saved but not loaded again.
MAX_SIDE = 100_000  # pixels per image side
MAX_BANDS = 10_000
MAX_CLASSES = 1_000
MAX_NAME_CHARS = 10_000  # characters of a class name (or colour)
MAX_SCENE_NAME_CHARS = 1_000

# A qualitative palette that stays readable on light and dark backgrounds.
PALETTE = (
    "#1f77b4",
    "#2ca02c",
    "#ff7f0e",
    "#8c564b",
    "#d62728",
    "#9467bd",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#7f7f7f",
    "#aec7e8",
    "#98df8a",
    "#ffbb78",
    "#c49c94",
    "#ff9896",
    "#c5b0d5",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
    "#393b79",
)


class SceneError(ValueError):
    """Bad scene input: the message names the file, what was found, what was expected and what to do."""


@dataclass(frozen=True)
class PlantedTruth:
    """What the synthetic demo scene planted, so tests and the app can check what attention found.

    `spectral_pairs`: (class_a, class_b, band_lo, band_hi): the two classes share a mean
    spectrum except in bands band_lo..band_hi-1 (0-based, half-open).
    `texture_pairs`: (class_a, class_b): same mean spectrum, different spatial texture.
    """

    spectral_pairs: tuple[tuple[int, int, int, int], ...]
    texture_pairs: tuple[tuple[int, int], ...]

    def band_mask(self, n_bands: int) -> np.ndarray:
        """Boolean (B,) mask of every planted band."""
        mask = np.zeros(n_bands, dtype=bool)
        for _, _, lo, hi in self.spectral_pairs:
            mask[lo:hi] = True
        return mask

    def bands_for_class(self, class_id: int, n_bands: int) -> np.ndarray:
        """Boolean (B,) mask of the planted bands that separate `class_id` from its partner."""
        mask = np.zeros(n_bands, dtype=bool)
        for a, b, lo, hi in self.spectral_pairs:
            if class_id in (a, b):
                mask[lo:hi] = True
        return mask


@dataclass(frozen=True, eq=False)
class Scene:
    """A labelled hyperspectral scene.

    cube: (H, W, B) float32.  labels: (H, W) int32, 0 = unlabelled, classes 1..C.
    class_names/class_colors/original_ids: one entry per class 1..C (index 0 is class 1).
    wavelengths: (B,) band centres in nm; `wavelengths_estimated` when the file carried none.
    """

    name: str
    cube: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    wavelengths: np.ndarray
    source: str
    class_colors: tuple[str, ...] = ()
    original_ids: tuple[int, ...] = ()
    wavelengths_estimated: bool = True
    sha256: str | None = None
    masked_pixels: int = 0
    planted: PlantedTruth | None = None
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = self.n_classes
        if not self.class_colors:
            object.__setattr__(
                self, "class_colors", tuple(PALETTE[i % len(PALETTE)] for i in range(n))
            )
        if not self.original_ids:
            object.__setattr__(self, "original_ids", tuple(range(1, n + 1)))
        validate_scene_arrays(
            self.cube, self.labels, self.class_names, self.wavelengths, where=self.source
        )
        if len(self.name) > MAX_SCENE_NAME_CHARS or any(
            len(c) > MAX_NAME_CHARS for c in self.class_colors
        ):
            raise SceneError(
                f"{self.source}: the scene's name may have at most {MAX_SCENE_NAME_CHARS:,} characters and "
                f"each class colour {MAX_NAME_CHARS:,}; give shorter ones."
            )
        if len(self.class_colors) != n or len(self.original_ids) != n:
            raise SceneError(
                f"{self.source}: class_colors and original_ids need {n} entries, one per class."
            )

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the image."""
        return int(self.cube.shape[0]), int(self.cube.shape[1])

    @property
    def n_bands(self) -> int:
        """Number of spectral bands."""
        return int(self.cube.shape[2])

    @property
    def n_classes(self) -> int:
        """Number of classes (ids 1..C in the label map)."""
        return len(self.class_names)

    def class_counts(self) -> np.ndarray:
        """Labelled pixels per class, (C,) for classes 1..C."""
        return np.bincount(self.labels.ravel(), minlength=self.n_classes + 1)[1:]

    def labelled_pixels(self) -> np.ndarray:
        """Flat indices (row * W + col) of every labelled pixel."""
        return np.flatnonzero(self.labels.ravel() > 0)

    def with_labels(self, labels: np.ndarray, source: str | None = None) -> Scene:
        """The same cube with another label map of the same classes (e.g. a fixed test map)."""
        return dataclasses.replace(self, labels=labels, source=source or self.source)


def rosis_wavelengths(n_bands: int) -> np.ndarray:
    """Approximate ROSIS band centres (nm) for a cube with no wavelength vector."""
    return np.linspace(*ROSIS_RANGE_NM, n_bands).astype(np.float64)


def validate_scene_arrays(cube, labels, class_names, wavelengths, where: str) -> None:
    """Refuse arrays a model cannot use, with a message that says what to fix."""
    if not isinstance(cube, np.ndarray) or cube.ndim != 3:
        raise SceneError(
            f"{where}: the cube must be a 3-D array (rows x cols x bands); got {getattr(cube, 'shape', type(cube))}."
        )
    if cube.dtype != np.float32:
        raise SceneError(f"{where}: the cube must be float32 after loading; got {cube.dtype}.")
    if cube.shape[2] < 3:
        raise SceneError(
            f"{where}: the cube has {cube.shape[2]} band(s); spectral attention needs at least 3. "
            "Check that the right variable was picked (pass its name explicitly)."
        )
    if not np.isfinite(cube).all():
        raise SceneError(
            f"{where}: the cube holds NaN or infinite values; load it with nan_policy='mask' to mask those pixels."
        )
    if not isinstance(labels, np.ndarray) or labels.ndim != 2:
        raise SceneError(
            f"{where}: the label map must be a 2-D array; got {getattr(labels, 'shape', type(labels))}."
        )
    if labels.shape != cube.shape[:2]:
        raise SceneError(
            f"{where}: the cube is {cube.shape[0]}x{cube.shape[1]} pixels but the label map is "
            f"{labels.shape[0]}x{labels.shape[1]}; they must cover the same pixels."
        )
    n = len(class_names)
    if n > MAX_CLASSES or cube.shape[2] > MAX_BANDS or max(cube.shape[:2]) > MAX_SIDE:
        raise SceneError(
            f"{where}: {n:,} classes, {cube.shape[2]:,} bands, {cube.shape[0]}x{cube.shape[1]} pixels; a "
            f"scene may have at most {MAX_CLASSES:,} classes, {MAX_BANDS:,} bands and {MAX_SIDE:,} pixels a "
            "side (what a checkpoint holds). Crop the scene or merge classes."
        )
    long = next((name for name in class_names if len(name) > MAX_NAME_CHARS), None)
    if long is not None:
        raise SceneError(
            f"{where}: a class name of {len(long):,} characters ({long[:40]!r}…); at most {MAX_NAME_CHARS:,} "
            "fit in a checkpoint. Give shorter names."
        )
    repeated = next((name for i, name in enumerate(class_names) if name in class_names[:i]), None)
    if repeated is not None:
        raise SceneError(
            f"{where}: class names must differ; {repeated!r} is given twice. Give one distinct name per class."
        )
    if labels.min(initial=0) < 0 or labels.max(initial=0) > n:
        raise SceneError(
            f"{where}: labels must lie in 0..{n} (0 = unlabelled); got {labels.min()}..{labels.max()}."
        )
    present = np.unique(labels[labels > 0])
    if present.size < 2:
        raise SceneError(
            f"{where}: the label map holds {present.size} class(es); classification needs at least 2 labelled classes."
        )
    if np.asarray(wavelengths).shape != (cube.shape[2],):
        raise SceneError(
            f"{where}: {np.asarray(wavelengths).shape[0]} wavelengths for {cube.shape[2]} bands."
        )
