"""Train / validation / test splits of a scene's labelled pixels, and the leakage figure.

Every split is seeded and says which protocol produced it:

- ``paper``: per class 100 train, 100 validation, the rest test (the authors' protocol);
- ``per-class:N``: N train and N validation per class, the rest test;
- ``fraction:F``: a share F of each class for train, as many for validation, the rest test;
- ``disjoint`` / ``disjoint:N``: spatially disjoint blocks with a guard band between the
  training region and every test pixel; N (default 100) train and N validation per class;
- ``fixed:TRAIN.mat,TEST.mat``: train and test label maps read from two files (or given as
  arrays), validation carved from train; the split's protocol is the spec itself, so the files
  it names rebuild the split.

A class too small for the request gives at most a third of its pixels to train and a third
to validation, and the split carries a warning saying so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from ssan.data.scene import Scene, SceneError

PAPER_PER_CLASS = 100
DEFAULT_PATCH = 27
PROTOCOLS = ("paper", "per-class:N", "fraction:F", "disjoint[:N]", "fixed:TRAIN.mat,TEST.mat")


@dataclass(frozen=True, eq=False)
class SplitRecord:
    """What a fitted model remembers of its split: how it was drawn, its sizes, and its train and
    validation pixels (flat indices, kept so a checkpoint can be audited and its baseline rebuilt).

    `to_dict` / `from_dict` are the checkpoint sidecar's "split" entry; sidecars written before a
    field existed read back with that field empty.
    """

    protocol: str
    seed: int
    train: np.ndarray
    val: np.ndarray
    description: str = ""
    patch_size: int = DEFAULT_PATCH
    sizes: Mapping[str, int] = field(default_factory=dict)
    leakage: float | None = None
    warnings: tuple[str, ...] = ()

    @property
    def n_test(self) -> int | None:
        """Number of test pixels of the split, None for a record that does not say."""
        return self.sizes.get("test")

    def matches(self, split: Split) -> bool:
        """Whether this record describes `split` (same protocol, seed and number of test pixels)."""
        return (
            self.protocol == split.protocol
            and self.seed == split.seed
            and self.n_test == split.test.size
        )

    def to_dict(self) -> dict[str, Any]:
        """The sidecar's JSON-ready "split" entry."""
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "seed": self.seed,
            "description": self.description,
            "patch_size": self.patch_size,
            "sizes": dict(self.sizes),
        }
        if self.leakage is not None:
            out["leakage"] = self.leakage
        return out | {
            "warnings": list(self.warnings),
            "train": self.train.tolist(),
            "val": self.val.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SplitRecord:
        """Read a sidecar's "split" entry (older sidecars may lack the optional fields)."""
        return cls(
            protocol=d["protocol"],
            seed=int(d["seed"]),
            train=np.asarray(d.get("train", []), dtype=np.int64),
            val=np.asarray(d.get("val", []), dtype=np.int64),
            description=d.get("description", ""),
            patch_size=int(d.get("patch_size", DEFAULT_PATCH)),
            sizes={k: int(v) for k, v in d.get("sizes", {}).items()},
            leakage=d.get("leakage"),
            warnings=tuple(d.get("warnings", ())),
        )


@dataclass(frozen=True, eq=False)
class Split:
    """Flat pixel indices (row * W + col) of the train, validation and test sets.

    `label_map` is the (H, W) label map the indices refer to: the scene's own labels, or
    for a fixed split the union of the given train and test maps.
    """

    protocol: str
    seed: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    label_map: np.ndarray
    description: str
    patch_size: int = DEFAULT_PATCH
    warnings: tuple[str, ...] = field(default=())

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the image the split is drawn on."""
        return int(self.label_map.shape[0]), int(self.label_map.shape[1])

    def targets(self, pixels: np.ndarray) -> np.ndarray:
        """Class ids (1..C) of the given flat pixel indices."""
        return self.label_map.ravel()[pixels].astype(np.int64)

    def counts(self, n_classes: int) -> dict[str, np.ndarray]:
        """Per-class pixel counts (C,) of each subset."""
        return {
            name: np.bincount(self.targets(idx), minlength=n_classes + 1)[1:]
            for name, idx in (("train", self.train), ("val", self.val), ("test", self.test))
        }

    @property
    def leakage(self) -> float:
        """Share of test pixels whose patch neighbourhood contains a training pixel."""
        return leakage_fraction(self.train, self.test, self.shape, self.patch_size)

    def summary(self) -> str:
        """One line: protocol, sizes and the leakage figure."""
        return (
            f"{self.description}; train {self.train.size}, val {self.val.size}, test {self.test.size}; "
            f"leakage {100 * self.leakage:.1f}% of test pixels have a training pixel in their "
            f"{self.patch_size}x{self.patch_size} neighbourhood"
        )

    def record(self) -> SplitRecord:
        """What a model trained on this split keeps of it: enough to rebuild it (protocol + seed) and audit it."""
        return SplitRecord(
            protocol=self.protocol,
            seed=self.seed,
            train=self.train.copy(),
            val=self.val.copy(),
            description=self.description,
            patch_size=self.patch_size,
            sizes={
                "train": int(self.train.size),
                "val": int(self.val.size),
                "test": int(self.test.size),
            },
            leakage=round(self.leakage, 6),
            warnings=self.warnings,
        )

    def to_dict(self) -> dict:
        """JSON-ready record: enough to rebuild the split (protocol + seed) and to audit it."""
        return self.record().to_dict()


SPLIT_ROLES = ("train", "validation", "test", "left out (guard band)")
SPLIT_ROLE_COLOURS = ("#d62728", "#ff7f0e", "#1f77b4", "#bbbbbb")


def split_roles(split: Split) -> np.ndarray:
    """(H, W) role of every pixel: 0 unlabelled, 1 train, 2 validation, 3 test, 4 labelled but in no set
    (the disjoint split's guard band, or pixels a split left out)."""
    roles = np.where(split.label_map.ravel() > 0, 4, 0).astype(np.int32)
    for role, pixels in ((1, split.train), (2, split.val), (3, split.test)):
        roles[pixels] = role
    return roles.reshape(split.shape)


def leakage_fraction(
    train: np.ndarray, test: np.ndarray, shape: tuple[int, int], patch_size: int = DEFAULT_PATCH
) -> float:
    """Share of `test` pixels whose patch_size x patch_size window contains a pixel of `train`."""
    if test.size == 0:
        return 0.0
    mask = np.zeros(shape[0] * shape[1], dtype=bool)
    mask[train] = True
    near_train = ndimage.maximum_filter(
        mask.reshape(shape), size=patch_size, mode="constant", cval=False
    )
    return float(near_train.ravel()[test].mean())


def parse_split_spec(spec: str) -> tuple[str, float | None]:
    """Split a protocol string like ``per-class:30`` into (kind, parameter); ``fixed:...`` gives ("fixed", None)."""
    kind, _, arg = spec.strip().lower().partition(":")
    try:
        if kind == "paper" and not arg:
            return kind, None
        if kind == "per-class" and arg and int(arg) >= 1 and str(int(arg)) == arg:
            return kind, int(arg)
        if kind == "fraction" and arg and 0.0 < float(arg) < 0.5:
            return kind, float(arg)
        if kind == "disjoint":
            if not arg:
                return kind, PAPER_PER_CLASS
            if int(arg) >= 1 and str(int(arg)) == arg:
                return kind, int(arg)
        if kind == "fixed":
            return kind, None
    except ValueError:
        pass
    raise ValueError(
        f"unknown split {spec!r}; expected one of paper, per-class:N (N a positive integer), "
        "fraction:F (0 < F < 0.5), disjoint or disjoint:N, fixed:TRAIN.mat,TEST.mat"
    )


def protocol_label(protocol: str) -> str:
    """`protocol` for a person: a fixed split by its two maps' file names, not their folders."""
    kind, _, files = protocol.partition(":")
    if kind.strip().lower() != "fixed" or not files:
        return protocol
    return "fixed:" + ",".join(Path(p.strip()).name for p in files.split(","))


def make_split(
    scene: Scene,
    spec: str = "paper",
    seed: int = 0,
    patch_size: int = DEFAULT_PATCH,
    fixed_maps: tuple[np.ndarray, np.ndarray] | None = None,
) -> Split:
    """The split named by `spec` for `scene`, drawn with `seed`: the one parser of split specs.

    `spec` is ``paper``, ``per-class:N``, ``fraction:F``, ``disjoint[:N]`` or ``fixed:TRAIN.mat,TEST.mat``
    (two label-map files); a bare ``fixed`` takes the two maps as arrays from `fixed_maps` (train, test).
    """
    kind, arg = parse_split_spec(spec)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"the split seed must be a non-negative integer; got {seed!r}.")
    if kind == "fixed":
        if fixed_maps is not None:
            return fixed_split(scene, *fixed_maps, seed=seed, patch_size=patch_size)
        train_path, test_path = _fixed_paths(spec)
        return fixed_split_from_files(scene, train_path, test_path, seed, patch_size)
    if kind == "disjoint":
        return disjoint_split(scene, per_class=int(arg), seed=seed, patch_size=patch_size)
    rng = np.random.default_rng(seed)
    labels = scene.labels
    names = scene.class_names
    if kind == "paper":
        train, val, test, warns = _per_class_split(labels, lambda n: PAPER_PER_CLASS, names, rng)
        desc = f"paper protocol: per class {PAPER_PER_CLASS} train / {PAPER_PER_CLASS} validation / rest test, random pixels, seed {seed}"
        protocol = "paper"
    elif kind == "per-class":
        n_train = int(arg)
        train, val, test, warns = _per_class_split(labels, lambda n: n_train, names, rng)
        desc = f"per-class: {n_train} train / {n_train} validation per class / rest test, random pixels, seed {seed}"
        protocol = f"per-class:{n_train}"
    else:
        frac = float(arg)
        train, val, test, warns = _per_class_split(
            labels, lambda n: max(1, round(frac * n)), names, rng
        )
        desc = f"fraction: {frac:g} of each class train, as many validation, rest test, random pixels, seed {seed}"
        protocol = f"fraction:{frac:g}"
    return Split(protocol, seed, train, val, test, labels, desc, patch_size, tuple(warns))


def _fixed_paths(spec: str) -> tuple[str, str]:
    """The two label-map files of ``fixed:TRAIN.mat,TEST.mat`` (paths keep their case)."""
    paths = [p.strip() for p in spec.strip().partition(":")[2].split(",")]
    if len(paths) != 2 or not all(paths):
        raise ValueError(
            f"split {spec!r}: the fixed split needs two label-map files, as fixed:TRAIN.mat,TEST.mat "
            "(or pass the two maps as arrays with fixed_maps=)"
        )
    return paths[0], paths[1]


def _per_class_split(labels, n_train_for, class_names, rng, pool: np.ndarray | None = None):
    """Per class: shuffle, take n train and n validation (at most a third each), rest test.

    `pool` restricts train/validation candidates (flat indices, at most half each); the test
    set is then empty and the caller chooses it.
    """
    flat = labels.ravel()
    train, val, test, warns = [], [], [], []
    candidates_all = np.flatnonzero(flat > 0) if pool is None else pool
    for c in range(1, len(class_names) + 1):
        idx = candidates_all[flat[candidates_all] == c]
        if idx.size == 0:
            continue
        idx = rng.permutation(idx)
        want = n_train_for(idx.size)
        n = min(
            want, idx.size // 3 if pool is None else idx.size // 2
        )  # a pool holds no test pixels
        if n < want:
            warns.append(
                f"class {c} ({class_names[c - 1]}) has only {idx.size} pixels available: "
                f"{n} train and {n} validation instead of {want}"
            )
        train.append(idx[:n])
        val.append(idx[n : 2 * n])
        test.append(idx[2 * n :])
    cat = lambda parts: (
        np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)
    )
    return cat(train), cat(val), (cat(test) if pool is None else np.zeros(0, np.int64)), warns


def disjoint_split(
    scene: Scene,
    per_class: int = PAPER_PER_CLASS,
    seed: int = 0,
    patch_size: int = DEFAULT_PATCH,
    block_size: int | None = None,
    max_train_share: float = 0.5,
    test_reserve: float = 0.2,
) -> Split:
    """Spatially disjoint split: train/validation come from whole blocks, test from far away.

    The image is cut into square blocks. Blocks are picked, in a seeded order that prefers
    the classes still short of 2 x `per_class` pixels, until every class is covered or the
    training region holds `max_train_share` of the labelled pixels. A block is passed over
    when its guard band would leave a class fewer than `test_reserve` of its pixels as test
    pixels, so small scenes keep test pixels in every class where the geometry allows.
    Without `block_size`, blocks one patch wide, a half and a third of it are tried and the
    split that serves the most classes is kept. Test pixels are the labelled pixels more
    than patch_size // 2 px (the guard band) from the training region, so no test patch
    contains a training pixel.
    """
    sizes = (
        [block_size]
        if block_size
        else sorted({patch_size, -(-patch_size // 2), -(-patch_size // 3)}, reverse=True)
    )
    layouts = [
        _pick_blocks(
            scene.labels, b, per_class, patch_size // 2, seed, max_train_share, test_reserve
        )
        for b in sizes
    ]
    region, block, n_chosen, n_blocks = max(
        layouts, key=lambda layout: _layout_score(scene, layout[0], per_class, patch_size // 2)
    )
    labels = scene.labels
    guard = patch_size // 2
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(region.ravel() & (labels.ravel() > 0))
    train, val, _, warns = _per_class_split(
        labels, lambda n: per_class, scene.class_names, rng, pool=pool
    )
    test = np.flatnonzero(~_guarded(region, guard).ravel() & (labels.ravel() > 0)).astype(np.int64)
    test_counts = np.bincount(labels.ravel()[test], minlength=scene.n_classes + 1)[1:]
    train_counts = np.bincount(labels.ravel()[train], minlength=scene.n_classes + 1)[1:]
    for c in np.flatnonzero(scene.class_counts() > 0):
        name = f"class {c + 1} ({scene.class_names[c]})"
        if train_counts[c] == 0:
            warns.append(
                f"{name} has no training pixel: every block holding it would leave it without "
                f"{test_reserve:.0%} of its pixels beyond the guard band for testing"
            )
        if test_counts[c] == 0:
            warns.append(f"{name} has no test pixel outside the guard band")
    desc = (
        f"disjoint: {n_chosen}/{n_blocks} blocks of {block} px for train/validation "
        f"({per_class} + {per_class} per class), guard band {guard} px, test = labelled pixels beyond it, seed {seed}"
    )
    protocol = "disjoint" if per_class == PAPER_PER_CLASS else f"disjoint:{per_class}"
    return Split(protocol, seed, train, val, test, labels, desc, patch_size, tuple(warns))


def _guarded(region: np.ndarray, guard: int) -> np.ndarray:
    """The region grown by the guard band: no test pixel may lie inside it."""
    return ndimage.binary_dilation(region, structure=np.ones((2 * guard + 1, 2 * guard + 1), bool))


def _layout_score(
    scene: Scene, region: np.ndarray, per_class: int, guard: int
) -> tuple[int, int, int]:
    """Rank block layouts: classes with both training and test pixels, then training pixels, then test pixels."""
    labels = scene.labels
    n = scene.n_classes + 1
    pool = np.bincount(labels[region], minlength=n)[1:]
    test = np.bincount(labels[~_guarded(region, guard)], minlength=n)[1:]
    usable = np.minimum(pool // 2, per_class)
    return int(((usable > 0) & (test > 0)).sum()), int(usable.sum()), int(test.sum())


def _pick_blocks(
    labels: np.ndarray,
    block: int,
    per_class: int,
    guard: int,
    seed: int,
    max_train_share: float,
    test_reserve: float,
) -> tuple[np.ndarray, int, int, int]:
    """Greedy block choice for `disjoint_split`: (training region mask, block size, blocks chosen, blocks)."""
    H, W = labels.shape
    n_classes = int(labels.max())
    rng = np.random.default_rng(seed)
    rows, cols = -(-H // block), -(-W // block)
    block_id = (np.arange(H)[:, None] // block) * cols + (np.arange(W)[None, :] // block)
    n_blocks = rows * cols
    hist = np.zeros((n_blocks, n_classes + 1), dtype=np.int64)
    np.add.at(hist, (block_id.ravel(), labels.ravel()), 1)
    hist = hist[:, 1:]
    counts = hist.sum(axis=0)
    need = np.minimum(2 * per_class, counts)
    reserve = np.ceil(test_reserve * counts).astype(np.int64)
    # each block's guarded window, in pixel coordinates (half-open)
    r0 = np.clip(np.arange(n_blocks) // cols * block - guard, 0, H)
    c0 = np.clip(np.arange(n_blocks) % cols * block - guard, 0, W)
    r1 = np.clip(np.arange(n_blocks) // cols * block + block + guard, 0, H)
    c1 = np.clip(np.arange(n_blocks) % cols * block + block + guard, 0, W)
    one_hot = labels[None, :, :] == np.arange(1, n_classes + 1)[:, None, None]
    have = np.zeros(n_classes, dtype=np.int64)
    chosen = np.zeros(n_blocks, dtype=bool)
    guarded = np.zeros((H, W), dtype=bool)
    budget = max_train_share * counts.sum()
    order = rng.permutation(n_blocks)
    while (have < need).any() and hist[chosen].sum() < budget:
        test_now = (one_hot & ~guarded).sum(axis=(1, 2))
        integral = np.pad((one_hot & ~guarded).cumsum(1).cumsum(2), ((0, 0), (1, 0), (1, 0)))
        lost = (
            integral[:, r1, c1] - integral[:, r0, c1] - integral[:, r1, c0] + integral[:, r0, c0]
        ).T
        after = test_now - lost
        keeps_reserve = ((after >= reserve) | (lost == 0)).all(axis=1)
        gain = (np.minimum(hist, np.maximum(need - have, 0)) * (have < need)).sum(axis=1)
        gain[chosen | ~keeps_reserve] = 0
        if gain.max() == 0:
            break
        pick = order[
            int(np.argmax(gain[order]))
        ]  # ties go to the earliest block in the seeded order
        chosen[pick] = True
        have += hist[pick]
        guarded[r0[pick] : r1[pick], c0[pick] : c1[pick]] = True
    return chosen[block_id], block, int(chosen.sum()), n_blocks


def fixed_split(
    scene: Scene,
    train_map: np.ndarray,
    test_map: np.ndarray,
    seed: int = 0,
    patch_size: int = DEFAULT_PATCH,
    val_share: float = 0.2,
    source: str = "given maps",
) -> Split:
    """Train and test pixels from two label maps (original class ids); validation carved from train.

    The maps use the scene's original ids (e.g. the standard 3,921 / 40,002 PaviaU maps); a
    share `val_share` of each class's training pixels becomes the validation set.
    """
    train_map = _to_scene_ids(scene, train_map, "train map")
    test_map = _to_scene_ids(scene, test_map, "test map")
    overlap = int(((train_map > 0) & (test_map > 0)).sum())
    if overlap:
        raise SceneError(
            f"fixed split: {overlap} pixels are labelled in both the train and the test map; they must not overlap."
        )
    rng = np.random.default_rng(seed)
    label_map = np.where(train_map > 0, train_map, test_map)
    train, val = [], []
    flat = train_map.ravel()
    for c in range(1, scene.n_classes + 1):
        idx = rng.permutation(np.flatnonzero(flat == c))
        n_val = int(round(val_share * idx.size)) if idx.size >= 2 else 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    train = np.sort(np.concatenate(train)).astype(np.int64)
    val = np.sort(np.concatenate(val)).astype(np.int64)
    test = np.flatnonzero(test_map.ravel() > 0).astype(np.int64)
    desc = f"fixed: train/test maps from {source} ({train.size + val.size} / {test.size} px), {val_share:.0%} of train held out for validation, seed {seed}"
    return Split(
        "fixed",
        seed,
        train,
        val,
        test,
        label_map,
        desc,
        patch_size,
        fixed_split_warnings(
            scene, train_map, np.flatnonzero(train_map.ravel() > 0), test, patch_size
        ),
    )


def fixed_split_warnings(
    scene: Scene, train_map: np.ndarray, train: np.ndarray, test: np.ndarray, patch_size: int
) -> tuple[str, ...]:
    """What a given train map hides: training pixels on ground-truth background, and how close the test
    pixels lie to the training map (`train` = every training-map pixel, validation included)."""
    warns = []
    labelled_train = int((train_map > 0).sum())
    on_background = int(((train_map > 0) & (scene.labels == 0)).sum())
    if on_background:
        warns.append(
            f"{on_background:,} of the {labelled_train:,} training-map pixels lie on ground-truth background "
            "(label 0 in the scene's ground truth): the two maps disagree there."
        )
    inside = leakage_fraction(train, test, scene.shape, patch_size)
    overlap = patch_overlap_fraction(train, test, scene.shape, patch_size)
    if overlap > 0:
        warns.append(
            f"{100 * inside:.1f}% of the test pixels have a training-map pixel inside their "
            f"{patch_size}x{patch_size} patch, and {100 * overlap:.1f}% of the test patches overlap a "
            "training pixel's patch (they share pixels the network saw in training)."
        )
    return tuple(warns)


def patch_overlap_fraction(
    train: np.ndarray, test: np.ndarray, shape: tuple[int, int], patch_size: int = DEFAULT_PATCH
) -> float:
    """Share of `test` pixels whose patch shares a pixel with the patch of some `train` pixel."""
    return leakage_fraction(train, test, shape, 2 * patch_size - 1)


def fixed_split_from_files(
    scene: Scene,
    train_path: str | Path,
    test_path: str | Path,
    seed: int = 0,
    patch_size: int = DEFAULT_PATCH,
) -> Split:
    """`fixed_split` with the two maps read from .mat files (the only 2-D variable in each); its
    protocol, ``fixed:TRAIN,TEST``, names the two files, so `make_split` rebuilds it from the protocol."""
    maps = [_read_label_map(Path(p)) for p in (train_path, test_path)]
    source = f"{Path(train_path).name} + {Path(test_path).name}"
    split = fixed_split(scene, *maps, seed=seed, patch_size=patch_size, source=source)
    return dataclasses.replace(split, protocol=f"fixed:{train_path},{test_path}")


def _read_label_map(path: Path) -> np.ndarray:
    """The single 2-D variable of a .mat file (a label map)."""
    from ssan.data.readers.matfile import read_mat

    maps = {k: v for k, v in read_mat(path).items() if np.ndim(v) == 2 and min(np.shape(v)) > 1}
    if len(maps) != 1:
        raise SceneError(
            f"{path}: expected exactly one 2-D label map, found {sorted(maps) or 'none'}; "
            "save the train and test maps in separate .mat files, one map each."
        )
    return np.asarray(next(iter(maps.values())))


def _to_scene_ids(scene: Scene, label_map: np.ndarray, what: str) -> np.ndarray:
    """Map a label map in original ids onto the scene's 1..C, refusing foreign ids or shapes."""
    label_map = np.asarray(label_map)
    _check_class_ids(label_map, what)
    if label_map.shape != scene.shape:
        raise SceneError(
            f"fixed split: the {what} is {label_map.shape[0]}x{label_map.shape[1]} but the scene "
            f"{scene.name} is {scene.shape[0]}x{scene.shape[1]}; use maps made for this scene."
        )
    lookup = {orig: i + 1 for i, orig in enumerate(scene.original_ids)}
    ids = np.unique(label_map[label_map > 0])
    unknown = [int(i) for i in ids if int(i) not in lookup]
    if unknown:
        raise SceneError(
            f"fixed split: the {what} uses class ids {unknown} that the scene {scene.name} does not have "
            f"(its ids are {list(scene.original_ids)})."
        )
    out = np.zeros(label_map.shape, dtype=np.int32)
    for orig, new in lookup.items():
        out[label_map == orig] = new
    return out


def _check_class_ids(label_map: np.ndarray, what: str) -> None:
    """Refuse a map that is not whole, non-negative class ids (a fraction or a negative would be dropped silently)."""
    if label_map.dtype.kind not in "biuf":
        raise SceneError(
            f"fixed split: the {what} holds {label_map.dtype} data, not class ids; "
            "save it as a numeric matrix (0 = unlabelled, then the scene's class ids)."
        )
    if label_map.dtype.kind == "f":
        bad = ~(np.isfinite(label_map) & (label_map == np.round(label_map)))
        if bad.any():
            examples = ", ".join(f"{v:g}" for v in np.unique(label_map[bad])[:3])
            raise SceneError(
                f"fixed split: the {what} holds {int(bad.sum()):,} value(s) that are not whole class "
                f"ids (e.g. {examples}); expected 0 for unlabelled pixels and the scene's class ids."
            )
    if label_map.size and label_map.min() < 0:
        raise SceneError(
            f"fixed split: the {what} holds negative ids (min {label_map.min():g}); expected 0 for "
            "unlabelled pixels and the scene's class ids."
        )
