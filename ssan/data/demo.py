"""A synthetic teaching scene: a small town whose ground truth includes what attention should find.

`make_demo_scene` draws a town on the ROSIS grid (103 bands, 430-860 nm) from a seed:
asphalt roads, roofs of red tile and of two grey paints, lawns, parks with trees, a
drought-stressed meadow, a river crossed by a bridge, bare soil, shadows beside the
buildings and two paved plazas. Spectra are smooth functions of wavelength with
per-pixel illumination, smooth spectral perturbations that are correlated in space, and
sensor noise. Pixels on region boundaries are mixtures of their neighbours and, like the
cars on the roads, are left unlabelled.

Three things are planted on purpose and recorded in `Scene.planted`, so the attention
maps can be checked against a known truth:

* Red-well pair: "Meadow, healthy" and "Meadow, drought-stressed" share one mean spectrum
  except around bands 52-61 (649-687 nm), where the stressed grass, with less chlorophyll,
  reflects more red. The allotments east of the plazas are a mosaic of the two, pixel by pixel.
* Blue-green pair: "Roof, grey paint" and "Roof, teal-tinted paint" share one mean spectrum
  except around bands 10-21 (472-519 nm), where the tint adds a reflectance bump. Four of the
  six roofs are a mosaic of grey and teal-tinted tiles, one tile per pixel.
* Texture pair: both plazas are paved half with light and half with dark stone, drawn
  from the same distributions, so their per-pixel spectra are identically distributed; the
  fine plaza alternates the stones pixel by pixel (a chequer), the coarse plaza lays them
  in blobs about 5 px across. Only spatial context (the 27x27 patch) separates them.

Each spectral pair is hidden from the spatial branch twice over. Its pixels are scattered at
random inside one shared region, so a pixel's neighbourhood says nothing about its class; and
its difference (the bump, less its projection on the scene's 8 leading principal components)
is invisible in the 4 principal components the spatial branch sees. The projection spreads a
smooth counter-difference, at most about half the bump's height, over the other bands. A pixel
classifier on the spectrum separates each spectral pair; a PCA patch cannot, and a spectrum
cannot separate the plazas: the spectral branch is needed for the spectral pairs and the
spatial branch for the texture pair, which is what the joint network is for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ssan.data.scene import PlantedTruth, Scene, SceneError, rosis_wavelengths

N_BANDS = 103
MIN_SIDE = 60

(
    ASPHALT,
    RED_TILE,
    GREY_PAINT,
    TEAL_PAINT,
    MEADOW,
    STRESSED_MEADOW,
    TREES,
    WATER,
    SOIL,
    SHADOW,
    FINE_PAVING,
    COARSE_PAVING,
) = range(1, 13)

CLASS_NAMES = (
    "Asphalt road",
    "Roof, red tile",
    "Roof, grey paint",
    "Roof, teal-tinted paint",
    "Meadow, healthy",
    "Meadow, drought-stressed",
    "Trees",
    "Water",
    "Bare soil",
    "Shadow",
    "Plaza, fine chequered paving",
    "Plaza, coarse blotched paving",
)
CLASS_COLORS = (
    "#5a5a5a",
    "#b5452b",
    "#a3a9b0",
    "#3f9c94",
    "#4caf50",
    "#c5c83a",
    "#1b5e20",
    "#1e88e5",
    "#8d5a3b",
    "#1c1c3a",
    "#e3d3ad",
    "#9c8b6e",
)

RED_WELL_BANDS = (52, 62)  # 649-687 nm, half-open band indices
BLUE_GREEN_BANDS = (10, 22)  # 472-519 nm
PLANTED = PlantedTruth(
    spectral_pairs=(
        (MEADOW, STRESSED_MEADOW, *RED_WELL_BANDS),
        (GREY_PAINT, TEAL_PAINT, *BLUE_GREEN_BANDS),
    ),
    texture_pairs=((FINE_PAVING, COARSE_PAVING),),
)

_FIELD_SIGMA_PX = 2.0  # correlation length of the within-class variation
_BLOB_SIGMA_PX = 1.5  # coarse paving: smoothed-noise blobs, runs of about 5 px
_PSF_SIGMA_PX = 0.7  # mixing of boundary pixels
_HIDDEN_FROM = 8  # leading principal components the planted differences are made orthogonal to


def make_demo_scene(seed: int = 0, shape: tuple[int, int] = (150, 150)) -> Scene:
    """The synthetic demo town for `seed` (bit-identical for the same seed), with its planted truth.

    Works offline and in well under a second at 150x150; any side of at least 60 px works.
    """
    h, w = (int(s) for s in shape)
    if min(h, w) < MIN_SIDE:
        raise SceneError(
            f"demo scene: shape {h}x{w} is too small; every side needs at least {MIN_SIDE} px "
            "for all 12 classes to keep labelled pixels. Ask for a larger shape, e.g. (150, 150)."
        )
    rng = np.random.default_rng(seed)
    wl = rosis_wavelengths(N_BANDS)
    town = _lay_out_town(rng, (h, w))
    pure = _render_materials(rng, town, wl)
    cube = _add_sensor_noise(rng, _mix_boundary_pixels(pure, town.mixed), wl)
    labels = np.where(town.mixed, 0, town.classes).astype(np.int32)
    return Scene(
        name="demo",
        cube=cube,
        labels=labels,
        class_names=CLASS_NAMES,
        wavelengths=wl,
        source=f"synthetic demo town (seed {seed})",
        class_colors=CLASS_COLORS,
        wavelengths_estimated=False,
        planted=PLANTED,
        notes=_planted_notes(wl),
    )


def _planted_notes(wl: np.ndarray) -> tuple[str, ...]:
    """The planted truth in words, for the app and the CLI."""

    def bands(lo: int, hi: int) -> str:
        return f"bands {lo}-{hi - 1} ({wl[lo]:.0f}-{wl[hi - 1]:.0f} nm)"

    name = {cls: f"'{CLASS_NAMES[cls - 1]}'" for cls in range(1, len(CLASS_NAMES) + 1)}
    return (
        f"Planted: {name[MEADOW]} and {name[STRESSED_MEADOW]} differ in {bands(*RED_WELL_BANDS)}, the red "
        "chlorophyll well; scattered pixel by pixel over the allotments, hidden from the spatial branch's PCA.",
        f"Planted: {name[GREY_PAINT]} and {name[TEAL_PAINT]} differ in {bands(*BLUE_GREEN_BANDS)}, blue-green; "
        "tiles scattered pixel by pixel over four roofs, hidden from the spatial branch's PCA.",
        f"Planted: {name[FINE_PAVING]} and {name[COARSE_PAVING]} have the same spectra (light and dark "
        "stone, half each) and differ only in texture: a 1-px chequer against blobs about 5 px across.",
    )


# --- layout ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Town:
    """Where each material lies: class per pixel (0 = a car), dark stones, and mixed pixels."""

    classes: np.ndarray  # (H, W) int32
    dark_stone: np.ndarray  # (H, W) bool, meaningful on the plazas
    mixed: np.ndarray  # (H, W) bool: boundary pixels and cars, left unlabelled


def _lay_out_town(rng: np.random.Generator, shape: tuple[int, int]) -> _Town:
    """Paint the town back to front: lawn, riverside, blocks, roads, then cars."""
    h, w = shape
    scale = min(h, w) / 150
    classes = np.full(shape, MEADOW, dtype=np.int32)
    road = max(3, round(7 * scale))
    road_rows = (round(0.33 * h) - road // 2, round(0.66 * h) - road // 2)
    road_cols = (round(0.34 * w) - road // 2, round(0.68 * w) - road // 2)
    row_bands = ((0, road_rows[0]), (road_rows[0] + road, road_rows[1]))
    col_bands = ((0, road_cols[0]), (road_cols[0] + road, road_cols[1]), (road_cols[1] + road, w))

    _lay_out_riverside(rng, classes, top=road_rows[1] + road, scale=scale)
    _lay_out_buildings(
        rng, classes, row_bands[0], col_bands[0], (RED_TILE, GREY_PAINT, TEAL_PAINT), scale
    )
    _lay_out_buildings(
        rng, classes, row_bands[0], col_bands[1], (TEAL_PAINT, RED_TILE, GREY_PAINT), scale
    )
    _lay_out_park(rng, classes, row_bands[0], col_bands[2], scale)
    (r0, r1), (c0, c1) = row_bands[1], col_bands[0]
    classes[r0:r1, c0:c1] = FINE_PAVING
    (r0, r1), (c0, c1) = row_bands[1], col_bands[1]
    classes[r0:r1, c0:c1] = COARSE_PAVING
    (r0, r1), (c0, c1) = row_bands[1], col_bands[2]
    _lay_out_allotments(classes, (r0, r1), (c0, c1))

    for r in road_rows:
        classes[r : r + road, :] = ASPHALT
    classes[:, road_cols[0] : road_cols[0] + road] = ASPHALT  # crosses the river as a bridge
    classes[: road_rows[1] + road, road_cols[1] : road_cols[1] + road] = ASPHALT
    _park_cars(rng, classes, road_rows, road_cols, road, scale)

    dark_stone = _paving_pattern(rng, classes)
    mixed = ndimage.maximum_filter(classes, size=3, mode="nearest") != ndimage.minimum_filter(
        classes, size=3, mode="nearest"
    )
    _scatter_pairs(rng, classes)
    return _Town(classes=classes, dark_stone=dark_stone, mixed=mixed | (classes == 0))


def _scatter_pairs(rng: np.random.Generator, classes: np.ndarray) -> None:
    """Each pixel of a mosaic roof or of the allotments takes one of its pair's two classes at random, so no
    neighbourhood tells the pair apart: a pixel's neighbours say nothing about its own class."""
    for mosaic, other in ((TEAL_PAINT, GREY_PAINT), (STRESSED_MEADOW, MEADOW)):
        on = classes == mosaic
        classes[on & (rng.random(classes.shape) < 0.5)] = other


def _disc(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    """Boolean mask of a filled circle."""
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def _lay_out_riverside(
    rng: np.random.Generator, classes: np.ndarray, top: int, scale: float
) -> None:
    """South of the last road: a lawn bank with a grove, a winding river, bare soil beyond."""
    h, w = classes.shape
    cols = np.arange(w)
    centre = h * (0.83 + 0.03 * np.sin(2 * np.pi * (1.2 * cols / w + rng.random())))
    half_width = max(3.0, 0.045 * h)
    rows = np.arange(h)[:, None]
    classes[np.abs(rows - centre) < half_width] = WATER
    classes[rows >= centre + half_width] = SOIL
    bank = (rows >= top) & (rows < centre - half_width)
    radius = max(2.0, 6 * scale)
    for x in np.linspace(0.45, 0.95, 5) * w + rng.uniform(-2, 2, 5) * scale:
        y = top + rng.uniform(0.3, 0.7) * (h * 0.78 - top)
        classes[_disc(classes.shape, (y, x), radius) & bank] = TREES


def _lay_out_buildings(
    rng: np.random.Generator,
    classes: np.ndarray,
    rows: tuple[int, int],
    cols: tuple[int, int],
    roofs: tuple[int, int, int],
    scale: float,
) -> None:
    """Three buildings on a lawn block, each casting a shadow towards the lower right."""
    (r0, r1), (c0, c1) = rows, cols
    bh, bw = r1 - r0, c1 - c0
    reach = max(3, round(5 * scale))
    footprints = ((0.06, 0.40, 0.05, 0.44), (0.06, 0.40, 0.54, 0.88), (0.54, 0.84, 0.12, 0.80))
    for roof, (u0, u1, v0, v1) in zip(roofs, footprints):
        # +-1 px of jitter per edge; none on small scenes, where it would crush the roofs
        jitter = rng.integers(-1, 2, 4) if scale >= 0.8 else np.zeros(4, int)
        top, bottom = r0 + round(u0 * bh) + jitter[0], r0 + round(u1 * bh) + jitter[1]
        left, right = c0 + round(v0 * bw) + jitter[2], c0 + round(v1 * bw) + jitter[3]
        building = np.zeros_like(classes, dtype=bool)
        building[top:bottom, left:right] = True
        shade = np.zeros_like(building)
        for k in range(1, reach + 1):
            shade[top + k : bottom + k, left + k : right + k] = True
        block = np.zeros_like(building)
        block[r0:r1, c0:c1] = True
        classes[shade & block & (classes == MEADOW)] = SHADOW
        classes[building] = (
            TEAL_PAINT if roof in (GREY_PAINT, TEAL_PAINT) else roof
        )  # a mosaic, scattered later


def _lay_out_allotments(classes: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    """The allotments: healthy and drought-stressed meadow mixed pixel by pixel (`_scatter_pairs`)."""
    (r0, r1), (c0, c1) = rows, cols
    classes[r0:r1, c0:c1] = STRESSED_MEADOW  # a mosaic, scattered later


def _lay_out_park(
    rng: np.random.Generator,
    classes: np.ndarray,
    rows: tuple[int, int],
    cols: tuple[int, int],
    scale: float,
) -> None:
    """A lawn park with a few clumps of trees."""
    (r0, r1), (c0, c1) = rows, cols
    radius = max(2.0, 5.5 * scale)
    for _ in range(5):
        centre = (rng.uniform(r0 + radius, r1 - radius), rng.uniform(c0 + radius, c1 - radius))
        classes[_disc(classes.shape, centre, radius)] = TREES


def _park_cars(
    rng: np.random.Generator,
    classes: np.ndarray,
    road_rows: tuple[int, int],
    road_cols: tuple[int, int],
    road: int,
    scale: float,
) -> None:
    """Cars (class 0, unlabelled clutter): 2x3 px, in a lane of a horizontal or vertical road."""
    h, w = classes.shape
    for _ in range(max(3, round(12 * scale**2))):
        if rng.random() < 0.5:
            r = rng.choice(road_rows) + (0 if rng.random() < 0.5 else road - 2)
            c = rng.integers(0, w - 3)
            patch = (slice(r, r + 2), slice(c, c + 3))
        else:
            c = rng.choice(road_cols) + (0 if rng.random() < 0.5 else road - 2)
            r = rng.integers(0, h - 3)
            patch = (slice(r, r + 3), slice(c, c + 2))
        if (classes[patch] == ASPHALT).all():
            classes[patch] = 0


def _paving_pattern(rng: np.random.Generator, classes: np.ndarray) -> np.ndarray:
    """Dark stones: a 1-px chequer on the fine plaza, smooth-noise blobs (exactly half) on the coarse one."""
    rows, cols = np.indices(classes.shape)
    dark = ((rows + cols) % 2 == 0) & (classes == FINE_PAVING)
    coarse = classes == COARSE_PAVING
    blobs = ndimage.gaussian_filter(rng.standard_normal(classes.shape), _BLOB_SIGMA_PX)
    dark |= coarse & (blobs < np.median(blobs[coarse]))
    return dark


# --- spectra --------------------------------------------------------------------------------


def _gauss(wl: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((wl - centre) / width) ** 2)


def _sigmoid(wl: np.ndarray, centre: float, width: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(wl - centre) / width))


def _vegetation(wl: np.ndarray, green: float, nir: float, edge_nm: float) -> np.ndarray:
    """Low visible with a green bump and red chlorophyll absorption, a sharp red edge, a NIR plateau."""
    visible = 0.035 + green * _gauss(wl, 550, 30) - 0.015 * _gauss(wl, 672, 15)
    plateau = nir + 0.03 * (wl - 800) / 100
    return visible + (plateau - 0.035) * _sigmoid(wl, edge_nm, 6)


def _band_window(n_bands: int, lo: int, hi: int) -> np.ndarray:
    """A smooth taper that is zero outside bands lo..hi-1, so planted differences stay inside them."""
    window = np.zeros(n_bands)
    window[lo:hi] = np.sin(np.pi * (np.arange(hi - lo) + 0.5) / (hi - lo)) ** 2
    return window


def _endmembers(wl: np.ndarray) -> dict[str, np.ndarray]:
    """Mean reflectance spectra of every material in the town, smooth in wavelength."""
    x = (wl - wl[0]) / (wl[-1] - wl[0])
    meadow = _vegetation(wl, green=0.06, nir=0.45, edge_nm=718)
    grey_paint = 0.19 + 0.03 * x
    return {
        "asphalt": 0.07 + 0.05 * x,
        "red_tile": 0.07 + 0.28 * _sigmoid(wl, 600, 14) + 0.08 * x,
        "grey_paint": grey_paint,
        "meadow": meadow,
        "trees": _vegetation(wl, green=0.035, nir=0.36, edge_nm=712),
        "water": 0.008 + 0.05 * (1 - _sigmoid(wl, 600, 30)) + 0.02 * _gauss(wl, 560, 30),
        "soil": 0.10 + 0.22 * (1 - np.exp(-(wl - wl[0]) / 250)),
        # lawn in shade: a little direct light plus blue-rich skylight
        "shadow": 0.12 * meadow + 0.035 * (wl[0] / wl) ** 4,
        "light_stone": 0.30 + 0.12 * (1 - np.exp(-(wl - wl[0]) / 150)),
        "dark_stone": 0.07 + 0.02 * x,
    }


_CLASS_MATERIAL = {
    ASPHALT: "asphalt",
    RED_TILE: "red_tile",
    GREY_PAINT: "grey_paint",
    TEAL_PAINT: "grey_paint",
    MEADOW: "meadow",
    STRESSED_MEADOW: "meadow",
    TREES: "trees",
    WATER: "water",
    SOIL: "soil",
    SHADOW: "shadow",
}


def _car_paints(rng: np.random.Generator, wl: np.ndarray, n: int) -> np.ndarray:
    """(n, B) random smooth paint spectra: a dark base with two coloured bumps of random height."""
    centres = rng.uniform(430, 860, (n, 2))
    heights = rng.uniform(0.0, 0.5, (n, 2))
    return 0.04 + (heights[:, :, None] * _gauss(wl[None, None, :], centres[:, :, None], 60)).sum(
        axis=1
    )


def _render_materials(rng: np.random.Generator, town: _Town, wl: np.ndarray) -> np.ndarray:
    """(H, W, B) pure spectra: each pixel its material, varied per pixel and smoothly in space, then the
    planted differences added where the principal components cannot see them."""
    h, w = town.classes.shape
    ends = _endmembers(wl)
    means = np.empty((h * w, len(wl)))
    classes = town.classes.ravel()
    for cls, material in _CLASS_MATERIAL.items():
        means[classes == cls] = ends[material]
    for cls in (FINE_PAVING, COARSE_PAVING):
        on = classes == cls
        means[on] = np.where(
            town.dark_stone.ravel()[on, None], ends["dark_stone"], ends["light_stone"]
        )
    car_ids, n_cars = ndimage.label(town.classes == 0)
    car_ids = car_ids.ravel()
    means[car_ids > 0] = _car_paints(rng, wl, n_cars)[car_ids[car_ids > 0] - 1]
    variation = _variation(rng, (h, w), wl)
    pure = variation * means
    for cls, difference in _hidden_from_components(_planted_differences(wl), pure).items():
        on = classes == cls
        pure[on] += variation[on] * difference
    return pure.reshape(h, w, len(wl))


def _planted_differences(wl: np.ndarray) -> dict[int, np.ndarray]:
    """What each planted class adds to its partner's mean spectrum, inside the planted bands only."""
    return {
        TEAL_PAINT: 0.07 * _band_window(len(wl), *BLUE_GREEN_BANDS),
        # less chlorophyll: the red absorption well around 670 nm fills up
        STRESSED_MEADOW: 0.10 * _band_window(len(wl), *RED_WELL_BANDS),
    }


def _hidden_from_components(
    differences: dict[int, np.ndarray], spectra: np.ndarray
) -> dict[int, np.ndarray]:
    """Each difference less its projection on the scene's leading principal components (of min-max scaled
    spectra, as the spatial branch's input is made), so a PCA patch cannot show it."""
    low, span = spectra.min(axis=0), np.ptp(spectra, axis=0)
    span = np.where(span > 0, span, 1.0)
    sample = (spectra[:: max(1, spectra.shape[0] // 5_000)] - low) / span
    centred = sample - sample.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # a B x B eigenproblem, eigenvalues ascending
    components = vectors[:, ::-1][:, :_HIDDEN_FROM].T
    hidden = {}
    for cls, difference in differences.items():
        scaled = difference / span
        hidden[cls] = (scaled - components.T @ (components @ scaled)) * span
    return hidden


def _variation(rng: np.random.Generator, shape: tuple[int, int], wl: np.ndarray) -> np.ndarray:
    """(n, B) within-class variation factors: illumination scaling and smooth spectral-shape changes, part
    of each correlated in space, all multiplicative so every class keeps its mean spectrum."""
    n = shape[0] * shape[1]
    fields = np.stack(
        [_smooth_field(rng, shape, _FIELD_SIGMA_PX).ravel() for _ in range(4)], axis=1
    )
    illumination = 1 + 0.02 * fields[:, 0] + 0.05 * rng.standard_normal(n)
    x = np.linspace(-1, 1, len(wl))
    shapes = np.stack([x, 1.5 * x**2 - 0.5, 2.5 * x**3 - 1.5 * x])  # Legendre P1..P3
    coefficients = 0.012 * fields[:, 1:] + 0.03 * rng.standard_normal((n, 3))
    return illumination[:, None] * (1 + coefficients @ shapes)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with correlation length ~sigma px."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return (field - field.mean()) / field.std()


# --- sensor ---------------------------------------------------------------------------------


def _mix_boundary_pixels(pure: np.ndarray, mixed: np.ndarray) -> np.ndarray:
    """Boundary pixels see their neighbours through the sensor's point-spread function."""
    blurred = ndimage.gaussian_filter(pure, (_PSF_SIGMA_PX, _PSF_SIGMA_PX, 0), mode="nearest")
    return np.where(mixed[:, :, None], blurred, pure)


def _add_sensor_noise(rng: np.random.Generator, cube: np.ndarray, wl: np.ndarray) -> np.ndarray:
    """Gaussian noise, stronger at the ends of the range and with the signal; clipped to [0, 1]."""
    x = np.linspace(-1, 1, len(wl))
    sigma = 0.003 * (1 + 2 * x**4) + 0.01 * cube
    noisy = cube + sigma * rng.standard_normal(cube.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)
