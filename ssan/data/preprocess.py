"""Preprocessing fitted on training pixels, and the sampler that feeds the networks.

The spectral branch sees each band min-max scaled; the spatial branch sees a patch of the
first principal components (whitened, each min-max scaled), zero padded at the border.
Both transforms are fitted on the training pixels by default, or on the whole scene to
reproduce the authors' code (which leaks test statistics into the features).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.decomposition import PCA

FIT_ON_CHOICES = ("train", "scene")
_CHUNK = 65_536  # pixels per chunk when transforming a whole scene


@dataclass(frozen=True, eq=False)
class Preprocessing:
    """Fitted parameters: per-band min/max, PCA on the scaled spectra, per-component min/max."""

    band_min: np.ndarray
    band_max: np.ndarray
    pca_mean: np.ndarray
    pca_components: np.ndarray
    pca_scale: np.ndarray
    component_min: np.ndarray
    component_max: np.ndarray
    fitted_on: str

    @property
    def n_bands(self) -> int:
        return int(self.band_min.size)

    @property
    def n_components(self) -> int:
        return int(self.pca_components.shape[0])

    def scale_spectra(self, spectra: np.ndarray) -> np.ndarray:
        """Per-band min-max scaling of (n, B) spectra, float32."""
        span = np.where(self.band_max > self.band_min, self.band_max - self.band_min, 1.0)
        return ((spectra - self.band_min) / span).astype(np.float32)

    def principal_components(self, spectra: np.ndarray) -> np.ndarray:
        """(n, B) raw spectra to (n, k) whitened, min-max scaled principal components, float32."""
        whitened = (
            (self.scale_spectra(spectra) - self.pca_mean) @ self.pca_components.T / self.pca_scale
        )
        span = np.where(
            self.component_max > self.component_min, self.component_max - self.component_min, 1.0
        )
        return ((whitened - self.component_min) / span).astype(np.float32)

    def digest(self) -> str:
        """A sha256 of the fitted parameters: equal for preprocessing fitted on the same pixels of the same scene."""
        h = hashlib.sha256()
        for name in _ARRAY_FIELDS:
            h.update(np.ascontiguousarray(getattr(self, name), dtype=np.float64).tobytes())
        return h.hexdigest()

    def to_dict(self) -> dict:
        """JSON-ready parameters (lists of floats)."""
        arrays = {k: getattr(self, k).tolist() for k in _ARRAY_FIELDS}
        return {**arrays, "fitted_on": self.fitted_on}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessing:
        return cls(
            **{k: np.asarray(d[k], dtype=np.float64) for k in _ARRAY_FIELDS},
            fitted_on=d["fitted_on"],
        )


_ARRAY_FIELDS = (
    "band_min",
    "band_max",
    "pca_mean",
    "pca_components",
    "pca_scale",
    "component_min",
    "component_max",
)


def fit_preprocessing(
    cube: np.ndarray, pixels: np.ndarray | None = None, n_components: int = 4
) -> Preprocessing:
    """Fit scaling and whitened PCA on the given flat pixel indices (None = the whole scene)."""
    B = cube.shape[2]
    flat = cube.reshape(-1, B)
    sample = flat if pixels is None else flat[pixels]
    if sample.shape[0] <= n_components:
        raise ValueError(
            f"need more than {n_components} pixels to fit a {n_components}-component PCA; got {sample.shape[0]}"
        )
    band_min = sample.min(axis=0).astype(np.float64)
    band_max = sample.max(axis=0).astype(np.float64)
    span = np.where(band_max > band_min, band_max - band_min, 1.0)
    scaled = (sample - band_min) / span
    pca = PCA(n_components=n_components, svd_solver="full").fit(scaled)
    scale = np.sqrt(np.maximum(pca.explained_variance_, 1e-12))
    whitened = (scaled - pca.mean_) @ pca.components_.T / scale
    return Preprocessing(
        band_min=band_min,
        band_max=band_max,
        pca_mean=pca.mean_.astype(np.float64),
        pca_components=pca.components_.astype(np.float64),
        pca_scale=scale,
        component_min=whitened.min(axis=0),
        component_max=whitened.max(axis=0),
        fitted_on="whole scene" if pixels is None else f"{sample.shape[0]} training pixels",
    )


class PixelSampler:
    """Network inputs for any batch of pixels, straight from the padded scene.

    `spectra(idx)` gives (n, B) scaled spectra; `patches(idx)` gives (n, k, p, p) PCA patches
    centred on each pixel, zero padded at the border. Patches are read through a strided
    view of the padded component image, so no per-pixel patch is ever stored.
    """

    def __init__(self, cube: np.ndarray, prep: Preprocessing, patch_size: int = 27) -> None:
        if patch_size % 2 != 1:
            raise ValueError(
                f"patch_size must be odd so the pixel sits at the centre; got {patch_size}"
            )
        if cube.shape[2] != prep.n_bands:
            raise ValueError(
                f"the preprocessing was fitted on {prep.n_bands} bands; the cube has {cube.shape[2]}"
            )
        self.cube = cube
        self.prep = prep
        self.patch_size = patch_size
        self.shape = cube.shape[:2]
        self._flat = cube.reshape(-1, cube.shape[2])
        self._components: np.ndarray | None = None
        self._padded: np.ndarray | None = None
        self._windows: np.ndarray | None = None

    def spectra(self, pixels: np.ndarray) -> np.ndarray:
        """(n, B) min-max scaled spectra of the given flat pixel indices."""
        return self.prep.scale_spectra(self._flat[pixels])

    def patches(self, pixels: np.ndarray) -> np.ndarray:
        """(n, k, p, p) zero-padded PCA patches centred on the given flat pixel indices."""
        rows, cols = np.divmod(np.asarray(pixels), self.shape[1])
        return np.ascontiguousarray(self.windows[:, rows, cols].transpose(1, 0, 2, 3))

    @property
    def component_image(self) -> np.ndarray:
        """(H, W, k) scaled principal components of every pixel (computed once, in chunks)."""
        if self._components is None:
            out = np.empty((self._flat.shape[0], self.prep.n_components), dtype=np.float32)
            for start in range(0, self._flat.shape[0], _CHUNK):
                out[start : start + _CHUNK] = self.prep.principal_components(
                    self._flat[start : start + _CHUNK]
                )
            self._components = out.reshape(*self.shape, -1)
        return self._components

    @property
    def padded_components(self) -> np.ndarray:
        """(k, H + p - 1, W + p - 1) component image, zero padded: the patch at (r, c) starts at [:, r, c]."""
        if self._padded is None:
            r = self.patch_size // 2
            self._padded = np.pad(self.component_image.transpose(2, 0, 1), ((0, 0), (r, r), (r, r)))
        return self._padded

    @property
    def windows(self) -> np.ndarray:
        """A (k, H, W, p, p) read-only strided view: windows[:, r, c] is the patch at (r, c)."""
        if self._windows is None:
            self._windows = sliding_window_view(
                self.padded_components, (self.patch_size, self.patch_size), axis=(1, 2)
            )
        return self._windows
