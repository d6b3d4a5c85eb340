"""Controls shared by several pages: the split (protocol, its parameter or its two maps, seed)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import streamlit as st

from ssan.data.download import data_dir
from ssan.data.splits import PAPER_PER_CLASS
from ui import loaders
from ui.state import bound, scene_key

SPLIT_KINDS = {
    "paper": "paper: 100 train + 100 validation per class",
    "per-class": "per class: N train + N validation",
    "fraction": "fraction: a share of each class",
    "disjoint": "disjoint: spatial blocks with a guard band",
}
# The fixed split is not drawn from a protocol and seed: its two maps are chosen per scene (`split_fixed`).
FIXED_KIND = {"fixed": "fixed: a train map and a test map from files"}
# The standard spatially disjoint PaviaU maps (3,921 train / 40,002 test pixels), looked for in the data
# folder and in the workplace's shared folder; they fit any scene of PaviaU's shape.
STANDARD_MAPS = ("TRpavia_fixed.mat", "TSpavia_fixed.mat")
PAVIAU_SHAPE = (610, 340)


def split_controls() -> None:
    """Protocol, N or fraction (or the fixed split's maps), and seed of the split; the values live in the
    session (see ui.page.split_protocol)."""
    kinds = SPLIT_KINDS | FIXED_KIND
    c1, c2, c3 = st.columns([2, 1, 1])
    with c1:
        kind = bound(
            st.selectbox, "Split protocol", "split_kind", options=list(kinds), format_func=kinds.get
        )
    with c2:
        if kind in ("per-class", "disjoint"):
            bound(st.number_input, "N per class", "split_n", min_value=1, max_value=10_000, step=10)
        elif kind == "fraction":
            bound(
                st.number_input,
                "Fraction for training",
                "split_fraction",
                min_value=0.001,
                max_value=0.49,
                step=0.01,
                format="%.3f",
            )
        elif kind == "paper":
            st.number_input("N per class", value=PAPER_PER_CLASS, disabled=True, key="paper_n")
    with c3:
        bound(st.number_input, "Split seed", "split_seed", min_value=0, max_value=2**31 - 1, step=1)
    if kind == "fixed":
        fixed_maps()


def standard_maps() -> tuple[Path, Path] | None:
    """The standard PaviaU train and test maps where they are found, else None."""
    for folder in (data_dir(), loaders.ROOT.parent / "shared" / "data" / "real"):
        if all((folder / name).is_file() for name in STANDARD_MAPS):
            return folder / STANDARD_MAPS[0], folder / STANDARD_MAPS[1]
    return None


def fixed_maps() -> None:
    """The fixed split's two label maps for this scene: the standard PaviaU pair where the scene has
    PaviaU's shape, or a train map and a test map uploaded as .mat files."""
    ss = st.session_state
    spec = ss.scene_spec
    if scene_key(spec) not in ss.split_fixed:
        st.info(
            "No train and test maps for this scene yet: the paper split is used until you load them."
        )
    standard = standard_maps() if loaders.scene_for(spec).shape == PAVIAU_SHAPE else None
    if standard is not None and st.button(
        "Use the standard PaviaU train/test maps", key="fixed_standard"
    ):
        use_fixed_maps(f"fixed:{standard[0]},{standard[1]}")
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    train = c1.file_uploader("Train map (.mat)", type=["mat"], key="upload_split_train")
    test = c2.file_uploader("Test map (.mat)", type=["mat"], key="upload_split_test")
    if c3.button("Use these maps", key="load_split_maps", disabled=not (train and test)):
        folder = split_maps_folder(train.getvalue(), test.getvalue())
        paths = [
            folder / role / safe_file_name(f.name) for role, f in (("train", train), ("test", test))
        ]
        try:
            for path, upload in zip(paths, (train, test)):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(upload.getvalue())
        except OSError as exc:
            st.error(
                f"Could not keep the maps in {folder} ({exc}); set SSAN_DATA_DIR to a writable folder."
            )
            return
        shown = {str(path): upload.name for path, upload in zip(paths, (train, test))}
        use_fixed_maps(f"fixed:{paths[0]},{paths[1]}", shown)


def use_fixed_maps(protocol: str, shown: dict[str, str] | None = None) -> None:
    """Make `protocol` (fixed:TRAIN,TEST) this scene's fixed split if its maps fit the scene; otherwise
    say why in one line (a shape that differs, maps that overlap) and keep the split as it was."""
    ss = st.session_state
    try:
        loaders.split_for(ss.scene_spec, protocol, int(ss.split_seed))
    except ValueError as exc:
        message = str(exc)
        # Name the files as uploaded, not the upload folder.
        for path, name in (shown or {}).items():
            message = message.replace(path, name)
        st.error(f"These maps cannot split this scene: {message}")
        return
    ss.split_fixed = {**ss.split_fixed, scene_key(ss.scene_spec): protocol}
    st.rerun()


def split_maps_folder(train: bytes, test: bytes) -> Path:
    """Where an uploaded pair of maps is kept: named by its content, so the same maps uploaded again give
    the same protocol (and the runs trained on them are found again)."""
    digest = hashlib.sha256(hashlib.sha256(train).digest() + hashlib.sha256(test).digest())
    return data_dir() / "split-maps" / digest.hexdigest()[:16]


def safe_file_name(name: str) -> str:
    """An uploaded file's name as a plain file name (no folders, no commas: the protocol separates maps by them)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "map.mat"
