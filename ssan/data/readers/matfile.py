"""Scenes from the user's own MATLAB files (v5 via scipy, v7.3/HDF5 via h5py).

Every problem a file can have (missing, truncated, wrong variable, NaN pixels, odd label
ids…) becomes a `SceneError` naming the file, what was found, what was expected and what
to do, so no scipy or h5py traceback reaches the user.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from ssan.data.hashing import file_sha256
from ssan.data.scene import Scene, SceneError
from ssan.data.sensors import check_band_centres, guess_wavelengths, parse_wavelengths

NAN_POLICIES = ("refuse", "mask")
# A 1-D variable with one of these names (any case) and one value per band is read as band centres.
WAVELENGTH_NAME = re.compile(
    r"wavelengths?|wavelengths?_nm|wl|wls|bands|band_centers|lambda", re.IGNORECASE
)
PLAUSIBLE_NM = (200.0, 16000.0)
MAX_BYTES_ENV = "SSAN_MAX_SCENE_BYTES"
# The memory loading a scene may take (`load_peak_bytes`): Pavia Centre (float64 in its .mat) needs about
# 1.0 GiB, a 1000x1000x224 AVIRIS-class cube 1.5 GiB as int16 and 2.7 GiB as float64.
DEFAULT_MAX_BYTES = 3 * 2**30
V5_ARRAY_CLASSES = {  # MATLAB class -> bytes per element as read
    "double": 8,
    "single": 4,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "uint64": 8,
    "logical": 1,
    "char": 4,
}
# A text variable with one of these names (any case) holds the class names, one per class.
MAX_CLASS_NAMES = 1000
NAMES_VARIABLE = re.compile(r"class_?names|names|classes|labels_?names", re.IGNORECASE)
MAX_HDF5_LINKS = 100_000  # objects walked when checking a v7.3 file for links to other files
MAT_HELP = (
    "Save it from MATLAB with save(..., '-v7') or '-v7.3', or from Python with scipy.io.savemat."
)


def read_mat(path: str | Path, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """Every variable of a .mat file by name, v5 or v7.3 alike (v7.3 arrays transposed back to MATLAB order).

    The memory the file's declared arrays take to load (`load_peak_bytes`) is checked against `max_bytes`
    (default `max_scene_bytes()`) before any data is read, so a small compressed file cannot unpack into
    more memory than allowed.
    Cells, structs and sparse matrices are not read: they stand in as empty object arrays of their shape.
    """
    path = Path(path)
    if not path.is_file():
        where = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise SceneError(
            f"{path}: {where}. Expected a MATLAB .mat file; check the path (and the folder it is in)."
        )
    limit = max_scene_bytes() if max_bytes is None else max_bytes
    try:
        variables = _read_hdf5(path, limit) if h5py.is_hdf5(path) else _read_v5(path, limit)
    except SceneError:
        raise
    except MemoryError:
        raise SceneError(_out_of_memory(path)) from None
    except (
        Exception
    ) as err:  # scipy and h5py raise a dozen types for damaged files; all mean the same here
        raise SceneError(
            f"{path}: not a readable MAT file ({path.stat().st_size:,} bytes; {type(err).__name__}: {err}). "
            "Expected a MATLAB .mat file (v5 or v7.3/HDF5); this one may be truncated or in another format. "
            f"Download or export it again. {MAT_HELP}"
        ) from err
    if not variables:
        raise SceneError(
            f"{path}: the MAT file holds no variables (it may be truncated or empty). "
            f"Download or export it again. {MAT_HELP}"
        )
    return variables


def max_scene_bytes() -> int:
    """The most memory loading one scene file may take: $SSAN_MAX_SCENE_BYTES (e.g. 8GiB, 500MB), else 3 GiB."""
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?i?B)?", text, re.IGNORECASE)
    if not match:
        raise SceneError(
            f"{MAX_BYTES_ENV}={text!r} is not a size; write e.g. 8GiB, 500MB or 1000000 (bytes)."
        )
    unit = (match.group(2) or "B").upper()
    scale = 1024 if "I" in unit else 1000
    return int(float(match.group(1)) * scale ** "BKMGT".index(unit[0]))


def format_bytes(n: float) -> str:
    """'1.5 GiB', '320.0 MiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def load_peak_bytes(arrays: Mapping[str, tuple[tuple[int, ...], int]]) -> int:
    """About the most memory loading these arrays ({name: (shape, bytes per element)}) takes at once: every
    array as the file stores it, plus the largest as the float32 cube and its mask of finite pixels."""
    counts = [math.prod(shape) for shape, _ in arrays.values()]
    stored = sum(n * itemsize for n, (_, itemsize) in zip(counts, arrays.values()))
    return stored + (4 + 1) * max(counts, default=0)


def check_declared(
    path: Path,
    arrays: Mapping[str, tuple[tuple[int, ...], int]],
    limit: int,
    kind: str = "variable",
) -> None:
    """Refuse a file whose arrays ({name: (shape, bytes per element)}, or another `kind` of array) would
    take more than `limit` bytes of memory to load (`load_peak_bytes`)."""
    need = load_peak_bytes(arrays)
    if need > limit:
        name = max(arrays, key=lambda k: math.prod(arrays[k][0]) * arrays[k][1])
        shape, itemsize = arrays[name]
        raise SceneError(
            f"{path}: the file declares {kind} '{name}' of {'x'.join(map(str, shape))} values at "
            f"{itemsize} byte(s) each; loading it takes about {format_bytes(need)} (the data as stored, a "
            f"float32 copy and a mask), more than the limit of {format_bytes(limit)}. If this machine has "
            f"the memory, raise the limit with {MAX_BYTES_ENV} (e.g. {MAX_BYTES_ENV}=16GiB); otherwise crop "
            "the scene first."
        )


def _out_of_memory(path: Path) -> str:
    return (
        f"{path}: not enough memory to load this file ({path.stat().st_size:,} bytes on disk). "
        f"Close other programs, crop the scene, or lower {MAX_BYTES_ENV} so such files are refused up front."
    )


def _read_v5(path: Path, limit: int) -> dict[str, np.ndarray]:
    """A v5 file's variables, read in a child process: scipy's reader can crash the interpreter on a damaged
    file (a segfault in `_mio5_utils`, found by the reader fuzz test), which in the app would end every
    session's server. A crash of the child is one clear line instead."""
    try:
        arrays, others = _v5_reader().submit(_read_v5_here, path, limit).result()
    except BrokenProcessPool:
        _V5_READER.clear()  # the next file gets a fresh child
        raise SceneError(
            f"{path}: the MATLAB v5 reader crashed on this file ({path.stat().st_size:,} bytes): it is damaged "
            f"or not a MAT file. Download or export it again. {MAT_HELP}"
        ) from None
    return arrays | {name: _placeholder(shape) for name, shape in others.items()}


_V5_READER: list[ProcessPoolExecutor] = []  # one child process, started on the first v5 file
_V5_READER_LOCK = threading.Lock()


def _v5_reader() -> ProcessPoolExecutor:
    """The child process that reads v5 files (spawned, so it shares no thread or lock with this one)."""
    with _V5_READER_LOCK:
        if not _V5_READER:
            _V5_READER.append(
                ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            )
        return _V5_READER[0]


def _read_v5_here(
    path: Path, limit: int
) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, ...]]]:
    """The plain arrays of a v5 file, and the shapes of the variables that are not (cells, structs, sparse)."""
    declared = scipy.io.whosmat(path)  # headers only: nothing is decompressed beyond them
    arrays = [name for name, _, cls in declared if cls in V5_ARRAY_CLASSES]
    # a small cell array of class names is read too (one string per class)
    arrays += [
        name
        for name, shape, cls in declared
        if cls == "cell"
        and NAMES_VARIABLE.fullmatch(name)
        and int(np.prod(shape)) <= MAX_CLASS_NAMES
    ]
    check_declared(
        path,
        {
            name: (shape, V5_ARRAY_CLASSES[cls])
            for name, shape, cls in declared
            if cls in V5_ARRAY_CLASSES
        },
        limit,
    )
    data = scipy.io.loadmat(path, variable_names=arrays) if arrays else {}
    read = {
        name: data[name] for name, _, _ in declared if name in data and not name.startswith("__")
    }
    others = {
        name: tuple(shape)
        for name, shape, _ in declared
        if name not in read and not name.startswith("__")
    }
    return read, others


def _placeholder(shape: tuple[int, ...]) -> np.ndarray:
    """An object array of `shape` that takes no memory (a variable that is not a plain array)."""
    return np.broadcast_to(np.empty((), dtype=object), shape)


def _read_hdf5(path: Path, limit: int) -> dict[str, np.ndarray]:
    """Top-level datasets of a v7.3 file; MATLAB writes column-major, so axes are reversed on read."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        refuse_outside_storage(f, path)
        check_declared(
            path,
            {
                name: (tuple(node.shape)[::-1], node.dtype.itemsize)
                for name, node in f.items()
                if not name.startswith("#") and isinstance(node, h5py.Dataset)
            },
            limit,
        )
        for name, node in f.items():
            if name.startswith("#") or not isinstance(node, h5py.Dataset):
                continue  # MATLAB's reference store, and structs (groups), hold no plain arrays
            mclass = node.attrs.get("MATLAB_class", b"")
            mclass = mclass.decode() if isinstance(mclass, bytes) else str(mclass)
            if node.attrs.get("MATLAB_empty", 0):
                out[name] = np.zeros((0, 0))
                continue
            arr = np.asarray(node[()]).T
            if mclass == "char":
                arr = np.array(["".join(map(chr, row)) for row in arr.reshape(arr.shape[0], -1)])
            elif mclass == "logical":
                arr = arr.astype(bool)
            out[name] = arr
    return out


def refuse_outside_storage(f: h5py.File, path: Path) -> None:
    """Refuse an HDF5 file that reaches beyond its own bytes: an external link, a dataset stored in another
    file (external storage) or a virtual dataset. Any of them would read a file on this machine as data."""
    links: list[tuple[str, object]] = []

    def collect(name: str, link: object) -> None:
        links.append((name, link))
        if len(links) > MAX_HDF5_LINKS:
            raise SceneError(
                f"{path}: the HDF5 file holds more than {MAX_HDF5_LINKS:,} objects; a MATLAB file of a "
                f"scene holds a few. {MAT_HELP}"
            )

    f.visititems_links(collect)  # every link, without following any of them
    for name, link in links:
        if isinstance(link, h5py.ExternalLink):
            raise SceneError(
                f"{path}: '{name}' links to another file; a .mat file must hold its own data (external "
                f"links are not followed). {MAT_HELP}"
            )
    for name, link in links:
        node = f.get(name) if isinstance(link, h5py.HardLink) else None
        if not isinstance(node, h5py.Dataset):
            continue
        if node.is_virtual:
            raise SceneError(
                f"{path}: '{name}' is a virtual dataset (its data is mapped from other files); a .mat file "
                f"must hold its own data. {MAT_HELP}"
            )
        if node.external:
            raise SceneError(
                f"{path}: '{name}' keeps its data in another file (HDF5 external storage); a .mat file "
                f"must hold its own data. {MAT_HELP}"
            )


def _memory_errors_as_scene_errors(load: Callable[..., Scene]) -> Callable[..., Scene]:
    """Running out of memory while loading `cube_path` becomes one clear SceneError, never a traceback."""

    @functools.wraps(load)
    def guarded(cube_path: str | Path, *args, **kwargs) -> Scene:
        try:
            return load(cube_path, *args, **kwargs)
        except MemoryError:
            raise SceneError(_out_of_memory(Path(cube_path))) from None

    return guarded


@_memory_errors_as_scene_errors
def load_mat_scene(
    cube_path: str | Path,
    gt_path: str | Path | None = None,
    *,
    cube_var: str | None = None,
    gt_var: str | None = None,
    name: str | None = None,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    nan_policy: str = "refuse",
    wavelengths_var: str | None = None,
    class_colors: Sequence[str] | Mapping[int, str] | None = None,
    wavelengths: str | Path | None = None,
) -> Scene:
    """A validated `Scene` from one .mat file holding cube and labels, or from two files.

    Variables are found by shape unless named. Label ids are renumbered 1..C (file ids kept in
    `original_ids`). `class_names`/`class_colors`: one per class present (in id order), one per
    id 1..max id, or a mapping original id -> value. `nan_policy="mask"` zeroes NaN/inf pixels
    and unlabels them instead of refusing the file. `wavelengths` (text such as "400-2500" or a list, or a `Path`
    to a file; see `sensors.parse_wavelengths`) overrides the file's band centres and the guess.
    """
    if nan_policy not in NAN_POLICIES:
        raise SceneError(
            f"nan_policy must be one of {', '.join(NAN_POLICIES)}; got {nan_policy!r}."
        )
    cube_path = Path(cube_path)
    gt_file = Path(gt_path) if gt_path is not None else cube_path
    cube_vars = read_mat(cube_path)
    gt_vars = read_mat(gt_file) if gt_path is not None else cube_vars

    cube_name, raw_cube = _pick_cube(cube_vars, cube_path, cube_var)
    _, raw_labels = pick_labels(gt_vars, gt_file, gt_var, raw_cube.shape[:2])
    if class_names is None:
        class_names = _up_to_top_id(names_variable(gt_vars), raw_labels)
    return scene_from_arrays(
        raw_cube,
        raw_labels,
        cube_path=cube_path,
        gt_file=gt_file,
        two_files=gt_path is not None,
        cube_name=cube_name,
        name=name,
        class_names=class_names,
        class_colors=class_colors,
        nan_policy=nan_policy,
        wavelengths=(
            (parse_wavelengths(wavelengths, raw_cube.shape[2]), False, ["Wavelengths as given."])
            if wavelengths
            else _wavelengths(cube_vars, gt_vars, cube_path, raw_cube.shape[2], wavelengths_var)
        ),
    )


def scene_from_arrays(
    raw_cube: np.ndarray,
    raw_labels: np.ndarray,
    *,
    cube_path: Path,
    gt_file: Path,
    two_files: bool,
    cube_name: str,
    wavelengths: tuple[np.ndarray, bool, list[str]],
    name: str | None = None,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    class_colors: Sequence[str] | Mapping[int, str] | None = None,
    nan_policy: str = "refuse",
    sha256: str | None = None,
) -> Scene:
    """The checks every file format shares (band count, finite values, integer labels, at least two
    classes, names per class), then the `Scene`; `wavelengths` is (values, estimated, notes), `sha256` the
    scene's identity when it is more than the cube file's hash (an ENVI header with its data file)."""
    if nan_policy not in NAN_POLICIES:
        raise SceneError(
            f"nan_policy must be one of {', '.join(NAN_POLICIES)}; got {nan_policy!r}."
        )
    where = str(cube_path) if not two_files else f"{cube_path} + {gt_file}"
    notes: list[str] = []

    if raw_cube.shape[2] < 3:
        raise SceneError(
            f"{cube_path}: variable '{cube_name}' has {raw_cube.shape[2]} band(s); spectral attention needs "
            "at least 3. Check that it is the hyperspectral cube (rows x cols x bands), or name another with cube_var=."
        )
    if tuple(raw_labels.shape) != tuple(raw_cube.shape[:2]):
        raise SceneError(
            f"{gt_file}: the label map is {'x'.join(map(str, raw_labels.shape))} but the cube is "
            f"{raw_cube.shape[0]}x{raw_cube.shape[1]} pixels; cube and labels must cover the same pixels. "
            "Use the label map made for this cube."
        )
    cube = np.asarray(raw_cube, dtype=np.float32)
    labels = _integer_labels(raw_labels, gt_file)

    bad = ~np.isfinite(cube).all(axis=2)
    masked = int(bad.sum())
    if masked and nan_policy == "refuse":
        raise SceneError(
            f"{cube_path}: {masked:,} pixel(s) of '{cube_name}' hold NaN or infinite values. Expected finite "
            "numbers everywhere. Load with nan_policy='mask' to set those pixels to 0 and leave them unlabelled, "
            "or fix the file."
        )
    if masked:
        cube[bad] = 0.0
        labels[bad] = 0
        notes.append(
            f"{masked:,} pixel(s) with NaN or infinite values were set to 0 and left unlabelled (nan_policy='mask')."
        )

    ids = np.unique(labels[labels > 0])
    if ids.size < 2:
        raise SceneError(
            f"{gt_file}: the label map holds {ids.size} class(es) (ids {ids.tolist()}); classification needs at "
            "least 2 labelled classes (0 = unlabelled). Check that the right label variable was used (gt_var=)."
        )
    remapped = np.zeros(labels.shape, dtype=np.int32)
    labelled = labels > 0
    remapped[labelled] = np.searchsorted(ids, labels[labelled]) + 1
    id_list = [int(i) for i in ids]
    if id_list != list(range(1, len(id_list) + 1)):
        notes.append(
            f"Label ids {_id_text(id_list)} were renumbered 1..{len(id_list)} (the file's ids are kept in original_ids)."
        )

    values, estimated, wl_notes = wavelengths
    notes.extend(wl_notes)

    names = _per_class(class_names, id_list, "class_names", gt_file) or tuple(
        f"Class {i}" for i in id_list
    )
    colors = _per_class(class_colors, id_list, "class_colors", gt_file)
    return Scene(
        name=name or cube_path.stem,
        cube=cube,
        labels=remapped,
        class_names=names,
        wavelengths=values,
        source=where,
        class_colors=colors,
        original_ids=tuple(id_list),
        wavelengths_estimated=estimated,
        sha256=sha256 or file_sha256(cube_path),
        masked_pixels=masked,
        notes=tuple(notes),
    )


def names_variable(variables: Mapping[str, np.ndarray]) -> tuple[str, ...] | None:
    """Class names from a text variable called class_names / names / classes (a cell array of strings)."""
    for key, value in variables.items():
        if NAMES_VARIABLE.fullmatch(key):
            arr = np.asarray(value, dtype=object).ravel()
            names = [
                str(np.asarray(v).ravel()[0])
                if np.size(v) == 1 and not isinstance(v, str)
                else str(v)
                for v in arr
            ]
            if names and all(n.strip() for n in names) and np.asarray(value).dtype.kind in "OUS":
                return tuple(n.strip() for n in names)
    return None


def _up_to_top_id(names: tuple[str, ...] | None, labels: np.ndarray) -> tuple[str, ...] | None:
    """A file's own names by id 1..N cut to the largest id in its map: a file may name classes it does not
    hold. (Too few names are left for the per-class check to refuse.)"""
    finite = (
        np.asarray(labels)[np.isfinite(labels)] if _numeric(np.asarray(labels)) else np.zeros(0)
    )
    if names is None or finite.size == 0:
        return names
    return names[: max(int(finite.max()), 0)] if len(names) > finite.max() else names


def _describe(variables: Mapping[str, np.ndarray]) -> str:
    parts = []
    for key, value in variables.items():
        arr = np.asarray(value)
        parts.append(f"{key} ({'x'.join(map(str, arr.shape)) or 'scalar'} {arr.dtype})")
    return ", ".join(parts) or "nothing"


def _numeric(arr: np.ndarray) -> bool:
    return arr.dtype.kind in "biuf"


def _named(variables: Mapping[str, np.ndarray], path: Path, var: str, keyword: str) -> np.ndarray:
    if var not in variables:
        raise SceneError(
            f"{path}: no variable named '{var}'. The file holds: {_describe(variables)}. "
            f"Pass {keyword}= one of those names."
        )
    arr = np.asarray(variables[var])
    if not _numeric(arr):
        raise SceneError(
            f"{path}: variable '{var}' holds {arr.dtype} data, not real numbers (a cell array, struct, text or "
            f"complex values). Expected a numeric array; save the data as a plain numeric matrix or name "
            f"another variable with {keyword}=."
        )
    return arr


def _pick_cube(
    variables: Mapping[str, np.ndarray], path: Path, var: str | None
) -> tuple[str, np.ndarray]:
    """The cube: the named variable, else the only 3-D array in the file."""
    if var is None:
        found = [k for k, v in variables.items() if np.ndim(v) == 3]
        if len(found) != 1:
            todo = (
                "Name the cube with cube_var='<name>'."
                if found
                else "If this file holds only the labels, give the cube's file first and this one as gt_path."
            )
            what = (
                "no 3-D variable"
                if not found
                else f"{len(found)} 3-D variables ({', '.join(found)})"
            )
            raise SceneError(
                f"{path}: expected one 3-D hyperspectral cube (rows x cols x bands), found {what}. "
                f"The file holds: {_describe(variables)}. {todo}"
            )
        var = found[0]
    arr = _named(variables, path, var, "cube_var")
    if arr.ndim != 3:
        raise SceneError(
            f"{path}: variable '{var}' is {arr.ndim}-D ({'x'.join(map(str, arr.shape))}); a cube must be 3-D "
            f"(rows x cols x bands). The file holds: {_describe(variables)}."
        )
    return var, arr


def pick_labels(
    variables: Mapping[str, np.ndarray], path: Path, var: str | None, shape: tuple[int, int]
) -> tuple[str, np.ndarray]:
    """The label map: the named variable, else the only 2-D map of the cube's size."""
    size = f"{shape[0]}x{shape[1]}"
    if var is None:
        maps = [k for k, v in variables.items() if np.ndim(v) == 2 and min(np.shape(v)) > 1]
        fitting = [k for k in maps if np.shape(variables[k]) == shape]
        if len(fitting) > 1:
            raise SceneError(
                f"{path}: {len(fitting)} 2-D variables of the cube's size {size} could be the label map: "
                f"{', '.join(fitting)}. Name the one to use with gt_var='<name>'."
            )
        if not fitting:
            found = (
                f"only 2-D variables of other sizes: {_describe({k: variables[k] for k in maps})}"
                if maps
                else f"no 2-D variable; the file holds: {_describe(variables)}"
            )
            raise SceneError(
                f"{path}: expected a {size} label map (the cube is {size} pixels) but found {found}. "
                "Cube and labels must cover the same pixels: pass the matching label file as gt_path, "
                "or name the map with gt_var=."
            )
        var = fitting[0]
    arr = _named(variables, path, var, "gt_var")
    if arr.shape != shape:
        raise SceneError(
            f"{path}: label variable '{var}' is {'x'.join(map(str, arr.shape))} but the cube is {size} pixels; "
            "cube and labels must cover the same pixels. Use the label map made for this cube."
        )
    return var, arr


def _integer_labels(raw: np.ndarray, path: Path) -> np.ndarray:
    """Labels as int64, refusing fractions, NaN and negative ids."""
    if raw.dtype.kind == "f":
        bad = ~(np.isfinite(raw) & (raw == np.round(raw)))
        if bad.any():
            examples = ", ".join(str(v) for v in np.unique(raw[bad])[:3])
            raise SceneError(
                f"{path}: the label map holds {int(bad.sum()):,} non-integer value(s) (e.g. {examples}). "
                "Expected whole class ids (0 = unlabelled, 1, 2, …); check that gt_var names the label map."
            )
    labels = raw.astype(np.int64)
    if labels.min() < 0:
        raise SceneError(
            f"{path}: the label map holds negative ids (min {labels.min()}). Expected 0 for unlabelled pixels "
            "and positive class ids; relabel the map."
        )
    return labels


def _wavelengths(
    cube_vars: Mapping[str, np.ndarray],
    gt_vars: Mapping[str, np.ndarray],
    path: Path,
    n_bands: int,
    var: str | None,
) -> tuple[np.ndarray, bool, list[str]]:
    """Band centres in nm from a wavelength variable (µm converted), else ROSIS-like estimates."""
    pool = {**gt_vars, **cube_vars}
    if var is not None:
        arr = _named(pool, path, var, "wavelengths_var")
        values = _as_nm(arr, n_bands)
        if values is not None:
            check_band_centres(values, f"{path}: wavelength variable '{var}'")
        if values is None:
            raise SceneError(
                f"{path}: wavelength variable '{var}' ({'x'.join(map(str, arr.shape))}) is not {n_bands} band "
                f"centres in nm or µm (expected one value per band, {PLAUSIBLE_NM[0]:.0f}–{PLAUSIBLE_NM[1]:.0f} nm). "
                "Name another variable or leave wavelengths_var out to use estimates."
            )
        return values, False, [f"Wavelengths from variable '{var}'."]
    notes = []
    for key, arr in pool.items():
        if WAVELENGTH_NAME.fullmatch(key) and _numeric(np.asarray(arr)) and np.size(arr) == n_bands:
            values = _as_nm(np.asarray(arr), n_bands)
            if values is not None:
                check_band_centres(values, f"{path}: wavelength variable '{key}'")
                return values, False, [f"Wavelengths from variable '{key}'."]
            notes.append(
                f"Variable '{key}' does not look like band centres in nm or µm and was ignored."
            )
    values, guess = guess_wavelengths(n_bands)
    notes.append(f"No wavelength vector in {path.name}; {guess}")
    return values, True, notes


def _as_nm(arr: np.ndarray, n_bands: int) -> np.ndarray | None:
    values = np.asarray(arr, dtype=np.float64).ravel()
    if values.size != n_bands:
        return None
    if not np.isfinite(values).all():
        return (
            values  # band centres with a hole: refused by the caller, not taken for something else
        )
    if values.max() < 30.0:  # band centres this small are micrometres, unless they are band numbers
        if np.array_equal(values, np.round(values)):
            return None
        values = values * 1000.0
    if values.min() < PLAUSIBLE_NM[0] or values.max() > PLAUSIBLE_NM[1]:
        return None
    return values


def _per_class(
    given: Sequence[str] | Mapping[int, str] | None, ids: list[int], what: str, path: Path
) -> tuple[str, ...]:
    """One value per class present: in class order, by original id (1..max id), or from an id mapping."""
    if given is None:
        return ()
    if isinstance(given, Mapping):
        missing = [i for i in ids if i not in given]
        if missing:
            raise SceneError(
                f"{path}: {what} has no entry for label id(s) {_id_text(missing)}; add one per id present."
            )
        return tuple(str(given[i]) for i in ids)
    values = [str(v) for v in given]
    if len(values) == len(ids):
        return tuple(values)
    if len(values) == max(ids):
        return tuple(values[i - 1] for i in ids)
    raise SceneError(
        f"{path}: {len(values)} {what} for {len(ids)} classes (ids {_id_text(ids)}). Give one per class present, "
        f"one per id 1..{max(ids)}, or a mapping from id to value; none may be left over."
    )


def _id_text(ids: list[int]) -> str:
    return ", ".join(map(str, ids))
