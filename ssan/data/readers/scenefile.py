"""An own scene from files of any supported format: the cube from a .mat, an ENVI image or a GeoTIFF,
the labels from a .mat, an ENVI classification file, a GeoTIFF or a PNG mask.

Every format goes through the same checks as the .mat path (`matfile.scene_from_arrays`).
Wavelengths come from the file when it has them, else from the user, else a guess by band
count that says it is one. A cube the size of a Pavia scene gets that scene's published class names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ssan.data import pavia
from ssan.data.hashing import files_sha256
from ssan.data.readers import envi, geotiff
from ssan.data.readers.labels import LABEL_FORMATS, read_class_names, read_labels
from ssan.data.readers.matfile import load_mat_scene, scene_from_arrays
from ssan.data.scene import Scene, SceneError
from ssan.data.sensors import guess_wavelengths, parse_wavelengths

CUBE_FORMATS = ".mat, an ENVI image (.hdr beside its data file) or a GeoTIFF (.tif)"


def is_scene_file(path: str | Path) -> bool:
    """Whether `path` looks like a cube this module reads (by extension or an ENVI header beside it)."""
    path = Path(path)
    return path.suffix.lower() in (".mat", *geotiff.SUFFIXES, ".hdr") or envi.is_envi(path)


def load_file_scene(
    cube_path: str | Path,
    gt_path: str | Path | None = None,
    *,
    cube_var: str | None = None,
    gt_var: str | None = None,
    class_names: str | Path | Sequence[str] | None = None,
    wavelengths: str | Path | None = None,
    name: str | None = None,
    nan_policy: str = "refuse",
    **mat_options,
) -> Scene:
    """A checked `Scene` from a cube file and an optional label file; `class_names` a list, typed text or a
    `Path` (see `labels.read_class_names`), `wavelengths` typed text or a `Path` (see
    `sensors.parse_wavelengths`): text is never read as a path. `mat_options` go to `load_mat_scene`
    (e.g. class_colors, wavelengths_var)."""
    cube_path = Path(cube_path).expanduser()
    names = read_class_names(class_names) if class_names is not None else None
    suffix = cube_path.suffix.lower()
    if suffix == ".mat":
        scene = load_mat_scene(
            cube_path,
            gt_path,
            cube_var=cube_var,
            gt_var=gt_var,
            class_names=names,
            nan_policy=nan_policy,
            name=name,
            wavelengths=wavelengths,
            **mat_options,
        )
        return _published_names(scene, names)
    if mat_options:
        raise SceneError(
            f"{cube_path}: {', '.join(mat_options)} apply to .mat files only; leave them out."
        )
    if cube_var is not None:
        raise SceneError(
            f"{cube_path}: --cube-var names a variable in a .mat file; this cube is not one. Leave it out."
        )
    identity = None
    if suffix in geotiff.SUFFIXES:  # before ENVI: a cube.tif beside a cube.hdr is still the TIFF
        raw, file_wl = geotiff.read_tiff(cube_path)
        wl_note = "Wavelengths from the GeoTIFF's GDAL metadata." if file_wl is not None else None
        if raw.ndim != 3:
            raise SceneError(
                f"{cube_path}: a single-band TIFF is a mask, not a cube; give the cube first "
                f"(expected {CUBE_FORMATS})."
            )
    elif envi.is_envi(cube_path):
        image = envi.read_envi(cube_path)
        raw, file_wl, wl_note = image.data, image.wavelengths, image.wavelength_note
        identity = files_sha256(
            [image.header, image.data_file]
        )  # the header says how to read the data
    else:
        if not cube_path.exists():
            raise SceneError(
                f"{cube_path}: does not exist. Expected {CUBE_FORMATS}; check the path."
            )
        raise SceneError(
            f"{cube_path}: a '{suffix or 'no'}' file cannot be read as a cube. Expected {CUBE_FORMATS}."
        )
    if gt_path is None:
        raise SceneError(
            f"{cube_path}: this cube holds no labels; give the label map too (--gt LABELS; "
            f"{LABEL_FORMATS})."
        )
    gt_file = Path(gt_path).expanduser()
    labels, file_names, _ = read_labels(gt_file, raw.shape[:2], gt_var)
    n_bands = raw.shape[2]
    if wavelengths:
        wl = (parse_wavelengths(wavelengths, n_bands), False, ["Wavelengths as given."])
    elif file_wl is not None:
        wl = (file_wl, False, [wl_note])
    else:
        values, guess = guess_wavelengths(n_bands)
        wl = (
            values,
            True,
            ([wl_note] if wl_note else []) + [f"No wavelengths in {cube_path.name}; {guess}"],
        )
    scene = scene_from_arrays(
        raw,
        labels,
        cube_path=cube_path,
        gt_file=gt_file,
        two_files=True,
        cube_name=cube_path.name,
        wavelengths=wl,
        name=name,
        class_names=names if names is not None else _names_for(file_names, labels),
        nan_policy=nan_policy,
        sha256=identity,
    )
    return _published_names(scene, names if names is not None else file_names)


def _names_for(file_names: tuple[str, ...] | None, labels: np.ndarray) -> tuple[str, ...] | None:
    """File names by id 1..N used only when they cover every id present, cut to the largest id (a
    classification header may name classes its map does not hold)."""
    if file_names is None:
        return None
    top = int(np.max(labels)) if labels.size else 0
    return file_names[:top] if len(file_names) >= top else None


def _published_names(scene: Scene, names: tuple[str, ...] | None) -> Scene:
    """A cube of a Pavia scene's size and class count, with no names of its own, gets the published names."""
    if names is not None or not all(n.startswith("Class ") for n in scene.class_names):
        return scene
    facts = next(
        (
            f
            for f in pavia.PAVIA_SCENES.values()
            if f.shape == scene.cube.shape and f.n_classes == scene.n_classes
        ),
        None,
    )
    if facts is None:
        return scene
    note = (
        f"Class names: the published {facts.title} names (the cube has {facts.title}'s size and class count); "
        "give others with --class-names."
    )
    return dataclasses.replace(scene, class_names=facts.class_names, notes=scene.notes + (note,))
